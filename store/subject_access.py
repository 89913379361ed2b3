"""Subject access: the records a person appears in.

The exports waiting for consent are kept in ``store/exports.py``.

The search reads every table that can hold personal data, row by row, and lets the domain decide whether the
person appears (``domain/subject_access.py``): a school's tables are small, and a field-by-field test in one place
cannot miss a column that a hand-written query would. Binary content (screenshots, zips) is described, not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.subject_access import FoundRecord, KnownPerson, Subject, third_parties
from store.acknowledgements import PolicyAcknowledgementRow, PolicyNoticeRow
from store.approvals import (
    AccountAdministratorRow,
    AccountDraftRow,
    AccountRow,
    ApprovalEventRow,
    ApprovalRequestRow,
    DelegationRow,
)
from store.audit import AuditRow
from store.base import Base
from store.consent_store import (
    ConsentCheckLogRow,
    ConsentDoNotPhotographRow,
    ConsentPupilConsentRow,
    ConsentPupilRow,
    ConsentRegisterVersionRow,
    ConsentStateRow,
)
from store.conversations import ConversationRefRow
from store.erasure import DataRightsRequestRow
from store.incidents import IncidentAttachmentRow, IncidentEventRow, IncidentRow, IncidentSubjectRow
from store.media_enquiries import MediaEnquiryRow
from store.outbox import OutboxRow
from store.retention import LegalHoldRow, RetentionReviewRow
from store.safeguarding_record import IncidentPupilRow, IncidentStatementRow
from store.tables import BotStateRow
from store.training import TrainingRecordRow

# Every table that can name a person, and the column people know its rows by (None: its key).
SEARCHED: tuple[tuple[type[Base], str | None], ...] = (
    (IncidentRow, "reference"),
    (IncidentEventRow, None),
    (IncidentAttachmentRow, None),
    (IncidentSubjectRow, None),  # who a report is about (staff by object id, anyone else as typed)
    (IncidentStatementRow, None),  # the child's own words, the reporter's view
    (IncidentPupilRow, None),  # each pupil a report names
    (MediaEnquiryRow, None),  # a media enquiry: who asked, their organisation and contact details
    (ApprovalRequestRow, "reference"),
    (ApprovalEventRow, None),
    (DelegationRow, None),
    (AccountDraftRow, None),
    (AccountRow, "approval_reference"),
    (AccountAdministratorRow, None),
    (ConsentRegisterVersionRow, None),
    (ConsentPupilRow, None),
    (ConsentPupilConsentRow, None),
    (ConsentDoNotPhotographRow, None),
    (ConsentCheckLogRow, None),
    (AuditRow, None),
    (LegalHoldRow, None),
    (RetentionReviewRow, "record_ref"),  # who marked a report transferred
    (ConversationRefRow, None),
    (BotStateRow, None),
    (OutboxRow, None),
    (DataRightsRequestRow, "reference"),  # an erasure or correction: the person's names until it is done
    (PolicyAcknowledgementRow, "version"),  # issue 17: who confirmed reading which version of the policy
    (TrainingRecordRow, None),  # social media training: the person trained, and who recorded it
    (PolicyNoticeRow, None),  # key points offered, reminders, training follow-ups
)


def _table(model: type[Base] | Base) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _fields(row: Base) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for column in _table(row).columns:
        value = getattr(row, column.key)
        if isinstance(value, bytes):
            fields[column.key] = f"({len(value)} bytes, not included)"
        else:
            fields[column.key] = value
    return fields


def _key(row: Base) -> str:
    return "|".join(str(getattr(row, column.key)) for column in _table(row).primary_key.columns)


async def records_naming(session: AsyncSession, subject: Subject,
                         others: Sequence[KnownPerson]) -> list[FoundRecord]:
    """Every row of the searched tables in which ``subject`` appears, with the other people it names."""
    found: list[FoundRecord] = []
    for model, reference in SEARCHED:
        table = _table(model)
        for row in await session.scalars(select(model).order_by(*table.primary_key.columns)):
            fields = _fields(row)
            if not subject.appears_in(fields):
                continue
            found.append(FoundRecord(
                table=table.name, key=_key(row), reference=str(fields[reference]) if reference and fields.get(
                    reference) else None, fields=fields, third_parties=tuple(third_parties(fields, subject, others))))
    return found


async def current_pupils(session: AsyncSession) -> list[ConsentPupilRow]:
    """The pupils of the current consent register (none before the first import)."""
    current = await session.scalar(select(ConsentStateRow.current_version_id))
    if current is None:
        return []
    return list(await session.scalars(select(ConsentPupilRow).where(ConsentPupilRow.version_id == current)))


async def all_pupils(session: AsyncSession) -> list[ConsentPupilRow]:
    """Pupils of every kept version (a pupil who has left is still in an older one)."""
    return list(await session.scalars(select(ConsentPupilRow)))


# (Entra object id, name) column pairs: how the bot recorded who someone was when they acted or were named.
_PAIRS: tuple[tuple[Any, Any], ...] = (
    (IncidentRow.reporter_aad, IncidentRow.reporter_name),
    (IncidentRow.lead_aad, IncidentRow.lead_name),
    (IncidentEventRow.actor_aad, IncidentEventRow.actor_name),
    (IncidentSubjectRow.aad_object_id, IncidentSubjectRow.name),
    (ApprovalRequestRow.requester_aad, ApprovalRequestRow.requester_name),
    (ApprovalRequestRow.decided_by_aad, ApprovalRequestRow.decided_by_name),
    (ApprovalEventRow.actor_aad, ApprovalEventRow.actor_name),
    (DelegationRow.head_aad, DelegationRow.head_name),
    (DelegationRow.deputy_aad, DelegationRow.deputy_name),
    (AccountAdministratorRow.aad_object_id, AccountAdministratorRow.name),
    (AuditRow.actor_aad, AuditRow.actor_name),
    (LegalHoldRow.placed_by_aad, LegalHoldRow.placed_by_name),
    (ConversationRefRow.aad_object_id, ConversationRefRow.user_name),
    (PolicyAcknowledgementRow.aad_object_id, PolicyAcknowledgementRow.name),
    (TrainingRecordRow.aad_object_id, TrainingRecordRow.name),
    (TrainingRecordRow.recorded_by_aad, TrainingRecordRow.recorded_by_name),
)


async def people_recorded(session: AsyncSession) -> list[KnownPerson]:
    """Everyone the records name together with their Entra object id (distinct pairs): a member of staff with
    no role is not among the directory's role holders, but is in the records they made."""
    found: set[tuple[str, str]] = set()
    for aad, name in _PAIRS:
        rows = await session.execute(select(aad, name).where(aad.is_not(None), name.is_not(None)).distinct())
        found |= {(str(a).lower(), str(n)) for a, n in rows.all() if a and n and str(n).strip()}
    return [KnownPerson(name, aad) for aad, name in sorted(found)]
