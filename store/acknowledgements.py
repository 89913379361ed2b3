"""Staff's acknowledgements of the policy, and the notices the bot keeps track of (issue 17).

Tables (migration ``0017_policy_acknowledgements``):

- ``policy_acknowledgements``: who (Entra object id, lower case, and name as Teams gave it) confirmed having read which
  version of the policy (a hash of its text: ``domain/acknowledgement.py``), and when. One row per person and version.
- ``policy_notices``: what the bot offered or sent so that it does so once: the key points offered to a person
  (``offer``: the school day it was last offered, at most once a day), the reminder to someone who has not
  acknowledged (``ack_reminder``: once per version), a training follow-up to SLT for a runner approved without
  recorded training (``training_followup``: until training is recorded, then closed), and the Head Teacher's reminder
  that the policy's review is due (``review``: once per review date). One row per kind, person and key.

Functions take the caller's session (one unit of work each in the services).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UtcDateTime

OFFER = "offer"
ACK_REMINDER = "ack_reminder"
TRAINING_FOLLOWUP = "training_followup"
REVIEW = "review"


class PolicyAcknowledgementRow(Base):
    __tablename__ = "policy_acknowledgements"
    __table_args__ = (UniqueConstraint("aad_object_id", "version", name="uq_policy_acknowledgements_person_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aad_object_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[str] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PolicyNoticeRow(Base):
    __tablename__ = "policy_notices"
    __table_args__ = (UniqueConstraint("kind", "aad_object_id", "key", name="uq_policy_notices_kind_person_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    aad_object_id: Mapped[str] = mapped_column(String(64), index=True)  # "" for the school's (the review)
    name: Mapped[str | None] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(64))  # the policy version, a request's reference, a review date
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_sent_on: Mapped[date | None] = mapped_column(Date)
    times_sent: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class Acknowledgement:
    aad_object_id: str
    name: str
    version: str
    acknowledged_at: datetime


@dataclass(frozen=True)
class Notice:
    id: int
    kind: str
    aad_object_id: str
    name: str | None
    key: str
    created_at: datetime
    last_sent_on: date | None
    times_sent: int
    closed_at: datetime | None


def _ack(row: PolicyAcknowledgementRow) -> Acknowledgement:
    return Acknowledgement(row.aad_object_id, row.name, row.version, row.acknowledged_at)


def _notice(row: PolicyNoticeRow) -> Notice:
    return Notice(row.id, row.kind, row.aad_object_id, row.name, row.key, row.created_at, row.last_sent_on,
                  row.times_sent, row.closed_at)


def _key(aad_object_id: str) -> str:
    return aad_object_id.strip().lower()


async def acknowledgement_of(session: AsyncSession, aad_object_id: str, version: str) -> Acknowledgement | None:
    row = await session.scalar(select(PolicyAcknowledgementRow).where(
        PolicyAcknowledgementRow.aad_object_id == _key(aad_object_id), PolicyAcknowledgementRow.version == version))
    return _ack(row) if row else None


async def acknowledge(session: AsyncSession, aad_object_id: str, name: str, version: str,
                      now: datetime) -> tuple[Acknowledgement, bool]:
    """Record it once; (the acknowledgement, whether it is new)."""
    found = await acknowledgement_of(session, aad_object_id, version)
    if found is not None:
        return found, False
    row = PolicyAcknowledgementRow(aad_object_id=_key(aad_object_id), name=name[:256], version=version,
                                   acknowledged_at=now)
    session.add(row)
    await session.flush()
    await session.execute(update(PolicyNoticeRow).where(
        PolicyNoticeRow.aad_object_id == _key(aad_object_id), PolicyNoticeRow.key == version,
        PolicyNoticeRow.kind.in_((OFFER, ACK_REMINDER)), PolicyNoticeRow.closed_at.is_(None)).values(closed_at=now))
    return _ack(row), True


async def acknowledgements_of_version(session: AsyncSession, version: str) -> dict[str, Acknowledgement]:
    rows = (await session.scalars(select(PolicyAcknowledgementRow).where(
        PolicyAcknowledgementRow.version == version))).all()
    return {row.aad_object_id: _ack(row) for row in rows}


async def acknowledgements_of_people(session: AsyncSession, aad_object_ids: Sequence[str],
                                     version: str) -> dict[str, Acknowledgement]:
    keys = [_key(aad) for aad in aad_object_ids]
    if not keys:
        return {}
    rows = (await session.scalars(select(PolicyAcknowledgementRow).where(
        PolicyAcknowledgementRow.aad_object_id.in_(keys), PolicyAcknowledgementRow.version == version))).all()
    return {row.aad_object_id: _ack(row) for row in rows}


async def acknowledgements_by(session: AsyncSession, aad_object_ids: Sequence[str]) -> list[Acknowledgement]:
    """Every acknowledgement of these people, oldest first (subject access)."""
    keys = [_key(aad) for aad in aad_object_ids if aad]
    if not keys:
        return []
    rows = (await session.scalars(select(PolicyAcknowledgementRow).where(
        PolicyAcknowledgementRow.aad_object_id.in_(keys)).order_by(PolicyAcknowledgementRow.acknowledged_at))).all()
    return [_ack(row) for row in rows]


async def notice(session: AsyncSession, kind: str, aad_object_id: str, key: str) -> Notice | None:
    row = await session.scalar(select(PolicyNoticeRow).where(
        PolicyNoticeRow.kind == kind, PolicyNoticeRow.aad_object_id == _key(aad_object_id), PolicyNoticeRow.key == key))
    return _notice(row) if row else None


async def open_notice(session: AsyncSession, kind: str, aad_object_id: str, key: str, now: datetime,
                      name: str | None = None) -> Notice:
    """The notice, created (not yet sent) if new."""
    found = await notice(session, kind, aad_object_id, key)
    if found is not None:
        return found
    row = PolicyNoticeRow(kind=kind, aad_object_id=_key(aad_object_id), name=name[:256] if name else None, key=key,
                          created_at=now, last_sent_on=None, times_sent=0, closed_at=None)
    session.add(row)
    await session.flush()
    return _notice(row)


async def mark_sent(session: AsyncSession, notice_id: int, day: date, *, last_sent_on: date | None) -> bool:
    """Mark a notice sent on ``day``, only if nobody else did since it was read (False: someone did)."""
    condition = (PolicyNoticeRow.last_sent_on.is_(None) if last_sent_on is None
                 else PolicyNoticeRow.last_sent_on == last_sent_on)
    result = await session.execute(update(PolicyNoticeRow).where(PolicyNoticeRow.id == notice_id, condition).values(
        last_sent_on=day, times_sent=PolicyNoticeRow.times_sent + 1))
    return bool(getattr(result, "rowcount", 0))


async def notices(session: AsyncSession, kind: str, *, open_only: bool = True) -> list[Notice]:
    query = select(PolicyNoticeRow).where(PolicyNoticeRow.kind == kind)
    if open_only:
        query = query.where(PolicyNoticeRow.closed_at.is_(None))
    return [_notice(row) for row in (await session.scalars(query.order_by(PolicyNoticeRow.id))).all()]


async def close_notices(session: AsyncSession, kind: str, aad_object_id: str, now: datetime) -> int:
    result = await session.execute(update(PolicyNoticeRow).where(
        PolicyNoticeRow.kind == kind, PolicyNoticeRow.aad_object_id == _key(aad_object_id),
        PolicyNoticeRow.closed_at.is_(None)).values(closed_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def notices_of(session: AsyncSession, aad_object_ids: Sequence[str]) -> list[Notice]:
    keys = [_key(aad) for aad in aad_object_ids if aad]
    if not keys:
        return []
    rows = (await session.scalars(select(PolicyNoticeRow).where(PolicyNoticeRow.aad_object_id.in_(keys)))).all()
    return [_notice(row) for row in rows]


async def delete_acknowledgements_before(session: AsyncSession, cutoff: datetime, *, current_version: str) -> int:
    """Acknowledgements of earlier versions made before ``cutoff`` (the retention schedule)."""
    result = await session.execute(delete(PolicyAcknowledgementRow).where(
        PolicyAcknowledgementRow.acknowledged_at < cutoff, PolicyAcknowledgementRow.version != current_version))
    return int(getattr(result, "rowcount", 0) or 0)
