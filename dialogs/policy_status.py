"""``policy status`` (SLT, the Head Teacher; personal chat) and the ``policy_acknowledge`` button (any member of
staff, in their personal chat, about their own acknowledgement).

Every route is declared on the router (its one check runs first, each refusal audited); the service checks again."""

from __future__ import annotations

from cards.acknowledgement import ACKNOWLEDGE_VERB, AcknowledgePayload
from cards.replies import ActionResult, CommandReply
from dialogs.router import Router
from domain.access import only, staff
from domain.commands import command
from domain.roles import Role
from services.acknowledgement import PolicyAcknowledgements
from services.requests import CardAction, CommandRequest


def register_policy_status(router: Router, acknowledgements: PolicyAcknowledgements) -> None:
    async def show(request: CommandRequest) -> CommandReply:
        return await acknowledgements.status(request)

    async def acknowledge(action: CardAction) -> ActionResult:
        return await acknowledgements.acknowledge(action)

    router.on_command(command("policy_status"), show, access=only(Role.SLT, Role.HEAD_TEACHER, personal_only=True))
    router.on_action(ACKNOWLEDGE_VERB, acknowledge, access=staff(personal_only=True), payload=AcknowledgePayload)
