"""Erasure and rectification (the DPO, personal chat): ``erase <person> because <reason>`` and its confirm button,
``rectify <person>`` and its form's button. Each is registered with its declaration from ``services/erasure.py``
``ACCESS``: the router checks it before the service runs (each refusal audited); the service checks the same
declaration again, and that the button is pressed by the DPO who prepared it."""

from __future__ import annotations

from cards.erasure import CORRECT_CONFIRM_VERB, ERASE_CONFIRM_VERB, CorrectionForm, EraseConfirm
from cards.replies import ActionResult, CommandReply
from dialogs.router import Router
from domain.commands import command
from services.erasure import ACCESS, CORRECT, ERASE, Erasure
from services.requests import CardAction, CommandRequest


def register_erasure(router: Router, erasure: Erasure) -> None:
    async def erase(request: CommandRequest) -> CommandReply:
        return await erasure.erase(request.actor, request.argument)

    async def rectify(request: CommandRequest) -> CommandReply:
        return await erasure.correct(request.actor, request.argument)

    async def confirm_erase(action: CardAction) -> ActionResult:
        return await erasure.confirm_erase(action)

    async def confirm_correct(action: CardAction) -> ActionResult:
        return await erasure.confirm_correct(action)

    router.on_command(command(ERASE), erase, access=ACCESS[ERASE])
    router.on_command(command(CORRECT), rectify, access=ACCESS[CORRECT])
    router.on_action(ERASE_CONFIRM_VERB, confirm_erase, payload=EraseConfirm, access=ACCESS[ERASE_CONFIRM_VERB])
    router.on_action(CORRECT_CONFIRM_VERB, confirm_correct, payload=CorrectionForm,
                     access=ACCESS[CORRECT_CONFIRM_VERB])
