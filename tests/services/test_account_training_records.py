"""Issue 17 on SQLite and PostgreSQL: a business case's "has read the policy and been trained" comes from the school's
records, never from the applicant. The form asks nothing about it; each runner's acknowledgement of the current
policy and latest training are looked up on the server when the case is sent and shown on the Head Teacher's card
and the requester's receipt; a runner with no training recorded is "training to follow" (the Head confirms, SLT are
followed up); a crafted training answer changes nothing; a request stored before this still loads and shows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cards.accounts import ACCOUNT_SUBMIT_VERB
from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_REFRESH_VERB
from cards.training import APPROVE_ANYWAY_TITLE
from domain.accounts import Training
from domain.approvals import ApprovalKind, ApprovalState
from services.accounts import AccountsWiring
from store import account_register as register_store
from store import acknowledgements as notices
from store import approvals as store
from store.db import Database
from tests.support.approvals import (
    ANNA,
    LEE,
    POLICY_VERSION,
    SAM,
    TRAINED_ON,
    TRAINING_COURSE,
    TUESDAY_10AM,
    FakeClock,
    button,
    card_text,
    case_values,
    click,
    outbox_activities,
    outbox_card,
    save_chat,
    save_slt_channel,
    train,
    wiring,
)

NOWHERE = "http://127.0.0.1:9/connector"
FORM_ID = "f" * 32
READ_ON = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
async def built(database: Database) -> AccountsWiring:
    """Sam and Anna have opened the bot; an SLT channel is set; nobody's training is recorded yet."""
    made = wiring(database, FakeClock(TUESDAY_10AM))
    for person in (SAM, ANNA, LEE):
        await save_chat(made.desk._conversations, person, NOWHERE)  # noqa: SLF001 - test set-up
    await save_slt_channel(database, NOWHERE)
    return made


async def acknowledged(database: Database, *people: Any, version: str = POLICY_VERSION) -> None:
    async with database.transaction() as session:
        for person in people:
            await notices.acknowledge(session, person.aad, person.name, version, READ_ON)


async def send(built: AccountsWiring, **extra: str) -> Any:
    return await built.accounts.submit(click(SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values(), **extra}))


async def the_request(database: Database) -> Any:
    async with database.sessions() as session:
        [request] = await store.requests_of(session, SAM.aad)
    return request


async def heads_card(database: Database) -> dict[str, Any]:
    cards = [outbox_card(activity) for entry, activity, _ in await outbox_activities(database)
             if entry.lane == ANNA.chat_id]
    assert cards, "nothing was sent to the Head Teacher"
    return cards[-1]


def text_blocks(node: Any) -> list[str]:
    """Each TextBlock's text, in the order a person reads them (Markdown escapes removed)."""
    if isinstance(node, list):
        return [text for item in node for text in text_blocks(item)]
    if not isinstance(node, dict):
        return []
    own = [card_text({"t": node["text"]})] if node.get("type") == "TextBlock" else []
    return own + [text for value in node.values() for text in text_blocks(value)]


def decide(request: Any, **extra: Any) -> dict[str, Any]:
    return {"request_id": request.id, "round": request.round, "decision": "approve", "comment": "", **extra}


async def test_a_runners_training_and_reading_from_the_records_show_with_their_dates_on_the_heads_card(
    built: AccountsWiring, database: Database
) -> None:
    await train(database, LEE)
    await acknowledged(database, LEE)
    receipt = await send(built)
    assert receipt.card is not None
    lee_short = f"read the policy on {READ_ON:%-d %b %Y}; trained on {TRAINED_ON:%-d %b %Y}"
    lee_line = f"{lee_short} ({TRAINING_COURSE})"
    sam_line = "has not confirmed reading the current policy; no training recorded"
    for card in (receipt.card.to_dict(), await heads_card(database)):
        text = card_text(card)
        assert f"**Lee Carter (runner):** {lee_short} |" in text  # the short summary, first (what: in the details)
        assert f"**Sam Teacher (runner):** {sam_line}" in text
        blocks = text_blocks(card)
        title = blocks.index("Lee Carter: policy and training (school records when sent)")  # the details
        assert blocks[title + 1] == lee_line
        assert "No social media training recorded for Sam Teacher when this was sent" in text
    request = await the_request(database)
    lee = request.payload["runners"][1]
    assert (lee["records_read"], lee["trained_on"], lee["training_course"], lee["training"]) == (
        True, TRAINED_ON.isoformat(), TRAINING_COURSE, None)


