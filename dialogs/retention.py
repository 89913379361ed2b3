"""The retention schedule's commands: ``retention preview`` (DPO), ``legal hold``, ``release legal hold`` and
``legal holds`` (DPO and Head Teacher). Who may use each is checked, and every refusal audited, by the service
(``services/retention.py``), against the roles the directory gives the authenticated sender."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.commands import command
from services.requests import CommandRequest
from services.retention import Retention


def register_retention(router: Router, retention: Retention) -> None:
    async def preview(request: CommandRequest) -> CommandReply:
        return await retention.preview(request.actor)

    async def hold(request: CommandRequest) -> CommandReply:
        return await retention.place_hold(request.actor, request.argument)

    async def release(request: CommandRequest) -> CommandReply:
        return await retention.release_hold(request.actor, request.argument)

    async def holds(request: CommandRequest) -> CommandReply:
        return await retention.list_holds(request.actor)

    router.on_command(command("retention_preview"), preview)
    router.on_command(command("legal_hold"), hold)
    router.on_command(command("release_legal_hold"), release)
    router.on_command(command("legal_holds"), holds)
