"""The escalation clock: urgent reports nobody has taken the lead on go to the Head Teacher and the DSL.

Wiring (in the app factory, after the database's cleanup context so it stops before the database closes)::

    escalations = EscalationWorker(incidents, poll_seconds=incidents.settings.escalation_poll_seconds)
    app.cleanup_ctx.append(escalations.cleanup_ctx)

Each round (``run_once``):

1. escalates every urgent report whose school-time limit has passed with nobody leading it
   (``Incidents.escalate_due``): the report's rule names who (Head Teacher and DSL; for allegations about
   staff the Head Teacher only; about the Head Teacher the Chair of Governors only);
2. sends the notifications of reports made while the school directory could not be reached
   (``Incidents.route_pending``).

It survives restarts because it keeps nothing in memory: the due time is stored with each report when it is
made, an escalation is claimed with a conditional update (so two bot instances never escalate one report
twice), and what it sends goes through the outbox in the same transaction as the claim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from services.incidents import Incidents

log = logging.getLogger(__name__)

_ERROR_BACKOFF_CAP_S = 300.0  # the database is down: look again at most this slowly
_STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class EscalationRound:
    escalated: int = 0
    routed: int = 0


class EscalationWorker:
    """Runs ``Incidents.escalate_due`` and ``Incidents.route_pending`` every ``poll_seconds``."""

    def __init__(self, incidents: Incidents, *, poll_seconds: float = 30.0) -> None:
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        self._incidents = incidents
        self._poll_seconds = poll_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> EscalationRound:
        escalated = await self._incidents.escalate_due()
        routed = await self._incidents.route_pending()
        return EscalationRound(escalated, routed)

    async def run(self) -> None:
        log.info("escalation worker started", extra={"poll_seconds": self._poll_seconds})
        failures = 0
        while not self._stopping.is_set():
            try:
                await self.run_once()
                failures = 0
                wait = self._poll_seconds
            except (SQLAlchemyError, OSError) as exc:
                failures += 1
                wait = min(_ERROR_BACKOFF_CAP_S, self._poll_seconds * 2**failures)
                log.warning("escalation round failed (%s); retrying in %.0f s", type(exc).__name__, wait)
            except Exception:
                failures += 1
                wait = min(_ERROR_BACKOFF_CAP_S, self._poll_seconds * 2**failures)
                log.exception("escalation round failed; retrying in %.0f s", wait)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=wait)
            except TimeoutError:
                pass
        log.info("escalation worker stopped")

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="escalation-worker")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=_STOP_TIMEOUT_S)
        if not done:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def cleanup_ctx(self, _app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: runs the worker while the app runs."""
        self.start()
        try:
            yield
        finally:
            await self.stop()
