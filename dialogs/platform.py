"""The bot's own commands in Teams: ``whoami``, ``status`` (SLT) and ``use this channel for incidents`` (SLT,
typed in a team channel). Help and cancel are answered by the edge for every conversation."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.access import only, staff
from domain.audit import RecordType
from domain.commands import command
from domain.roles import Role
from services.platform import Platform
from services.requests import CommandRequest


def register_platform(router: Router, platform: Platform) -> None:
    async def whoami(request: CommandRequest) -> CommandReply:
        return await platform.whoami(request.actor)

    async def status(request: CommandRequest) -> CommandReply:
        return await platform.status(request.actor)

    async def use_channel(request: CommandRequest) -> CommandReply:
        return await platform.use_channel(request.actor, request.channel)

    slt = (Role.SLT, Role.HEAD_TEACHER)  # the Head Teacher leads SLT: she may do what SLT may
    router.on_command(command("whoami"), whoami, access=staff())
    router.on_command(command("status"), status, access=only(
        *slt, refusal="Only members of the Senior Leadership Team can see the bot's status. Type **whoami** to see "
                      "your roles."))
    router.on_command(command("use_channel"), use_channel, access=only(
        *slt, record=RecordType.SETTINGS,
        refusal="Only a member of the Senior Leadership Team can choose where incident reports go, because they can "
                "contain sensitive information. Please ask a member of SLT. Nothing was changed."))
