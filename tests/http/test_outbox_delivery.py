"""The outbox delivering to a fake Bot Connector over real HTTP, through botbuilder's CloudAdapter.

Every test runs on SQLite and PostgreSQL. Time is a fake clock: back-off and Retry-After are checked
without waiting for them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections import Counter
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import update

from bot.outbox_worker import (
    BotFrameworkSender,
    ConversationRateLimiter,
    DrainReport,
    OutboxWorker,
    Outcome,
    StaleTarget,
)
from store.db import Database
from store.outbox import ChannelTarget, OutboxMessage, OutboxRow, OutboxStatus, claim_due, enqueue
from tests.fakes.connector import Delivery, FakeConnector
from tests.fakes.credentials import OUTBOUND_TOKEN
from tests.support.outbox import (
    APP_ID,
    SLT_CHANNEL,
    BlockingSender,
    FakeClock,
    RecordingSender,
    card_activity,
    claim_of,
    dev_adapter,
    entries,
    entry,
    next_attempt_in,
    personal_reference,
    registered_adapter,
    slt_channel,
    text_activity,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stale() -> list[StaleTarget]:
    return []


@pytest.fixture
def worker(database: Database, clock: FakeClock, stale: list[StaleTarget]) -> OutboxWorker:
    async def on_stale(target: StaleTarget) -> None:
        stale.append(target)

    return OutboxWorker(
        database, BotFrameworkSender(dev_adapter(), ""), clock=clock, on_stale=on_stale, max_attempts=6,
        rng=random.Random(7),
    )


async def _enqueue(database: Database, clock: FakeClock, *messages: OutboxMessage) -> list[int]:
    async with database.transaction() as session:
        return [await enqueue(session, message, now=clock.now()) for message in messages]


async def _deliver_all(worker: OutboxWorker, database: Database, clock: FakeClock, *, rounds: int = 20) -> None:
    """Drain, then jump the clock to the next retry, until nothing is pending."""
    for _ in range(rounds):
        await worker.drain()
        wait = await next_attempt_in(database, clock)
        if wait is None:
            return
        clock.advance(max(wait, 0.0) + 0.001)
    raise AssertionError("messages still pending")


async def _until_sent(connector: FakeConnector, seconds: float = 10.0, *, count: int = 1) -> None:
    for _ in range(int(seconds / 0.02)):
        if len(connector.sent()) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(connector.sent())} sent, not {count}")


async def _until_claimed_until(database: Database, outbox_id: int, moment: datetime, seconds: float = 5.0) -> None:
    """Wait (real time) until the message's claim runs to ``moment``: a heartbeat has renewed it."""
    for _ in range(int(seconds / 0.02)):
        if (await claim_of(database, outbox_id))[1] == moment:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the claim was not renewed to {moment}: {await claim_of(database, outbox_id)}")


