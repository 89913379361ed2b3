"""Report an incident (issue 6): from a member of staff to the right people, with a chronology.

The use cases behind ``dialogs/incidents.py`` (which registers them on the router, each verb with its payload
model from ``cards/incidents.py``):

- the report form's steps (``start``, ``on_risk``, ``on_dsl_told``, ``on_category`` ...): is anyone at immediate
  risk? (yes: the emergency steps at once and "have you told the DSL verbally?"), the category with its
  guidance, then the report form; ``report`` saves it and answers with the reference and what happens next
  (also for "Report to SLT" on a Teams message, which the dialog reads);
- ``my_reports``: the sender's own reports (reference, category, when, status);
- the handling verbs on the SLT channel card and the personal details card: view, take the lead, add a note,
  escalate, close, show a screenshot. Every one checks the actor's roles on the server;
- ``receive_screenshots``: images pasted in the personal chat after a report (the dialog finds them in the
  Teams message and hands over how to download them);
- ``escalate_due`` and ``route_pending``, which ``bot.escalations.EscalationWorker`` drives.

Each use case writes in at most one unit of work; whatever it needs from the directory (Microsoft Graph) or
from Teams (a download) it gets before that unit of work, never inside it.

Nothing is lost: a report is committed, with every notification it causes in the outbox, before the reporter
is told it was received; a retried or repeated submission finds the report already made (one record, one
channel post).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cards.base import AdaptiveCard
from cards.incidents import (
    CategoryPayload,
    ChannelFacts,
    ChooseCategoryPayload,
    ClosePayload,
    DslToldPayload,
    EscalatePayload,
    FullReport,
    IncidentPayload,
    ListedReport,
    NotePayload,
    Prefill,
    ReportPayload,
    RiskPayload,
    Routed,
    ScreenshotInfo,
    ScreenshotPayload,
    cancelled_form_card,
    category_card,
    channel_card,
    channel_summary,
    closed_notice_card,
    details_card,
    details_form_card,
    details_summary,
    emergency_card,
    form_problem,
    my_reports_card,
    open_reports_card,
    receipt_card,
    risk_question_card,
    screenshot_card,
)
from cards.replies import ActionResult, CommandReply
from domain.actors import Actor
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.incidents import (
    AGENCY_TITLES,
    OUTCOME_TITLES,
    SYSTEM_ACTOR,
    AlreadyClosed,
    Category,
    CategoryRule,
    ChannelView,
    DslTold,
    EventKind,
    IncidentError,
    LeadAlreadyTaken,
    Permission,
    ReportDetails,
    Status,
    Urgency,
    WhenInFuture,
    authorise,
    personal_recipients,
    reference_year,
    rule_for,
    settle_when,
    urgency_for,
    visible_categories,
)
from domain.roles import ROLE_TITLES, DirectoryUnavailableError, Person, Role, RoleDirectory
from services.audit import AuditTrail
from services.audit import refusal as audit_refusal
from services.audit import view as audit_view
from services.requests import CardAction, CommandRequest
from store import card_copies, conversations, report_forms
from store import incidents as records
from store import retention as retention_records
from store.base import utcnow
from store.conversations import ConversationStore, SchoolSettings
from store.db import Database
from store.outbox import ChannelTarget, OutboxMessage, enqueue

log = logging.getLogger(__name__)

_SUBMISSION_ATTEMPTS = 3  # a concurrent duplicate submission rolls back and retries this often
_MAX_PREFILL = 1000  # what a refused form keeps of the text typed into it

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_SUBJECT = "incident:{}"


# --- settings ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentSettings:
    """The feature's settings (read from ``bot.settings.Settings`` when it has them, else these defaults).

    ``calendar`` is the school calendar: the escalation clock counts its school time, references its year, and
    cards show its times.
    """

    escalation_minutes: int = 30
    calendar: SchoolCalendar = field(default_factory=SchoolCalendar)
    screenshot_minutes: int = 30
    screenshot_max_bytes: int = 5 * 1024 * 1024
    screenshot_inline_max_bytes: int = 20_000  # a data URI this big still fits Teams' ~28 KB card limit
    escalation_poll_seconds: float = 30.0
    slt_channel_id: str = ""

    @classmethod
    def from_settings(cls, settings: Any, *, calendar: SchoolCalendar) -> IncidentSettings:
        """Read ``POLICYBOT_INCIDENT_*`` settings, with defaults while they are absent; ``calendar`` is the school
        calendar the app built from ``POLICYBOT_SCHOOL_*``."""
        defaults = cls()
        return cls(
            escalation_minutes=int(getattr(settings, "incident_escalation_minutes", defaults.escalation_minutes)),
            calendar=calendar,
            screenshot_minutes=int(getattr(settings, "incident_screenshot_minutes", defaults.screenshot_minutes)),
            screenshot_max_bytes=int(
                getattr(settings, "incident_screenshot_max_bytes", defaults.screenshot_max_bytes)
            ),
            screenshot_inline_max_bytes=int(
                getattr(settings, "incident_screenshot_inline_max_bytes", defaults.screenshot_inline_max_bytes)
            ),
            escalation_poll_seconds=float(
                getattr(settings, "incident_escalation_poll_seconds", defaults.escalation_poll_seconds)
            ),
            slt_channel_id=str(getattr(settings, "slt_channel_id", "") or ""),
        )


# --- downloading screenshots ---------------------------------------------------------------------------------


class ScreenshotRefused(Exception):
    """A screenshot that cannot be stored; ``str()`` says why, fit to show the reporter."""


Fetch = Callable[[str, int, bool], Awaitable[bytes]]
"""Download ``url`` (at most ``max_bytes``; ``authenticated``: send the bot's token) or raise ScreenshotRefused."""

TokenProvider = Callable[[], Awaitable[str | None]]
_DOWNLOAD_TIMEOUT_S = 10.0  # well inside Teams' wait for the turn


def http_fetcher(token: TokenProvider | None = None) -> Fetch:
    """A ``Fetch`` over aiohttp that stops reading past ``max_bytes``."""

    async def fetch(url: str, max_bytes: int, authenticated: bool) -> bytes:
        headers = {}
        if authenticated and token is not None:
            bearer = await token()
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
        timeout = aiohttp.ClientTimeout(total=_DOWNLOAD_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
                url, headers=headers, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise ScreenshotRefused(f"Teams did not hand over the file (HTTP {response.status}).")
                if response.content_length is not None and response.content_length > max_bytes:
                    raise ScreenshotRefused(_too_big(max_bytes))
                content = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    content += chunk
                    if len(content) > max_bytes:
                        raise ScreenshotRefused(_too_big(max_bytes))
                return bytes(content)
        except (aiohttp.ClientError, TimeoutError) as problem:
            raise ScreenshotRefused("The file could not be downloaded from Teams just now; try again.") from problem

    return fetch


def _too_big(max_bytes: int) -> str:
    if max_bytes >= 1024 * 1024:
        return f"It is larger than {max_bytes / (1024 * 1024):g} MB."
    return f"It is larger than {max(1, max_bytes // 1024)} KB."


def sniff_image(content: bytes) -> str | None:
    """The image type from the bytes themselves (what the reporter's client claims is not trusted)."""
    for signature, content_type in _IMAGE_SIGNATURES:
        if content.startswith(signature):
            return content_type
    if len(content) > 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


class RemoteImage(Protocol):
    """An image someone sent, still to be downloaded (``dialogs.incidents.screenshot_candidates`` finds them in a
    Teams message)."""

    @property
    def url(self) -> str: ...

    @property
    def file_name(self) -> str: ...

    @property
    def authenticated(self) -> bool:  # Teams' own attachment URL (needs the bot's token); else a ready link
        ...


# --- routing a report ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    aad_object_id: str
    name: str
    role: Role
    reference: dict[str, Any] | None  # the personal chat's conversation reference; None: never opened the bot

    @property
    def label(self) -> str:
        return f"{ROLE_TITLES[self.role]} ({self.name})"


@dataclass(frozen=True)
class RoutingPlan:
    channel: ChannelTarget | None
    recipients: tuple[Recipient, ...]
    pending: bool  # the directory could not say who holds a role: try again later

    @property
    def reachable(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.reference is not None)

    @property
    def unreachable(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.reference is None)


Holders = dict[Role, tuple[Person, ...]]  # who holds each role, as the directory said before a unit of work


def _possible_recipients(rule: CategoryRule) -> frozenset[Role]:
    """Every role a report of this rule may go to personally, with or without an SLT channel (the directory is
    asked for these before the unit of work that learns whether there is a channel)."""
    return personal_recipients(rule, channel_available=True) | personal_recipients(rule, channel_available=False)


def _activity(card: AdaptiveCard, summary: str) -> dict[str, Any]:
    return {"type": "message", "attachments": [card.attachment()], "summary": summary}


_P = TypeVar("_P", bound=BaseModel)


def payload_of(action: CardAction, model: type[_P]) -> _P:
    """The verb's payload as the router validated it (``dialogs/router.py``).

    Raises:
        ValidationError: the action did not come through the router and its data is not a ``model``.
    """
    if isinstance(action.payload, model):
        return action.payload
    return model.model_validate(action.data)


def _could_route(rule: CategoryRule, holders: Holders) -> bool:
    """Whether the directory has answered for every role a report of ``rule`` goes to (with or without a
    channel): if not, routing it now would only find it still pending."""
    return any(personal_recipients(rule, channel_available=channel) <= holders.keys() for channel in (True, False))


class Incidents:
    """The incident feature: reporting, routing, handling and the escalation clock."""

    def __init__(
        self,
        *,
        database: Database,
        directory: RoleDirectory,
        conversations: ConversationStore,
        settings: IncidentSettings,
        school_settings: SchoolSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        on_enqueued: Callable[[], None] | None = None,
        trail: AuditTrail | None = None,
    ) -> None:
        self._db = database
        self._directory = directory
        self._conversations = conversations
        self._school_settings = school_settings or SchoolSettings(database)
        self.settings = settings
        self._clock = clock or utcnow
        self._on_enqueued = on_enqueued or (lambda: None)
        self._trail = trail or AuditTrail(database, clock=self._clock)

    def now(self) -> datetime:
        return self._clock()

    @property
    def calendar(self) -> SchoolCalendar:
        return self.settings.calendar

    def today(self) -> date:
        """Today in the school's calendar (what a report form's date starts at)."""
        return self.calendar.school_date(self.now())

    # --- reporting: the questions -------------------------------------------------------------------------

    async def start(self, request: CommandRequest) -> CommandReply:
        """``report`` (or the help card): the first question. The form's draft is kept as open for the sender, so
        ``cancel`` can stop it (``store/report_forms.py``)."""
        draft = uuid.uuid4().hex
        async with self._db.transaction() as session:
            await report_forms.opened(session, request.actor.aad_object_id, draft, self.now())
        return CommandReply(cards=[risk_question_card(draft)])

    async def cancel_forms(self, actor: Actor) -> str | None:
        """``cancel``: every report form the sender has open can no longer send; what to tell them (None: none was
        open)."""
        async with self._db.transaction() as session:
            count = await report_forms.cancel_open(session, actor.aad_object_id, self.now())
        if not count:
            return None
        log.info("report forms cancelled", extra={"count": count})
        return CANCELLED_REPORT

    async def on_risk(self, action: CardAction) -> ActionResult:
        answer = payload_of(action, RiskPayload)
        if answer.at_risk:
            dsl = await self._holder_names(Role.DSL)
            log.info("incident report: someone at immediate risk; emergency steps shown")
            return ActionResult(card=emergency_card(answer.draft, dsl))
        return ActionResult(card=category_card(answer.draft, False, None))

    async def on_dsl_told(self, action: CardAction) -> ActionResult:
        answer = payload_of(action, DslToldPayload)
        if answer.dsl_told is None:
            return ActionResult(card=emergency_card(answer.draft, await self._holder_names(Role.DSL)))
        return ActionResult(card=category_card(answer.draft, True, answer.dsl_told))

    async def on_choose_category(self, action: CardAction) -> ActionResult:
        answer = payload_of(action, ChooseCategoryPayload)
        return ActionResult(card=category_card(answer.draft, answer.at_risk, answer.dsl_told))

    async def on_category(self, action: CardAction) -> ActionResult:
        answer = payload_of(action, CategoryPayload)
        if answer.category is None:
            return ActionResult(card=category_card(answer.draft, answer.at_risk, answer.dsl_told,
                                                   problem="Choose what the report is about."))
        return ActionResult(card=self._form(answer.draft, answer.category, answer.at_risk, answer.dsl_told))

    def _form(self, draft: str, category: Category, risk: bool, told: DslTold | None, *,
              prefill: Prefill | None = None, problem: str | None = None) -> AdaptiveCard:
        return details_form_card(
            draft, rule_for(category), risk, told, today=self.today(),
            screenshot_minutes=self.settings.screenshot_minutes, prefill=prefill, problem=problem,
        )

    async def on_submit(self, action: CardAction) -> ActionResult:
        form = payload_of(action, ReportPayload)
        if form.category is None:
            return ActionResult(card=category_card(form.draft, form.at_risk, form.dsl_told,
                                                   problem="Choose what the report is about."))
        try:
            details = form.details()
        except ValidationError as error:
            prefill = Prefill(what_happened=form.what_happened[:_MAX_PREFILL], involved=form.involved[:_MAX_PREFILL],
                              link=form.link)
            return ActionResult(card=self._form(form.draft, form.category, form.at_risk, form.dsl_told,
                                                prefill=prefill, problem=form_problem(error)))
        try:
            receipt = await self.report(action.actor, details, form.draft)
        except ReportCancelled:
            return ActionResult(card=cancelled_form_card())
        except WhenInFuture as problem:
            prefill = Prefill(what_happened=form.what_happened[:_MAX_PREFILL], involved=form.involved[:_MAX_PREFILL],
                              link=form.link)
            return ActionResult(card=self._form(form.draft, form.category, form.at_risk, form.dsl_told,
                                                prefill=prefill, problem=str(problem)))
        return ActionResult(card=receipt)

    # --- reporting: saving and routing -----------------------------------------------------------------------

    async def report(
        self, actor: Actor, details: ReportDetails, draft: str, *, emergency: bool = False
    ) -> AdaptiveCard:
        """Save the report with every notification it causes, then answer the reporter with the receipt.

        Raises:
            ReportCancelled: the sender cancelled this report form (``cancel``); nothing was saved.
            WhenInFuture: the date given is after today (the school's); nothing was saved.
        """
        now = self.now()
        details = settle_when(details, now, self.calendar)  # the words about when kept; the date never future
        submission_key = f"{actor.aad_object_id}:{draft}"
        rule = rule_for(details.category)
        holders = await self._holders(_possible_recipients(rule))  # the directory first: never inside the work
        urgency = urgency_for(details.category, details.immediate_risk)
        due = (
            self.calendar.add_school_minutes(now, self.settings.escalation_minutes)
            if urgency is Urgency.URGENT else None
        )
        screenshots_until = now + timedelta(minutes=self.settings.screenshot_minutes)  # refused later if the rule says
        reporter = records.Person(actor.aad_object_id, actor.name or "A member of staff")
        incident: records.Incident | None = None
        for _attempt in range(_SUBMISSION_ATTEMPTS):
            try:
                async with self._db.transaction() as session:
                    existing = await records.find_by_submission(session, submission_key)
                    if existing is not None:
                        raise records.ExistingSubmission(existing)
                    if await report_forms.is_cancelled(session, actor.aad_object_id, draft):
                        raise ReportCancelled(draft)
                    plan = await self._plan(session, details.category, holders)
                    incident = await records.create_incident(
                        session, details=details, reporter=reporter, submission_key=submission_key,
                        year=reference_year(now, self.calendar), urgency=urgency, received_at=now,
                        escalate_due_at=due, screenshots_until=screenshots_until,
                    )
                    await self._route(session, incident, plan, now)
                    await report_forms.sent(session, actor.aad_object_id, draft, now)
                break
            except records.ExistingSubmission as found:
                log.info("incident report submitted again; the first record stands",
                         extra={"incident": found.incident.reference})
                return self._receipt(found.incident, Routed(), emergency=emergency, duplicate=True)
            except records.SubmissionRace:
                continue
        if incident is None:
            async with self._db.sessions() as session:
                incident = await records.find_by_submission(session, submission_key)
            if incident is None:
                raise RuntimeError("the report could not be saved after concurrent submissions")
            return self._receipt(incident, Routed(), emergency=emergency, duplicate=True)
        self._on_enqueued()
        log.info(
            "incident reported",
            extra={"incident": incident.reference, "category": incident.category.value,
                   "urgency": incident.urgency.value, "unreachable": len(plan.unreachable), "pending": plan.pending},
        )
        routed = Routed(
            reached=tuple(r.label for r in plan.reachable),
            unreachable=tuple(r.label for r in plan.unreachable),
            channel=plan.channel is not None and rule.channel is not ChannelView.NONE,
            pending=plan.pending,
        )
        return self._receipt(incident, routed, emergency=emergency)

    def _receipt(self, incident: records.Incident, routed: Routed, *, emergency: bool = False,
                 duplicate: bool = False) -> AdaptiveCard:
        accepting = incident.rule.accepts_screenshots and incident.screenshots_until is not None \
            and incident.screenshots_until > self.now()
        return receipt_card(
            incident.reference, incident.rule, incident.urgency, incident.received_at, routed,
            escalation_minutes=self.settings.escalation_minutes,
            screenshot_minutes=self.settings.screenshot_minutes if accepting and not duplicate else None,
            emergency=emergency, duplicate=duplicate, calendar=self.calendar,
        )

    async def _holder_names(self, role: Role) -> list[str]:
        try:
            return [person.name for person in await self._directory.holders_of(role)]
        except DirectoryUnavailableError:
            return []

    async def slt_channel(self, session: AsyncSession) -> ChannelTarget | None:
        """The channel SLT chose in Teams, else the configured one (if the bot has heard from it)."""
        chosen = await conversations.get_setting(session, SchoolSettings.SLT_CHANNEL)
        if chosen:
            try:
                value = json.loads(chosen)
                return ChannelTarget(service_url=value["service_url"], channel_id=value["channel_id"],
                                     tenant_id=value.get("tenant_id"), team_id=value.get("team_id"))
            except (ValueError, KeyError, TypeError):
                log.error("the stored SLT channel setting cannot be read; incident cards go to SLT personally")
                return None
        if self.settings.slt_channel_id:
            stored = await conversations.channel_of(session, self.settings.slt_channel_id)
            if stored is not None and not stored.stale:
                return ChannelTarget(service_url=stored.service_url, channel_id=stored.channel_id or "",
                                     tenant_id=stored.tenant_id, team_id=stored.team_id)
        return None

    async def _holders(self, roles: Iterable[Role]) -> Holders:
        """Who holds each role, from the directory (read before a unit of work, never inside one: it may be
        Microsoft Graph). A role the directory cannot answer for is left out."""
        found: dict[Role, tuple[Person, ...]] = {}
        for role in Role:
            if role not in roles:
                continue
            try:
                found[role] = tuple(await self._directory.holders_of(role))
            except DirectoryUnavailableError:
                continue
        return found

    async def _people(self, session: AsyncSession, roles: Iterable[Role],
                      holders: Holders) -> tuple[tuple[Recipient, ...], bool]:
        """The recipients holding ``roles`` and their chats; True when the directory could not say for a role."""
        wanted = [role for role in Role if role in roles]
        pending = any(role not in holders for role in wanted)
        people = [(person, role) for role in wanted for person in holders.get(role, ())]
        chats = await conversations.personal_chats_of(session, [person.aad_object_id for person, _ in people])
        recipients: dict[str, Recipient] = {}
        for person, role in people:
            if person.aad_object_id in recipients:
                continue
            chat = chats.get(person.aad_object_id)
            reference = chat.reference if chat is not None and not chat.stale else None
            recipients[person.aad_object_id] = Recipient(person.aad_object_id, person.name, role, reference)
        return tuple(recipients.values()), pending

    async def _plan(self, session: AsyncSession, category: Category, holders: Holders) -> RoutingPlan:
        rule = rule_for(category)
        channel = await self.slt_channel(session) if rule.channel is not ChannelView.NONE else None
        roles = personal_recipients(rule, channel_available=channel is not None)
        recipients, pending = await self._people(session, roles, holders)
        return RoutingPlan(channel, recipients, pending)

    async def _route(self, session: Any, incident: records.Incident, plan: RoutingPlan, now: datetime) -> None:
        """Enqueue the channel card and the personal cards (same transaction as the record)."""
        subject = _SUBJECT.format(incident.id)
        rule = incident.rule
        sent_to: list[str] = []
        if plan.channel is not None and rule.channel is not ChannelView.NONE:
            facts = _channel_facts(incident)
            post_id = await enqueue(session, OutboxMessage.channel_post(
                plan.channel, _activity(channel_card(facts, calendar=self.calendar), channel_summary(facts)),
                dedupe_key=f"{subject}:channel",
            ))
            await card_copies.record(session, subject, "slt_channel", post_id)
            sent_to.append("SLT channel (restricted notice)" if rule.restricted else "SLT channel (minimal card)")
        if plan.reachable:
            card = details_card(await self._full_report(session, incident), calendar=self.calendar)
            for recipient in plan.reachable:
                assert recipient.reference is not None
                message_id = await enqueue(session, OutboxMessage.personal(
                    recipient.reference, _activity(card, details_summary(incident.reference)),
                    dedupe_key=f"{subject}:owner:{recipient.aad_object_id}",
                ))
                await card_copies.record(session, subject, "owner", message_id, recipient.aad_object_id)
                sent_to.append(recipient.label)
        system = records.Person(None, SYSTEM_ACTOR)
        if sent_to:
            await records.append_event(
                session, incident.id, EventKind.ROUTED, system, "Sent to " + "; ".join(sent_to),
                data={"recipients": [r.aad_object_id for r in plan.reachable]}, at=now,
            )
        for recipient in plan.unreachable:
            await records.append_event(
                session, incident.id, EventKind.NOT_REACHABLE, system,
                f"{recipient.label} has not opened Policy Bot in Teams: not sent",
                data={"aad_object_id": recipient.aad_object_id, "label": recipient.label}, at=now,
            )
        if not plan.pending:
            await records.mark_routed(session, incident.id, now)

    async def route_pending(self) -> int:
        """Send the notifications reports could not prepare when they were made (the directory was down), in one
        unit of work for all of them."""
        async with self._db.sessions() as session:
            waiting = [incident for incident_id in await records.unrouted(session)
                       if (incident := await records.get(session, incident_id)) is not None]
        if not waiting:
            return 0
        holders = await self._holders(frozenset().union(*(_possible_recipients(i.rule) for i in waiting)))
        waiting = [incident for incident in waiting if _could_route(incident.rule, holders)]
        if not waiting:
            return 0  # the directory still cannot say: nothing to write
        now = self.now()
        routed = 0
        async with self._db.transaction() as session:
            for waiting_incident in waiting:
                incident = await records.get(session, waiting_incident.id)
                if incident is None or incident.routed_at is not None:
                    continue  # routed meanwhile (another instance)
                plan = await self._plan(session, incident.category, holders)
                if plan.pending:
                    continue
                await self._route(session, incident, plan, now)
                routed += 1
        if routed:
            self._on_enqueued()
        return routed

    # --- the escalation clock ------------------------------------------------------------------------------

    async def escalate_due(self) -> int:
        """Escalate every urgent report nobody has taken the lead on within the school-time limit, in one unit of
        work for all of them."""
        now = self.now()
        async with self._db.sessions() as session:
            due = [incident for incident_id in await records.due_for_escalation(session, now)
                   if (incident := await records.get(session, incident_id)) is not None]
        if not due:
            return 0
        holders = await self._holders(frozenset().union(*(incident.rule.escalate_to for incident in due)))
        escalated: list[records.Incident] = []
        async with self._db.transaction() as session:
            for found in due:
                recipients, pending = await self._people(session, found.rule.escalate_to, holders)
                if pending:
                    log.warning("escalation waits: the directory cannot say who to escalate to",
                                extra={"incident": found.reference})
                    continue
                if not await records.claim_escalation(session, found.id, now):
                    continue  # someone took the lead, or another instance escalated it
                incident = await records.get(session, found.id)
                assert incident is not None
                await self._escalate(session, incident, recipients, now)
                escalated.append(incident)
        for incident in escalated:
            log.warning("urgent incident escalated: nobody took the lead in time",
                        extra={"incident": incident.reference})
        if escalated:
            self._on_enqueued()
        return len(escalated)

    async def _escalate(self, session: Any, incident: records.Incident, recipients: tuple[Recipient, ...],
                        now: datetime) -> None:
        subject = _SUBJECT.format(incident.id)
        system = records.Person(None, SYSTEM_ACTOR)
        minutes = self.settings.escalation_minutes
        banner = f"Escalated to you: nobody has taken the lead on this urgent report within {minutes} minutes of " \
                 "school time."
        report = await self._full_report(session, incident)
        reached = [r for r in recipients if r.reference is not None]
        for recipient in reached:
            assert recipient.reference is not None
            activity = _activity(details_card(report, banner=banner, calendar=self.calendar),
                                 details_summary(incident.reference))
            message_id = await enqueue(session, OutboxMessage.personal(
                recipient.reference, activity, dedupe_key=f"{subject}:escalated:{recipient.aad_object_id}",
            ))
            await card_copies.record(session, subject, "owner", message_id, recipient.aad_object_id)
        await records.append_event(
            session, incident.id, EventKind.AUTO_ESCALATED, system,
            "Escalated to " + ("; ".join(r.label for r in reached) or "nobody reachable"),
            why=f"Urgent and nobody took the lead within {minutes} minutes of school time",
            data={"recipients": [r.aad_object_id for r in reached]}, at=now,
        )
        for recipient in recipients:
            if recipient.reference is None:
                await records.append_event(
                    session, incident.id, EventKind.NOT_REACHABLE, system,
                    f"{recipient.label} has not opened Policy Bot in Teams: escalation not sent",
                    data={"aad_object_id": recipient.aad_object_id, "label": recipient.label}, at=now,
                )

    # --- reading -------------------------------------------------------------------------------------------

    async def _full_report(self, session: Any, incident: records.Incident) -> FullReport:
        chronology = await records.events(session, incident.id)
        shots = await records.attachments(session, incident.id)
        holds = await retention_records.holds_in_force(session)
        held = holds.covers(incident.reference, (incident.reporter_aad, incident.lead_aad),
                            (incident.reporter_name, incident.lead_name, incident.involved, incident.what_happened))
        return FullReport(
            incident_id=incident.id, reference=incident.reference, category=incident.category,
            urgency=incident.urgency, status=incident.status, received_at=incident.received_at,
            reporter_name=incident.reporter_name, immediate_risk=incident.immediate_risk, dsl_told=incident.dsl_told,
            what_happened=incident.what_happened, platform=incident.platform, link=incident.link,
            when_date=incident.when_date, when_detail=incident.when_detail, involved=incident.involved,
            actions_taken=incident.actions_taken, source=incident.source, source_author=incident.source_author,
            lead_name=incident.lead_name, closed_at=incident.closed_at, outcome_kind=incident.outcome_kind,
            outcome=incident.outcome, chronology=tuple(chronology),
            screenshots=tuple(ScreenshotInfo(s.id, s.file_name, s.content_type, s.size) for s in shots),
            legal_hold=held,
        )

    async def unreachable_people(self) -> list[str]:
        """Who open reports could not reach because they have never opened Policy Bot (for SLT's ``status``).

        Someone drops off the list once they have a personal chat with the bot.
        """
        async with self._db.sessions() as session:
            missed = await records.unreachable_recipients(session)
            chats = await conversations.personal_chats_of(session, sorted({aad for aad, _ in missed}))
        labels: dict[str, str] = {}
        for aad_object_id, label in missed:
            if aad_object_id in labels:
                continue
            chat = chats.get(aad_object_id)
            if chat is None or chat.stale:
                labels[aad_object_id] = label
        return sorted(labels.values())

    async def my_reports(self, request: CommandRequest) -> CommandReply:
        """The sender's own reports only: reference, category, when, status."""
        async with self._db.sessions() as session:
            mine = await records.reported_by(session, request.actor.aad_object_id)
        return CommandReply(cards=[my_reports_card([(i.reference, i.category, i.received_at, i.status) for i in mine],
                                                   calendar=self.calendar)])

    async def open_reports(self, request: CommandRequest) -> CommandReply:
        """``open reports`` / ``incidents``: the reports the sender's roles may see (the routing table's handlers:
        a restricted category only to the roles it names), open first, each with a button to its details. The list
        shows no detail of a report (the button checks again and records the view)."""
        roles = await self._roles(request.actor)
        async with self._db.sessions() as session:
            found = await records.for_handlers(session, visible_categories(roles))
        listed = [ListedReport(i.id, i.reference, i.category, i.urgency, i.received_at, i.status, i.lead_name)
                  for i in found]
        return CommandReply(cards=[open_reports_card(listed, now=self.now())])

    # --- handling ------------------------------------------------------------------------------------------

    async def _roles(self, actor: Actor) -> frozenset[Role]:
        return (await self._directory.roles_of(actor.aad_object_id)).roles

    async def _load_authorised(self, session: AsyncSession, action: CardAction, roles: frozenset[Role],
                               permission: Permission) -> records.Incident | str:
        """The report the action names, if the actor (with ``roles``, read before the unit of work) may act on it;
        else a sentence saying why not, the refusal written to the audit trail in ``session`` (the caller's unit of
        work, which commits it with the answer)."""
        incident_id = payload_of(action, IncidentPayload).incident
        incident = await records.get(session, incident_id)
        if incident is None:
            await self._trail.record_in(session, audit_refusal(
                action.actor, action.verb, RecordType.INCIDENT, incident_id, "not_found",
                {"permission": permission.value}))
            return "That report no longer exists."
        try:
            authorise(permission, roles, incident.category, incident.status)
        except IncidentError as refusal:
            reason = "closed" if isinstance(refusal, AlreadyClosed) else "not_permitted"
            await self._trail.record_in(session, audit_refusal(
                action.actor, action.verb, RecordType.INCIDENT, incident.reference, reason,
                {"permission": permission.value, "roles": sorted(role.value for role in roles)}))
            return str(refusal)
        return incident

    def _person(self, actor: Actor) -> records.Person:
        return records.Person(actor.aad_object_id, actor.name or "Someone")

    async def _after_change(self, session: Any, incident_id: int) -> records.Incident:
        """Update every posted copy of the report's cards (channel: minimal; people: full details)."""
        incident = await records.get(session, incident_id)
        assert incident is not None
        facts = _channel_facts(incident)
        report = await self._full_report(session, incident)
        full = _activity(details_card(report, calendar=self.calendar), details_summary(incident.reference))
        minimal = _activity(channel_card(facts, calendar=self.calendar), channel_summary(facts)) \
            if incident.rule.channel is not ChannelView.NONE else None

        def activity_for(copy: card_copies.CardCopyRow) -> dict[str, Any] | None:
            return minimal if copy.audience == "slt_channel" else full

        await card_copies.update_all(session, _SUBJECT.format(incident.id), activity_for,
                                     version=f"v{incident.version}")
        return incident

    def _answer(self, action: CardAction, incident: records.Incident, report: FullReport,
                message: str | None = None) -> ActionResult:
        """The card that replaces the clicked one: minimal in a channel, full in a personal chat."""
        if action.actor.conversation_kind == "personal":
            return ActionResult(card=details_card(report, calendar=self.calendar), message=message)
        if incident.rule.channel is ChannelView.NONE:
            return ActionResult(message=message or "Done.")
        return ActionResult(card=channel_card(_channel_facts(incident), calendar=self.calendar), message=message)

    async def _change(self, action: CardAction, permission: Permission,
                      change: Callable[[Any, records.Incident, datetime], Awaitable[str | None]]) -> ActionResult:
        roles = await self._roles(action.actor)
        now = self.now()
        try:
            async with self._db.transaction() as session:
                loaded = await self._load_authorised(session, action, roles, permission)
                if isinstance(loaded, str):
                    return ActionResult(message=loaded)
                refusal = await change(session, loaded, now)
                if refusal is not None:
                    raise _Refused(refusal)
                incident = await self._after_change(session, loaded.id)
                report = await self._full_report(session, incident)
        except _Refused as refused:
            return ActionResult(message=str(refused))
        self._on_enqueued()
        log.info("incident action", extra={"incident": incident.reference, "verb": action.verb})
        return self._answer(action, incident, report)

    async def on_view(self, action: CardAction) -> ActionResult:
        """Full details, privately: in a personal chat in place; from a channel, sent to the viewer's chat."""
        actor = action.actor
        roles = await self._roles(actor)
        now = self.now()
        async with self._db.transaction() as session:
            loaded = await self._load_authorised(session, action, roles, Permission.VIEW)
            if isinstance(loaded, str):
                return ActionResult(message=loaded)
            chat = None
            if actor.conversation_kind != "personal":
                chat = await conversations.personal_chat_of(session, actor.aad_object_id)
                if chat is None or chat.stale:
                    return ActionResult(message="Open a chat with Policy Bot first (Chat, then New chat, then Policy "
                                                "Bot) so it can send you the details privately, then press View "
                                                "details again.")
            await records.append_event(session, loaded.id, EventKind.VIEWED, self._person(actor),
                                       "Opened the details", at=now)
            await self._trail.record_in(session, audit_view(actor, action.verb, RecordType.INCIDENT, loaded.reference,
                                                            "details"))
            report = await self._full_report(session, loaded)
            if chat is not None:
                subject = _SUBJECT.format(loaded.id)
                message_id = await enqueue(session, OutboxMessage.personal(
                    chat.reference,
                    _activity(details_card(report, calendar=self.calendar), details_summary(loaded.reference)),
                    dedupe_key=f"{subject}:view:{actor.aad_object_id}:v{loaded.version}",
                ))
                await card_copies.record(session, subject, "viewer", message_id, actor.aad_object_id)
        if chat is None:
            return ActionResult(card=details_card(report, calendar=self.calendar))
        self._on_enqueued()
        return ActionResult(message="The details are on their way to your personal chat with Policy Bot.")

    async def on_take_lead(self, action: CardAction) -> ActionResult:
        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            if not await records.take_lead(session, incident.id, self._person(action.actor), now):
                current = await records.get(session, incident.id)
                if current is not None and current.lead_aad == action.actor.aad_object_id:
                    return "You already lead this report."
                if current is not None and current.status is Status.CLOSED:
                    return "This report is already closed. Nothing was changed."
                return str(LeadAlreadyTaken(current.lead_name if current and current.lead_name else "Someone"))
            return None

        return await self._change(action, Permission.TAKE_LEAD, change)

    async def on_note(self, action: CardAction) -> ActionResult:
        note = payload_of(action, NotePayload).note.strip()
        if not note:
            return ActionResult(message="Write the note first.")

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            await records.add_note(session, incident.id, self._person(action.actor), note, now)
            return None

        return await self._change(action, Permission.ADD_NOTE, change)

    async def on_escalate(self, action: CardAction) -> ActionResult:
        form = payload_of(action, EscalatePayload)
        agency = form.agency
        if agency is None:
            return ActionResult(message="Choose who it was escalated to.")
        reason = form.escalation_reason.strip()
        if not reason:
            return ActionResult(message="Say why it was escalated.")
        external = form.external_reference.strip()

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            await records.record_escalation(session, incident.id, self._person(action.actor), agency, reason,
                                            external, now)
            return None

        result = await self._change(action, Permission.ESCALATE, change)
        if result.card is not None and action.actor.conversation_kind == "personal":  # never posted in a channel
            result.message = f"Recorded: escalated to {AGENCY_TITLES[agency]}."
        return result

    async def on_close(self, action: CardAction) -> ActionResult:
        form = payload_of(action, ClosePayload)
        kind = form.outcome_kind
        if kind is None:
            return ActionResult(message="Choose the outcome.")
        outcome = form.outcome.strip()
        if not outcome:
            return ActionResult(message="Say what was done.")

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            if not await records.close(session, incident.id, self._person(action.actor), kind, outcome, now):
                return "This report is already closed. Nothing was changed."
            await self._tell_reporter(session, incident, now)
            return None

        result = await self._change(action, Permission.CLOSE, change)
        if result.card is not None and action.actor.conversation_kind == "personal":  # never posted in a channel
            result.message = f"Closed ({OUTCOME_TITLES[kind]}). The reporter is told it is closed, without details."
        return result

    async def _tell_reporter(self, session: Any, incident: records.Incident, now: datetime) -> None:
        system = records.Person(None, SYSTEM_ACTOR)
        chat = await conversations.personal_chat_of(session, incident.reporter_aad) if incident.reporter_aad else None
        if chat is None or chat.stale:
            await records.append_event(session, incident.id, EventKind.NOT_REACHABLE, system,
                                       "The reporter has no chat with Policy Bot: not told it is closed", at=now)
            return
        card = closed_notice_card(incident.reference, incident.category)
        await enqueue(session, OutboxMessage.personal(
            chat.reference, _activity(card, f"Your report {incident.reference} is closed"),
            dedupe_key=f"{_SUBJECT.format(incident.id)}:closed:reporter",
        ))
        await records.append_event(session, incident.id, EventKind.REPORTER_TOLD, system,
                                   "Told the reporter it is closed (no details)", at=now)

    async def on_show_screenshot(self, action: CardAction) -> ActionResult:
        if action.actor.conversation_kind != "personal":
            return ActionResult(message="Screenshots are shown only in your personal chat with Policy Bot.")
        attachment_id = payload_of(action, ScreenshotPayload).attachment
        roles = await self._roles(action.actor)
        async with self._db.transaction() as session:
            loaded = await self._load_authorised(session, action, roles, Permission.SHOW_ATTACHMENT)
            if isinstance(loaded, str):
                return ActionResult(message=loaded)
            found = await records.attachment_content(session, loaded.id, attachment_id)
            if found is None:
                await self._trail.record_in(session, audit_refusal(
                    action.actor, action.verb, RecordType.INCIDENT, loaded.reference, "not_found",
                    {"attachment": attachment_id}))
                return ActionResult(message="That screenshot is not part of this report.")
            shot, content = found
            ids = [a.id for a in await records.attachments(session, loaded.id)]
            await records.append_event(session, loaded.id, EventKind.VIEWED, self._person(action.actor),
                                       f"Viewed screenshot {ids.index(shot.id) + 1}",
                                       at=self.now())
            await self._trail.record_in(session, audit_view(action.actor, action.verb, RecordType.INCIDENT,
                                                            loaded.reference, "screenshot",
                                                            {"screenshot": ids.index(shot.id) + 1}))
        data_uri = None
        if shot.size <= self.settings.screenshot_inline_max_bytes:
            data_uri = f"data:{shot.content_type};base64,{base64.b64encode(content).decode('ascii')}"
        info = ScreenshotInfo(shot.id, shot.file_name, shot.content_type, shot.size)
        return ActionResult(extra_cards=[screenshot_card(loaded.reference, ids.index(shot.id) + 1, info, data_uri)],
                            message=None)

    # --- screenshots pasted in the personal chat -----------------------------------------------------------

    async def receive_screenshots(
        self, actor: Actor, candidates: Sequence[RemoteImage], fetch: Fetch
    ) -> CommandReply:
        """Store images the reporter sent after a report, with that report (type and size checked).

        Everything is downloaded first (nothing is downloaded for a report that does not take screenshots), then
        stored in one unit of work, with one update of the report's cards.
        """
        now = self.now()
        async with self._db.sessions() as session:
            incident = await records.latest_accepting_screenshots(session, actor.aad_object_id, now)
        if incident is None:
            return CommandReply(texts=[
                "I only keep screenshots that belong to a report. Type **report** to report an incident first; "
                f"for {self.settings.screenshot_minutes} minutes after you send it, screenshots pasted here are "
                "added to it."
            ])
        if not incident.rule.accepts_screenshots:
            return CommandReply(texts=["Screenshots are not accepted for this kind of report: don't copy or forward "
                                       "the image; describe it instead. Nothing was stored."])
        downloaded: list[tuple[str, str, bytes]] = []  # file name, image type, bytes
        refused: list[str] = []
        for candidate in candidates:
            try:
                content = await fetch(candidate.url, self.settings.screenshot_max_bytes, candidate.authenticated)
                content_type = sniff_image(content)
                if content_type is None:
                    raise ScreenshotRefused("It is not a PNG, JPEG, GIF or WebP image.")
            except ScreenshotRefused as refusal:
                refused.append(f"{candidate.file_name}: {refusal}")
                continue
            downloaded.append((candidate.file_name, content_type, content))
        if downloaded:
            async with self._db.transaction() as session:
                added_any = False
                for file_name, content_type, content in downloaded:
                    _, added = await records.add_attachment(
                        session, incident.id, self._person(actor), file_name[:200], content_type, content, now,
                    )
                    added_any = added_any or added
                if added_any:
                    await self._after_change(session, incident.id)
            self._on_enqueued()
            log.info("screenshots stored with an incident", extra={"incident": incident.reference,
                                                                   "count": len(downloaded)})
        texts = []
        if downloaded:
            count = len(downloaded)
            texts.append(f"Added {count} screenshot{'s' if count != 1 else ''} to {incident.reference}. "
                         "Only the people handling it can see them.")
        if refused:
            texts.append("Not stored: " + "; ".join(refused))
        return CommandReply(texts=texts)


class _Refused(Exception):
    pass


class ReportCancelled(Exception):
    """The report form was cancelled (``cancel``) before it was sent: nothing is saved."""


CANCELLED_REPORT = ("Your report was cancelled: nothing was sent, and the report form you had open can no longer "
                    "send it. Type **report** to start again.")


def _channel_facts(incident: records.Incident) -> ChannelFacts:
    return ChannelFacts(
        incident_id=incident.id, reference=incident.reference, category=incident.category, urgency=incident.urgency,
        received_at=incident.received_at, status=incident.status, lead_name=incident.lead_name,
        closed_at=incident.closed_at,
    )


__all__ = [
    "CANCELLED_REPORT",
    "Fetch",
    "IncidentSettings",
    "Incidents",
    "RemoteImage",
    "ReportCancelled",
    "ScreenshotRefused",
    "http_fetcher",
    "payload_of",
    "sniff_image",
]
