"""The safeguarding record's use cases (KCSIE record keeping; ``domain/safeguarding_record.py``).

``dialogs/safeguarding_record.py`` registers them. Who may use them is declared here once (``RECORD_ACCESS`` for the
verbs, ``RECORD_FILE_ACCESS`` for the file's consent): people who handle some kind of report, in their personal chat.
The router checks it before a use case runs and each use case checks the same declaration again (``services/audit.py``
``Gate``: it is the authority wherever it is called from), each refusal in the audit trail; then, against the report
it loads, that the sender's roles handle its category (``domain.incidents.authorise``; a refusal is audited). Each
writes in one unit of work.

- ``on_decision``: a decision with its reason (both required) joins the chronology.
- ``on_referral_outcome``: an outcome appended to one of the report's referrals; nothing is overwritten.
- ``on_export``: the record as a PDF (``cards/incident_pdf.py``), kept for the sender for 24 hours in
  ``subject_access_exports`` (the exports waiting for a file consent), the export written to the chronology and to
  the audit trail (``exported``, ``prepared``), and Teams' file consent card sent to the sender's personal chat.
- ``consent``: Teams' ``fileConsent/invoke`` for such a file: only the person who exported it may accept it; the PDF
  is uploaded to their OneDrive, the row deleted, the delivery audited (``exported``, ``delivered``).
- ``on_add_pupil``: a pupil appended to the record after it was sent, by whoever may add notes to the report (the
  same server check: the person it is about is refused, audited ``about_them``); in the chronology and the audit
  trail (``recorded``, ``pupil_added``, without the name).
- ``on_transferred``: "mark transferred" with the system's name and its reference: a chronology entry, the audit
  trail, and the report's retention review settled (``store.retention.settle_transfer``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cards.incident_pdf import record_pdf
from cards.incidents import details_card
from cards.replies import ActionResult
from cards.safeguarding_record import (
    RECORD_EXPORT_CONTEXT,
    AddPupilPayload,
    DecisionPayload,
    RecordPayload,
    ReferralOutcomePayload,
    TransferPayload,
    export_activity,
)
from cards.subject_access import file_info_card
from domain.access import Access, only
from domain.actors import Actor
from domain.audit import AuditOutcome, RecordType
from domain.incident_routing import REPORT_HANDLERS
from domain.incidents import Permission
from domain.retention import incident_kind
from domain.roles import Role, RoleDirectory, RoleLookup
from domain.safeguarding_record import RecordError, pupil_to_add, require_reason
from domain.subject_access import EXPORT_LIFETIME
from services.audit import AuditTrail, Gate, refusal, safe_reference, view
from services.incidents import Incidents, payload_of
from services.requests import CardAction
from services.subject_access import ConsentOutcome, Uploader
from store import conversations, exports
from store import incidents as records
from store import retention as retention_store
from store import safeguarding_record as record_store
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

CONSENT = "incident_record_file"  # the audit trail's action for the file's delivery
FILE_CONSENT_INVOKE = "fileConsent/invoke"
FILE_CONSENT = f"{FILE_CONSENT_INVOKE}#{RECORD_EXPORT_CONTEXT}"  # the file's consent, as the router names it

# --- who may use each way in (dialogs/safeguarding_record.py registers these; each use case checks again) ----------

# Everyone who handles some kind of report (domain/incident_routing.py), as for the handling buttons.
RECORD_HANDLERS: frozenset[Role] = REPORT_HANDLERS
_NOT_A_HANDLER = ("Only the people the policy names for a kind of report can act on its record. Nothing was changed "
                  "or shown.")
RECORD_ACCESS: Access = only(*sorted(RECORD_HANDLERS), personal_only=True, record=RecordType.INCIDENT,
                             record_field="incident", refusal=_NOT_A_HANDLER)
RECORD_FILE_ACCESS: Access = only(*sorted(RECORD_HANDLERS), personal_only=True, record=RecordType.INCIDENT,
                                  refusal=_NOT_A_HANDLER)


class SafeguardingRecord:
    """The record's verbs and its file's consent.

    Args:
        directory: the sender's roles, for the check of ``RECORD_ACCESS`` (the router's, again).
    """

    def __init__(self, incidents: Incidents, database: Database, *, directory: RoleDirectory, trail: AuditTrail,
                 uploader: Uploader, loopback_uploads: bool = False,
                 new_id: Callable[[], str] = lambda: secrets.token_urlsafe(24)) -> None:
        self._incidents = incidents
        self._db = database
        self._directory = directory
        self._gate = Gate(directory, trail)
        self._trail = trail
        self._upload = uploader
        self._loopback_uploads = loopback_uploads  # dev mode only: the local stand-in for OneDrive
        self._new_id = new_id

    @staticmethod
    def _person(actor: Actor) -> records.Person:
        return records.Person(actor.aad_object_id, actor.name or "Someone")

    async def _refused(self, action: CardAction, lookup: RoleLookup | None = None) -> str | None:
        """``RECORD_ACCESS`` checked for the sender of ``action`` (the router's check, again, naming the same report);
        a refusal is in the trail."""
        named = action.payload if isinstance(action.payload, RecordPayload) else None
        record_ref = safe_reference(named.incident if named is not None else action.data.get("incident"))
        return await self._gate.refused(action.verb, RECORD_ACCESS, action.actor, record_ref, lookup=lookup)

    # --- decisions and referral outcomes -------------------------------------------------------------------------

    async def on_decision(self, action: CardAction) -> ActionResult:
        if (refused := await self._refused(action)) is not None:
            return ActionResult(message=refused)
        form = payload_of(action, DecisionPayload)
        decision = form.decision.strip()
        if not decision:
            return ActionResult(message="Say what was decided. Nothing was changed.")
        try:
            reason = require_reason(form.decision_reason, "this decision")
        except RecordError as problem:
            return ActionResult(message=str(problem))

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            await record_store.record_decision(session, incident.id, self._person(action.actor), decision, reason, now)
            return None

        result = await self._incidents.change_record(action, Permission.RECORD_DECISION, change)
        if result.card is not None:
            result.message = "Recorded: the decision and its reason are in the chronology."
        return result

    async def on_referral_outcome(self, action: CardAction) -> ActionResult:
        if (refused := await self._refused(action)) is not None:
            return ActionResult(message=refused)
        form = payload_of(action, ReferralOutcomePayload)
        referral = form.referral
        if referral is None:
            return ActionResult(message="Choose the referral. Nothing was changed.")
        outcome = form.referral_outcome.strip()
        if not outcome:
            return ActionResult(message="Say what the outcome of the referral was. Nothing was changed.")

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            added = await record_store.record_referral_outcome(session, incident.id, referral,
                                                               self._person(action.actor), outcome, now)
            return None if added is not None else "That referral is not on this report. Nothing was changed."

        result = await self._incidents.change_record(action, Permission.RECORD_REFERRAL_OUTCOME, change)
        if result.card is not None:
            result.message = "Recorded: the outcome is added to the referral (nothing was overwritten)."
        return result

    async def on_add_pupil(self, action: CardAction) -> ActionResult:
        if (refused := await self._refused(action)) is not None:
            return ActionResult(message=refused)
        form = payload_of(action, AddPupilPayload)
        if not form.pupil.strip():
            return ActionResult(message="Give the pupil's name. Nothing was changed.")
        added: list[str] = []

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            linked = [pupil.name for pupil in await record_store.pupils(session, incident.id)]
            try:
                name = pupil_to_add(form.pupil, linked)
            except RecordError as problem:
                return str(problem)
            await record_store.add_pupil(session, incident.id, name, self._person(action.actor), now)
            await self._trail.record_in(session, view(action.actor, action.verb, RecordType.INCIDENT,
                                                      incident.reference, "pupil_added", {"pupils": len(linked) + 1},
                                                      outcome=AuditOutcome.RECORDED))
            added.append(name)
            return None

        result = await self._incidents.change_record(action, Permission.ADD_NOTE, change)  # who may add a note
        if result.card is not None and added:
            result.message = f"Added {added[0]} to the record's pupils (nobody was replaced)."
        return result

    # --- the transfer --------------------------------------------------------------------------------------------

    async def on_transferred(self, action: CardAction) -> ActionResult:
        if (refused := await self._refused(action)) is not None:
            return ActionResult(message=refused)
        form = payload_of(action, TransferPayload)
        system = " ".join(form.transfer_system.split())
        reference = " ".join(form.transfer_reference.split())
        if not system:
            return ActionResult(message="Choose the safeguarding system the record was put into. Nothing was changed.")
        if not reference:
            return ActionResult(message="Give the reference that system gave the record (for a paper file, where it "
                                        "is filed). Nothing was changed.")

        async def change(session: Any, incident: records.Incident, now: datetime) -> str | None:
            await record_store.record_transfer(session, incident.id, self._person(action.actor), system, reference,
                                               now)
            await retention_store.settle_transfer(session, kind=incident_kind(incident.category),
                                                  reference=incident.reference, system=system,
                                                  system_reference=reference, by_name=action.actor.name, now=now)
            await self._trail.record_in(session, view(action.actor, action.verb, RecordType.INCIDENT,
                                                      incident.reference, "transferred", {"system": system},
                                                      outcome=AuditOutcome.RECORDED))
            return None

        result = await self._incidents.change_record(action, Permission.MARK_TRANSFERRED, change)
        if result.card is not None:
            result.message = (f"Recorded: transferred to {system} ({reference}). The retention schedule now treats "
                              "the record there as the lasting one.")
        return result

    # --- the PDF ---------------------------------------------------------------------------------------------------

    async def on_export(self, action: CardAction) -> ActionResult:
        actor = action.actor
        lookup = await self._directory.roles_of(actor.aad_object_id)  # the check's, and which reports they handle
        if (refused := await self._refused(action, lookup)) is not None:
            return ActionResult(message=refused)
        now = self._incidents.now()
        export_id = self._new_id()
        async with self._db.transaction() as session:
            loaded = await self._incidents.authorised_in(session, action, lookup.roles, Permission.EXPORT_RECORD)
            if isinstance(loaded, str):
                return ActionResult(message=loaded)
            chat = await conversations.personal_chat_of(session, actor.aad_object_id)
            if chat is None or chat.stale:
                return ActionResult(message="Open a chat with Policy Bot first (Chat, then New chat, then Policy Bot) "
                                            "so it can send you the file, then press Export PDF again.")
            report = await self._incidents.full_report_in(session, loaded)
            content = record_pdf(report, calendar=self._incidents.calendar, exported_by=actor.name or "Someone",
                                 exported_at=now)
            file_name = f"{loaded.reference}-safeguarding-record.pdf"
            await exports.save_export(session, export_id=export_id, dpo_aad=actor.aad_object_id.lower(),
                                      file_name=file_name, content=content, now=now, expires_at=now + EXPORT_LIFETIME)
            await record_store.record_export(session, loaded.id, self._person(actor), file_name, len(content), now)
            await self._trail.record_in(session, view(actor, action.verb, RecordType.INCIDENT, loaded.reference,
                                                      "prepared", {"bytes": len(content), "format": "pdf"},
                                                      outcome=AuditOutcome.EXPORTED))
            await enqueue(session, OutboxMessage.personal(
                chat.reference, export_activity(file_name, len(content), export_id),
                dedupe_key=f"incident:{loaded.id}:export:{export_id}"))
            incident = await self._incidents.refresh_cards_in(session, loaded.id)
            report = await self._incidents.full_report_in(session, incident)
        self._incidents.wake_outbox()
        log.info("incident record exported", extra={"incident": loaded.reference, "bytes": len(content)})
        return ActionResult(card=details_card(report, calendar=self._incidents.calendar),
                            message=f"{file_name} is ready: accept the file card in this chat to save it in your "
                                    "OneDrive (kept for you for 24 hours).")

    async def consent(self, actor: Actor, value: Mapping[str, Any]) -> ConsentOutcome:
        """Teams' ``fileConsent/invoke`` for a record's PDF: only the person who exported it receives it (and only while
        ``RECORD_FILE_ACCESS`` admits them)."""
        if (refused := await self._gate.refused(FILE_CONSENT, RECORD_FILE_ACCESS, actor)) is not None:
            return ConsentOutcome(texts=[refused])
        context = value.get("context")
        export_id = context.get(RECORD_EXPORT_CONTEXT) if isinstance(context, Mapping) else None
        answer = value.get("action")
        if not isinstance(export_id, str) or answer not in ("accept", "decline"):
            return ConsentOutcome(texts=["That file is no longer available. Press Export PDF on the report again."])
        now = self._incidents.now()
        async with self._db.transaction() as session:
            row = await exports.get_export(session, export_id)
            if row is None:
                await self._trail.record_in(session, refusal(actor, CONSENT, RecordType.INCIDENT, None, "not_found"))
                return ConsentOutcome(texts=["That file is no longer available. Press Export PDF on the report "
                                             "again."])
            reference = row.file_name.removesuffix("-safeguarding-record.pdf")
            if row.dpo_aad != actor.aad_object_id.lower():
                await self._trail.record_in(session, refusal(actor, CONSENT, RecordType.INCIDENT, reference,
                                                             "not_requester"))
                return ConsentOutcome(texts=["Only the person who exported this record can receive it. Nothing was "
                                             "sent."])
            if row.expires_at <= now or answer == "decline":
                await exports.delete_export(session, export_id)
                return ConsentOutcome(texts=[f"{row.file_name} was not sent and has been removed."])
            upload = value.get("uploadInfo")
            url = upload.get("uploadUrl") if isinstance(upload, Mapping) else None
            if not isinstance(upload, Mapping) or not isinstance(url, str) or not (
                    url.startswith("https://") or (self._loopback_uploads and _loopback(url))):
                return ConsentOutcome(texts=["Teams did not give me a place to upload the file. Please try again."])
            content, name = bytes(row.content), row.file_name
        try:
            await self._upload(url, content)
        except Exception:  # noqa: BLE001 - any failure of the upload: the export is kept until it expires
            log.warning("record export upload failed", extra={"incident": reference})
            return ConsentOutcome(texts=["I could not upload the file to your OneDrive. It is kept for 24 hours: "
                                         "accept the file card again."])
        async with self._db.transaction() as session:
            await exports.delete_export(session, export_id)
            await self._trail.record_in(session, view(actor, CONSENT, RecordType.INCIDENT, reference, "delivered",
                                                      {"bytes": len(content)}, outcome=AuditOutcome.EXPORTED))
        return ConsentOutcome(attachments=[file_info_card(
            str(upload.get("name") or name), str(upload.get("contentUrl") or ""),
            str(upload.get("uniqueId") or ""), str(upload.get("fileType") or "pdf"))])


def _loopback(url: str) -> bool:
    return url.startswith(("http://127.0.0.1:", "http://localhost:"))

