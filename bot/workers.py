"""The one way the bot runs work in the background: periodic workers, started and stopped with the app.

Each worker (the outbox, approval reminders, incident escalations, the SharePoint consent sync) says what
one round does (``round``) and how long to wait after it; this module runs the rounds, waits, wakes early
when asked, backs off after a failure (a database or network outage: logged, never fatal) and stops
cleanly: the round in flight finishes (so a send is recorded) unless it outlasts the grace period.

Wiring, in the app factory, after the database's cleanup context (so workers stop before it closes)::

    app.cleanup_ctx.append(Workers(outbox, reminders, escalations, consent_sync).cleanup_ctx)
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from services.consent_sync import ConsentSync

log = logging.getLogger(__name__)

_DEFAULT_BACKOFF_CAP_S = 300.0  # after repeated failures, try at most this slowly
_DEFAULT_STOP_GRACE_S = 15.0  # a round in flight may finish within this when the app stops


class PeriodicWorker(ABC):
    """A round every ``every_seconds`` (or as each round asks), for the life of the app.

    Args:
        name: for logs and the asyncio task.
        every_seconds: the wait after a round that asks for no other.
        backoff_cap_seconds: the longest wait after failed rounds (the wait doubles with each failure).
    """

    def __init__(self, name: str, *, every_seconds: float,
                 backoff_cap_seconds: float = _DEFAULT_BACKOFF_CAP_S) -> None:
        if every_seconds <= 0:
            raise ValueError(f"{name}: the interval must be positive")
        self.name = name
        self.every_seconds = every_seconds
        self._backoff_cap = backoff_cap_seconds
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def round(self) -> float | None:
        """One round. Returns the seconds to wait before the next (0: at once), or None for ``every_seconds``."""

    def wake(self) -> None:
        """Run the next round now (after committing work for it, e.g. an outbox message)."""
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self, grace_seconds: float = _DEFAULT_STOP_GRACE_S) -> None:
        """Let the round in flight finish, then stop; cancel it only after ``grace_seconds``."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=grace_seconds)
        if not done:
            log.warning("%s did not stop in time: cancelled", self.name)
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def run(self) -> None:
        """Rounds until ``stop()``; a failed round is logged and retried after a growing wait."""
        log.info("%s started", self.name)
        failures = 0
        while not self._stopping:
            try:
                asked = await self.round()
                failures = 0
                wait = self.every_seconds if asked is None else asked
            except (SQLAlchemyError, OSError) as exc:
                failures += 1
                wait = min(self._backoff_cap, self.every_seconds * 2**failures)
                log.warning("%s: round failed (%s); retrying in %.0f s", self.name, type(exc).__name__, wait)
            except Exception:
                failures += 1
                wait = min(self._backoff_cap, self.every_seconds * 2**failures)
                log.exception("%s: round failed; retrying in %.0f s", self.name, wait)
            await self._idle(wait)
        log.info("%s stopped", self.name)

    async def _idle(self, seconds: float) -> None:
        if self._stopping or seconds <= 0:
            return
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        except TimeoutError:
            pass
        self._wakeup.clear()

    async def cleanup_ctx(self, _app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: runs this worker alone while the app runs (tests; the app uses ``Workers``)."""
        self.start()
        try:
            yield
        finally:
            await self.stop()


class ConsentSyncWorker(PeriodicWorker):
    """Reads the SharePoint consent list at start-up and every interval (longer when Graph asks: Retry-After)."""

    def __init__(self, sync: ConsentSync) -> None:
        super().__init__("consent-sharepoint-sync", every_seconds=sync.interval_seconds or 1.0)
        self._sync = sync

    async def round(self) -> float | None:
        outcome = await self._sync.sync()  # never raises for Graph or the list's content
        self._sync.rounds += 1
        return self._sync.next_delay(outcome)


class Workers:
    """The app's periodic workers: started together once the database is ready, stopped together before it
    closes."""

    def __init__(self, *workers: PeriodicWorker) -> None:
        self.workers = workers

    async def cleanup_ctx(self, _app: web.Application) -> AsyncIterator[None]:
        for worker in self.workers:
            worker.start()
        try:
            yield
        finally:
            await asyncio.gather(*(worker.stop() for worker in self.workers))
