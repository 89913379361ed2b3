"""Who a report is about, when the school directory (Microsoft Graph) was down as it was made (issue 15 follow-up).

The directory is the real ``GraphRoleDirectory`` talking to a fake Graph over HTTP (``tests/fakes/graph.py``) that
fails, then recovers; the incident feature, router, outbox and chronology are real, on SQLite and PostgreSQL.
While the roles of the member of staff a report is about are unknown, nothing goes to the SLT channel and only the
safeguarding leads and the Head Teacher who are not that person may receive it; once Graph answers, the worker's
round reads and records the roles and routes the report as it should have gone: the Chair of Governors for the Head
Teacher (who never receives it), the Head Teacher only for the DSL (never the channel), the usual route for anyone
else, and nothing more for anyone it reached meanwhile whom it is not for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from bot.escalations import EscalationWorker
from cards.incidents import Verb
from directory.graph import GraphRoleDirectory
from domain.incidents import EventKind
from domain.roles import Role
from store import incidents as records
from store.outbox import OutboxKind
from tests.fakes.graph import SchoolGraph
from tests.services.test_incident_routing import (
    KIM,
    PEOPLE,
    ROLES,
    SECRET,
    assert_refused_and_audited,
    chronology,
    open_school,
    receipt_text,
    sent,
)
from tests.support.incidents_world import ANNA, GRACE, LEE, SAM, TOM, School, card_text


@dataclass
class World:
    school: School
    graph: SchoolGraph

    @property
    def directory(self) -> GraphRoleDirectory:
        return self.graph.directory

    def down(self) -> None:
        self.graph.down()

    def recover(self) -> None:
        self.graph.recover()

    async def round(self) -> int:
        """One round of the escalation worker (as the app runs it); how many reports were routed again."""
        return (await EscalationWorker(self.school.incidents, poll_seconds=30).run_once()).rechecked

    async def subject(self) -> records.Subject:
        async with self.school.database.sessions() as session:
            [found] = (await records.subjects_of(session, [1]))[1]
        return found


@pytest.fixture
async def world(migrated_database_url: str) -> AsyncIterator[World]:
    graph = SchoolGraph.of((who.aad, who.name, ROLES.get(who, ())) for who in PEOPLE)
    school = await open_school(migrated_database_url, directory=graph.directory)
    yield World(school, graph)
    await school.close()
    await graph.aclose()


async def who_knew_before(world: World, *roles: Role) -> None:
    """The directory read these groups before Graph went down (it answers from them while Graph is down)."""
    for role in roles:
        await world.directory.holders_of(role)


def entries(events: list[records.Event], start: str) -> list[records.Event]:
    return [e for e in events if e.kind is EventKind.ROUTED and e.what.startswith(start)]


async def updates_to(world: World) -> list[tuple[int | None, str]]:
    """Card updates enqueued: (the message they replace, the card's JSON)."""
    return [(entry.depends_on, card_text(activity)) for entry, activity, _ in await world.school.outbox_activities()
            if entry.kind is OutboxKind.UPDATE_ACTIVITY]


async def test_about_the_head_with_graph_down_after_recovery_the_chair_is_alerted_and_the_head_never(
    world: World,
) -> None:
    world.down()
    result = await world.school.report(SAM, category="offensive_content", what_happened=SECRET, about_staff=ANNA.aad)
    assert "could not say just now what role the person it is about holds" in receipt_text(result)
    assert await sent(world.school) == {}  # not the channel; nobody can be listed yet
    assert not (await world.subject()).roles_known
    assert await world.round() == 0  # still down: the safe route stays, nothing is written
    assert await sent(world.school) == {}

    world.recover()
    assert await world.round() == 1
    messages = await sent(world.school)
    assert set(messages) == {GRACE.name} and SECRET in card_text(messages[GRACE.name][0])
    subject = await world.subject()
    assert subject.roles_known and subject.roles == {Role.HEAD_TEACHER, Role.SLT}
    [checked] = entries(await chronology(world.school), "Routing re-checked")
    assert "Anna Smith holds Head Teacher, Senior Leadership Team" in checked.what
    assert checked.why is not None and "Chair of Governors only" in checked.why
    assert await world.round() == 0 and set(await sent(world.school)) == {GRACE.name}  # once
    await assert_refused_and_audited(world.school, ANNA)
    assert (await world.school.act(GRACE, Verb.TAKE_LEAD, {"incident": 1})).card is not None
    assert ANNA.name not in await sent(world.school) and "channel" not in await sent(world.school)


async def test_about_the_head_alerted_meanwhile_are_not_alerted_further_once_it_goes_to_the_chair(
    world: World,
) -> None:
    await who_knew_before(world, Role.DSL, Role.DEPUTY_DSL)  # Graph then fails before the Head's group is read
    world.down()
    await world.school.report(SAM, category="offensive_content", what_happened=SECRET, about_staff=ANNA.aad)
    meanwhile = await sent(world.school)
    assert set(meanwhile) == {TOM.name, KIM.name}  # the safe route: safeguarding leads, restricted, no channel
    assert "could not say just now" in card_text(meanwhile[TOM.name][0])
    assert "roles not yet checked in the school directory" in card_text(meanwhile[TOM.name][0])

    world.recover()
    assert await world.round() == 1
    assert set(await sent(world.school)) == {TOM.name, KIM.name, GRACE.name}
    assert len((await sent(world.school))[TOM.name]) == 1  # nothing new to them
    withdrawn = [card for _, card in await updates_to(world) if "is handled by others" in card]
    assert len(withdrawn) == 2 and not any(SECRET in card for card in withdrawn)  # their copies show no details
    events = await chronology(world.school)
    [notice] = entries(events, "Not for ")
    assert "Tom Reed" in notice.what and "Kim Lowe" in notice.what
    before = len(await updates_to(world))
    assert (await world.school.act(GRACE, Verb.NOTE, {"incident": 1, "note": "Spoke to the LADO"})).card
    after = [card for _, card in (await updates_to(world))[before:]]
    assert after and all("Spoke to the LADO" in card for card in after)
    assert len(after) == 1  # only the Chair's copy is updated: not the DSL's, not the deputy DSL's
    await assert_refused_and_audited(world.school, TOM, kinds=("personal",), reason="not_permitted")
    await assert_refused_and_audited(world.school, ANNA)


async def test_about_the_dsl_with_graph_down_never_reaches_the_channel(world: World) -> None:
    world.down()
    await world.school.report(SAM, category="negative_comment", what_happened=SECRET, about_staff=TOM.aad)
    assert "channel" not in await sent(world.school)
    world.recover()
    assert await world.round() == 1
    assert set(await sent(world.school)) == {ANNA.name}  # the Head Teacher only: never the DSL, never the channel
    assert (await world.subject()).roles == {Role.DSL, Role.SLT}
    await assert_refused_and_audited(world.school, TOM)


async def test_about_the_dsl_known_before_graph_went_down_goes_to_the_head_at_once_and_is_confirmed(
    world: World,
) -> None:
    await who_knew_before(world, *ROLES_IN_ROUTING)
    world.down()
    await world.school.report(SAM, category="negative_comment", what_happened=SECRET, about_staff=TOM.aad)
    assert set(await sent(world.school)) == {ANNA.name}  # the roles the directory knew: the Head Teacher only
    world.recover()
    assert await world.round() == 1
    assert set(await sent(world.school)) == {ANNA.name} and len((await sent(world.school))[ANNA.name]) == 1
    [checked] = entries(await chronology(world.school), "Routing re-checked")
    assert checked.data["withdrawn"] == []


async def test_about_ordinary_staff_with_graph_down_follows_the_usual_route_after_recovery(world: World) -> None:
    await who_knew_before(world, *ROLES_IN_ROUTING)
    world.down()
    await world.school.report(SAM, category="negative_comment", what_happened=SECRET, about_staff=LEE.aad)
    meanwhile = await sent(world.school)
    assert "channel" not in meanwhile and LEE.name not in meanwhile
    assert set(meanwhile) == {TOM.name, KIM.name, ANNA.name}

    world.recover()
    assert await world.round() == 1
    messages = await sent(world.school)
    assert len(messages["channel"]) == 1 and SECRET not in card_text(messages["channel"][0])  # the minimal card
    assert LEE.name not in messages
    assert (await world.subject()).roles == frozenset() and (await world.subject()).roles_known
    [notice] = entries(await chronology(world.school), "Not for ")
    assert "Kim Lowe" in notice.what and "Tom Reed" not in notice.what  # the DSL handles it; the deputy does not
    assert (await world.school.act(TOM, Verb.TAKE_LEAD, {"incident": 1})).card is not None
    assert await world.round() == 0


ROLES_IN_ROUTING = (Role.HEAD_TEACHER, Role.DEPUTY, Role.SLT, Role.DSL, Role.DEPUTY_DSL, Role.DPO,
                    Role.CHAIR_OF_GOVERNORS)


async def test_an_urgent_report_about_the_head_with_graph_down_reaches_the_chair_and_its_chain_follows_her_route(
    world: World,
) -> None:
    world.down()
    await world.school.report(SAM, category="pupil_safety", risk=True, what_happened=SECRET, about_staff=ANNA.aad)
    world.school.clock.advance(minutes=20)  # the chain's clock runs out while Graph is still down
    assert await world.round() == 0 and await sent(world.school) == {}  # nobody can be listed: nobody guessed
    world.recover()
    world.school.clock.advance(minutes=20)
    assert await world.round() == 1
    assert set(await sent(world.school)) == {GRACE.name}  # never the DSL, the deputy DSL or the Head
    for _ in range(3):
        world.school.clock.advance(minutes=15)
        await world.round()
    messages = await sent(world.school)
    assert set(messages) == {GRACE.name} and len(messages[GRACE.name]) == 2  # alerted, then reminded once


async def test_two_bot_instances_rechecking_at_once_route_again_once(world: World) -> None:
    world.down()
    await world.school.report(SAM, category="offensive_content", what_happened=SECRET, about_staff=ANNA.aad)
    world.recover()
    await world.directory.roles_of(ANNA.aad)  # both instances ask Graph the same; read once here for a fair race
    done = await asyncio.gather(world.school.incidents.recheck_subjects(), world.school.incidents.recheck_subjects())
    assert sorted(done) == [0, 1]
    assert len((await sent(world.school))[GRACE.name]) == 1
    assert len(entries(await chronology(world.school), "Routing re-checked")) == 1


async def test_a_report_the_bot_cannot_read_holds_up_no_other_report_waiting_for_the_directory(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Two reports about the Head Teacher made while Graph was down; the first is then stored with an urgency this
    version does not know. Once Graph answers, the round logs the first with its id and leaves it out, and routes the
    second to the Chair as it should."""
    world.down()
    for _ in range(2):
        await world.school.report(SAM, category="offensive_content", what_happened=SECRET, about_staff=ANNA.aad)
    async with world.school.database.transaction() as session:
        await session.execute(update(records.IncidentRow).where(records.IncidentRow.id == 1).values(
            urgency="immediate"))
    world.recover()
    with caplog.at_level(logging.ERROR, logger="services.incidents"):
        assert await world.round() == 1
    assert {getattr(r, "incident_id", None) for r in caplog.records if r.levelno >= logging.ERROR} == {1}
    messages = await sent(world.school)
    assert set(messages) == {GRACE.name} and len(messages[GRACE.name]) == 1
    assert entries(await chronology(world.school, 2), "Routing re-checked")
    assert not entries(await chronology(world.school, 1), "Routing re-checked")
