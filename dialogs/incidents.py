"""Report an incident, and handle one: the report form's steps, SLT's and the DSL's buttons, screenshots and
"Report to SLT" on a Teams message. The use cases are in ``services/incidents.py``.

This is the Teams half: each verb registered with its payload model (``cards/incidents.py``), the images in a
Teams message that may be screenshots, downloading them with the bot's token, and the message action's
invokes (``composeExtension/fetchTask`` and ``submitAction``: Teams' ``value`` in, a task module out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import uuid4

from botbuilder.core import BotAdapter
from pydantic import BaseModel, ValidationError

from cards.base import AdaptiveCard
from cards.incident_chooser import TopicPayload
from cards.incident_subject import SubjectAnswers, SubjectConfirmPayload, subject_confirm_card
from cards.incidents import (
    CategoryPayload,
    ChooseCategoryPayload,
    ClosePayload,
    DslToldPayload,
    EscalatePayload,
    IncidentPayload,
    MessageReportPayload,
    NotePayload,
    ReportPayload,
    RiskPayload,
    ScreenshotPayload,
    Verb,
    cancelled_form_card,
    form_problem,
    message_report_card,
    problem_card,
)
from cards.media_enquiry import MediaEnquiryPayload
from cards.replies import ActionResult, CommandReply
from dialogs.router import AttachmentsRequest, InvokeRequest, Router
from domain.access import Access, only, staff
from domain.actors import Actor
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.flows import Flow
from domain.incident_routing import REPORT_HANDLERS
from domain.incidents import (
    MAX_SOURCE_AUTHOR,
    MAX_WHAT_HAPPENED,
    Category,
    WhenInFuture,
    plain_text_from_html,
)
from domain.roles import Role, RoleDirectory
from services.audit import AuditTrail
from services.incidents import Fetch, Incidents, IncidentSettings, ReportCancelled, http_fetcher
from services.media_enquiry import MediaEnquiries
from services.requests import CardAction

if TYPE_CHECKING:
    from store.conversations import ConversationStore, SchoolSettings
    from store.db import Database

REPORT_MESSAGE_COMMAND_ID = "reportMessage"  # manifest/build.py: the "Report to SLT" message action

_MAX_SCREENSHOTS_PER_MESSAGE = 5
_MAX_FILE_NAME = 200
_MAX_MESSAGE_LINK = 500
_ALLOWED_FILE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp"})
_FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
_SHAREPOINT_HOSTS = (".sharepoint.com", ".sharepoint.us", ".sharepoint.de", ".sharepoint.cn")

_Handler = Callable[[CardAction], Awaitable[ActionResult]]

# Everyone who handles some kind of report (domain/incident_routing.py): the router admits them to the handling
# buttons; whether they handle *this* report's category is checked (and a refusal audited) in the service.
HANDLERS: frozenset[Role] = REPORT_HANDLERS
_NOT_A_HANDLER = ("Only the people the policy names for a kind of report can act on it. Nothing was changed or "
                  "shown.")
_HANDLING = only(*sorted(HANDLERS), record=RecordType.INCIDENT, record_field="incident", refusal=_NOT_A_HANDLER)
_SCREENSHOT = only(*sorted(HANDLERS), personal_only=True, record=RecordType.INCIDENT, record_field="incident",
                   refusal=_NOT_A_HANDLER)
_REPORTING = staff()  # anyone in the school reports, wherever they start the form


def register_incidents(
    router: Router,
    *,
    database: Database,
    directory: RoleDirectory,
    conversations: ConversationStore,
    settings: Any,
    calendar: SchoolCalendar | None = None,
    school_settings: SchoolSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    on_enqueued: Callable[[], None] | None = None,
    trail: AuditTrail | None = None,
) -> Incidents:
    """Register the incident flow, ``my reports`` and the handling verbs; return the service for the edge.

    Args:
        settings: ``bot.settings.Settings`` (or an ``IncidentSettings``).
        calendar: the school calendar the app built; else an ``IncidentSettings``' own, or the ``Settings``'.
        on_enqueued: called after a transaction that enqueued outbox messages (e.g. ``OutboxWorker.wake``).
        trail: the audit trail the handling verbs' refusals and views go to (else one on ``database``).
    """
    if isinstance(settings, IncidentSettings):
        incident_settings = settings if calendar is None else replace(settings, calendar=calendar)
    else:
        incident_settings = IncidentSettings.from_settings(settings, calendar=calendar or settings.school_calendar())
    incidents = Incidents(
        database=database, directory=directory, conversations=conversations, settings=incident_settings,
        school_settings=school_settings, clock=clock, on_enqueued=on_enqueued, trail=trail,
    )
    router.on_flow(Flow.REPORT_INCIDENT.value, incidents.start, access=_REPORTING)
    router.on_cancel(incidents.cancel_forms)
    router.on_command(command("my_reports"), incidents.my_reports,
                      access=staff(personal_only=True, record=RecordType.INCIDENT))
    router.on_command(command("open_reports"), incidents.open_reports,
                      access=only(Role.SLT, Role.HEAD_TEACHER, Role.DSL, Role.DEPUTY_DSL, Role.CHAIR_OF_GOVERNORS,
                                  personal_only=True,
                                  record=RecordType.INCIDENT))
    routes: dict[Verb, tuple[_Handler, type[BaseModel], Access]] = {
        Verb.RISK: (incidents.on_risk, RiskPayload, _REPORTING),
        Verb.DSL_TOLD: (incidents.on_dsl_told, DslToldPayload, _REPORTING),
        Verb.CHOOSE_CATEGORY: (incidents.on_choose_category, ChooseCategoryPayload, _REPORTING),
        Verb.TOPIC: (incidents.on_topic, TopicPayload, _REPORTING),
        Verb.MEDIA_ENQUIRY: (MediaEnquiries(incidents).on_submit, MediaEnquiryPayload, _REPORTING),
        Verb.CATEGORY: (incidents.on_category, CategoryPayload, _REPORTING),
        Verb.SUBMIT: (incidents.on_submit, ReportPayload, _REPORTING),
        Verb.CONFIRM_SUBJECTS: (incidents.on_confirm_subjects, SubjectConfirmPayload, _REPORTING),
        Verb.VIEW: (incidents.on_view, IncidentPayload, _HANDLING),
        Verb.TAKE_LEAD: (incidents.on_take_lead, IncidentPayload, _HANDLING),
        Verb.NOTE: (incidents.on_note, NotePayload, _HANDLING),
        Verb.ESCALATE: (incidents.on_escalate, EscalatePayload, _HANDLING),
        Verb.CLOSE: (incidents.on_close, ClosePayload, _HANDLING),
        Verb.SHOW_SCREENSHOT: (incidents.on_show_screenshot, ScreenshotPayload, _SCREENSHOT),
    }
    for verb, (handler, payload, access) in routes.items():
        router.on_action(verb.value, handler, payload=payload, access=access, owner=__name__)

    async def screenshots(request: AttachmentsRequest) -> CommandReply | None:
        """Images pasted in the personal chat after a report are stored with it (the router has checked the
        sender)."""
        assert request.actor is not None  # the router refuses a message without an identity
        return await incidents.receive_screenshots(
            request.actor, screenshot_candidates(request.attachments, request.service_url), request.fetch)

    async def fetch_task(request: InvokeRequest) -> dict[str, Any]:
        return await message_extension_fetch_task(incidents, request.value, request.actor)

    async def submit_action(request: InvokeRequest) -> dict[str, Any]:
        return await message_extension_submit(incidents, request.value, request.actor)

    router.on_attachments(
        "incident_screenshots", screenshots,
        takes=lambda request: bool(screenshot_candidates(request.attachments, request.service_url)),
        access=staff(personal_only=True, record=RecordType.INCIDENT))
    router.on_invoke("composeExtension/fetchTask", fetch_task, access=_REPORTING)
    router.on_invoke("composeExtension/submitAction", submit_action, access=_REPORTING)
    return incidents


# --- screenshots pasted in the personal chat ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenshotCandidate:
    """An image in a Teams message that the bot will try to store (a ``services.incidents.RemoteImage``)."""

    url: str
    file_name: str
    authenticated: bool  # Teams' own attachment URL (needs the bot's token); else a pre-authenticated link


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port of an absolute URL; None when it has no host or cannot be read."""
    try:
        parts = urlsplit(url)
        origin = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:  # e.g. a port that is not a number
        return None
    return origin if origin[1] else None


