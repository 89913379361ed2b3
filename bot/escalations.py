"""The safeguarding chain's clock: urgent reports nobody has taken the lead on go to whoever is next.

Wiring (in the app factory, after the database's cleanup context so it stops before the database closes)::

    escalations = EscalationWorker(incidents, poll_seconds=incidents.settings.escalation_poll_seconds)
    app.cleanup_ctx.append(Workers(outbox, reminders, escalations, ...).cleanup_ctx)

Each round (``run_once``):

1. routes again the reports made while the school directory could not say which roles a member of staff they are
   about holds (``Incidents.recheck_subjects``): their roles are read and recorded, whoever the report should have
   gone to is alerted (the Chair of Governors when it is about the Head Teacher), and anyone it reached meanwhile
   whom it is not for is sent nothing more; first, so the chain below follows the report's real route;
2. moves on the safeguarding chain of every urgent report nobody leads (``Incidents.escalate_due``): when its
   clock has run out (``POLICYBOT_INCIDENT_ESCALATION_MINUTES`` *real* minutes, day or night: urgent means now,
   whatever the hour) or at once when Teams could not deliver the alert to anyone it was sent to. The report's route
   (``domain/incident_routing.py``) names who is next: the school's chain (``POLICYBOT_SAFEGUARDING_CHAIN``) for a
   safeguarding report, the Head Teacher for an allegation about staff, the Chair of Governors for a report about
   the Head Teacher, never anyone the report is about; after the last step, everyone alerted is reminded once;
3. sends the notifications of reports made while the school directory could not be reached
   (``Incidents.route_pending``).

It survives restarts because it keeps nothing in memory: the due time is stored with each report, each step is
claimed with a conditional update of that time (so two bot instances never take one step twice), what it sends goes
through the outbox in the same transaction as the claim, and the chronology records each step.
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
    rechecked: int = 0


class EscalationWorker(PeriodicWorker):
    """Runs ``Incidents.recheck_subjects``, ``Incidents.escalate_due`` and ``Incidents.route_pending`` every
    ``poll_seconds`` (``bot/workers.py``)."""

    def __init__(self, incidents: Incidents, *, poll_seconds: float = 30.0) -> None:
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        super().__init__("escalation-worker", every_seconds=poll_seconds, backoff_cap_seconds=_ERROR_BACKOFF_CAP_S)
        self._incidents = incidents

    async def run_once(self) -> EscalationRound:
        rechecked = await self._incidents.recheck_subjects()  # first: the chain and routing then use the roles read
        escalated = await self._incidents.escalate_due()
        routed = await self._incidents.route_pending()
        return EscalationRound(escalated, routed, rechecked)

    async def round(self) -> float | None:
        await self.run_once()
        return None
