"""The retention schedule's commands: ``retention preview`` (DPO), ``legal hold``, ``release legal hold`` and
``legal holds`` (DPO and Head Teacher). Each is registered with its declaration from ``services/retention.py``
``ACCESS``: the router checks it before the service runs, and the service checks the same declaration again."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.commands import command
from services.requests import CommandRequest
from services.retention import ACCESS, LEGAL_HOLD, LEGAL_HOLDS, RELEASE_LEGAL_HOLD, RETENTION_PREVIEW, Retention


def register_retention(router: Router, retention: Retention) -> None:
    async def preview(request: CommandRequest) -> CommandReply:
        return await retention.preview(request.actor)

    async def hold(request: CommandRequest) -> CommandReply:
        return await retention.place_hold(request.actor, request.argument)

    async def release(request: CommandRequest) -> CommandReply:
        return await retention.release_hold(request.actor, request.argument)

    async def holds(request: CommandRequest) -> CommandReply:
        return await retention.list_holds(request.actor)

    router.on_command(command(RETENTION_PREVIEW), preview, access=ACCESS[RETENTION_PREVIEW])
    router.on_command(command(LEGAL_HOLD), hold, access=ACCESS[LEGAL_HOLD])
    router.on_command(command(RELEASE_LEGAL_HOLD), release, access=ACCESS[RELEASE_LEGAL_HOLD])
    router.on_command(command(LEGAL_HOLDS), holds, access=ACCESS[LEGAL_HOLDS])
