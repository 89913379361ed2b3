"""``training`` (SLT, the Head Teacher; personal chat): record social media training, typed or with its form
(``training_submit``). Declared on the router (its check first, each refusal audited); the service checks again."""

from __future__ import annotations

from cards.replies import ActionResult, CommandReply
from cards.training import TRAINING_SUBMIT_VERB, TrainingPayload
from dialogs.router import Router
from domain.access import only
from domain.commands import command
from domain.roles import Role
from services.requests import CardAction, CommandRequest
from services.training import TrainingRecords


def register_training(router: Router, training: TrainingRecords) -> None:
    recorders = only(Role.SLT, Role.HEAD_TEACHER, personal_only=True)

    async def record(request: CommandRequest) -> CommandReply:
        return await training.command(request)

    async def submit(action: CardAction) -> ActionResult:
        return await training.submit(action)

    router.on_command(command("training"), record, access=recorders)
    router.on_action(TRAINING_SUBMIT_VERB, submit, access=recorders, payload=TrainingPayload)
