"""The safeguarding record's parts kept beside a report: the child's words and the reporter's view, the pupils,
referral outcomes and the transfer to the school's safeguarding system.

Tables (migration ``0012_kcsie_record``):

- ``incident_statements``: the child's own words and the reporter's view, written once with the report. The
  database refuses UPDATE; DELETE only inside the retention run (``store.retention.unlocked``).
- ``incident_pupils``: one row per pupil a report names (so subject access and the retention schedule's holds find
  them by name). Append-only like the statements.
- ``retention_reviews`` (``store/retention.py``, ``settle_transfer``): its transfer columns say the report was put
  into the school's safeguarding system (when, which, its reference, who recorded it).

Decisions, referral outcomes, exports and transfers are chronology entries (``incident_events``, append-only):
written here through ``store.incidents.append_event``, never updated. Functions take the caller's session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.incidents import AGENCY_TITLES, Agency, EventKind, ReportDetails
from domain.safeguarding_record import Entry, LinkedPupil, RecordExtras, Statement, referrals, transfers
from store import incidents as records
from store.base import Base, UtcDateTime


class IncidentStatementRow(Base):
    """The child's own words and the reporter's view. Never updated (the database refuses it)."""

    __tablename__ = "incident_statements"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True, autoincrement=False)
    child_words: Mapped[str] = mapped_column(Text)
    opinion: Mapped[str] = mapped_column(Text)


class IncidentPupilRow(Base):
    """A pupil a report names. Never updated (the database refuses it)."""

    __tablename__ = "incident_pupils"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    added_by_aad: Mapped[str | None] = mapped_column(String(64))
    added_by_name: Mapped[str] = mapped_column(String(256))


async def save_report_parts(session: AsyncSession, incident_id: int, details: ReportDetails, by: records.Person,
                            now: datetime) -> None:
    """Keep what the form gave beside the facts: the child's words, the view, the pupils (once, with the report)."""
    if details.child_words or details.opinion:
        session.add(IncidentStatementRow(incident_id=incident_id, child_words=details.child_words,
                                         opinion=details.opinion))
    for name in details.pupils:
        session.add(IncidentPupilRow(incident_id=incident_id, name=name, added_at=now, added_by_aad=by.aad_object_id,
                                     added_by_name=by.name))
    await session.flush()


async def statement(session: AsyncSession, incident_id: int) -> Statement:
    row = await session.get(IncidentStatementRow, incident_id)
    return Statement(row.child_words, row.opinion) if row else Statement()


async def pupils(session: AsyncSession, incident_id: int) -> tuple[LinkedPupil, ...]:
    rows = await session.scalars(select(IncidentPupilRow).where(IncidentPupilRow.incident_id == incident_id)
                                 .order_by(IncidentPupilRow.id))
    return tuple(LinkedPupil(row.name, row.added_at, row.added_by_name) for row in rows)


async def reports_naming_pupil(session: AsyncSession, name: str) -> list[int]:
    """Ids of the reports linked to a pupil of this name (case-insensitive, spaces tidied)."""
    wanted = " ".join(name.split()).lower()
    rows = await session.execute(select(IncidentPupilRow.incident_id, IncidentPupilRow.name))
    return sorted({incident for incident, named in rows.all() if " ".join(named.split()).lower() == wanted})


# --- the chronology's record entries ---------------------------------------------------------------------------


async def record_decision(session: AsyncSession, incident_id: int, by: records.Person, decision: str, reason: str,
                          now: datetime) -> int:
    await records.bump_version(session, incident_id)
    return await records.append_event(session, incident_id, EventKind.DECISION, by, f"Decision: {decision}",
                                      why=reason, at=now)


async def record_referral_outcome(session: AsyncSession, incident_id: int, referral_id: int, by: records.Person,
                                  outcome: str, now: datetime) -> int | None:
    """Append an outcome to a referral of this report; None when the report has no such referral."""
    referral = next((e for e in await records.events(session, incident_id)
                     if e.id == referral_id and e.kind is EventKind.ESCALATED), None)
    if referral is None:
        return None
    agency = referral.data.get("agency")
    title = AGENCY_TITLES[Agency(agency)] if agency in {a.value for a in Agency} else "the outside agency"
    await records.bump_version(session, incident_id)
    return await records.append_event(session, incident_id, EventKind.REFERRAL_OUTCOME, by,
                                      f"Outcome of the referral to {title}", why=outcome,
                                      data={"referral": referral_id}, at=now)


async def add_pupil(session: AsyncSession, incident_id: int, name: str, by: records.Person, now: datetime) -> int:
    """Append a pupil to a report's record (a new row: nothing is replaced) with its chronology entry."""
    session.add(IncidentPupilRow(incident_id=incident_id, name=name, added_at=now, added_by_aad=by.aad_object_id,
                                 added_by_name=by.name))
    await records.bump_version(session, incident_id)
    return await records.append_event(session, incident_id, EventKind.PUPIL_ADDED, by,
                                      f"Added a pupil to the record: {name}", at=now)


async def record_export(session: AsyncSession, incident_id: int, by: records.Person, file_name: str, size: int,
                        now: datetime) -> int:
    return await records.append_event(session, incident_id, EventKind.EXPORTED, by,
                                      f"Exported the record as a PDF ({file_name})", data={"bytes": size}, at=now)


async def record_transfer(session: AsyncSession, incident_id: int, by: records.Person, system: str,
                          reference: str, now: datetime) -> int:
    """The transfer's chronology entry (the retention review is settled by ``store.retention.settle_transfer``)."""
    await records.bump_version(session, incident_id)
    return await records.append_event(
        session, incident_id, EventKind.TRANSFERRED, by,
        f"Transferred to {system}" + (f" (their reference: {reference})" if reference else ""),
        data={"system": system, "reference": reference}, at=now)


async def record_extras(session: AsyncSession, incident_id: int, chronology: Sequence[Entry]) -> RecordExtras:
    """The record's parts for every view of a report: statement, pupils, referrals with outcomes, the transfer."""
    moved = transfers(chronology)
    return RecordExtras(statement=await statement(session, incident_id), pupils=await pupils(session, incident_id),
                        transfer=moved[-1] if moved else None, referrals=tuple(referrals(chronology)))
