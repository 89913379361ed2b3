"""Can I post this photo? (issue 7): the consent check in Teams.

``register_consent(router, ...)`` wires:

- the flow ``Flow.CHECK_PHOTO`` (typed ``can I post this photo?`` or the help card): the question card, with
  the school's approved accounts from the account register as destinations;
- ``photo_check_submit``: the check on the current register (``ConsentStore.check_photo``, which logs who
  checked which pupils for which purpose, never the photo); names matching several pupils, or none, get the
  choice card first;
- ``photo_check_choose_pupils``: the check again with the chosen pupils pinned. The choice card carries the
  original answers in its button's data, so nothing is kept between the two turns.

Not yet here (see the issue's closing note): asking the Head Teacher for a personal-device exception through
the approval desk, importing the register from a CSV sent in chat, and ``do not photograph <pupil>``.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from bot.actions import ActionResult, ActionRouter, CardAction, CommandReply, CommandRequest
from bot.features import ApprovalDesk
from cards.consent import (
    PHOTO_CHECK_CHOOSE_VERB,
    PHOTO_CHECK_SUBMIT_VERB,
    PhotoCheckSubmit,
    PupilChoiceSubmit,
    photo_check_question_card,
    pupil_choice_card,
    verdict_card,
)
from domain.consent import Verdict, with_choices
from domain.flows import Flow
from store.approvals import registered_account_names
from store.consent_store import ConsentStore
from store.conversations import ConversationStore
from store.db import Database

log = logging.getLogger(__name__)

_ORIGINAL_FIELDS = (
    "destination", "pupils", "device", "media", "appropriatelyDressed", "nobodyRidiculed",
    "notInToiletOrChangingArea",
)


class PhotoChecks:
    def __init__(self, database: Database, store: ConsentStore) -> None:
        self._database = database
        self.store = store

    async def _accounts(self) -> list[str]:
        async with self._database.sessions() as session:
            return await registered_account_names(session)

    async def start(self, request: CommandRequest) -> CommandReply:
        return CommandReply(cards=[photo_check_question_card(await self._accounts())])

    async def submit(self, action: CardAction) -> ActionResult:
        accounts = await self._accounts()
        try:
            submitted = PhotoCheckSubmit.model_validate({**action.data, "verb": PHOTO_CHECK_SUBMIT_VERB})
            request = submitted.to_request()
        except ValidationError:
            return ActionResult(
                card=photo_check_question_card(
                    accounts,
                    pupils_text=str(action.data.get("pupils") or "")[:2000],
                    problem="Please choose where it will go and which device took it, and type the name of "
                    "every pupil in it (one per line, or separated by commas).",
                )
            )
        verdict = await self.store.check_photo(request, checked_by=action.actor.aad_object_id, school_accounts=accounts)
        return ActionResult(card=self._answer_card(verdict, action.data))

    async def choose(self, action: CardAction) -> ActionResult:
        accounts = await self._accounts()
        try:
            original = PhotoCheckSubmit.model_validate({**action.data, "verb": PHOTO_CHECK_SUBMIT_VERB})
            choices = PupilChoiceSubmit.model_validate({**action.data, "verb": PHOTO_CHECK_CHOOSE_VERB}).choices()
            request = original.to_request()
        except ValidationError:
            return ActionResult(message="That card is out of date. Type **can I post this photo?** to start again.")
        request = request.model_copy(update={"pupils": with_choices(request.pupils, choices)})
        verdict = await self.store.check_photo(request, checked_by=action.actor.aad_object_id, school_accounts=accounts)
        return ActionResult(card=self._answer_card(verdict, action.data))

    @staticmethod
    def _answer_card(verdict: Verdict, submitted: dict[str, Any]):  # type: ignore[no-untyped-def]
        if not verdict.needs_pupil_choice:
            return verdict_card(verdict)
        card = pupil_choice_card(verdict)
        original = {key: submitted[key] for key in _ORIGINAL_FIELDS if key in submitted}
        for button in card.actions or []:
            data = getattr(button, "data", None)
            if isinstance(data, dict):
                data.update(original)
        return card


def register_consent(
    router: ActionRouter,
    *,
    database: Database,
    store: ConsentStore | None = None,
    desk: ApprovalDesk | None = None,
    conversations: ConversationStore | None = None,
    settings: Any = None,
) -> PhotoChecks:
    checks = PhotoChecks(database, store or ConsentStore(database))
    router.on_flow(Flow.CHECK_PHOTO.value, checks.start)
    router.on_action(PHOTO_CHECK_SUBMIT_VERB, checks.submit)
    router.on_action(PHOTO_CHECK_CHOOSE_VERB, checks.choose)
    return checks
