"""``dashboard`` (SLT, the Head Teacher, the DSL; personal chat): the figures of a period as one card of charts.

Who may see it is declared here once (``ACCESS``: one declaration for the command and the period chooser). The router
checks it before the service runs, and the service checks the same declaration again (``services/audit.py`` ``Gate``:
it is the authority wherever it is called from), each refusal in the audit trail. It then reads, in one read-only
unit of work (no write lock held while the database counts), the figures the database counts (``store/dashboard.py``)
over the categories the viewer may see (``domain/dashboard.py``). The view is then recorded in the audit trail (what
period, which restricted categories), since restricted categories appear as counts in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cards.dashboard import PERIOD_VERB, PeriodPayload, dashboard_card
from cards.replies import ActionResult, CommandReply
from domain.access import Access, only
from domain.actors import Actor
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.dashboard import (
    Figures,
    Period,
    PeriodChoice,
    SchoolTerms,
    apply_suppression,
    dashboard_categories,
    restricted,
    sections,
)
from domain.incidents import Category
from domain.roles import Role, RoleDirectory
from services.approvals import button_payload
from services.audit import AuditTrail, Gate, view
from services.requests import CardAction, CommandRequest
from store import dashboard as store
from store.base import utcnow
from store.db import Database

COMMAND = "dashboard"
# SLT, the Head Teacher and the DSL, in the personal chat: the counts may include restricted categories.
VIEWERS: Access = only(
    Role.SLT, Role.HEAD_TEACHER, Role.DSL, personal_only=True,
    refusal="Only SLT, the Head Teacher and the Designated Safeguarding Lead can see the dashboard. Nothing was shown.")
ACCESS: dict[str, Access] = {COMMAND: VIEWERS, PERIOD_VERB: VIEWERS}  # by the route name the router uses
_WORDS = {"last term": PeriodChoice.LAST_TERM, "previous term": PeriodChoice.LAST_TERM,
          "this term": PeriodChoice.THIS_TERM, "term": PeriodChoice.THIS_TERM,
          "this year": PeriodChoice.SCHOOL_YEAR, "school year": PeriodChoice.SCHOOL_YEAR,
          "this school year": PeriodChoice.SCHOOL_YEAR, "year": PeriodChoice.SCHOOL_YEAR}

REFERRALS_TABLE_NOTE = ("Referrals are counted from each report's chronology: every escalation or referral to an "
                        "outside agency, once per report and agency.")


def period_from_words(argument: str) -> PeriodChoice | None:
    """``dashboard last term`` and the like; None when the words name no period."""
    text = " ".join(argument.lower().split())
    return _WORDS.get(text) if text else PeriodChoice.THIS_TERM


async def read_figures(session: AsyncSession, period: Period, categories: frozenset[Category],
                       now: datetime) -> Figures:
    """The figures of ``period`` (one session, read only)."""
    return await store.figures(session, period, categories, now, referrals_note=REFERRALS_TABLE_NOTE)


class Dashboard:
    def __init__(self, database: Database, directory: RoleDirectory, *, audit: AuditTrail,
                 calendar: SchoolCalendar | None = None, terms: SchoolTerms | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._directory = directory
        self._audit = audit
        self._gate = Gate(directory, audit)
        self._calendar = calendar or SchoolCalendar()
        self._terms = terms or SchoolTerms(self._calendar)
        self._clock = clock

    async def _roles_unless_refused(self, name: str, actor: Actor) -> tuple[frozenset[Role], str | None]:
        """The sender's roles (which categories are counted depends on them) and the check of ``ACCESS[name]``,
        with one lookup (outside the personal chat the check refuses without asking the directory)."""
        lookup = await self._directory.roles_of(actor.aad_object_id) if actor.in_personal_chat else None
        refused = await self._gate.refused(name, ACCESS[name], actor, lookup=lookup)
        if refused is None and lookup is None:  # admitted outside the personal chat (not by today's declaration)
            lookup = await self._directory.roles_of(actor.aad_object_id)
        return (lookup.roles if lookup else frozenset()), refused

    async def command(self, request: CommandRequest) -> CommandReply:
        choice = period_from_words(request.argument)
        if choice is None:
            _, refused = await self._roles_unless_refused(COMMAND, request.actor)
            return CommandReply(texts=[refused or "Type **dashboard**, **dashboard last term** or **dashboard school "
                                                  "year**."])
        result = await self.show(request.actor, choice)
        return CommandReply(cards=[result.card] if result.card else [], texts=[result.message] if result.message
                            else [])

    async def on_period(self, action: CardAction) -> ActionResult:
        """The period chooser's button (its payload as the router validated it, or validated here once the sender
        is checked)."""
        roles, refused = await self._roles_unless_refused(PERIOD_VERB, action.actor)
        if refused is not None:
            return ActionResult(message=refused)
        return await self._card(action.actor, roles, button_payload(action, PeriodPayload).period, PERIOD_VERB)

    async def show(self, actor: Actor, choice: PeriodChoice, *, action: str = COMMAND) -> ActionResult:
        """The card of ``choice``'s figures for ``actor``, once ``ACCESS[action]`` admits them."""
        roles, refused = await self._roles_unless_refused(action, actor)
        if refused is not None:
            return ActionResult(message=refused)
        return await self._card(actor, roles, choice, action)

    async def _card(self, actor: Actor, roles: frozenset[Role], choice: PeriodChoice, action: str) -> ActionResult:
        """The figures over the categories ``roles`` may see; the view in the trail as ``action``."""
        now = self._clock()
        period = self._terms.period(choice, now)
        categories = dashboard_categories(roles)
        async with self._db.sessions() as session:
            behind = await store.check_days_to_roll_up(session, now)
        if behind:  # a day of photo checks is over: count it once (a short write), then read
            async with self._db.transaction() as session:
                await store.roll_up_check_days(session, now)
        async with self._db.sessions() as session:  # read only: no write lock held while the database counts
            figures = await read_figures(session, period, categories, now)
        await self._audit.record(view(
            actor, action, RecordType.NONE, period.key, "dashboard",
            {"period": choice.value, "restricted_categories": sorted(c.value for c in categories if restricted(c)),
             "roles": sorted(r.value for r in roles)}))
        card = dashboard_card(sections(apply_suppression(figures)), choice=choice, period_title=period.title,
                              as_of=self._calendar.card_time(now), viewer_note=_viewer_note(roles))
        return ActionResult(card=card)


def _viewer_note(roles: frozenset[Role]) -> str:
    seen = [c for c in dashboard_categories(roles) if restricted(c)]
    if not seen:
        return "Counts of the reports your role may see. No restricted category is counted for your role."
    return (f"Counts of the reports your role may see, with {len(seen)} restricted categor"
            f"{'y' if len(seen) == 1 else 'ies'} as counts only. This term and this school year run to now.")
