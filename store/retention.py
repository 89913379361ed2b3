"""Retention: legal holds, records flagged for review, tombstones of what was removed, and the removals.

Tables (migration ``0009_retention``):

- ``legal_holds``: a hold on a report, a request or a person (by Entra object id and/or name), with the reason,
  who placed it and, once released, who released it. Released holds follow the schedule's ``legal_holds``.
- ``retention_reviews``: records the schedule flagged for a person's transfer and review instead of removing
  (safeguarding reports for the DSL, allegations after 10 years). The job never touches a flagged record.
- ``retention_tombstones``: what a run removed or anonymised: the record's reference (or a count for
  high-volume kinds), kind, category, dates and why. No names, no free text.
- ``retention_runs``: one row per run: when, and its counts (the DPO's card is built from it).
- ``retention_unlock``: empty except inside a retention run's own transaction. The append-only triggers on
  ``incident_events``, ``approval_events`` and ``audit_events`` refuse DELETE unless a row is here; the run
  inserts its row first and deletes it before committing, so no other transaction ever sees it (PostgreSQL's
  MVCC; SQLite's single writer) and UPDATE stays refused for everyone, the run included.

Functions take the caller's session: one run is one unit of work.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, delete, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from domain.approvals import ApprovalKind, ApprovalState
from domain.incidents import Category, Status
from domain.retention import HoldKind, Holds, LegalHold, RecordKind, hold_reference
from store import account_register, erasure, exports
from store.approvals import (
    AccountAdministratorRow,
    AccountClosureRow,
    AccountDraftRow,
    AccountRow,
    ApprovalEventRow,
    ApprovalRequestRow,
    DelegationRow,
)
from store.audit import AuditRow
from store.base import Base, UtcDateTime
from store.card_copies import CardCopyRow
from store.consent_store import (
    ConsentCheckLogRow,
    ConsentDoNotPhotographRow,
    ConsentPupilConsentRow,
    ConsentPupilRow,
    ConsentRegisterVersionRow,
    ConsentStateRow,
)
from store.conversations import ConversationRefRow, ProcessedActivityRow
from store.incidents import IncidentAttachmentRow, IncidentEventRow, IncidentRow, IncidentSubjectRow
from store.media_enquiries import MediaEnquiryRow
from store.outbox import FINISHED, OutboxRow
from store.safeguarding_record import IncidentPupilRow, IncidentStatementRow
from store.tables import BotStateRow

REMOVED = "(removed under the retention schedule)"


class LegalHoldRow(Base):
    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_active", "released_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))  # the reference, or the person's Entra id ("" by name only)
    person_name: Mapped[str | None] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)
    placed_by_aad: Mapped[str] = mapped_column(String(64))
    placed_by_name: Mapped[str] = mapped_column(String(256))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_by_aad: Mapped[str | None] = mapped_column(String(64))
    released_by_name: Mapped[str | None] = mapped_column(String(256))


class RetentionReviewRow(Base):
    """A record flagged for a person's transfer and review; the job leaves it alone."""

    __tablename__ = "retention_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_kind: Mapped[str] = mapped_column(String(40))
    record_ref: Mapped[str] = mapped_column(String(64), unique=True)
    flagged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    why: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(Integer)
    # put into the school's safeguarding system (migration 0012_kcsie_record; ``settle_transfer``)
    transferred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    transferred_to: Mapped[str | None] = mapped_column(String(60))
    transfer_reference: Mapped[str | None] = mapped_column(String(100))
    transferred_by_name: Mapped[str | None] = mapped_column(String(256))


