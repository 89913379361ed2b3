"""The outbox: messages the bot must deliver to Teams later, kept in the database until they are.

A workflow writes its record and the messages it causes in one transaction::

    async with database.transaction() as session:
        incident = await incidents.create(session, ...)
        post_id = await enqueue(session, OutboxMessage.channel_post(slt_channel, card_activity_json,
                                                                   dedupe_key=f"incident:{incident.id}:posted"))
        ...
        # later, in another transaction: update that card in place once it is delivered
        await enqueue(session, OutboxMessage.update_of(post_id, new_card_activity_json))

`bot.outbox_worker.OutboxWorker` delivers them. This module is the table and the small, explicit
queries the worker runs; it knows nothing of Bot Framework (activities and references are JSON).

Rules kept here:
- **Lanes.** Every message has a lane: the conversation it goes to (a channel thread counts as its
  channel). Messages of one lane are delivered strictly in order: a message is only claimable when no
  earlier message of its lane is still pending. So two updates of one card can never land in the wrong
  order, an update never overtakes the post it updates, and a throttled conversation holds back its own
  messages only.
- **Claims** are short leases (`claimed_until`, `claim_token`) taken with one conditional UPDATE (and
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several workers or bot instances never send the same
  message at once. A live worker renews its claims while it sends (``renew_claims``), so a slow send keeps
  its claim; a crashed worker's claims run out within one lease and are taken over.
- **Only the claim's holder records a result.** Taking a claim over gives the row a new token; the
  worker that lost it can neither renew it nor record a delivery, a retry or a failure over the new
  holder (a delivery may still be recorded when nobody holds the message any more).
- **Delivered rows keep routing, not content**: the activity payload is cleared on delivery (the text
  lives in the record that caused the message); the delivered activity id and conversation reference
  stay so the message can be updated later.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from store.base import Base, UtcDateTime, utcnow

_LAST_ERROR_MAX = 200  # status code and a short reason; never message text or tokens
THREAD_SUFFIX = ";messageid="  # a channel thread's conversation id is "<channel id>;messageid=<n>"


class OutboxKind(enum.StrEnum):
    POST_TO_CHANNEL = "post_to_channel"  # a new thread in a team channel
    SEND_PERSONAL = "send_personal"  # a proactive message in an existing conversation (usually a 1:1 chat)
    UPDATE_ACTIVITY = "update_activity"  # replace an activity the bot sent earlier (a card update)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting (first attempt or back-off)
    DELIVERED = "delivered"  # Teams accepted it; delivered ids recorded
    STALE = "stale"  # the conversation or message is gone or the bot was removed (403/404): not retried
    FAILED = "failed"  # will never succeed as it is (413, other 4xx, attempts exhausted)


FINISHED = (OutboxStatus.DELIVERED, OutboxStatus.STALE, OutboxStatus.FAILED)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, values_callable=lambda members: [m.value for m in members])


class OutboxRow(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind))
    lane: Mapped[str] = mapped_column(String(512))  # the conversation (channel for threads): order + rate limit
    target: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    activity: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # cleared when delivered
    activity_id: Mapped[str | None] = mapped_column(String(256))  # updates: the activity to replace
    depends_on: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))  # updates: "the message sent by N"
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    delivered_activity_id: Mapped[str | None] = mapped_column(String(256))
    delivered_conversation_id: Mapped[str | None] = mapped_column(String(512))
    delivered_reference: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    last_error: Mapped[str | None] = mapped_column(String(_LAST_ERROR_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_lane_status", "lane", "status"),
    )


# --- what callers enqueue -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelTarget:
    """Where a new channel post goes (from the stored channel conversation and school settings)."""

    service_url: str
    channel_id: str
    tenant_id: str | None = None
    team_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "service_url": self.service_url,
            "channel_id": self.channel_id,
            "tenant_id": self.tenant_id,
            "team_id": self.team_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChannelTarget:
        return cls(
            service_url=data["service_url"],
            channel_id=data["channel_id"],
            tenant_id=data.get("tenant_id"),
            team_id=data.get("team_id"),
        )


@dataclass(frozen=True)
class OutboxMessage:
    """A message to deliver later. Build one with the class methods; they check the shape.

    Attributes:
        kind: what the worker does with it.
        activity: the Bot Framework activity as JSON (camelCase, as ``Activity.serialize()`` gives it).
        target: a ``ChannelTarget`` as JSON (channel posts) or a serialised ``ConversationReference``
            (personal messages; updates with an explicit activity id). None for ``update_of``.
        dedupe_key: enqueuing a second message with the same key does nothing (the first one wins).
        depends_on: updates: the outbox id of the message whose delivered activity is to be replaced.
        activity_id: updates: the id of the activity to replace, when it is known already.
    """

    kind: OutboxKind
    activity: dict[str, Any]
    target: dict[str, Any] | None = None
    dedupe_key: str | None = None
    depends_on: int | None = None
    activity_id: str | None = None

    @classmethod
    def channel_post(
        cls, channel: ChannelTarget, activity: dict[str, Any], *, dedupe_key: str | None = None
    ) -> OutboxMessage:
        return cls(OutboxKind.POST_TO_CHANNEL, activity, channel.to_json(), dedupe_key)

    @classmethod
    def personal(
        cls, reference: dict[str, Any], activity: dict[str, Any], *, dedupe_key: str | None = None
    ) -> OutboxMessage:
        return cls(OutboxKind.SEND_PERSONAL, activity, reference, dedupe_key)

    @classmethod
    def update_of(
        cls, outbox_id: int, activity: dict[str, Any], *, dedupe_key: str | None = None
    ) -> OutboxMessage:
        """Replace the activity that outbox message ``outbox_id`` delivered (waits until it is delivered)."""
        return cls(OutboxKind.UPDATE_ACTIVITY, activity, None, dedupe_key, depends_on=outbox_id)

    @classmethod
    def update(
        cls, reference: dict[str, Any], activity_id: str, activity: dict[str, Any], *, dedupe_key: str | None = None
    ) -> OutboxMessage:
        """Replace activity ``activity_id`` in the conversation of ``reference`` (a channel thread's own reference)."""
        return cls(OutboxKind.UPDATE_ACTIVITY, activity, reference, dedupe_key, activity_id=activity_id)


class InvalidOutboxMessage(ValueError):
    """The message cannot be delivered as built (a programming error in the caller)."""


def root_conversation_id(conversation_id: str) -> str:
    """A channel thread id is `<channel id>;messageid=<n>`: the channel's own id is the part before."""
    return conversation_id.split(THREAD_SUFFIX)[0]


def _reference_conversation_id(reference: dict[str, Any] | None) -> str:
    conversation = (reference or {}).get("conversation") or {}
    conversation_id = conversation.get("id")
    if not conversation_id or not (reference or {}).get("serviceUrl"):
        raise InvalidOutboxMessage("a conversation reference needs conversation.id and serviceUrl")
    return str(conversation_id)


def _check(message: OutboxMessage) -> None:
    if not isinstance(message.activity, dict) or not message.activity.get("type"):
        raise InvalidOutboxMessage("the activity must be a serialised activity with a type")
    if message.kind is OutboxKind.POST_TO_CHANNEL:
        target = message.target or {}
        if not target.get("service_url") or not target.get("channel_id"):
            raise InvalidOutboxMessage("a channel post needs service_url and channel_id")
    elif message.kind is OutboxKind.SEND_PERSONAL:
        _reference_conversation_id(message.target)
    elif message.depends_on is not None:
        if message.target is not None or message.activity_id is not None:
            raise InvalidOutboxMessage("an update names either the message it updates or a reference and id")
    elif not message.activity_id:
        raise InvalidOutboxMessage("an update needs depends_on, or a reference and an activity id")
    else:
        _reference_conversation_id(message.target)


async def enqueue(session: AsyncSession, message: OutboxMessage, *, now: datetime | None = None) -> int:
    """Add a message in the caller's transaction and return its outbox id.

    With a ``dedupe_key`` already present, nothing is added and the existing message's id is returned.

    Raises:
        InvalidOutboxMessage: the message is malformed, or ``depends_on`` names no outbox message.
    """
    _check(message)
    if message.kind is OutboxKind.POST_TO_CHANNEL:
        lane = str((message.target or {})["channel_id"])
    elif message.depends_on is not None:
        parent_lane = await session.scalar(select(OutboxRow.lane).where(OutboxRow.id == message.depends_on))
        if parent_lane is None:
            raise InvalidOutboxMessage(f"depends_on names no outbox message ({message.depends_on})")
        lane = parent_lane
    else:
        lane = root_conversation_id(_reference_conversation_id(message.target))
    now = now or utcnow()
    values = dict(
        kind=message.kind, lane=lane, target=message.target, activity=message.activity,
        activity_id=message.activity_id, depends_on=message.depends_on, dedupe_key=message.dedupe_key,
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
    )
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = insert(OutboxRow).values(**values)
    if message.dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    new_id = await session.scalar(statement.returning(OutboxRow.id))
    if new_id is not None:
        return int(new_id)
    existing = await session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == message.dedupe_key))
    assert existing is not None  # the conflicting row exists: ON CONFLICT saw it
    return int(existing)


