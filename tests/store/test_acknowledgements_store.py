"""Acknowledgements, notices and training records on SQLite and PostgreSQL: the tables match the models and go on
downgrade; an acknowledgement is recorded once per person and version (closing the offer for it); a notice is marked
sent once a day even when two rounds race; training records are found per person, case aside."""

from __future__ import annotations

from datetime import UTC, date, datetime

from store import acknowledgements as acks
from store import training as training_store
from store.db import Database
from tests.support.migrations import schema_differences, tables_after_downgrade

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LEE = "00000000-0000-0000-0000-0000000000AB"
MY_TABLES = {"policy_acknowledgements", "policy_notices", "training_records"}


async def test_the_tables_match_the_models_and_go_on_downgrade(database: Database) -> None:
    assert await schema_differences(database, MY_TABLES) == []
    assert not MY_TABLES & await tables_after_downgrade(database, "0017_policy_acknowledgements-1")


async def test_an_acknowledgement_is_recorded_once_and_closes_the_offer(database: Database) -> None:
    async with database.transaction() as session:
        offer = await acks.open_notice(session, acks.OFFER, LEE, "v1", NOW, "Lee Carter")
        assert await acks.mark_sent(session, offer.id, date(2026, 11, 24), last_sent_on=None)
        assert not await acks.mark_sent(session, offer.id, date(2026, 11, 24), last_sent_on=None)  # raced: once
        first, new = await acks.acknowledge(session, LEE, "Lee Carter", "v1", NOW)
        again, new_again = await acks.acknowledge(session, LEE.lower(), "Lee Carter", "v1", NOW)
    assert new and not new_again and first == again and first.aad_object_id == LEE.lower()
    async with database.sessions() as session:
        assert (await acks.notice(session, acks.OFFER, LEE, "v1")).closed_at == NOW  # type: ignore[union-attr]
        assert await acks.acknowledgement_of(session, LEE, "v2") is None
        assert list(await acks.acknowledgements_of_version(session, "v1")) == [LEE.lower()]
        assert [a.version for a in await acks.acknowledgements_by(session, [LEE])] == ["v1"]


async def test_training_records_are_found_per_person(database: Database) -> None:
    async with database.transaction() as session:
        await training_store.add(session, aad_object_id=LEE, name="Lee Carter", trained_on=date(2026, 11, 12),
                                 course="Online safety", recorded_by_aad="slt-1", recorded_by_name="Sol Senior",
                                 now=NOW)
    async with database.sessions() as session:
        found = await training_store.of_people(session, [LEE.upper()])
        by = await training_store.recorded_by(session, ["SLT-1"])
    assert [(r.name, r.trained_on, r.course) for r in found[LEE.lower()]] == [
        ("Lee Carter", date(2026, 11, 12), "Online safety")]
    assert [r.recorded_by_name for r in by] == ["Sol Senior"]


async def test_subject_access_finds_a_persons_acknowledgements_and_training(database: Database) -> None:
    from domain.subject_access import Subject
    from store.subject_access import people_recorded, records_naming

    async with database.transaction() as session:
        await acks.acknowledge(session, LEE, "Lee Carter", "v1", NOW)
        await training_store.add(session, aad_object_id=LEE, name="Lee Carter", trained_on=date(2026, 11, 12),
                                 course="Online safety", recorded_by_aad="00000000-0000-0000-0000-0000000000cd",
                                 recorded_by_name="Sol Senior", now=NOW)
    async with database.sessions() as session:
        found = await records_naming(session, Subject("Lee Carter", aad_ids=frozenset({LEE})), [])
        by_name = await records_naming(session, Subject("Sol Senior", names=frozenset({"Sol Senior"})), [])
        known = await people_recorded(session)
    assert {record.table for record in found} == {"policy_acknowledgements", "training_records"}
    assert [record.table for record in by_name] == ["training_records"]  # the one who recorded it
    assert {"Lee Carter", "Sol Senior"} <= {person.name for person in known}
