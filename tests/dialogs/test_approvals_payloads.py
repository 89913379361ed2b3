"""Malformed button data for every approvals and accounts verb, through the running bot: a clear answer, and
nothing in the database changes (requests, their history, drafts, the register, the outbox)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.app import SERVICES
from cards.accounts import (
    ACCOUNT_DISCARD_DRAFT_VERB,
    ACCOUNT_SAVE_DRAFT_VERB,
    ACCOUNT_SUBMIT_VERB,
    MAX_INPUT_SENT,
    AccountFormButton,
)
from cards.approvals import (
    APPROVAL_DECIDE_VERB,
    APPROVAL_EDIT_VERB,
    APPROVAL_REFRESH_VERB,
    APPROVAL_WITHDRAW_VERB,
    MAX_COMMENT_SENT,
    DecisionButton,
    RequestButton,
)
from domain.approvals import ApprovalAction, HistoryEvent
from store import approvals as store
from store.db import Database
from store.outbox import list_entries
from tests.fakes.connector import FakeConnector
from tests.support.approvals import (
    ANNA,
    LEE,
    SAM,
    accounts_bot,
    bot_settings,
    button,
    case_values,
    execute,
    meet,
    submit,
)

NOT_VALID = "That button is out of date or its data is not valid. Nothing was changed."
FORM_ID = "5" * 32


@pytest.fixture
def settings(sqlite_url: str):  # type: ignore[no-untyped-def]
    return bot_settings(sqlite_url)


async def snapshot(database: Database, request_id: int) -> dict[str, Any]:
    """What a click could change: the request, its history, Sam's drafts, the register and the outbox."""
    async with database.sessions() as session:
        request = await store.get_request(session, request_id)
        history = [(e.id, e.event) for e in await store.history(session, request_id)]
        drafts = [await store.get_draft(session, SAM.aad), await store.get_draft(session, SAM.aad, request_id)]
        accounts = await store.registered_accounts(session)
        outbox = [(e.id, e.lane, e.kind) for e in await list_entries(session)]
        refusals = [(r.request_id, r.detail["reason"]) for r in await store.refusals(session)]
    return {"request": request, "history": history, "drafts": drafts, "accounts": accounts, "outbox": outbox,
            "refusals": refusals}


def bad_ids(request_id: int) -> list[Any]:
    """Request ids of the wrong type or out of range (never a request, never a crash)."""
    return [True, False, -request_id, 0, 2**31, 2**63, 10**40, "9" * 5000, 1.5, float(request_id), [request_id],
            {"id": request_id}]


def bad_decisions(request_id: int) -> list[dict[str, Any]]:
    ok = {"request_id": request_id, "round": 1, "decision": "approve", "comment": ""}
    return [
        *({**ok, "request_id": bad} for bad in bad_ids(request_id)),
        *({**ok, "round": bad} for bad in ("one", "", True, -1, 0, 10**6, 1.0, [1], {"round": 1})),
        *({**ok, "decision": bad} for bad in ("withdraw", "resubmit", "APPROVE", "delete", 1, True, ["approve"])),
        *({**ok, "comment": bad} for bad in (42, True, ["fine"], {"text": "fine"}, "x" * (MAX_COMMENT_SENT + 1))),
    ]


async def test_a_decision_with_data_that_is_not_valid_is_refused_before_anything_runs(
    settings, connector: FakeConnector
) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        request_id = int(button(sent["value"], "Withdraw")["data"]["request_id"])
        before = await snapshot(wiring.desk.database, request_id)
        for data in bad_decisions(request_id):
            answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, data)
            assert answer["type"] == "application/vnd.microsoft.activity.message", data
            assert answer["value"].startswith(NOT_VALID), data
        assert await snapshot(wiring.desk.database, request_id) == before  # not even a refusal is recorded

        # The Action.Submit fallback (older clients) gets the same answer as a message.
        connector.clear()
        await submit(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, {"request_id": True, "decision": "approve",
                                                                         "round": 1})
        assert any(NOT_VALID in text for text in connector.texts())
        assert await snapshot(wiring.desk.database, request_id) == before

        # A good click still works afterwards.
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                               {"request_id": request_id, "round": 1, "decision": "approve"})
        assert "Approved." in str(answer["value"])


