"""Staff know the policy (issue 17), in the background: the gentle reminder to staff who have not confirmed reading
the current policy, SLT's follow-up about runners approved with training to follow, and the Head Teacher's reminder
that the policy's review is due.

Wiring (in ``create_app``, among the other periodic workers, after the database's cleanup context)::

    Workers(..., PolicyReminders(acknowledgements, training, check_seconds=settings.approval_check_seconds))

Each round's once-only decisions are made in the database (``policy_notices``, and the outbox's dedupe keys), so a
restart, or several bot instances, send each reminder once. Messages go through the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.workers import PeriodicWorker
from services.acknowledgement import PolicyAcknowledgements
from services.training import TrainingRecords
from store.base import utcnow

log = logging.getLogger(__name__)

DEFAULT_CHECK_SECONDS = 600.0


@dataclass(frozen=True)
class PolicyRound:
    reminded: int = 0
    followed_up: int = 0
    review: int = 0


class PolicyReminders(PeriodicWorker):
    def __init__(self, acknowledgements: PolicyAcknowledgements, training: TrainingRecords, *,
                 check_seconds: float = DEFAULT_CHECK_SECONDS) -> None:
        super().__init__("policy-reminders", every_seconds=check_seconds)
        self._acks = acknowledgements
        self._training = training

    async def run_once(self, now: datetime | None = None) -> PolicyRound:
        """One round; each step's failure is logged and does not stop the others."""
        now = now or utcnow()
        reminded = followed = review = 0
        try:
            reminded = await self._acks.send_reminders(now)
        except Exception:  # noqa: BLE001 - a failed step waits for the next round
            log.exception("sending policy reminders failed")
        try:
            followed = await self._training.send_followups(now)
        except Exception:  # noqa: BLE001
            log.exception("sending training follow-ups failed")
        try:
            review = await self._acks.remind_review(now)
        except Exception:  # noqa: BLE001
            log.exception("sending the policy review reminder failed")
        return PolicyRound(reminded, followed, review)

    async def round(self) -> float | None:
        await self.run_once()
        return None
