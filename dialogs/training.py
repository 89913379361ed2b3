"""``training`` (SLT, the Head Teacher; personal chat): record social media training, typed or with its form
(``training_submit``). Each route is registered with its declaration from ``services/training.py`` ``ACCESS``: the
router checks it first (each refusal audited), and the service checks the same declaration again."""

from __future__ import annotations

from cards.replies import ActionResult, CommandReply
from cards.training import TRAINING_SUBMIT_VERB, TrainingPayload
from dialogs.router import Router
from domain.commands import command
from services.requests import CardAction, CommandRequest
from services.training import ACCESS, COMMAND, TrainingRecords


def register_training(router: Router, training: TrainingRecords) -> None:
    async def record(request: CommandRequest) -> CommandReply:
        return await training.command(request)

    async def submit(action: CardAction) -> ActionResult:
        return await training.submit(action)

    router.on_command(command(COMMAND), record, access=ACCESS[COMMAND])
    router.on_action(TRAINING_SUBMIT_VERB, submit, access=ACCESS[TRAINING_SUBMIT_VERB], payload=TrainingPayload)