# --- what the worker runs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Dependency:
    """The message an update depends on, as it stands."""

    status: OutboxStatus
    activity_id: str | None
    reference: dict[str, Any] | None


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    kind: OutboxKind
    lane: str
    target: dict[str, Any] | None
    activity: dict[str, Any]
    activity_id: str | None
    attempts: int  # including the attempt this claim is for
    claim_token: str
    dependency: Dependency | None


def _claimable(now: datetime) -> Any:
    earlier = aliased(OutboxRow)
    held_back = exists().where(
        earlier.lane == OutboxRow.lane, earlier.id < OutboxRow.id, earlier.status == OutboxStatus.PENDING
    )
    return (
        OutboxRow.status == OutboxStatus.PENDING,
        OutboxRow.next_attempt_at <= now,
        or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until <= now),
        ~held_back,
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, token: str, limit: int
) -> list[ClaimedMessage]:
    """Claim up to ``limit`` due messages (at most one per lane) for ``token`` until ``lease_until``.

    One UPDATE takes the claims, so concurrent claimers never get the same row: PostgreSQL skips rows
    another claimer has locked; SQLite has a single writer. Each claim counts as an attempt (a message
    that crashes the worker is not retried for ever).
    """
    due = select(OutboxRow.id).where(*_claimable(now)).order_by(OutboxRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=OutboxRow)
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(due.scalar_subquery()), *_claimable(now)[:3])
        .values(claimed_until=lease_until, claim_token=token, attempts=OutboxRow.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    parent = aliased(OutboxRow)
    rows = (
        await session.execute(
            select(OutboxRow, parent.status, parent.delivered_activity_id, parent.delivered_reference)
            .outerjoin(parent, parent.id == OutboxRow.depends_on)
            .where(OutboxRow.claim_token == token, OutboxRow.status == OutboxStatus.PENDING)
            .order_by(OutboxRow.id)
        )
    ).all()
    claimed = []
    for row, parent_status, parent_activity_id, parent_reference in rows:
        dependency = None
        if row.depends_on is not None:
            dependency = Dependency(OutboxStatus(parent_status), parent_activity_id, parent_reference)
        claimed.append(
            ClaimedMessage(
                id=row.id, kind=OutboxKind(row.kind), lane=row.lane, target=row.target,
                activity=row.activity or {}, activity_id=row.activity_id, attempts=row.attempts,
                claim_token=token, dependency=dependency,
            )
        )
    return claimed


def _short(error: str | None) -> str | None:
    return error[:_LAST_ERROR_MAX] if error else None


@dataclass(frozen=True)
class ClaimRenewal:
    """What a renewal found: the claims extended, and those another worker holds now (or nobody does)."""

    kept: frozenset[int]
    lost: frozenset[int]


async def renew_claims(
    session: AsyncSession, ids: Iterable[int], *, token: str, now: datetime, lease_until: datetime
) -> ClaimRenewal:
    """Extend ``token``'s claims on ``ids`` to ``lease_until`` (the heartbeat of a worker still sending).

    Only rows still pending and still claimed by ``token`` are extended. A pending row with another token
    (or none: its new holder released it) is reported lost; a finished row is neither.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return ClaimRenewal(frozenset(), frozenset())
    kept = frozenset(
        (
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(wanted), OutboxRow.claim_token == token,
                       OutboxRow.status == OutboxStatus.PENDING)
                .values(claimed_until=lease_until, updated_at=now)
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    others = [message_id for message_id in wanted if message_id not in kept]
    lost: frozenset[int] = frozenset()
    if others:
        lost = frozenset(
            (
                await session.scalars(
                    select(OutboxRow.id).where(OutboxRow.id.in_(others), OutboxRow.status == OutboxStatus.PENDING)
                )
            ).all()
        )
    return ClaimRenewal(kept, lost)


async def mark_delivered(
    session: AsyncSession,
    message_id: int,
    *,
    claim_token: str,
    now: datetime,
    activity_id: str | None,
    conversation_id: str | None,
    reference: dict[str, Any] | None,
) -> bool:
    """Record a delivery by the worker holding claim ``claim_token``.

    Recorded when the message is still pending and the claim is still this worker's, or nobody's (its
    new holder gave it back, e.g. after a failed attempt: Teams has it all the same). Never over another
    worker's claim: that worker is sending it again, and the conversation's next message must wait for it.

    Returns False when nothing was recorded (another worker holds the message, or it was finished).
    """
    result = await session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.id == message_id,
            OutboxRow.status == OutboxStatus.PENDING,
            or_(OutboxRow.claim_token == claim_token, OutboxRow.claim_token.is_(None)),
        )
        .values(
            status=OutboxStatus.DELIVERED, delivered_at=now, updated_at=now, delivered_activity_id=activity_id,
            delivered_conversation_id=conversation_id, delivered_reference=reference, activity=None,
            claimed_until=None, claim_token=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def schedule_retry(
    session: AsyncSession, claimed: ClaimedMessage, *, now: datetime, at: datetime, error: str | None,
    count_attempt: bool = True,
) -> bool:
    """Release the claim and try again at ``at`` (``count_attempt=False``: a deferral, not a failure)."""
    attempts = OutboxRow.attempts if count_attempt else case(
        (OutboxRow.attempts > 0, OutboxRow.attempts - 1), else_=0
    )
    values: dict[str, Any] = dict(
        next_attempt_at=at, claimed_until=None, claim_token=None, updated_at=now, attempts=attempts
    )
    if count_attempt:
        values["last_error"] = _short(error)
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == claimed.id, OutboxRow.claim_token == claimed.claim_token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(
    session: AsyncSession, claimed: ClaimedMessage, status: OutboxStatus, *, now: datetime, error: str | None
) -> bool:
    """Give up on a message for good (stale or failed)."""
    assert status in (OutboxStatus.STALE, OutboxStatus.FAILED)
    result = await session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == claimed.id, OutboxRow.claim_token == claimed.claim_token)
        .values(status=status, last_error=_short(error), claimed_until=None, claim_token=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- what the rest of the bot reads -------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox message as stored (for status screens, tests and callers that keep delivered ids)."""

    id: int
    kind: OutboxKind
    lane: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    dedupe_key: str | None
    depends_on: int | None
    delivered_activity_id: str | None
    delivered_conversation_id: str | None
    delivered_reference: dict[str, Any] | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _entry(row: OutboxRow) -> OutboxEntry:
    return OutboxEntry(
        id=row.id, kind=OutboxKind(row.kind), lane=row.lane, status=OutboxStatus(row.status),
        attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        dedupe_key=row.dedupe_key, depends_on=row.depends_on, delivered_activity_id=row.delivered_activity_id,
        delivered_conversation_id=row.delivered_conversation_id, delivered_reference=row.delivered_reference,
        last_error=row.last_error, created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


async def get_entry(session: AsyncSession, message_id: int) -> OutboxEntry | None:
    row = await session.get(OutboxRow, message_id, populate_existing=True)
    return _entry(row) if row else None


async def list_entries(session: AsyncSession) -> list[OutboxEntry]:
    rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id).execution_options(
        populate_existing=True))).all()
    return [_entry(row) for row in rows]


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_pending_at: datetime | None
    stale: int
    failed: int


async def backlog(session: AsyncSession) -> Backlog:
    """How much is waiting and how much could not be delivered (for the SLT `status` card)."""
    counts = dict(
        (OutboxStatus(status), count)
        for status, count in (
            await session.execute(
                select(OutboxRow.status, func.count()).where(OutboxRow.status != OutboxStatus.DELIVERED)
                .group_by(OutboxRow.status)
            )
        ).all()
    )
    oldest = await session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.status == OutboxStatus.PENDING)
    )
    return Backlog(
        pending=counts.get(OutboxStatus.PENDING, 0),
        oldest_pending_at=oldest,
        stale=counts.get(OutboxStatus.STALE, 0),
        failed=counts.get(OutboxStatus.FAILED, 0),
    )
