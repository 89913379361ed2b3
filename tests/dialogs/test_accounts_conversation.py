"""Proposing an account, as a conversation with the running bot: the form, drafts, sending, the Head Teacher's
decision, the requester told, the register, `my requests`."""

from __future__ import annotations

import pytest

from cards.accounts import ACCOUNT_DISCARD_DRAFT_VERB, ACCOUNT_SAVE_DRAFT_VERB, ACCOUNT_SUBMIT_VERB
from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_EDIT_VERB
from cards.help import START_FLOW_VERB
from domain.accounts import runner_field
from domain.approvals import ApprovalState
from store import approvals as store
from store import audit as audit_store
from store.outbox import OutboxKind
from tests.fakes.connector import FakeConnector
from tests.support.approvals import (
    ANNA,
    LEE,
    SAM,
    accounts_bot,
    bot_settings,
    button,
    card_text,
    case_values,
    delivery_worker,
    execute,
    meet,
    outbox_activities,
    outbox_card,
    save_slt_channel,
    say,
    submit,
)
from tests.support.cardcheck import assert_valid_cards

FORM_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def settings(sqlite_url: str):  # type: ignore[no-untyped-def]
    return bot_settings(sqlite_url)


async def test_new_account_shows_the_form_and_keeps_a_draft_to_resume(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, _):
        await say(client, connector.url, SAM, "new account")
        [form] = connector.cards()
        assert "Propose a school social media account" in card_text(form)
        assert "Never type a password here" in card_text(form)
        send = button(form, "Send to the Head Teacher")
        form_id = send["data"]["form_id"]

        # Half done: save it, and the same form comes back saying so.
        half = {"form_id": form_id, "platform": "instagram", "aim": "Celebrate sport"}
        saved = await execute(client, connector.url, SAM, ACCOUNT_SAVE_DRAFT_VERB, half)
        assert "Draft saved" in card_text(saved["value"])

        # Later: `new account` brings it back.
        connector.clear()
        await say(client, connector.url, SAM, "propose an account")
        [resumed] = connector.cards()
        assert "Here is the draft you saved" in " ".join(connector.texts())
        values = {i["id"]: i.get("value") for i in resumed["body"] if i.get("id")}
        assert values["platform"] == "instagram" and values["aim"] == "Celebrate sport"

        # The help card's button starts the same flow.
        connector.clear()
        await submit(client, connector.url, SAM, START_FLOW_VERB, {"flow": "propose_account"})
        assert "Propose a school social media account" in card_text(connector.cards()[-1])

        discarded = await execute(client, connector.url, SAM, ACCOUNT_DISCARD_DRAFT_VERB, {"form_id": form_id})
        assert "Draft discarded" in card_text(discarded["value"])
        connector.clear()
        await say(client, connector.url, SAM, "new account")
        [fresh] = connector.cards()
        assert not any(i.get("value") for i in fresh["body"] if i.get("id"))
        assert_valid_cards([form, saved["value"], resumed, fresh, discarded["value"]])


async def test_what_to_fix_is_answered_in_the_card_and_the_values_are_kept(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await say(client, connector.url, SAM, "hello")
        one_runner = case_values(SAM, aim="x" * 1001)
        answer = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **one_runner})
        card = answer["value"]
        text = card_text(card)
        assert answer["type"] == "application/vnd.microsoft.card.adaptive"
        assert "Please fix 2 things below" in text and "Too long: 1001 characters" in text
        assert "Name at least 2 different members of staff" in text
        values = {i["id"]: i.get("value") for i in card["body"] if i.get("id")}
        assert values["aim"] == "x" * 1001 and values[runner_field(1)] == SAM.aad
        assert button(card, "Send to the Head Teacher")["data"]["form_id"] == FORM_ID

        twice = case_values(SAM, SAM)
        answer = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **twice})
        assert "The same person is already runner 1" in card_text(answer["value"])
        assert_valid_cards([card, answer["value"]])

        async with wiring.desk.database.sessions() as session:
            assert await store.requests_of(session, SAM.aad) == []  # nothing was sent
            draft = await store.get_draft(session, SAM.aad)
        assert draft is not None and draft.values[runner_field(2)] == SAM.aad  # the draft keeps the last try


