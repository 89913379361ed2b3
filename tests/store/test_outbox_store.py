"""The outbox table and its rules, without HTTP: enqueue, de-duplication, lanes, claims, the migration;
and the worker's pure parts (Retry-After, back-off, rate windows, error translation)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from msrest.exceptions import ClientRequestError
from sqlalchemy import select

from bot.outbox_worker import (
    ConversationRateLimiter,
    DeliveryError,
    delivery_error,
    parse_retry_after,
    retry_delay,
)
from store.base import Base
from store.db import Database
from store.outbox import (
    ChannelTarget,
    ClaimRenewal,
    InvalidOutboxMessage,
    OutboxKind,
    OutboxMessage,
    OutboxRow,
    OutboxStatus,
    backlog,
    claim_due,
    enqueue,
    list_entries,
    mark_delivered,
    renew_claims,
    schedule_retry,
)
from tests.support.migrations import schema_differences, tables_after_downgrade
from tests.support.outbox import (
    SLT_CHANNEL,
    card_activity,
    personal_reference,
    slt_channel,
    text_activity,
)

SERVICE_URL = "https://smba.trafficmanager.net/uk/"


async def _claim(database: Database, now: datetime, token: str = "t1", limit: int = 10) -> list[Any]:
    async with database.transaction() as session:
        return await claim_due(session, now=now, lease_until=now + timedelta(minutes=5), token=token, limit=limit)


# --- enqueue -----------------------------------------------------------------------------------------


async def test_enqueue_is_written_with_the_callers_transaction(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("hi")))
            raise RuntimeError("the record that caused it failed")
    async with database.transaction() as session:
        kept = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("hi")))
    async with database.sessions() as session:
        assert [e.id for e in await list_entries(session)] == [kept]


async def test_the_same_dedupe_key_twice_is_one_message(database: Database) -> None:
    message = OutboxMessage.channel_post(slt_channel(SERVICE_URL), card_activity("INC-1"), dedupe_key="incident:1")
    async with database.transaction() as session:
        first = await enqueue(session, message)
        again = await enqueue(session, message)
    async with database.transaction() as session:  # and in a later transaction
        later = await enqueue(session, message)
    assert first == again == later
    async with database.sessions() as session:
        assert len(await list_entries(session)) == 1


@pytest.mark.parametrize(
    "message",
    [
        OutboxMessage(OutboxKind.SEND_PERSONAL, {"type": "message"}, {"conversation": {"id": "a:1"}}),  # no serviceUrl
        OutboxMessage.personal(personal_reference(SERVICE_URL), {"text": "no type"}),
        OutboxMessage(OutboxKind.POST_TO_CHANNEL, {"type": "message"}, {"service_url": SERVICE_URL}),  # no channel
        OutboxMessage(OutboxKind.UPDATE_ACTIVITY, {"type": "message"}),  # updates what?
        OutboxMessage(OutboxKind.UPDATE_ACTIVITY, {"type": "message"}, personal_reference(SERVICE_URL),
                      depends_on=1, activity_id="x"),  # both ways at once
        OutboxMessage.update_of(999, {"type": "message"}),  # no such message
    ],
)
async def test_malformed_messages_are_refused_at_enqueue(database: Database, message: OutboxMessage) -> None:
    with pytest.raises(InvalidOutboxMessage):
        async with database.transaction() as session:
            await enqueue(session, message)


async def test_lanes_are_conversations_and_threads_belong_to_their_channel(database: Database) -> None:
    thread = personal_reference(SERVICE_URL, f"{SLT_CHANNEL};messageid=1700000000000")
    async with database.transaction() as session:
        post = await enqueue(session, OutboxMessage.channel_post(slt_channel(SERVICE_URL), card_activity("a")))
        update_of_post = await enqueue(session, OutboxMessage.update_of(post, card_activity("b")))
        thread_update = await enqueue(session, OutboxMessage.update(thread, "1700000000000", card_activity("c")))
        personal = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("d")))
    async with database.sessions() as session:
        lanes = {e.id: e.lane for e in await list_entries(session)}
    assert lanes == {post: SLT_CHANNEL, update_of_post: SLT_CHANNEL, thread_update: SLT_CHANNEL,
                     personal: "a:personal-sam"}


# --- claims ------------------------------------------------------------------------------------------


async def test_one_message_per_lane_is_claimed_and_a_lane_waits_for_its_earlier_message(database: Database) -> None:
    now = datetime.now(UTC)
    other = personal_reference(SERVICE_URL, "a:personal-kim")
    async with database.transaction() as session:
        first = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("1")),
                              now=now)
        await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("2")), now=now)
        kim = await enqueue(session, OutboxMessage.personal(other, text_activity("k")), now=now)
    claimed = await _claim(database, now)
    assert [m.id for m in claimed] == [first, kim]
    assert all(m.attempts == 1 for m in claimed)
    assert await _claim(database, now, token="t2") == []  # leased, and the second waits for the first
    async with database.transaction() as session:
        assert await mark_delivered(session, first, claim_token="t1", now=now, activity_id="x", conversation_id="a",
                                    reference={})
    [second] = await _claim(database, now, token="t3")
    assert second.activity == text_activity("2")


async def test_an_expired_lease_is_taken_over(database: Database) -> None:
    now = datetime.now(UTC)
    async with database.transaction() as session:
        await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("1")), now=now)
    assert len(await _claim(database, now, token="crashed")) == 1
    assert await _claim(database, now + timedelta(minutes=4), token="t2") == []
    [taken] = await _claim(database, now + timedelta(minutes=5, seconds=1), token="t3")
    assert taken.attempts == 2 and taken.claim_token == "t3"


async def test_a_claim_is_renewed_only_by_its_holder_and_a_taken_one_is_reported_lost(database: Database) -> None:
    now = datetime.now(UTC)
    lease = timedelta(seconds=30)
    async with database.transaction() as session:
        sam = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("1")),
                            now=now)
        kim = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL, "a:personal-kim"),
                                                            text_activity("k")), now=now)
    async with database.transaction() as session:
        assert len(await claim_due(session, now=now, lease_until=now + lease, token="t1", limit=10)) == 2

    async def renew(token: str, at: datetime, *ids: int) -> ClaimRenewal:
        async with database.transaction() as session:
            return await renew_claims(session, ids, token=token, now=at, lease_until=at + lease)

    assert await renew("t1", now + timedelta(seconds=20), sam, kim) == ClaimRenewal(frozenset({sam, kim}), frozenset())
    assert await renew("t2", now + timedelta(seconds=20), sam) == ClaimRenewal(frozenset(), frozenset({sam}))
    assert await _claim(database, now + timedelta(seconds=45), token="t2") == []  # renewed to now + 50 s
    async with database.transaction() as session:
        assert await mark_delivered(session, sam, claim_token="t1", now=now, activity_id="x", conversation_id="a",
                                    reference={})
    [taken] = await _claim(database, now + timedelta(seconds=51), token="t2")  # t1 stopped renewing kim
    assert taken.id == kim
    # t1 comes back: kim is another worker's now (lost); sam is finished (neither kept nor lost)
    assert await renew("t1", now + timedelta(seconds=52), sam, kim) == ClaimRenewal(frozenset(), frozenset({kim}))
    async with database.sessions() as session:
        claim = (await session.execute(select(OutboxRow.claim_token, OutboxRow.claimed_until)
                                       .where(OutboxRow.id == kim))).one()
    assert tuple(claim) == ("t2", now + timedelta(seconds=51) + timedelta(minutes=5))  # t2's claim, untouched


async def test_only_the_holder_of_the_claim_records_a_delivery(database: Database) -> None:
    now = datetime.now(UTC)
    async with database.transaction() as session:
        sent = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("1")),
                             now=now)
    [stalled] = await _claim(database, now, token="stalled")
    [holder] = await _claim(database, now + timedelta(minutes=6), token="holder")  # the stalled claim ran out
    async with database.transaction() as session:
        assert not await mark_delivered(session, sent, claim_token="stalled", now=now, activity_id="act-1",
                                        conversation_id="a", reference={})
    async with database.sessions() as session:
        [row] = await list_entries(session)
    assert row.status is OutboxStatus.PENDING  # the holder is still sending it
    async with database.transaction() as session:
        assert await mark_delivered(session, sent, claim_token="holder", now=now, activity_id="act-2",
                                    conversation_id="a", reference={})
    async with database.sessions() as session:
        [row] = await list_entries(session)
    assert row.status is OutboxStatus.DELIVERED and row.delivered_activity_id == "act-2"


async def test_a_delivery_is_recorded_when_the_new_holder_gave_the_message_back(database: Database) -> None:
    """The stalled worker's send reached Teams; the worker that took over failed and released the claim:
    the delivery is recorded rather than sent a third time."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        sent = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("1")),
                             now=now)
    await _claim(database, now, token="stalled")
    [holder] = await _claim(database, now + timedelta(minutes=6), token="holder")
    async with database.transaction() as session:
        assert await schedule_retry(session, holder, now=now, at=now + timedelta(minutes=7), error="503")
        assert await mark_delivered(session, sent, claim_token="stalled", now=now, activity_id="act-1",
                                    conversation_id="a", reference={})
    async with database.sessions() as session:
        [row] = await list_entries(session)
    assert row.status is OutboxStatus.DELIVERED and row.delivered_activity_id == "act-1"


