"""The safeguarding record on SQLite and PostgreSQL: the reporter's account is kept verbatim (the database refuses
any change, a direct UPDATE included, except the retention run's anonymisation), the child's words and the pupils
are append-only, the tables match the models and go on downgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from domain.incidents import Category, ReportDetails, Urgency
from store import incidents as records
from store import retention as retention_store
from store import safeguarding_record as record_store
from store.db import Database
from store.retention import RetentionReviewRow
from tests.support.migrations import schema_differences, tables_after_downgrade

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SAM = records.Person("00000000-0000-0000-0000-000000000101", "Sam Teacher")
MY_TABLES = {"incident_statements", "incident_pupils"}
ACCOUNT = "Amy said a man on TikTok asked for her address."


async def report(db: Database, key: str = "sam:1") -> records.Incident:
    details = ReportDetails(category=Category.PUPIL_SAFETY, what_happened=ACCOUNT, child_words="He said I'm pretty",
                            opinion="I think she is frightened.", pupils="Amy Lee\nBen Cole")
    async with db.transaction() as session:
        incident = await records.create_incident(
            session, details=details, reporter=SAM, submission_key=key, year=2026, urgency=Urgency.URGENT,
            received_at=NOW, escalate_due_at=None, screenshots_until=None)
        await record_store.save_report_parts(session, incident.id, details, SAM, NOW)
    return incident


async def test_the_tables_match_the_models_and_go_on_downgrade(database: Database) -> None:
    assert await schema_differences(database, MY_TABLES | {"retention_reviews"}) == []
    assert not MY_TABLES & await tables_after_downgrade(database, "0012_kcsie_record-1")


async def test_the_account_cannot_be_changed_even_by_a_direct_update(database: Database) -> None:
    incident = await report(database)
    for statement in (
        update(records.IncidentRow).where(records.IncidentRow.id == incident.id).values(what_happened="edited"),
        text("UPDATE incidents SET what_happened = 'edited'"),
    ):
        with pytest.raises(DBAPIError, match="verbatim"):
            async with database.transaction() as session:
                await session.execute(statement)
    async with database.transaction() as session:  # other fields of the record still change (status, lead ...)
        await session.execute(update(records.IncidentRow).where(records.IncidentRow.id == incident.id)
                              .values(what_happened=ACCOUNT, lead_name="Tom Reed"))
    async with database.sessions() as session:
        kept = await records.get(session, incident.id)
    assert kept is not None and kept.what_happened == ACCOUNT and kept.lead_name == "Tom Reed"


async def test_the_childs_words_and_the_pupils_cannot_be_changed_or_deleted(database: Database) -> None:
    incident = await report(database)
    for statement in (
        text("UPDATE incident_statements SET child_words = 'edited'"),
        text("UPDATE incident_pupils SET name = 'Someone Else'"),
        delete(record_store.IncidentStatementRow),
        delete(record_store.IncidentPupilRow),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.transaction() as session:
                await session.execute(statement)
    async with database.sessions() as session:
        said = await record_store.statement(session, incident.id)
        pupils = await record_store.pupils(session, incident.id)
    assert (said.child_words, said.opinion) == ("He said I'm pretty", "I think she is frightened.")
    assert [p.name for p in pupils] == ["Amy Lee", "Ben Cole"]


async def test_only_the_retention_run_may_anonymise_the_record(database: Database) -> None:
    incident = await report(database)
    async with database.transaction() as session:
        run = await retention_store.start_run(session, NOW)
        async with retention_store.unlocked(session, run):
            await retention_store.anonymise_incident(session, incident.id)
    async with database.sessions() as session:
        gone = await records.get(session, incident.id)
        assert gone is not None and gone.what_happened == retention_store.REMOVED
        assert await record_store.pupils(session, incident.id) == ()
        assert (await record_store.statement(session, incident.id)).child_words == ""


async def test_several_pupils_are_found_by_name_and_by_the_schedules_holds(database: Database) -> None:
    incident = await report(database)
    await report(database, "sam:2")
    async with database.sessions() as session:
        assert await record_store.reports_naming_pupil(session, "  amy   LEE ") == [incident.id, incident.id + 1]
        _, texts = await retention_store.incident_people(session, incident.id)
    assert "Ben Cole" in texts and "He said I'm pretty" in texts


async def test_a_transfer_settles_the_review_and_is_found_by_the_schedule(database: Database) -> None:
    incident = await report(database)
    async with database.transaction() as session:
        await retention_store.settle_transfer(session, kind=retention_store.RecordKind.INCIDENT_SAFEGUARDING,
                                              reference=incident.reference, system="CPOMS", system_reference="CP-1",
                                              by_name="Tom Reed", now=NOW)
        await session.execute(update(records.IncidentRow).values(status="closed", closed_at=NOW))
    async with database.sessions() as session:
        assert incident.reference in await retention_store.flagged_refs(session)  # never flagged (again) by the run
        due = await retention_store.transferred_incidents(session, cutoff=NOW + timedelta(days=1), skip_refs=set(),
                                                          limit=10)
        early = await retention_store.transferred_incidents(session, cutoff=NOW - timedelta(days=1),
                                                            skip_refs=set(), limit=10)
        review = await session.scalar(select(RetentionReviewRow))
    assert [c.reference for c in due] == [incident.reference] and early == []
    assert review is not None and (review.transferred_to, review.transfer_reference) == ("CPOMS", "CP-1")
