"""Subject access (UK GDPR Art. 15): ``subject access <person>`` (the DPO, personal chat) and the file's delivery.

- ``request``: who the person is (the directory's role holders; every name the records hold beside an Entra object
  id: reporters, requesters, deciders, actors, personal chats; the consent register's pupils: names compared case-
  and accent-insensitively; an Entra object id as given), then ONE unit
  of work: every record naming them is read (``store/subject_access.py``), the zip is built
  (``domain/subject_access_export.py``), kept in ``subject_access_exports`` for at most 24 hours, and the export
  is written to the audit trail (``exported``, reason ``prepared``). The answer is Teams' file consent card.
- ``consent``: Teams' ``fileConsent/invoke``. Only the DPO who asked may accept or decline; anyone else is refused
  and audited (another DPO as ``not_requester``), and the export stays. On accept the bytes are PUT to the upload
  URL Teams gives (the DPO's OneDrive), the row is deleted, the delivery is audited (``exported``, reason
  ``delivered``) and the file's info card is sent. On decline, or once expired, the row is deleted. If the upload
  fails the export is kept (until it expires) so the DPO can ask again.

Who may use the command and the invoke is declared here once (``ACCESS``, by the router's names): the router checks
it before the service runs, and the service checks the same declaration again (``services/audit.py`` ``Gate``), each
refusal in the audit trail.

The bytes are kept rather than regenerated on accept so that what the DPO receives is exactly what was audited
as prepared, even if the records change in between.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cards.replies import CommandReply
from cards.subject_access import file_consent_card, file_info_card
from domain.access import Access, only
from domain.actors import Actor
from domain.audit import AuditOutcome, RecordType
from domain.retention import looks_like_object_id
from domain.roles import DirectoryUnavailableError, Role, RoleDirectory
from domain.subject_access import EXPORT_LIFETIME, MIN_NAME_LENGTH, KnownPerson, Subject, fold
from domain.subject_access_export import ExportMeta, export_zip
from services.audit import AuditTrail, Gate, refusal, view
from store import exports
from store import subject_access as store
from store.base import utcnow
from store.db import Database

log = logging.getLogger(__name__)

COMMAND = "subject_access"
FILE_CONSENT_INVOKE = "fileConsent/invoke"  # Teams' answer to the file consent card (the router's invoke name)
CONSENT = "subject_access_file"  # the audit trail's action for the file's delivery, and a refusal on the export
Uploader = Callable[[str, bytes], Awaitable[None]]  # PUT the bytes to the upload URL; raises if it failed


# The DPO, in their personal chat (the export names people; the file goes to the DPO who asked: checked on the
# export itself, in ``consent``).
ACCESS: dict[str, Access] = {
    COMMAND: only(Role.DPO, personal_only=True, record=RecordType.SUBJECT_ACCESS, refusal=(
        "Only the Data Protection Officer can make a subject access export. Nothing was shown.")),
    FILE_CONSENT_INVOKE: only(Role.DPO, personal_only=True, record=RecordType.SUBJECT_ACCESS, refusal=(
        "Only the Data Protection Officer who asked for this export can receive it. Nothing was sent.")),
}


class UploadError(Exception):
    """The upload URL did not take the file."""


@dataclass
class ConsentOutcome:
    """What to send in the chat after a ``fileConsent/invoke`` (the invoke itself is answered 200)."""

    texts: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


class SubjectAccess:
    def __init__(self, database: Database, directory: RoleDirectory, *, audit: AuditTrail, uploader: Uploader,
                 clock: Callable[[], datetime] = utcnow, loopback_uploads: bool = False,
                 new_id: Callable[[], str] = lambda: secrets.token_urlsafe(24)) -> None:
        self._db = database
        self._directory = directory
        self._audit = audit
        self._gate = Gate(directory, audit)
        self._upload = uploader
        self._clock = clock
        self._new_id = new_id
        self._loopback_uploads = loopback_uploads  # dev mode only: the local stand-in for OneDrive

    # --- the export ----------------------------------------------------------------------------------------

    async def request(self, actor: Actor, argument: str) -> CommandReply:
        refused = await self._gate.refused(COMMAND, ACCESS[COMMAND], actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        typed = " ".join(argument.split())
        if len(typed) < MIN_NAME_LENGTH:
            return CommandReply(texts=["Type **subject access** + the person's full name (a pupil's as in the "
                                       "consent register) or their Entra object id."])
        staff = await self._directory_people()
        now = self._clock()
        export_id = self._new_id()
        reference = f"SAR-{now:%Y%m%d}-{export_id[:6]}"
        async with self._db.transaction() as session:
            recorded = await store.people_recorded(session)
            pupils = [KnownPerson(f"{p.preferred_first_name or p.first_name} {p.surname}", pupil_id=p.pupil_id)
                      for p in await store.all_pupils(session)] + [
                KnownPerson(f"{p.first_name} {p.surname}", pupil_id=p.pupil_id)
                for p in await store.all_pupils(session) if p.preferred_first_name]
            known = staff + recorded + pupils
            subject = _subject(typed, known)
            if not subject.found:
                return CommandReply(texts=[f"I can't find anyone called {typed}. Nothing was exported."])
            others = _distinct(p for p in known if not _is(p, subject))
            records = await store.records_naming(session, subject, others)
            meta = ExportMeta(reference, now, actor.name)
            content = export_zip(subject, records, meta)
            file_name = f"{reference}.zip"
            await exports.save_export(session, export_id=export_id, dpo_aad=actor.aad_object_id.lower(),
                                      file_name=file_name, content=content, now=now, expires_at=now + EXPORT_LIFETIME)
            await self._audit.record_in(session, view(
                actor, COMMAND, RecordType.SUBJECT_ACCESS, reference, "prepared",
                {"records": len(records), "subject_ids": sorted(subject.aad_ids),
                 "pupil_ids": sorted(subject.pupil_ids), "bytes": len(content)},
                outcome=AuditOutcome.EXPORTED))
        return CommandReply(
            texts=[f"{len(records)} record(s) name {subject.label}. Accept the file below to receive {file_name} "
                   "in your OneDrive (it is kept for you for 24 hours). Other people's data in it is marked for your "
                   "redaction review."],
            attachments=[file_consent_card(file_name, len(content), export_id)],
        )

    # --- the file consent -----------------------------------------------------------------------------------

    async def consent(self, actor: Actor, value: Mapping[str, Any]) -> ConsentOutcome:
        """The DPO's answer to the file consent card: the declaration first (as the router's), then the export
        itself: only the DPO who asked for it receives it."""
        refused = await self._gate.refused(FILE_CONSENT_INVOKE, ACCESS[FILE_CONSENT_INVOKE], actor)
        if refused is not None:
            return ConsentOutcome(texts=[refused])
        context = value.get("context")
        export_id = context.get("export") if isinstance(context, Mapping) else None
        action = value.get("action")
        if not isinstance(export_id, str) or action not in ("accept", "decline"):
            return ConsentOutcome(texts=["That file is no longer available. Type subject access + person again."])
        now = self._clock()
        async with self._db.transaction() as session:
            row = await exports.get_export(session, export_id)
            if row is None:
                await self._audit.record_in(session, refusal(actor, CONSENT, RecordType.SUBJECT_ACCESS, None,
                                                             "not_found"))
                return ConsentOutcome(texts=["That file is no longer available. Type subject access + person "
                                             "again."])
            reference = row.file_name.removesuffix(".zip")
            if row.dpo_aad != actor.aad_object_id.lower():  # another DPO's export
                await self._audit.record_in(session, refusal(
                    actor, CONSENT, RecordType.SUBJECT_ACCESS, reference, "not_requester"))
                return ConsentOutcome(texts=["Only the Data Protection Officer who asked for this export can receive "
                                             "it. Nothing was sent."])
            if row.expires_at <= now:
                await exports.delete_export(session, export_id)
                return ConsentOutcome(texts=["That export has expired and was removed. Type subject access + "
                                             "person again."])
            if action == "decline":
                await exports.delete_export(session, export_id)
                return ConsentOutcome(texts=[f"{row.file_name} was not sent and has been removed."])
            upload = value.get("uploadInfo")
            url = upload.get("uploadUrl") if isinstance(upload, Mapping) else None
            if not isinstance(upload, Mapping) or not isinstance(url, str) or not (
                    url.startswith("https://") or (self._loopback_uploads and _loopback(url))):
                return ConsentOutcome(texts=["Teams did not give me a place to upload the file. Please try again."])
            content = bytes(row.content)
            name = row.file_name
        try:
            await self._upload(url, content)
        except Exception:  # noqa: BLE001 - any failure of the upload: the export is kept until it expires
            log.warning("subject access upload failed", extra={"export": reference})
            return ConsentOutcome(texts=["I could not upload the file to your OneDrive. It is kept for 24 hours: "
                                         "type subject access + person to try again."])
        async with self._db.transaction() as session:
            await exports.delete_export(session, export_id)
            await self._audit.record_in(session, view(actor, CONSENT, RecordType.SUBJECT_ACCESS, reference,
                                                      "delivered", {"bytes": len(content)},
                                                      outcome=AuditOutcome.EXPORTED))
        return ConsentOutcome(attachments=[file_info_card(
            str(upload.get("name") or name), str(upload.get("contentUrl") or ""),
            str(upload.get("uniqueId") or ""), str(upload.get("fileType") or "zip"))])

    # --- helpers --------------------------------------------------------------------------------------------

    async def _directory_people(self) -> list[KnownPerson]:
        """The directory's role holders (asked before the unit of work: it may be Graph)."""
        people: list[KnownPerson] = []
        for role in Role:
            if role is Role.STAFF:
                continue
            try:
                people += [KnownPerson(p.name, p.aad_object_id) for p in await self._directory.holders_of(role)]
            except DirectoryUnavailableError:
                continue
        return people


