"""Social media training records (issue 17): who was trained, when, on what, and who recorded it.

Table (migration ``0017_policy_acknowledgements``): ``training_records``, one row per training SLT recorded. Rows are
never changed; a correction is a new record (the latest date counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Date, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.training import TrainingRecord
from store.base import Base, UtcDateTime


class TrainingRecordRow(Base):
    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aad_object_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    trained_on: Mapped[date] = mapped_column(Date)
    course: Mapped[str] = mapped_column(String(200))
    recorded_by_aad: Mapped[str] = mapped_column(String(64))
    recorded_by_name: Mapped[str] = mapped_column(String(256))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


def _record(row: TrainingRecordRow) -> TrainingRecord:
    return TrainingRecord(aad_object_id=row.aad_object_id, name=row.name, trained_on=row.trained_on,
                          course=row.course, recorded_by_name=row.recorded_by_name, recorded_at=row.recorded_at,
                          id=row.id)


async def add(session: AsyncSession, *, aad_object_id: str, name: str, trained_on: date, course: str,
              recorded_by_aad: str, recorded_by_name: str, now: datetime) -> TrainingRecord:
    row = TrainingRecordRow(aad_object_id=aad_object_id.strip().lower(), name=name[:256], trained_on=trained_on,
                            course=course[:200], recorded_by_aad=recorded_by_aad.strip().lower(),
                            recorded_by_name=recorded_by_name[:256], recorded_at=now)
    session.add(row)
    await session.flush()
    return _record(row)


async def of_people(session: AsyncSession, aad_object_ids: Sequence[str]) -> dict[str, list[TrainingRecord]]:
    """Each person's training, oldest first (keys in lower case)."""
    keys = [aad.strip().lower() for aad in aad_object_ids if aad]
    if not keys:
        return {}
    rows = (await session.scalars(select(TrainingRecordRow).where(TrainingRecordRow.aad_object_id.in_(keys))
                                  .order_by(TrainingRecordRow.trained_on, TrainingRecordRow.id))).all()
    found: dict[str, list[TrainingRecord]] = {}
    for row in rows:
        found.setdefault(row.aad_object_id, []).append(_record(row))
    return found


async def recorded_by(session: AsyncSession, aad_object_ids: Sequence[str]) -> list[TrainingRecord]:
    """Records these people made (subject access: they are named as the recorder)."""
    keys = [aad.strip().lower() for aad in aad_object_ids if aad]
    if not keys:
        return []
    rows = (await session.scalars(select(TrainingRecordRow).where(TrainingRecordRow.recorded_by_aad.in_(keys))
                                  .order_by(TrainingRecordRow.id))).all()
    return [_record(row) for row in rows]
