"""Issue 19 on SQLite and PostgreSQL: any member of staff can run an account, whether or not they have opened the bot
(resolved on the server through the directory; anyone else is refused in plain words); and every copy of a request's
card follows the request (the requester's card too; a copy of an earlier version says it was replaced, with no
buttons; a click on one is refused and audited; the new version says what changed)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from cards.accounts import ACCOUNT_SUBMIT_VERB
from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_WITHDRAW_VERB
from domain.accounts import NOT_STAFF_MESSAGE, runner_field
from domain.approvals import ApprovalState, HistoryEvent
from domain.audit import AuditOutcome
from services.accounts import AccountsWiring
from services.audit import AuditTrail
from store import approvals as store
from store import card_copies
from store.db import Database
from store.outbox import OutboxKind, OutboxRow
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
    save_chat,
    save_slt_channel,
    wiring,
)

NOWHERE = "http://127.0.0.1:9/connector"
FORM_MESSAGE = "msg-form-1"  # the Teams message holding Sam's form (the card's replyToId)
GRACE = Person("Grace Hall", "00000000-0000-0000-0000-000000000301", "29:chair-grace")  # listed, never used the bot
RUTH = "00000000-0000-0000-0000-000000000105"  # nobody the staff file lists


@pytest.fixture
async def built(database: Database) -> AccountsWiring:
    """The desk with only Sam's and Anna's chats: Lee and Priya have never opened the bot."""
    made = wiring(database, FakeClock(TUESDAY_10AM))
    for person in (SAM, ANNA):
        await save_chat(made.desk._conversations, person, NOWHERE)  # noqa: SLF001 - test set-up
    await save_slt_channel(database, NOWHERE)
    return made


async def send(built: AccountsWiring, values: dict[str, str], form_id: str, *, request_id: int | None = None,
               shown_in: str | None = FORM_MESSAGE) -> Any:
    data: dict[str, Any] = {"form_id": form_id, **values}
    if request_id is not None:
        data["request_id"] = request_id
    return await built.accounts.submit(click(SAM, ACCOUNT_SUBMIT_VERB, data, card_activity_id=shown_in))


async def requests(database: Database) -> list[Any]:
    async with database.sessions() as session:
        return await store.requests_of(session, SAM.aad)


# --- runners -----------------------------------------------------------------------------------------------


async def test_staff_who_never_opened_the_bot_are_named_as_runners_from_the_directory(
    built: AccountsWiring, database: Database
) -> None:
    answer = await send(built, case_values(LEE, PRIYA), "1" * 32)
    assert answer.card is not None and "Sent to Anna Smith" in card_text(answer.card.to_dict())
    [request] = await requests(database)
    assert [(r["aad_object_id"], r["name"]) for r in request.payload["runners"]] == [
        (LEE.aad, LEE.name), (PRIYA.aad, PRIYA.name)]


@pytest.mark.parametrize("crafted", [RUTH, "29:never-used-the-bot", "00000000-0000-0000-0000-00000000dead",
                                     "'; drop table approval_requests; --", "x" * 300])
async def test_a_crafted_runner_id_of_someone_not_on_the_staff_list_is_refused_and_nothing_is_sent(
    built: AccountsWiring, database: Database, crafted: str
) -> None:
    answer = await send(built, case_values(LEE, **{runner_field(2): crafted}), "2" * 32)
    assert answer.card is not None
    text = card_text(answer.card.to_dict())
    assert NOT_STAFF_MESSAGE in text and "Please fix 1 thing below" in text
    assert "I don't know this person yet" not in text and "Chosen in Teams" not in text
    assert await requests(database) == []


async def test_search_finds_staff_by_name_from_the_staff_list_and_the_people_the_bot_knows(
    built: AccountsWiring,
) -> None:
    assert [p.name for p in await built.accounts.search_staff("lee")] == [LEE.name]
    assert [p.name for p in await built.accounts.search_staff("Gra")] == [GRACE.name]
    assert [p.name for p in await built.accounts.search_staff("s")][:2] == ["Sam Teacher", "Anna Smith"]
    assert await built.accounts.search_staff("   ") == []
    assert await built.accounts.search_staff("Ruth") == []  # not on the staff list


# --- every copy follows the request ---------------------------------------------------------------------------


async def updates_of(database: Database) -> list[tuple[Any, dict[str, Any]]]:
    return [(entry, outbox_card(activity)) for entry, activity, _ in await outbox_activities(database)
            if entry.kind is OutboxKind.UPDATE_ACTIVITY]


def buttons(card: dict[str, Any]) -> list[str]:
    return [a["title"] for a in card.get("actions") or [] if a["type"] != "Action.ShowCard"]


async def test_ask_for_changes_then_resend_every_copy_follows_and_the_new_version_says_what_changed(
    built: AccountsWiring, database: Database
) -> None:
    await send(built, case_values(LEE, PRIYA), "3" * 32)
    [request] = await requests(database)
    async with database.sessions() as session:
        copies = {(c.audience, c.round) for c in await card_copies.copies(session, f"approval:{request.id}")}
    assert copies == {("requester", 1), ("decider", 1), ("slt_channel", None)}  # the form's message is a copy

    [(tracked, shown)] = await updates_of(database)  # the form's message, updated to the card it shows
    assert tracked.lane == SAM.chat_id and "Sent to Anna Smith" in card_text(shown)
    asked = await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, {
        "request_id": request.id, "round": 1, "decision": "request_changes", "comment": "Who covers August?"}))
    assert asked.card is not None
    cards = [card for _, card in (await updates_of(database))[1:]]
    assert len(cards) == 3  # Sam's first card, the Head's copy, the SLT channel's
    mine = [c for c in cards if "Change and resend" in buttons(c)]
    assert mine and all("Waiting for a decision" not in card_text(c) for c in mine)  # no stale "waiting"
    assert all(buttons(c) == [] for c in cards if c not in mine)  # the Head's and SLT's copies: no buttons

    queued = await outbox_activities(database)
    [outcome] = [e for e, a, _ in queued if e.kind is OutboxKind.SEND_PERSONAL and e.lane == SAM.chat_id]
    async with database.transaction() as session:  # Teams took the outcome message as "msg-outcome"
        await session.execute(update(OutboxRow).where(OutboxRow.id == outcome.id).values(
            delivered_activity_id="msg-outcome"))
    before = len(await updates_of(database))
    values = case_values(LEE, PRIYA, holiday_monitoring="Priya checks it every Monday; Lee in August")
    resent = await send(built, values, "4" * 32, request_id=request.id, shown_in="msg-outcome")
    assert resent.card is not None and "Changed since version 1: holiday monitoring" in card_text(resent.card.to_dict())
    new_updates = [card for _, card in (await updates_of(database))[before:]]
    replaced = [c for c in new_updates if "Replaced by version 2" in card_text(c)]
    assert len(replaced) == 2 and all(not c.get("actions") for c in replaced)  # the Head's and Sam's first card
    resent_in_place = [c for c in new_updates if "Sent again (version 2)" in card_text(c)]
    assert len(resent_in_place) == 1 and buttons(resent_in_place[0]) == ["Withdraw"]  # the message it was sent from
    queued = await outbox_activities(database)
    head_cards = [outbox_card(a) for e, a, _ in queued if e.kind is OutboxKind.SEND_PERSONAL and e.lane == ANNA.chat_id]
    assert "Changed since version 1: holiday monitoring" in card_text(head_cards[-1])
    assert buttons(head_cards[-1]) == ["Approve", "Reject", "Ask for changes"]
    async with database.sessions() as session:
        [entry] = [e for e in await store.history(session, request.id) if e.event is HistoryEvent.RESUBMITTED]
    assert entry.detail["changed"] == ["holiday monitoring"]


async def test_a_click_on_a_replaced_version_is_refused_audited_and_answered_with_the_replaced_card(
    built: AccountsWiring, database: Database
) -> None:
    await send(built, case_values(LEE, PRIYA), "5" * 32)
    [request] = await requests(database)
    await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, {
        "request_id": request.id, "round": 1, "decision": "request_changes", "comment": "More detail"}))
    await send(built, case_values(LEE, PRIYA, aim="More detail"), "6" * 32, request_id=request.id)

    clicks = ((ANNA, APPROVAL_DECIDE_VERB, built.desk.decide, {"decision": "approve"}),
              (SAM, APPROVAL_WITHDRAW_VERB, built.desk.withdraw, {}))
    for person, verb, use_case, data in clicks:
        answer = await use_case(click(person, verb, {"request_id": request.id, "round": 1, **data}))
        assert answer.card is not None
        card = answer.card.to_dict()
        assert "Replaced by version 2" in card_text(card) and "Nothing was changed" in card_text(card)
        assert not card.get("actions")
    async with database.sessions() as session:
        current = await store.get_request(session, request.id)
        refused = [e.detail["reason"] for e in await store.history(session, request.id)
                   if e.event is HistoryEvent.REFUSED]
    assert current is not None and current.state is ApprovalState.PENDING and current.round == 2
    assert refused == ["out_of_date", "out_of_date"]
    trail = await AuditTrail(database).recent()
    assert {(e.actor_name, e.action, e.outcome, e.reason) for e in trail if e.outcome is AuditOutcome.REFUSED} == {
        (ANNA.name, APPROVAL_DECIDE_VERB, AuditOutcome.REFUSED, "out_of_date"),
        (SAM.name, APPROVAL_WITHDRAW_VERB, AuditOutcome.REFUSED, "out_of_date")}
