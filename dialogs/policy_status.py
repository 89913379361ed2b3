"""``policy status`` (SLT, the Head Teacher; personal chat) and the ``policy_acknowledge`` button (any member of
staff, in their personal chat, about their own acknowledgement).

Each route is registered with its declaration from ``services/acknowledgement.py`` ``ACCESS``: the router checks it
first (each refusal audited), and the service checks the same declaration again."""

from __future__ import annotations

from cards.acknowledgement import ACKNOWLEDGE_VERB, AcknowledgePayload
from cards.replies import ActionResult, CommandReply
from dialogs.router import Router
from domain.commands import command
from services.acknowledgement import ACCESS, STATUS_COMMAND, PolicyAcknowledgements
from services.requests import CardAction, CommandRequest


def register_policy_status(router: Router, acknowledgements: PolicyAcknowledgements) -> None:
    async def show(request: CommandRequest) -> CommandReply:
        return await acknowledgements.status(request)

    async def acknowledge(action: CardAction) -> ActionResult:
        return await acknowledgements.acknowledge(action)

    router.on_command(command(STATUS_COMMAND), show, access=ACCESS[STATUS_COMMAND])
    router.on_action(ACKNOWLEDGE_VERB, acknowledge, access=ACCESS[ACKNOWLEDGE_VERB], payload=AcknowledgePayload)