async def test_delivered_rows_keep_routing_but_not_content(database: Database) -> None:
    now = datetime.now(UTC)
    async with database.transaction() as session:
        sent = await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL), text_activity("secret")))
    await _claim(database, now + timedelta(seconds=1))
    async with database.transaction() as session:
        await mark_delivered(session, sent, claim_token="t1", now=now, activity_id="act-9",
                             conversation_id="a:personal-sam", reference={"conversation": {"id": "a:personal-sam"}})
        assert not await mark_delivered(session, sent, claim_token="t1", now=now, activity_id="again",
                                        conversation_id="a", reference={})
    async with database.sessions() as session:
        [row] = await list_entries(session)
        stored = (await session.execute(Base.metadata.tables["outbox"].select())).one()._mapping
    assert row.status is OutboxStatus.DELIVERED and row.delivered_activity_id == "act-9"
    assert stored["activity"] is None and "secret" not in repr(dict(stored))


async def test_backlog_counts_what_waits_and_what_failed(database: Database) -> None:
    now = datetime.now(UTC)
    async with database.transaction() as session:
        for n in range(3):
            await enqueue(session, OutboxMessage.personal(personal_reference(SERVICE_URL, f"a:{n}"),
                                                          text_activity("x")), now=now - timedelta(minutes=n))
    async with database.sessions() as session:
        summary = await backlog(session)
    assert summary.pending == 3 and summary.failed == 0 and summary.stale == 0
    assert summary.oldest_pending_at is not None
    assert abs((summary.oldest_pending_at - (now - timedelta(minutes=2))).total_seconds()) < 1


