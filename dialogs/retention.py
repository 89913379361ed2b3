"""The retention schedule's commands: ``retention preview`` (DPO), ``legal hold``, ``release legal hold`` and
``legal holds`` (DPO and Head Teacher). Who may use each is checked, and every refusal audited, by the service
(``services/retention.py``), against the roles the directory gives the authenticated sender."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.access import only
from domain.audit import RecordType
from domain.commands import command
from domain.roles import Role
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

    # The router's declarations (domain/access.py): its one check runs first; the service checks again.
    holders = only(Role.DPO, Role.HEAD_TEACHER, personal_only=True, record=RecordType.LEGAL_HOLD)
    router.on_command(command("retention_preview"), preview,
                      access=only(Role.DPO, personal_only=True, record=RecordType.RETENTION))
    router.on_command(command("legal_hold"), hold, access=holders)
    router.on_command(command("release_legal_hold"), release, access=holders)
    router.on_command(command("legal_holds"), holds, access=holders)