async def test_a_decision_missing_its_decision_or_round_changes_nothing(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        request_id = int(button(sent["value"], "Withdraw")["data"]["request_id"])
        before = await snapshot(wiring.desk.database, request_id)
        for data in ({"request_id": request_id, "round": 1},
                     {"request_id": request_id, "round": 1, "decision": None, "comment": None}):
            answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, data)
            assert answer["value"] == "That button is out of date. Nothing was changed.", data
        # A decision that names no round is out of date (issue 14, item 3): refused before the desk runs.
        for data in ({"request_id": request_id, "decision": "approve"},
                     {"request_id": request_id, "decision": "approve", "round": None},
                     {"request_id": request_id, "decision": "reject", "comment": "No"}):
            answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, data)
            assert answer["value"].startswith(NOT_VALID), data
        assert await snapshot(wiring.desk.database, request_id) == before


async def test_a_list_for_data_names_no_request(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        request_id = int(button(sent["value"], "Withdraw")["data"]["request_id"])
        before = await snapshot(wiring.desk.database, request_id)
        for verb in (APPROVAL_WITHDRAW_VERB, APPROVAL_EDIT_VERB):
            answer = await execute(client, connector.url, SAM, verb, [request_id, 1, "approve"])  # type: ignore[arg-type]
            assert "I can't find that request. Nothing was changed." in answer["value"], verb
        answer = await execute(client, connector.url, ANNA, APPROVAL_REFRESH_VERB, [request_id])  # type: ignore[arg-type]
        assert answer["value"] == "I can't find that request."
        # A decision names its round: data that is no object names none, and is refused before the desk runs.
        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, [request_id, 1, "approve"])  # type: ignore[arg-type]
        assert answer["value"].startswith(NOT_VALID)
        for verb in (ACCOUNT_SUBMIT_VERB, ACCOUNT_SAVE_DRAFT_VERB, ACCOUNT_DISCARD_DRAFT_VERB):
            answer = await execute(client, connector.url, SAM, verb, [FORM_ID])  # type: ignore[arg-type]
            assert answer["value"].startswith(NOT_VALID), verb  # a form's buttons always carry its id
        after = await snapshot(wiring.desk.database, request_id)
        # The three attempts on a request are recorded as naming none; nothing else changed.
        assert after.pop("refusals") == before.pop("refusals") + [(None, "no_such_request")] * 3
        assert after == before


