"""Every refusal of an approval action, through the running bot: a clear answer, nothing changed, audited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cards.accounts import ACCOUNT_SUBMIT_VERB
from cards.approvals import (
    APPROVAL_DECIDE_VERB,
    APPROVAL_EDIT_VERB,
    APPROVAL_REFRESH_VERB,
    APPROVAL_WITHDRAW_VERB,
)
from domain.approvals import ApprovalState, HistoryEvent
from domain.audit import AuditOutcome
from services.audit import AuditTrail
from store import approvals as store
from store.db import Database
from store.outbox import OutboxKind
from tests.fakes.connector import FakeConnector
from tests.support.approvals import (
    ANNA,
    EXCEPTION_CIRCUMSTANCES,
    EXCEPTION_PUPILS,
    LEE,
    PRIYA,
    SAM,
    TOM,
    Person,
    accounts_bot,
    bot_settings,
    button,
    card_text,
    case_values,
    delivery_worker,
    execute,
    meet,
    outbox_activities,
    submit,
    submit_photo_exception,
    with_photo_exceptions,
)


@pytest.fixture
def settings(sqlite_url: str):  # type: ignore[no-untyped-def]
    return bot_settings(sqlite_url)


async def send_case(client: Any, url: str, form_id: str, requester: Person = SAM, **changes: str) -> int:
    runners = (requester, LEE) if requester is not LEE else (LEE, SAM)
    answer = await execute(client, url, requester, ACCOUNT_SUBMIT_VERB,
                           {"form_id": form_id, **case_values(*runners, **changes)})
    return int(button(answer["value"], "Withdraw")["data"]["request_id"])


def decide(request_id: int, decision: str = "approve", round_: int = 1, comment: str = "") -> dict[str, Any]:
    return {"request_id": request_id, "round": round_, "decision": decision, "comment": comment}


async def state_and_refusals(database: Database, request_id: int) -> tuple[ApprovalState, list[dict[str, Any]]]:
    async with database.sessions() as session:
        request = await store.get_request(session, request_id)
        refused = [{**e.detail, "actor": e.actor_name} for e in await store.history(session, request_id)
                   if e.event is HistoryEvent.REFUSED]
    assert request is not None
    return request.state, refused


async def test_someone_who_is_not_a_decider_is_refused_and_audited(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "a" * 32)
        for person in (LEE, TOM, PRIYA):  # staff, SLT, a deputy without a delegation
            answer = await execute(client, connector.url, person, APPROVAL_DECIDE_VERB, decide(request_id))
            text = card_text(answer["value"])
            assert "Only the Head Teacher, or a deputy while" in text and "Nothing was changed." in text
            assert isinstance(answer["value"], str) or not answer["value"].get("actions")
        state, refused = await state_and_refusals(wiring.desk.database, request_id)
        assert state is ApprovalState.PENDING
        # Each refusal is in the audit trail, whether the router refused it (a role that can never decide) or the
        # desk (no delegation to Priya); the desk's are in the request's history too.
        trail = list(reversed(await AuditTrail(wiring.desk.database).recent()))
        assert [(e.actor_name, e.action, e.outcome) for e in trail] == [
            (person.name, APPROVAL_DECIDE_VERB, AuditOutcome.REFUSED) for person in (LEE, TOM, PRIYA)]
        assert (PRIYA.name, "not_a_decider", "approve") in [(r["actor"], r["reason"], r["decision"]) for r in refused]
        assert {r["reason"] for r in refused} == {"not_a_decider"}


async def test_the_requester_cannot_decide_their_own_request(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, LEE, PRIYA)
        request_id = await send_case(client, connector.url, "b" * 32, requester=ANNA)
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id))
        assert "You can't decide your own request" in card_text(answer["value"])
        assert "ask SLT" in card_text(answer["value"])
        state, refused = await state_and_refusals(wiring.desk.database, request_id)
        assert state is ApprovalState.PENDING and [r["reason"] for r in refused] == ["own_request"]
        # ... and it is not sent to her to decide.
        lanes = [e.lane for e, _, _ in await outbox_activities(wiring.desk.database)]
        assert ANNA.chat_id not in lanes


async def test_a_request_id_that_does_not_exist_is_refused_and_audited(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        for data in (decide(424242), {"request_id": "'; drop table", "decision": "approve", "round": 1},
                     {"round": 1}):
            answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, data)
            assert answer["type"] == "application/vnd.microsoft.activity.message"
            assert "I can't find that request. Nothing was changed." in answer["value"]
        async with wiring.desk.database.sessions() as session:
            refused = await store.refusals(session)
        assert [(r.request_id, r.detail["reason"], r.actor_name) for r in refused] == [
            (None, "no_such_request", ANNA.name)] * 3
        assert refused[0].detail["claimed_request_id"] == 424242
        # A decision must name the round its card showed: without one it is refused before the desk runs.
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, {})
        assert answer["value"].startswith("That button is out of date or its data is not valid. Nothing was changed.")


async def test_a_button_moved_onto_another_requests_card_is_refused(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        first = await send_case(client, connector.url, "c" * 32)
        second = await send_case(client, connector.url, "d" * 32, account_name="Sports news")
        await delivery_worker(client).drain()
        first_card = next(d for d in connector.sent() if d.conversation_id == ANNA.chat_id)
        # The card Anna holds is the first request's; its button data is edited to name the second request.
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(second),
                               reply_to=await _delivered_id(wiring.desk.database, first_card.body))
        assert "That button does not belong to the request it names. Nothing was changed." == answer["value"]
        state, refused = await state_and_refusals(wiring.desk.database, second)
        assert state is ApprovalState.PENDING and [r["reason"] for r in refused] == ["wrong_card"]
        assert refused[0]["card_subjects"] == [f"approval:{first}"]


async def _delivered_id(database: Database, body: dict[str, Any]) -> str:
    from store.outbox import list_entries

    async with database.sessions() as session:
        entries = await list_entries(session)
    [entry] = [e for e in entries if e.kind is OutboxKind.SEND_PERSONAL and e.lane == ANNA.chat_id][:1]
    assert entry.delivered_activity_id
    return entry.delivered_activity_id


async def test_a_decided_request_tells_the_late_one_who_decided(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "e" * 32)
        await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id))
        for decision in ("approve", "reject"):
            late = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                                 decide(request_id, decision, comment="no"))
            assert "Already approved by Anna Smith on" in card_text(late["value"])
        state, refused = await state_and_refusals(wiring.desk.database, request_id)
        assert state is ApprovalState.APPROVED and [r["reason"] for r in refused] == ["not_pending"] * 2
        async with wiring.desk.database.sessions() as session:
            assert len(await store.registered_accounts(session)) == 1


async def test_reject_and_ask_for_changes_need_a_comment_in_the_card(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "f" * 32)
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id, "reject"))
        card = answer["value"]
        assert "To reject, write a reason in the box" in card_text(card)
        assert [a["title"] for a in card["actions"]] == ["Approve", "Reject", "Ask for changes",
                                                         "Show details"]
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                               decide(request_id, "request_changes", comment="   "))
        assert "write a comment saying what should change" in card_text(answer["value"])
        state, refused = await state_and_refusals(wiring.desk.database, request_id)
        assert state is ApprovalState.PENDING and refused == []  # an input mistake, not an attempt to audit
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                               decide(request_id, "reject", comment="We have enough accounts"))
        assert "Rejected." in card_text(answer["value"])


async def test_a_card_of_an_earlier_version_is_out_of_date(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "0" * 32)
        await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                      decide(request_id, "request_changes", comment="More detail"))
        await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB,
                      {"request_id": request_id, "form_id": "1" * 32, **case_values(aim="More detail here")})
        stale = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id, round_=1))
        text = card_text(stale["value"])
        # The card it sat on now says it was replaced, with no buttons: the current version is in a newer message.
        assert "This version was replaced by version 2" in text and "Nothing was changed" in text
        assert "Replaced by version 2" in text and not stale["value"].get("actions")
        state, refused = await state_and_refusals(wiring.desk.database, request_id)
        assert state is ApprovalState.PENDING and [r["reason"] for r in refused] == ["out_of_date"]


async def test_only_the_requester_withdraws_resubmits_or_edits(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "2" * 32)
        withdraw = await execute(client, connector.url, LEE, APPROVAL_WITHDRAW_VERB, {"request_id": request_id})
        assert "Only the person who sent a request" in withdraw["value"]
        edit = await execute(client, connector.url, SAM, APPROVAL_EDIT_VERB, {"request_id": request_id})
        assert "it can only be changed after changes were asked for" in card_text(edit["value"])
        resend = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB,
                               {"request_id": request_id, "form_id": "3" * 32, **case_values()})
        assert "so it was not sent again. Nothing was changed." in card_text(resend["value"])
        await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                      decide(request_id, "request_changes", comment="x"))
        lee_edit = await execute(client, connector.url, LEE, APPROVAL_EDIT_VERB, {"request_id": request_id})
        assert "Only the person who sent a request can change it" in lee_edit["value"]
        lee_resend = await execute(client, connector.url, LEE, ACCOUNT_SUBMIT_VERB,
                                   {"request_id": request_id, "form_id": "4" * 32, **case_values(LEE, SAM)})
        assert "Only the person who sent a request can change it" in lee_resend["value"]
        state, refused = await state_and_refusals(wiring.desk.database, request_id)
        assert state is ApprovalState.CHANGES_REQUESTED
        assert [r["reason"] for r in refused] == [
            "not_the_requester", "not_allowed_now", "not_allowed_now", "not_the_requester", "not_the_requester"]


async def test_refresh_shows_deciders_the_buttons_and_others_the_status(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, _):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "5" * 32)
        head = await execute(client, connector.url, ANNA, APPROVAL_REFRESH_VERB, {"request_id": request_id})
        assert [a["title"] for a in head["value"]["actions"]] == [
            "Approve", "Reject", "Ask for changes", "Show details"]
        assert head["value"]["refresh"]["userIds"] == [ANNA.teams_id]
        slt = await execute(client, connector.url, TOM, APPROVAL_REFRESH_VERB, {"request_id": request_id})
        assert not slt["value"].get("actions") and "For SLT to consider" in card_text(slt["value"])
        assert "Share Year 6 learning with families" not in card_text(slt["value"])  # the aim is the Head's to read
        other = await execute(client, connector.url, LEE, APPROVAL_REFRESH_VERB, {"request_id": request_id})
        assert not other["value"].get("actions") and "You can't see this request" in card_text(other["value"])
        assert "Holy Trinity Year 6" not in card_text(other["value"])
        mine = await execute(client, connector.url, SAM, APPROVAL_REFRESH_VERB, {"request_id": request_id})
        assert [a["title"] for a in mine["value"]["actions"]] == ["Withdraw", "Show details"]


async def test_a_member_of_staff_cannot_read_a_photo_exception_by_its_id(settings, connector: FakeConnector) -> None:
    """Issue 14, item 1: a plain member of staff sends approval_refresh with {"request_id": 1}."""
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request = await submit_photo_exception(with_photo_exceptions(wiring))
        assert request.id == 1
        answer = await execute(client, connector.url, LEE, APPROVAL_REFRESH_VERB, {"request_id": 1})
        text = card_text(answer["value"])
        assert answer["type"] == "application/vnd.microsoft.card.adaptive" and "You can't see this request" in text
        for secret in (*(name for _, name, _ in EXCEPTION_PUPILS), EXCEPTION_CIRCUMSTANCES, SAM.name,
                       request.reference):
            assert secret not in text
        head = await execute(client, connector.url, ANNA, APPROVAL_REFRESH_VERB, {"request_id": 1})
        assert EXCEPTION_PUPILS[0][1] in card_text(head["value"])
        assert [a["title"] for a in head["value"]["actions"]] == ["Approve", "Reject", "Ask for changes"]
        trail = list(reversed(await AuditTrail(wiring.desk.database).recent()))
        assert [(e.actor_name, e.action, e.record_ref, e.outcome, e.reason) for e in trail] == [
            (LEE.name, APPROVAL_REFRESH_VERB, request.reference, AuditOutcome.REFUSED, "not_allowed_to_see"),
            (ANNA.name, APPROVAL_REFRESH_VERB, request.reference, AuditOutcome.VIEWED, "pupil_names")]


async def test_the_submit_fallback_decides_and_updates_the_card_it_came_from(
    settings, connector: FakeConnector
) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "6" * 32)
        connector.clear()
        await submit(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id), reply_to="card-in-chat")
        [update] = [d for d in connector.sent() if d.method == "PUT"]
        assert update.activity_id == "card-in-chat" and "Approved." in card_text(update.body)
        state, _ = await state_and_refusals(wiring.desk.database, request_id)
        assert state is ApprovalState.APPROVED


async def test_teams_retrying_the_same_invoke_decides_once(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "7" * 32)
        answers = [await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id),
                                 activity_id="retried-1") for _ in range(3)]
        assert all(a == answers[0] for a in answers)  # the retries get the first answer
        assert "Approved." in card_text(answers[0]["value"])
        async with wiring.desk.database.sessions() as session:
            events = [e.event for e in await store.history(session, request_id)]
        assert events == [HistoryEvent.SUBMITTED, HistoryEvent.APPROVED]


async def test_two_clicks_at_once_over_http_make_one_decision(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "8" * 32)
        answers = await asyncio.gather(
            execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id)),
            execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, decide(request_id, "reject", comment="no")),
        )
        texts = sorted(card_text(a["value"]) for a in answers)
        assert sum("Nothing was changed." in t for t in texts) == 1
        async with wiring.desk.database.sessions() as session:
            request = await store.get_request(session, request_id)
            decisions = [e for e in await store.history(session, request_id)
                         if e.event in (HistoryEvent.APPROVED, HistoryEvent.REJECTED)]
        assert request is not None and len(decisions) == 1 and request.state.value == decisions[0].event.value
