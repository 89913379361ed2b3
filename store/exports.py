"""Subject access exports waiting for the DPO's consent to receive the file (Teams' file consent card).

Table (migration ``0010_subject_access``):

- ``subject_access_exports``: one prepared export (the zip's bytes) until the DPO accepts or declines the file
  consent card, at most ``EXPORT_LIFETIME`` (24 h, ``domain/subject_access.py``): the row is deleted once the
  file is uploaded or declined; an expired one is refused and deleted; the retention run deletes any left past
  the schedule's ``subject_access_exports`` period. The row keeps who asked (the only person who may accept it),
  the zip and its file name (no name of the subject: that is only inside the zip).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UtcDateTime


class SubjectAccessExportRow(Base):
    """A prepared export waiting for the DPO's consent to receive the file."""

    __tablename__ = "subject_access_exports"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random; the consent card's context
    dpo_aad: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(128))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


async def save_export(session: AsyncSession, *, export_id: str, dpo_aad: str, file_name: str, content: bytes,
                      now: datetime, expires_at: datetime) -> None:
    session.add(SubjectAccessExportRow(id=export_id, dpo_aad=dpo_aad, file_name=file_name, content=content,
                                       size=len(content), created_at=now, expires_at=expires_at))
    await session.flush()


async def get_export(session: AsyncSession, export_id: str) -> SubjectAccessExportRow | None:
    return await session.get(SubjectAccessExportRow, export_id)


async def delete_export(session: AsyncSession, export_id: str) -> None:
    await session.execute(delete(SubjectAccessExportRow).where(SubjectAccessExportRow.id == export_id))


async def expired_exports(session: AsyncSession, *, cutoff: datetime, limit: int) -> list[tuple[str, datetime]]:
    """(id, prepared) of exports prepared at or before ``cutoff`` (the retention schedule's clock)."""
    rows = await session.execute(select(SubjectAccessExportRow.id, SubjectAccessExportRow.created_at)
                                 .where(SubjectAccessExportRow.created_at <= cutoff)
                                 .order_by(SubjectAccessExportRow.created_at).limit(limit))
    return [(i, at) for i, at in rows.all()]
