"""Incident records: references, the append-only chronology, screenshots, and the escalation clock.

- ``incidents``: one row per report, its current state (status, lead, outcome) and its escalation clock.
  ``submission_key`` (the reporter and the form's draft id) is unique, so a form submitted twice, or a
  Teams retry, finds the first record instead of making a second one.
- ``incident_counters``: the last number used per year. A reference (``INC-2026-0042``) is allocated by an
  ``UPDATE ... RETURNING`` on the year's row inside the transaction that inserts the report: PostgreSQL
  holds that row's lock until commit and SQLite has one writer, so two reports never get the same number,
  and a report that rolls back gives its number back (no gaps for an auditor to wonder about).
- ``incident_events``: the chronology (who, when, what, why). Append-only: the database itself refuses
  ``UPDATE`` and ``DELETE`` on it (triggers, migration ``0007_incidents``), and this module offers neither.
- ``incident_attachments``: screenshots with their type, size and SHA-256, bytes kept in the database so
  every bot instance (SQLite or PostgreSQL) serves the same record. A repeated delivery of the same image
  to the same report is stored once.

Callers run these inside ``Database.transaction()`` together with the outbox messages the change causes.
**SQLite:** a transaction that creates a report must start with ``create_incident`` (its first statement
is the write that takes the database's write lock), so concurrent reports wait for each other instead of
failing on a stale read snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.incident_routing import Subject, SubjectKind, SubjectSource
from domain.incidents import (
    AGENCY_TITLES,
    OUTCOME_TITLES,
    ActionTaken,
    Agency,
    Category,
    CategoryRule,
    ChronologyEntry,
    DslTold,
    EventKind,
    OutcomeKind,
    ReportDetails,
    Source,
    Status,
    Urgency,
    format_reference,
    rule_for,
)
from domain.roles import Role
from store.base import Base, UtcDateTime, utcnow
from store.card_copies import CardCopyRow
from store.outbox import OutboxRow, OutboxStatus


class IncidentCounterRow(Base):
    __tablename__ = "incident_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("year", "number", name="uq_incidents_year_number"),
        Index("ix_incidents_escalation_due", "urgency", "status", "auto_escalated_at", "escalate_due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    submission_key: Mapped[str] = mapped_column(String(200), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    immediate_risk: Mapped[bool] = mapped_column(Boolean)
    dsl_told: Mapped[str | None] = mapped_column(String(20))
    reporter_aad: Mapped[str] = mapped_column(String(64), index=True)
    reporter_name: Mapped[str] = mapped_column(String(256))
    what_happened: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(60))
    link: Mapped[str] = mapped_column(Text)
    when_date: Mapped[str | None] = mapped_column(String(10))  # ISO date as the reporter gave it
    when_detail: Mapped[str] = mapped_column(Text)
    involved: Mapped[str] = mapped_column(Text)
    actions_taken: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    source_author: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lead_aad: Mapped[str | None] = mapped_column(String(64))
    lead_name: Mapped[str | None] = mapped_column(String(256))
    lead_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by_name: Mapped[str | None] = mapped_column(String(256))
    outcome_kind: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(Text)
    escalate_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    auto_escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    routed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: notifications still to be sent
    screenshots_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer)  # bumped on every change (names card updates)


class IncidentEventRow(Base):
    """The chronology. Never updated, never deleted (the database refuses both)."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor_aad: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(256))
    what: Mapped[str] = mapped_column(Text)
    why: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class IncidentAttachmentRow(Base):
    __tablename__ = "incident_attachments"
    __table_args__ = (UniqueConstraint("incident_id", "sha256", name="uq_incident_attachments_incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    uploaded_by_aad: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    file_name: Mapped[str] = mapped_column(String(256))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class IncidentSubjectRow(Base):
    """Who a report is about (migration ``0011_report_subjects``): staff with the roles they held when it was made
    (the report is routed around them), pupils and others as typed."""

    __tablename__ = "incident_subjects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    aad_object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(512))
    roles: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # False: the directory could not say their roles when the report was made (migration 0019_subject_roles_checked)
    roles_checked: Mapped[bool] = mapped_column(Boolean, server_default=true())


# --- what callers get back ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    id: int
    reference: str
    category: Category
    urgency: Urgency
    status: Status
    immediate_risk: bool
    dsl_told: DslTold | None
    reporter_aad: str
    reporter_name: str
    what_happened: str
    platform: str
    link: str
    when_date: date | None
    when_detail: str
    involved: str
    actions_taken: tuple[ActionTaken, ...]
    source: Source
    source_author: str
    received_at: datetime
    lead_aad: str | None
    lead_name: str | None
    lead_at: datetime | None
    closed_at: datetime | None
    closed_by_name: str | None
    outcome_kind: OutcomeKind | None
    outcome: str | None
    escalate_due_at: datetime | None
    auto_escalated_at: datetime | None
    routed_at: datetime | None
    screenshots_until: datetime | None
    version: int

    @property
    def rule(self) -> CategoryRule:
        return rule_for(self.category)


def _incident(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id, reference=row.reference, category=Category(row.category), urgency=Urgency(row.urgency),
        status=Status(row.status), immediate_risk=row.immediate_risk,
        dsl_told=DslTold(row.dsl_told) if row.dsl_told else None, reporter_aad=row.reporter_aad,
        reporter_name=row.reporter_name, what_happened=row.what_happened, platform=row.platform, link=row.link,
        when_date=date.fromisoformat(row.when_date) if row.when_date else None, when_detail=row.when_detail,
        involved=row.involved, actions_taken=tuple(ActionTaken(a) for a in row.actions_taken or []),
        source=Source(row.source), source_author=row.source_author, received_at=row.received_at,
        lead_aad=row.lead_aad, lead_name=row.lead_name, lead_at=row.lead_at, closed_at=row.closed_at,
        closed_by_name=row.closed_by_name,
        outcome_kind=OutcomeKind(row.outcome_kind) if row.outcome_kind else None, outcome=row.outcome,
        escalate_due_at=row.escalate_due_at, auto_escalated_at=row.auto_escalated_at, routed_at=row.routed_at,
        screenshots_until=row.screenshots_until, version=row.version,
    )


@dataclass(frozen=True)
class Event(ChronologyEntry):
    id: int = 0
    data: dict[str, Any] = field(default_factory=dict)


def _event(row: IncidentEventRow) -> Event:
    return Event(
        kind=EventKind(row.kind), at=row.at, actor_name=row.actor_name, what=row.what, why=row.why,
        actor_aad=row.actor_aad, id=row.id, data=row.data or {},
    )


@dataclass(frozen=True)
class Attachment:
    id: int
    incident_id: int
    uploaded_by_aad: str
    uploaded_at: datetime
    file_name: str
    content_type: str
    size: int
    sha256: str


def _attachment(row: IncidentAttachmentRow) -> Attachment:
    return Attachment(
        id=row.id, incident_id=row.incident_id, uploaded_by_aad=row.uploaded_by_aad, uploaded_at=row.uploaded_at,
        file_name=row.file_name, content_type=row.content_type, size=row.size, sha256=row.sha256,
    )


@dataclass(frozen=True)
class Person:
    aad_object_id: str | None
    name: str


# --- creating a report ------------------------------------------------------------------------------------


class SubmissionRace(Exception):
    """Another transaction inserted the same submission first: roll back (returning the number) and retry."""


class ExistingSubmission(Exception):
    """The submission was already recorded: the caller rolls back (returning the number) and uses it."""

    def __init__(self, incident: Incident) -> None:
        self.incident = incident
        super().__init__(incident.reference)


def _insert(session: AsyncSession) -> Any:
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


async def allocate_number(session: AsyncSession, year: int) -> int:
    """The next report number of ``year``, taken in the caller's transaction (given back if it rolls back)."""
    bump = (
        update(IncidentCounterRow)
        .where(IncidentCounterRow.year == year)
        .values(last=IncidentCounterRow.last + 1)
        .returning(IncidentCounterRow.last)
    )
    number = await session.scalar(bump)
    if number is None:
        await session.execute(
            _insert(session)(IncidentCounterRow).values(year=year, last=0).on_conflict_do_nothing(
                index_elements=["year"]
            )
        )
        number = await session.scalar(bump)
    assert number is not None
    return int(number)


async def find_by_submission(session: AsyncSession, submission_key: str) -> Incident | None:
    row = await session.scalar(select(IncidentRow).where(IncidentRow.submission_key == submission_key))
    return _incident(row) if row else None


async def create_incident(
    session: AsyncSession,
    *,
    details: ReportDetails,
    reporter: Person,
    submission_key: str,
    year: int,
    urgency: Urgency,
    received_at: datetime,
    escalate_due_at: datetime | None,
    screenshots_until: datetime | None,
) -> Incident:
    """Insert a report and its first chronology entry.

    Raises:
        ExistingSubmission: this submission was recorded before (``.incident``); roll back, which returns the
            number just taken, and use that report.
        SubmissionRace: a concurrent transaction inserted the same submission; roll back and call again.
    """
    number = await allocate_number(session, year)  # first: takes the write lock on SQLite
    existing = await find_by_submission(session, submission_key)
    if existing is not None:
        raise ExistingSubmission(existing)
    values = dict(
        reference=format_reference(year, number), year=year, number=number, submission_key=submission_key,
        category=details.category.value, urgency=urgency.value, status=Status.OPEN.value,
        immediate_risk=details.immediate_risk, dsl_told=details.dsl_told.value if details.dsl_told else None,
        reporter_aad=reporter.aad_object_id or "", reporter_name=reporter.name,
        what_happened=details.what_happened, platform=details.platform, link=details.link,
        when_date=details.when_date.isoformat() if details.when_date else None, when_detail=details.when_detail,
        involved=details.involved, actions_taken=[a.value for a in details.actions_taken],
        source=details.source.value, source_author=details.source_author, received_at=received_at,
        escalate_due_at=escalate_due_at, screenshots_until=screenshots_until, version=1,
    )
    new_id = await session.scalar(
        _insert(session)(IncidentRow).values(**values)
        .on_conflict_do_nothing(index_elements=["submission_key"]).returning(IncidentRow.id)
    )
    if new_id is None:
        raise SubmissionRace(submission_key)
    await append_event(
        session, int(new_id), EventKind.REPORTED, reporter, f"Reported: {rule_for(details.category).title}",
        at=received_at,
    )
    incident = await get(session, int(new_id))
    assert incident is not None
    return incident


# --- reading ------------------------------------------------------------------------------------------------


async def get(session: AsyncSession, incident_id: int) -> Incident | None:
    row = await session.get(IncidentRow, incident_id, populate_existing=True)
    return _incident(row) if row else None


async def by_reference(session: AsyncSession, reference: str) -> Incident | None:
    row = await session.scalar(select(IncidentRow).where(IncidentRow.reference == reference.strip().upper()))
    return _incident(row) if row else None


async def reported_by(session: AsyncSession, aad_object_id: str, *, limit: int = 20) -> list[Incident]:
    rows = await session.scalars(
        select(IncidentRow).where(IncidentRow.reporter_aad == aad_object_id)
        .order_by(IncidentRow.received_at.desc(), IncidentRow.id.desc()).limit(limit)
    )
    return [_incident(row) for row in rows]


async def for_handlers(session: AsyncSession, categories: frozenset[Category], *, open_limit: int = 25,
                       closed_limit: int = 5) -> list[Incident]:
    """Reports of ``categories`` for ``open reports``: the open ones (urgent first, then the longest waiting),
    then the most recently closed."""
    if not categories:
        return []
    wanted = IncidentRow.category.in_(sorted(c.value for c in categories))
    urgent_first = case((IncidentRow.urgency == Urgency.URGENT.value, 0), else_=1)
    still_open = await session.scalars(
        select(IncidentRow).where(wanted, IncidentRow.status != Status.CLOSED.value)
        .order_by(urgent_first, IncidentRow.received_at, IncidentRow.id).limit(open_limit)
    )
    closed = await session.scalars(
        select(IncidentRow).where(wanted, IncidentRow.status == Status.CLOSED.value)
        .order_by(IncidentRow.closed_at.desc(), IncidentRow.id.desc()).limit(closed_limit)
    )
    return [_incident(row) for row in [*still_open, *closed]]


async def latest_accepting_screenshots(session: AsyncSession, aad_object_id: str, now: datetime) -> Incident | None:
    row = await session.scalar(
        select(IncidentRow)
        .where(IncidentRow.reporter_aad == aad_object_id, IncidentRow.screenshots_until > now)
        .order_by(IncidentRow.received_at.desc(), IncidentRow.id.desc()).limit(1)
    )
    return _incident(row) if row else None


async def events(session: AsyncSession, incident_id: int) -> list[Event]:
    rows = await session.scalars(
        select(IncidentEventRow).where(IncidentEventRow.incident_id == incident_id).order_by(IncidentEventRow.id)
    )
    return [_event(row) for row in rows]


async def unreachable_recipients(session: AsyncSession) -> list[tuple[str, str]]:
    """(object id, label) of everyone an open report could not be sent to, newest first."""
    rows = await session.execute(
        select(IncidentEventRow.data)
        .join(IncidentRow, IncidentRow.id == IncidentEventRow.incident_id)
        .where(IncidentEventRow.kind == EventKind.NOT_REACHABLE.value, IncidentRow.status != Status.CLOSED.value)
        .order_by(IncidentEventRow.id.desc())
    )
    found = []
    for (data,) in rows:
        if isinstance(data, dict) and data.get("aad_object_id"):
            found.append((str(data["aad_object_id"]), str(data.get("label") or data["aad_object_id"])))
    return found


# --- the chronology -----------------------------------------------------------------------------------------


async def append_event(
    session: AsyncSession,
    incident_id: int,
    kind: EventKind,
    actor: Person,
    what: str,
    *,
    why: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Add one entry to a report's chronology (the only way anything is written to it)."""
    row = IncidentEventRow(
        incident_id=incident_id, at=at or utcnow(), kind=kind.value, actor_aad=actor.aad_object_id,
        actor_name=actor.name, what=what, why=why, data=data,
    )
    session.add(row)
    await session.flush()
    return row.id


async def _bump(session: AsyncSession, incident_id: int, **values: Any) -> bool:
    """Change the record's current state where ``values`` allow it; the version moves on with it."""
    conditions = values.pop("_where", ())
    result = await session.execute(
        update(IncidentRow)
        .where(IncidentRow.id == incident_id, *conditions)
        .values(version=IncidentRow.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def take_lead(session: AsyncSession, incident_id: int, lead: Person, now: datetime) -> bool:
    """Make ``lead`` the lead if nobody leads and it is not closed (one wins when two click at once)."""
    taken = await _bump(
        session, incident_id, lead_aad=lead.aad_object_id, lead_name=lead.name, lead_at=now,
        status=Status.IN_PROGRESS.value,
        _where=(IncidentRow.lead_aad.is_(None), IncidentRow.status != Status.CLOSED.value),
    )
    if taken:
        await append_event(session, incident_id, EventKind.LEAD_TAKEN, lead, "Took the lead", at=now)
    return taken


async def close(
    session: AsyncSession, incident_id: int, by: Person, outcome_kind: OutcomeKind, outcome: str, now: datetime
) -> bool:
    closed = await _bump(
        session, incident_id, status=Status.CLOSED.value, closed_at=now, closed_by_name=by.name,
        outcome_kind=outcome_kind.value, outcome=outcome, screenshots_until=None,
        _where=(IncidentRow.status != Status.CLOSED.value,),
    )
    if closed:
        await append_event(
            session, incident_id, EventKind.CLOSED, by, f"Closed: {OUTCOME_TITLES[outcome_kind]}",
            why=outcome, data={"outcome_kind": outcome_kind.value}, at=now,
        )
    return closed


_REPEAT_WINDOW = timedelta(minutes=2)  # the same note or escalation again this soon is a double click, not news


async def _repeat_of(
    session: AsyncSession, incident_id: int, by: Person, kind: EventKind, what: str, why: str, now: datetime
) -> int | None:
    """The entry this one would repeat: same person, kind, words, within ``_REPEAT_WINDOW``.

    The report's row is locked first, so two clicks at the same moment are checked one after the other: an
    UPDATE that changes nothing takes the row's lock on PostgreSQL and, on SQLite, begins the write
    transaction (the driver begins one only at a write, so a ``SELECT ... FOR UPDATE``, which SQLite ignores,
    would leave both clicks reading before either writes).
    """
    await session.execute(
        update(IncidentRow).where(IncidentRow.id == incident_id).values(version=IncidentRow.version)
        .execution_options(synchronize_session=False)
    )
    found: int | None = await session.scalar(
        select(IncidentEventRow.id).where(
            IncidentEventRow.incident_id == incident_id, IncidentEventRow.kind == kind.value,
            IncidentEventRow.actor_aad == by.aad_object_id, IncidentEventRow.what == what,
            IncidentEventRow.why == why, IncidentEventRow.at >= now - _REPEAT_WINDOW,
        ).limit(1)
    )
    return found


async def add_note(session: AsyncSession, incident_id: int, by: Person, note: str, now: datetime) -> tuple[int, bool]:
    """Add a note; the same note from the same person moments later is not added twice.

    Returns:
        The entry's id, and whether it was added now.
    """
    repeat = await _repeat_of(session, incident_id, by, EventKind.NOTE_ADDED, "Added a note", note, now)
    if repeat is not None:
        return repeat, False
    await _bump(session, incident_id)
    return await append_event(session, incident_id, EventKind.NOTE_ADDED, by, "Added a note", why=note, at=now), True


async def record_escalation(
    session: AsyncSession, incident_id: int, by: Person, agency: Agency, reason: str, external_reference: str,
    now: datetime, *, made_on: date | None = None,
) -> tuple[int, bool]:
    """Record an escalation or referral to an outside agency, with the day it was made (not twice for a double
    click). Returns (entry id, added now)."""
    what = f"Escalated to {AGENCY_TITLES[agency]}"
    if external_reference:
        what += f" (their reference: {external_reference})"
    repeat = await _repeat_of(session, incident_id, by, EventKind.ESCALATED, what, reason, now)
    if repeat is not None:
        return repeat, False
    await _bump(session, incident_id)
    entry = await append_event(
        session, incident_id, EventKind.ESCALATED, by, what, why=reason,
        data={"agency": agency.value, "external_reference": external_reference,
              "made_on": (made_on or now.date()).isoformat()}, at=now,
    )
    return entry, True


async def mark_routed(session: AsyncSession, incident_id: int, now: datetime) -> bool:
    return await _bump(session, incident_id, routed_at=now, _where=(IncidentRow.routed_at.is_(None),))


async def bump_version(session: AsyncSession, incident_id: int) -> None:
    await _bump(session, incident_id)


# --- the escalation clock -----------------------------------------------------------------------------------


async def due_for_escalation(session: AsyncSession, now: datetime, *, limit: int = 20) -> list[int]:
    """Urgent reports nobody has taken the lead on whose school-time clock has run out."""
    rows = await session.scalars(
        select(IncidentRow.id)
        .where(
            IncidentRow.urgency == Urgency.URGENT.value,
            IncidentRow.status == Status.OPEN.value,
            IncidentRow.auto_escalated_at.is_(None),
            IncidentRow.escalate_due_at.is_not(None),
            IncidentRow.escalate_due_at <= now,
        )
        .order_by(IncidentRow.escalate_due_at).limit(limit)
    )
    return list(rows)


async def claim_escalation(session: AsyncSession, incident_id: int, now: datetime) -> bool:
    """Mark a report escalated; False when another worker did, or someone took the lead meanwhile."""
    return await _bump(
        session, incident_id, auto_escalated_at=now,
        _where=(IncidentRow.auto_escalated_at.is_(None), IncidentRow.status == Status.OPEN.value),
    )


@dataclass(frozen=True)
class RoutingHealth:
    """What ``status`` tells SLT about reports the background worker has still to deal with."""

    waiting: int  # notifications still to be sent (the directory could not be reached when the report was made)
    unreadable: int  # a category, urgency or status this version does not know: the worker leaves them out


async def routing_health(session: AsyncSession) -> RoutingHealth:
    """Counted in the database, in one statement (``status`` reads it on every call)."""
    known = (IncidentRow.category.in_([c.value for c in Category]) & IncidentRow.urgency.in_([u.value for u in Urgency])
             & IncidentRow.status.in_([s.value for s in Status]))
    waiting, unreadable = (await session.execute(select(
        func.count().filter(IncidentRow.routed_at.is_(None) & known), func.count().filter(~known)))).one()
    return RoutingHealth(int(waiting or 0), int(unreadable or 0))


async def unrouted(session: AsyncSession, *, limit: int = 20) -> list[int]:
    """Reports whose notifications could not all be prepared when they were made (directory unreachable)."""
    rows = await session.scalars(
        select(IncidentRow.id).where(IncidentRow.routed_at.is_(None)).order_by(IncidentRow.id).limit(limit)
    )
    return list(rows)


# --- screenshots ----------------------------------------------------------------------------------------


async def add_attachment(
    session: AsyncSession, incident_id: int, by: Person, file_name: str, content_type: str, content: bytes,
    now: datetime,
) -> tuple[Attachment, bool]:
    """Store a screenshot with its report; the same bytes sent again to the same report are stored once."""
    digest = hashlib.sha256(content).hexdigest()
    existing = await session.scalar(
        select(IncidentAttachmentRow).where(
            IncidentAttachmentRow.incident_id == incident_id, IncidentAttachmentRow.sha256 == digest
        )
    )
    if existing is not None:
        return _attachment(existing), False
    row = IncidentAttachmentRow(
        incident_id=incident_id, uploaded_by_aad=by.aad_object_id or "", uploaded_at=now, file_name=file_name,
        content_type=content_type, size=len(content), sha256=digest, content=content,
    )
    session.add(row)
    await session.flush()
    await _bump(session, incident_id)
    await append_event(
        session, incident_id, EventKind.SCREENSHOT_ADDED, by, f"Added a screenshot ({file_name}, {len(content)} bytes)",
        data={"attachment_id": row.id, "sha256": digest}, at=now,
    )
    return _attachment(row), True


async def attachments(session: AsyncSession, incident_id: int) -> list[Attachment]:
    rows = await session.scalars(
        select(IncidentAttachmentRow).where(IncidentAttachmentRow.incident_id == incident_id)
        .order_by(IncidentAttachmentRow.id)
    )
    return [_attachment(row) for row in rows]


async def attachment_content(
    session: AsyncSession, incident_id: int, attachment_id: int
) -> tuple[Attachment, bytes] | None:
    row = await session.scalar(
        select(IncidentAttachmentRow).where(
            IncidentAttachmentRow.id == attachment_id, IncidentAttachmentRow.incident_id == incident_id
        )
    )
    return (_attachment(row), bytes(row.content)) if row else None


# --- who a report is about (issue 15, gap 2) and the safeguarding chain ------------------------------------------


async def add_subjects(session: AsyncSession, incident_id: int, subjects: Sequence[Subject], now: datetime) -> None:
    """Record who a report is about (in the transaction that creates it)."""
    for subject in subjects:
        session.add(IncidentSubjectRow(
            incident_id=incident_id, kind=subject.kind.value, aad_object_id=subject.aad_object_id,
            name=subject.name, roles=sorted(role.value for role in subject.roles), source=subject.source.value,
            added_at=now, roles_checked=subject.roles_known,
        ))
    await session.flush()


def _subject(row: IncidentSubjectRow) -> Subject:
    return Subject(kind=SubjectKind(row.kind), name=row.name, aad_object_id=row.aad_object_id,
                   roles=frozenset(Role(r) for r in row.roles or [] if r in _ROLE_VALUES),
                   source=SubjectSource(row.source), roles_known=bool(row.roles_checked))


_ROLE_VALUES = frozenset(role.value for role in Role)


async def subjects_of(session: AsyncSession, incident_ids: Sequence[int]) -> dict[int, list[Subject]]:
    """Who each report is about, by report id (reports about nobody are absent)."""
    if not incident_ids:
        return {}
    rows = await session.scalars(
        select(IncidentSubjectRow).where(IncidentSubjectRow.incident_id.in_(sorted(set(incident_ids))))
        .order_by(IncidentSubjectRow.id)
    )
    found: dict[int, list[Subject]] = {}
    for row in rows:
        found.setdefault(row.incident_id, []).append(_subject(row))
    return found


async def reports_about(session: AsyncSession, aad_object_id: str) -> list[int]:
    """The reports a member of staff is recorded as the subject of (subject access)."""
    rows = await session.scalars(
        select(IncidentSubjectRow.incident_id).where(IncidentSubjectRow.aad_object_id == aad_object_id.lower())
        .order_by(IncidentSubjectRow.incident_id)
    )
    return list(dict.fromkeys(rows))


async def roles_unchecked(session: AsyncSession, *, limit: int = 20) -> list[int]:
    """Reports about a member of staff whose roles the directory could not say when they were made (oldest first)."""
    rows = await session.scalars(
        select(IncidentSubjectRow.incident_id).where(IncidentSubjectRow.roles_checked.is_(False))
        .group_by(IncidentSubjectRow.incident_id).order_by(IncidentSubjectRow.incident_id).limit(limit)
    )
    return list(rows)


async def record_subject_roles(session: AsyncSession, incident_id: int, aad_object_id: str,
                               roles: frozenset[Role]) -> bool:
    """Record the roles the directory now gives a member of staff a report is about, once (a conditional update:
    False when they were already checked, e.g. by another bot instance)."""
    result = await session.execute(
        update(IncidentSubjectRow)
        .where(IncidentSubjectRow.incident_id == incident_id, IncidentSubjectRow.aad_object_id == aad_object_id,
               IncidentSubjectRow.roles_checked.is_(False))
        .values(roles=sorted(role.value for role in roles), roles_checked=True)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def forget_personal_copies(session: AsyncSession, incident_id: int, recipients: Sequence[str]) -> list[int]:
    """Stop updating the personal copies of a report's card sent to ``recipients`` (lower-case object ids): a re-check
    of its routing found it is not for them. Returns the outbox ids of those copies (to replace them once more)."""
    if not recipients:
        return []
    wanted = {aad.lower() for aad in recipients}
    rows = (await session.scalars(
        select(CardCopyRow).where(CardCopyRow.subject == f"incident:{incident_id}", CardCopyRow.audience == "owner")
    )).all()
    chosen = [row for row in rows if (row.recipient or "").lower() in wanted]
    for row in chosen:
        await session.delete(row)
    await session.flush()
    return [row.outbox_id for row in chosen]


ALERT_KINDS = (EventKind.ROUTED.value, EventKind.AUTO_ESCALATED.value)
REROUTED = "rerouted"  # an alert entry's data: routing re-checked; the chain starts again from its chain_step
WITHDRAWN = "withdrawn"  # an alert entry's data: people alerted before a re-check whom it is not for


async def alerted_people(session: AsyncSession, incident_ids: Sequence[int]) -> dict[int, set[str]]:
    """Who each report was sent to personally and is still for (lower-case object ids), from its chronology: anyone
    a re-check of its routing withdrew it from is left out."""
    if not incident_ids:
        return {}
    rows = await session.execute(
        select(IncidentEventRow.incident_id, IncidentEventRow.data).where(
            IncidentEventRow.incident_id.in_(sorted(set(incident_ids))), IncidentEventRow.kind.in_(ALERT_KINDS))
        .order_by(IncidentEventRow.id)
    )
    found: dict[int, set[str]] = {}
    for incident_id, data in rows:
        people = data.get("recipients") if isinstance(data, dict) else None
        gone = data.get(WITHDRAWN) if isinstance(data, dict) else None
        alerted = found.setdefault(incident_id, set())
        alerted.difference_update(str(p).lower() for p in gone or [] if p)
        alerted.update(str(p).lower() for p in people or [] if p)
    return found


async def chain_position(session: AsyncSession, incident_id: int) -> int:
    """The last step of the safeguarding chain already tried for a report (-1: none yet); after a re-check of its
    routing, counted again from that entry (its chain is the new route's)."""
    rows = await session.scalars(
        select(IncidentEventRow.data).where(IncidentEventRow.incident_id == incident_id,
                                            IncidentEventRow.kind.in_(ALERT_KINDS))
        .order_by(IncidentEventRow.id)
    )
    position = -1
    for data in rows:
        if not isinstance(data, dict) or not isinstance(data.get("chain_step"), int):
            continue
        step = int(data["chain_step"])
        position = step if data.get(REROUTED) else max(position, step)
    return position


async def chain_running(session: AsyncSession, *, limit: int = 50) -> list[int]:
    """Urgent reports nobody has taken the lead on whose safeguarding chain is still running."""
    rows = await session.scalars(
        select(IncidentRow.id).where(
            IncidentRow.urgency == Urgency.URGENT.value, IncidentRow.status == Status.OPEN.value,
            IncidentRow.escalate_due_at.is_not(None),
        ).order_by(IncidentRow.escalate_due_at).limit(limit)
    )
    return list(rows)


async def advance_chain(session: AsyncSession, incident_id: int, expected_due: datetime, next_due: datetime | None,
                        now: datetime) -> bool:
    """Claim the next step of a report's chain: its clock moves to ``next_due`` (None: the chain is over). False when
    someone took the lead, or another worker moved the clock first."""
    return await _bump(
        session, incident_id, escalate_due_at=next_due,
        auto_escalated_at=func.coalesce(IncidentRow.auto_escalated_at, now),
        _where=(IncidentRow.status == Status.OPEN.value, IncidentRow.escalate_due_at == expected_due),
    )


async def alert_deliveries(session: AsyncSession, incident_id: int) -> dict[str, OutboxStatus]:
    """How each personal alert of a report is doing (recipient object id, lower case → its outbox status); a
    recipient with several copies is reached when any copy is still on its way or delivered."""
    rows = await session.execute(
        select(CardCopyRow.recipient, OutboxRow.status)
        .join(OutboxRow, OutboxRow.id == CardCopyRow.outbox_id)
        .where(CardCopyRow.subject == f"incident:{incident_id}", CardCopyRow.audience == "owner")
    )
    found: dict[str, OutboxStatus] = {}
    for recipient, status in rows:
        if not recipient:
            continue
        key = str(recipient).lower()
        state = OutboxStatus(status)
        if key not in found or state not in _UNDELIVERABLE:
            found[key] = state
    return found


_UNDELIVERABLE = (OutboxStatus.STALE, OutboxStatus.FAILED)


async def undelivered_noted(session: AsyncSession, incident_id: int) -> set[str]:
    """Who the chronology already says an alert could not be delivered to (lower-case object ids)."""
    rows = await session.scalars(
        select(IncidentEventRow.data).where(IncidentEventRow.incident_id == incident_id,
                                            IncidentEventRow.kind == EventKind.NOT_REACHABLE.value)
    )
    return {str(data["failed_aad"]).lower() for data in rows
            if isinstance(data, dict) and data.get("delivery_failed") and data.get("failed_aad")}
