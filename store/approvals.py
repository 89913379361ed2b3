"""Approval requests, their append-only history, delegations, account drafts and the account register.

Tables (migration ``0005_approvals``):

- ``approval_requests``: one row per request (any kind), with its state, round and the last decision.
- ``approval_events``: the history, append-only: every transition and every refused attempt (who, when,
  comment, why). The migration installs a trigger that refuses UPDATE on it (SQLite and PostgreSQL).
- ``approval_delegations``: the Head Teacher's authority lent to a deputy for a period.
- ``account_drafts``: an unfinished business case per person (and per request being changed).
- ``account_register`` and ``account_administrators``: approved accounts and their named administrators.
  No column for a password exists, by design.
- ``request_counters`` (migration ``0015_request_counters``): each kind's numbers, per year (``next_number``).

Concurrency: a transition is applied with one conditional UPDATE (``WHERE id = ? AND state = ? AND round
= ?``) as the first statement of the caller's transaction. PostgreSQL makes a concurrent second UPDATE wait
for the first to commit and then re-check the condition (READ COMMITTED), SQLite has a single writer: either
way exactly one of two concurrent decisions changes the row; the other gets ``ApprovalRefused(NOT_PENDING)``
with the request as the winner left it.

Functions take the caller's session, so a workflow writes its record, its history and its outbox messages
in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.accounts import AccountCase, Administrator, RegisteredAccount, Training, Visibility
from domain.approvals import (
    KIND_PREFIXES,
    ApprovalKind,
    ApprovalRecord,
    ApprovalRefused,
    ApprovalState,
    Capacity,
    Delegation,
    HistoryEvent,
    RefusalReason,
    Transition,
    apply_transition,
)
from store.base import Base, UtcDateTime
from store.card_copies import CardCopyRow
from store.outbox import OutboxRow

_COMMENT_MAX = 2000


class ApprovalRequestRow(Base):
    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    client_key: Mapped[str | None] = mapped_column(String(200), unique=True)  # one request per form sent
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    round: Mapped[int] = mapped_column(Integer, default=1)
    requester_aad: Mapped[str] = mapped_column(String(64), index=True)
    requester_name: Mapped[str] = mapped_column(String(256))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    pending_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by_aad: Mapped[str | None] = mapped_column(String(64))
    decided_by_name: Mapped[str | None] = mapped_column(String(256))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    decided_as: Mapped[str | None] = mapped_column(String(32))
    last_reminded_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (Index("ix_approval_requests_state", "state"),)


class ApprovalEventRow(Base):
    """One entry of a request's history. Never updated (a trigger refuses it)."""

    __tablename__ = "approval_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    round: Mapped[int | None] = mapped_column(Integer)
    actor_aad: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(256))
    comment: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class DelegationRow(Base):
    __tablename__ = "approval_delegations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    head_aad: Mapped[str] = mapped_column(String(64), index=True)
    head_name: Mapped[str] = mapped_column(String(256))
    deputy_aad: Mapped[str] = mapped_column(String(64))
    deputy_name: Mapped[str] = mapped_column(String(256))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    summary_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RequestCounterRow(Base):
    """The last number given to a kind of request in a year (migration ``0015_request_counters``)."""

    __tablename__ = "request_counters"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class AccountDraftRow(Base):
    __tablename__ = "account_drafts"

    owner_aad: Mapped[str] = mapped_column(String(64), primary_key=True)
    for_request: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)  # 0: a new request
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountRow(Base):
    __tablename__ = "account_register"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str] = mapped_column(String(256))
    audience: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))
    approval_request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), unique=True)
    approval_reference: Mapped[str] = mapped_column(String(32))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    approved_by_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccountAdministratorRow(Base):
    __tablename__ = "account_administrators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account_register.id"), index=True)
    aad_object_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    training: Mapped[str] = mapped_column(String(16))


