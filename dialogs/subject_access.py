"""``subject access <person>`` (the DPO, personal chat) and Teams' ``fileConsent/invoke`` that delivers the file.

Both are declared on the router (its one check runs first, each refusal audited); the service checks again,
and checks that the person accepting the file is the DPO who asked for it (``services/subject_access.py``)."""

from __future__ import annotations

from typing import Any

from cards.replies import CommandReply
from dialogs.router import InvokeRequest, Router
from domain.access import only
from domain.audit import RecordType
from domain.commands import command
from domain.roles import Role
from services.requests import CommandRequest
from services.subject_access import SubjectAccess

FILE_CONSENT_INVOKE = "fileConsent/invoke"


def register_subject_access(router: Router, subject_access: SubjectAccess) -> None:
    async def export(request: CommandRequest) -> CommandReply:
        return await subject_access.request(request.actor, request.argument)

    async def consent(request: InvokeRequest) -> dict[str, Any]:
        if request.actor is None:  # the router refuses an unidentified sender first
            return {"send": {"texts": ["That file could not be sent."]}}
        outcome = await subject_access.consent(request.actor, request.value)
        return {"send": {"texts": outcome.texts, "attachments": outcome.attachments}}

    dpo = only(Role.DPO, personal_only=True, record=RecordType.SUBJECT_ACCESS)
    router.on_command(command("subject_access"), export, access=dpo)
    router.on_invoke(FILE_CONSENT_INVOKE, consent, access=dpo)