def _same(a: str, b: str) -> bool:
    return " ".join(fold(a).split()) == " ".join(fold(b).split())


def _subject(typed: str, known: list[KnownPerson]) -> Subject:
    """Everyone ``typed`` names (a name: every known person of that name; an id: that person), with all their names."""
    lowered = typed.lower()
    matches = [p for p in known if (p.aad_id and p.aad_id.lower() == lowered) or p.pupil_id == typed
               or _same(p.name, typed)]
    aad_ids = {p.aad_id.lower() for p in matches if p.aad_id}
    if _looks_like_id(typed):
        aad_ids.add(lowered)
    pupil_ids = {p.pupil_id for p in matches if p.pupil_id}
    # every name the matched people are known by (a pupil's preferred and legal first name; a chat's name)
    names = {p.name for p in known if (p.aad_id and p.aad_id.lower() in aad_ids) or
             (p.pupil_id and p.pupil_id in pupil_ids)}
    if not _looks_like_id(typed):
        names.add(typed)  # also someone the bot knows only from text (a parent, a pupil not in the register)
    label = next((p.name for p in matches), typed)
    return Subject(label, frozenset(aad_ids), frozenset(names), frozenset(pupil_ids))


def _looks_like_id(text: str) -> bool:
    return looks_like_object_id(text)


def _is(person: KnownPerson, subject: Subject) -> bool:
    if person.aad_id and person.aad_id.lower() in subject.aad_ids:
        return True
    return bool(person.pupil_id and person.pupil_id in subject.pupil_ids)


def _distinct(people: Any) -> list[KnownPerson]:
    seen: dict[tuple[str, str | None, str | None], KnownPerson] = {}
    for person in people:
        seen.setdefault((fold(person.name), person.aad_id and person.aad_id.lower(), person.pupil_id), person)
    return list(seen.values())


def _loopback(url: str) -> bool:
    return url.startswith(("http://127.0.0.1:", "http://localhost:"))