class AccountClosureRow(Base):
    """An account of the register closed or transferred (migration ``0014_erasure``; ``store/account_register.py``)."""

    __tablename__ = "account_closures"

    account_id: Mapped[int] = mapped_column(ForeignKey("account_register.id"), primary_key=True,
                                            autoincrement=False)
    how: Mapped[str] = mapped_column(String(16))  # closed | transferred
    transferred_to: Mapped[str | None] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)
    closed_on: Mapped[date] = mapped_column(Date)
    recorded_by_aad: Mapped[str] = mapped_column(String(64))
    recorded_by_name: Mapped[str] = mapped_column(String(256))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- requests --------------------------------------------------------------------------------------------


def _record(row: ApprovalRequestRow) -> ApprovalRecord:
    return ApprovalRecord(
        id=row.id, reference=row.reference or f"#{row.id}", kind=ApprovalKind(row.kind),
        state=ApprovalState(row.state), round=row.round, requester_aad_object_id=row.requester_aad,
        requester_name=row.requester_name, payload=dict(row.payload or {}), created_at=row.created_at,
        pending_since=row.pending_since, decided_at=row.decided_at, decided_by_aad_object_id=row.decided_by_aad,
        decided_by_name=row.decided_by_name, decision_comment=row.decision_comment,
        decided_as=Capacity(row.decided_as) if row.decided_as else None,
    )


def reference_for(kind: ApprovalKind, number: int, created_at: datetime) -> str:
    """E.g. ``ACC-2026-0007``: the kind, the year and the request's number among that kind's that year."""
    return f"{KIND_PREFIXES[kind]}-{created_at.year}-{number:04d}"


async def next_number(session: AsyncSession, kind: ApprovalKind, year: int) -> int:
    """The next number of ``kind`` in ``year``: 1, 2, 3... for each kind on its own.

    One upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) in the caller's transaction: on PostgreSQL a
    concurrent second one waits for the first to commit (the row lock) and then counts on from it; SQLite has a
    single writer. A transaction that rolls back gives its number back, so the numbers have no gaps.
    """
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = insert(RequestCounterRow).values(kind=kind.value, year=year, last_number=1).on_conflict_do_update(
        index_elements=["kind", "year"], set_={"last_number": RequestCounterRow.last_number + 1},
    ).returning(RequestCounterRow.last_number)
    return int((await session.execute(statement)).scalar_one())


