"""Shared pieces of the outbox tests (no tests here): a fake clock, adapters on the fake connector, builders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from sqlalchemy import select

from bot.auth import BotFrameworkConfig
from bot.outbox_worker import Delivered, Sender
from store.db import Database
from store.outbox import ChannelTarget, OutboxEntry, OutboxRow, OutboxStatus, list_entries
from tests.fakes.activities import TENANT
from tests.fakes.credentials import FixedTokenCredentialsFactory

APP_ID = "11111111-2222-3333-4444-555555555555"
SLT_CHANNEL = "19:slt-incidents@thread.tacv2"
TEAM = "19:staff-team@thread.tacv2"


class FakeClock:
    """Time that moves only when told to (or when the worker sleeps).

    ``sleep`` is the worker waiting in place (rate limit, a record retried): time moves on by that much.
    ``wait_until`` is a timer beside other work (the claims' heartbeat): it fires once time has been
    moved past its moment, by ``advance`` or by a ``sleep``, and never moves time itself.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.current = (start or datetime.now(UTC)).replace(microsecond=0)
        self.slept: list[float] = []
        self._timers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)

    async def wait_until(self, moment: datetime) -> None:
        if moment <= self.current:
            await asyncio.sleep(0)
            return
        timer = (moment, asyncio.get_running_loop().create_future())
        self._timers.append(timer)
        try:
            await timer[1]
        finally:
            if timer in self._timers:
                self._timers.remove(timer)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        for moment, fired in list(self._timers):
            if moment <= self.current and not fired.done():
                fired.set_result(None)


def dev_adapter() -> CloudAdapter:
    """The adapter as dev mode builds it: no app id, so no token either way."""
    config = BotFrameworkConfig(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")
    return CloudAdapter(ConfigurationBotFrameworkAuthentication(config))


def registered_adapter() -> CloudAdapter:
    """The adapter with an app id; its outbound token comes from the test credentials factory."""
    config = BotFrameworkConfig(APP_ID=APP_ID, APP_PASSWORD="unused", APP_TYPE="SingleTenant", APP_TENANTID=TENANT)
    return CloudAdapter(
        ConfigurationBotFrameworkAuthentication(config, credentials_factory=FixedTokenCredentialsFactory(APP_ID))
    )


def personal_reference(service_url: str, conversation_id: str = "a:personal-sam") -> dict[str, Any]:
    """A serialised ConversationReference, as bot/references.py stores one for a personal chat."""
    return {
        "activityId": "in-1",
        "user": {"id": "29:staff-sam", "name": "Sam Teacher", "aadObjectId": "00000000-0000-0000-0000-000000000101"},
        "bot": {"id": "28:policy-bot", "name": "Policy Bot"},
        "conversation": {"id": conversation_id, "conversationType": "personal", "tenantID": TENANT},
        "channelId": "msteams",
        "locale": "en-GB",
        "serviceUrl": service_url,
    }


def slt_channel(service_url: str) -> ChannelTarget:
    return ChannelTarget(service_url=service_url, channel_id=SLT_CHANNEL, tenant_id=TENANT, team_id=TEAM)


def text_activity(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text}


def card_activity(title: str) -> dict[str, Any]:
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": title}]}
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


async def entries(database: Database) -> list[OutboxEntry]:
    async with database.sessions() as session:
        return await list_entries(session)


async def entry(database: Database, outbox_id: int) -> OutboxEntry:
    return next(e for e in await entries(database) if e.id == outbox_id)


async def claim_of(database: Database, outbox_id: int) -> tuple[str | None, datetime | None]:
    """The message's claim as stored: (claim token, claimed until)."""
    async with database.sessions() as session:
        claim = select(OutboxRow.claim_token, OutboxRow.claimed_until).where(OutboxRow.id == outbox_id)
        row = (await session.execute(claim)).one()
    return row.claim_token, row.claimed_until


async def next_attempt_in(database: Database, clock: FakeClock) -> float | None:
    """Seconds until the next pending message comes due (None when nothing is pending; 0 when pending
    messages are all due already, i.e. only waiting behind another message of their conversation)."""
    async with database.sessions() as session:
        moments = (
            await session.scalars(select(OutboxRow.next_attempt_at).where(OutboxRow.status == OutboxStatus.PENDING))
        ).all()
    if not moments:
        return None
    waits = [((m if m.tzinfo else m.replace(tzinfo=UTC)) - clock.now()).total_seconds() for m in moments]
    return min((w for w in waits if w > 0), default=0.0)


class RecordingSender:
    """Wraps a sender and notes, per conversation lane, the (fake) time of each send."""

    def __init__(self, inner: Sender, clock: FakeClock) -> None:
        self._inner = inner
        self._clock = clock
        self.sends: list[tuple[str, datetime]] = []

    async def post_to_channel(self, channel: ChannelTarget, activity: dict[str, Any]) -> Delivered:
        self.sends.append((channel.channel_id, self._clock.now()))
        return await self._inner.post_to_channel(channel, activity)

    async def send_personal(self, reference: dict[str, Any], activity: dict[str, Any]) -> Delivered:
        self.sends.append((reference["conversation"]["id"], self._clock.now()))
        return await self._inner.send_personal(reference, activity)

    async def update_activity(self, reference: dict[str, Any], activity_id: str, activity: dict[str, Any]) -> Delivered:
        self.sends.append((reference["conversation"]["id"].split(";")[0], self._clock.now()))
        return await self._inner.update_activity(reference, activity_id, activity)


class BlockingSender:
    """A sender that hangs (like a process about to be killed): before sending, or after Teams accepted."""

    def __init__(self, inner: Sender, *, after_send: bool) -> None:
        self._inner = inner
        self._after_send = after_send
        self.entered = asyncio.Event()
        self._never = asyncio.Event()

    async def _hang(self) -> None:
        self.entered.set()
        await self._never.wait()

    async def send_personal(self, reference: dict[str, Any], activity: dict[str, Any]) -> Delivered:
        if not self._after_send:
            await self._hang()
        delivered = await self._inner.send_personal(reference, activity)
        await self._hang()
        return delivered

    async def post_to_channel(self, channel: ChannelTarget, activity: dict[str, Any]) -> Delivered:
        raise NotImplementedError

    async def update_activity(self, reference: dict[str, Any], activity_id: str, activity: dict[str, Any]) -> Delivered:
        raise NotImplementedError
