"""The retention tables and the append-only tables' one door: DELETE only inside a retention run's transaction,
UPDATE never; the unlock never outlives the run. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from domain.audit import AuditEntry, AuditOutcome, RecordType
from domain.incidents import Category, ReportDetails, Urgency
from domain.retention import HoldKind
from store import audit
from store import incidents as records
from store import retention as store
from store.approvals import ApprovalEventRow
from store.audit import AuditRow
from store.db import Database
from store.incidents import IncidentEventRow
from tests.support.migrations import schema_differences, tables_after_downgrade

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SAM = records.Person("00000000-0000-0000-0000-000000000101", "Sam Teacher")
_TABLES = {"legal_holds", "retention_reviews", "retention_tombstones", "retention_runs", "retention_unlock"}



async def _history(database: Database) -> None:
    """One row in each append-only table."""
    async with database.transaction() as session:
        incident = await records.create_incident(
            session, details=ReportDetails(category=Category.OTHER, what_happened="x"), reporter=SAM,
            submission_key=f"k{uuid.uuid4()}", year=2026, urgency=Urgency.STANDARD, received_at=NOW,
            escalate_due_at=None, screenshots_until=None,
        )
        assert incident.id
        session.add(ApprovalEventRow(request_id=None, event="refused", actor_aad="a", actor_name="A", at=NOW))
        await audit.record(session, AuditEntry("a", "A", "status", RecordType.NONE, None, AuditOutcome.REFUSED,
                                               "not_allowed"), now=NOW)


async def test_the_migration_creates_exactly_the_tables_the_model_describes(database: Database) -> None:
    assert await schema_differences(database, _TABLES) == []


async def test_the_migration_downgrades_cleanly_and_the_chronology_stays_undeletable(database: Database) -> None:
    tables = await tables_after_downgrade(database, "0008_audit@0008_audit")
    assert not tables & _TABLES and "audit_events" in tables
    await _history(database)
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.transaction() as session:
            await session.execute(delete(IncidentEventRow))


@pytest.mark.parametrize("model", [IncidentEventRow, ApprovalEventRow, AuditRow], ids=lambda m: m.__tablename__)
async def test_ordinary_code_can_neither_delete_nor_update_the_history(database: Database, model: Any) -> None:
    await _history(database)
    for statement in (delete(model), update(model).values(at=NOW)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.transaction() as session:
                await session.execute(statement)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(model)) == 1


@pytest.mark.parametrize("model", [IncidentEventRow, ApprovalEventRow, AuditRow], ids=lambda m: m.__tablename__)
async def test_a_retention_run_deletes_history_but_still_cannot_rewrite_it(database: Database, model: Any) -> None:
    await _history(database)
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.transaction() as session:
            run_id = await store.start_run(session, NOW)
            async with store.unlocked(session, run_id):
                await session.execute(update(model).values(at=NOW))
    async with database.transaction() as session:
        run_id = await store.start_run(session, NOW)
        async with store.unlocked(session, run_id):
            await session.execute(delete(model))
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(model)) == 0
        assert await session.scalar(select(func.count()).select_from(store.RetentionUnlockRow)) == 0
    await _history(database)  # and the door is shut again for everyone else
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.transaction() as session:
            await session.execute(delete(model))


async def test_a_hold_is_placed_once_and_released_once(database: Database) -> None:
    async with database.transaction() as session:
        hold = await store.place_hold(session, kind=HoldKind.INCIDENT, target="INC-2026-0001", person_name=None,
                                      reason="claim", by_aad="dpo", by_name="Jo Bell", now=NOW)
        assert await store.find_active_hold(session, HoldKind.INCIDENT, "inc-2026-0001") == hold
        assert await store.release_hold(session, hold.id, by_aad="dpo", by_name="Jo Bell", now=NOW)
        assert not await store.release_hold(session, hold.id, by_aad="dpo", by_name="Jo Bell", now=NOW)
        assert await store.active_holds(session) == []


async def test_postgresql_refuses_to_commit_a_transaction_that_leaves_the_unlock_behind(database: Database) -> None:
    if database.url.startswith("sqlite"):
        pytest.skip("SQLite has no deferred triggers; there the run's own code removes its unlock before commit")
    with pytest.raises(DBAPIError, match="retention_unlock must be empty at commit"):
        async with database.transaction() as session:
            session.add(store.RetentionUnlockRow(run_id=1))
            await session.flush()
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(store.RetentionUnlockRow)) == 0
