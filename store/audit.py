"""The audit trail table (``audit_events``, migration ``0008_audit``): append-only, one row per entry.

A trigger refuses UPDATE on SQLite and PostgreSQL (DELETE is left to the retention schedule). Functions
take the caller's session, so an entry commits with the unit of work that refused or showed something.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Index, Integer, String, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.audit import AuditEntry, AuditOutcome, RecordType
from store.base import Base, UtcDateTime

_TEXT_MAX = 256


class AuditRow(Base):
    """One entry of the audit trail. Never updated (a trigger refuses it)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_record", "record_type", "record_ref"),
        Index("ix_audit_events_actor", "actor_aad"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor_aad: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(_TEXT_MAX))
    action: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(32))
    record_ref: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


async def record(session: AsyncSession, entry: AuditEntry, *, now: datetime) -> int:
    """Append ``entry`` in the caller's unit of work; returns its id."""
    row = AuditRow(
        at=now, actor_aad=_cut(entry.actor_aad, 64), actor_name=_cut(entry.actor_name, _TEXT_MAX),
        action=entry.action[:64], record_type=entry.record_type.value, record_ref=_cut(entry.record_ref, 64),
        outcome=entry.outcome.value, reason=_cut(entry.reason, 64), detail=dict(entry.detail) or None,
    )
    session.add(row)
    await session.flush()
    return row.id


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        actor_aad=row.actor_aad, actor_name=row.actor_name, action=row.action,
        record_type=RecordType(row.record_type), record_ref=row.record_ref, outcome=AuditOutcome(row.outcome),
        reason=row.reason, detail=dict(row.detail or {}), at=row.at, id=row.id,
    )


async def recent(
    session: AsyncSession, *, record_ref: str | None = None, actor_aad: str | None = None,
    record_type: RecordType | None = None, about: Sequence[tuple[RecordType | None, str]] = (),
    actor_aads: Sequence[str] = (), limit: int = 50,
) -> list[AuditEntry]:
    """The most recent entries (newest first) about a record, by a person, or both (any one matches).

    Args:
        record_ref: a record's reference or id (with ``record_type``: of that kind only; else of any kind).
        about: more records, each (kind or None for any, reference or id): a record's reference and its id.
        actor_aads: people, by Entra object id (``actor_aad``: one of them).
    """
    records = [*([(record_type, record_ref)] if record_ref is not None else []), *about]
    actors = [*([actor_aad] if actor_aad is not None else []), *actor_aads]
    query = select(AuditRow)
    matches: list[ColumnElement[bool]] = []
    for kind, ref in records:
        matches.append(AuditRow.record_ref == ref if kind is None
                       else and_(AuditRow.record_ref == ref, AuditRow.record_type == kind.value))
    if actors:
        matches.append(AuditRow.actor_aad.in_(sorted({*actors, *(aad.lower() for aad in actors)})))  # uses the index
    if matches:
        query = query.where(or_(*matches))
    elif record_type is not None:
        query = query.where(AuditRow.record_type == record_type.value)
    rows = await session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))
    return [_entry(row) for row in rows]


async def actors_named(session: AsyncSession, name: str) -> dict[str, str]:
    """The people the trail has recorded under ``name`` (any case): Entra object id → name as recorded."""
    rows = await session.execute(
        select(AuditRow.actor_aad, AuditRow.actor_name)
        .where(func.lower(AuditRow.actor_name) == name.strip().lower(), AuditRow.actor_aad.is_not(None))
        .distinct()
    )
    return {aad: recorded for aad, recorded in rows.tuples() if aad is not None and recorded is not None}