async def test_a_case_goes_to_the_head_teacher_who_approves_inline_and_everyone_is_told(
    settings, connector: FakeConnector
) -> None:
    async with accounts_bot(settings) as (client, wiring):
        database = wiring.desk.database
        await meet(client, connector.url, ANNA, LEE)  # the Head Teacher and the second runner have used the bot
        await save_slt_channel(database, connector.url)
        await say(client, connector.url, SAM, "new account")

        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        confirmation = sent["value"]
        assert "Sent to Anna Smith for a decision" in card_text(confirmation)
        assert confirmation["refresh"]["userIds"] == [SAM.teams_id]
        assert [a["title"] for a in confirmation["actions"]] == ["Withdraw", "Show details"]

        # A double click on Send makes no second request.
        again = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        assert "You already sent this form" in card_text(again["value"])
        async with database.sessions() as session:
            [request] = await store.requests_of(session, SAM.aad)
            assert await store.get_draft(session, SAM.aad) is None

        # The outbox holds the Head Teacher's card and the SLT channel's card.
        queued = await outbox_activities(database)
        assert [(e.kind, e.lane) for e, _, _ in queued] == [
            (OutboxKind.SEND_PERSONAL, ANNA.chat_id), (OutboxKind.POST_TO_CHANNEL, "19:slt-incidents@thread.tacv2")]
        head_card = outbox_card(queued[0][1])
        assert [a["title"] for a in head_card["actions"]] == ["Approve", "Reject", "Ask for changes",
                                                              "Show details"]
        assert head_card["refresh"]["userIds"] == [ANNA.teams_id]
        slt = card_text(outbox_card(queued[1][1]))
        assert "Sam Teacher, Lee Carter" in slt and "Asked by" not in slt

        # Delivered by the outbox worker; the Head Teacher clicks Approve on the card she received.
        await delivery_worker(client).drain()
        head_delivery = next(d for d in connector.sent() if d.conversation_id == ANNA.chat_id)
        card_id = head_delivery.activity_id or queued[0][0].id
        async with database.sessions() as session:
            from store.outbox import get_entry

            delivered = await get_entry(session, queued[0][0].id)
        assert delivered is not None and delivered.delivered_activity_id
        approve = button(head_card, "Approve")
        decided = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, approve["data"],
                                reply_to=delivered.delivered_activity_id)
        assert card_id
        after = card_text(decided["value"])
        assert "Approved." in after and "By Anna Smith" in after
        assert [a["type"] for a in decided["value"]["actions"]] == ["Action.ShowCard"]  # no buttons but the details

        # Every copy is updated, the requester is told, the account is registered.
        connector.clear()
        await delivery_worker(client).drain()
        updates = [d for d in connector.sent() if d.method == "PUT"]
        assert sorted(d.conversation_id.split(";")[0] for d in updates) == [
            "19:slt-incidents@thread.tacv2", ANNA.chat_id]
        assert all("Status: Approved" in card_text(d.body) for d in updates)
        [told] = [d for d in connector.sent() if d.method == "POST" and d.conversation_id == SAM.chat_id]
        assert "Your request " + request.reference + " was approved" in card_text(told.body)
        assert "never asks for or stores passwords" in card_text(told.body)

        connector.clear()
        await say(client, connector.url, SAM, "accounts")
        register = card_text(connector.cards()[0])
        assert "Facebook: Holy Trinity Year 6" in register and "Sam Teacher, Lee Carter" in register

        connector.clear()
        await say(client, connector.url, SAM, "my requests")
        mine = card_text(connector.cards()[0])
        assert request.reference in mine and "Approved" in mine and "Anna Smith" in mine


