"""``dashboard`` (SLT, the Head Teacher, the DSL) with its period chooser, and ``governors report`` (the Head Teacher
and the Chair of Governors) with the file consent that delivers it (``fileConsent/invoke#governors_report``).

Every route is declared on the router (its one check runs first, each refusal audited); the services check again."""

from __future__ import annotations

from typing import Any

from cards.dashboard import PERIOD_VERB, PeriodPayload
from cards.replies import ActionResult, CommandReply
from dialogs.router import InvokeRequest, Router
from domain.access import only
from domain.commands import command
from domain.roles import Role
from services.dashboard import Dashboard
from services.governors_report import CONTEXT_KEY, GovernorsReports
from services.requests import CardAction, CommandRequest

FILE_CONSENT_INVOKE = "fileConsent/invoke"


def register_dashboard(router: Router, dashboard: Dashboard, governors: GovernorsReports) -> None:
    viewers = only(Role.SLT, Role.HEAD_TEACHER, Role.DSL, personal_only=True)
    governors_only = only(Role.HEAD_TEACHER, Role.CHAIR_OF_GOVERNORS, personal_only=True)

    async def show(request: CommandRequest) -> CommandReply:
        return await dashboard.command(request)

    async def choose(action: CardAction) -> ActionResult:
        return await dashboard.on_period(action)

    async def report(request: CommandRequest) -> CommandReply:
        return await governors.request(request.actor, request.argument)

    async def consent(request: InvokeRequest) -> dict[str, Any]:
        if request.actor is None:  # the router refuses an unidentified sender first
            return {"send": {"texts": ["That file could not be sent."]}}
        outcome = await governors.consent(request.actor, request.value)
        return {"send": {"texts": outcome.texts, "attachments": outcome.attachments}}

    router.on_command(command("dashboard"), show, access=viewers)
    router.on_action(PERIOD_VERB, choose, access=viewers, payload=PeriodPayload)
    router.on_command(command("governors_report"), report, access=governors_only)
    router.on_invoke(FILE_CONSENT_INVOKE, consent, access=governors_only, context_key=CONTEXT_KEY)
