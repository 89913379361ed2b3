"""Incident records on SQLite and PostgreSQL: references under concurrency, the append-only chronology."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from domain.incident_routing import Subject, SubjectKind
from domain.incidents import Category, EventKind, OutcomeKind, ReportDetails, Status, Urgency
from domain.roles import Role
from store import incidents as records
from store.db import Database
from tests.support.migrations import schema_differences, tables_after_downgrade

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SAM = records.Person("00000000-0000-0000-0000-000000000101", "Sam Teacher")
ANNA = records.Person("00000000-0000-0000-0000-000000000201", "Anna Smith")
TOM = records.Person("00000000-0000-0000-0000-000000000203", "Tom Reed")


def details(category: Category = Category.OTHER, what: str = "Something happened.") -> ReportDetails:
    return ReportDetails(category=category, what_happened=what)


async def create(db: Database, key: str, *, year: int = 2026, urgency: Urgency = Urgency.STANDARD,
                 due: datetime | None = None, category: Category = Category.OTHER) -> records.Incident:
    async with db.transaction() as session:
        return await records.create_incident(
            session, details=details(category), reporter=SAM, submission_key=key, year=year, urgency=urgency,
            received_at=NOW, escalate_due_at=due, screenshots_until=NOW + timedelta(minutes=30),
        )


async def test_concurrent_reports_get_distinct_consecutive_references(database: Database) -> None:
    made = await asyncio.gather(*(create(database, f"sam:{n}") for n in range(20)))
    references = sorted(incident.reference for incident in made)
    assert references == [f"INC-2026-{n:04d}" for n in range(1, 21)]


async def test_references_count_per_year(database: Database) -> None:
    assert (await create(database, "a", year=2026)).reference == "INC-2026-0001"
    assert (await create(database, "b", year=2026)).reference == "INC-2026-0002"
    assert (await create(database, "c", year=2027)).reference == "INC-2027-0001"


async def test_a_report_that_rolls_back_gives_its_number_back(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await records.create_incident(
                session, details=details(), reporter=SAM, submission_key="lost", year=2026,
                urgency=Urgency.STANDARD, received_at=NOW, escalate_due_at=None, screenshots_until=None,
            )
            raise RuntimeError("the transaction fails after the insert")
    assert (await create(database, "kept")).reference == "INC-2026-0001"  # no gap for an auditor to wonder at


async def test_the_same_submission_twice_is_one_record(database: Database) -> None:
    first = await create(database, "sam:draft-1")
    with pytest.raises(records.ExistingSubmission) as found:
        await create(database, "sam:draft-1")
    assert found.value.incident.id == first.id
    assert (await create(database, "sam:draft-2")).reference == "INC-2026-0002"  # the duplicate took no number


async def test_concurrent_identical_submissions_make_one_record(database: Database) -> None:
    outcomes = await asyncio.gather(*(create(database, "sam:same") for _ in range(6)), return_exceptions=True)
    made = [o for o in outcomes if isinstance(o, records.Incident)]
    others = [o for o in outcomes if not isinstance(o, records.Incident)]
    assert len(made) == 1
    assert all(isinstance(o, records.ExistingSubmission | records.SubmissionRace) for o in others), others
    async with database.sessions() as session:
        count = await session.scalar(text("SELECT count(*) FROM incidents"))
    assert count == 1


async def test_the_chronology_cannot_be_changed_or_deleted_even_by_sql(database: Database) -> None:
    incident = await create(database, "k")
    async with database.transaction() as session:
        await records.add_note(session, incident.id, ANNA, "Spoke to the parent.", NOW)
    for statement in (
        update(records.IncidentEventRow).values(what="rewritten"),
        update(records.IncidentEventRow).values(why="nothing to see"),
        delete(records.IncidentEventRow),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.transaction() as session:
                await session.execute(statement)
    async with database.transaction() as session:  # through the ORM too
        row = await session.scalar(select(records.IncidentEventRow).limit(1))
        assert row is not None
        row.what = "changed"
        with pytest.raises(DBAPIError, match="append-only"):
            await session.flush()
    async with database.sessions() as session:
        entries = await records.events(session, incident.id)
    assert [(e.kind, e.what, e.why) for e in entries] == [
        (EventKind.REPORTED, "Reported: Something else", None),
        (EventKind.NOTE_ADDED, "Added a note", "Spoke to the parent."),
    ]


async def test_the_chronology_records_who_when_what_why(database: Database) -> None:
    incident = await create(database, "k")
    later = NOW + timedelta(minutes=5)
    async with database.transaction() as session:
        assert await records.take_lead(session, incident.id, ANNA, later)
        await records.close(session, incident.id, ANNA, OutcomeKind.RESOLVED, "Post removed by the parent.", later)
    async with database.sessions() as session:
        entries = await records.events(session, incident.id)
        closed = await records.get(session, incident.id)
    assert [(e.kind, e.actor_name, e.actor_aad, e.at) for e in entries[1:]] == [
        (EventKind.LEAD_TAKEN, "Anna Smith", ANNA.aad_object_id, later),
        (EventKind.CLOSED, "Anna Smith", ANNA.aad_object_id, later),
    ]
    assert entries[-1].why == "Post removed by the parent."
    assert closed is not None and closed.status is Status.CLOSED and closed.screenshots_until is None


async def test_two_people_taking_the_lead_at_once_one_wins(database: Database) -> None:
    incident = await create(database, "k")

    async def take(person: records.Person) -> bool:
        async with database.transaction() as session:
            return await records.take_lead(session, incident.id, person, NOW)

    results = await asyncio.gather(take(ANNA), take(TOM))
    assert sorted(results) == [False, True]
    async with database.sessions() as session:
        entries = await records.events(session, incident.id)
    assert [e.kind for e in entries].count(EventKind.LEAD_TAKEN) == 1


async def test_closing_twice_changes_nothing_the_second_time(database: Database) -> None:
    incident = await create(database, "k")
    async with database.transaction() as session:
        assert await records.close(session, incident.id, ANNA, OutcomeKind.RESOLVED, "done", NOW)
    async with database.transaction() as session:
        assert not await records.close(session, incident.id, TOM, OutcomeKind.NO_FURTHER_ACTION, "again", NOW)
        assert not await records.take_lead(session, incident.id, TOM, NOW)
    async with database.sessions() as session:
        entries = await records.events(session, incident.id)
    assert [e.kind for e in entries] == [EventKind.REPORTED, EventKind.CLOSED]


async def test_a_screenshot_sent_twice_is_stored_once(database: Database) -> None:
    incident = await create(database, "k")
    png = b"\x89PNG\r\n\x1a\n" + b"pixels"
    async with database.transaction() as session:
        first, added = await records.add_attachment(session, incident.id, SAM, "a.png", "image/png", png, NOW)
        assert added
    other = await create(database, "other")  # before: one unit of work never opens another
    async with database.transaction() as session:
        again, added_again = await records.add_attachment(session, incident.id, SAM, "a.png", "image/png", png, NOW)
        assert not added_again and again.id == first.id
        content = await records.attachment_content(session, incident.id, first.id)
        assert content is not None and content[1] == png and content[0].size == len(png)
        assert await records.attachment_content(session, other.id, first.id) is None  # not another report's


async def test_urgent_reports_become_due_for_escalation_once(database: Database) -> None:
    due = NOW + timedelta(minutes=30)
    urgent = await create(database, "u", urgency=Urgency.URGENT, due=due, category=Category.PUPIL_SAFETY)
    led = await create(database, "led", urgency=Urgency.URGENT, due=due, category=Category.PUPIL_SAFETY)
    await create(database, "standard")
    async with database.transaction() as session:
        await records.take_lead(session, led.id, TOM, NOW)
    async with database.sessions() as session:
        assert await records.due_for_escalation(session, due - timedelta(seconds=1)) == []
        assert await records.due_for_escalation(session, due) == [urgent.id]
    async with database.transaction() as session:
        assert await records.claim_escalation(session, urgent.id, due)
    async with database.transaction() as session:
        assert not await records.claim_escalation(session, urgent.id, due)  # another worker, or a second round
        assert await records.due_for_escalation(session, due + timedelta(hours=1)) == []


async def test_my_reports_are_mine_only(database: Database) -> None:
    await create(database, "mine")
    async with database.transaction() as session:
        await records.create_incident(
            session, details=details(), reporter=TOM, submission_key="toms", year=2026, urgency=Urgency.STANDARD,
            received_at=NOW, escalate_due_at=None, screenshots_until=None,
        )
    async with database.sessions() as session:
        mine = await records.reported_by(session, SAM.aad_object_id or "")
    assert [i.reporter_aad for i in mine] == [SAM.aad_object_id]


async def test_the_same_note_clicked_twice_at_once_is_recorded_once(database: Database) -> None:
    incident = await create(database, "k")

    async def note() -> bool:
        async with database.transaction() as session:
            _, added = await records.add_note(session, incident.id, ANNA, "Called the parent.", NOW)
            return added

    assert sorted(await asyncio.gather(note(), note(), note())) == [False, False, True]


async def test_a_subjects_roles_checked_later_are_recorded_once_and_the_column_goes_on_downgrade(
    database: Database,
) -> None:
    assert await schema_differences(database, {"incident_subjects"}) == []
    incident = await create(database, "sam:unchecked")
    unchecked = Subject(SubjectKind.STAFF, "Anna Smith", ANNA.aad_object_id, roles_known=False)
    async with database.transaction() as session:
        await records.add_subjects(session, incident.id, [unchecked, Subject(SubjectKind.OTHER, "a parent")], NOW)
    async with database.sessions() as session:
        assert await records.roles_unchecked(session) == [incident.id]
    async with database.transaction() as session:
        assert await records.record_subject_roles(session, incident.id, unchecked.aad_object_id or "",
                                                  frozenset({Role.HEAD_TEACHER}))
        assert not await records.record_subject_roles(session, incident.id, unchecked.aad_object_id or "",
                                                      frozenset())  # checked already: nothing overwritten
    async with database.sessions() as session:
        assert await records.roles_unchecked(session) == []
        [anna, other] = (await records.subjects_of(session, [incident.id]))[incident.id]
    assert anna.roles_known and anna.roles == {Role.HEAD_TEACHER} and other.roles_known
    await tables_after_downgrade(database, "0019_subject_roles_checked-1")
    async with database.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {column["name"] for column in inspect(sync).get_columns("incident_subjects")})
    assert "roles_checked" not in columns and "roles" in columns


async def test_withdrawn_people_are_no_longer_alerted_and_a_reroute_restarts_the_chain(database: Database) -> None:
    incident = await create(database, "sam:rerouted", urgency=Urgency.URGENT)
    tom, anna = TOM.aad_object_id or "", ANNA.aad_object_id or ""
    system = records.Person(None, "Policy Bot")
    async with database.transaction() as session:
        await records.append_event(session, incident.id, EventKind.ROUTED, system, "Sent to the DSL",
                                   data={"recipients": [tom], "chain_step": 2}, at=NOW)
        await records.append_event(session, incident.id, EventKind.ROUTED, system, "Routing re-checked",
                                   data={"recipients": [], records.WITHDRAWN: [tom], records.REROUTED: True,
                                         "chain_step": 0}, at=NOW)
        await records.append_event(session, incident.id, EventKind.ROUTED, system, "Sent to the Chair",
                                   data={"recipients": [anna], "chain_step": 0}, at=NOW)
    async with database.sessions() as session:
        assert (await records.alerted_people(session, [incident.id]))[incident.id] == {anna}
        assert await records.chain_position(session, incident.id) == 0  # the new route's chain, not step 2


async def test_routing_health_counts_reports_waiting_to_be_routed_and_those_this_version_cannot_read(
    database: Database,
) -> None:
    for n in range(1, 5):
        await create(database, f"sam:{n}")  # made unrouted, as while the directory is down
    async with database.transaction() as session:
        assert await records.mark_routed(session, 1, NOW)
        await session.execute(update(records.IncidentRow).where(records.IncidentRow.id == 2).values(
            category="sextortion"))  # unknown category
        await session.execute(update(records.IncidentRow).where(records.IncidentRow.id == 3).values(
            status="archived", routed_at=NOW))  # unknown status, routed
    async with database.sessions() as session:
        assert await records.routing_health(session) == records.RoutingHealth(waiting=1, unreadable=2)
