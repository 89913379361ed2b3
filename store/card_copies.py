"""Every copy of a record's card that the bot has posted, so a change updates all of them.

Teams' automatic ``refresh`` is unreliable in channels and reaches at most 60 users, so after a
decision or an incident action the bot replaces each stored copy itself, through the outbox (which
orders the update after the original post and retries it on throttling).

A copy is recorded when its post is enqueued (``record``); ``update_all`` enqueues an update of each
copy, built per audience by the caller (a decider's copy and a channel's minimal copy differ).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, Select, String, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UtcDateTime, utcnow
from store.outbox import OutboxMessage, OutboxRow, enqueue


class CardCopyRow(Base):
    __tablename__ = "card_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)  # e.g. "approval:42", "incident:7"
    audience: Mapped[str] = mapped_column(String(64))  # e.g. "decider", "requester", "slt_channel"
    recipient: Mapped[str | None] = mapped_column(String(64))  # AAD object id for personal copies
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    round: Mapped[int | None] = mapped_column(Integer)  # the request's version the copy shows (0015); None: unknown
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


async def record(
    session: AsyncSession, subject: str, audience: str, outbox_id: int, recipient: str | None = None,
    *, round_: int | None = None,
) -> None:
    """Remember that outbox message ``outbox_id`` posts a copy of ``subject``'s card.

    Args:
        round_: the version of the record the copy shows (an approval request's round), so a later change can
            tell a copy of an earlier version ("Replaced by version N") from one of the current version.
    """
    existing = await session.scalar(
        select(CardCopyRow.id).where(CardCopyRow.subject == subject, CardCopyRow.outbox_id == outbox_id)
    )
    if existing is None:
        session.add(
            CardCopyRow(subject=subject, audience=audience, recipient=recipient, outbox_id=outbox_id,
                        round=round_, created_at=utcnow())
        )
        await session.flush()


def _outbox_ids_in_message(activity_id: str) -> Select[tuple[int]]:
    """The outbox messages that sit in the Teams message ``activity_id``: the post Teams delivered as it, or an
    update of it."""
    return select(OutboxRow.id).where(or_(OutboxRow.delivered_activity_id == activity_id,
                                          OutboxRow.activity_id == activity_id))


async def forget_activity(session: AsyncSession, subject: str, activity_id: str) -> int:
    """Forget ``subject``'s copies that sit in the Teams message ``activity_id`` (a message that now shows another
    card: e.g. the requester changed the request from it, and it shows the new version). Returns how many."""
    result = await session.execute(
        delete(CardCopyRow).where(CardCopyRow.subject == subject,
                                  CardCopyRow.outbox_id.in_(_outbox_ids_in_message(activity_id)))
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def copy_ids_in(session: AsyncSession, subject: str, activity_id: str | None) -> frozenset[int]:
    """The ids of ``subject``'s copies that sit in the Teams message ``activity_id`` (none when it is None): the
    message a button was clicked in, which the click's answer has already replaced."""
    if not activity_id:
        return frozenset()
    rows = await session.scalars(select(CardCopyRow.id).where(
        CardCopyRow.subject == subject, CardCopyRow.outbox_id.in_(_outbox_ids_in_message(activity_id))))
    return frozenset(rows)


async def copies(session: AsyncSession, subject: str) -> list[CardCopyRow]:
    rows = await session.scalars(select(CardCopyRow).where(CardCopyRow.subject == subject).order_by(CardCopyRow.id))
    return list(rows)


async def update_all(
    session: AsyncSession,
    subject: str,
    activity_for: Callable[[CardCopyRow], dict[str, Any] | None],
    *,
    version: str,
) -> int:
    """Enqueue an update of every copy of ``subject``'s card, in the caller's transaction.

    Args:
        activity_for: the replacement activity JSON for one copy (by its audience/recipient), or None
            to leave that copy as it is.
        version: names this change (e.g. the history entry id), so enqueuing the same change twice
            updates each copy once.

    Returns:
        How many updates were enqueued.
    """
    count = 0
    for copy in await copies(session, subject):
        activity = activity_for(copy)
        if activity is None:
            continue
        await enqueue(
            session,
            OutboxMessage.update_of(copy.outbox_id, activity, dedupe_key=f"{subject}:copy{copy.id}:{version}"),
        )
        count += 1
    return count