async def _event(
    session: AsyncSession, request_id: int | None, event: HistoryEvent, *, now: datetime,
    from_state: ApprovalState | None = None, to_state: ApprovalState | None = None, round_: int | None = None,
    actor_aad: str | None = None, actor_name: str | None = None, comment: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    row = ApprovalEventRow(
        request_id=request_id, event=event.value, from_state=from_state.value if from_state else None,
        to_state=to_state.value if to_state else None, round=round_, actor_aad=actor_aad, actor_name=actor_name,
        comment=comment[:_COMMENT_MAX] if comment else None, detail=dict(detail) if detail else None, at=now,
    )
    session.add(row)
    await session.flush()
    return row.id


async def request_by_client_key(session: AsyncSession, client_key: str) -> ApprovalRecord | None:
    row = await session.scalar(select(ApprovalRequestRow).where(ApprovalRequestRow.client_key == client_key))
    return _record(row) if row else None


async def create_request(
    session: AsyncSession, *, kind: ApprovalKind, requester_aad: str, requester_name: str,
    payload: Mapping[str, Any], now: datetime, client_key: str | None = None,
) -> tuple[ApprovalRecord, int]:
    """A new pending request and its "submitted" history entry. Returns the request and the entry's id.

    Args:
        client_key: names the form that was sent (requester and form id), so sending the same form twice
            (a double click) makes one request: the caller looks it up first with `request_by_client_key`.
    """
    while True:  # a number a request made before the counters took is skipped (the migration seeds past them)
        reference = reference_for(kind, await next_number(session, kind, now.year), now)
        if await session.scalar(select(ApprovalRequestRow.id).where(ApprovalRequestRow.reference == reference)) is None:
            break
    row = ApprovalRequestRow(
        reference=reference, client_key=client_key, kind=kind.value, state=ApprovalState.PENDING.value, round=1,
        requester_aad=requester_aad,
        requester_name=requester_name, payload=dict(payload), created_at=now, updated_at=now, pending_since=now,
    )
    session.add(row)
    await session.flush()
    event_id = await _event(
        session, row.id, HistoryEvent.SUBMITTED, now=now, to_state=ApprovalState.PENDING, round_=1,
        actor_aad=requester_aad, actor_name=requester_name,
    )
    return _record(row), event_id


async def get_request(session: AsyncSession, request_id: int) -> ApprovalRecord | None:
    row = await session.get(ApprovalRequestRow, request_id, populate_existing=True)
    return _record(row) if row else None


async def approved_since(
    session: AsyncSession, kind: ApprovalKind, requester_aad: str, since: datetime, *, limit: int = 50
) -> list[ApprovalRecord]:
    """A requester's approved requests of one kind decided since ``since``, newest first."""
    rows = await session.scalars(
        select(ApprovalRequestRow).where(
            ApprovalRequestRow.kind == kind.value,
            ApprovalRequestRow.state == ApprovalState.APPROVED.value,
            func.lower(ApprovalRequestRow.requester_aad) == requester_aad.lower(),
            ApprovalRequestRow.decided_at >= since,
        ).order_by(ApprovalRequestRow.decided_at.desc()).limit(limit)
    )
    return [_record(row) for row in rows]


async def apply(
    session: AsyncSession, before: ApprovalRecord, transition: Transition, *, now: datetime,
    payload: Mapping[str, Any] | None = None, changed: Sequence[str] = (),
) -> tuple[ApprovalRecord, int]:
    """Apply a checked transition, exactly once. Call it first in the transaction (see the module docstring).

    Args:
        before: the request the transition was checked against.
        payload: the changed payload, for a resubmission.
        changed: for a resubmission, what changed since the version before (kept in its history entry, shown on
            the new version's cards: `changes_of_round`).

    Returns:
        The request after the transition, and the id of its history entry.

    Raises:
        ApprovalRefused: NOT_PENDING (with the request as it now stands) when someone else acted first.
    """
    after = apply_transition(before, transition, now)
    values: dict[str, Any] = dict(state=after.state.value, round=after.round, updated_at=now)
    if transition.is_decision:
        values.update(
            decided_at=now, decided_by_aad=transition.actor_aad_object_id, decided_by_name=transition.actor_name,
            decision_comment=transition.comment, decided_as=transition.capacity.value if transition.capacity else None,
        )
    elif after.state is ApprovalState.PENDING:  # resubmitted: a new round
        values.update(
            pending_since=now, decided_at=None, decided_by_aad=None, decided_by_name=None, decision_comment=None,
            decided_as=None, last_reminded_on=None,
        )
        if payload is not None:
            values["payload"] = dict(payload)
    result = await session.execute(
        update(ApprovalRequestRow)
        .where(
            ApprovalRequestRow.id == before.id,
            ApprovalRequestRow.state == transition.from_state.value,
            ApprovalRequestRow.round == transition.round,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = await get_request(session, before.id)
        raise ApprovalRefused(RefusalReason.NOT_PENDING, "another action came first", request=current)
    event_id = await _event(
        session, before.id, transition.event, now=now, from_state=transition.from_state,
        to_state=transition.to_state, round_=after.round, actor_aad=transition.actor_aad_object_id,
        actor_name=transition.actor_name, comment=transition.comment,
        detail={"capacity": transition.capacity.value} if transition.capacity else
        ({"changed": list(changed)} if transition.event is HistoryEvent.RESUBMITTED else None),
    )
    if payload is not None:
        after = replace(after, payload=dict(payload))
    if transition.event is HistoryEvent.RESUBMITTED:
        after = replace(after, changed=tuple(changed))
    return after, event_id


async def changes_of_round(session: AsyncSession, request: ApprovalRecord) -> ApprovalRecord:
    """The request with what its current round changed since the one before (from the resubmission's history
    entry); a first round, or a request whose changes are known already, as it is."""
    if request.round < 2 or request.changed:
        return request
    detail = await session.scalar(
        select(ApprovalEventRow.detail).where(
            ApprovalEventRow.request_id == request.id, ApprovalEventRow.event == HistoryEvent.RESUBMITTED.value,
            ApprovalEventRow.round == request.round,
        ).order_by(ApprovalEventRow.id.desc()).limit(1)
    )
    changed = (detail or {}).get("changed") if isinstance(detail, dict) else None
    return replace(request, changed=tuple(str(c) for c in changed)) if isinstance(changed, list) else request


async def record_refusal(
    session: AsyncSession, *, request_id: int | None, actor_aad: str, actor_name: str, reason: RefusalReason,
    now: datetime, detail: Mapping[str, Any] | None = None,
) -> int:
    """Audit an attempt that changed nothing (who, when, why, and what the card claimed)."""
    exists = request_id is not None and await session.get(ApprovalRequestRow, request_id) is not None
    return await _event(
        session, request_id if exists else None, HistoryEvent.REFUSED, now=now, actor_aad=actor_aad,
        actor_name=actor_name, detail={"reason": reason.value, **(dict(detail) if detail else {}),
                                       **({"claimed_request_id": request_id} if not exists else {})},
    )


async def record_reminder(session: AsyncSession, request: ApprovalRecord, *, now: datetime,
                          recipients: Sequence[str]) -> int:
    return await _event(session, request.id, HistoryEvent.REMINDED, now=now, round_=request.round,
                        detail={"recipients": list(recipients)})


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    request_id: int | None
    event: HistoryEvent
    from_state: ApprovalState | None
    to_state: ApprovalState | None
    round: int | None
    actor_aad: str | None
    actor_name: str | None
    comment: str | None
    detail: Mapping[str, Any]
    at: datetime


def _entry(row: ApprovalEventRow) -> HistoryEntry:
    return HistoryEntry(
        id=row.id, request_id=row.request_id, event=HistoryEvent(row.event),
        from_state=ApprovalState(row.from_state) if row.from_state else None,
        to_state=ApprovalState(row.to_state) if row.to_state else None, round=row.round, actor_aad=row.actor_aad,
        actor_name=row.actor_name, comment=row.comment, detail=dict(row.detail or {}), at=row.at,
    )


async def history(session: AsyncSession, request_id: int) -> list[HistoryEntry]:
    rows = await session.scalars(
        select(ApprovalEventRow).where(ApprovalEventRow.request_id == request_id).order_by(ApprovalEventRow.id)
    )
    return [_entry(row) for row in rows]


async def refusals(session: AsyncSession) -> list[HistoryEntry]:
    """Every refused attempt (including those naming no request), oldest first."""
    rows = await session.scalars(
        select(ApprovalEventRow).where(ApprovalEventRow.event == HistoryEvent.REFUSED.value)
        .order_by(ApprovalEventRow.id)
    )
    return [_entry(row) for row in rows]


async def requests_of(session: AsyncSession, requester_aad: str, *, limit: int = 20) -> list[ApprovalRecord]:
    rows = await session.scalars(
        select(ApprovalRequestRow).where(ApprovalRequestRow.requester_aad == requester_aad)
        .order_by(ApprovalRequestRow.id.desc()).limit(limit)
    )
    return [_record(row) for row in rows]


async def pending_requests(session: AsyncSession, *, hold: bool = False) -> list[ApprovalRecord]:
    """The requests waiting for a decision, oldest first.

    Args:
        hold: lock their rows until the caller's transaction ends (PostgreSQL; a SQLite writer holds the whole
            database already), for a caller that sends their cards: a decision made meanwhile waits, then finds the
            copies sent and updates them; one decided meanwhile is not among them.
    """
    statement = (select(ApprovalRequestRow).where(ApprovalRequestRow.state == ApprovalState.PENDING.value)
                 .order_by(ApprovalRequestRow.id))
    rows = await session.scalars(statement.with_for_update() if hold else statement)
    return [_record(row) for row in rows]


async def claim_reminder(session: AsyncSession, request: ApprovalRecord, today: date) -> bool:
    """Take today's reminder of a pending request (False: already reminded today, or no longer pending).

    Conditional, so two workers (or a restart) remind once a day.
    """
    result = await session.execute(
        update(ApprovalRequestRow)
        .where(
            ApprovalRequestRow.id == request.id,
            ApprovalRequestRow.state == ApprovalState.PENDING.value,
            ApprovalRequestRow.round == request.round,
            or_(ApprovalRequestRow.last_reminded_on.is_(None), ApprovalRequestRow.last_reminded_on < today),
        )
        .values(last_reminded_on=today)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def last_reminded_on(session: AsyncSession, request_id: int) -> date | None:
    return await session.scalar(select(ApprovalRequestRow.last_reminded_on).where(ApprovalRequestRow.id == request_id))


async def decided_by_deputy_between(
    session: AsyncSession, deputy_aad: str, start: datetime, end: datetime
) -> list[ApprovalRecord]:
    """Requests a deputy decided (or sent back for changes) while acting for the Head Teacher."""
    events = select(ApprovalEventRow.request_id).where(
        ApprovalEventRow.actor_aad == deputy_aad,
        ApprovalEventRow.event.in_([HistoryEvent.APPROVED.value, HistoryEvent.REJECTED.value,
                                    HistoryEvent.CHANGES_REQUESTED.value]),
        ApprovalEventRow.at >= start, ApprovalEventRow.at < end,
    )
    rows = await session.scalars(
        select(ApprovalRequestRow).where(ApprovalRequestRow.id.in_(events)).order_by(ApprovalRequestRow.id)
    )
    return [_record(row) for row in rows]


# --- delegations -----------------------------------------------------------------------------------------


def _delegation(row: DelegationRow) -> Delegation:
    return Delegation(
        id=row.id, head_aad_object_id=row.head_aad, head_name=row.head_name, deputy_aad_object_id=row.deputy_aad,
        deputy_name=row.deputy_name, starts_at=row.starts_at, ends_at=row.ends_at, ended_at=row.ended_at,
        summary_sent_at=row.summary_sent_at,
    )


async def create_delegation(
    session: AsyncSession, *, head_aad: str, head_name: str, deputy_aad: str, deputy_name: str,
    starts_at: datetime, ends_at: datetime, now: datetime,
) -> tuple[Delegation, Delegation | None]:
    """A new delegation; one the same Head Teacher had running is ended now (it is replaced).

    Returns:
        The new delegation, and the one it replaced (if any).
    """
    replaced = await end_delegation(session, head_aad, now=now)
    row = DelegationRow(
        head_aad=head_aad, head_name=head_name, deputy_aad=deputy_aad, deputy_name=deputy_name,
        starts_at=starts_at, ends_at=ends_at, created_at=now,
    )
    session.add(row)
    await session.flush()
    return _delegation(row), replaced


async def active_delegations(session: AsyncSession, now: datetime) -> list[Delegation]:
    rows = await session.scalars(
        select(DelegationRow).where(
            DelegationRow.starts_at <= now, DelegationRow.ends_at > now,
            or_(DelegationRow.ended_at.is_(None), DelegationRow.ended_at > now),
        ).order_by(DelegationRow.id)
    )
    return [_delegation(row) for row in rows]


async def end_delegation(session: AsyncSession, head_aad: str, *, now: datetime) -> Delegation | None:
    """End the Head Teacher's running delegation now. Returns it as ended, or None if none was running."""
    running = [d for d in await active_delegations(session, now) if d.head_aad_object_id.lower() == head_aad.lower()]
    if not running:
        return None
    await session.execute(
        update(DelegationRow).where(DelegationRow.id.in_([d.id for d in running])).values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    row = await session.get(DelegationRow, running[-1].id, populate_existing=True)
    assert row is not None
    return _delegation(row)


async def delegations_to_summarise(session: AsyncSession, now: datetime) -> list[Delegation]:
    """Delegations that are over and whose summary has not been sent to the Head Teacher yet."""
    rows = await session.scalars(
        select(DelegationRow).where(
            DelegationRow.summary_sent_at.is_(None),
            or_(DelegationRow.ends_at <= now, DelegationRow.ended_at <= now),
        ).order_by(DelegationRow.id)
    )
    return [_delegation(row) for row in rows]


async def claim_summary(session: AsyncSession, delegation_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(DelegationRow)
        .where(DelegationRow.id == delegation_id, DelegationRow.summary_sent_at.is_(None))
        .values(summary_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# --- drafts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    owner_aad: str
    for_request: int | None
    values: Mapping[str, str]
    updated_at: datetime


async def save_draft(
    session: AsyncSession, owner_aad: str, values: Mapping[str, str], *, now: datetime, for_request: int | None = None
) -> None:
    key = (owner_aad, for_request or 0)
    row = await session.get(AccountDraftRow, key)
    if row is None:
        session.add(AccountDraftRow(owner_aad=owner_aad, for_request=for_request or 0, data=dict(values),
                                    updated_at=now))
    else:
        row.data, row.updated_at = dict(values), now
    await session.flush()


async def get_draft(session: AsyncSession, owner_aad: str, for_request: int | None = None) -> Draft | None:
    row = await session.get(AccountDraftRow, (owner_aad, for_request or 0), populate_existing=True)
    if row is None:
        return None
    return Draft(owner_aad=row.owner_aad, for_request=row.for_request or None, values=dict(row.data),
                 updated_at=row.updated_at)


async def delete_draft(session: AsyncSession, owner_aad: str, for_request: int | None = None) -> None:
    await session.execute(
        delete(AccountDraftRow).where(
            AccountDraftRow.owner_aad == owner_aad, AccountDraftRow.for_request == (for_request or 0)
        )
    )


# --- the account register --------------------------------------------------------------------------------


async def add_account(session: AsyncSession, request: ApprovalRecord, case: AccountCase, *, now: datetime) -> int:
    """Enter an approved account in the register with its runners as administrators (once per request)."""
    existing = await session.scalar(select(AccountRow.id).where(AccountRow.approval_request_id == request.id))
    if existing is not None:
        return int(existing)
    row = AccountRow(
        platform=case.platform_title, account_name=case.account_name, audience=case.audience,
        visibility=case.visibility.value, approval_request_id=request.id, approval_reference=request.reference,
        approved_at=request.decided_at or now, approved_by_name=request.decided_by_name or "", created_at=now,
    )
    session.add(row)
    await session.flush()
    for runner in case.runners:
        session.add(AccountAdministratorRow(account_id=row.id, aad_object_id=runner.aad_object_id, name=runner.name,
                                            training=runner.register_training.value))
    await session.flush()
    return row.id


async def registered_accounts(session: AsyncSession) -> list[RegisteredAccount]:
    accounts = list(await session.scalars(select(AccountRow).order_by(AccountRow.platform, AccountRow.account_name)))
    admins = list(await session.scalars(select(AccountAdministratorRow).order_by(AccountAdministratorRow.id)))
    by_account: dict[int, list[Administrator]] = {}
    for admin in admins:
        by_account.setdefault(admin.account_id, []).append(
            Administrator(aad_object_id=admin.aad_object_id, name=admin.name, training=Training(admin.training))
        )
    return [
        RegisteredAccount(
            id=row.id, platform=row.platform, account_name=row.account_name, audience=row.audience,
            visibility=Visibility(row.visibility), approval_reference=row.approval_reference,
            approved_at=row.approved_at, approved_by_name=row.approved_by_name,
            administrators=tuple(by_account.get(row.id, [])),
        )
        for row in accounts
    ]


async def card_subjects_of_activity(session: AsyncSession, activity_id: str) -> set[str]:
    """The records whose card copies Teams knows by this activity id (to spot a button moved between cards)."""
    rows = await session.scalars(
        select(CardCopyRow.subject).join(OutboxRow, OutboxRow.id == CardCopyRow.outbox_id)
        .where(OutboxRow.delivered_activity_id == activity_id)
    )
    return set(rows)


async def outbox_key_exists(session: AsyncSession, dedupe_key: str) -> bool:
    return await session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key)) is not None


async def registered_account_names(session: AsyncSession) -> list[str]:
    """The names of the school's approved accounts still open (for the photo check's "a school account"
    destination): a closed or transferred account is no longer offered."""
    return list(await session.scalars(select(AccountRow.account_name)
                                      .where(AccountRow.id.not_in(select(AccountClosureRow.account_id)))
                                      .order_by(AccountRow.account_name)))
