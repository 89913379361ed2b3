"""`approvals` (issue 19, item 3, "every copy of a request's card shows its current state"): the cards the command
sends the Head Teacher are copies of each request's card like the one routed to her, so when the request changes
elsewhere (decided on another copy, withdrawn by its requester, sent back for changes) Teams is asked to replace
them too, and the replacement offers no button. Through the running bot and the fake Teams connector (what Teams
received, and the update it was asked for), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.settings import Settings
from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_REFRESH_VERB, APPROVAL_WITHDRAW_VERB
from cards.base import CARD_CONTENT_TYPE
from store import card_copies
from store.outbox import backlog, get_entry
from tests.dialogs.test_approvals_invokes import send_case
from tests.fakes.connector import Delivery, FakeConnector
from tests.support.approvals import (
    ANNA,
    LEE,
    SAM,
    accounts_bot,
    bot_settings,
    card_text,
    delivery_worker,
    execute,
    meet,
    say,
)

DECIDER_BUTTONS = ["Approve", "Reject", "Ask for changes"]


@pytest.fixture
def settings(migrated_database_url: str) -> Settings:
    return bot_settings(migrated_database_url)


def card_of(delivery: Delivery) -> dict[str, Any] | None:
    for attachment in delivery.activity.get("attachments") or []:
        if attachment.get("contentType") == CARD_CONTENT_TYPE:
            content: dict[str, Any] = attachment["content"]
            return content
    return None


def live_buttons(card: dict[str, Any]) -> list[str]:
    """The titles of the buttons that send something to the bot, inside "Show details" panels too."""
    found: list[str] = []
    for action in card.get("actions") or []:
        if action["type"] in ("Action.Execute", "Action.Submit"):
            found.append(action["title"])
        elif action["type"] == "Action.ShowCard":
            found += live_buttons(action["card"])
    return found


async def delivered(client: Any) -> None:
    """Deliver everything queued, and wait for what the bot's own outbox worker may be sending at that moment."""
    from bot.app import SERVICES

    for _ in range(100):
        await delivery_worker(client).drain()
        async with client.app[SERVICES].database.sessions() as session:
            if (await backlog(session)).pending == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not empty")


async def delivered_ids(client: Any, request_id: int) -> dict[int, str]:
    """The Teams message id of each delivered decider's copy of the request's card, by its outbox id."""
    from bot.app import SERVICES

    database = client.app[SERVICES].database
    async with database.sessions() as session:
        copies = [c for c in await card_copies.copies(session, f"approval:{request_id}") if c.audience == "decider"]
        entries = [await get_entry(session, c.outbox_id) for c in copies]
    return {entry.id: entry.delivered_activity_id for entry in entries
            if entry is not None and entry.delivered_activity_id is not None}


@pytest.mark.parametrize("change", ["approved on the card routed to her", "withdrawn by the requester",
                                    "sent back for changes"])
async def test_the_cards_approvals_sends_are_updated_when_the_request_changes_elsewhere(
    settings: Settings, connector: FakeConnector, change: str
) -> None:
    async with accounts_bot(settings) as (client, _):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "a" * 32)
        await delivered(client)
        [routed_id] = (await delivered_ids(client, request_id)).values()  # the card routed to her when it was sent

        before = len(connector.sent())
        await say(client, connector.url, ANNA, "approvals")
        await delivered(client)
        answer = [d for d in connector.sent()[before:] if d.conversation_id == ANNA.chat_id]
        assert [d.activity.get("text") for d in answer][:1] == ["1 request waiting:"]
        [listed] = [card for d in answer if (card := card_of(d)) is not None]
        assert live_buttons(listed)[:3] == DECIDER_BUTTONS
        assert listed["refresh"]["action"]["verb"] == APPROVAL_REFRESH_VERB  # Teams refreshes it when she opens it
        assert listed["refresh"]["userIds"] == [ANNA.teams_id]
        [listed_id] = [i for i in (await delivered_ids(client, request_id)).values() if i != routed_id]

        data = {"request_id": request_id, "round": 1}
        if change == "withdrawn by the requester":
            await execute(client, connector.url, SAM, APPROVAL_WITHDRAW_VERB, data)
            status = "Withdrawn"
        elif change == "sent back for changes":
            await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                          {**data, "decision": "request_changes", "comment": "Who covers August?"},
                          reply_to=routed_id)
            status = "Changes requested"
        else:
            await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, {**data, "decision": "approve"},
                          reply_to=routed_id)
            status = "Approved"
        await delivered(client)

        updates = [d for d in connector.sent() if d.method == "PUT" and d.activity_id == listed_id]
        assert updates, "Teams was not asked to replace the card 'approvals' sent"
        replaced = card_of(updates[-1])
        assert replaced is not None and updates[-1].conversation_id == ANNA.chat_id
        assert f"Status: {status}" in card_text(replaced) and live_buttons(replaced) == []
        # Opened later, Teams' refresh shows her the same: the request as it stands, nothing to press.
        opened = await execute(client, connector.url, ANNA, APPROVAL_REFRESH_VERB, {"request_id": request_id},
                               reply_to=listed_id)
        assert f"Status: {status}" in card_text(opened["value"]) and live_buttons(opened["value"]) == []


async def test_a_card_approvals_sent_decides_the_request_and_the_routed_copy_follows(
    settings: Settings, connector: FakeConnector
) -> None:
    async with accounts_bot(settings) as (client, _):
        await meet(client, connector.url, ANNA, SAM, LEE)
        request_id = await send_case(client, connector.url, "b" * 32)
        await delivered(client)
        [routed_id] = (await delivered_ids(client, request_id)).values()
        await say(client, connector.url, ANNA, "approvals")
        await delivered(client)
        [listed_id] = [i for i in (await delivered_ids(client, request_id)).values() if i != routed_id]

        answer = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB,
                               {"request_id": request_id, "round": 1, "decision": "approve"}, reply_to=listed_id)
        assert "Approved." in card_text(answer["value"]) and live_buttons(answer["value"]) == []
        await delivered(client)
        [update] = [d for d in connector.sent() if d.method == "PUT" and d.activity_id == routed_id]
        replaced = card_of(update)
        assert replaced is not None and "Status: Approved" in card_text(replaced) and live_buttons(replaced) == []