async def test_a_runner_with_no_training_recorded_needs_the_heads_confirmation_and_slt_follow_it_up(
    built: AccountsWiring, database: Database
) -> None:
    await train(database, SAM)  # Lee has none
    await send(built)
    request = await the_request(database)
    asked = await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, decide(request)))
    assert asked.card is not None
    asking = asked.card.to_dict()
    assert "No social media training is recorded for Lee Carter" in card_text(asking)
    assert (await the_request(database)).state is ApprovalState.PENDING  # nothing decided yet
    back = await built.desk.refresh(click(ANNA, APPROVAL_REFRESH_VERB, button(asking, "Back to the request")["data"]))
    assert back.card is not None and "Approve" in card_text(back.card.to_dict())

    done = await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, button(asking, APPROVE_ANYWAY_TITLE)["data"]))
    assert done.card is not None and (await the_request(database)).state is ApprovalState.APPROVED
    async with database.sessions() as session:
        [follow_up] = await notices.notices(session, notices.TRAINING_FOLLOWUP)
        [account] = await register_store.accounts_with_closures(session)
    assert (follow_up.name, follow_up.key, follow_up.closed_at) == ("Lee Carter", request.reference, None)
    assert {a.name: a.training for a in account.administrators} == {
        "Sam Teacher": Training.CONFIRMED, "Lee Carter": Training.REQUESTED}


async def test_trained_runners_are_approved_at_once_with_no_follow_up(
    built: AccountsWiring, database: Database
) -> None:
    await train(database, SAM, LEE)
    await send(built)
    request = await the_request(database)
    await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, decide(request)))
    assert (await the_request(database)).state is ApprovalState.APPROVED
    async with database.sessions() as session:
        assert await notices.notices(session, notices.TRAINING_FOLLOWUP) == []


async def test_a_crafted_training_answer_is_ignored_the_server_decides_from_the_records(
    built: AccountsWiring, database: Database
) -> None:
    sent = await send(built, training_1="confirmed", training_2="confirmed", runner_1_training="confirmed",
                      runner_2_training="confirmed")
    assert sent.card is not None and "Sent to Anna Smith" in card_text(sent.card.to_dict())
    request = await the_request(database)
    assert [(r["training"], r["records_read"], r["trained_on"]) for r in request.payload["runners"]] == [
        (None, True, None), (None, True, None)]
    assert "no training recorded" in card_text(await heads_card(database))
    # A crafted "confirmed" on the decision does not skip the confirmation either: it is asked of the records.
    asked = await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, decide(request, training="confirmed")))
    assert asked.card is not None
    assert "No social media training is recorded for Sam Teacher, Lee Carter" in card_text(asked.card.to_dict())
    assert (await the_request(database)).state is ApprovalState.PENDING


async def test_a_request_stored_before_the_records_were_used_still_loads_shows_and_is_decided(
    built: AccountsWiring, database: Database
) -> None:
    old_payload = {
        "platform": "facebook", "platform_other": None, "account_name": "Holy Trinity Year 6",
        "aim": "Share Year 6 learning with families", "audience": "Parents of Year 6",
        "promotion": "Newsletter and letters home", "visibility": "private",
        "monitoring_plan": "Checked daily at 4pm", "holiday_monitoring": "Checked twice a week in holidays",
        "runners": [{"aad_object_id": SAM.aad, "name": SAM.name, "training": "confirmed"},
                    {"aad_object_id": LEE.aad, "name": LEE.name, "training": "requested"}],
    }  # as the form made it before issue 17's records (the applicant's own answer per runner)
    sent = await built.desk.submit(ApprovalKind.NEW_ACCOUNT, SAM.actor(), old_payload)
    request = sent.request
    text = card_text(await heads_card(database))
    assert "**Sam Teacher (runner):** the applicant said they have read the policy and been trained" in text
    assert "**Lee Carter (runner):** the applicant asked for training" in text
    assert "Training requested for Lee Carter" in text
    mine = await built.desk.refresh(click(SAM, APPROVAL_REFRESH_VERB, {"request_id": request.id}))
    assert mine.card is not None and "the applicant asked for training" in card_text(mine.card.to_dict())
    # Deciding it asks the records now: nobody's training is recorded, so the Head confirms.
    asked = await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, decide(request)))
    assert asked.card is not None
    assert "No social media training is recorded for Sam Teacher, Lee Carter" in card_text(asked.card.to_dict())


async def test_reading_an_older_version_of_the_policy_does_not_count_but_the_training_does(
    built: AccountsWiring, database: Database
) -> None:
    await acknowledged(database, LEE, version="some-other-version")  # an older policy: not the current one
    await train(database, LEE, on=date(2026, 10, 1), course="Induction")
    await send(built)
    text = card_text(await heads_card(database))
    assert "**Lee Carter (runner):** has not confirmed reading the current policy; trained on 1 Oct 2026 |" in text
    assert "has not confirmed reading the current policy; trained on 1 Oct 2026 (Induction)" in text  # the details