@pytest.mark.parametrize("verb", [APPROVAL_REFRESH_VERB, APPROVAL_WITHDRAW_VERB, APPROVAL_EDIT_VERB])
async def test_the_requesters_buttons_with_bad_ids_change_nothing(verb: str, settings,
                                                                   connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        request_id = int(button(sent["value"], "Withdraw")["data"]["request_id"])
        before = await snapshot(wiring.desk.database, request_id)
        for data in [*({"request_id": bad, "round": 1} for bad in bad_ids(request_id)),
                     *({"request_id": request_id, "round": bad} for bad in ("x", True, -2, 10**9, [1]))]:
            answer = await execute(client, connector.url, SAM, verb, data)
            assert answer["type"] == "application/vnd.microsoft.activity.message", data
            assert answer["value"].startswith(NOT_VALID), data
        assert await snapshot(wiring.desk.database, request_id) == before
        # An id given as text that is no number names no request: answered and recorded as such.
        answer = await execute(client, connector.url, SAM, verb, {"request_id": "ACC-0001"})
        assert "I can't find that request" in answer["value"]
        # The id as digits is read as the number (some clients send Action.Submit numbers as text).
        answer = await execute(client, connector.url, SAM, verb, {"request_id": str(request_id), "round": "1"})
        assert answer["type"] == "application/vnd.microsoft.card.adaptive"


def bad_forms(request_id: int) -> list[dict[str, Any]]:
    values = case_values()
    return [
        values,  # no form id: every form the bot sends has one
        {"form_id": "", **values},
        {"form_id": "not-a-form", **values},
        {"form_id": "AB" * 16, **values},  # upper case: not an id the bot makes
        {"form_id": int("1" * 32), **values},
        {"form_id": [FORM_ID], **values},
        *({"form_id": FORM_ID, "request_id": bad, **values} for bad in [*bad_ids(request_id), "ACC-0001"]),
        {"form_id": FORM_ID, **values, "aim": "x" * (MAX_INPUT_SENT + 1)},
    ]


@pytest.mark.parametrize("verb", [ACCOUNT_SUBMIT_VERB, ACCOUNT_SAVE_DRAFT_VERB, ACCOUNT_DISCARD_DRAFT_VERB])
async def test_the_account_forms_buttons_with_bad_data_change_nothing(verb: str, settings,
                                                                       connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        await meet(client, connector.url, ANNA, SAM, LEE)
        sent = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        request_id = int(button(sent["value"], "Withdraw")["data"]["request_id"])
        saved = await execute(client, connector.url, SAM, ACCOUNT_SAVE_DRAFT_VERB,
                              {"form_id": "6" * 32, "aim": "A draft to keep"})
        assert "Draft saved" in str(saved["value"])
        before = await snapshot(wiring.desk.database, request_id)
        for data in bad_forms(request_id):
            answer = await execute(client, connector.url, SAM, verb, data)
            assert answer["type"] == "application/vnd.microsoft.activity.message", data
            assert answer["value"].startswith(NOT_VALID), str(data)[:200]
        after = await snapshot(wiring.desk.database, request_id)
        assert after == before
        assert after["drafts"][0] is not None and after["drafts"][0].values["aim"] == "A draft to keep"
        async with wiring.desk.database.sessions() as session:
            assert len(await store.requests_of(session, SAM.aad)) == 1


async def test_every_verb_of_approvals_and_accounts_has_its_payload_model(settings) -> None:
    async with accounts_bot(settings) as (client, _):
        verbs = client.app[SERVICES].router.describe()["verbs"]
    assert {verb: verbs[verb]["payload"] for verb in (
        APPROVAL_DECIDE_VERB, APPROVAL_REFRESH_VERB, APPROVAL_WITHDRAW_VERB, APPROVAL_EDIT_VERB,
        ACCOUNT_SUBMIT_VERB, ACCOUNT_SAVE_DRAFT_VERB, ACCOUNT_DISCARD_DRAFT_VERB,
    )} == {
        APPROVAL_DECIDE_VERB: "DecisionButton", APPROVAL_REFRESH_VERB: "RequestButton",
        APPROVAL_WITHDRAW_VERB: "RequestButton", APPROVAL_EDIT_VERB: "RequestButton",
        ACCOUNT_SUBMIT_VERB: "AccountFormButton", ACCOUNT_SAVE_DRAFT_VERB: "AccountFormButton",
        ACCOUNT_DISCARD_DRAFT_VERB: "AccountFormButton",
    }


def test_the_payload_models_read_what_the_cards_send() -> None:
    decision = DecisionButton.model_validate({"request_id": 7, "round": 2, "decision": "reject",
                                             "comment": "Not this term", "verb": "approval_decide"})
    assert (decision.request_id, decision.round, decision.decision, decision.comment) == (
        7, 2, ApprovalAction.REJECT, "Not this term")
    assert RequestButton.model_validate({"request_id": " 12 ", "round": "3"}) == RequestButton(request_id=12, round=3)
    assert RequestButton.model_validate({"request_id": "'; drop table"}).request_id is None
    assert RequestButton.model_validate({}).request_id is None


def test_a_decision_must_name_the_round_its_card_showed() -> None:
    """Issue 14, item 3: a decision with no round skipped the out-of-date check."""
    for data in ({"request_id": 7, "decision": "approve"}, {"request_id": 7, "decision": "approve", "round": None},
                 {"request_id": 7, "decision": "approve", "round": ""}):
        with pytest.raises(ValidationError):
            DecisionButton.model_validate(data)
    assert DecisionButton.model_validate({"request_id": 7, "decision": "approve", "round": "2"}).round == 2
    form = AccountFormButton.model_validate({"form_id": FORM_ID, "request_id": "4", "aim": "Sport", "platform": 3,
                                             "runner_1": ["someone"], "values": {"injected": "x"}, "other": 1})
    assert (form.form_id, form.request_id, form.values) == (FORM_ID, 4, {"aim": "Sport", "platform": "3"})


async def test_a_refusal_recorded_for_an_unknown_request_keeps_the_claimed_id(settings,
                                                                           connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, wiring):
        answer = await execute(client, connector.url, SAM, APPROVAL_WITHDRAW_VERB, {"request_id": "777", "round": 1})
        assert "I can't find that request. Nothing was changed." in answer["value"]
        async with wiring.desk.database.sessions() as session:
            [refused] = await store.refusals(session)
        assert refused.event is HistoryEvent.REFUSED and refused.detail["claimed_request_id"] == 777
