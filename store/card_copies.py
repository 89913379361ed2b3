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

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UtcDateTime, utcnow
from store.outbox import OutboxMessage, enqueue


class CardCopyRow(Base):
    __tablename__ = "card_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)  # e.g. "approval:42", "incident:7"
    audience: Mapped[str] = mapped_column(String(64))  # e.g. "decider", "requester", "slt_channel"
    recipient: Mapped[str | None] = mapped_column(String(64))  # AAD object id for personal copies
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


async def record(
    session: AsyncSession, subject: str, audience: str, outbox_id: int, recipient: str | None = None
) -> None:
    """Remember that outbox message ``outbox_id`` posts a copy of ``subject``'s card."""
    existing = await session.scalar(
        select(CardCopyRow.id).where(CardCopyRow.subject == subject, CardCopyRow.outbox_id == outbox_id)
    )
    if existing is None:
        session.add(
            CardCopyRow(subject=subject, audience=audience, recipient=recipient, outbox_id=outbox_id,
                        created_at=utcnow())
        )
        await session.flush()


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