# --- the migration -----------------------------------------------------------------------------------



async def test_the_migration_creates_exactly_the_table_the_model_describes(database: Database) -> None:
    assert await schema_differences(database, {"outbox"}) == []


async def test_the_migration_downgrades_cleanly(database: Database) -> None:
    assert "outbox" not in await tables_after_downgrade(database, "0001_bot_state")


# --- the worker's pure parts -------------------------------------------------------------------------


NOW = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("Tue, 24 Nov 2026 10:00:30 GMT", 30.0),
        ("Tue, 24 Nov 2026 09:59:00 GMT", 0.0),  # in the past: no wait
        ("-5", 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_the_rate_limiter_keeps_every_window() -> None:
    limiter = ConversationRateLimiter(((5, 1.0), (7, 2.0)))
    assert [limiter.reserve("a", 0.0) for _ in range(5)] == [0.0] * 5
    assert limiter.reserve("a", 0.1) == pytest.approx(0.9)  # 5 in the last second
    assert limiter.reserve("b", 0.1) == 0.0  # other conversations are not held back
    assert limiter.reserve("a", 1.0) == 0.0
    assert limiter.reserve("a", 1.0) == 0.0  # 7 in the last 2 s now
    assert limiter.reserve("a", 1.5) == pytest.approx(0.5)  # the 2 s window is full until 2.0
    assert limiter.reserve("a", 2.0) == 0.0


def test_back_off_doubles_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(4)
    for attempt in range(1, 14):
        ceiling = min(15 * 60.0, 2.0 * 2 ** (attempt - 1))
        delay = retry_delay(attempt, None, rng)
        assert max(1.0, ceiling / 2) <= delay <= max(1.0, ceiling)
    assert 30.0 <= retry_delay(1, 30.0, rng) <= 31.0
    assert retry_delay(1, 0.0, rng) == 1.0  # never hammer
    assert retry_delay(1, 10 * 3600.0, rng) <= 3600.0 + 1.0  # an absurd Retry-After is capped


def test_errors_are_translated_without_message_text() -> None:
    refused = ClientRequestError("Error occurred in request.", requests.ConnectionError("refused"))
    translated = delivery_error(refused, NOW)
    assert translated.status is None and translated.retryable
    assert "ConnectionError" in translated.summary
    already = DeliveryError(404, retryable=False, reason="ConversationNotFound")
    assert delivery_error(already, NOW) is already
    with pytest.raises(ZeroDivisionError):  # unknown errors are not hidden
        delivery_error(ZeroDivisionError(), NOW)


def test_a_channel_target_round_trips() -> None:
    target = ChannelTarget(SERVICE_URL, SLT_CHANNEL, tenant_id="t", team_id=None)
    assert ChannelTarget.from_json(target.to_json()) == target
