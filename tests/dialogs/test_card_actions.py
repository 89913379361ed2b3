"""Card actions reach the feature that registered their verb, with the authenticated actor."""

from __future__ import annotations

from bot.app import SERVICES
from bot.settings import Settings
from cards.base import AdaptiveCard, TextBlock
from cards.replies import ActionResult, CommandReply
from domain.access import staff
from domain.commands import CommandInfo
from services.requests import CardAction, CommandRequest
from tests.fakes.activities import personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot

SAM = user()


def invoke(service_url: str, verb: str, data: dict, sender: dict = SAM) -> dict:
    activity = personal_activity(
        service_url, type_="invoke", name="adaptiveCard/action", sender=sender,
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
    )
    activity["replyToId"] = "card-message-1"
    return activity


async def test_execute_reaches_the_handler_with_the_authenticated_actor(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    seen: list[CardAction] = []

    async def handler(action: CardAction) -> ActionResult:
        seen.append(action)
        return ActionResult(card=AdaptiveCard(body=[TextBlock(text="replaced")]))

    async with running_bot(dev_settings) as client:
        client.app[SERVICES].router.on_action("test_verb", handler, access=staff())
        response = await client.post(
            "/api/messages", json=invoke(connector.url, "test_verb", {"x": 1, "aadObjectId": "someone-else"})
        )
        body = await response.json()
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["body"][0]["text"] == "replaced"
    [action] = seen
    assert action.actor.aad_object_id == SAM["aadObjectId"]  # not the id the card data claimed
    assert action.data["x"] == 1 and action.card_activity_id == "card-message-1" and not action.via_submit


async def test_submit_fallback_updates_the_card_it_came_from(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async def handler(action: CardAction) -> ActionResult:
        assert action.via_submit
        return ActionResult(card=AdaptiveCard(body=[TextBlock(text="after submit")]), message="Saved.")

    submit = personal_activity(connector.url, value={"verb": "test_verb", "x": 2})
    submit["replyToId"] = "card-message-7"
    async with running_bot(dev_settings) as client:
        client.app[SERVICES].router.on_action("test_verb", handler, access=staff())
        await client.post("/api/messages", json=submit)
    update, message = connector.sent()
    assert update.method == "PUT" and update.activity_id == "card-message-7"
    assert update.body["attachments"][0]["content"]["body"][0]["text"] == "after submit"
    assert message.body["text"] == "Saved."


async def test_registered_command_is_routed_with_its_argument(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async def handler(request: CommandRequest) -> CommandReply:
        return CommandReply(texts=[f"echo: {request.argument} by {request.actor.name}"])

    async with running_bot(dev_settings) as client:
        client.app[SERVICES].router.on_command(CommandInfo("test_echo", phrases=("test echo",)), handler,
                                                  access=staff())
        await client.post("/api/messages", json=personal_activity(connector.url, text="Test echo Priya until 1 Dec"))
    assert connector.texts() == ["echo: Priya until 1 Dec by Sam Teacher"]