async def test_changes_requested_then_resent_then_approved(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        database = wiring.desk.database
        await meet(client, connector.url, ANNA, SAM, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        request_id = button(sent["value"], "Withdraw")["data"]["request_id"]

        changes = {"request_id": request_id, "round": 1, "decision": "request_changes",
                   "comment": "Who checks it in August?"}
        await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, changes)
        told = [outbox_card(a) for e, a, _ in await outbox_activities(database) if e.lane == SAM.chat_id]
        assert "needs some changes" in card_text(told[-1]) and "Who checks it in August?" in card_text(told[-1])
        edit = button(told[-1], "Change and resend")

        form = await execute(client, connector.url, SAM, APPROVAL_EDIT_VERB, edit["data"])
        text = card_text(form["value"])
        assert "Changes asked for" in text and "Who checks it in August?" in text
        resend = button(form["value"], "Resend to the Head Teacher")
        assert resend["data"]["request_id"] == request_id

        values = case_values(holiday_monitoring="Lee checks it every Monday in August")
        resent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {**resend["data"], **values})
        assert "Sent again (version 2)" in card_text(resent["value"])

        round_two = [outbox_card(a) for e, a, _ in await outbox_activities(database)
                     if e.lane == ANNA.chat_id and e.kind is OutboxKind.SEND_PERSONAL][-1]
        assert "every Monday in August" in card_text(round_two)
        approve = button(round_two, "Approve")
        assert approve["data"]["round"] == 2
        await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, approve["data"])
        async with database.sessions() as session:
            final = await store.get_request(session, request_id)
            events = [e.event.value for e in await store.history(session, request_id)]
        assert final is not None and final.state is ApprovalState.APPROVED and final.round == 2
        assert events == ["submitted", "changes_requested", "resubmitted", "approved"]


async def test_a_form_naming_someone_elses_request_saves_nothing_and_shows_nothing_of_it(
    settings, connector: FakeConnector
) -> None:
    async with accounts_bot(settings) as (client, wiring):
        database = wiring.desk.database
        await meet(client, connector.url, ANNA, SAM, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        request_id = button(sent["value"], "Withdraw")["data"]["request_id"]
        await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, {
            "request_id": request_id, "round": 1, "decision": "request_changes", "comment": "Who checks it in August?"})

        # Lee sends a form naming Sam's request: half filled (kept as a draft) or saved as a draft.
        other = {"form_id": "f" * 32, "request_id": request_id, "platform": "instagram"}
        answers = [await execute(client, connector.url, LEE, verb, other)
                   for verb in (ACCOUNT_SUBMIT_VERB, ACCOUNT_SAVE_DRAFT_VERB)]

        for answer in answers:  # a message, not the form: neither Sam's reference nor the Head's comment
            assert answer["type"] == "application/vnd.microsoft.activity.message"
            assert "did not send" in answer["value"] and "August" not in answer["value"]
        async with database.sessions() as session:
            assert await store.get_draft(session, LEE.aad, request_id) is None
            refused = await audit_store.recent(session, actor_aad=LEE.aad)
        reference = sent_reference(sent)
        assert [(e.action, e.record_ref, e.reason) for e in refused] == [
            (ACCOUNT_SAVE_DRAFT_VERB, reference, "not_the_requester"),
            (ACCOUNT_SUBMIT_VERB, reference, "not_the_requester")]


def sent_reference(sent: dict) -> str:  # type: ignore[type-arg]
    """The request's reference, as the card that answered its sending shows it."""
    text = card_text(sent["value"])
    return next(word.strip(".,()") for word in text.split() if word.startswith("ACC-"))


async def test_the_requester_can_withdraw_while_it_waits(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        withdraw = button(sent["value"], "Withdraw")
        done = await execute(client, connector.url, SAM, withdraw["verb"], withdraw["data"])
        assert "Withdrawn" in card_text(done["value"])
        late = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                             {**withdraw["data"], "decision": "approve"})
        assert "Sam Teacher withdrew this request. Nothing was changed." in card_text(late["value"])
        queued = await outbox_activities(wiring.desk.database)
        updates = [a for e, a, _ in queued if e.kind is OutboxKind.UPDATE_ACTIVITY]
        assert updates and "Status: Withdrawn" in card_text(outbox_card(updates[-1]))


