"""Delivers the outbox (``store.outbox``) to Teams: retries, back-off, rate limits, exactly-once records.

Wiring (in the app factory)::

    outbox = OutboxWorker(database, BotFrameworkSender(adapter, settings.app_id),
                          poll_seconds=settings.outbox_poll_seconds, max_attempts=settings.outbox_max_attempts,
                          lease=timedelta(seconds=settings.outbox_lease_seconds),
                          renew=timedelta(seconds=settings.outbox_renew_seconds),
                          on_stale=lambda stale: conversations.mark_stale(stale.conversation_id))
    app.cleanup_ctx.append(outbox.cleanup_ctx)  # after the database's: stops before the database closes

What happens to a message:

1. **Claim** (one short transaction): due messages, the first pending one of each lane (conversation),
   leased to this worker for ``lease`` (30 s; several bot instances never send the same message). The
   attempt is counted at the claim. While the round's messages are being sent, a heartbeat renews their
   claims every ``renew`` (10 s), so a slow send (a connector waiting out a 429, a 100 s timeout) keeps
   its claim; a crashed worker's claims run out within one lease and another worker resumes its lanes.
   A worker that finds a claim taken by another (it stalled past its lease) stops renewing it, does not
   send it if it has not yet, and records nothing over the new holder.
2. **Rate limit**: per conversation, a little under Teams' limits (7 per second, 8 per 2 s, 60 per 30 s,
   1800 per hour). A short wait is taken in place; a long one puts the message back without counting an
   attempt.
3. **Send** through the ``Sender`` (``BotFrameworkSender`` in production).
4. **Record** (one short transaction, retried if the database hiccups): delivered with the activity id
   and conversation reference Teams returned; or back-off with jitter (429 honouring Retry-After, 412,
   5xx, connection errors); or stale (403 bot removed or blocked, 404 conversation gone: the
   conversation is reported through ``on_stale``); or failed (413 too big and other 4xx: a bug, logged
   as an ERROR; or attempts exhausted).

Exactly once, and the window that remains: a message is marked delivered right after Teams accepts it,
in its own transaction, retried a few times if the database fails, and a graceful stop waits for
in-flight sends to be recorded. If the process dies after Teams accepted a send and before that commit,
its lease runs out (within ``lease`` of the crash) and the message is sent again: at most the sends in
flight at the crash (one per conversation) are repeated, once. (A connection lost after the request
left, without a response, is the same window.) A repeated update (PUT of the same card to the same
activity id) changes nothing. A repeated new message (a channel post, a personal message) shows twice:
Teams' send API has no idempotency key, so this cannot be closed from our side; later updates of a
repeated post change the copy whose id was recorded, the other keeps its first content.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol

import requests
from aiohttp import ClientError
from azure.core.exceptions import DeserializationError, SerializationError  # msrest raises (and re-exports) these
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)
from botframework.connector import Channels
from msrest.exceptions import ClientRequestError, HttpOperationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.workers import PeriodicWorker
from store.db import Database
from store.outbox import (
    THREAD_SUFFIX,
    ChannelTarget,
    ClaimedMessage,
    OutboxKind,
    OutboxStatus,
    claim_due,
    finish,
    mark_delivered,
    renew_claims,
    schedule_retry,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 412, 429, 500, 502, 503, 504})
"""Teams' documented transient answers (412, 429, 502, 503, 504), plus request timeout and the
occasional 500 Teams gives under load: retried with back-off, bounded by ``max_attempts``."""
_STALE_STATUSES = frozenset({403, 404})  # 403: bot removed or blocked; 404: conversation (or message) gone
_UPDATE_NOT_FOUND_ATTEMPTS = 3  # Teams sometimes answers an update with "message does not exist" (DESIGN.md)

_BACKOFF_BASE_S = 2.0  # first retry after 1-2 s, doubling
_BACKOFF_CAP_S = 15 * 60.0  # never wait longer than this between attempts (unless Retry-After says so)
_RETRY_AFTER_CAP_S = 60 * 60.0  # a Retry-After beyond an hour is treated as an hour
_MIN_RETRY_S = 1.0  # never retry sooner than this, whatever the server says

_DEFAULT_LEASE = timedelta(seconds=30)  # a claim runs out this long after its last renewal (after a crash)
_DEFAULT_RENEW = timedelta(seconds=10)  # a live worker renews its claims this often while it sends
_RENEWALS_PER_LEASE = 3  # the renew interval is at most a third of the lease: two renewals may fail
_CONNECTOR_TIMEOUT_S = 30.0  # one send to the connector (the claim is renewed while it lasts)
_STOP_TIMEOUT_S = _CONNECTOR_TIMEOUT_S + 10.0  # a graceful stop waits this long for in-flight sends
_BATCH_SIZE = 16  # messages claimed (and sent concurrently, one per conversation) per round
_RECORD_ATTEMPTS = 4  # a delivery result is written this many times before giving up (then: re-sent)
_RECORD_RETRY_S = 0.5
_IDLE_ERROR_BACKOFF_CAP_S = 60.0  # the database is down: poll at most this slowly

# Teams allows 7 per second, 8 per 2 s, 60 per 30 s and 1800 per hour per bot per conversation.
TEAMS_SAFE_WINDOWS: tuple[tuple[int, float], ...] = ((5, 1.0), (7, 2.0), (50, 30.0), (1600, 3600.0))
_MAX_INLINE_WAIT_S = 2.0  # wait for the rate limit in place up to this long; beyond, put the message back
_MIN_INLINE_WAIT_S = 0.001  # timestamps are microseconds: always move past the window's edge


# --- what a sender does and how it fails ----------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """What Teams returned: the new activity's id and the conversation it lives in (to update it later)."""

    activity_id: str | None
    conversation_id: str
    reference: dict[str, Any]


