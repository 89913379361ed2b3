"""The audit trail table on SQLite and PostgreSQL: the migration, append-only, newest first by record or person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from domain.actors import Actor
from domain.audit import AuditOutcome, RecordType
from services.audit import AuditTrail, refusal, view
from store import audit as store
from store.db import Database
from tests.support.migrations import schema_differences, tables_after_downgrade

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LEE = Actor(aad_object_id="aad-lee", name="Lee Carter", teams_user_id="29:lee")
DPO = Actor(aad_object_id="aad-dpo", name="Dana Price", teams_user_id="29:dpo")



async def test_the_migration_creates_exactly_the_table_the_model_describes(database: Database) -> None:
    assert await schema_differences(database, {"audit_events"}) == []


async def test_the_migration_downgrades_cleanly(database: Database) -> None:
    tables = await tables_after_downgrade(database, "0007_incidents@0007_incidents")
    assert "audit_events" not in tables and "incidents" in tables


async def test_an_entry_is_kept_with_who_what_which_record_when_and_why(database: Database) -> None:
    trail = AuditTrail(database, clock=lambda: NOW)
    entry_id = await trail.record(refusal(LEE, "approval_refresh", RecordType.APPROVAL_REQUEST, 7, "not_allowed",
                                          {"roles": ["staff"]}))
    [entry] = await trail.recent(record_ref="7")
    assert (entry.id, entry.actor_aad, entry.actor_name, entry.action, entry.record_type, entry.record_ref,
            entry.outcome, entry.reason, dict(entry.detail), entry.at) == (
        entry_id, "aad-lee", "Lee Carter", "approval_refresh", RecordType.APPROVAL_REQUEST, "7",
        AuditOutcome.REFUSED, "not_allowed", {"roles": ["staff"]}, NOW)


async def test_a_refusal_without_an_identity_is_still_kept(database: Database) -> None:
    trail = AuditTrail(database, clock=lambda: NOW)
    await trail.record(refusal(None, "status", RecordType.NONE, None, "no_identity"))
    async with database.sessions() as session:
        [entry] = await store.recent(session)
    assert (entry.actor_aad, entry.record_ref, entry.reason) == (None, None, "no_identity")


async def test_entries_are_found_by_record_or_by_person_newest_first(database: Database) -> None:
    clock = iter(NOW + timedelta(minutes=m) for m in range(10))
    trail = AuditTrail(database, clock=lambda: next(clock))
    await trail.record(refusal(LEE, "incident_take_lead", RecordType.INCIDENT, "INC-2026-0001", "not_allowed"))
    await trail.record(view(DPO, "incident_details", RecordType.INCIDENT, "INC-2026-0001", "details"))
    await trail.record(refusal(LEE, "status", RecordType.NONE, None, "not_allowed"))
    await trail.record(view(DPO, "consent_record", RecordType.CONSENT_RECORD, "pupil-9", "consent"))

    about_incident = await trail.recent(record_ref="INC-2026-0001")
    assert [(e.actor_aad, e.outcome) for e in about_incident] == [
        ("aad-dpo", AuditOutcome.VIEWED), ("aad-lee", AuditOutcome.REFUSED)]
    by_lee = await trail.recent(actor_aad="aad-lee")
    assert [e.action for e in by_lee] == ["status", "incident_take_lead"]
    assert len(await trail.recent(limit=2)) == 2


async def test_the_trail_refuses_updates(database: Database) -> None:
    trail = AuditTrail(database, clock=lambda: NOW)
    await trail.record(refusal(LEE, "status", RecordType.NONE, None, "not_allowed"))
    with pytest.raises((IntegrityError, DBAPIError)) as refused:
        async with database.transaction() as session:
            await session.execute(text("UPDATE audit_events SET reason = 'rewritten'"))
    assert "append-only" in str(refused.value)
    [entry] = await trail.recent()
    assert entry.reason == "not_allowed"


async def test_an_entry_commits_or_rolls_back_with_its_unit_of_work(database: Database) -> None:
    trail = AuditTrail(database, clock=lambda: NOW)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await trail.record_in(session, refusal(LEE, "status", RecordType.NONE, None, "not_allowed"))
            raise RuntimeError("the use case failed")
    assert await trail.recent() == []


async def test_a_record_is_found_by_its_reference_or_its_id_and_a_person_by_name(database: Database) -> None:
    clock = iter(NOW + timedelta(minutes=m) for m in range(10))
    trail = AuditTrail(database, clock=lambda: next(clock))
    await trail.record(refusal(LEE, "incident_view", RecordType.INCIDENT, 4, "role_not_held"))  # the card's id
    await trail.record(refusal(LEE, "incident_take_lead", RecordType.INCIDENT, "INC-2026-0004", "not_permitted"))
    await trail.record(refusal(DPO, "approval_refresh", RecordType.APPROVAL_REQUEST, 4, "not_allowed_to_see"))

    async with database.sessions() as session:
        the_report = await store.recent(session, about=[(RecordType.INCIDENT, "INC-2026-0004"),
                                                        (RecordType.INCIDENT, "4")])
        any_kind = await store.recent(session, about=[(None, "4")])
        named = await store.actors_named(session, "lee CARTER")

    assert [e.action for e in the_report] == ["incident_take_lead", "incident_view"]
    assert [e.action for e in any_kind] == ["approval_refresh", "incident_view"]
    assert named == {"aad-lee": "Lee Carter"}
