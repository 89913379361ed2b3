"""The bot's own commands in Teams: ``whoami``, ``status`` (SLT) and ``use this channel for incidents`` (SLT,
typed in a team channel). Help and cancel are answered by the edge for every conversation."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.commands import command
from services.platform import Platform
from services.requests import CommandRequest


def register_platform(router: Router, platform: Platform) -> None:
    async def whoami(request: CommandRequest) -> CommandReply:
        return await platform.whoami(request.actor)

    async def status(request: CommandRequest) -> CommandReply:
        return await platform.status(request.actor)

    async def use_channel(request: CommandRequest) -> CommandReply:
        return await platform.use_channel(request.actor, request.channel)

    router.on_command(command("whoami"), whoami)
    router.on_command(command("status"), status)
    router.on_command(command("use_channel"), use_channel)
