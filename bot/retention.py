"""The retention job on the periodic runner: once a day (``POLICYBOT_RETENTION_RUN_HOURS``), the first run a
while after start-up so a restart does not compete with the first turns.

Each round is ``Retention.run`` (``services/retention.py``): a read when nothing is due, else one unit of work
that removes, anonymises or flags what the schedule says and tells the DPO. It keeps nothing in memory: a
restart or a second bot instance repeats nothing (what was removed is gone and tombstoned; a flag is a row).
A run that finds more than one batch due asks for the next round at once.
"""

from __future__ import annotations

from bot.workers import PeriodicWorker
from services.retention import Retention, RunOutcome

_FIRST_RUN_DELAY_S = 600.0  # after start-up, let the bot settle before the first run
_NEXT_BATCH_S = 1.0  # more was due than one batch: continue almost at once


class RetentionWorker(PeriodicWorker):
    def __init__(self, retention: Retention, *, every_hours: float = 24.0,
                 first_run_delay_seconds: float = _FIRST_RUN_DELAY_S) -> None:
        super().__init__("retention-worker", every_seconds=every_hours * 3600.0)
        self._retention = retention
        self._first_delay = first_run_delay_seconds
        self._waited = first_run_delay_seconds <= 0

    async def run_once(self) -> RunOutcome:
        return await self._retention.run()

    async def round(self) -> float | None:
        if not self._waited:
            self._waited = True
            return self._first_delay
        outcome = await self.run_once()
        return _NEXT_BATCH_S if outcome.plan.more_to_do else None
