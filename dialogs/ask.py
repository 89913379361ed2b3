"""Ask the policy: a question in, an answer card quoted from the policy out.

``ask`` on its own asks for the question first (a two-turn dialog whose state is durable, so a
restart between the two turns loses nothing). A question that is really about posting a photo of a
named pupil gets the photo check's button first, then the answer (issue 17); a message that reads like
a report already had the report button first (bot/handler.py), so it does not get this one too.
"""

from __future__ import annotations

from collections.abc import Callable

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.dialogs import (
    ComponentDialog,
    DialogTurnResult,
    PromptOptions,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)

from cards.base import AdaptiveCard
from cards.photo_offer import photo_offer_card
from domain.commands import looks_like_photo_check, looks_like_report

AnswerQuestion = Callable[[str], AdaptiveCard]

_MAX_QUESTION_CHARS = 500  # longer text is not a question; it is most likely a report


class AskDialog(ComponentDialog):  # type: ignore[misc]  # botbuilder is untyped
    """Asks for a question when none was given, then answers it."""

    ID = "ask_policy"

    def __init__(self, answer: AnswerQuestion) -> None:
        super().__init__(AskDialog.ID)
        self._answer = answer
        self.add_dialog(TextPrompt("question_prompt"))
        self.add_dialog(WaterfallDialog("ask_steps", [self._ask_step, self._answer_step]))
        self.initial_dialog_id = "ask_steps"

    async def _ask_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        question = (step.options or {}).get("question", "") if isinstance(step.options, dict) else ""
        if question:
            return await step.next(question)
        return await step.prompt(
            "question_prompt",
            PromptOptions(
                prompt=MessageFactory.text(
                    "What would you like to know about the Social Media Policy? "
                    "For example: *Can I accept a friend request from a former pupil?* (or type cancel)"
                )
            ),
        )

    async def _answer_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        question = str(step.result or "").strip()
        if len(question) > _MAX_QUESTION_CHARS:
            await step.context.send_activity(
                "That is longer than a question. If something has happened, type **report** to report it."
            )
            return await step.end_dialog()
        card = self._answer(question)
        if looks_like_photo_check(question) and not looks_like_report(question.lower()):
            offer = photo_offer_card()
            await step.context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(offer.to_dict())))
        await step.context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card.to_dict())))
        return await step.end_dialog()
