"""The safeguarding record's verbs (KCSIE record keeping): a decision with its reason, a referral's outcome, a pupil
added, the PDF export and "mark transferred". The use cases are in ``services/safeguarding_record.py``.

Each verb is declared for the people who handle some kind of report, in their personal chat only (the details card
that carries the buttons is never posted in a channel): the declarations are the service's own (``RECORD_ACCESS``,
``RECORD_FILE_ACCESS``), which it checks again; whether the sender handles *this* report's category is checked in the
service against the report it loads, and a refusal is audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from cards.replies import ActionResult
from cards.safeguarding_record import (
    RECORD_EXPORT_CONTEXT,
    AddPupilPayload,
    DecisionPayload,
    RecordPayload,
    ReferralOutcomePayload,
    TransferPayload,
    Verb,
)
from dialogs.router import InvokeRequest, Router
from services.requests import CardAction
from services.safeguarding_record import FILE_CONSENT_INVOKE, RECORD_ACCESS, RECORD_FILE_ACCESS, SafeguardingRecord


def register_safeguarding_record(router: Router, record: SafeguardingRecord) -> None:
    """The record's verbs, and Teams' file consent for its PDF (``fileConsent/invoke#record_export``: the card's
    context names the export; the service admits only the person who exported it)."""

    async def consent(request: InvokeRequest) -> dict[str, Any]:
        if request.actor is None:  # the router refuses an unidentified sender first
            return {"send": {"texts": ["That file could not be sent."]}}
        outcome = await record.consent(request.actor, request.value)
        return {"send": {"texts": outcome.texts, "attachments": outcome.attachments}}

    routes: dict[Verb, tuple[Callable[[CardAction], Awaitable[ActionResult]], type[BaseModel]]] = {
        Verb.DECISION: (record.on_decision, DecisionPayload),
        Verb.REFERRAL_OUTCOME: (record.on_referral_outcome, ReferralOutcomePayload),
        Verb.EXPORT: (record.on_export, RecordPayload),
        Verb.TRANSFERRED: (record.on_transferred, TransferPayload),
        Verb.ADD_PUPIL: (record.on_add_pupil, AddPupilPayload),
    }
    for verb, (handler, payload) in routes.items():
        router.on_action(verb.value, handler, payload=payload, access=RECORD_ACCESS, owner=__name__)
    router.on_invoke(FILE_CONSENT_INVOKE, consent, access=RECORD_FILE_ACCESS, context_key=RECORD_EXPORT_CONTEXT)
