"""Exactly one decision when clicks race, through the whole decision (copies, messages, register), on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import timedelta

import pytest

from cards.approvals import APPROVAL_DECIDE_VERB
from cards.replies import ActionResult
from domain.accounts import StaffMember, validate_form
from domain.approvals import ApprovalKind, ApprovalState, HistoryEvent
from services.accounts import AccountsWiring
from store import approvals as store
from store import card_copies, conversations
from store.db import Database
from store.outbox import OutboxKind, OutboxMessage, enqueue
from tests.support.approvals import (
    ANNA,
    LEE,
    PRIYA,
    SAM,
    TUESDAY_10AM,
    FakeClock,
    Person,
    card_text,
    case_values,
    click,
    outbox_activities,
    outbox_card,
    seeded,
    submit_case,
)

SERVICE_URL = "http://127.0.0.1:9/connector"  # nothing is delivered in these tests


@pytest.fixture
async def desk_wiring(database: Database) -> AccountsWiring:
    return await seeded(database, FakeClock(TUESDAY_10AM))


async def race(built: AccountsWiring, clicks: list[tuple[Person, str]], request_id: int) -> list[ActionResult]:
    return list(await asyncio.gather(*(
        built.desk.decide(click(person, APPROVAL_DECIDE_VERB, {
            "request_id": request_id, "round": 1, "decision": decision, "comment": f"{person.name} says {decision}"}))
        for person, decision in clicks
    )))


async def assert_exactly_one_decision(database: Database, request_id: int, results: list[ActionResult]) -> str:
    texts = [card_text(r.card.to_dict()) for r in results if r.card is not None]
    assert len(texts) == len(results)
    done = [t for t in texts if "Nothing was changed" not in t]
    late = [t for t in texts if "Nothing was changed" in t]
    assert len(done) == 1 and len(late) == len(results) - 1
    async with database.sessions() as session:
        request = await store.get_request(session, request_id)
        history = await store.history(session, request_id)
        accounts = await store.registered_accounts(session)
    assert request is not None and request.decided_by_name
    decisions = [e for e in history if e.event in (HistoryEvent.APPROVED, HistoryEvent.REJECTED,
                                                    HistoryEvent.CHANGES_REQUESTED)]
    assert len(decisions) == 1 and decisions[0].actor_name == request.decided_by_name
    assert len(accounts) == (1 if request.state is ApprovalState.APPROVED else 0)
    for text in late:  # the late ones are told who decided
        assert f"Already {request.state.value.replace('_', ' ')} by {request.decided_by_name}" in text
    assert [e.detail["reason"] for e in history if e.event is HistoryEvent.REFUSED] == ["not_pending"] * len(late)
    queued = await outbox_activities(database)
    told = [e for e, _, _ in queued if e.kind is OutboxKind.SEND_PERSONAL and e.lane == SAM.chat_id]
    updates = [e for e, _, _ in queued if e.kind is OutboxKind.UPDATE_ACTIVITY]
    assert len(told) == 1  # the requester is told once
    assert len(updates) == 2  # the decider's copy and the SLT channel's copy, each updated once
    return request.decided_by_name


async def test_a_double_click_decides_once(database: Database, desk_wiring: AccountsWiring) -> None:
    request_id = await submit_case(desk_wiring)
    results = await race(desk_wiring, [(ANNA, "approve"), (ANNA, "approve")], request_id)
    assert await assert_exactly_one_decision(database, request_id, results) == ANNA.name


async def test_the_head_teacher_and_the_acting_deputy_at_once_make_one_decision(
    database: Database, desk_wiring: AccountsWiring
) -> None:
    async with database.transaction() as session:
        await store.create_delegation(session, head_aad=ANNA.aad, head_name=ANNA.name, deputy_aad=PRIYA.aad,
                                      deputy_name=PRIYA.name, starts_at=TUESDAY_10AM - timedelta(hours=1),
                                      ends_at=TUESDAY_10AM + timedelta(days=2), now=TUESDAY_10AM)
    request_id = await submit_case(desk_wiring)
    results = await race(desk_wiring, [(ANNA, "approve"), (PRIYA, "reject")], request_id)
    assert await assert_exactly_one_decision(database, request_id, results) in (ANNA.name, PRIYA.name)


async def test_many_clicks_at_once_still_make_one_decision(database: Database, desk_wiring: AccountsWiring) -> None:
    async with database.transaction() as session:
        await store.create_delegation(session, head_aad=ANNA.aad, head_name=ANNA.name, deputy_aad=PRIYA.aad,
                                      deputy_name=PRIYA.name, starts_at=TUESDAY_10AM - timedelta(hours=1),
                                      ends_at=TUESDAY_10AM + timedelta(days=2), now=TUESDAY_10AM)
    request_id = await submit_case(desk_wiring)
    decisions = ["approve", "reject", "request_changes"]
    clicks = [((ANNA, PRIYA)[i % 2], decisions[i % 3]) for i in range(8)]
    results = await race(desk_wiring, clicks, request_id)
    await assert_exactly_one_decision(database, request_id, results)


async def test_the_same_form_sent_twice_at_once_makes_one_request(
    database: Database, desk_wiring: AccountsWiring
) -> None:
    people = {p.aad: StaffMember(p.aad, p.name) for p in (SAM, LEE)}
    case = validate_form(case_values(), people).case
    assert case is not None
    results = await asyncio.gather(*(
        desk_wiring.desk.submit(ApprovalKind.NEW_ACCOUNT, SAM.actor(), case.model_dump(mode="json"),
                                client_key="f" * 32) for _ in range(3)))
    assert len({r.request.id for r in results}) == 1 and sum(r.new for r in results) == 1
    async with database.sessions() as session:
        assert len(await store.requests_of(session, SAM.aad)) == 1


async def test_a_decision_made_while_cards_are_being_sent_waits_and_then_updates_them(
    database: Database, desk_wiring: AccountsWiring
) -> None:
    """`approvals` (and routing) read the waiting requests held (``pending_requests(hold=True)``) in the unit of work
    that sends their cards and records them as copies. A decision clicked meanwhile waits for that unit of work, then
    finds the new copy and updates it: without the hold, on PostgreSQL, it would not see the copy (not committed
    yet) and that card would keep its buttons."""
    request_id = await submit_case(desk_wiring)
    elsewhere = contextvars.copy_context()  # Anna's click is another turn: outside the unit of work below
    async with database.transaction() as session:  # the sending unit of work, held open while Anna decides
        [request] = await store.pending_requests(session, hold=True)
        decision = asyncio.create_task(desk_wiring.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, {
            "request_id": request_id, "round": 1, "decision": "approve", "comment": ""})), context=elsewhere)
        done, _ = await asyncio.wait({decision}, timeout=1.0)  # as far as it gets meanwhile
        assert not done, "the decision did not wait for the unit of work holding the request"
        chat = await conversations.personal_chat_of(session, ANNA.aad)
        assert chat is not None
        sent = await enqueue(session, OutboxMessage.personal(chat.reference, {"type": "message", "text": "a card"}))
        await card_copies.record(session, f"approval:{request.id}", "decider", sent, recipient=ANNA.aad,
                                 round_=request.round)
    answer = await decision
    assert answer.card is not None and "Approved." in card_text(answer.card.to_dict())
    updates = [(e, a) for e, a, _ in await outbox_activities(database)
               if e.kind is OutboxKind.UPDATE_ACTIVITY and e.depends_on == sent]
    assert len(updates) == 1 and "Status: Approved" in card_text(outbox_card(updates[0][1]))
    async with database.sessions() as session:  # and, once decided, it is no longer among those held and sent
        assert await store.pending_requests(session) == []
