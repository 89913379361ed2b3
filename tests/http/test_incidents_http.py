"""Incidents through the real app over HTTP (its factory, its router, its ledger) and the real outbox worker
against the fake Bot Connector: Teams retries, an outage (429 then 503) and recovery, without duplicates.

The app delivers with its own outbox worker once the factory runs one; until then the test runs one beside it,
in real time either way (retries honour Retry-After and back off for a second or two).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import SERVICES
from bot.outbox_worker import BotFrameworkSender, OutboxWorker
from bot.settings import Settings
from cards.incidents import Verb
from dialogs.incidents import register_incidents
from services.incidents import Incidents
from store import incidents as records
from store.conversations import SchoolSettings
from store.outbox import OutboxStatus, list_entries
from tests.fakes.activities import TENANT, personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.incidents_world import shown_text

ROLES = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
SAM = user("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")
ANNA = user("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")
TOM = user("Tom Reed", "00000000-0000-0000-0000-000000000203", "29:dsl-tom")
LEE = user("Lee Carter", "00000000-0000-0000-0000-000000000102", "29:staff-lee")
SLT_CHANNEL = "19:slt-incidents@thread.tacv2"


_SETTLE_TIMEOUT_S = 20.0  # an outage of two failed attempts clears in a few seconds of back-off


@dataclass
class Bot:
    client: TestClient
    connector: FakeConnector
    incidents: Incidents | None

    def chat(self, who: dict[str, Any]) -> str:
        return f"a:personal-{who['id']}"

    async def say(self, who: dict[str, Any], text: str) -> None:
        response = await self.client.post("/api/messages", json=personal_activity(
            self.connector.url, text=text, sender=who, conversation_id=self.chat(who)))
        assert response.status in (200, 201), await response.text()

    async def invoke(self, who: dict[str, Any], verb: Verb, data: dict[str, Any], *, channel: bool = False,
                     activity_id: str | None = None) -> dict[str, Any]:
        activity = personal_activity(
            self.connector.url, type_="invoke", name="adaptiveCard/action", sender=who,
            conversation_id=self.chat(who), activity_id=activity_id,
            value={"action": {"type": "Action.Execute", "verb": verb.value, "data": data}},
        )
        if channel:
            activity["conversation"] = {"id": f"{SLT_CHANNEL};messageid=act-1", "conversationType": "channel",
                                        "tenantId": TENANT}
            activity["channelData"] = {"tenant": {"id": TENANT}, "channel": {"id": SLT_CHANNEL},
                                       "team": {"id": "team-1"}}
        response = await self.client.post("/api/messages", json=activity)
        assert response.status == 200, await response.text()
        return await response.json()

    async def settle(self) -> None:
        """Wait until the outbox has nothing pending (everything delivered, or given up)."""
        deadline = asyncio.get_running_loop().time() + _SETTLE_TIMEOUT_S
        while any(e.status is OutboxStatus.PENDING for e in await self.outbox()):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the outbox did not settle: {await self.outbox()}")
            await asyncio.sleep(0.05)

    async def outbox(self) -> list[Any]:
        async with self.client.app[SERVICES].database.sessions() as session:
            return await list_entries(session)


@pytest.fixture
async def bot(database_url: str, connector: FakeConnector) -> AsyncIterator[Bot]:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES)
    async with running_bot(settings) as client:
        services = client.app[SERVICES]
        incidents = None
        if not services.router.handles(Verb.SUBMIT.value):  # the factory does not register incidents yet
            incidents = register_incidents(
                services.router, database=services.database, directory=services.directory,
                conversations=services.conversations, settings=services.settings,
            )
        worker = None
        if not any(isinstance(getattr(c, "__self__", None), OutboxWorker) for c in client.app.cleanup_ctx):
            worker = OutboxWorker(services.database, BotFrameworkSender(services.adapter, ""), poll_seconds=0.05,
                                  rng=random.Random(6))
            worker.start()
        world = Bot(client, connector, incidents)
        for who in (SAM, ANNA, TOM):  # each has opened the bot once, so it can reach them later
            await world.say(who, "whoami")
        await SchoolSettings(services.database).set(SchoolSettings.SLT_CHANNEL, json.dumps({
            "channel_id": SLT_CHANNEL, "team_id": "team-1", "conversation_id": SLT_CHANNEL,
            "service_url": connector.url, "tenant_id": TENANT,
        }), ANNA["aadObjectId"])
        connector.clear()
        try:
            yield world
        finally:
            if worker is not None:
                await worker.stop()


SECRET = "SECRETWHAT [phishing](https://evil.example) **now**"


async def report(bot: Bot, *, category: str = "offensive_content", activity_id: str | None = None,
                 draft: str | None = None) -> dict[str, Any]:
    """Sam types report and answers the cards; returns the invoke answer to "Send report"."""
    await bot.say(SAM, "report")
    first = cards_in(bot.connector, bot.chat(SAM))[-1]
    assert "immediate risk of harm" in shown_text(first)
    draft = draft or first["actions"][1]["data"]["draft"]
    categories = await bot.invoke(SAM, Verb.RISK, {"draft": draft, "risk": "no"})
    assert categories["type"] == "application/vnd.microsoft.card.adaptive"
    form = await bot.invoke(SAM, Verb.CATEGORY, {"draft": draft, "risk": "no", "category": category})
    assert "Guidance:" in shown_text(form["value"])
    return await bot.invoke(SAM, Verb.SUBMIT, {
        "draft": draft, "risk": "no", "category": category, "what_happened": SECRET, "platform": "Facebook",
        "involved": "SECRETWHO", "actions_taken": "blocked,screenshot_kept",
    }, activity_id=activity_id)


def cards_in(connector: FakeConnector, conversation_id: str) -> list[dict[str, Any]]:
    return [attachment["content"] for d in connector.sent() if d.conversation_id == conversation_id
            for attachment in d.body.get("attachments") or []]


def posts(connector: FakeConnector) -> list[Any]:
    return [d for d in connector.sent() if d.method == "POST" and d.path.rstrip("/").endswith("/v3/conversations")]


def personal_sends(connector: FakeConnector, who: dict[str, Any]) -> list[Any]:
    return [d for d in connector.sent() if d.method == "POST" and d.conversation_id == f"a:personal-{who['id']}"]


async def test_report_over_http_then_delivery_through_an_outage_without_duplicates(bot: Bot) -> None:
    # Teams is throttling, then failing, then recovers.
    bot.connector.fail_next(429, times=1, retry_after="1", conversation_id=SLT_CHANNEL)
    bot.connector.fail_next(503, times=1, conversation_id=bot.chat(ANNA))
    receipt = await report(bot, activity_id="submit-1")
    assert "Report received: INC-2026-0001" in shown_text(receipt["value"])
    # The record and its two messages were committed before the answer (the connector had not accepted any).
    async with bot.client.app[SERVICES].database.sessions() as session:
        assert (await records.by_reference(session, "INC-2026-0001")) is not None
    assert len(await bot.outbox()) == 2

    # Teams retries the same invoke (same activity id): answered from the ledger, nothing done twice.
    again = await report(bot, activity_id="submit-1", draft=None)
    assert "INC-2026-0001" in json.dumps(again) and "INC-2026-0002" not in json.dumps(again)
    assert len(await bot.outbox()) == 2

    await bot.settle()
    assert {e.status for e in await bot.outbox()} == {OutboxStatus.DELIVERED}
    assert bot.connector.attempts >= 4  # two refused, two accepted
    [post] = posts(bot.connector)
    [head] = personal_sends(bot.connector, ANNA)
    channel_text = json.dumps(post.body)
    assert "INC-2026-0001" in channel_text and "Offensive or abusive content" in channel_text
    for hidden in ("SECRET", "Sam Teacher", "Facebook", "evil.example"):
        assert hidden not in channel_text
    assert r"\[phishing\]\(https\[:\]//evil\[.\]example\) \*\*now\*\*" in shown_text(head.body)
    await asyncio.sleep(0.5)
    assert len(posts(bot.connector)) == 1 and len(personal_sends(bot.connector, ANNA)) == 1  # still once


async def test_the_same_report_sent_twice_in_two_deliveries_is_one_record_and_one_post(bot: Bot) -> None:
    draft = "c" * 32
    await report(bot, draft=draft, activity_id="submit-a")
    second = await bot.invoke(SAM, Verb.SUBMIT, {"draft": draft, "risk": "no", "category": "offensive_content",
                                                  "what_happened": "again"}, activity_id="submit-b")
    assert "already received" in shown_text(second["value"])
    await bot.settle()
    assert len(posts(bot.connector)) == 1
    async with bot.client.app[SERVICES].database.sessions() as session:
        assert len(await records.reported_by(session, SAM["aadObjectId"])) == 1


async def test_slt_take_the_lead_and_close_from_the_channel_and_the_reporter_is_told(bot: Bot) -> None:
    await report(bot)
    await bot.settle()
    [post] = posts(bot.connector)
    lead = await bot.invoke(ANNA, Verb.TAKE_LEAD, {"incident": 1}, channel=True)
    assert "Anna Smith" in shown_text(lead["value"]) and "SECRET" not in json.dumps(lead)
    refused = await bot.invoke(LEE, Verb.CLOSE, {"incident": 1, "outcome_kind": "resolved", "outcome": "x"},
                               channel=True)
    assert refused["type"] == "application/vnd.microsoft.activity.message"
    assert "Only the people the policy names" in refused["value"]
    closed = await bot.invoke(ANNA, Verb.CLOSE, {"incident": 1, "outcome_kind": "resolved",
                                                 "outcome": "OUTCOMESECRET"}, channel=True)
    assert "Closed" in shown_text(closed["value"]) and "OUTCOMESECRET" not in json.dumps(closed)
    await bot.settle()
    channel_updates = [d for d in bot.connector.sent()
                       if d.method == "PUT" and d.conversation_id == post.conversation_id]
    assert [d.activity_id for d in channel_updates] == [post.conversation_id.split("=")[-1]] * 2
    assert "Closed" in shown_text(channel_updates[-1].body) and "SECRET" not in json.dumps(channel_updates[-1].body)
    [told] = personal_sends(bot.connector, SAM)[-1:]
    assert "Your report INC-2026-0001 is closed" in shown_text(told.body)
    assert "OUTCOMESECRET" not in json.dumps(told.body) and "Anna" not in json.dumps(told.body)


async def test_my_reports_over_http(bot: Bot) -> None:
    await report(bot)
    await bot.settle()
    bot.connector.clear()
    await bot.say(SAM, "my reports")
    [card] = cards_in(bot.connector, bot.chat(SAM))
    assert "INC-2026-0001" in shown_text(card) and "SECRET" not in json.dumps(card)
    await bot.say(LEE, "my reports")
    assert "You have not reported anything yet" in shown_text(cards_in(bot.connector, bot.chat(LEE))[-1])
