"""The outbox inside the running app (built by the factory, wired as the README's snippet says), and over
the shared-session connector transport (``bot/connector.py``) when that transport is present."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from pydantic import ValidationError

from bot.app import OUTBOX, SERVICES, create_app
from bot.auth import BotFrameworkConfig
from bot.outbox_worker import BotFrameworkSender, OutboxWorker, Outcome
from bot.settings import Settings
from store.conversations import StoredConversation
from store.db import Database
from store.outbox import OutboxMessage, OutboxStatus, backlog, enqueue
from tests.fakes.activities import TENANT
from tests.fakes.connector import FakeConnector
from tests.support.outbox import (
    SLT_CHANNEL,
    FakeClock,
    card_activity,
    dev_adapter,
    entries,
    next_attempt_in,
    personal_reference,
    slt_channel,
    text_activity,
)


def _wire_outbox(app: web.Application) -> OutboxWorker:
    """What bot/app.py's create_app is to do (see the report): one worker per app, stopped before the
    database is disposed."""
    services = app[SERVICES]
    worker = OutboxWorker(
        services.database,
        BotFrameworkSender(services.adapter, services.settings.app_id),
        poll_seconds=services.settings.outbox_poll_seconds,
        max_attempts=services.settings.outbox_max_attempts,
        on_stale=lambda stale: services.conversations.mark_stale(stale.conversation_id),
    )
    app.cleanup_ctx.append(worker.cleanup_ctx)
    return worker


async def _eventually(check, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_the_running_app_delivers_the_outbox_and_marks_gone_conversations_stale(
    database_url: str, connector: FakeConnector
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        dev_mode=True,
        database_url=database_url,
        allowed_tenant_ids=[TENANT],
        outbox_poll_seconds=0.05,
    )
    app = create_app(settings)
    worker = _wire_outbox(app)
    services = app[SERVICES]
    gone = personal_reference(connector.url, "a:personal-left")
    async with TestClient(TestServer(app)):
        await services.conversations.save(
            StoredConversation(
                conversation_id="a:personal-left", kind="personal", aad_object_id=None, user_name=None,
                teams_user_id=None, tenant_id=TENANT, team_id=None, channel_id=None, service_url=connector.url,
                reference=gone, stale=False,
            )
        )
        connector.fail_next(403, conversation_id="a:personal-left")
        async with services.database.transaction() as session:
            await enqueue(session, OutboxMessage.personal(gone, text_activity("to someone who left")))
            await enqueue(session, OutboxMessage.personal(personal_reference(connector.url), text_activity("hello")))
        worker.wake()

        async def settled() -> bool:  # the conversation is reported gone just after its message is recorded stale
            stored = await services.conversations.get("a:personal-left")
            return stored is not None and stored.stale and all(
                e.status is not OutboxStatus.PENDING for e in await entries(services.database)
            )

        await _eventually(settled)
        async with services.database.sessions() as session:
            summary = await backlog(session)
        assert (summary.pending, summary.stale, summary.failed) == (0, 1, 0)
    assert connector.texts() == ["hello"]
    # the app closed: the worker stopped first, then the database was disposed, without errors


# --- claims: short leases, renewed while sending ---------------------------------------------------------


def test_the_app_leases_outbox_claims_for_30_s_and_renews_them_every_10_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def worker_of(**values: object) -> OutboxWorker:
        settings = Settings(_env_file=None, dev_mode=True,  # type: ignore[call-arg]
                            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", **values)
        return create_app(settings)[OUTBOX]

    default = worker_of()
    assert (default.lease, default.renew) == (timedelta(seconds=30), timedelta(seconds=10))
    monkeypatch.setenv("POLICYBOT_OUTBOX_LEASE_SECONDS", "45")
    monkeypatch.setenv("POLICYBOT_OUTBOX_RENEW_SECONDS", "15")
    configured = worker_of()
    assert (configured.lease, configured.renew) == (timedelta(seconds=45), timedelta(seconds=15))


@pytest.mark.parametrize(
    ("lease", "renew", "problem"),
    [
        ("30", "20", "at most a third"),
        ("30", "10.5", "at most a third"),
        ("9", "10", "at most a third"),
        ("30", "0", "greater than 0"),
        ("120", "10", "less than or equal to 60"),  # a crashed worker's conversations would wait two minutes
    ],
)
def test_a_lease_or_renew_interval_that_cannot_keep_claims_stops_the_bot_at_start_up(
    monkeypatch: pytest.MonkeyPatch, lease: str, renew: str, problem: str
) -> None:
    monkeypatch.setenv("POLICYBOT_OUTBOX_LEASE_SECONDS", lease)
    monkeypatch.setenv("POLICYBOT_OUTBOX_RENEW_SECONDS", renew)
    with pytest.raises(ValidationError, match=problem):
        Settings(_env_file=None, dev_mode=True)  # type: ignore[call-arg]


def test_a_worker_refuses_a_renew_interval_not_well_under_its_lease(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")  # never connected
    with pytest.raises(ValueError, match="at most a third of the lease"):
        OutboxWorker(database, BotFrameworkSender(dev_adapter(), ""),
                     lease=timedelta(seconds=30), renew=timedelta(seconds=15))


# --- the shared-session transport ---------------------------------------------------------------------


@pytest.fixture
async def shared_session_adapter() -> AsyncIterator[CloudAdapter]:
    connector_module = pytest.importorskip("bot.connector")
    config = BotFrameworkConfig(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")
    authentication = connector_module.AsyncConnectorAuthentication(ConfigurationBotFrameworkAuthentication(config))
    yield CloudAdapter(authentication)
    await authentication.close()


async def test_the_outbox_works_the_same_over_the_shared_session_transport(
    database_url: str, connector: FakeConnector, shared_session_adapter: CloudAdapter
) -> None:
    clock = FakeClock()
    database = Database(database_url)
    await database.migrate()
    worker = OutboxWorker(database, BotFrameworkSender(shared_session_adapter, ""), clock=clock,
                          rng=random.Random(1))
    try:
        connector.fail_next(503, times=2)
        connector.fail_next(429, retry_after="5")
        async with database.transaction() as session:
            post = await enqueue(session, OutboxMessage.channel_post(slt_channel(connector.url), card_activity("v1")),
                                 now=clock.now())
            await enqueue(session, OutboxMessage.update_of(post, card_activity("v2")), now=clock.now())
        for _ in range(10):
            await worker.drain()
            wait = await next_attempt_in(database, clock)
            if wait is None:
                break
            clock.advance(wait + 0.001)
        assert connector.attempts == 5  # 503, 503, 429, then the post and its update: one request each
        assert [e.status for e in await entries(database)] == [OutboxStatus.DELIVERED] * 2
        created, replaced = connector.sent()
        assert created.conversation_id.startswith(f"{SLT_CHANNEL};messageid=")
        assert replaced.conversation_id == created.conversation_id  # the thread the post started
        assert replaced.method == "PUT" and replaced.activity_id == created.conversation_id.split("=")[1]

        connector.fail_next(404)
        async with database.transaction() as session:
            await enqueue(session, OutboxMessage.personal(personal_reference(connector.url), text_activity("x")),
                          now=clock.now())
        assert (await worker.drain())[Outcome.STALE] == 1
    finally:
        await database.dispose()
