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
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cards.base import AdaptiveCard
from cards.incident_chooser import TopicPayload, second_question_card
from cards.incident_subject import SubjectConfirmPayload, subject_confirm_card
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
    Verb,
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
    rerouted_notice_card,
    risk_question_card,
    screenshot_card,
)
from cards.media_enquiry import media_enquiry_form_card
from cards.replies import ActionResult, CommandReply
from domain.actors import Actor
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.incident_chooser import TOPICS
from domain.incident_routing import (
    DEFAULT_CHAIN,
    MAX_ASKED,
    ROUTING_ROLES,
    ChainStep,
    EmergencyContacts,
    NamedPerson,
    Route,
    Subject,
    SubjectKind,
    SubjectSource,
    authorise_report,
    may_handle,
    names_in_text,
    parse_chain,
    role_line,
    route_report,
)
from domain.incidents import (
    AGENCY_TITLES,
    OUTCOME_TITLES,
    SYSTEM_ACTOR,
    AlreadyClosed,
    Category,
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
    reference_year,
    rule_for,
    settle_when,
    urgency_for,
)
from domain.media_enquiry import MediaEnquiry
from domain.roles import ROLE_TITLES, DirectoryUnavailableError, Person, Role, RoleDirectory
from domain.safeguarding_record import RecordError, referral_date, require_reason
from services.audit import AuditTrail
from services.audit import refusal as audit_refusal
from services.audit import view as audit_view
from services.requests import CardAction, CommandRequest
from store import card_copies, conversations, media_enquiries, report_forms
from store import incidents as records
from store import retention as retention_records
from store import safeguarding_record as record_parts
from store.base import utcnow
from store.conversations import ConversationStore, SchoolSettings
from store.db import Database
from store.outbox import ChannelTarget, OutboxMessage, OutboxStatus, enqueue

log = logging.getLogger(__name__)

_SCANNED = 500  # open reports read for ``open reports`` before each is checked against its route
_OPEN_LISTED = 25
_CLOSED_LISTED = 5
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SUBMISSION_ATTEMPTS = 3  # a concurrent duplicate submission rolls back and retries this often

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

    escalation_minutes: int = 15  # real minutes: the safeguarding chain's clock
    calendar: SchoolCalendar = field(default_factory=SchoolCalendar)
    chain: tuple[ChainStep, ...] = field(default_factory=lambda: parse_chain(DEFAULT_CHAIN))
    contacts: EmergencyContacts = field(default_factory=EmergencyContacts)
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
            chain=parse_chain(str(getattr(settings, "safeguarding_chain", "") or ",".join(DEFAULT_CHAIN))),
            contacts=EmergencyContacts(**{
                name: str(getattr(settings, f"safeguarding_phone_{name}", "") or "")
                for name in ("dsl", "deputy_dsl", "children_services", "out_of_hours", "lado")
            }),
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
    role: Role | None  # None: a person the safeguarding chain names
    reference: dict[str, Any] | None  # the personal chat's conversation reference; None: cannot be reached
    why_not: str = "has not opened Policy Bot in Teams"  # why they cannot be reached (reference None)

    @property
    def label(self) -> str:
        return f"{ROLE_TITLES[self.role] if self.role else 'Safeguarding contact'} ({self.name})"


@dataclass(frozen=True)
class RoutingPlan:
    """Who one report goes to now (``Incidents._plan``): the channel, the people alerted at once and, for an urgent
    report nobody of those could be reached for, the steps of the safeguarding chain walked to find someone."""

    channel: ChannelTarget | None
    recipients: tuple[Recipient, ...]
    pending: bool  # the directory could not say who holds a role: try again later
    route: Route | None = None
    chain_step: int = -1  # the last step of the safeguarding chain tried
    chain_lines: tuple[tuple[int, str, tuple[str, ...]], ...] = ()  # (step, what happened, who it reached)

    @property
    def reachable(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.reference is not None)

    @property
    def unreachable(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.reference is None)


Holders = dict[Role, tuple[Person, ...]]  # who holds each role, as the directory said before a unit of work


def _route_roles(route: Route) -> frozenset[Role]:
    """Every role a report routed by ``route`` may go to personally (with or without an SLT channel, and along its
    safeguarding chain): the directory is asked for these before the unit of work."""
    roles = set(route.notify) | {step.role for step in route.chain if step.role is not None}
    if route.channel is ChannelView.MINIMAL:
        roles.add(Role.SLT)
    return frozenset(roles)


def _first_alert(route: Route, channel_available: bool) -> frozenset[Role]:
    """Who is sent a report at once: without an SLT channel, SLT get the channel's share personally."""
    if route.channel is ChannelView.MINIMAL and not channel_available:
        return route.notify | {Role.SLT}
    return route.notify


def _covered_steps(route: Route, alerted_roles: frozenset[Role]) -> int:
    """The last step of the chain the first alert already covers (its leading steps whose role was alerted)."""
    position = -1
    for index, step in enumerate(route.chain):
        if step.role is None or step.role not in alerted_roles:
            break
        position = index
    return position


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


def _could_route(route: Route, holders: Holders) -> bool:
    """Whether the directory has answered for every role a report routed by ``route`` goes to at once (with or
    without a channel): if not, routing it now would only find it still pending."""
    return any(_first_alert(route, channel) <= holders.keys() for channel in (True, False))


@dataclass(frozen=True)
class _KnownStaff:
    """The staff the bot can name, read once per use case: the directory's holders of the roles in the routing (with
    their roles) and everyone who has a personal chat with the bot.

    Attributes:
        choices: (Entra object id, name), sorted by name: the people picker's static choices.
        role_holders: everyone holding a routing role, with all their roles (names typed are matched against them).
        names: Entra object id (lower case) → name.
        by_teams_id: Teams user id (lower case) → Entra object id.
    """

    choices: tuple[tuple[str, str], ...] = ()
    role_holders: tuple[NamedPerson, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    by_teams_id: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, frozenset[Role]] = field(default_factory=dict)

    def resolve(self, value: str) -> str | None:
        """The Entra object id (lower case) a chosen value names: an object id, or a Teams user id known from a
        chat; None: not a person the bot can identify."""
        key = value.strip().lower()
        if _GUID.match(key):
            return key
        return self.by_teams_id.get(key)


