"""The one audit trail, as the use cases write it: every refusal and every view of restricted detail.

A refusal found inside a use case's unit of work is recorded in it (``record_in``), so the entry and the
answer agree; one found before any unit of work (the router's check, a missing identity) gets a unit of
work of its own (``record``). Entries are also logged, without names or text: the action, the record and
the reason only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.actors import Actor
from domain.audit import AuditEntry, AuditOutcome, RecordType
from store import audit as store
from store.base import utcnow
from store.db import Database

log = logging.getLogger(__name__)


def refusal(actor: Actor | None, action: str, record_type: RecordType, record_ref: str | int | None,
            reason: str, detail: Mapping[str, Any] | None = None) -> AuditEntry:
    """The entry for a refused attempt (``actor`` None: the activity carried no identity)."""
    return AuditEntry(
        actor_aad=actor.aad_object_id if actor else None, actor_name=actor.name if actor else None,
        action=action, record_type=record_type, record_ref=None if record_ref is None else str(record_ref),
        outcome=AuditOutcome.REFUSED, reason=reason, detail=dict(detail or {}),
    )


def view(actor: Actor, action: str, record_type: RecordType, record_ref: str | int, what: str,
         detail: Mapping[str, Any] | None = None, *, outcome: AuditOutcome = AuditOutcome.VIEWED) -> AuditEntry:
    """The entry for restricted detail shown (or exported) to someone allowed to see it."""
    return AuditEntry(
        actor_aad=actor.aad_object_id, actor_name=actor.name, action=action, record_type=record_type,
        record_ref=str(record_ref), outcome=outcome, reason=what, detail=dict(detail or {}),
    )


class AuditTrail:
    """Writes and reads the trail (``store/audit.py``)."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._clock = clock

    async def record_in(self, session: AsyncSession, entry: AuditEntry) -> int:
        """Append ``entry`` in the caller's unit of work."""
        _log(entry)
        return await store.record(session, entry, now=self._clock())

    async def record(self, entry: AuditEntry) -> int:
        """Append ``entry`` in a unit of work of its own (for refusals found outside any)."""
        async with self._db.transaction() as session:
            return await self.record_in(session, entry)

    async def recent(self, *, record_ref: str | None = None, actor_aad: str | None = None,
                     limit: int = 50) -> list[AuditEntry]:
        async with self._db.sessions() as session:
            return await store.recent(session, record_ref=record_ref, actor_aad=actor_aad, limit=limit)


def _log(entry: AuditEntry) -> None:
    level = logging.WARNING if entry.outcome is AuditOutcome.REFUSED else logging.INFO
    log.log(level, "audit: %s %s", entry.action, entry.outcome.value,
            extra={"record_type": entry.record_type.value, "record_ref": entry.record_ref, "reason": entry.reason})
