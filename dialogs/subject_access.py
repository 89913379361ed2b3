"""``subject access <person>`` (the DPO, personal chat) and Teams' ``fileConsent/invoke`` that delivers the file.

Both are registered with their declarations from ``services/subject_access.py`` ``ACCESS``: the router checks them
before the service runs (each refusal audited); the service checks the same declarations again, and that the person
accepting the file is the DPO who asked for it."""

from __future__ import annotations

from typing import Any

from cards.replies import CommandReply
from dialogs.router import InvokeRequest, Router
from domain.commands import command
from services.requests import CommandRequest
from services.subject_access import ACCESS, COMMAND, FILE_CONSENT_INVOKE, SubjectAccess

__all__ = ["FILE_CONSENT_INVOKE", "register_subject_access"]


def register_subject_access(router: Router, subject_access: SubjectAccess) -> None:
    async def export(request: CommandRequest) -> CommandReply:
        return await subject_access.request(request.actor, request.argument)

    async def consent(request: InvokeRequest) -> dict[str, Any]:
        if request.actor is None:  # the router refuses an unidentified sender first
            return {"send": {"texts": ["That file could not be sent."]}}
        outcome = await subject_access.consent(request.actor, request.value)
        return {"send": {"texts": outcome.texts, "attachments": outcome.attachments}}

    router.on_command(command(COMMAND), export, access=ACCESS[COMMAND])
    router.on_invoke(FILE_CONSENT_INVOKE, consent, access=ACCESS[FILE_CONSENT_INVOKE])
