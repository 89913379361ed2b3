"""`delegate to <deputy> until <date>`: pending and new requests go to the deputy, who decides as acting for the
Head Teacher; the Head sees what was decided in their absence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from cards.approvals import APPROVAL_DECIDE_VERB
from domain.accounts import StaffMember, validate_form
from domain.approvals import ApprovalKind, ApprovalState, Capacity
from domain.calendar import SchoolCalendar
from services.accounts import AccountsWiring
from services.requests import CommandRequest
from store import approvals as store
from store.base import utcnow
from store.db import Database
from store.outbox import OutboxKind
from tests.fakes.connector import FakeConnector
from tests.support.approvals import (
    ANNA,
    LEE,
    PRIYA,
    SAM,
    TOM,
    TUESDAY_10AM,
    FakeClock,
    Person,
    accounts_bot,
    bot_settings,
    card_text,
    case_values,
    click,
    outbox_activities,
    outbox_card,
    save_chat,
    say,
    train,
    wiring,
)

SERVICE_URL = "http://127.0.0.1:9/connector"


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database(sqlite_url)
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TUESDAY_10AM)


@pytest.fixture
async def built(database: Database, clock: FakeClock) -> AccountsWiring:
    desk_wiring = wiring(database, clock)
    await train(database, SAM, LEE)
    for person in (SAM, LEE, ANNA, PRIYA, TOM):
        await save_chat(desk_wiring.desk._conversations, person, SERVICE_URL)  # noqa: SLF001 - test set-up
    return desk_wiring


def command(person: Person, text: str, argument: str) -> CommandRequest:
    return CommandRequest(text=text, argument=argument, actor=person.actor())


async def submit_case(built: AccountsWiring, **changes: str) -> int:
    people = {p.aad: StaffMember(p.aad, p.name) for p in (SAM, LEE)}
    case = validate_form(case_values(**changes), people).case
    assert case is not None
    return (await built.desk.submit(ApprovalKind.NEW_ACCOUNT, SAM.actor(), case.model_dump(mode="json"))).request.id


async def cards_to(database: Database, person: Person) -> list[str]:
    return [card_text(outbox_card(a)) for e, a, _ in await outbox_activities(database)
            if e.kind is OutboxKind.SEND_PERSONAL and e.lane == person.chat_id]


async def test_only_the_head_teacher_delegates_and_only_to_a_deputy(built: AccountsWiring) -> None:
    desk = built.desk
    reply = await desk.delegate(command(LEE, "delegate to Priya until Friday", "Priya until Friday"))
    assert reply.texts == ["Only the Head Teacher can delegate approvals."]
    reply = await desk.delegate(command(ANNA, "delegate to Tom until Friday", "Tom until Friday"))
    assert reply.texts == ["Tom is not a deputy in the school's directory. Approvals can be delegated to: Priya Shah."]
    reply = await desk.delegate(command(ANNA, "delegate to Priya on Friday", "Priya on Friday"))
    assert "delegate to** a deputy's name **until**" in reply.texts[0]
    async with desk.database.sessions() as session:
        assert await store.active_delegations(session, TUESDAY_10AM) == []


async def test_pending_and_new_requests_go_to_the_deputy_who_decides_for_the_head(
    built: AccountsWiring, database: Database, clock: FakeClock
) -> None:
    desk = built.desk
    waiting = await submit_case(built)
    assert len(await cards_to(database, ANNA)) == 1 and await cards_to(database, PRIYA) == []

    reply = await desk.delegate(command(ANNA, "delegate to priya until Friday", "priya until Friday"))
    confirmation = card_text(reply.cards[0].to_dict())
    assert "Until the end of Friday 27 November 2026, Priya Shah can decide approvals for you" in confirmation
    assert "the 1 request waiting now has been sent to them" in confirmation
    to_priya = await cards_to(database, PRIYA)
    assert any("You are deciding approvals for the Head Teacher" in t for t in to_priya)
    assert any("You are deciding for Anna Smith, the Head Teacher, while they are away" in t and "Approve" in t
               for t in to_priya)

    clock.advance(hours=1)
    new = await submit_case(built, account_name="Sports news")
    assert len(await cards_to(database, ANNA)) == 1  # the new request went to the deputy, not the Head
    assert sum("Sports news" in t for t in await cards_to(database, PRIYA)) == 1

    clock.advance(hours=1)
    decided = await desk.decide(click(PRIYA, APPROVAL_DECIDE_VERB, {"request_id": waiting, "round": 1,
                                                                     "decision": "approve"}))
    assert decided.card is not None and "Approved." in card_text(decided.card.to_dict())
    async with database.sessions() as session:
        request = await store.get_request(session, waiting)
    assert request is not None and request.decided_as is Capacity.ACTING_DEPUTY
    # The Head's own copy of the card is updated to show who decided, acting for her.
    updates = [card_text(outbox_card(a)) for e, a, _ in await outbox_activities(database)
               if e.kind is OutboxKind.UPDATE_ACTIVITY]
    assert any("By Priya Shah (acting for the Head Teacher)" in t for t in updates)

    clock.advance(hours=1)
    back = await desk.end_delegation(command(ANNA, "end delegation", ""))
    assert back.texts == ["Delegation to Priya Shah ended. Requests come to you again."]
    summary = card_text(back.cards[0].to_dict())
    assert "Decided while you were away" in summary and "Holy Trinity Year 6" in summary
    assert "1 request is waiting for your decision" in summary

    # After it ends the deputy cannot decide any more, and the Head gets the new request.
    late = await desk.decide(click(PRIYA, APPROVAL_DECIDE_VERB, {"request_id": new, "round": 1,
                                                                  "decision": "approve"}))
    assert late.card is not None and "Only the Head Teacher" in card_text(late.card.to_dict())
    assert await desk.route_pending() == 1
    assert sum("Sports news" in t for t in await cards_to(database, ANNA)) == 1


async def test_a_delegation_that_runs_out_sends_the_head_a_summary_once(
    built: AccountsWiring, database: Database, clock: FakeClock
) -> None:
    desk = built.desk
    request_id = await submit_case(built)
    await desk.delegate(command(ANNA, "delegate to Priya Shah until tomorrow", "Priya Shah until tomorrow"))
    await desk.decide(click(PRIYA, APPROVAL_DECIDE_VERB, {"request_id": request_id, "round": 1,
                                                          "decision": "reject", "comment": "Not this term"}))
    assert await desk.summarise_ended_delegations() == 0  # still running
    clock.advance(days=2)
    assert await desk.summarise_ended_delegations() == 1
    assert await desk.summarise_ended_delegations() == 0
    [summary] = [t for t in await cards_to(database, ANNA) if "Decided while you were away" in t]
    assert "Rejected" in summary and "Not this term" in summary
    async with database.sessions() as session:
        request = await store.get_request(session, request_id)
    assert request is not None and request.state is ApprovalState.REJECTED


async def test_a_deputy_who_loses_the_deputy_role_cannot_act(database: Database, clock: FakeClock) -> None:
    from directory.static import DirectoryEntry, StaticRoleDirectory
    from domain.roles import Role

    demoted = StaticRoleDirectory([
        DirectoryEntry(ANNA.aad, ANNA.name, frozenset({Role.HEAD_TEACHER, Role.SLT})),
        DirectoryEntry(PRIYA.aad, PRIYA.name, frozenset({Role.SLT})),
    ], description="test")
    built = wiring(database, clock, directory_=demoted)
    request_id = await submit_case(built)
    async with database.transaction() as session:
        await store.create_delegation(session, head_aad=ANNA.aad, head_name=ANNA.name, deputy_aad=PRIYA.aad,
                                      deputy_name=PRIYA.name, starts_at=TUESDAY_10AM,
                                      ends_at=TUESDAY_10AM + timedelta(days=1), now=TUESDAY_10AM)
    result = await built.desk.decide(click(PRIYA, APPROVAL_DECIDE_VERB, {"request_id": request_id, "round": 1,
                                                                        "decision": "approve"}))
    assert result.card is not None and "Only the Head Teacher" in card_text(result.card.to_dict())


async def test_delegate_typed_in_teams(sqlite_url: str, connector: FakeConnector) -> None:
    async with accounts_bot(bot_settings(sqlite_url)) as (client, _):
        await say(client, connector.url, PRIYA, "hello")
        connector.clear()
        until = (SchoolCalendar().school_date(utcnow()) + timedelta(days=3)).isoformat()
        await say(client, connector.url, ANNA, f"delegate to Priya Shah until {until}")
        text = " ".join(card_text(c) for c in connector.cards())
        assert "Approvals delegated" in text and "Priya Shah can decide approvals for you" in text
        connector.clear()
        await say(client, connector.url, SAM, "delegate to Priya Shah until Friday")
        assert connector.texts()[-1] == "Only the Head Teacher can delegate approvals."
