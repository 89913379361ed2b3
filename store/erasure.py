"""Erasure and rectification: the DPO's requests, what a decision needs to know, and the removals and corrections.

Table (migration ``0014_erasure``):

- ``data_rights_requests``: one ``erase`` or ``correct`` the DPO prepared: who (the DPO), why (the DPO's reason, as
  typed), the person it is about (``subject``: their names and ids, only until it is done) and, for a correction,
  the values offered (``plan``, only until it is done). ``state`` goes ``pending`` → ``done`` once, by one
  conditional UPDATE (``claim``), so a second click on the same confirm, or a second instance, does nothing. Once
  done, ``subject`` and ``plan`` are cleared: the row keeps its reference, the reason, the counts and the dates
  (UK GDPR Art. 5(2): the school shows it acted). A request not confirmed within a day is removed.

Functions take the caller's session: one erasure is one unit of work. Removing the append-only history (the
chronology, the approval history) goes through the retention store's ``unlocked``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Table, Text, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.approvals import ApprovalKind, ApprovalState
from domain.erasure import Correctable, IncidentInfo, NameKind, RequestInfo
from domain.incidents import Category, Status
from domain.retention import INCIDENT_KINDS, RecordKind
from domain.subject_access import Subject
from store.approvals import (
    AccountAdministratorRow,
    AccountClosureRow,
    AccountRow,
    ApprovalRequestRow,
    DelegationRow,
)
from store.base import Base, UtcDateTime
from store.consent_store import (
    ConsentCheckLogRow,
    ConsentPupilConsentRow,
    ConsentPupilRow,
    ConsentRegisterVersionRow,
    ConsentStateRow,
)
from store.conversations import ConversationRefRow
from store.incidents import IncidentRow

PENDING = "pending"
DONE = "done"
ERASE = "erase"
CORRECT = "correct"
_PREFIX = {ERASE: "ERA", CORRECT: "COR"}


class DataRightsRequestRow(Base):
    __tablename__ = "data_rights_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # erase | correct
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)  # ERA-2026-0001 / COR-2026-0001
    state: Mapped[str] = mapped_column(String(16))  # pending | done
    dpo_aad: Mapped[str] = mapped_column(String(64))
    dpo_name: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)
    subject: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # cleared once done
    plan: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))  # cleared once done
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def subject_plain(subject: Subject) -> dict[str, Any]:
    return {"label": subject.label, "aad_ids": sorted(subject.aad_ids), "names": sorted(subject.names),
            "pupil_ids": sorted(subject.pupil_ids)}


def subject_of(data: dict[str, Any] | None) -> Subject | None:
    if not data:
        return None
    return Subject(str(data.get("label", "")), frozenset(data.get("aad_ids", [])), frozenset(data.get("names", [])),
                   frozenset(data.get("pupil_ids", [])))


async def create(session: AsyncSession, *, kind: str, dpo_aad: str, dpo_name: str, reason: str, subject: Subject,
                 plan: list[dict[str, Any]] | None, now: datetime, expires_at: datetime) -> DataRightsRequestRow:
    row = DataRightsRequestRow(kind=kind, state=PENDING, dpo_aad=dpo_aad.lower(), dpo_name=dpo_name[:256],
                               reason=reason, subject=subject_plain(subject), plan=plan, created_at=now,
                               expires_at=expires_at)
    session.add(row)
    await session.flush()
    row.reference = f"{_PREFIX[kind]}-{now.year}-{row.id:04d}"
    await session.flush()
    return row


async def get(session: AsyncSession, request_id: int) -> DataRightsRequestRow | None:
    return await session.get(DataRightsRequestRow, request_id)


async def claim(session: AsyncSession, request_id: int, kind: str, now: datetime) -> bool:
    """Mark a pending request done: one conditional UPDATE, the unit of work's first write. PostgreSQL makes a
    concurrent second claim wait for the first to commit and then finds it done; SQLite has one writer. Exactly
    one claim of a request succeeds."""
    result = await session.execute(
        update(DataRightsRequestRow)
        .where(DataRightsRequestRow.id == request_id, DataRightsRequestRow.kind == kind,
               DataRightsRequestRow.state == PENDING, DataRightsRequestRow.expires_at > now)
        .values(state=DONE, done_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(session: AsyncSession, request_id: int, counts: dict[str, Any]) -> None:
    """Keep the counts; forget the person and the values offered."""
    await session.execute(update(DataRightsRequestRow).where(DataRightsRequestRow.id == request_id)
                          .values(counts=counts, subject=None, plan=None))


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Remove requests nobody confirmed in time (they hold the person's names)."""
    result = await session.execute(delete(DataRightsRequestRow).where(DataRightsRequestRow.state == PENDING,
                                                                      DataRightsRequestRow.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def done_before(session: AsyncSession, cutoff: datetime, limit: int) -> list[tuple[int, datetime, datetime]]:
    """Done requests whose period started at or before ``cutoff``: (id, created, done) (the retention run)."""
    rows = await session.execute(
        select(DataRightsRequestRow.id, DataRightsRequestRow.created_at, DataRightsRequestRow.done_at)
        .where(DataRightsRequestRow.state == DONE, DataRightsRequestRow.done_at <= cutoff)
        .order_by(DataRightsRequestRow.id).limit(limit))
    return [(i, made, done) for i, made, done in rows.all() if done is not None]


async def delete_requests(session: AsyncSession, ids: Sequence[int | str]) -> None:
    await session.execute(delete(DataRightsRequestRow).where(DataRightsRequestRow.id.in_([int(i) for i in ids])))


# --- what a decision needs ----------------------------------------------------------------------------------


async def incidents_info(session: AsyncSession, ids: Iterable[int]) -> dict[int, IncidentInfo]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(select(IncidentRow.id, IncidentRow.reference, IncidentRow.category,
                                        IncidentRow.status).where(IncidentRow.id.in_(wanted)))
    return {i: IncidentInfo(ref, Category(category), Status(status)) for i, ref, category, status in rows.all()}


async def requests_info(session: AsyncSession, ids: Iterable[int]) -> dict[int, RequestInfo]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    open_register = set(await session.scalars(
        select(AccountRow.approval_request_id).where(AccountRow.approval_request_id.in_(wanted),
                                                     AccountRow.id.not_in(select(AccountClosureRow.account_id)))))
    rows = await session.execute(select(ApprovalRequestRow.id, ApprovalRequestRow.reference, ApprovalRequestRow.kind,
                                        ApprovalRequestRow.state).where(ApprovalRequestRow.id.in_(wanted)))
    return {i: RequestInfo(ref or f"#{i}", ApprovalKind(kind), ApprovalState(state), i in open_register)
            for i, ref, kind, state in rows.all()}


async def open_account_ids(session: AsyncSession) -> frozenset[int]:
    return frozenset(await session.scalars(select(AccountRow.id).where(
        AccountRow.id.not_in(select(AccountClosureRow.account_id)))))


# --- removals ------------------------------------------------------------------------------------------------


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


async def delete_row(session: AsyncSession, table_name: str, key: str) -> None:
    """Delete one row by its key as the subject access search wrote it (primary key values joined by ``|``)."""
    table = _table(table_name)
    columns = list(table.primary_key.columns)
    values = key.split("|", len(columns) - 1)
    condition = [column == column.type.python_type(value) for column, value in zip(columns, values, strict=True)]
    await session.execute(delete(table).where(*condition))


async def redact_check(session: AsyncSession, check_id: int, pupil_ids: list[str]) -> None:
    """A photo check keeps only these pupils' ids (the erased pupil's taken out)."""
    await session.execute(update(ConsentCheckLogRow).where(ConsentCheckLogRow.id == check_id)
                          .values(pupil_ids=pupil_ids))


async def reissue_register(session: AsyncSession, *, made_by: str, note: str, now: datetime) -> int | None:
    """Make a copy of the current consent register (as it is now, after an erasure or a correction) the current
    version. Every bot instance's cached register follows a change of version only, so this is how a pupil
    erased or renamed leaves each instance's memory at its next check. Returns the new version's id (None: no
    register yet)."""
    current = await session.scalar(select(ConsentStateRow.current_version_id))
    old = await session.get(ConsentRegisterVersionRow, current) if current is not None else None
    if old is None:
        return None
    pupils = list(await session.scalars(select(ConsentPupilRow).where(ConsentPupilRow.version_id == old.id)))
    consents = list(await session.scalars(select(ConsentPupilConsentRow)
                                          .where(ConsentPupilConsentRow.version_id == old.id)))
    new = ConsentRegisterVersionRow(imported_at=now, imported_by=made_by[:200],
                                    source_name=f"{old.source_name} ({note})"[:300], encoding=old.encoding,
                                    pupil_count=len(pupils), purposes=old.purposes, warnings=[])
    session.add(new)
    await session.flush()
    for pupil in pupils:
        session.add(ConsentPupilRow(
            version_id=new.id, pupil_id=pupil.pupil_id, first_name=pupil.first_name,
            preferred_first_name=pupil.preferred_first_name, surname=pupil.surname, class_name=pupil.class_name,
            year_group=pupil.year_group, do_not_publish=pupil.do_not_publish,
            do_not_publish_reason=pupil.do_not_publish_reason))
    await session.flush()
    for consent in consents:
        session.add(ConsentPupilConsentRow(version_id=new.id, pupil_id=consent.pupil_id, purpose=consent.purpose,
                                           state=consent.state, withdrawn_on=consent.withdrawn_on))
    await session.flush()
    await session.execute(update(ConsentStateRow).values(current_version_id=new.id,
                                                         revision=ConsentStateRow.revision + 1))
    return new.id


# --- rectification: the names recorded for a person -----------------------------------------------------------

_FLAGGED = [c.value for c, kind in INCIDENT_KINDS.items()
            if kind in (RecordKind.INCIDENT_SAFEGUARDING, RecordKind.INCIDENT_ALLEGATION)]


@dataclass(frozen=True)
class _NameColumn:
    title: str
    model: Any
    aad: Any
    name: Any
    outside_safeguarding: bool = False


_STAFF_NAMES: tuple[_NameColumn, ...] = (
    _NameColumn("Approval requests (requester)", ApprovalRequestRow, ApprovalRequestRow.requester_aad,
                ApprovalRequestRow.requester_name),
    _NameColumn("Approval requests (decider)", ApprovalRequestRow, ApprovalRequestRow.decided_by_aad,
                ApprovalRequestRow.decided_by_name),
    _NameColumn("Account administrators", AccountAdministratorRow, AccountAdministratorRow.aad_object_id,
                AccountAdministratorRow.name),
    _NameColumn("Delegations (Head Teacher)", DelegationRow, DelegationRow.head_aad, DelegationRow.head_name),
    _NameColumn("Delegations (deputy)", DelegationRow, DelegationRow.deputy_aad, DelegationRow.deputy_name),
    _NameColumn("Incident reports (reporter)", IncidentRow, IncidentRow.reporter_aad, IncidentRow.reporter_name,
                outside_safeguarding=True),
    _NameColumn("Incident reports (lead)", IncidentRow, IncidentRow.lead_aad, IncidentRow.lead_name,
                outside_safeguarding=True),
    _NameColumn("The bot's chats with them", ConversationRefRow, ConversationRefRow.aad_object_id,
                ConversationRefRow.user_name),
)
_PUPIL_NAMES = ((NameKind.PUPIL_FIRST, ConsentPupilRow.first_name),
                (NameKind.PUPIL_PREFERRED, ConsentPupilRow.preferred_first_name),
                (NameKind.PUPIL_SURNAME, ConsentPupilRow.surname))


def _scope(column: _NameColumn, query: Any) -> Any:
    if column.outside_safeguarding:
        return query.where(IncidentRow.category.not_in(_FLAGGED))
    return query


async def correctable(session: AsyncSession, subject: Subject) -> list[Correctable]:
    """Each distinct name recorded for the person (staff: beside their Entra object id; a pupil: in the register),
    with where it is recorded and how many times."""
    found: dict[tuple[NameKind, str], tuple[list[str], int, set[str]]] = {}
    aad_ids = sorted(subject.aad_ids)
    if aad_ids:
        for column in _STAFF_NAMES:
            query = _scope(column, select(column.name, func.lower(column.aad), func.count())
                           .where(func.lower(column.aad).in_(aad_ids), column.name.is_not(None))
                           .group_by(column.name, func.lower(column.aad)))
            for name, aad, count in (await session.execute(query)).all():
                if not name or not str(name).strip():
                    continue
                where, total, ids = found.setdefault((NameKind.STAFF, str(name)), ([], 0, set()))
                if column.title not in where:
                    where.append(column.title)
                ids.add(str(aad))
                found[(NameKind.STAFF, str(name))] = (where, total + int(count), ids)
    pupil_ids = sorted(subject.pupil_ids)
    if pupil_ids:
        for kind, name_column in _PUPIL_NAMES:
            rows = await session.execute(
                select(name_column, ConsentPupilRow.pupil_id, func.count())
                .where(ConsentPupilRow.pupil_id.in_(pupil_ids), name_column.is_not(None))
                .group_by(name_column, ConsentPupilRow.pupil_id))
            for name, pupil, count in rows.all():
                if not name:
                    continue
                where, total, ids = found.setdefault((kind, str(name)), (["Consent register (every version)"], 0,
                                                                         set()))
                ids.add(str(pupil))
                found[(kind, str(name))] = (where, total + int(count), ids)
    order = list(NameKind)
    return [Correctable(f"f{n}", kind, value, tuple(where), total, tuple(sorted(ids)))
            for n, ((kind, value), (where, total, ids)) in enumerate(
                sorted(found.items(), key=lambda item: (order.index(item[0][0]), item[0][1])), start=1)]


async def correct(session: AsyncSession, field: Correctable, new_value: str) -> int:
    """Change ``field.value`` to ``new_value`` everywhere it is recorded for its people; the rows changed."""
    changed = 0
    if field.kind is NameKind.STAFF:
        for column in _STAFF_NAMES:
            statement = update(column.model).where(func.lower(column.aad).in_([i.lower() for i in field.ids]),
                                                   column.name == field.value)
            if column.outside_safeguarding:
                statement = statement.where(IncidentRow.category.not_in(_FLAGGED))
            result = await session.execute(statement.values({column.name.key: new_value[:256]}))
            changed += int(result.rowcount)  # type: ignore[attr-defined]
        return changed
    name_column = dict(_PUPIL_NAMES)[field.kind]
    result = await session.execute(update(ConsentPupilRow).where(ConsentPupilRow.pupil_id.in_(list(field.ids)),
                                                                  name_column == field.value)
                                   .values({name_column.key: new_value}))
    return int(result.rowcount)  # type: ignore[attr-defined]
