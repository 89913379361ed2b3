"""Report an incident, and handle one: the report form's steps, SLT's and the DSL's buttons, screenshots and
"Report to SLT" on a Teams message. The use cases are in ``services/incidents.py``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from cards.incidents import Verb
from cards.replies import ActionResult
from dialogs.router import Router
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.flows import Flow
from domain.roles import RoleDirectory
from services.incidents import Incidents, IncidentSettings
from services.requests import CardAction
from store.conversations import ConversationStore, SchoolSettings
from store.db import Database


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
) -> Incidents:
    """Register the incident flow, ``my reports`` and the handling verbs; return the service for the edge.

    Args:
        settings: ``bot.settings.Settings`` (or an ``IncidentSettings``).
        calendar: the school calendar the app built; else an ``IncidentSettings``' own, or the ``Settings``'.
        on_enqueued: called after a transaction that enqueued outbox messages (e.g. ``OutboxWorker.wake``).
    """
    if isinstance(settings, IncidentSettings):
        incident_settings = settings if calendar is None else replace(settings, calendar=calendar)
    else:
        incident_settings = IncidentSettings.from_settings(settings, calendar=calendar or settings.school_calendar())
    incidents = Incidents(
        database=database, directory=directory, conversations=conversations, settings=incident_settings,
        school_settings=school_settings, clock=clock, on_enqueued=on_enqueued,
    )
    router.on_flow(Flow.REPORT_INCIDENT.value, incidents.start)
    router.on_command(command("my_reports"), incidents.my_reports)
    handlers: dict[Verb, Callable[[CardAction], Awaitable[ActionResult]]] = {
        Verb.RISK: incidents.on_risk,
        Verb.DSL_TOLD: incidents.on_dsl_told,
        Verb.CHOOSE_CATEGORY: incidents.on_choose_category,
        Verb.CATEGORY: incidents.on_category,
        Verb.SUBMIT: incidents.on_submit,
        Verb.VIEW: incidents.on_view,
        Verb.TAKE_LEAD: incidents.on_take_lead,
        Verb.NOTE: incidents.on_note,
        Verb.ESCALATE: incidents.on_escalate,
        Verb.CLOSE: incidents.on_close,
        Verb.SHOW_SCREENSHOT: incidents.on_show_screenshot,
    }
    for verb, handler in handlers.items():
        router.on_action(verb.value, handler)
    return incidents


