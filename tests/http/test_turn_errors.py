"""The error path over HTTP: a turn that fails is answered (never a 5xx), rolled back, and logged once.

``on_turn_error`` must never raise: a message gets the "Sorry" card, a card action a Universal Actions
error (HTTP 200, ``application/vnd.microsoft.error``), the message extension a dialog message; the
conversation's dialog state is cleared so a stuck dialog starts afresh.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import SERVICES
from bot.settings import Settings
from cards.base import AdaptiveCard
from domain.access import staff
from tests.fakes.activities import personal_activity
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot, stored_state_rows
from tests.support.cardtext import card_texts

SORRY_TITLE = "Sorry, something went wrong on my side"


class Boom(RuntimeError):
    pass


async def fails(_action: Any) -> Any:
    raise Boom("a service failed")


def broken_answer(question: str) -> AdaptiveCard:
    raise Boom(f"the policy index failed on {question!r}")


def turn_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "turn failed"]


def unhandled(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Anything aiohttp had to catch itself (it would have answered 500)."""
    return [r for r in caplog.records if r.name.startswith("aiohttp") and r.levelno >= logging.ERROR]


def sorry_cards(connector: FakeConnector) -> list[dict[str, Any]]:
    return [card for card in connector.cards() if SORRY_TITLE in card_texts(card)]


async def card_action(client: TestClient, connector: FakeConnector, verb: str,
                      value_data: dict[str, Any] | None = None, **extra: Any) -> Any:
    activity = personal_activity(connector.url, type_="invoke", name="adaptiveCard/action",
                                 value={"action": {"type": "Action.Execute", "verb": verb, "data": value_data or {}}},
                                 **extra)
    response = await client.post("/api/messages", json=activity)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_failing_card_action_gets_a_universal_actions_error_logged_once(
    dev_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(dev_settings) as client:
        client.app[SERVICES].router.on_action("test_fails", fails, access=staff())
        body = await card_action(client, connector, "test_fails")
    assert body["statusCode"] == 500
    assert body["type"] == "application/vnd.microsoft.error"
    assert body["value"]["code"] == "InternalServerError"
    assert body["value"]["message"].startswith("Sorry, something went wrong on my side")
    [failure] = turn_failures(caplog)
    assert failure.exc_info is not None and isinstance(failure.exc_info[1], Boom)
    assert unhandled(caplog) == []


async def test_a_retry_of_a_failed_card_action_gets_the_same_answer_and_runs_nothing(
    dev_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(dev_settings) as client:
        client.app[SERVICES].router.on_action("test_fails", fails, access=staff())
        first = await card_action(client, connector, "test_fails", activity_id="retried-1")
        again = await card_action(client, connector, "test_fails", activity_id="retried-1")
    assert again == first
    assert len(turn_failures(caplog)) == 1


async def test_a_failing_message_gets_the_sorry_card_and_its_stuck_dialog_is_cleared(
    dev_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(dev_settings, answer_question=broken_answer) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="ask"))
        assert "What would you like to know" in connector.texts()[-1]  # the dialog now waits for the question
        failed = await client.post("/api/messages", json=personal_activity(connector.url, text="Can I post it?"))
        assert failed.status == 201
        assert len(sorry_cards(connector)) == 1
        # The dialog was cleared: the next message is not taken as the question again.
        after = await client.post("/api/messages", json=personal_activity(connector.url, text="banana"))
        assert after.status == 201
    assert "didn't understand" in connector.texts()[-1]
    assert len(turn_failures(caplog)) == 1
    assert unhandled(caplog) == []


class BrokenDirectory:
    """A role directory that fails with an unexpected error (not DirectoryUnavailableError): a bug, not an outage."""

    async def roles_of(self, aad_object_id: str) -> Any:
        raise Boom("the directory failed")

    async def holders_of(self, role: Any) -> Any:
        raise Boom("the directory failed")

    async def is_in_directory(self, aad_object_id: str) -> bool:
        raise Boom("the directory failed")

    def describe(self) -> str:
        return "broken"

    async def aclose(self) -> None:
        return None


async def test_a_turn_failing_before_its_state_is_loaded_still_gets_an_answer(
    dev_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture,
) -> None:
    """Was ``KeyError: 'Internal.ConversationState'`` from ``conversation_state.delete`` and a bare 500."""
    async with running_bot(dev_settings, directory=BrokenDirectory()) as client:
        message = await client.post("/api/messages", json=personal_activity(connector.url, text="whoami"))
        assert message.status == 201
        body = await card_action(client, connector, "incident_view", value_data={"incident": 1})
    assert len(sorry_cards(connector)) == 1
    assert body["type"] == "application/vnd.microsoft.error"
    assert len(turn_failures(caplog)) == 2
    assert unhandled(caplog) == []


async def test_when_even_the_sorry_card_cannot_be_sent_the_answer_is_not_a_5xx(
    dev_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(dev_settings, answer_question=broken_answer) as client:
        connector.fail_next(403, times=10)  # the connector refuses everything: the reply, then the Sorry card
        response = await client.post("/api/messages", json=personal_activity(connector.url, text="ask is it ok?"))
        assert response.status == 201
    assert any(r.getMessage() == "could not tell the user about the failed turn" for r in caplog.records)
    assert unhandled(caplog) == []


async def test_a_failing_message_extension_gets_a_dialog_message(
    dev_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture,
) -> None:
    message = {"id": "m1", "body": {"contentType": "text", "content": "a nasty post"},
               "from": {"user": {"displayName": "Lee Carter"}}}

    async def invoke(name: str, value: dict[str, Any]) -> Any:
        response = await client.post("/api/messages", json=personal_activity(
            connector.url, type_="invoke", name=name, value=value))
        assert response.status == 200
        return await response.json()

    async with running_bot(dev_settings, directory=BrokenDirectory()) as client:
        fetched = await invoke("composeExtension/fetchTask", {"commandId": "reportMessage", "messagePayload": message})
        data = {**fetched["task"]["value"]["card"]["content"]["actions"][0]["data"], "risk": "no",
                "category": "negative_comment", "what_happened": "a nasty post"}
        body = await invoke("composeExtension/submitAction", {
            "commandId": "reportMessage", "commandContext": "message", "messagePayload": message, "data": data})
    assert body["task"]["type"] == "message"
    assert body["task"]["value"].startswith("Sorry, something went wrong on my side")
    assert len(turn_failures(caplog)) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("task/fetch", {}), ("composeExtension/query", {"commandId": "x"}), ("signin/verifyState", {}),
     ("healthCheck", None), ("adaptivecard/action", {"action": {"verb": "x"}})],
)
async def test_invokes_the_bot_does_not_handle_get_400_before_anything_runs(
    dev_settings: Settings, connector: FakeConnector, name: str, value: Any
) -> None:
    """botbuilder answers 501 (a server error Teams may retry); the bot says it does not handle them."""
    async with running_bot(dev_settings) as client:
        response = await client.post("/api/messages", json=personal_activity(
            connector.url, type_="invoke", name=name, value=value))
        assert response.status == 400
        assert "does not handle" in (await response.json())["error"]
        assert await stored_state_rows(client) == 0
    assert connector.sent() == []