async def _readable(session: AsyncSession, ids: Sequence[int], work: str) -> list[records.Incident]:
    """The reports ``ids`` names, for one of the background worker's jobs (``work``), that this version of the bot can
    read. A row it cannot read (a value it does not know: written by hand, or by a newer version) is logged as an
    error with its id and left out, so it never holds up the routing or the escalation of every other report."""
    found: list[records.Incident] = []
    for incident_id in ids:
        try:
            incident = await records.get(session, incident_id)
        except (ValueError, LookupError, TypeError):
            log.exception("a stored report cannot be read: left out of %s until someone corrects it", work,
                          extra={"incident_id": incident_id})
            continue
        if incident is not None:
            found.append(incident)
    return found


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

    async def on_topic(self, action: CardAction) -> ActionResult:
        """The first plain question's answer: its second question, or the form of the one category it names."""
        answer = payload_of(action, TopicPayload)
        if answer.topic is None:
            return ActionResult(card=category_card(answer.draft, answer.at_risk, answer.dsl_told,
                                                   problem="Choose who or what the report is about."))
        question = TOPICS[answer.topic]
        if (category := question.ends_at_once) is not None:
            return ActionResult(card=self._form(answer.draft, category, answer.at_risk, answer.dsl_told,
                                                prefill=await self._picker_prefill()))
        return ActionResult(card=second_question_card(question, answer.draft, answer.at_risk, answer.dsl_told))

    async def on_category(self, action: CardAction) -> ActionResult:
        answer = payload_of(action, CategoryPayload)
        if answer.category is None:
            return ActionResult(card=category_card(answer.draft, answer.at_risk, answer.dsl_told,
                                                   problem="Choose what the report is about."))
        return ActionResult(card=self._form(answer.draft, answer.category, answer.at_risk, answer.dsl_told,
                                            prefill=await self._picker_prefill()))

    async def _picker_prefill(self) -> Prefill:
        """An empty form whose "who is it about?" offers the staff the bot knows (where Teams has no people
        picker)."""
        return Prefill(staff_choices=(await self._staff()).choices)

    def _form(self, draft: str, category: Category, risk: bool, told: DslTold | None, *,
              prefill: Prefill | None = None, problem: str | None = None) -> AdaptiveCard:
        if category is Category.MEDIA_ENQUIRY:  # its own short form (gap 7): never the abuse form's questions
            return media_enquiry_form_card(draft, rule_for(category), risk, told,
                                           today_text=self.today().strftime("%a %d %b"), problem=problem)
        return details_form_card(
            draft, rule_for(category), risk, told, today=self.today(),
            screenshot_minutes=self.settings.screenshot_minutes, prefill=prefill, problem=problem,
        )

    async def on_submit(self, action: CardAction) -> ActionResult:
        form = payload_of(action, ReportPayload)
        if form.category is None:
            return ActionResult(card=category_card(form.draft, form.at_risk, form.dsl_told,
                                                   problem="Choose what the report is about."))
        if form.category is Category.MEDIA_ENQUIRY:  # a crafted (or old) form: the enquiry has its own
            log.info("a media enquiry sent on the abuse form refused; its own form shown")
            return ActionResult(card=self._form(
                form.draft, form.category, form.at_risk, form.dsl_told,
                problem="A media enquiry has its own short form: fill it in below. Nothing was sent."))
        try:
            details = form.details()
        except ValidationError as error:  # the form comes back with every field as typed
            prefill = Prefill.kept(form, staff_choices=(await self._staff()).choices)
            return ActionResult(card=self._form(form.draft, form.category, form.at_risk, form.dsl_told,
                                                prefill=prefill, problem=form_problem(error)))
        staff = await self._staff()
        if asked := self._to_ask(details, staff, action.actor):  # names a role holder: is it about them?
            form_data = {key: value for key, value in form.model_dump(mode="json").items() if value is not None}
            return ActionResult(card=subject_confirm_card(form_data, asked))
        try:
            receipt = await self.report(action.actor, details, form.draft, staff=staff)
        except ReportCancelled:
            return ActionResult(card=cancelled_form_card())
        except WhenInFuture as problem:
            prefill = Prefill.kept(form, staff_choices=staff.choices)
            return ActionResult(card=self._form(form.draft, form.category, form.at_risk, form.dsl_told,
                                                prefill=prefill, problem=str(problem)))
        return ActionResult(card=receipt)

    # --- reporting: saving and routing -----------------------------------------------------------------------

    async def report(
        self, actor: Actor, details: ReportDetails, draft: str, *, emergency: bool = False,
        staff: _KnownStaff | None = None,
        media_enquiry: MediaEnquiry | None = None,
    ) -> AdaptiveCard:
        """Save the report with every notification it causes, then answer the reporter with the receipt.

        ``media_enquiry``: a media enquiry's own fields, kept with the report in the same unit of work (before it is
        routed, so the cards sent carry them).

        Raises:
            ReportCancelled: the sender cancelled this report form (``cancel``); nothing was saved.
            WhenInFuture: the date given is after today (the school's); nothing was saved.
        """
        now = self.now()
        details = settle_when(details, now, self.calendar)  # the words about when kept; the date never future
        submission_key = f"{actor.aad_object_id}:{draft}"
        rule = rule_for(details.category)
        urgency = urgency_for(details.category, details.immediate_risk)
        staff = staff or await self._staff()  # the directory first: never inside the work
        subjects = await self._subjects(details, staff)
        route = route_report(rule, urgency, subjects, self.settings.chain)  # nobody is sent a report about them
        holders = await self._holders(_route_roles(route))
        # urgent: the safeguarding chain's clock runs in real minutes, day or night (issue 15, gap 1)
        due = now + timedelta(minutes=self.settings.escalation_minutes) if route.chain else None
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
                    plan = await self._plan(session, route, holders)
                    incident = await records.create_incident(
                        session, details=details, reporter=reporter, submission_key=submission_key,
                        year=reference_year(now, self.calendar), urgency=urgency, received_at=now,
                        escalate_due_at=due, screenshots_until=screenshots_until,
                    )
                    await record_parts.save_report_parts(session, incident.id, details, reporter, now)  # KCSIE
                    if media_enquiry is not None:
                        await media_enquiries.add(session, incident.id, media_enquiry)
                    await self._record_subjects(session, incident.id, subjects, details, staff, reporter, now)
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
        return self._receipt(incident, self._routed(plan, route, urgency, holders), emergency=emergency)

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

    async def _people(self, session: AsyncSession, roles: Iterable[Role], holders: Holders,
                      route: Route | None = None) -> tuple[tuple[Recipient, ...], bool]:
        """The recipients holding ``roles`` and their chats, never anyone the report is about; True when the
        directory could not say for a role."""
        wanted = [role for role in Role if role in roles]
        pending = any(role not in holders for role in wanted)
        people = [(person, role) for role in wanted for person in holders.get(role, ())
                  if route is None or not route.excludes(person.aad_object_id)]
        chats = await conversations.personal_chats_of(session, [person.aad_object_id for person, _ in people])
        recipients: dict[str, Recipient] = {}
        for person, role in people:
            key = person.aad_object_id.lower()
            if key in recipients:
                continue
            chat = chats.get(person.aad_object_id)
            reference = chat.reference if chat is not None and not chat.stale else None
            why = "has not opened Policy Bot in Teams" if chat is None else "cannot be reached in Teams any more"
            recipients[key] = Recipient(person.aad_object_id, person.name, role, reference, why)
        return tuple(recipients.values()), pending

    async def _step_people(self, session: AsyncSession, step: ChainStep, holders: Holders,
                           route: Route) -> tuple[tuple[Recipient, ...], bool]:
        """Everyone one step of the safeguarding chain names (never anyone the report is about)."""
        if step.role is not None:
            return await self._people(session, [step.role], holders, route)
        aad = step.aad_object_id or ""
        if route.excludes(aad):
            return (), False
        chat = await conversations.personal_chat_of(session, aad)
        reference = chat.reference if chat is not None and not chat.stale else None
        name = (chat.user_name if chat is not None else None) or "named in the safeguarding chain"
        why = "has not opened Policy Bot in Teams" if chat is None else "cannot be reached in Teams any more"
        return (Recipient(aad, name, None, reference, why),), False

    async def _walk_chain(self, session: AsyncSession, route: Route, holders: Holders, start: int,
                          alerted: set[str]) -> tuple[list[Recipient], int, list[tuple[int, str, tuple[str, ...]]],
                                                      bool]:
        """From step ``start``, the steps of the safeguarding chain up to the first with someone reachable who was
        not alerted yet.

        Returns:
            everyone newly tried (reachable or not), the last step tried, a line per step for the chronology
            (step, what happened, the object ids it reached), and True when the directory could not say who holds a
            step's role (stop and try again later).
        """
        tried: list[Recipient] = []
        lines: list[tuple[int, str, tuple[str, ...]]] = []
        last = start - 1
        for index in range(start, len(route.chain)):
            step = route.chain[index]
            people, pending = await self._step_people(session, step, holders, route)
            if pending:
                return tried, last, lines, True
            last = index
            fresh = [p for p in people if p.aad_object_id.lower() not in alerted]
            reach = [p for p in fresh if p.reference is not None]
            tried += fresh
            heading = f"Safeguarding chain, step {index + 1} ({step.title})"
            if reach:
                lines.append((index, f"{heading}: alerted {'; '.join(p.label for p in reach)}",
                              tuple(p.aad_object_id.lower() for p in reach)))
                return tried, last, lines, False
            if not people:
                lines.append((index, f"{heading}: nobody holds this role" if step.role else
                              f"{heading}: this person is not in the school's directory", ()))
            elif fresh:
                lines.append((index, f"{heading}: could not be reached: "
                              + "; ".join(f"{p.label} {p.why_not}" for p in fresh), ()))
            else:
                lines.append((index, f"{heading}: already alerted", ()))
        return tried, last, lines, False

    async def _plan(self, session: AsyncSession, route: Route, holders: Holders) -> RoutingPlan:
        channel = await self.slt_channel(session) if route.channel is not ChannelView.NONE else None
        roles = _first_alert(route, channel is not None)
        recipients, pending = await self._people(session, roles, holders, route)
        position = _covered_steps(route, roles)
        lines: list[tuple[int, str, tuple[str, ...]]] = []
        if route.chain and not pending and not any(r.reference is not None for r in recipients):
            # urgent and nobody alerted at once can be reached: the chain's next steps now, not in N minutes
            tried, position, lines, pending = await self._walk_chain(
                session, route, holders, position + 1, {r.aad_object_id.lower() for r in recipients})
            recipients = (*recipients, *tried)
        return RoutingPlan(channel, recipients, pending, route, position, tuple(lines))

    async def _route(self, session: Any, incident: records.Incident, plan: RoutingPlan, now: datetime) -> None:
        """Enqueue the channel card and the personal cards (same transaction as the record); the chronology says
        who was alerted, who could not be reached and each step of the safeguarding chain walked (written first, so
        the cards sent carry it)."""
        subject = _SUBJECT.format(incident.id)
        route = plan.route or await self._route_of(session, incident)
        to_channel = plan.channel is not None and route.channel is not ChannelView.NONE
        sent_to = ["SLT channel (restricted notice)" if route.restricted else "SLT channel (minimal card)"] \
            if to_channel else []
        sent_to += [recipient.label for recipient in plan.reachable]
        system = records.Person(None, SYSTEM_ACTOR)
        if sent_to:
            await records.append_event(
                session, incident.id, EventKind.ROUTED, system, "Sent to " + "; ".join(sent_to),
                why=route.explanation,
                data={"recipients": [r.aad_object_id.lower() for r in plan.reachable],
                      "chain_step": _covered_steps(route, _first_alert(route, plan.channel is not None))}, at=now,
            )
        elif route.chain:
            await records.append_event(session, incident.id, EventKind.ROUTED, system,
                                       "Nobody could be alerted through Teams", why=route.explanation,
                                       data={"recipients": [], "chain_step": plan.chain_step}, at=now)
        for step, what, reached in plan.chain_lines:
            await records.append_event(session, incident.id, EventKind.ROUTED, system, what,
                                       data={"recipients": list(reached), "chain_step": step}, at=now)
        for recipient in plan.unreachable:
            await records.append_event(
                session, incident.id, EventKind.NOT_REACHABLE, system,
                f"{recipient.label} {recipient.why_not}: not sent",
                data={"aad_object_id": recipient.aad_object_id, "label": recipient.label}, at=now,
            )
        if to_channel:
            assert plan.channel is not None
            facts = _channel_facts(incident, await _media_enquiry(session, incident))
            post_id = await enqueue(session, OutboxMessage.channel_post(
                plan.channel, _activity(channel_card(facts, calendar=self.calendar), channel_summary(facts)),
                dedupe_key=f"{subject}:channel",
            ))
            await card_copies.record(session, subject, "slt_channel", post_id)
        if plan.reachable:
            banner = None
            if incident.urgency is Urgency.URGENT and plan.unreachable:  # say who else may not know yet
                banner = ("Urgent. Policy Bot could not reach " + "; ".join(r.label for r in plan.unreachable)
                          + " in Teams: phone them if they need to know now.")
            card = details_card(await self._full_report(session, incident), calendar=self.calendar, banner=banner)
            for recipient in plan.reachable:
                assert recipient.reference is not None
                message_id = await enqueue(session, OutboxMessage.personal(
                    recipient.reference, _activity(card, details_summary(incident.reference)),
                    dedupe_key=f"{subject}:owner:{recipient.aad_object_id}",
                ))
                await card_copies.record(session, subject, "owner", message_id, recipient.aad_object_id)
        if not plan.pending:
            await records.mark_routed(session, incident.id, now)

    async def route_pending(self) -> int:
        """Send the notifications reports could not prepare when they were made (the directory was down), in one
        unit of work for all of them."""
        async with self._db.sessions() as session:
            waiting = await _readable(session, await records.unrouted(session), "routing")
            routes = {incident.id: await self._route_of(session, incident) for incident in waiting}
        if not waiting:
            return 0
        holders = await self._holders(frozenset().union(*(_route_roles(route) for route in routes.values())))
        waiting = [incident for incident in waiting if _could_route(routes[incident.id], holders)]
        if not waiting:
            return 0  # the directory still cannot say: nothing to write
        now = self.now()
        routed = 0
        async with self._db.transaction() as session:
            for waiting_incident in waiting:
                incident = await records.get(session, waiting_incident.id)
                if incident is None or incident.routed_at is not None:
                    continue  # routed meanwhile (another instance)
                plan = await self._plan(session, routes[incident.id], holders)
                if plan.pending:
                    continue
                await self._route(session, incident, plan, now)
                routed += 1
        if routed:
            self._on_enqueued()
        return routed

    # --- who a report is about, checked again once the directory answers (issue 15 follow-up) -------------------

    async def recheck_subjects(self) -> int:
        """Route again the reports made while the directory could not say which roles a member of staff they are
        about holds: read the roles (before the unit of work), record them, and in one unit of work per round alert
        whoever the report should have gone to and was not (the SLT channel too, when its route posts there), and
        withdraw it from anyone it was sent to meanwhile whom it is not for (nothing more is sent to them, their copy
        shows no details, and they may no longer open it). Each step is in the report's chronology.

        Returns:
            how many reports were routed again.
        """
        async with self._db.sessions() as session:
            ids = await records.roles_unchecked(session)
            found = {incident.id: incident for incident in await _readable(session, ids, "checking who it is about")}
            subjects = await records.subjects_of(session, list(found))
        if not found:
            return 0
        staff = await self._staff()
        answers: dict[str, frozenset[Role]] = {}
        for aad in sorted({s.aad_object_id for people in subjects.values() for s in people
                           if s.aad_object_id and not s.roles_known}):
            lookup = await self._directory.roles_of(aad)
            if not lookup.degraded:
                answers[aad] = frozenset(lookup.roles | staff.roles.get(aad.lower(), frozenset())) - {Role.STAFF}
        routes: dict[int, Route] = {}
        for incident_id, incident in found.items():
            people = subjects.get(incident_id, [])
            if any(s.aad_object_id and not s.roles_known and s.aad_object_id not in answers for s in people):
                continue  # the directory still cannot say for someone it is about: the safe route stays
            checked = [replace(s, roles=answers[s.aad_object_id], roles_known=True)
                       if s.aad_object_id in answers and not s.roles_known else s for s in people]
            routes[incident_id] = route_report(incident.rule, incident.urgency, checked, self.settings.chain)
        if not routes:
            return 0
        holders = await self._holders(frozenset().union(*(_route_roles(r) | r.handlers for r in routes.values())))
        routes = {i: r for i, r in routes.items() if _could_route(r, holders) and r.handlers <= holders.keys()}
        if not routes:
            return 0  # who the report should go to cannot be listed yet: try again at the next round
        now = self.now()
        rerouted = 0
        async with self._db.transaction() as session:
            for incident_id, route in routes.items():
                if await self._reroute(session, found[incident_id], route, answers, holders, now):
                    rerouted += 1
        if rerouted:
            self._on_enqueued()
            log.info("incident routing re-checked after the directory answered", extra={"count": rerouted})
        return rerouted

    async def _reroute(self, session: AsyncSession, found: records.Incident, route: Route,
                       answers: Mapping[str, frozenset[Role]], holders: Holders, now: datetime) -> bool:
        """One report's re-check (``recheck_subjects``), inside its unit of work; False when another bot instance
        recorded the roles first."""
        recorded = []
        for subject in (await records.subjects_of(session, [found.id])).get(found.id, []):
            aad = subject.aad_object_id
            if aad and not subject.roles_known and aad in answers \
                    and await records.record_subject_roles(session, found.id, aad, answers[aad]):
                recorded.append(replace(subject, roles=answers[aad], roles_known=True))
        if not recorded:
            return False
        incident = await records.get(session, found.id)
        assert incident is not None
        system = records.Person(None, SYSTEM_ACTOR)
        subject_key = _SUBJECT.format(incident.id)
        alerted = (await records.alerted_people(session, [incident.id])).get(incident.id, set())
        permitted = {p.aad_object_id.lower() for role in route.handlers for p in holders.get(role, ())}
        withdrawn = sorted(aad for aad in alerted if aad not in permitted or route.excludes(aad))
        plan = await self._plan(session, route, holders)
        still = alerted - set(withdrawn)
        fresh = tuple(r for r in plan.recipients if r.aad_object_id.lower() not in still)
        channel = plan.channel is not None and route.channel is not ChannelView.NONE
        checked = "; ".join(f"{s.name} holds {role_line(s.roles) or 'no role that receives reports'}"
                            for s in recorded)
        names = await self._names(session, withdrawn, holders)
        await records.append_event(
            session, incident.id, EventKind.ROUTED, system,
            f"Routing re-checked: the school directory now says {checked}",
            why=route.explanation or "It follows its category's usual route.",
            data={"recipients": [], records.WITHDRAWN: withdrawn, records.REROUTED: True,
                  "chain_step": _covered_steps(route, _first_alert(route, plan.channel is not None)),
                  "checked": {s.aad_object_id: sorted(r.value for r in s.roles) for s in recorded}}, at=now,
        )
        if withdrawn:
            await records.append_event(
                session, incident.id, EventKind.ROUTED, system,
                "Not for " + "; ".join(names.get(aad, aad) for aad in withdrawn) + ", alerted while who it is about "
                "could not be checked: nothing more is sent to them, their copy no longer shows its details, and "
                "they may no longer open it", data={"recipients": [], "withdrawn_notice": withdrawn}, at=now,
            )
            notice = _activity(rerouted_notice_card(incident.reference), f"{incident.reference} is handled by others")
            for outbox_id in await records.forget_personal_copies(session, incident.id, withdrawn):
                await enqueue(session, OutboxMessage.update_of(
                    outbox_id, notice, dedupe_key=f"{subject_key}:copy-withdrawn:{outbox_id}"))
        if fresh or channel:
            await self._route(session, incident, replace(plan, recipients=fresh), now)
        elif not plan.pending:
            await records.mark_routed(session, incident.id, now)
        await self._after_change(session, incident.id)
        return True

    async def _names(self, session: AsyncSession, people: Sequence[str], holders: Holders) -> dict[str, str]:
        """The names of people (lower-case object ids): as the directory lists them, else as their Teams chat does."""
        names = {p.aad_object_id.lower(): p.name for listed in holders.values() for p in listed}
        missing = [aad for aad in people if aad not in names]
        if missing:
            chats = await conversations.personal_chats_of(session, missing)
            names.update({aad.lower(): chat.user_name for aad, chat in chats.items() if chat.user_name})
        return {aad: names.get(aad, aad) for aad in people}

    # --- the safeguarding chain: the escalation clock, in real minutes -------------------------------------------

    async def escalate_due(self) -> int:
        """Move on the safeguarding chain of every urgent report nobody has taken the lead on: when its clock (real
        minutes, day or night) has run out, or when Teams could not deliver the alert to anyone it was sent to. One
        reader, the directory, then one unit of work for all of them.

        Returns:
            how many reports were escalated (someone new alerted, or the last reminder sent).
        """
        now = self.now()
        due: list[tuple[records.Incident, Route]] = []
        async with self._db.sessions() as session:
            for incident in await _readable(session, await records.chain_running(session), "escalation"):
                if incident.escalate_due_at is None:
                    continue
                if incident.escalate_due_at <= now or await self._undelivered_news(session, incident.id):
                    due.append((incident, await self._route_of(session, incident)))
        if not due:
            return 0
        holders = await self._holders(frozenset().union(*(_route_roles(route) for _, route in due)))
        escalated: list[records.Incident] = []
        async with self._db.transaction() as session:
            for found, route in due:
                if await self._escalate(session, found, route, holders, now):
                    escalated.append(found)
        for incident in escalated:
            log.warning("urgent incident escalated along the safeguarding chain",
                        extra={"incident": incident.reference})
        if escalated:
            self._on_enqueued()
        return len(escalated)

    async def _undelivered_news(self, session: AsyncSession, incident_id: int) -> bool:
        """Everyone alerted could not be delivered to (Teams said the chat is gone, or gave up), and that has not
        been acted on yet: move on now rather than wait for the clock."""
        alerted = (await records.alerted_people(session, [incident_id])).get(incident_id, set())
        if not alerted:
            return False
        deliveries = await records.alert_deliveries(session, incident_id)
        failed = {aad for aad in alerted if deliveries.get(aad) in (OutboxStatus.STALE, OutboxStatus.FAILED)}
        return failed == alerted and bool(failed - await records.undelivered_noted(session, incident_id))

    async def _escalate(self, session: Any, found: records.Incident, route: Route, holders: Holders,
                        now: datetime) -> bool:
        """One report's next step of the safeguarding chain (claimed with a conditional update of its clock, so two
        bot instances never take the same step twice)."""
        incident = await records.get(session, found.id)
        if incident is None or incident.status is not Status.OPEN or incident.escalate_due_at != found.escalate_due_at:
            return False  # someone took the lead, or another instance moved the clock
        assert incident.escalate_due_at is not None
        subject = _SUBJECT.format(incident.id)
        system = records.Person(None, SYSTEM_ACTOR)
        minutes = self.settings.escalation_minutes
        alerted = (await records.alerted_people(session, [incident.id])).get(incident.id, set())
        deliveries = await records.alert_deliveries(session, incident.id)
        failed = {aad for aad in alerted if deliveries.get(aad) in (OutboxStatus.STALE, OutboxStatus.FAILED)}
        noted = await records.undelivered_noted(session, incident.id)
        position = await records.chain_position(session, incident.id)
        tried, last, lines, pending = await self._walk_chain(session, route, holders, position + 1, alerted)
        if pending:
            log.warning("escalation waits: the directory cannot say who is next", extra={"incident": found.reference})
            return False
        reach = [r for r in tried if r.reference is not None]
        effective = alerted - failed
        remind: list[Recipient] = []
        if not reach and not effective:
            # nobody could ever be reached: look again from the start for anyone who has opened the bot since
            tried, last, lines, pending = await self._walk_chain(session, route, holders, 0, set())
            reach = [r for r in tried if r.reference is not None]
            if pending or not reach:
                await records.advance_chain(session, incident.id, incident.escalate_due_at,
                                            now + timedelta(minutes=minutes), now)
                return False
        elif not reach:
            people, _ = await self._people(session, route.notify, holders, route)
            chain_people = [p for step in route.chain for p in (await self._step_people(session, step, holders,
                                                                                        route))[0]]
            remind = [p for p in {p.aad_object_id.lower(): p for p in (*people, *chain_people)}.values()
                      if p.aad_object_id.lower() in effective and p.reference is not None]
        next_due = now + timedelta(minutes=minutes) if reach else None  # after the last step: one reminder, then none
        if not await records.advance_chain(session, incident.id, incident.escalate_due_at, next_due, now):
            return False
        for aad in sorted(failed - noted):
            await records.append_event(
                session, incident.id, EventKind.NOT_REACHABLE, system,
                "Teams could not deliver the alert to someone it was sent to",
                data={"failed_aad": aad, "delivery_failed": True}, at=now,
            )
        why = (f"Urgent and nobody took the lead within {minutes} minutes (real time)"
               if incident.escalate_due_at <= now else "Teams could not deliver the alert to anyone it was sent to")
        report = await self._full_report(session, incident)
        if reach:
            banner = (f"Escalated to you: nobody has taken the lead on this urgent report ({why.lower()}). You are "
                      "next in the school's safeguarding chain.")
            card = details_card(report, banner=banner, calendar=self.calendar)
            for recipient in reach:
                assert recipient.reference is not None
                message_id = await enqueue(session, OutboxMessage.personal(
                    recipient.reference, _activity(card, details_summary(incident.reference)),
                    dedupe_key=f"{subject}:escalated:{recipient.aad_object_id}",
                ))
                await card_copies.record(session, subject, "owner", message_id, recipient.aad_object_id)
            for step, what, reached in lines:
                await records.append_event(session, incident.id, EventKind.AUTO_ESCALATED, system, what, why=why,
                                           data={"recipients": list(reached), "chain_step": step}, at=now)
        else:
            banner = (f"Reminder: nobody has taken the lead on this urgent report within {minutes} minutes (real "
                      "time), and nobody else is left in the school's safeguarding chain.")
            card = details_card(report, banner=banner, calendar=self.calendar)
            for recipient in remind:
                assert recipient.reference is not None
                message_id = await enqueue(session, OutboxMessage.personal(
                    recipient.reference, _activity(card, details_summary(incident.reference)),
                    dedupe_key=f"{subject}:reminded:{recipient.aad_object_id}",
                ))
                await card_copies.record(session, subject, "owner", message_id, recipient.aad_object_id)
            await records.append_event(
                session, incident.id, EventKind.AUTO_ESCALATED, system,
                "End of the safeguarding chain: reminded " + ("; ".join(r.label for r in remind) or "nobody reachable"),
                why=why, data={"recipients": [r.aad_object_id.lower() for r in remind], "chain_step": last}, at=now,
            )
        for recipient in tried:
            if recipient.reference is None:
                await records.append_event(
                    session, incident.id, EventKind.NOT_REACHABLE, system,
                    f"{recipient.label} {recipient.why_not}: escalation not sent",
                    data={"aad_object_id": recipient.aad_object_id, "label": recipient.label}, at=now,
                )
        return True

    # --- who a report is about (issue 15, gap 2) ---------------------------------------------------------------

    async def _about_lines(self, session: AsyncSession, incident_id: int) -> list[str]:
        """Who a report is about, for its details card (staff with the roles they held, anyone else as typed)."""
        lines = []
        for subject in (await records.subjects_of(session, [incident_id])).get(incident_id, []):
            roles = role_line(subject.roles)
            if subject.aad_object_id and not subject.roles_known:  # routed safe until the directory answers
                roles = f"{roles + '; ' if roles else ''}roles not yet checked in the school directory"
            lines.append(f"{subject.name} ({roles})" if roles else subject.name)
        return lines

    async def _route_of(self, session: AsyncSession, incident: records.Incident) -> Route:
        """The report's route: its category, urgency and the people it is about (as recorded when it was made)."""
        subjects = (await records.subjects_of(session, [incident.id])).get(incident.id, [])
        return route_report(incident.rule, incident.urgency, subjects, self.settings.chain)

    async def _staff(self) -> _KnownStaff:
        """The staff the bot can name: the directory's holders of the roles in the routing, with their roles (asked
        before any unit of work; a role the directory cannot list now is left out). Anyone else is chosen with the
        Teams people picker, which gives their Entra object id."""
        roles: dict[str, set[Role]] = {}
        names: dict[str, str] = {}
        for role in Role:
            if role not in ROUTING_ROLES:
                continue
            try:
                people = await self._directory.holders_of(role)
            except DirectoryUnavailableError:
                continue
            for person in people:
                key = person.aad_object_id.lower()
                roles.setdefault(key, set()).add(role)
                names.setdefault(key, person.name)
        choices = tuple(sorted(names.items(), key=lambda person: person[1].lower()))
        holders = tuple(NamedPerson(aad, names[aad], frozenset(held)) for aad, held in roles.items())
        return _KnownStaff(choices, holders, names, {}, {aad: frozenset(held) for aad, held in roles.items()})

    async def _subjects(self, details: ReportDetails, staff: _KnownStaff) -> list[Subject]:
        """Who the report is about: each member of staff chosen (with the roles they hold, from the directory, before
        the unit of work), and anyone else as typed."""
        found: dict[str, Subject] = {}
        for value in details.about_staff:
            aad = staff.resolve(value)
            if aad is None or aad in found:
                continue
            lookup = await self._directory.roles_of(aad)  # degraded: the directory did not answer (staff only)
            held = frozenset(lookup.roles | staff.roles.get(aad, frozenset())) - {Role.STAFF}
            source = SubjectSource.CONFIRMED if value in details.confirmed_about else SubjectSource.CHOSEN
            found[aad] = Subject(SubjectKind.STAFF, staff.names.get(aad, f"Colleague chosen in Teams ({aad[:8]})"),
                                 aad, held, source, roles_known=not lookup.degraded)
        subjects = list(found.values())
        if details.about_others:
            subjects.append(Subject(SubjectKind.OTHER, details.about_others, source=SubjectSource.TYPED))
        return subjects

    def _to_ask(self, details: ReportDetails, staff: _KnownStaff, actor: Actor) -> list[NamedPerson]:
        """The role holders the reporter's words name whom the form has not yet said the report is, or is not, about
        (never the reporter themselves)."""
        answered = {aad for value in (*details.about_staff, *details.not_about)
                    if (aad := staff.resolve(value)) is not None}
        answered.add(actor.aad_object_id.lower())
        texts = [details.what_happened, details.involved, details.about_others]
        return [person for person in names_in_text(texts, staff.role_holders)
                if person.aad_object_id.lower() not in answered][:MAX_ASKED]

    async def _record_subjects(self, session: AsyncSession, incident_id: int, subjects: Sequence[Subject],
                               details: ReportDetails, staff: _KnownStaff, reporter: records.Person,
                               now: datetime) -> None:
        """Who the report is about, and every answer the reporter gave about the names they typed, in the
        chronology (the record of why it went where it went)."""
        unnamed = [s.aad_object_id for s in subjects if s.aad_object_id and s.aad_object_id not in staff.names]
        chats = await conversations.personal_chats_of(session, unnamed) if unnamed else {}
        subjects = [replace(s, name=chats[s.aad_object_id].user_name or s.name)
                    if s.aad_object_id in chats else s for s in subjects]
        await records.add_subjects(session, incident_id, subjects, now)
        for subject in subjects:
            if subject.kind is not SubjectKind.STAFF:
                continue
            roles = role_line(subject.roles)
            who = f"{subject.name}{f' ({roles})' if roles else ''}"
            what = ("The reporter confirmed it is about " if subject.source is SubjectSource.CONFIRMED
                    else "The reporter chose who it is about: ") + who
            if not subject.roles_known:
                what += (". The school directory could not say just now which roles they hold: it is routed safe "
                         "(never to them, never to the SLT channel) and routed again when the directory answers")
            await records.append_event(session, incident_id, EventKind.REPORTED, reporter, what,
                                       data={"about": subject.aad_object_id, "source": subject.source.value}, at=now)
        for value in details.not_about:
            aad = staff.resolve(value)
            if aad is None:
                continue
            name = staff.names.get(aad, aad)
            await records.append_event(session, incident_id, EventKind.REPORTED, reporter,
                                       f"The reporter said it is not about {name}, who is only mentioned",
                                       data={"not_about": aad}, at=now)

    async def on_confirm_subjects(self, action: CardAction) -> ActionResult:
        """``incident_subject_confirm``: the answers to "is this report about …?"; then the report is sent (or the
        question comes back when an answer is missing)."""
        answer = payload_of(action, SubjectConfirmPayload)
        form = answer.form_data()
        if not answer.complete:
            return ActionResult(card=subject_confirm_card(form, await self.people_asked(answer.asked_ids()),
                                                          problem="Answer the question for each person."))
        merged = answer.merged(form)
        try:
            payload = ReportPayload.model_validate(merged)
        except ValidationError:
            return ActionResult(message="This form could not be read: type **report** to start again. Nothing was "
                                        "sent.")
        return await self.on_submit(CardAction(Verb.SUBMIT.value, merged, action.actor, action.activity_id,
                                               action.card_activity_id, action.via_submit, payload))

    async def names_to_ask(self, details: ReportDetails, actor: Actor) -> list[NamedPerson]:
        """The role holders the report's words name whom the reporter has not yet said it is, or is not, about
        ("Report to SLT" on a message asks too, in its window)."""
        return self._to_ask(details, await self._staff(), actor)

    async def people_asked(self, ids: Sequence[str]) -> list[NamedPerson]:
        """The role holders a question named (an id the directory no longer lists is left out)."""
        staff = await self._staff()
        wanted = [aad.lower() for aad in ids]
        return [person for aad in wanted for person in staff.role_holders if person.aad_object_id.lower() == aad]

    def _routed(self, plan: RoutingPlan, route: Route, urgency: Urgency, holders: Holders) -> Routed:
        """The receipt's account of who was alerted, by name (and, for an urgent report nobody could be alerted
        for, the numbers to phone)."""
        nobody = urgency is Urgency.URGENT and not plan.reachable and not plan.pending
        contacts: tuple[tuple[str, str], ...] = ()
        if nobody:
            def names(role: Role) -> list[str]:
                return [p.name for p in holders.get(role, ()) if not route.excludes(p.aad_object_id)]

            contacts = tuple(self.settings.contacts.lines(
                dsl_names=names(Role.DSL), deputy_names=names(Role.DEPUTY_DSL),
                allegation=route.about is not None or not route.safeguarding_alert))
        return Routed(
            reached=tuple(r.label for r in plan.reachable),
            unreachable=tuple(r.label for r in plan.unreachable),
            channel=plan.channel is not None and route.channel is not ChannelView.NONE,
            pending=plan.pending, channel_view=route.channel, chain=len(route.chain) > 1 or route.safeguarding_alert,
            nobody=nobody, about=route.explanation, contacts=contacts,
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
            legal_hold=held, media_enquiry=await _media_enquiry(session, incident),
            about=tuple(await self._about_lines(session, incident.id)),
            channel_view=(await self._route_of(session, incident)).channel,
            record=await record_parts.record_extras(session, incident.id, chronology),
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
        """``open reports`` / ``incidents``: the reports the sender may see (each report's route: its category's
        handlers, never a report about the sender, a report about a colleague only to whom it was routed), open first,
        each with a button to its details. The list shows no detail of a report (the button checks again and records
        the view)."""
        roles = await self._roles(request.actor)
        me = request.actor.aad_object_id
        async with self._db.sessions() as session:
            found = await records.for_handlers(session, frozenset(Category), open_limit=_SCANNED, closed_limit=_SCANNED)
            ids = [incident.id for incident in found]
            subjects = await records.subjects_of(session, ids)
            alerted = await records.alerted_people(session, ids)
            enquiries = await media_enquiries.for_reports(  # a media enquiry's deadline is listed
                session, [i.id for i in found if i.category is Category.MEDIA_ENQUIRY])
        visible = [incident for incident in found if may_handle(
            route_report(incident.rule, incident.urgency, subjects.get(incident.id, []), self.settings.chain),
            me, roles, alerted.get(incident.id, set()))]
        shown = [i for i in visible if i.status is not Status.CLOSED][:_OPEN_LISTED] + \
            [i for i in visible if i.status is Status.CLOSED][:_CLOSED_LISTED]
        listed = [ListedReport(i.id, i.reference, i.category, i.urgency, i.received_at, i.status, i.lead_name,
                               deadline=enquiries[i.id].deadline_text() if i.id in enquiries else None)
                  for i in shown]
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
        route = await self._route_of(session, incident)
        alerted = (await records.alerted_people(session, [incident.id])).get(incident.id, set())
        try:
            authorise_report(permission, route, incident.category, incident.status, action.actor.aad_object_id,
                             roles, alerted)
        except IncidentError as refusal:
            reason = "closed" if isinstance(refusal, AlreadyClosed) else (
                "about_them" if route.excludes(action.actor.aad_object_id) else "not_permitted")
            await self._trail.record_in(session, audit_refusal(
                action.actor, action.verb, RecordType.INCIDENT, incident.reference, reason,
                {"permission": permission.value, "roles": sorted(role.value for role in roles)}))
            return str(refusal)
        return incident

    # --- for the safeguarding record's verbs (services/safeguarding_record.py): the same checks and updates ------

    async def change_record(self, action: CardAction, permission: Permission,
                            change: Callable[[Any, records.Incident, datetime], Awaitable[str | None]]) -> ActionResult:
        """Run a change as the handling verbs do: the roles, the report authorised (a refusal audited), the change
        in one unit of work, every posted copy of its cards updated, the answer card (full only in a personal chat)."""
        return await self._change(action, permission, change)

    async def authorised_in(self, session: AsyncSession, action: CardAction, roles: frozenset[Role],
                            permission: Permission) -> records.Incident | str:
        """The report the action names if ``roles`` allow ``permission`` on it, else why not (refusal audited)."""
        return await self._load_authorised(session, action, roles, permission)

    async def roles_of(self, actor: Actor) -> frozenset[Role]:
        return await self._roles(actor)

    async def full_report_in(self, session: AsyncSession, incident: records.Incident) -> FullReport:
        return await self._full_report(session, incident)

    async def refresh_cards_in(self, session: AsyncSession, incident_id: int) -> records.Incident:
        """Update every posted copy of the report's cards after a change made in ``session``."""
        return await self._after_change(session, incident_id)

    def wake_outbox(self) -> None:
        self._on_enqueued()

    def _person(self, actor: Actor) -> records.Person:
        return records.Person(actor.aad_object_id, actor.name or "Someone")

    async def _after_change(self, session: Any, incident_id: int) -> records.Incident:
        """Update every posted copy of the report's cards (channel: minimal; people: full details)."""
        incident = await records.get(session, incident_id)
        assert incident is not None
        report = await self._full_report(session, incident)
        facts = _channel_facts(incident, report.media_enquiry)
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
        if (report.channel_view or incident.rule.channel) is ChannelView.NONE:  # its route keeps it off channels
            return ActionResult(message=message or "Done.")
        return ActionResult(card=channel_card(_channel_facts(incident, report.media_enquiry), calendar=self.calendar),
                            message=message)

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
        try:  # a referral's date (KCSIE record keeping): as given, never in the future; else today
            made_on = referral_date(form.referral_date, self.today())
        except RecordError as problem:
            return ActionResult(message=str(problem))

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            await records.record_escalation(session, incident.id, self._person(action.actor), agency, reason,
                                            external, now, made_on=made_on)
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
        try:  # KCSIE: every decision with its reason, "no further action" included
            outcome = require_reason(form.outcome, f"closing it ({OUTCOME_TITLES[kind]})")
        except RecordError as problem:
            return ActionResult(message=str(problem))

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


def _channel_facts(incident: records.Incident, media_enquiry: MediaEnquiry | None = None) -> ChannelFacts:
    return ChannelFacts(
        incident_id=incident.id, reference=incident.reference, category=incident.category, urgency=incident.urgency,
        received_at=incident.received_at, status=incident.status, lead_name=incident.lead_name,
        closed_at=incident.closed_at,
        deadline=media_enquiry.deadline_text() if media_enquiry is not None else None,
    )


async def _media_enquiry(session: AsyncSession, incident: records.Incident) -> MediaEnquiry | None:
    """A media enquiry's own fields (its deadline shows on the channel card); None for any other report."""
    if incident.category is not Category.MEDIA_ENQUIRY:
        return None
    return await media_enquiries.get(session, incident.id)


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