def _object(value: object, key: str) -> Mapping[str, Any]:
    """``value[key]`` when both are JSON objects, else an empty one (Teams' shapes are not trusted)."""
    if isinstance(value, Mapping):
        found = value.get(key)
        if isinstance(found, Mapping):
            return found
    return {}


def _text(value: Mapping[str, Any], key: str) -> str:
    found = value.get(key)
    return found if isinstance(found, str) else ""


def screenshot_candidates(attachments: Iterable[Any], service_url: str) -> list[ScreenshotCandidate]:
    """The images in a message's attachments that the bot will try to store.

    - ``image/*`` with a ``contentUrl`` on the conversation's own service URL (an image pasted into the chat);
    - ``file.download.info`` for an image file, with an https download link on SharePoint.
    Anything else (the ``text/html`` copy of the message, links elsewhere, what is not an object) is ignored.
    """
    found: list[ScreenshotCandidate] = []
    service = _origin(service_url) if isinstance(service_url, str) else None
    for index, attachment in enumerate(attachments, 1):
        if not isinstance(attachment, Mapping):
            continue
        content_type = _text(attachment, "contentType")
        name = (_text(attachment, "name") or f"screenshot-{index}")[:_MAX_FILE_NAME]
        if content_type.startswith("image/"):
            url = _text(attachment, "contentUrl")
            if service is not None and _origin(url) == service:
                found.append(ScreenshotCandidate(url, name, True))
        elif content_type == _FILE_DOWNLOAD_INFO:
            content = _object(attachment, "content")
            url = _text(content, "downloadUrl")
            scheme, host, _ = _origin(url) or ("", "", None)
            file_type = _text(content, "fileType").lower()
            if scheme == "https" and host.endswith(_SHAREPOINT_HOSTS) and file_type in _ALLOWED_FILE_TYPES:
                found.append(ScreenshotCandidate(url, name, False))
    return found[:_MAX_SCREENSHOTS_PER_MESSAGE]


