"""``dashboard`` (SLT, the Head Teacher, the DSL) with its period chooser, and ``governors report`` (the Head Teacher
and the Chair of Governors) with the file consent that delivers it (``fileConsent/invoke#governors_report``).

Each route is registered with its declaration from the service (``services/dashboard.py`` and
``services/governors_report.py`` ``ACCESS``): the router checks it first (each refusal audited), and the service checks
the same declaration again."""

from __future__ import annotations

from typing import Any

from cards.dashboard import PERIOD_VERB, PeriodPayload
from cards.replies import ActionResult, CommandReply
from dialogs.router import InvokeRequest, Router
from domain.commands import command
from services import dashboard as dashboard_service
from services import governors_report
from services.dashboard import Dashboard
from services.governors_report import CONTEXT_KEY, GovernorsReports
from services.requests import CardAction, CommandRequest

FILE_CONSENT_INVOKE = "fileConsent/invoke"


def register_dashboard(router: Router, dashboard: Dashboard, governors: GovernorsReports) -> None:
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

    viewers, reports = dashboard_service.ACCESS, governors_report.ACCESS
    router.on_command(command(dashboard_service.COMMAND), show, access=viewers[dashboard_service.COMMAND])
    router.on_action(PERIOD_VERB, choose, access=viewers[PERIOD_VERB], payload=PeriodPayload)
    router.on_command(command(governors_report.COMMAND), report, access=reports[governors_report.COMMAND])
    router.on_invoke(FILE_CONSENT_INVOKE, consent, access=reports[governors_report.CONSENT], context_key=CONTEXT_KEY)
