"""/api/messages, health and readiness over real HTTP through the app factory (dev mode)."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from tests.fakes.activities import OTHER_TENANT, personal_activity
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot, stored_state_rows


async def test_health_and_readiness(dev_settings: Settings) -> None:
    async with running_bot(dev_settings) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"a string"', "application/json", 400),
        (b'{"text": "no type"}', "application/json", 400),
        (b'{"type": "message"}', "application/json", 400),  # no serviceUrl to answer on
        (b"type=message", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe\x00garbage", "application/json", 400),
    ],
)
async def test_malformed_bodies_get_4xx_not_500(
    dev_settings: Settings, body: bytes, content_type: str, status: int
) -> None:
    async with running_bot(dev_settings) as client:
        response = await client.post("/api/messages", data=body, headers={"Content-Type": content_type})
        assert response.status == status
        assert await stored_state_rows(client) == 0


async def test_oversized_body_is_refused(dev_settings: Settings) -> None:
    async with running_bot(dev_settings) as client:
        response = await client.post(
            "/api/messages", data=b"{" + b" " * (300 * 1024) + b"}", headers={"Content-Type": "application/json"}
        )
        assert response.status == 413


async def test_help_gets_the_help_card(dev_settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(dev_settings) as client:
        response = await client.post("/api/messages", json=personal_activity(connector.url, text="help"))
        assert response.status == 201
    cards = connector.cards()
    assert len(cards) == 1
    assert cards[0]["body"][0]["text"] == "How Policy Bot can help"
    titles = [action["title"] for action in cards[0]["actions"]]
    assert titles == ["Report an incident", "Can I post this photo?", "Propose a school account",
                      "Ask about the policy"]


async def test_unknown_text_gets_the_help_card_with_a_plain_explanation(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="banana"))
    [delivery] = connector.sent()
    assert "didn't understand" in delivery.body["text"]
    assert delivery.body["attachments"][0]["content"]["body"][0]["text"] == "How Policy Bot can help"


async def test_every_flow_on_the_help_card_starts_something_real(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        for flow in ("report_incident", "check_photo", "propose_account", "ask_policy"):
            await client.post(
                "/api/messages", json=personal_activity(connector.url, value={"verb": "start_flow", "flow": flow})
            )
    replies = connector.sent()
    assert len(replies) >= 4
    assert not any("coming soon" in str(delivery.body).lower() for delivery in replies)


async def test_install_in_personal_chat_sends_the_welcome_card_once(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        await client.post(
            "/api/messages", json=personal_activity(connector.url, type_="installationUpdate", action="add")
        )
        members = personal_activity(connector.url, type_="conversationUpdate")
        members["membersAdded"] = [{"id": "28:policy-bot"}, {"id": "29:staff-sam"}]
        await client.post("/api/messages", json=members)
    cards = connector.cards()
    assert len(cards) == 1
    assert cards[0]["body"][0]["text"] == "Welcome to Policy Bot"


async def test_other_tenants_are_refused_before_any_state_is_touched(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        response = await client.post(
            "/api/messages", json=personal_activity(connector.url, text="help", tenant=OTHER_TENANT)
        )
        assert response.status == 403
        assert await stored_state_rows(client) == 0
    assert connector.sent() == []


async def test_activity_without_tenant_is_refused(dev_settings: Settings, connector: FakeConnector) -> None:
    activity = personal_activity(connector.url, text="help")
    del activity["channelData"]
    async with running_bot(dev_settings) as client:
        response = await client.post("/api/messages", json=activity)
        assert response.status == 403
    assert connector.sent() == []


async def test_unknown_card_action_invoke_answers_200_with_a_message(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    invoke = personal_activity(
        connector.url, type_="invoke", name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "no_such_verb", "data": {}}},
    )
    async with running_bot(dev_settings) as client:
        response = await client.post("/api/messages", json=invoke)
        assert response.status == 200
        body = await response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "no longer active" in body["value"]
