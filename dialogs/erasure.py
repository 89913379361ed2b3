"""Erasure and rectification (the DPO, personal chat): ``erase <person> because <reason>`` and its confirm button,
``rectify <person>`` and its form's button. Declared on the router (its one check runs first, each refusal
audited); the service checks again, and that the button is pressed by the DPO who prepared it
(``services/erasure.py``)."""

from __future__ import annotations

from cards.erasure import CORRECT_CONFIRM_VERB, ERASE_CONFIRM_VERB, CorrectionForm, EraseConfirm
from cards.replies import ActionResult, CommandReply
from dialogs.router import Router
from domain.access import only
from domain.audit import RecordType
from domain.commands import command
from domain.roles import Role
from services.erasure import Erasure
from services.requests import CardAction, CommandRequest

_REFUSAL = "Only the Data Protection Officer can erase or correct a person's data. Nothing was changed."


def register_erasure(router: Router, erasure: Erasure) -> None:
    async def erase(request: CommandRequest) -> CommandReply:
        return await erasure.erase(request.actor, request.argument)

    async def rectify(request: CommandRequest) -> CommandReply:
        return await erasure.correct(request.actor, request.argument)

    async def confirm_erase(action: CardAction) -> ActionResult:
        return await erasure.confirm_erase(action)

    async def confirm_correct(action: CardAction) -> ActionResult:
        return await erasure.confirm_correct(action)

    dpo = only(Role.DPO, personal_only=True, record=RecordType.SUBJECT_ACCESS, refusal=_REFUSAL)
    button = only(Role.DPO, personal_only=True, record=RecordType.SUBJECT_ACCESS, record_field="request_id",
                  refusal=_REFUSAL)
    router.on_command(command("erase"), erase, access=dpo)
    router.on_command(command("rectify"), rectify, access=dpo)
    router.on_action(ERASE_CONFIRM_VERB, confirm_erase, payload=EraseConfirm, access=button)
    router.on_action(CORRECT_CONFIRM_VERB, confirm_correct, payload=CorrectionForm, access=button)
