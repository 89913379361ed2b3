"""The bot's own commands in Teams: ``whoami``, ``status`` (SLT) and ``use this channel for incidents`` (SLT,
typed in a team channel). Help and cancel are answered by the edge for every conversation."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.access import staff
from domain.commands import command
from services.platform import STATUS, STATUS_COMMAND, USE_CHANNEL, USE_CHANNEL_COMMAND, Platform
from services.requests import CommandRequest


def register_platform(router: Router, platform: Platform) -> None:
    async def whoami(request: CommandRequest) -> CommandReply:
        return await platform.whoami(request.actor)

    async def status(request: CommandRequest) -> CommandReply:
        return await platform.status(request.actor)

    async def use_channel(request: CommandRequest) -> CommandReply:
        return await platform.use_channel(request.actor, request.channel)

    router.on_command(command("whoami"), whoami, access=staff())
    router.on_command(command(STATUS_COMMAND), status, access=STATUS)  # the service checks the same declaration
    router.on_command(command(USE_CHANNEL_COMMAND), use_channel, access=USE_CHANNEL)