async def _eventually_logged(caplog: pytest.LogCaptureFixture, text: str, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if any(text in record.getMessage() for record in caplog.records):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never logged: {text}")


async def _abandon(connector: FakeConnector, *tasks: asyncio.Task[DrainReport] | None) -> None:
    """After a failed assertion: answer what the connector holds and stop the workers still running."""
    connector.release()
    for task in tasks:
        if task is not None:
            task.cancel()
    await asyncio.gather(*(task for task in tasks if task is not None), return_exceptions=True)


def _title(delivery: Delivery) -> str:
    """The first line of the Adaptive Card a delivery carries."""
    return str(delivery.activity["attachments"][0]["content"]["body"][0]["text"])


def _texts(connector: FakeConnector) -> list[str]:
    return connector.texts()


# --- delivering ---------------------------------------------------------------------------------------


async def test_a_personal_message_is_delivered_once_and_its_activity_id_recorded(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    [sent] = await _enqueue(database, clock, OutboxMessage.personal(personal_reference(connector.url),
                                                                     text_activity("Your report INC-2026-0042")))
    report = await worker.drain()
    assert report[Outcome.DELIVERED] == 1
    [delivery] = connector.sent()
    assert delivery.conversation_id == "a:personal-sam" and delivery.body["text"] == "Your report INC-2026-0042"
    assert delivery.authorization is None  # dev mode: no app id, no token
    stored = await entry(database, sent)
    assert stored.status is OutboxStatus.DELIVERED and stored.attempts == 1
    assert stored.delivered_activity_id is not None and stored.delivered_activity_id.startswith("act-")
    assert stored.delivered_conversation_id == "a:personal-sam"
    assert (await worker.drain()).claimed == 0  # nothing more to do
    assert len(connector.sent()) == 1


async def test_with_an_app_id_the_bot_sends_its_own_token(
    database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    worker = OutboxWorker(database, BotFrameworkSender(registered_adapter(), APP_ID), clock=clock)
    await _enqueue(database, clock, OutboxMessage.personal(personal_reference(connector.url), text_activity("hi")),
                   OutboxMessage.channel_post(slt_channel(connector.url), card_activity("INC-1")))
    report = await worker.drain()
    assert report[Outcome.DELIVERED] == 2
    assert [d.authorization for d in connector.sent()] == [f"Bearer {OUTBOUND_TOKEN}"] * 2


async def test_a_channel_post_starts_a_thread_and_its_update_replaces_that_activity(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    [post] = await _enqueue(database, clock, OutboxMessage.channel_post(slt_channel(connector.url),
                                                                         card_activity("INC-7: open")))
    [update] = await _enqueue(database, clock, OutboxMessage.update_of(post, card_activity("INC-7: Ms Patel leads")))
    await _deliver_all(worker, database, clock)

    created, replaced = connector.sent()
    assert (created.method, created.path) == ("POST", "/v3/conversations")
    assert created.body["isGroup"] is True
    assert created.body["channelData"]["channel"]["id"] == SLT_CHANNEL
    assert created.body["channelData"]["tenant"]["id"]  # Teams reads the tenant from channelData
    posted = await entry(database, post)
    assert posted.delivered_conversation_id == f"{SLT_CHANNEL};messageid={posted.delivered_activity_id}"
    assert replaced.method == "PUT"
    assert replaced.conversation_id == posted.delivered_conversation_id
    assert replaced.activity_id == posted.delivered_activity_id
    assert connector.cards()[-1]["body"][0]["text"] == "INC-7: Ms Patel leads"
    assert (await entry(database, update)).status is OutboxStatus.DELIVERED


async def test_an_update_waits_for_its_post_and_updates_land_in_order(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    connector.fail_next(503, times=2)  # the post meets an outage
    [post] = await _enqueue(database, clock, OutboxMessage.channel_post(slt_channel(connector.url),
                                                                         card_activity("v1")))
    await worker.drain()
    await _enqueue(database, clock, OutboxMessage.update_of(post, card_activity("v2")),
                   OutboxMessage.update_of(post, card_activity("v3")))
    report = await worker.drain()
    assert report[Outcome.DELIVERED] == 0  # the post is in back-off: its updates wait behind it
    await _deliver_all(worker, database, clock)
    assert [d.method for d in connector.sent()] == ["POST", "PUT", "PUT"]
    assert [c["body"][0]["text"] for c in connector.cards()] == ["v1", "v2", "v3"]


async def test_an_update_of_a_message_that_was_never_delivered_is_stale(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    connector.fail_next(403)
    [post] = await _enqueue(database, clock, OutboxMessage.channel_post(slt_channel(connector.url),
                                                                         card_activity("v1")))
    [update] = await _enqueue(database, clock, OutboxMessage.update_of(post, card_activity("v2")))
    await _deliver_all(worker, database, clock)
    assert (await entry(database, update)).status is OutboxStatus.STALE
    assert connector.sent() == []


async def test_the_same_logical_message_twice_is_sent_once(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    message = OutboxMessage.personal(personal_reference(connector.url), text_activity("once"), dedupe_key="n:1")
    await _enqueue(database, clock, message)
    await _enqueue(database, clock, message)
    await _deliver_all(worker, database, clock)
    assert _texts(connector) == ["once"]


# --- failures -----------------------------------------------------------------------------------------


async def test_an_outage_then_recovery_delivers_each_message_once(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    connector.fail_next(503, times=4)
    [sent] = await _enqueue(database, clock, OutboxMessage.personal(personal_reference(connector.url),
                                                                     text_activity("during the outage")))
    started = clock.now()
    await _deliver_all(worker, database, clock)
    assert _texts(connector) == ["during the outage"]
    assert connector.attempts == 5  # one request per attempt: no hidden retries underneath
    stored = await entry(database, sent)
    assert stored.status is OutboxStatus.DELIVERED and stored.attempts == 5
    assert stored.last_error == "503 Scripted"
    assert (clock.now() - started).total_seconds() >= 1 + 2 + 4 + 8  # backed off (half of each step at least)


async def test_an_update_during_an_outage_is_retried_by_the_outbox_not_the_transport(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    # msrest would retry a PUT on 503 three times by itself, sleeping in a thread: switched off.
    thread = personal_reference(connector.url, f"{SLT_CHANNEL};messageid=act-1")
    [update] = await _enqueue(database, clock, OutboxMessage.update(thread, "act-1", card_activity("v2")))
    connector.fail_next(503, times=2)
    report = await worker.drain()
    assert report[Outcome.RETRY] == 1 and connector.attempts == 1
    await _deliver_all(worker, database, clock)
    assert connector.attempts == 3
    assert (await entry(database, update)).status is OutboxStatus.DELIVERED


@pytest.mark.parametrize("retry_after", ["7", "http-date"])
async def test_429_waits_as_long_as_retry_after_says(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector, retry_after: str
) -> None:
    header = format_datetime(clock.now() + timedelta(seconds=7), usegmt=True) if retry_after == "http-date" else "7"
    connector.fail_next(429, retry_after=header)
    await _enqueue(database, clock, OutboxMessage.personal(personal_reference(connector.url), text_activity("x")))
    assert (await worker.drain())[Outcome.RETRY] == 1
    wait = await next_attempt_in(database, clock)
    # An HTTP date has whole seconds and is read against the real clock (the fake one starts on a second).
    lowest = 7.0 if retry_after == "7" else 5.5
    assert wait is not None and lowest <= wait <= 7.7
    clock.advance(wait - 0.1)
    assert (await worker.drain()).claimed == 0 and connector.sent() == []
    clock.advance(0.2)
    assert (await worker.drain())[Outcome.DELIVERED] == 1
    assert _texts(connector) == ["x"]


@pytest.mark.parametrize("status", [403, 404])
async def test_a_gone_conversation_is_stale_not_retried_and_reported(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector,
    stale: list[StaleTarget], status: int,
) -> None:
    connector.fail_next(status, conversation_id="a:personal-left")
    gone, fine = await _enqueue(
        database, clock,
        OutboxMessage.personal(personal_reference(connector.url, "a:personal-left"), text_activity("gone")),
        OutboxMessage.personal(personal_reference(connector.url), text_activity("fine")),
    )
    report = await worker.drain()
    assert report[Outcome.STALE] == 1 and report[Outcome.DELIVERED] == 1
    clock.advance(24 * 3600)
    assert (await worker.drain()).claimed == 0
    assert connector.attempts == 2
    stored = await entry(database, gone)
    assert stored.status is OutboxStatus.STALE and stored.last_error == f"{status} Scripted"
    assert [(s.conversation_id, s.status, s.outbox_id) for s in stale] == [("a:personal-left", status, gone)]
    assert (await entry(database, fine)).status is OutboxStatus.DELIVERED


async def test_a_channel_the_bot_was_removed_from_is_reported_by_its_channel_id(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector, stale: list[StaleTarget]
) -> None:
    connector.fail_next(403)
    await _enqueue(database, clock, OutboxMessage.channel_post(slt_channel(connector.url), card_activity("x")))
    await worker.drain()
    assert [s.conversation_id for s in stale] == [SLT_CHANNEL]


async def test_an_update_answered_404_is_retried_a_little_then_stale(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector, stale: list[StaleTarget]
) -> None:
    # Teams now and then says "message does not exist" for a message that does (DESIGN.md).
    thread = personal_reference(connector.url, f"{SLT_CHANNEL};messageid=act-1")
    [update] = await _enqueue(database, clock, OutboxMessage.update(thread, "act-1", card_activity("v2")))
    connector.fail_next(404, times=5)
    await _deliver_all(worker, database, clock)
    stored = await entry(database, update)
    assert stored.status is OutboxStatus.STALE and stored.attempts == 3
    assert stale == []  # the conversation itself may be fine


async def test_a_message_too_big_fails_at_once_and_is_logged_as_a_bug(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector.fail_next(413)
    [big] = await _enqueue(database, clock, OutboxMessage.personal(personal_reference(connector.url),
                                                                    text_activity("a huge card")))
    with caplog.at_level(logging.WARNING, logger="bot.outbox_worker"):
        await _deliver_all(worker, database, clock)
    assert (await entry(database, big)).status is OutboxStatus.FAILED
    assert connector.attempts == 1
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "too big" in error.getMessage() and error.outbox_id == big  # type: ignore[attr-defined]
    assert "a huge card" not in caplog.text


async def test_retryable_failures_give_up_after_max_attempts(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector.fail_next(502, times=50)
    [doomed] = await _enqueue(database, clock, OutboxMessage.personal(personal_reference(connector.url),
                                                                       text_activity("x")))
    with caplog.at_level(logging.ERROR, logger="bot.outbox_worker"):
        await _deliver_all(worker, database, clock)
    stored = await entry(database, doomed)
    assert stored.status is OutboxStatus.FAILED and stored.attempts == 6 and connector.attempts == 6
    assert any("after 6 attempts" in r.getMessage() for r in caplog.records)


async def test_a_connector_that_cannot_be_reached_is_retried(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    [unreachable] = await _enqueue(database, clock, OutboxMessage.personal(personal_reference(closed_url),
                                                                            text_activity("x")))
    report = await worker.drain()
    assert report[Outcome.RETRY] == 1
    stored = await entry(database, unreachable)
    assert stored.status is OutboxStatus.PENDING and stored.last_error is not None
    assert stored.last_error.startswith("no response connection:")


async def test_a_broken_target_fails_in_the_end_without_holding_up_other_conversations(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    broken = ChannelTarget(service_url="not a url", channel_id="19:broken@thread.tacv2")
    bad, good = await _enqueue(
        database, clock, OutboxMessage.channel_post(broken, card_activity("x")),
        OutboxMessage.personal(personal_reference(connector.url), text_activity("fine")),
    )
    assert (await worker.drain())[Outcome.DELIVERED] == 1
    assert (await entry(database, good)).status is OutboxStatus.DELIVERED
    await _deliver_all(worker, database, clock)
    stored = await entry(database, bad)
    assert stored.status is OutboxStatus.FAILED and stored.attempts == 6


async def test_a_malformed_stored_reference_fails_at_once(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    reference = personal_reference(connector.url)
    reference["conversation"] = "not an object"
    [bad] = await _enqueue(database, clock, OutboxMessage.update(
        personal_reference(connector.url), "act-1", card_activity("x")))
    async with database.transaction() as session:  # corrupted after it was written
        await session.execute(update(OutboxRow).where(OutboxRow.id == bad).values(target=reference))
    assert (await worker.drain())[Outcome.FAILED] == 1
    stored = await entry(database, bad)
    assert stored.status is OutboxStatus.FAILED and stored.last_error == "no response malformed stored reference"
    assert connector.attempts == 0


async def test_a_message_claimed_again_and_again_without_a_result_is_abandoned(
    worker: OutboxWorker, database: Database, clock: FakeClock, connector: FakeConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message whose sending kills the worker every time must not be claimed for ever."""
    [poison] = await _enqueue(database, clock, OutboxMessage.personal(personal_reference(connector.url),
                                                                       text_activity("x")))
    for crash in range(6):  # six workers died while sending it (max_attempts is 6)
        async with database.transaction() as session:
            assert await claim_due(session, now=clock.now(), lease_until=clock.now(), token=f"dead{crash}", limit=1)
    with caplog.at_level(logging.ERROR, logger="bot.outbox_worker"):
        assert (await worker.drain())[Outcome.FAILED] == 1
    assert (await entry(database, poison)).status is OutboxStatus.FAILED
    assert connector.attempts == 0
    assert any("abandoned" in r.getMessage() for r in caplog.records)


# --- crashes, restarts, several workers ---------------------------------------------------------------


async def test_a_message_committed_before_a_crash_is_delivered_once_after_restart(
    database_url: str, clock: FakeClock, connector: FakeConnector
) -> None:
    first_life = Database(database_url)
    await first_life.migrate()
    await _enqueue(first_life, clock, OutboxMessage.personal(personal_reference(connector.url),
                                                              text_activity("committed, then the bot died")))
    await first_life.dispose()  # the process ends before any worker ran

    second_life = Database(database_url)
    try:
        worker = OutboxWorker(second_life, BotFrameworkSender(dev_adapter(), ""), clock=clock)
        await _deliver_all(worker, second_life, clock)
        await _deliver_all(worker, second_life, clock)
    finally:
        await second_life.dispose()
    assert _texts(connector) == ["committed, then the bot died"]


async def test_a_worker_killed_mid_claim_is_taken_over_when_its_lease_expires(
    database_url: str, clock: FakeClock, connector: FakeConnector
) -> None:
    first_life = Database(database_url)
    await first_life.migrate()
    await _enqueue(first_life, clock, OutboxMessage.personal(personal_reference(connector.url), text_activity("x")))
    hanging = BlockingSender(BotFrameworkSender(dev_adapter(), ""), after_send=False)
    doomed = OutboxWorker(first_life, hanging, clock=clock, lease=timedelta(minutes=5))
    draining = asyncio.create_task(doomed.drain())
    await hanging.entered.wait()  # claimed and committed, about to send
    draining.cancel()  # killed
    await asyncio.gather(draining, return_exceptions=True)
    await first_life.dispose()
    assert connector.sent() == []

    second_life = Database(database_url)
    try:
        worker = OutboxWorker(second_life, BotFrameworkSender(dev_adapter(), ""), clock=clock)
        assert (await worker.drain()).claimed == 0  # the dead worker's lease still holds
        clock.advance(5 * 60 + 1)
        assert (await worker.drain())[Outcome.DELIVERED] == 1
        assert (await worker.drain()).claimed == 0
        [stored] = await entries(second_life)
        assert stored.attempts == 2  # the attempt the dead worker made counts
    finally:
        await second_life.dispose()
    assert _texts(connector) == ["x"]


async def test_after_a_crash_mid_send_the_lanes_resume_within_a_minute_and_only_the_sends_in_flight_repeat(
    database_url: str, clock: FakeClock, connector: FakeConnector
) -> None:
    """Issue 14, item 8: the bot is killed after Teams accepted a post to the SLT channel and an update of
    the Head's card, before it recorded them. A restarted bot resumes both conversations once the dead
    worker's short lease has run out (not after five minutes); what was in flight is sent once more (a
    second copy of the post; the update again, which changes nothing), everything after it exactly once,
    in order."""
    head = personal_reference(connector.url, "a:personal-head")
    first_life = Database(database_url)
    await first_life.migrate()
    post, _ = await _enqueue(
        first_life, clock,
        OutboxMessage.channel_post(slt_channel(connector.url), card_activity("INC-1 reported")),
        OutboxMessage.update(head, "act-approval", card_activity("Request 4: approved")),
    )
    await _enqueue(
        first_life, clock,
        OutboxMessage.update_of(post, card_activity("INC-1: Ms Patel leads")),
        OutboxMessage.channel_post(slt_channel(connector.url), card_activity("INC-2 reported")),
        OutboxMessage.personal(head, text_activity("Request 5 waits for you")),
    )
    connector.hold_next(2)  # Teams accepts the first message of each conversation; the answers are slow
    draining = asyncio.create_task(OutboxWorker(first_life, BotFrameworkSender(dev_adapter(), ""), clock=clock).drain())
    await _until_sent(connector, count=2)
    draining.cancel()  # killed before it heard back
    await asyncio.gather(draining, return_exceptions=True)
    connector.release()
    await first_life.dispose()

    second_life = Database(database_url)
    restarted = clock.now()
    try:
        worker = OutboxWorker(second_life, BotFrameworkSender(dev_adapter(), ""), clock=clock)
        while await next_attempt_in(second_life, clock) is not None and clock.now() - restarted <= timedelta(
            seconds=60
        ):
            await worker.drain()
            clock.advance(1)
        assert await next_attempt_in(second_life, clock) is None, "still pending a minute after the restart"
        assert all(e.status is OutboxStatus.DELIVERED for e in await entries(second_life))
        recorded_post = await entry(second_life, post)
    finally:
        await second_life.dispose()

    slt = [d for d in connector.sent() if d.conversation_id.startswith(SLT_CHANNEL)]
    assert [(d.method, _title(d)) for d in slt] == [
        ("POST", "INC-1 reported"), ("POST", "INC-1 reported"),  # the post in flight, twice
        ("PUT", "INC-1: Ms Patel leads"), ("POST", "INC-2 reported"),
    ]
    assert slt[2].conversation_id == slt[1].conversation_id == recorded_post.delivered_conversation_id
    # the copy sent before the crash is never updated: nobody learnt its id
    head_chat = [d for d in connector.sent() if d.conversation_id == "a:personal-head"]
    assert [d.method for d in head_chat] == ["PUT", "PUT", "POST"]
    assert head_chat[0].activity_id == head_chat[1].activity_id == "act-approval"
    # the update repeated is the same card: nothing changes
    assert head_chat[0].body["attachments"] == head_chat[1].body["attachments"]
    assert head_chat[2].body["text"] == "Request 5 waits for you"


async def test_a_send_slower_than_the_lease_keeps_its_claim_and_no_other_worker_takes_it(
    database_url: str, clock: FakeClock, connector: FakeConnector
) -> None:
    lease = timedelta(seconds=30)
    sending, other = Database(database_url), Database(database_url)  # two bot instances
    await sending.migrate()
    draining = None
    try:
        first, _ = await _enqueue(
            sending, clock, *[OutboxMessage.personal(personal_reference(connector.url), text_activity(text))
                              for text in ("slow", "next")]
        )
        connector.hold_next(1)  # e.g. the connector retrying for a while before it answers
        draining = asyncio.create_task(
            OutboxWorker(sending, BotFrameworkSender(dev_adapter(), ""), clock=clock, lease=lease).drain()
        )
        await _until_sent(connector)
        rival = OutboxWorker(other, BotFrameworkSender(dev_adapter(), ""), clock=clock, lease=lease)
        for _ in range(12):  # two minutes: four leases
            clock.advance(10)
            await _until_claimed_until(sending, first, clock.now() + lease)  # renewed while it sends
            assert (await rival.drain()).claimed == 0
        connector.release()
        report = await draining
        assert report[Outcome.DELIVERED] == 2 and report[Outcome.LOST] == 0
    finally:
        await _abandon(connector, draining)
        await sending.dispose()
        await other.dispose()
    assert _texts(connector) == ["slow", "next"]


async def test_a_worker_that_lost_its_claim_neither_renews_nor_records_over_the_new_holder(
    database_url: str, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    """Instance A stalls (its clock stops: a paused VM) longer than its lease while Teams holds its answer;
    instance B takes the message over and sends it again. A must leave B's claim alone: no renewal over it,
    no delivery recorded while B is still sending (that would also let the next message of the conversation
    overtake B's copy)."""
    lease = timedelta(seconds=30)
    clock_a = FakeClock()
    clock_b = FakeClock(clock_a.now() + lease + timedelta(seconds=1))
    database_a, database_b = Database(database_url), Database(database_url)
    await database_a.migrate()
    draining_a = draining_b = None
    try:
        first, _ = await _enqueue(
            database_a, clock_a, *[OutboxMessage.personal(personal_reference(connector.url), text_activity(text))
                                   for text in ("x", "after x")]
        )
        connector.hold_next(2)
        worker_a = OutboxWorker(database_a, BotFrameworkSender(dev_adapter(), ""), clock=clock_a, lease=lease)
        worker_b = OutboxWorker(database_b, BotFrameworkSender(dev_adapter(), ""), clock=clock_b, lease=lease)
        draining_a = asyncio.create_task(worker_a.drain())
        await _until_sent(connector, count=1)
        draining_b = asyncio.create_task(worker_b.drain())  # A's lease has run out on B's clock
        await _until_sent(connector, count=2)
        token_b, until_b = await claim_of(database_b, first)
        assert token_b is not None and until_b == clock_b.now() + lease

        with caplog.at_level(logging.WARNING, logger="bot.outbox_worker"):
            clock_a.advance(10)  # A wakes up: its heartbeat finds the message taken
            await _eventually_logged(caplog, "claim was taken by another worker")
            assert await claim_of(database_b, first) == (token_b, until_b)
            connector.release(1)  # A hears back from Teams
            report_a = await draining_a
        assert report_a[Outcome.DELIVERED] == 0 and report_a[Outcome.LOST] == 1
        assert (await entry(database_b, first)).status is OutboxStatus.PENDING
        assert await claim_of(database_b, first) == (token_b, until_b)
        assert _texts(connector) == ["x", "x"]  # "after x" still waits behind B's send

        connector.release()
        report_b = await draining_b
        assert report_b[Outcome.DELIVERED] == 2
        recorded = await entry(database_b, first)
        assert recorded.delivered_activity_id == "act-2"  # B's copy (the fake connector numbers what it accepts)
    finally:
        await _abandon(connector, draining_a, draining_b)
        await database_a.dispose()
        await database_b.dispose()
    assert _texts(connector) == ["x", "x", "after x"]


async def test_two_workers_draining_together_deliver_each_message_exactly_once(
    database_url: str, connector: FakeConnector
) -> None:
    setup = Database(database_url)
    await setup.migrate()
    messages = [
        OutboxMessage.personal(personal_reference(connector.url, f"a:personal-{n % 8}"), text_activity(f"m{n}"))
        for n in range(40)
    ]
    async with setup.transaction() as session:
        for message in messages:
            await enqueue(session, message)
    await setup.dispose()

    instances = [Database(database_url), Database(database_url)]
    try:
        workers = [OutboxWorker(db, BotFrameworkSender(dev_adapter(), ""), batch_size=4) for db in instances]
        reports = await asyncio.gather(*(w.drain() for w in workers))
        assert sum(r[Outcome.DELIVERED] for r in reports) == 40
        assert all(r[Outcome.LOST] == 0 for r in reports)
        assert all(e.status is OutboxStatus.DELIVERED for e in await entries(instances[0]))
    finally:
        for db in instances:
            await db.dispose()
    counts = Counter(_texts(connector))
    assert counts == Counter({f"m{n}": 1 for n in range(40)})
    for lane in range(8):  # and each conversation got its messages in order
        texts = [d.body["text"] for d in connector.sent() if d.conversation_id == f"a:personal-{lane}"]
        assert texts == [f"m{n}" for n in range(lane, 40, 8)]


# --- rate limits ----------------------------------------------------------------------------------------


async def test_sends_to_one_conversation_stay_under_teams_rate_limit(
    database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    sender = RecordingSender(BotFrameworkSender(dev_adapter(), ""), clock)
    worker = OutboxWorker(database, sender, clock=clock)
    busy = [OutboxMessage.personal(personal_reference(connector.url, "a:busy"), text_activity(f"b{n}"))
            for n in range(20)]
    quiet = [OutboxMessage.personal(personal_reference(connector.url, "a:quiet"), text_activity(f"q{n}"))
             for n in range(3)]
    await _enqueue(database, clock, *busy, *quiet)
    started = clock.now()
    await _deliver_all(worker, database, clock)

    assert len(connector.sent()) == 23
    times = [t for lane, t in sender.sends if lane == "a:busy"]
    for moment in times:
        assert sum(1 for t in times if moment - timedelta(seconds=1) < t <= moment) <= 5  # Teams: 7 per second
        assert sum(1 for t in times if moment - timedelta(seconds=2) < t <= moment) <= 7  # Teams: 8 per 2 s
    quiet_times = [t for lane, t in sender.sends if lane == "a:quiet"]
    assert max(quiet_times) - started < timedelta(seconds=1)  # not held up by the busy conversation
    assert max(times) - started >= timedelta(seconds=4)


async def test_a_long_rate_limit_wait_puts_the_message_back_without_counting_an_attempt(
    database: Database, clock: FakeClock, connector: FakeConnector
) -> None:
    worker = OutboxWorker(database, BotFrameworkSender(dev_adapter(), ""), clock=clock,
                          rate_limiter=ConversationRateLimiter(((2, 30.0),)))
    ids = await _enqueue(database, clock, *[
        OutboxMessage.personal(personal_reference(connector.url), text_activity(f"m{n}")) for n in range(3)
    ])
    report = await worker.drain()
    assert report[Outcome.DELIVERED] == 2 and report[Outcome.DEFERRED] == 1
    deferred = await entry(database, ids[2])
    assert deferred.status is OutboxStatus.PENDING and deferred.attempts == 0
    await _deliver_all(worker, database, clock)
    assert _texts(connector) == ["m0", "m1", "m2"]


# --- running in the background ------------------------------------------------------------------------------


async def test_run_delivers_in_the_background_and_stops_gracefully(
    database: Database, connector: FakeConnector
) -> None:
    worker = OutboxWorker(database, BotFrameworkSender(dev_adapter(), ""), poll_seconds=30)
    worker.start()
    try:
        async with database.transaction() as session:
            await enqueue(session, OutboxMessage.personal(personal_reference(connector.url), text_activity("now")))
        worker.wake()  # no need to wait for the 30 s poll
        await _until_sent(connector)
    finally:
        await worker.stop(grace_seconds=5)
    assert _texts(connector) == ["now"]
    assert [e.status for e in await entries(database)] == [OutboxStatus.DELIVERED]


async def test_the_worker_keeps_going_when_the_database_is_briefly_unreachable(
    tmp_path, connector: FakeConnector  # type: ignore[no-untyped-def]
) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'not-migrated.db'}")  # no outbox table yet
    worker = OutboxWorker(database, BotFrameworkSender(dev_adapter(), ""), poll_seconds=0.01)
    worker.start()
    try:
        await asyncio.sleep(0.1)  # rounds fail: logged, retried
        await database.migrate()
        async with database.transaction() as session:
            await enqueue(session, OutboxMessage.personal(personal_reference(connector.url), text_activity("late")))
        await _until_sent(connector)
    finally:
        await worker.stop(grace_seconds=5)
        await database.dispose()
    assert _texts(connector) == ["late"]
