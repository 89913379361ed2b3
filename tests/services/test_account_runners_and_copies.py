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


async def updates_of_message(database: Database, subject: str, message: str) -> list[dict[str, Any]]:
    """The cards of the updates queued for the copies of ``subject`` that sit in the Teams message ``message``."""
    async with database.sessions() as session:
        ids = await card_copies.copy_ids_in(session, subject, message)
    assert ids, f"no copy of {subject} sits in {message}"
    keys = tuple(f"{subject}:copy{copy_id}:" for copy_id in ids)
    return [card for entry, card in await updates_of(database) if (entry.dedupe_key or "").startswith(keys)]


async def test_the_copy_a_button_was_clicked_in_keeps_the_answer_s_notice_when_the_outbox_updates_it(
    built: AccountsWiring, database: Database
) -> None:
    """The click's answer replaces the card at once ("Withdrawn. ...", "Approved. ..."); the outbox's update of the
    same message comes a moment later and must show that same card, not take the notice away."""
    await send(built, case_values(LEE, PRIYA), "7" * 32)  # from FORM_MESSAGE, which now holds Sam's card
    [first] = await requests(database)
    withdrawn = await built.desk.withdraw(click(SAM, APPROVAL_WITHDRAW_VERB, {"request_id": first.id, "round": 1},
                                                card_activity_id=FORM_MESSAGE))
    assert withdrawn.card is not None
    notice = "Withdrawn. The Head Teacher's card shows it."
    assert notice in card_text(withdrawn.card.to_dict())
    in_place = (await updates_of_message(database, f"approval:{first.id}", FORM_MESSAGE))[-1]
    assert in_place == withdrawn.card.to_dict()
    others = [card for _, card in await updates_of(database) if "Status: Withdrawn" in card_text(card)]
    assert others and all(notice not in card_text(card) for card in others if card != in_place)  # the Head's

    await send(built, case_values(LEE, PRIYA, aim="Chess results for families"), "8" * 32, shown_in="msg-form-2")
    second = next(r for r in await requests(database) if r.id != first.id)
    queued = await outbox_activities(database)
    [head_copy] = [e for e, a, _ in queued if e.kind is OutboxKind.SEND_PERSONAL and e.lane == ANNA.chat_id
                   and f"{second.reference}" in card_text(outbox_card(a))]
    async with database.transaction() as session:  # Teams took the Head's card as "msg-head-1"
        await session.execute(update(OutboxRow).where(OutboxRow.id == head_copy.id).values(
            delivered_activity_id="msg-head-1"))
    approved = await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, {
        "request_id": second.id, "round": 1, "decision": "approve", "confirmed": True},
        card_activity_id="msg-head-1"))
    assert approved.card is not None and "Approved. Sam Teacher will be told" in card_text(approved.card.to_dict())
    [head_update] = await updates_of_message(database, f"approval:{second.id}", "msg-head-1")
    assert head_update == approved.card.to_dict()
    sams = (await updates_of_message(database, f"approval:{second.id}", "msg-form-2"))[-1]  # Sam's own card
    assert "Status: Approved" in card_text(sams) and "Approved. Sam Teacher will be told" not in card_text(sams)


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