class DeliveryError(Exception):
    """A send Teams did not accept.

    Attributes:
        status: the HTTP status, or None when there was no answer (connection refused, timeout).
        retry_after: seconds Teams asked us to wait (Retry-After), if it said.
        retryable: whether the same request may succeed later.
        reason: a short, safe description (an error code or exception type; never message text).
    """

    def __init__(
        self, status: int | None, *, retryable: bool, retry_after: float | None = None, reason: str = ""
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable
        self.reason = reason
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        return f"{self.status if self.status is not None else 'no response'} {self.reason}".strip()


class Sender(Protocol):
    async def post_to_channel(self, channel: ChannelTarget, activity: dict[str, Any]) -> Delivered: ...

    async def send_personal(self, reference: dict[str, Any], activity: dict[str, Any]) -> Delivered: ...

    async def update_activity(
        self, reference: dict[str, Any], activity_id: str, activity: dict[str, Any]
    ) -> Delivered: ...


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date. None if absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


# --- the Bot Framework sender ----------------------------------------------------------------------


def _disable_transport_retries(turn_context: TurnContext) -> Any:
    """The outbox owns retrying. msrest configures urllib3 to retry 5xx and 408 itself, sleeping in a
    worker thread and honouring Retry-After there (PUT and DELETE with urllib3 2; POST too with urllib3 1),
    and connection failures for every method. Turned off for the outbox's connector clients, with a
    bounded timeout, so one attempt is one request and each failure reaches the outbox's back-off."""
    connector = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    if connector is None:
        raise DeliveryError(None, retryable=True, reason="no connector client")
    connector.config.retry_policy.retries = 0
    connector.config.retry_policy.policy.status_forcelist = frozenset()
    connector.config.connection.timeout = _CONNECTOR_TIMEOUT_S
    return connector


def _error_code(exc: HttpOperationError) -> str:
    """Teams' error code ("ConversationNotFound", "MessageSizeTooBig"...), never its message text."""
    error = getattr(getattr(exc, "error", None), "error", None)
    code = getattr(error, "code", None)
    if isinstance(code, str) and code.isascii() and code.replace("_", "").replace("-", "").isalnum():
        return code[:60]
    response = getattr(exc, "response", None)
    return str(getattr(response, "reason", "") or "")[:60]


def delivery_error(exc: BaseException, now: datetime) -> DeliveryError:
    """Translate what botbuilder, msrest and requests raise into a ``DeliveryError``."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, ErrorResponseException | HttpOperationError):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        if not isinstance(status, int):
            return DeliveryError(None, retryable=True, reason="unreadable error response")
        headers = getattr(response, "headers", None) or {}
        return DeliveryError(
            status,
            retryable=status in RETRYABLE_STATUSES,
            retry_after=parse_retry_after(headers.get("Retry-After"), now),
            reason=_error_code(exc),
        )
    if isinstance(exc, ClientRequestError | requests.RequestException | ClientError | OSError | TimeoutError):
        inner = getattr(exc, "inner_exception", None) or exc
        return DeliveryError(None, retryable=True, reason=f"connection: {type(inner).__name__}")
    if isinstance(exc, DeserializationError | SerializationError | KeyError):
        return DeliveryError(None, retryable=False, reason=f"malformed stored message: {type(exc).__name__}")
    raise exc


def _parse_reference(data: dict[str, Any]) -> ConversationReference:
    try:
        reference = ConversationReference().deserialize(data)
    except (DeserializationError, TypeError, AttributeError) as exc:
        raise DeliveryError(None, retryable=False, reason="malformed stored reference") from exc
    if reference.conversation is None or not reference.conversation.id or not reference.service_url:
        raise DeliveryError(None, retryable=False, reason="malformed stored reference")
    return reference


class BotFrameworkSender:
    """Sends through botbuilder's ``CloudAdapter`` (proactively: ``continue_conversation``).

    - personal: ``continue_conversation(reference)`` then ``send_activity``.
    - channel post: ``continue_conversation`` on a reference built for the channel, then the connector's
      ``create_conversation`` with the channel (and tenant) in ``channelData``: Teams starts a new thread
      and returns its conversation id and activity id, both recorded for later updates.
      (``TeamsInfo.send_message_to_teams_channel`` does the same, but with an empty app id (dev mode,
      the Agents Playground) it takes a legacy path that calls ``create_conversation`` with the old
      adapter's signature and fails on ``CloudAdapter``; it also leaves out the tenant.)
    - update: ``continue_conversation`` on the conversation holding the activity, then
      ``activity.id = id; update_activity``.

    An empty ``app_id`` works when the adapter's authentication has none either (dev mode):
    ``CloudAdapter`` builds claims with that empty id and botbuilder's credentials factory, seeing
    authentication disabled, sends without a token. With a real app id the id must be passed (a missing
    one is "Invalid app_id").

    Errors raised inside the proactive turn are caught here: the adapter's ``on_turn_error`` would
    otherwise swallow them (and the send would look delivered).
    """

    def __init__(self, adapter: CloudAdapter, app_id: str) -> None:
        self._adapter = adapter
        self._app_id = app_id or ""

    async def _proactive(
        self, reference: ConversationReference, work: Callable[[TurnContext], Awaitable[Delivered]]
    ) -> Delivered:
        outcome: list[Delivered | BaseException] = []

        async def callback(turn_context: TurnContext) -> None:
            try:
                connector = _disable_transport_retries(turn_context)
                async with connector:  # closes the connector's HTTP session afterwards
                    outcome.append(await work(turn_context))
            except Exception as exc:  # noqa: BLE001 - handed to the caller below, not to on_turn_error
                outcome.append(exc)

        try:
            await self._adapter.continue_conversation(reference, callback, self._app_id)
        except Exception as exc:  # noqa: BLE001 - failures before the turn (credentials, connector factory)
            outcome.append(exc)
        if not outcome:
            raise DeliveryError(None, retryable=True, reason="the proactive turn did not run")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise delivery_error(result, datetime.now(UTC)) from result
        return result

    async def send_personal(self, reference: dict[str, Any], activity: dict[str, Any]) -> Delivered:
        conversation = _parse_reference(reference)

        async def work(turn_context: TurnContext) -> Delivered:
            response = await turn_context.send_activity(Activity().deserialize(activity))
            return Delivered(response.id if response else None, conversation.conversation.id, reference)

        return await self._proactive(conversation, work)

    async def post_to_channel(self, channel: ChannelTarget, activity: dict[str, Any]) -> Delivered:
        reference = ConversationReference(
            channel_id=Channels.ms_teams,
            service_url=channel.service_url,
            conversation=ConversationAccount(
                id=channel.channel_id, is_group=True, conversation_type="channel", tenant_id=channel.tenant_id
            ),
        )
        channel_data: dict[str, Any] = {"channel": {"id": channel.channel_id}}
        if channel.tenant_id:
            channel_data["tenant"] = {"id": channel.tenant_id}  # conversation.tenantID is not what Teams reads
        if channel.team_id:
            channel_data["team"] = {"id": channel.team_id}

        async def work(turn_context: TurnContext) -> Delivered:
            connector = turn_context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
            parameters = ConversationParameters(
                is_group=True, channel_data=channel_data, activity=Activity().deserialize(activity)
            )
            created = await connector.conversations.create_conversation(parameters)
            thread_id = created.id
            activity_id = created.activity_id
            if not activity_id and THREAD_SUFFIX in thread_id:  # the thread is named after its first message
                activity_id = thread_id.split(THREAD_SUFFIX)[1]
            thread = ConversationReference(
                channel_id=Channels.ms_teams,
                service_url=created.service_url or channel.service_url,
                conversation=ConversationAccount(
                    id=thread_id, is_group=True, conversation_type="channel", tenant_id=channel.tenant_id
                ),
            )
            return Delivered(activity_id, thread_id, thread.serialize())

        return await self._proactive(reference, work)

    async def update_activity(
        self, reference: dict[str, Any], activity_id: str, activity: dict[str, Any]
    ) -> Delivered:
        conversation = _parse_reference(reference)

        async def work(turn_context: TurnContext) -> Delivered:
            replacement = Activity().deserialize(activity)
            replacement.id = activity_id
            await turn_context.update_activity(replacement)
            return Delivered(activity_id, conversation.conversation.id, reference)

        return await self._proactive(conversation, work)


# --- time and rate ---------------------------------------------------------------------------------


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds before the next attempt: Retry-After when Teams gave one (plus up to 10%, at most 1 s, so
    throttled senders do not return in step), else doubling from 2 s with "equal jitter" (half fixed,
    half random), capped at 15 minutes; never under a second."""
    if retry_after is not None:
        honoured = min(retry_after, _RETRY_AFTER_CAP_S)
        return max(_MIN_RETRY_S, honoured + rng.uniform(0, min(1.0, 0.1 * honoured)))
    doubling: float = 2 ** (attempts - 1)  # int ** int is typed Any (a negative exponent gives a float)
    ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * doubling)
    return max(_MIN_RETRY_S, ceiling / 2 + rng.uniform(0, ceiling / 2))


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None:
        """Wait in place (the worker itself waits: a rate limit, a record retried)."""

    async def wait_until(self, moment: datetime) -> None:
        """Return once ``now()`` has reached ``moment`` (a timer beside other work: the claims' heartbeat)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_until(self, moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - self.now()).total_seconds()))


class ConversationRateLimiter:
    """Sliding windows per conversation: at most ``limit`` sends in any ``window`` seconds, for each window.

    In memory, per worker: several bot instances each keep their own count (lanes are served one message
    at a time across instances, and a 429 is still handled by back-off).
    """

    def __init__(self, windows: Iterable[tuple[int, float]] = TEAMS_SAFE_WINDOWS) -> None:
        self._windows = tuple(sorted(windows, key=lambda w: w[1]))
        self._longest = max(window for _, window in self._windows)
        self._sent: dict[str, deque[float]] = {}
        self._calls = 0

    def reserve(self, conversation: str, now: float) -> float:
        """Take a send slot now and return 0, or return the seconds to wait (nothing taken)."""
        self._calls += 1
        if self._calls % 1000 == 0:
            self._forget_quiet(now)
        sent = self._sent.setdefault(conversation, deque())
        while sent and sent[0] <= now - self._longest:
            sent.popleft()
        wait = 0.0
        for limit, window in self._windows:
            in_window = sum(1 for moment in sent if moment > now - window)
            if in_window >= limit:
                # the send that must leave the window first is the limit-th most recent one in it
                wait = max(wait, sent[len(sent) - limit] + window - now)
        if wait > 0:
            return wait
        sent.append(now)
        return 0.0

    def _forget_quiet(self, now: float) -> None:
        for conversation in [c for c, sent in self._sent.items() if not sent or sent[-1] <= now - self._longest]:
            del self._sent[conversation]


# --- the worker ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaleTarget:
    """A conversation Teams says the bot can no longer reach (403/404): mark its stored reference stale."""

    conversation_id: str  # the conversation's id (a channel's own id for channel posts and threads)
    kind: OutboxKind
    status: int
    outbox_id: int


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEFERRED = "deferred"  # rate limit or dependency: put back without counting an attempt
    STALE = "stale"
    FAILED = "failed"
    LOST = "lost"  # the result could not be recorded (lease lost or database down)


@dataclass
class DrainReport:
    claimed: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def merge(self, other: DrainReport) -> None:
        self.claimed += other.claimed
        for outcome, count in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + count

    def __getitem__(self, outcome: Outcome) -> int:
        return self.outcomes.get(outcome, 0)


OnStale = Callable[[StaleTarget], Awaitable[None]]


class _Heartbeat:
    """Runs one round's claim renewals beside its sends; stopped when the sends are done. A renewal in
    progress is let finish (cancelling a transaction half way helps nobody); a wait is cancelled."""

    def __init__(self, renewals: Callable[[_Heartbeat], Awaitable[None]]) -> None:
        self.renewing = False
        self._task = asyncio.ensure_future(renewals(self))

    async def stop(self) -> None:
        if not self.renewing:
            self._task.cancel()
        results = await asyncio.gather(self._task, return_exceptions=True)
        if isinstance(results[0], Exception):
            log.error("outbox: the claims' heartbeat failed", exc_info=results[0])


class OutboxWorker(PeriodicWorker):
    """Claims due outbox messages and delivers them; ``run`` forever or ``drain`` what is due now.

    Args:
        database: where the outbox lives.
        sender: sends one message (``BotFrameworkSender`` in production).
        poll_seconds: how often an idle worker looks for work (``wake()`` looks at once).
        max_attempts: attempts before a retryable failure becomes ``failed``.
        clock: time and sleeping (tests pass a fake one).
        on_stale: called with the conversation Teams says is gone (403/404); errors in it are logged.
        lease: how long a claim holds without renewal: after a crash, how long its conversations wait.
        renew: how often the claims of messages being sent are renewed; at most a third of ``lease``, so a
            send longer than the lease (the stock transport's 30 s timeout, the shared-session transport's
            100 s in ``bot/connector.py``) keeps its claim, even if a renewal or two fail.
        batch_size: messages claimed per round (one per conversation), sent concurrently.
        rate_limiter: per-conversation limits (default: a margin under Teams').
        rng: randomness for jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        database: Database,
        sender: Sender,
        *,
        poll_seconds: float = 1.0,
        max_attempts: int = 12,
        clock: Clock | None = None,
        on_stale: OnStale | None = None,
        lease: timedelta = _DEFAULT_LEASE,
        renew: timedelta = _DEFAULT_RENEW,
        batch_size: int = _BATCH_SIZE,
        rate_limiter: ConversationRateLimiter | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if renew <= timedelta(0) or renew * _RENEWALS_PER_LEASE > lease:
            raise ValueError(f"renew ({renew}) must be positive and at most a third of the lease ({lease})")
        super().__init__("outbox-worker", every_seconds=poll_seconds, backoff_cap_seconds=_IDLE_ERROR_BACKOFF_CAP_S)
        self._db = database
        self._sender = sender
        self._poll_seconds = poll_seconds
        self._max_attempts = max_attempts
        self._clock: Clock = clock or SystemClock()
        self._on_stale = on_stale
        self._lease = lease
        self._renew = renew
        self._holding: dict[int, str] = {}  # message id -> claim token, while this worker relies on the claim
        self._lost: set[int] = set()  # claims found taken by another worker (this one stalled past its lease)
        self._batch_size = batch_size
        self._limiter = rate_limiter or ConversationRateLimiter()
        self._rng = rng or random.Random()

    @property
    def lease(self) -> timedelta:
        return self._lease

    @property
    def renew(self) -> timedelta:
        return self._renew

    # -- life cycle (bot/workers.py runs the rounds) --

    async def stop(self, grace_seconds: float = _STOP_TIMEOUT_S) -> None:
        """Finish the round in flight (so sends are recorded), then stop; cancel only after ``grace_seconds``."""
        await super().stop(grace_seconds)

    async def round(self) -> float | None:
        """Deliver what is due: rounds back to back while there is work, else every ``poll_seconds``."""
        report = await self._round()
        return 0 if report.claimed else None

    async def drain(self) -> DrainReport:
        """Deliver everything that is due now (rounds until nothing is claimable)."""
        total = DrainReport()
        while True:
            report = await self._round()
            total.merge(report)
            if report.claimed == 0:
                return total

    # -- one round --

    async def _round(self) -> DrainReport:
        now = self._clock.now()
        token = uuid.uuid4().hex
        async with self._db.transaction() as session:
            claimed = await claim_due(
                session, now=now, lease_until=now + self._lease, token=token, limit=self._batch_size
            )
        report = DrainReport(claimed=len(claimed))
        if claimed:
            self._holding.update((message.id, token) for message in claimed)
            ids = [message.id for message in claimed]
            heartbeat = _Heartbeat(lambda beat: self._keep_claims(token, ids, beat))
            try:
                outcomes = await asyncio.gather(*(self._deliver(message) for message in claimed))
            finally:
                await heartbeat.stop()
                for message in claimed:
                    self._holding.pop(message.id, None)
                    self._lost.discard(message.id)
            for outcome in outcomes:
                report.add(outcome)
        return report

    async def _keep_claims(self, token: str, ids: list[int], heartbeat: _Heartbeat) -> None:
        """Renew ``token``'s claims every ``renew`` while they are relied on; note those another worker took."""
        due = self._clock.now() + self._renew
        while True:
            await self._clock.wait_until(due)
            held = [message_id for message_id in ids if self._holding.get(message_id) == token]
            if not held:
                return
            heartbeat.renewing = True
            now = self._clock.now()
            due = now + self._renew
            try:
                async with self._db.transaction() as session:
                    renewal = await renew_claims(session, held, token=token, now=now, lease_until=now + self._lease)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("outbox: claims not renewed (%s); trying again in %.0f s", type(exc).__name__,
                            self._renew.total_seconds())
                continue
            finally:
                heartbeat.renewing = False
            for message_id in renewal.lost:
                if self._holding.get(message_id) == token:
                    self._lost.add(message_id)
                    log.warning(
                        "outbox: the claim was taken by another worker (this one stalled past its lease); "
                        "nothing will be sent or recorded over it", extra={"outbox_id": message_id},
                    )

    async def _deliver(self, message: ClaimedMessage) -> Outcome:
        try:
            return await self._deliver_one(message)
        except Exception:  # noqa: BLE001 - one message's failure must not stop the others
            log.exception("outbox message could not be handled", extra={"outbox_id": message.id})
            return Outcome.LOST

    async def _deliver_one(self, message: ClaimedMessage) -> Outcome:
        if message.attempts > self._max_attempts:  # claimed again and again, never answered: crashes the worker?
            log.error("outbox message abandoned after %d claims without a result", message.attempts,
                      extra={"outbox_id": message.id, "kind": message.kind.value})
            return await self._finish(message, OutboxStatus.FAILED, "abandoned: no result after repeated claims")
        reference: dict[str, Any] | None = message.target
        activity_id = message.activity_id
        if message.kind is OutboxKind.UPDATE_ACTIVITY and message.dependency is not None:
            dependency = message.dependency
            if dependency.status is OutboxStatus.PENDING:  # lanes make this rare: wait for it
                return await self._defer(message, self._poll_seconds)
            if dependency.status is not OutboxStatus.DELIVERED or not dependency.activity_id:
                return await self._finish(message, OutboxStatus.STALE, "the message to update was not delivered")
            reference, activity_id = dependency.reference, dependency.activity_id

        wait = await self._rate_limit(message.lane)
        if wait > 0:
            return await self._defer(message, wait)
        if message.id in self._lost:  # another worker holds it now and sends it itself
            log.warning("outbox: claim lost before sending; not sent", extra={"outbox_id": message.id})
            return Outcome.LOST

        try:
            delivered = await self._send(message, reference, activity_id)
        except DeliveryError as error:
            return await self._failed_attempt(message, error)
        except Exception as exc:  # noqa: BLE001 - unexpected: logged in full, retried within max_attempts
            log.exception("outbox send raised unexpectedly", extra={"outbox_id": message.id})
            return await self._failed_attempt(
                message, DeliveryError(None, retryable=True, reason=f"unexpected: {type(exc).__name__}")
            )
        return await self._delivered(message, delivered)

    async def _send(
        self, message: ClaimedMessage, reference: dict[str, Any] | None, activity_id: str | None
    ) -> Delivered:
        if message.kind is OutboxKind.POST_TO_CHANNEL:
            return await self._sender.post_to_channel(ChannelTarget.from_json(message.target or {}), message.activity)
        if message.kind is OutboxKind.SEND_PERSONAL:
            return await self._sender.send_personal(reference or {}, message.activity)
        if reference is None or not activity_id:
            raise DeliveryError(None, retryable=False, reason="update without a conversation or activity id")
        return await self._sender.update_activity(reference, activity_id, message.activity)

    async def _rate_limit(self, lane: str) -> float:
        """0 once a send slot is taken; else the (long) wait after which to try again."""
        while True:
            wait = self._limiter.reserve(lane, self._clock.now().timestamp())
            if wait <= 0:
                return 0.0
            if wait > _MAX_INLINE_WAIT_S:
                return wait
            await self._clock.sleep(max(wait, _MIN_INLINE_WAIT_S))

    # -- recording results --

    async def _record(
        self, write: Callable[[AsyncSession], Awaitable[bool]], message: ClaimedMessage
    ) -> bool | None:
        """Run ``write`` in its own transaction, retrying database errors; None if it never succeeded."""
        self._holding.pop(message.id, None)  # the write says whether the claim still holds: no renewing it now
        for attempt in range(1, _RECORD_ATTEMPTS + 1):
            try:
                async with self._db.transaction() as session:
                    return await write(session)
            except (SQLAlchemyError, OSError) as exc:
                log.warning(
                    "outbox: cannot record a result (%s), attempt %d", type(exc).__name__, attempt,
                    extra={"outbox_id": message.id},
                )
                if attempt < _RECORD_ATTEMPTS:
                    await self._clock.sleep(_RECORD_RETRY_S * attempt)
        log.error(
            "outbox: result not recorded; the message will be tried again when its lease expires",
            extra={"outbox_id": message.id},
        )
        return None

    async def _delivered(self, message: ClaimedMessage, delivered: Delivered) -> Outcome:
        now = self._clock.now()
        recorded = await self._record(
            lambda session: mark_delivered(
                session, message.id, claim_token=message.claim_token, now=now, activity_id=delivered.activity_id,
                conversation_id=delivered.conversation_id, reference=delivered.reference,
            ),
            message,
        )
        if recorded is None:
            return Outcome.LOST
        if not recorded:
            log.warning(
                "outbox message delivered, but another worker holds or has recorded it (this one stalled past "
                "its lease): not recorded over it; it may show twice",
                extra={"outbox_id": message.id},
            )
            return Outcome.LOST
        log.info(
            "outbox message delivered",
            extra={"outbox_id": message.id, "kind": message.kind.value, "attempts": message.attempts},
        )
        return Outcome.DELIVERED

    async def _defer(self, message: ClaimedMessage, seconds: float) -> Outcome:
        now = self._clock.now()
        at = now + timedelta(seconds=max(seconds, 0.001))
        await self._record(
            lambda session: schedule_retry(session, message, now=now, at=at, error=None, count_attempt=False),
            message,
        )
        return Outcome.DEFERRED

    async def _finish(self, message: ClaimedMessage, status: OutboxStatus, error: str) -> Outcome:
        now = self._clock.now()
        await self._record(lambda session: finish(session, message, status, now=now, error=error), message)
        return Outcome.STALE if status is OutboxStatus.STALE else Outcome.FAILED

    async def _failed_attempt(self, message: ClaimedMessage, error: DeliveryError) -> Outcome:
        context = {"outbox_id": message.id, "kind": message.kind.value, "status": error.status,
                   "attempts": message.attempts}
        status = error.status
        if status in _STALE_STATUSES:
            if message.kind is OutboxKind.UPDATE_ACTIVITY and status == 404:
                if message.attempts < _UPDATE_NOT_FOUND_ATTEMPTS:
                    return await self._retry(message, error, context)
                log.warning("outbox update: the message to update is gone", extra=context)
                return await self._finish(message, OutboxStatus.STALE, error.summary)
            log.warning("outbox: conversation unreachable (bot removed, blocked or conversation gone)",
                        extra=context)
            outcome = await self._finish(message, OutboxStatus.STALE, error.summary)
            await self._report_stale(message, status)
            return outcome
        if status == 413:
            log.error("outbox message too big for Teams: a bug in the card that built it", extra=context)
            return await self._finish(message, OutboxStatus.FAILED, error.summary)
        if not error.retryable:
            log.error("outbox message refused by Teams; not retried", extra={**context, "reason": error.reason})
            return await self._finish(message, OutboxStatus.FAILED, error.summary)
        if message.attempts >= self._max_attempts:
            log.error("outbox message undeliverable after %d attempts", message.attempts,
                      extra={**context, "reason": error.reason})
            return await self._finish(message, OutboxStatus.FAILED, error.summary)
        return await self._retry(message, error, context)

    async def _retry(self, message: ClaimedMessage, error: DeliveryError, context: dict[str, Any]) -> Outcome:
        delay = retry_delay(message.attempts, error.retry_after, self._rng)
        now = self._clock.now()
        at = now + timedelta(seconds=delay)
        log.warning("outbox send failed; retrying in %.1f s", delay, extra={**context, "reason": error.reason})
        await self._record(
            lambda session: schedule_retry(session, message, now=now, at=at, error=error.summary), message
        )
        return Outcome.RETRY

    async def _report_stale(self, message: ClaimedMessage, status: int) -> None:
        if self._on_stale is None:
            return
        try:
            await self._on_stale(StaleTarget(message.lane, message.kind, status, message.id))
        except Exception:  # noqa: BLE001 - the hook belongs to someone else; the outbox carries on
            log.exception("outbox: on_stale hook failed", extra={"outbox_id": message.id})
