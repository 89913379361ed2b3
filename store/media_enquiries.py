"""Media enquiries: who is asking, their organisation, contact details, deadline and what it is about, one row per
report (``incident_media_enquiries``, keyed by the report's id; migration ``0013_media_enquiries``).

Written in the unit of work that creates the report (``services/media_enquiry.py``), read with it for the people
who handle it, and removed when the report is anonymised (``store/retention.py``). The deadline is kept as the
reporter gave it, in the school's time zone (an ISO date and ``HH:MM``), like a report's own date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.media_enquiry import MediaEnquiry
from store.base import Base


class MediaEnquiryRow(Base):
    __tablename__ = "incident_media_enquiries"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True, autoincrement=False)
    enquirer: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    deadline_date: Mapped[str | None] = mapped_column(String(10))  # ISO date, the school's time zone
    deadline_time: Mapped[str | None] = mapped_column(String(5))  # HH:MM, the school's time zone
    about: Mapped[str] = mapped_column(Text)


def _enquiry(row: MediaEnquiryRow) -> MediaEnquiry:
    return MediaEnquiry(
        enquirer=row.enquirer, organisation=row.organisation, contact=row.contact,
        deadline_date=date.fromisoformat(row.deadline_date) if row.deadline_date else None,
        deadline_time=time.fromisoformat(row.deadline_time) if row.deadline_time else None, about=row.about,
    )


async def add(session: AsyncSession, incident_id: int, enquiry: MediaEnquiry) -> None:
    """Keep the enquiry with its report (in the report's own transaction)."""
    session.add(MediaEnquiryRow(
        incident_id=incident_id, enquirer=enquiry.enquirer, organisation=enquiry.organisation,
        contact=enquiry.contact,
        deadline_date=enquiry.deadline_date.isoformat() if enquiry.deadline_date else None,
        deadline_time=enquiry.deadline_time.strftime("%H:%M") if enquiry.deadline_time else None,
        about=enquiry.about,
    ))
    await session.flush()


async def get(session: AsyncSession, incident_id: int) -> MediaEnquiry | None:
    row = await session.get(MediaEnquiryRow, incident_id, populate_existing=True)
    return _enquiry(row) if row else None


async def for_reports(session: AsyncSession, incident_ids: Iterable[int]) -> dict[int, MediaEnquiry]:
    """The enquiries of these reports (for ``open reports``), by report id."""
    wanted = sorted(set(incident_ids))
    if not wanted:
        return {}
    rows = await session.scalars(select(MediaEnquiryRow).where(MediaEnquiryRow.incident_id.in_(wanted)))
    return {row.incident_id: _enquiry(row) for row in rows}


__all__ = ["MediaEnquiryRow", "add", "for_reports", "get"]