async def test_a_head_teacher_who_never_opened_the_bot_gets_the_request_when_they_do(
    settings, connector: FakeConnector
) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        assert "Anna Smith has not opened the bot yet" in card_text(sent["value"])
        assert [e for e, _, _ in await outbox_activities(wiring.desk.database)] == []
        await say(client, connector.url, ANNA, "hello")
        assert await wiring.desk.route_pending() == 1
        assert await wiring.desk.route_pending() == 0  # once
        [(entry, activity, _)] = await outbox_activities(wiring.desk.database)
        assert entry.lane == ANNA.chat_id and "Approve" in card_text(outbox_card(activity))


async def test_lee_sees_the_register_without_hand_over_flags(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, _):
        await say(client, connector.url, LEE, "accounts")
        text = card_text(connector.cards()[0])
        assert "No accounts have been approved through the bot yet" in text and "hand-over" not in text


async def test_runners_picked_by_teams_id_are_resolved_to_the_people_they_are(
    settings, connector: FakeConnector
) -> None:
    """The Agents Playground's people picker gives Teams user ids; Teams' gives Entra object ids."""
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        values = case_values(**{runner_field(1): SAM.teams_id, runner_field(2): LEE.aad})
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **values})
        assert "Sent to Anna Smith" in card_text(sent["value"])
        async with wiring.desk.database.sessions() as session:
            [request] = await store.requests_of(session, SAM.aad)
        assert [(r["aad_object_id"], r["name"]) for r in request.payload["runners"]] == [
            (SAM.aad, SAM.name), (LEE.aad, LEE.name)]

        same = case_values(**{runner_field(1): SAM.teams_id, runner_field(2): SAM.aad})
        again = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": "9" * 32, **same})
        assert "The same person is already runner 1" in card_text(again["value"])
        runner = next(i for i in again["value"]["body"] if i.get("id") == runner_field(1))
        assert runner["value"] == SAM.aad  # kept in its slot as the person it is, and named in the choices
        assert {"title": SAM.name, "value": SAM.aad} in runner["choices"]
        assert "Chosen: Sam Teacher" in card_text(again["value"])

        stranger = case_values(**{runner_field(2): "29:never-used-the-bot"})
        unknown = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": "8" * 32, **stranger})
        assert "This person is not on the school's staff list" in card_text(unknown["value"])


async def test_people_whose_chat_has_no_name_are_named_from_the_directory_or_their_own_message(
    settings, connector: FakeConnector
) -> None:
    """The Playground's installation activity carries no user name, so a stored chat may have none."""
    from bot.app import SERVICES
    from tests.support.approvals import save_chat

    async with accounts_bot(settings) as (client, wiring):
        conversations = client.app[SERVICES].conversations
        for person in (SAM, ANNA):
            await save_chat(conversations, person, connector.url)
        async with wiring.desk.database.transaction() as session:
            from sqlalchemy import update

            from store.conversations import ConversationRefRow

            await session.execute(update(ConversationRefRow).values(user_name=None))
        values = case_values(**{runner_field(1): SAM.teams_id, runner_field(2): ANNA.teams_id})
        await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **values})
        async with wiring.desk.database.sessions() as session:
            [request] = await store.requests_of(session, SAM.aad)
        assert [r["name"] for r in request.payload["runners"]] == [SAM.name, ANNA.name]


async def test_the_form_asks_nothing_about_training_and_an_old_draft_with_an_answer_still_resumes(
        settings, connector: FakeConnector) -> None:
    from datetime import UTC, datetime

    async with accounts_bot(settings) as (client, wiring):
        async with wiring.desk.database.transaction() as session:  # a draft saved while the form still asked
            await store.save_draft(session, SAM.aad, {"aim": "Old draft", runner_field(1): LEE.aad,
                                                      "runner_1_training": "confirmed"}, now=datetime.now(UTC))
        await say(client, connector.url, SAM, "new account")
        [form] = connector.cards()
        inputs = {i["id"]: i.get("value") for i in form["body"] if str(i.get("type", "")).startswith("Input.")}
        assert inputs["aim"] == "Old draft" and inputs[runner_field(1)] == LEE.aad
        assert not [name for name in inputs if "training" in name]
        assert "taken from the school's records, not asked here" in card_text(form)
        assert_valid_cards([form])
