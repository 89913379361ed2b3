"""The escalation clock: urgent reports nobody has taken the lead on go to the Head Teacher and the DSL.

Wiring (in the app factory, after the database's cleanup context so it stops before the database closes)::

    escalations = EscalationWorker(incidents, poll_seconds=incidents.settings.escalation_poll_seconds)
    app.cleanup_ctx.append(Workers(outbox, reminders, escalations, ...).cleanup_ctx)

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

import logging
from dataclasses import dataclass

from bot.workers import PeriodicWorker
from services.incidents import Incidents

log = logging.getLogger(__name__)

_ERROR_BACKOFF_CAP_S = 300.0  # the database is down: look again at most this slowly


@dataclass(frozen=True)
class EscalationRound:
    escalated: int = 0
    routed: int = 0


class EscalationWorker(PeriodicWorker):
    """Runs ``Incidents.escalate_due`` and ``Incidents.route_pending`` every ``poll_seconds`` (``bot/workers.py``)."""

    def __init__(self, incidents: Incidents, *, poll_seconds: float = 30.0) -> None:
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        super().__init__("escalation-worker", every_seconds=poll_seconds, backoff_cap_seconds=_ERROR_BACKOFF_CAP_S)
        self._incidents = incidents

    async def run_once(self) -> EscalationRound:
        escalated = await self._incidents.escalate_due()
        routed = await self._incidents.route_pending()
        return EscalationRound(escalated, routed)

    async def round(self) -> float | None:
        await self.run_once()
        return None
