"""The approvals' background round: routing, reminders, delegation summaries, account hand-over flags.

Wiring (in `create_app`, after `register_accounts`, and after the database's cleanup context so it stops
before the database closes)::

    reminders = ApprovalReminders(accounts.desk, accounts.accounts,
                                  school_days=settings.approval_reminder_school_days,
                                  check_seconds=settings.approval_check_seconds)
    app.cleanup_ctx.append(Workers(outbox, reminders, ...).cleanup_ctx)  # bot/workers.py

Each round (every ``check_seconds``, and once at start-up):

1. **Route**: every pending request's card goes to every current decider who does not have it yet (a
   delegation that started, a Head Teacher who has just opened the bot for the first time).
2. **Remind**: a request pending longer than ``school_days`` school days reminds its deciders, once a
   school day, from the start of school hours (school calendar: `domain.calendar`, 08:00 Monday to Friday by
   default). Term dates are not modelled: every school weekday counts as a school day.
3. **Summarise**: a Head Teacher whose delegation is over is told what was decided while they were away.
4. **Hand-over** (once a school day per process): an account with fewer than two administrators still in
   the directory is posted to the SLT channel, once per set of leavers.

Everything that must happen once is decided in the database (the request's last reminder date, the
delegation's summary time, outbox dedupe keys), so a restart, or several bot instances, remind once.
Messages go through the outbox, like every other proactive message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from bot.workers import PeriodicWorker
from services.accounts import AccountsFeature
from services.approvals import ApprovalDesk, Clock
from store.base import utcnow

log = logging.getLogger(__name__)

DEFAULT_REMINDER_SCHOOL_DAYS = 2  # the default: remind after two school days pending
DEFAULT_CHECK_SECONDS = 600.0  # a round every ten minutes: reminders are daily, routing is a catch-up


@dataclass(frozen=True)
class RoundResult:
    routed: int = 0
    reminded: int = 0
    summaries: int = 0
    handovers_flagged: int = 0


class ApprovalReminders(PeriodicWorker):
    """Runs `run_once` every ``check_seconds`` for the life of the app (``bot/workers.py``)."""

    def __init__(
        self,
        desk: ApprovalDesk,
        accounts: AccountsFeature | None = None,
        *,
        school_days: int = DEFAULT_REMINDER_SCHOOL_DAYS,
        check_seconds: float = DEFAULT_CHECK_SECONDS,
        clock: Clock = utcnow,
    ) -> None:
        if school_days < 0:
            raise ValueError("school_days cannot be negative")
        if check_seconds <= 0:
            raise ValueError("check_seconds must be positive")
        super().__init__("approval-reminders", every_seconds=check_seconds)
        self._desk = desk
        self._accounts = accounts
        self._school_days = school_days
        self._clock = clock
        self._handover_checked_on: date | None = None

    async def run_once(self, now: datetime | None = None) -> RoundResult:
        """One round. Each step's failure is logged and does not stop the others."""
        now = now or self._clock()
        routed = reminded = summaries = flagged = 0
        try:
            routed = await self._desk.route_pending(now)
        except Exception:  # noqa: BLE001 - a failed step waits for the next round
            log.exception("routing pending approvals failed")
        try:
            reminded = await self._desk.send_reminders(now, school_days=self._school_days)
        except Exception:  # noqa: BLE001
            log.exception("sending approval reminders failed")
        try:
            summaries = await self._desk.summarise_ended_delegations(now)
        except Exception:  # noqa: BLE001
            log.exception("summarising ended delegations failed")
        today = self._desk.calendar.school_date(now)
        if self._accounts is not None and self._handover_checked_on != today:
            try:
                flagged = await self._accounts.flag_handovers()
                self._handover_checked_on = today
            except Exception:  # noqa: BLE001
                log.exception("checking account administrators failed")
        result = RoundResult(routed, reminded, summaries, flagged)
        if result != RoundResult():
            log.info("approvals round", extra={"routed": routed, "reminded": reminded, "summaries": summaries,
                                               "handovers": flagged})
        return result

    async def round(self) -> float | None:
        await self.run_once()
        return None