class TombstoneRow(Base):
    """What the schedule removed: never a name or free text."""

    __tablename__ = "retention_tombstones"
    __table_args__ = (Index("ix_retention_tombstones_ref", "record_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    record_kind: Mapped[str] = mapped_column(String(40))
    record_ref: Mapped[str | None] = mapped_column(String(64))  # None: a count of a high-volume kind
    action: Mapped[str] = mapped_column(String(16))  # deleted | anonymised
    category: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str | None] = mapped_column(String(32))
    record_count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the record made (earliest, for counts)
    last_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # its clock's start (closed, decided ...)
    removed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    why: Mapped[str] = mapped_column(Text)


class RetentionRunRow(Base):
    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class RetentionUnlockRow(Base):
    """Present only inside a retention run's transaction (see the module docstring)."""

    __tablename__ = "retention_unlock"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


# --- legal holds ---------------------------------------------------------------------------------------------


def _hold(row: LegalHoldRow) -> LegalHold:
    return LegalHold(id=row.id, kind=HoldKind(row.kind), target=row.target, person_name=row.person_name,
                     reason=row.reason, placed_by_name=row.placed_by_name, placed_at=row.placed_at,
                     released_at=row.released_at)


async def active_holds(session: AsyncSession) -> list[LegalHold]:
    rows = await session.scalars(select(LegalHoldRow).where(LegalHoldRow.released_at.is_(None))
                                 .order_by(LegalHoldRow.id))
    return [_hold(row) for row in rows]


async def find_active_hold(session: AsyncSession, kind: HoldKind, target: str,
                           person_name: str | None = None) -> LegalHold | None:
    """The hold in force on a reference, or on a person (by id, else by name)."""
    query = select(LegalHoldRow).where(LegalHoldRow.released_at.is_(None), LegalHoldRow.kind == kind.value)
    if kind is HoldKind.PERSON and not target:
        query = query.where(func.lower(LegalHoldRow.person_name) == (person_name or "").lower())
    else:
        query = query.where(func.lower(LegalHoldRow.target) == target.lower())
    row = await session.scalar(query.order_by(LegalHoldRow.id).limit(1))
    return _hold(row) if row else None


async def place_hold(session: AsyncSession, *, kind: HoldKind, target: str, person_name: str | None, reason: str,
                     by_aad: str, by_name: str, now: datetime) -> LegalHold:
    row = LegalHoldRow(kind=kind.value, target=target, person_name=person_name, reason=reason,
                       placed_by_aad=by_aad, placed_by_name=by_name[:256], placed_at=now)
    session.add(row)
    await session.flush()
    return _hold(row)


async def release_hold(session: AsyncSession, hold_id: int, *, by_aad: str, by_name: str,
                       now: datetime) -> bool:
    """Release a hold in force (a conditional UPDATE: a second release changes nothing)."""
    result = await session.execute(
        update(LegalHoldRow).where(LegalHoldRow.id == hold_id, LegalHoldRow.released_at.is_(None))
        .values(released_at=now, released_by_aad=by_aad, released_by_name=by_name[:256])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def holds_in_force(session: AsyncSession) -> Holds:
    """Every hold in force, to ask whether a record is held (``Holds.covers``)."""
    return Holds(tuple(await active_holds(session)))


async def record_exists(session: AsyncSession, kind: HoldKind, reference: str) -> bool:
    """Whether a report (or request) with this reference is stored."""
    if kind is HoldKind.INCIDENT:
        return await session.scalar(select(IncidentRow.id).where(IncidentRow.reference == reference)) is not None
    found = await session.scalar(select(ApprovalRequestRow.id).where(ApprovalRequestRow.reference == reference))
    return found is not None


# --- flags for review --------------------------------------------------------------------------------------


async def flagged_refs(session: AsyncSession) -> set[str]:
    return set(await session.scalars(select(RetentionReviewRow.record_ref)))


async def flag(session: AsyncSession, kind: RecordKind, reference: str, why: str, *, now: datetime,
               run_id: int) -> None:
    session.add(RetentionReviewRow(record_kind=kind.value, record_ref=reference, flagged_at=now, why=why,
                                   run_id=run_id))
    await session.flush()


async def settle_transfer(session: AsyncSession, *, kind: RecordKind, reference: str, system: str,
                          system_reference: str, by_name: str, now: datetime) -> None:
    """A report put into the school's safeguarding system: its review says so (flagged now if the run has not yet
    flagged it), so the run follows the ``incident_transferred`` rule for it and never flags it again."""
    values = dict(transferred_at=now, transferred_to=system, transfer_reference=system_reference,
                  transferred_by_name=by_name[:256])
    changed = await session.execute(update(RetentionReviewRow).where(RetentionReviewRow.record_ref == reference)
                                    .values(**values))
    if not changed.rowcount:  # type: ignore[attr-defined]
        session.add(RetentionReviewRow(record_kind=kind.value, record_ref=reference, flagged_at=now,
                                       why=f"Transferred to {system}", run_id=None, **values))
    await session.flush()


async def transferred_incidents(session: AsyncSession, *, cutoff: datetime, skip_refs: set[str],
                                limit: int) -> list[Candidate]:
    """Closed reports put into the school's safeguarding system at or before ``cutoff``."""
    rows = await session.execute(
        select(IncidentRow, RetentionReviewRow.transferred_at)
        .join(RetentionReviewRow, RetentionReviewRow.record_ref == IncidentRow.reference)
        .where(RetentionReviewRow.transferred_at <= cutoff, IncidentRow.status == Status.CLOSED.value)
        .order_by(IncidentRow.id))
    found: list[Candidate] = []
    for row, transferred_at in rows.all():
        if row.reference in skip_refs:
            continue
        found.append(_incident_candidate(row, transferred_at))
        if len(found) >= limit:
            break
    return found


# --- runs, tombstones and the unlock -------------------------------------------------------------------------


_RUN_LOCK = 0x52455445  # PostgreSQL advisory lock key: one retention run at a time across bot instances


async def start_run(session: AsyncSession, now: datetime) -> int:
    """Record a run as the transaction's first write. Runs of several bot instances queue here (PostgreSQL: an
    advisory lock held until commit; SQLite: one writer), so the plan each computes next sees the other's work."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RUN_LOCK})
    row = RetentionRunRow(started_at=now)
    session.add(row)
    await session.flush()
    return row.id


async def finish_run(session: AsyncSession, run_id: int, counts: dict[str, Any]) -> None:
    await session.execute(update(RetentionRunRow).where(RetentionRunRow.id == run_id).values(counts=counts))


@asynccontextmanager
async def unlocked(session: AsyncSession, run_id: int) -> AsyncIterator[None]:
    """Let this transaction delete from the append-only tables; locked again before the caller commits.

    If the body raises, the caller's unit of work rolls back, and the unlock with it.
    """
    session.add(RetentionUnlockRow(run_id=run_id))
    await session.flush()
    yield
    await session.execute(delete(RetentionUnlockRow).where(RetentionUnlockRow.run_id == run_id))


async def tombstone(session: AsyncSession, *, run_id: int, kind: RecordKind, action: str, why: str,
                    now: datetime, reference: str | None = None, category: str | None = None,
                    status: str | None = None, count: int = 1, first_at: datetime | None = None,
                    last_at: datetime | None = None) -> None:
    session.add(TombstoneRow(run_id=run_id, record_kind=kind.value, record_ref=reference, action=action,
                             category=category, status=status, record_count=count, first_at=first_at,
                             last_at=last_at, removed_at=now, why=why))
    await session.flush()


async def tombstones(session: AsyncSession, *, run_id: int | None = None,
                     reference: str | None = None) -> list[TombstoneRow]:
    query = select(TombstoneRow)
    if run_id is not None:
        query = query.where(TombstoneRow.run_id == run_id)
    if reference is not None:
        query = query.where(TombstoneRow.record_ref == reference)
    return list(await session.scalars(query.order_by(TombstoneRow.id)))


async def removed_refs(session: AsyncSession, kinds: Iterable[RecordKind]) -> set[str]:
    rows = await session.scalars(select(TombstoneRow.record_ref).where(
        TombstoneRow.record_kind.in_([k.value for k in kinds]), TombstoneRow.record_ref.is_not(None)))
    return {ref for ref in rows if ref}


# --- what is due: candidates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A record past its period, with what a hold is checked against (ids of people, and text naming them)."""

    id: int | str
    reference: str | None
    first_at: datetime | None
    last_at: datetime | None
    people: tuple[str | None, ...] = ()
    texts: tuple[str | None, ...] = ()
    category: str | None = None
    status: str | None = None


async def closed_incidents(session: AsyncSession, categories: Sequence[Category], *, cutoff: datetime,
                           by_received: bool, skip_refs: set[str], limit: int) -> list[Candidate]:
    """Closed reports of these categories whose clock (closure, or receipt) started at or before ``cutoff``."""
    clock = IncidentRow.received_at if by_received else IncidentRow.closed_at
    query = (select(IncidentRow)
             .where(IncidentRow.category.in_([c.value for c in categories]),
                    IncidentRow.status == Status.CLOSED.value, clock <= cutoff)
             .order_by(IncidentRow.id))
    found: list[Candidate] = []
    for row in await session.scalars(query):
        if row.reference in skip_refs:
            continue
        found.append(_incident_candidate(row, row.received_at if by_received else row.closed_at))
        if len(found) >= limit:
            break
    return found


def _incident_candidate(row: IncidentRow, clock: datetime | None) -> Candidate:
    return Candidate(
        id=row.id, reference=row.reference, first_at=row.received_at, last_at=clock,
        people=(row.reporter_aad, row.lead_aad),
        texts=(row.reporter_name, row.lead_name, row.closed_by_name, row.involved, row.what_happened,
               row.source_author, row.outcome),
        category=row.category, status=row.status,
    )


async def incident_people(session: AsyncSession, incident_id: int) -> tuple[tuple[str | None, ...],
                                                                           tuple[str | None, ...]]:
    """People ids and texts of a report's chronology (a hold on a person who only acted on it keeps it too)."""
    rows = (await session.execute(select(IncidentEventRow.actor_aad, IncidentEventRow.actor_name,
                                         IncidentEventRow.what, IncidentEventRow.why)
                                  .where(IncidentEventRow.incident_id == incident_id))).all()
    pupils = (await session.scalars(select(IncidentPupilRow.name)
                                    .where(IncidentPupilRow.incident_id == incident_id))).all()
    said = (await session.execute(select(IncidentStatementRow.child_words, IncidentStatementRow.opinion)
                                  .where(IncidentStatementRow.incident_id == incident_id))).all()
    about = (await session.execute(select(IncidentSubjectRow.aad_object_id, IncidentSubjectRow.name)  # who it is about
                                   .where(IncidentSubjectRow.incident_id == incident_id))).all()
    return (tuple(r[0] for r in rows) + tuple(a for a, _ in about),
            tuple(t for r in rows for t in (r[1], r[2], r[3])) + tuple(pupils) + tuple(t for r in said for t in r)
            + tuple(name for _, name in about))


async def old_screenshots(session: AsyncSession, categories: Sequence[Category], *, cutoff: datetime,
                          limit: int) -> list[Candidate]:
    rows = (await session.execute(
        select(IncidentAttachmentRow.id, IncidentAttachmentRow.uploaded_at, IncidentAttachmentRow.uploaded_by_aad,
               IncidentRow)
        .join(IncidentRow, IncidentRow.id == IncidentAttachmentRow.incident_id)
        .where(IncidentRow.category.in_([c.value for c in categories]), IncidentRow.status == Status.CLOSED.value,
               IncidentRow.closed_at <= cutoff)
        .order_by(IncidentAttachmentRow.id).limit(limit)
    )).all()
    found = []
    for shot_id, uploaded_at, uploaded_by, incident in rows:
        base = _incident_candidate(incident, incident.closed_at)
        found.append(Candidate(id=shot_id, reference=incident.reference, first_at=uploaded_at,
                               last_at=incident.closed_at, people=(*base.people, uploaded_by), texts=base.texts,
                               category=incident.category, status=incident.status))
    return found


async def anonymise_incident(session: AsyncSession, incident_id: int) -> None:
    """Remove names and free text, keep category, dates, status and outcome kind; the chronology, the child's words,
    the pupils, screenshots and card copies go (the append-only ones, and the account, only inside ``unlocked``)."""
    await session.execute(delete(IncidentEventRow).where(IncidentEventRow.incident_id == incident_id))
    await session.execute(delete(IncidentStatementRow).where(IncidentStatementRow.incident_id == incident_id))
    await session.execute(delete(IncidentPupilRow).where(IncidentPupilRow.incident_id == incident_id))
    await session.execute(delete(IncidentAttachmentRow).where(IncidentAttachmentRow.incident_id == incident_id))
    await session.execute(delete(MediaEnquiryRow).where(MediaEnquiryRow.incident_id == incident_id))
    await session.execute(delete(IncidentSubjectRow).where(IncidentSubjectRow.incident_id == incident_id))
    await session.execute(delete(CardCopyRow).where(CardCopyRow.subject == f"incident:{incident_id}"))
    await session.execute(
        update(IncidentRow).where(IncidentRow.id == incident_id).values(
            submission_key=f"removed:{incident_id}", reporter_aad="", reporter_name=REMOVED, what_happened=REMOVED,
            link="", when_detail="", involved="", source_author="", lead_aad=None, lead_name=None,
            closed_by_name=None, outcome=None, version=IncidentRow.version + 1,
        )
    )


async def delete_screenshots(session: AsyncSession, ids: Sequence[int]) -> None:
    await session.execute(delete(IncidentAttachmentRow).where(IncidentAttachmentRow.id.in_(ids)))


async def decided_requests(session: AsyncSession, kind: ApprovalKind, *, cutoff: datetime,
                           limit: int) -> list[Candidate]:
    """Final requests of a kind decided (or withdrawn) at or before ``cutoff``; an approved account request stays
    while its account is in the register."""
    clock = func.coalesce(ApprovalRequestRow.decided_at, ApprovalRequestRow.updated_at)
    in_register = exists().where(AccountRow.approval_request_id == ApprovalRequestRow.id)
    rows = await session.scalars(
        select(ApprovalRequestRow)
        .where(ApprovalRequestRow.kind == kind.value,
               ApprovalRequestRow.state.in_([ApprovalState.APPROVED.value, ApprovalState.REJECTED.value,
                                             ApprovalState.WITHDRAWN.value]),
               clock <= cutoff, ~in_register)
        .order_by(ApprovalRequestRow.id).limit(limit)
    )
    found = []
    for row in rows:
        found.append(Candidate(
            id=row.id, reference=row.reference or f"#{row.id}", first_at=row.created_at,
            last_at=row.decided_at or row.updated_at, people=(row.requester_aad, row.decided_by_aad),
            texts=(row.requester_name, row.decided_by_name, row.decision_comment, _json_text(row.payload)),
            category=row.kind, status=row.state,
        ))
    return found


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""


async def request_people(session: AsyncSession, request_id: int) -> tuple[tuple[str | None, ...],
                                                                         tuple[str | None, ...]]:
    rows = (await session.execute(select(ApprovalEventRow.actor_aad, ApprovalEventRow.actor_name,
                                         ApprovalEventRow.comment)
                                  .where(ApprovalEventRow.request_id == request_id))).all()
    return tuple(r[0] for r in rows), tuple(t for r in rows for t in (r[1], r[2]))


async def delete_request(session: AsyncSession, request_id: int) -> None:
    """The request, its history (only inside ``unlocked``), its card copies and drafts of changes to it."""
    await session.execute(delete(ApprovalEventRow).where(ApprovalEventRow.request_id == request_id))
    await session.execute(delete(CardCopyRow).where(CardCopyRow.subject == f"approval:{request_id}"))
    await session.execute(delete(AccountDraftRow).where(AccountDraftRow.for_request == request_id))
    await session.execute(delete(ApprovalRequestRow).where(ApprovalRequestRow.id == request_id))


# --- high-volume kinds: (id, first/last time, people, texts) rows ------------------------------------------------


async def old_rows(session: AsyncSession, kind: RecordKind, *, cutoff: datetime, limit: int) -> list[Candidate]:
    """Rows of a high-volume kind whose clock started at or before ``cutoff`` (oldest first)."""
    if kind is RecordKind.AUDIT_TRAIL:
        audit = await session.execute(select(AuditRow.id, AuditRow.at, AuditRow.actor_aad, AuditRow.record_ref,
                                             AuditRow.actor_name, AuditRow.detail)
                                      .where(AuditRow.at <= cutoff).order_by(AuditRow.id).limit(limit))
        found = [Candidate(id=i, reference=_hold_of(detail) or ref, first_at=at, last_at=at, people=(aad, ref),
                           texts=(name, ref)) for i, at, aad, ref, name, detail in audit.all()]
        orphans = await session.execute(
            select(ApprovalEventRow.id, ApprovalEventRow.at, ApprovalEventRow.actor_aad, ApprovalEventRow.actor_name)
            .where(ApprovalEventRow.request_id.is_(None), ApprovalEventRow.at <= cutoff)
            .order_by(ApprovalEventRow.id).limit(limit)
        )
        return found + [Candidate(id=f"approval_event:{i}", reference=None, first_at=at, last_at=at, people=(aad,),
                                  texts=(name,)) for i, at, aad, name in orphans.all()]
    if kind is RecordKind.PHOTO_CHECK_LOG:
        checks = await session.execute(select(ConsentCheckLogRow.id, ConsentCheckLogRow.checked_at,
                                              ConsentCheckLogRow.checked_by)
                                       .where(ConsentCheckLogRow.checked_at <= cutoff)
                                       .order_by(ConsentCheckLogRow.id).limit(limit))
        return [Candidate(id=i, reference=None, first_at=at, last_at=at, people=(by,), texts=(by,))
                for i, at, by in checks.all()]
    if kind is RecordKind.DO_NOT_PHOTOGRAPH_REQUESTS:
        requests = await session.execute(
            select(ConsentDoNotPhotographRow.id, ConsentDoNotPhotographRow.recorded_at,
                   ConsentDoNotPhotographRow.cleared_at, ConsentDoNotPhotographRow.requested_by,
                   ConsentDoNotPhotographRow.note)
            .where(ConsentDoNotPhotographRow.cleared_at <= cutoff)
            .order_by(ConsentDoNotPhotographRow.id).limit(limit))
        return [Candidate(id=i, reference=None, first_at=at, last_at=cleared, people=(by,), texts=(by, note))
                for i, at, cleared, by, note in requests.all()]
    if kind is RecordKind.CONSENT_REGISTER_VERSIONS:
        current = select(ConsentStateRow.current_version_id).where(ConsentStateRow.current_version_id.is_not(None))
        versions = await session.execute(
            select(ConsentRegisterVersionRow.id, ConsentRegisterVersionRow.imported_at)
            .where(ConsentRegisterVersionRow.pupils_pruned_at.is_(None),
                   ConsentRegisterVersionRow.imported_at <= cutoff, ConsentRegisterVersionRow.id.not_in(current))
            .order_by(ConsentRegisterVersionRow.id).limit(limit))
        return [Candidate(id=i, reference=f"consent register version {i}", first_at=at, last_at=at)
                for i, at in versions.all()]
    if kind is RecordKind.DELEGATIONS:
        ended = func.coalesce(DelegationRow.ended_at, DelegationRow.ends_at)
        delegations = await session.execute(
            select(DelegationRow.id, DelegationRow.created_at, ended, DelegationRow.head_aad, DelegationRow.deputy_aad)
            .where(ended <= cutoff).order_by(DelegationRow.id).limit(limit))
        return [Candidate(id=i, reference=None, first_at=at, last_at=end, people=(head, deputy))
                for i, at, end, head, deputy in delegations.all()]
    if kind is RecordKind.ACCOUNT_DRAFTS:
        drafts = await session.execute(
            select(AccountDraftRow.owner_aad, AccountDraftRow.for_request, AccountDraftRow.updated_at)
            .where(AccountDraftRow.updated_at <= cutoff).order_by(AccountDraftRow.updated_at).limit(limit))
        return [Candidate(id=f"{owner}|{request}", reference=None, first_at=at, last_at=at, people=(owner,))
                for owner, request, at in drafts.all()]
    if kind is RecordKind.CONVERSATION_STATE:
        states = await session.execute(select(BotStateRow.key, BotStateRow.updated_at)
                                       .where(BotStateRow.updated_at <= cutoff)
                                       .order_by(BotStateRow.updated_at).limit(limit))
        return [Candidate(id=key, reference=None, first_at=at, last_at=at, texts=(key,)) for key, at in states.all()]
    if kind is RecordKind.CONVERSATION_REFERENCES:
        refs = await session.execute(
            select(ConversationRefRow.conversation_id, ConversationRefRow.updated_at, ConversationRefRow.aad_object_id,
                   ConversationRefRow.user_name)
            .where(ConversationRefRow.kind == "personal", ConversationRefRow.stale.is_(True),
                   ConversationRefRow.updated_at <= cutoff)
            .order_by(ConversationRefRow.updated_at).limit(limit))
        return [Candidate(id=cid, reference=None, first_at=at, last_at=at, people=(aad,), texts=(name,))
                for cid, at, aad, name in refs.all()]
    if kind is RecordKind.OUTBOX_CONTENT:
        messages = await session.execute(
            select(OutboxRow.id, OutboxRow.created_at, OutboxRow.updated_at)
            .where(OutboxRow.status.in_(FINISHED), OutboxRow.updated_at <= cutoff,
                   or_(OutboxRow.activity.is_not(None), OutboxRow.target.is_not(None), ~_pointed_at()))
            .order_by(OutboxRow.id).limit(limit))
        return [Candidate(id=i, reference=None, first_at=made, last_at=at) for i, made, at in messages.all()]
    if kind is RecordKind.ACTIVITY_LEDGER:
        ledger = await session.execute(select(ProcessedActivityRow.dedupe_key, ProcessedActivityRow.claimed_at)
                                       .where(ProcessedActivityRow.claimed_at <= cutoff)
                                       .order_by(ProcessedActivityRow.claimed_at).limit(limit))
        return [Candidate(id=key, reference=None, first_at=at, last_at=at) for key, at in ledger.all()]
    if kind is RecordKind.LEGAL_HOLDS:
        holds = await session.execute(select(LegalHoldRow.id, LegalHoldRow.placed_at, LegalHoldRow.released_at)
                                      .where(LegalHoldRow.released_at <= cutoff)
                                      .order_by(LegalHoldRow.id).limit(limit))
        return [Candidate(id=i, reference=None, first_at=at, last_at=released) for i, at, released in holds.all()]
    if kind is RecordKind.SUBJECT_ACCESS_EXPORTS:
        return [Candidate(id=i, reference=None, first_at=at, last_at=at)
                for i, at in await exports.expired_exports(session, cutoff=cutoff, limit=limit)]
    if kind is RecordKind.CLOSED_ACCOUNTS:
        closed = await session.execute(
            select(AccountRow.id, AccountRow.approval_reference, AccountRow.created_at, AccountClosureRow.recorded_at,
                   AccountClosureRow.reason)
            .join(AccountClosureRow, AccountClosureRow.account_id == AccountRow.id)
            .where(AccountClosureRow.closed_on <= cutoff.date()).order_by(AccountRow.id).limit(limit))
        found_accounts = []
        for account_id, reference, made, closed_at, reason in closed.all():
            admins = (await session.execute(select(AccountAdministratorRow.aad_object_id, AccountAdministratorRow.name)
                                            .where(AccountAdministratorRow.account_id == account_id))).all()
            found_accounts.append(Candidate(id=account_id, reference=reference, first_at=made, last_at=closed_at,
                                            people=tuple(a for a, _ in admins),
                                            texts=(*(n for _, n in admins), reason)))
        return found_accounts
    if kind is RecordKind.DATA_RIGHTS_REQUESTS:
        return [Candidate(id=i, reference=None, first_at=made, last_at=done)
                for i, made, done in await erasure.done_before(session, cutoff, limit)]
    raise ValueError(f"{kind.value} is not a high-volume kind")


def _hold_of(detail: dict[str, Any] | None) -> str | None:
    """An entry about a legal hold names it (``HOLD-<id>``), so it stays while the hold is in force."""
    hold_id = (detail or {}).get("hold_id")
    return hold_reference(hold_id) if isinstance(hold_id, int) else None


def _pointed_at() -> Any:
    """An outbox row a card copy or a later update still needs (its delivery ids; its content is cleared)."""
    later = aliased(OutboxRow)
    return or_(exists().where(CardCopyRow.outbox_id == OutboxRow.id),
               exists().where(later.depends_on == OutboxRow.id))


async def delete_rows(session: AsyncSession, kind: RecordKind, ids: Sequence[int | str], *, now: datetime) -> None:
    """Remove the rows ``old_rows`` listed (the audit trail's and history's only inside ``unlocked``)."""
    if not ids:
        return
    if kind is RecordKind.AUDIT_TRAIL:
        audit = [i for i in ids if isinstance(i, int)]
        events = [int(str(i).split(":", 1)[1]) for i in ids if isinstance(i, str)]
        if audit:
            await session.execute(delete(AuditRow).where(AuditRow.id.in_(audit)))
        if events:
            await session.execute(delete(ApprovalEventRow).where(ApprovalEventRow.id.in_(events)))
    elif kind is RecordKind.PHOTO_CHECK_LOG:
        await session.execute(delete(ConsentCheckLogRow).where(ConsentCheckLogRow.id.in_(ids)))
    elif kind is RecordKind.DO_NOT_PHOTOGRAPH_REQUESTS:
        await session.execute(delete(ConsentDoNotPhotographRow).where(ConsentDoNotPhotographRow.id.in_(ids)))
    elif kind is RecordKind.CONSENT_REGISTER_VERSIONS:
        await session.execute(delete(ConsentPupilConsentRow).where(ConsentPupilConsentRow.version_id.in_(ids)))
        await session.execute(delete(ConsentPupilRow).where(ConsentPupilRow.version_id.in_(ids)))
        await session.execute(update(ConsentRegisterVersionRow).where(ConsentRegisterVersionRow.id.in_(ids))
                              .values(pupils_pruned_at=now))
    elif kind is RecordKind.DELEGATIONS:
        await session.execute(delete(DelegationRow).where(DelegationRow.id.in_(ids)))
    elif kind is RecordKind.ACCOUNT_DRAFTS:
        for key in ids:
            owner, request = str(key).rsplit("|", 1)
            await session.execute(delete(AccountDraftRow).where(AccountDraftRow.owner_aad == owner,
                                                                AccountDraftRow.for_request == int(request)))
    elif kind is RecordKind.CONVERSATION_STATE:
        await session.execute(delete(BotStateRow).where(BotStateRow.key.in_(ids)))
    elif kind is RecordKind.CONVERSATION_REFERENCES:
        await session.execute(delete(ConversationRefRow).where(ConversationRefRow.conversation_id.in_(ids)))
    elif kind is RecordKind.OUTBOX_CONTENT:
        await session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(activity=None, target=None))
        await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids), ~_pointed_at()))
    elif kind is RecordKind.ACTIVITY_LEDGER:
        await session.execute(delete(ProcessedActivityRow).where(ProcessedActivityRow.dedupe_key.in_(ids)))
    elif kind is RecordKind.LEGAL_HOLDS:
        await session.execute(delete(LegalHoldRow).where(LegalHoldRow.id.in_(ids)))
    elif kind is RecordKind.SUBJECT_ACCESS_EXPORTS:
        for export_id in ids:
            await exports.delete_export(session, str(export_id))
    elif kind is RecordKind.CLOSED_ACCOUNTS:
        await account_register.delete_closed(session, [int(i) for i in ids])
    elif kind is RecordKind.DATA_RIGHTS_REQUESTS:
        await erasure.delete_requests(session, ids)
    else:
        raise ValueError(f"{kind.value} is not a high-volume kind")