def teams_fetcher(turn_context: Any) -> Fetch:
    """A ``Fetch`` that sends the bot's own token (from the turn's connector client) to Teams' attachment URLs."""
    connector = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    credentials = getattr(getattr(connector, "config", None), "credentials", None)

    async def token() -> str | None:
        if credentials is None or not getattr(credentials, "microsoft_app_id", None):
            return None  # dev mode: no app id, no token
        bearer = await asyncio.to_thread(credentials.get_access_token)  # msal is synchronous
        return str(bearer) if bearer else None

    return http_fetcher(token)


# --- "Report to SLT" on a Teams message (the message extension's invokes) ---------------------------------------


async def message_extension_fetch_task(incidents: Incidents, value: Any, actor: Actor | None) -> dict[str, Any]:
    """``composeExtension/fetchTask``: the report form prefilled with the message (no database work: fast)."""
    command_id = value.get("commandId") if isinstance(value, Mapping) else None
    if command_id != REPORT_MESSAGE_COMMAND_ID:
        return _task_message("That action is not one Policy Bot knows.")
    if actor is None:
        return _task_message("I couldn't tell who you are, so I can't take a report. Use Teams signed in with "
                             "your school account.")
    author, text, link = _message_parts(_object(value, "messagePayload"))
    card = message_report_card(uuid4().hex, author=author, text=text, link=link, today=incidents.today())
    return _task_card("Report to SLT", card)


async def message_extension_submit(incidents: Incidents, value: Any, actor: Actor | None) -> dict[str, Any]:
    """``composeExtension/submitAction``: save the report; the task module shows the receipt."""
    if actor is None:
        return _task_message("I couldn't tell who you are, so the report was not saved.")
    author, _text, _link = _message_parts(_object(value, "messagePayload"))
    data = _object(value, "data")
    try:
        answers = SubjectAnswers.model_validate(data)  # "is it about them?" answered in this window (gap 2)
        form = MessageReportPayload.model_validate(answers.merged(data) if answers.asked else data)
        details = form.details(source_author=author)
    except ValidationError as error:
        return _task_card("Report to SLT", problem_card("The report was not sent", [
            form_problem(error), "Close this window and choose Report to SLT on the message again.",
        ]))
    if not answers.complete or (details.category is not Category.MEDIA_ENQUIRY
                                and (asked := await incidents.names_to_ask(details, actor))):
        people = await incidents.people_asked(answers.asked_ids()) if not answers.complete else asked
        form_data = {key: item for key, item in form.model_dump(mode="json").items() if item is not None}
        return _task_card("Report to SLT", subject_confirm_card(
            form_data, people, task_module=True,
            problem=None if answers.complete else "Answer the question for each person."))
    if details.category is Category.MEDIA_ENQUIRY:  # a crafted submit: the enquiry has its own short form
        return _task_card("Report to SLT", problem_card("The report was not sent", [
            "A media enquiry has its own short form: type report in your chat with Policy Bot and choose "
            "\"A journalist or the media\". Nothing was sent.",
        ]))
    try:
        receipt = await incidents.report(actor, details, form.draft, emergency=details.immediate_risk)
    except ReportCancelled:
        return _task_card("Report to SLT", cancelled_form_card())
    except WhenInFuture as problem:
        return _task_card("Report to SLT", problem_card("The report was not sent", [
            str(problem), "Close this window and choose Report to SLT on the message again.",
        ]))
    return _task_card("Report sent", receipt)


def _message_parts(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    """Author, plain text and link of a Teams message payload (its body is HTML: sanitised to text)."""
    sender = _object(payload, "from")
    author = _text(_object(sender, "user"), "displayName") or _text(_object(sender, "application"), "displayName")
    body = _object(payload, "body")
    content = _text(body, "content")
    is_html = (_text(body, "contentType") or "html").lower() == "html"
    text = plain_text_from_html(content) if is_html else content
    link = _text(payload, "linkToMessage")
    if not link.startswith("https://"):
        link = ""
    return author[:MAX_SOURCE_AUTHOR], text[:MAX_WHAT_HAPPENED], link[:_MAX_MESSAGE_LINK]


def _task_card(title: str, card: AdaptiveCard) -> dict[str, Any]:
    return {"task": {"type": "continue", "value": {"title": title, "height": "large", "width": "medium",
                                                   "card": card.attachment()}}}


def _task_message(text: str) -> dict[str, Any]:
    return {"task": {"type": "message", "value": text}}


__all__ = [
    "REPORT_MESSAGE_COMMAND_ID",
    "ScreenshotCandidate",
    "message_extension_fetch_task",
    "message_extension_submit",
    "register_incidents",
    "screenshot_candidates",
    "teams_fetcher",
]
