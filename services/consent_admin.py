"""The consent register's keeping in Teams (issue 7): what the data admin and any member of staff do to it.

``dialogs.consent_admin.register_consent_admin(router, *, database, store, directory, settings, ...)`` registers
the routes (each verb with its payload model from ``cards/consent_admin.py``, validated by the router before a
handler runs) and returns the ``ConsentAdmin`` the Teams edge also calls:

- ``do not photograph <pupil>`` / ``do not film <pupil>`` (any member of staff, personal chat only; no name: a
  form). Use of images: "If anyone asks not to be filmed or photographed then their wishes should be respected."
  One match in the current register → recorded at once (every later photo check says NO) and the data admin(s)
  are sent a card in their personal chat, in the same transaction (outbox); several or none → a choice card.
  Typed in a channel or group chat: the name is not repeated there, and the member of staff is asked to use the
  personal chat. ``<pupil>: <note>`` adds a note (who asked).
- verbs ``do_not_photograph_submit`` (the form), ``do_not_photograph_choose`` (the choice card): any staff;
  ``do_not_photograph_clear`` ("Done: updated in the MIS"): the data admin only.
- ``photo requests``: the open requests, oldest first (data admin and DSL; the notes are for them only).
- ``consent register``: the current version, who imported it and when, pupils, open requests, earlier versions
  kept (data admin, DSL, DPO); verb ``consent_register_activate`` ("Undo" / "Make this the current register"):
  the data admin only.
- ``csv_candidates(attachments)``: the CSV files among a personal-chat message's attachments (Teams'
  ``file.download.info`` with an https SharePoint download link); ``receive_csv(actor, candidates, fetch)``:
  the data admin's import of the first (anyone else's file is never downloaded).

Every role is looked up on the server from the authenticated actor, on every command and click. Who may use each
way in is declared here once (``ACCESS``): the router checks it before a use case runs and the use case checks it
again (it is the authority wherever it is called from, e.g. ``receive_csv`` from the edge), each refusal in the audit
trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from cards.base import AdaptiveCard, escape_markdown
from cards.consent_admin import (
    CONSENT_REGISTER_ACTIVATE_VERB,
    DO_NOT_PHOTOGRAPH_CHOOSE_VERB,
    DO_NOT_PHOTOGRAPH_CLEAR_VERB,
    DO_NOT_PHOTOGRAPH_SUBMIT_VERB,
    MAX_NAME,
    MAX_NOTE,
    NOT_LISTED,
    ActivateSubmit,
    ClearSubmit,
    DoNotPhotographChoice,
    DoNotPhotographSubmit,
    RequestView,
    VersionView,
    consent_register_card,
    do_not_photograph_choice_card,
    do_not_photograph_cleared_card,
    do_not_photograph_empty_register_card,
    do_not_photograph_form_card,
    do_not_photograph_not_found_card,
    do_not_photograph_recorded_card,
    do_not_photograph_request_card,
    photo_requests_card,
    pupil_consent_card,
    register_activated_card,
    register_imported_card,
    register_rejected_card,
)
from cards.replies import ActionResult, CommandReply
from domain.access import Access, only, staff
from domain.actors import Actor
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.consent import (
    ConsentRegister,
    NameResolution,
    Pupil,
    ResolutionStatus,
    TypedPupil,
    parse_pupil_names,
)
from domain.consent_import import DEFAULT_MAPPING, DEFAULT_MAX_REGISTER_BYTES, ColumnMapping, ImportRejected
from domain.roles import DirectoryUnavailableError, Person, Role, RoleDirectory
from services.approvals import button_payload, card_message
from services.audit import AuditTrail, Gate, safe_reference
from services.audit import view as audit_view
from services.incidents import Fetch, ScreenshotRefused
from services.requests import CardAction, CommandRequest
from store import card_copies, conversations
from store.base import utcnow
from store.consent_store import (
    ConsentStore,
    DoNotPhotographRequest,
    RegisterImportError,
    RegisterVersion,
    UnknownPupilError,
    VersionNotAvailableError,
)
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

DO_NOT_PHOTOGRAPH_PHRASES = (
    "do not photograph", "do not film", "don't photograph", "don't film",
    "don\u2019t photograph", "don\u2019t film",  # Teams on phones types a curly apostrophe
)
PHOTO_REQUESTS_PHRASES = ("photo requests",)
CONSENT_REGISTER_PHRASES = ("consent register",)
PUPIL_CONSENT_PHRASES = ("pupil consent", "consent for")

_FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
_SHAREPOINT_HOSTS = (".sharepoint.com", ".sharepoint.us", ".sharepoint.de", ".sharepoint.cn")
_NOTE_SEPARATOR = ":"  # "do not photograph Amelia Hughes: her mum asked at the gate"
_MAX_RECORDS_SHOWN = 5

# --- who may use each way in (the router registers these; each use case checks its own again) ----------------

DO_NOT_PHOTOGRAPH = "do_not_photograph"
PHOTO_REQUESTS = "photo_requests"
CONSENT_REGISTER = "consent_register"
PUPIL_CONSENT = "pupil_consent"
CONSENT_CSV = "consent_csv"

_NOT_HERE = ("Please don't name pupils here. Tell me in our personal chat instead: open Policy Bot from the chat list "
             "and type **do not photograph** there. Nothing was recorded.")
_DATA_ADMIN_AND_DSL = ("Only the data admin (school office) and the Designated Safeguarding Lead can see this. To "
                       "check whether you may use a photo, type **can I post this photo?**")
_RECORD, _REGISTER = RecordType.CONSENT_RECORD, RecordType.CONSENT_REGISTER

# Anyone may record a do-not-photograph wish (personal chat: it names a pupil); the register's keeping is the data
# admin's, and a pupil's record is for the data admin and the DSL.
ACCESS: dict[str, Access] = {
    DO_NOT_PHOTOGRAPH: staff(personal_only=True, record=_RECORD, elsewhere=_NOT_HERE),
    PHOTO_REQUESTS: only(Role.DATA_ADMIN, Role.DSL, personal_only=True, record=_RECORD, refusal=_DATA_ADMIN_AND_DSL),
    CONSENT_REGISTER: only(
        Role.DATA_ADMIN, Role.DSL, Role.DPO, personal_only=True, record=_REGISTER, refusal=(
            "Only the data admin (school office), the Designated Safeguarding Lead and the Data Protection Officer "
            "can see the consent register's details. To check a photo, type **can I post this photo?**")),
    PUPIL_CONSENT: only(Role.DATA_ADMIN, Role.DSL, personal_only=True, record=_RECORD, refusal=_DATA_ADMIN_AND_DSL),
    DO_NOT_PHOTOGRAPH_SUBMIT_VERB: staff(personal_only=True, record=_RECORD, elsewhere=_NOT_HERE),
    DO_NOT_PHOTOGRAPH_CHOOSE_VERB: staff(personal_only=True, record=_RECORD, record_field="choice",
                                         elsewhere=_NOT_HERE),
    DO_NOT_PHOTOGRAPH_CLEAR_VERB: only(
        Role.DATA_ADMIN, personal_only=True, record=_RECORD, record_field="pupil_id", refusal=(
            "Only the data admin (school office) can close a do not photograph request, once the MIS is updated. "
            "Nothing changed.")),
    CONSENT_REGISTER_ACTIVATE_VERB: only(
        Role.DATA_ADMIN, personal_only=True, record=_REGISTER, record_field="version", refusal=(
            "Only the data admin (school office) can change which consent register is current. Nothing changed.")),
    CONSENT_CSV: only(Role.DATA_ADMIN, personal_only=True, record=_REGISTER, refusal=(
        "Only the data admin can import the consent register; your file was not read. If the register needs "
        "changing, tell the school office.")),
}
_OUT_OF_DATE = "That card is out of date. Type **help** to start again."


@dataclass(frozen=True)
class CsvCandidate:
    """A CSV file sent in the chat: a pre-authenticated SharePoint download link (no bot token is sent)."""

    url: str
    file_name: str


@dataclass(frozen=True)
class _Admin:
    person: Person
    reference: dict[str, Any] | None  # None: never opened the bot (or the chat is gone)


def _subject(request_id: int) -> str:
    """Names a do-not-photograph request's card copies (store/card_copies.py)."""
    return f"do_not_photograph:{request_id}"


def _as_typed(typed: TypedPupil) -> str:
    """A typed pupil as staff typed it, with the class they gave."""
    return typed.text + (f" ({typed.class_hint})" if typed.class_hint else "")


async def _names_in(session: AsyncSession, aad_object_ids: Iterable[str]) -> dict[str, str]:
    """People's names as Teams last told us (one query), else what was stored (a command-line import keeps a name)."""
    ids = sorted({aad for aad in aad_object_ids if aad})
    chats = await conversations.personal_chats_of(session, ids)
    return {aad: (chat.user_name if (chat := chats.get(aad)) is not None and chat.user_name else aad) for aad in ids}


def _name(names: dict[str, str], aad_object_id: str) -> str:
    return names.get(aad_object_id) or aad_object_id or "someone"


class ConsentAdmin:
    """The consent register's use cases in Teams.

    Each looks up roles in the directory first, reads what it needs in a reading unit of work, and writes in at
    most one unit of work: the record with its outbox messages and card updates (do not photograph, clear,
    activate). The CSV import is downloaded first, then stored by the store in one transaction.
    """

    def __init__(self, database: Database, store: ConsentStore, directory: RoleDirectory, settings: Any, *,
                 calendar: SchoolCalendar, on_enqueued: Callable[[], None] | None = None,
                 clock: Callable[[], Any] = utcnow, trail: AuditTrail | None = None) -> None:
        self._database = database
        self.store = store
        self._directory = directory
        self._settings = settings
        self._calendar = calendar
        self._on_enqueued = on_enqueued or (lambda: None)
        self._clock = clock
        self._trail = trail or AuditTrail(database, clock=clock)
        self._gate = Gate(directory, self._trail)

    async def _refused(self, name: str, actor: Actor, record_ref: object = None) -> str | None:
        """``ACCESS[name]`` checked for ``actor`` (the router's check, again); a refusal is in the trail."""
        return await self._gate.refused(name, ACCESS[name], actor, safe_reference(record_ref))

    async def _roles_unless_refused(self, name: str, actor: Actor) -> tuple[frozenset[Role], str | None]:
        """The sender's roles (what the card offers them depends on them) and the check of ``ACCESS[name]``."""
        if not actor.in_personal_chat:  # refused without asking the directory
            return frozenset(), await self._refused(name, actor)
        lookup = await self._directory.roles_of(actor.aad_object_id)
        return lookup.roles, await self._gate.refused(name, ACCESS[name], actor, lookup=lookup)

    # --- do not photograph: staff ---------------------------------------------------------------------

    async def do_not_photograph(self, request: CommandRequest) -> CommandReply:
        if (refused := await self._refused(DO_NOT_PHOTOGRAPH, request.actor)) is not None:
            return CommandReply(texts=[refused])
        name, _, note = request.argument.partition(_NOTE_SEPARATOR)
        if not name.strip():
            return CommandReply(cards=[do_not_photograph_form_card(note=note.strip())])
        return CommandReply(cards=[await self._record_typed(request.actor, name, note.strip())])

    async def on_submit(self, action: CardAction) -> ActionResult:
        """`do_not_photograph_submit`: the form."""
        if (refused := await self._refused(DO_NOT_PHOTOGRAPH_SUBMIT_VERB, action.actor)) is not None:
            return ActionResult(message=refused)
        submitted = button_payload(action, DoNotPhotographSubmit)
        if len(submitted.pupil) > MAX_NAME or len(submitted.note) > MAX_NOTE:
            return ActionResult(card=do_not_photograph_form_card(
                problem=f"Type the pupil's name (at most {MAX_NAME} characters) and a note of at most {MAX_NOTE} "
                        "characters."))
        return ActionResult(card=await self._record_typed(action.actor, submitted.pupil, submitted.note))

    async def on_choose(self, action: CardAction) -> ActionResult:
        """`do_not_photograph_choose`: the pupil chosen on the choice card (or none of them)."""
        chosen = button_payload(action, DoNotPhotographChoice)
        if (refused := await self._refused(DO_NOT_PHOTOGRAPH_CHOOSE_VERB, action.actor, chosen.choice)) is not None:
            return ActionResult(message=refused)
        if not chosen.choice or chosen.choice == NOT_LISTED:
            return ActionResult(card=do_not_photograph_not_found_card(chosen.typed or "That pupil",
                                                                      nobody_close=False))
        register = await self.store.load_register()
        entry = register.get(chosen.choice)
        if entry is None:
            return ActionResult(card=do_not_photograph_form_card(
                name=chosen.typed, note=chosen.note,
                problem="The consent register has changed since that card: type the name again."))
        return ActionResult(card=await self._record(action.actor, entry.pupil, chosen.note))

    async def _resolve_one_in(self, session: AsyncSession,
                              text: str) -> tuple[TypedPupil, ConsentRegister, NameResolution] | None:
        """One typed pupil matched against the current register; None unless exactly one name was typed."""
        typed = parse_pupil_names(text.strip())
        if len(typed) != 1:
            return None
        pupil = TypedPupil(text=typed[0].text, class_hint=typed[0].class_hint)
        register = await self.store.register_in(session)
        return pupil, register, register.resolve(pupil)

    async def _record_typed(self, actor: Actor, text: str, note: str) -> AdaptiveCard:
        async with self._database.sessions() as session:
            found = await self._resolve_one_in(session, text)
        if found is None:
            return do_not_photograph_form_card(
                name=text.strip(), note=note,
                problem="Name one pupil at a time (first name and surname, with the class in brackets if you "
                        "know it).")
        typed, register, resolution = found
        if len(register) == 0:
            return do_not_photograph_empty_register_card()
        if resolution.status is ResolutionStatus.MATCHED and resolution.pupil is not None:
            return await self._record(actor, resolution.pupil, note)
        if resolution.candidates:
            return do_not_photograph_choice_card(
                _as_typed(typed), resolution.candidates, note=note,
                several=resolution.status is ResolutionStatus.AMBIGUOUS,
            )
        return do_not_photograph_not_found_card(typed.text, nobody_close=True)

    async def _data_admins(self) -> tuple[list[_Admin], bool]:
        """The data admins with their personal chats; True when the directory could not say who they are."""
        try:
            holders = await self._directory.holders_of(Role.DATA_ADMIN)
        except DirectoryUnavailableError:
            return [], True
        async with self._database.sessions() as session:
            chats = await conversations.personal_chats_of(session, [person.aad_object_id for person in holders])
        admins: list[_Admin] = []
        for person in holders:
            chat = chats.get(person.aad_object_id)
            admins.append(_Admin(person, chat.reference if chat is not None and not chat.stale else None))
        return admins, False

    async def _record(self, actor: Actor, pupil: Pupil, note: str) -> AdaptiveCard:
        """Record the request and send the data admins' cards in one transaction (the directory is asked before)."""
        note = note.strip()[:MAX_NOTE]
        admins, directory_down = await self._data_admins()
        reachable = [a for a in admins if a.reference is not None]
        recorder = actor.name or "A member of staff"
        try:
            async with self._database.transaction() as session:
                request = await self.store.record_do_not_photograph_in(session, pupil, actor.aad_object_id, note)
                if not request.already_open:
                    await self._tell_data_admins_in(session, request, pupil, recorder, reachable)
        except UnknownPupilError:
            return do_not_photograph_form_card(
                problem="The consent register changed a moment ago and that pupil is no longer in it: type the "
                        "name again.")
        if request.already_open:  # recorded before (or a moment ago): that one stands, nothing more is sent
            return do_not_photograph_recorded_card(pupil, recorded_at=request.recorded_at, told=(), not_told=(),
                                                   directory_down=False, already=request.recorded_at,
                                                   calendar=self._calendar)
        if reachable:
            self._on_enqueued()
        log.info("do not photograph recorded", extra={"request": request.id, "told": len(reachable),
                                                      "not_told": len(admins) - len(reachable)})
        return do_not_photograph_recorded_card(
            pupil, recorded_at=request.recorded_at, told=[a.person.name for a in reachable],
            not_told=[a.person.name for a in admins if a.reference is None], directory_down=directory_down,
            calendar=self._calendar,
        )

    async def _tell_data_admins_in(self, session: AsyncSession, request: DoNotPhotographRequest, pupil: Pupil,
                                   recorder: str, reachable: list[_Admin]) -> None:
        card = do_not_photograph_request_card(RequestView(
            request.id, pupil.pupil_id, pupil, recorder, request.recorded_at, request.note,
        ), calendar=self._calendar)
        for admin in reachable:
            assert admin.reference is not None
            outbox_id = await enqueue(session, OutboxMessage.personal(
                admin.reference, card_message(card, "Do not photograph: update the MIS"),
                dedupe_key=f"do_not_photograph:{request.id}:{admin.person.aad_object_id}",
            ))
            # Remembered so that when one data admin closes it, every data admin's copy shows it closed.
            await card_copies.record(session, _subject(request.id), "data_admin", outbox_id,
                                     recipient=admin.person.aad_object_id)

    # --- do not photograph: the data admin --------------------------------------------------------------

    async def _views_in(self, session: AsyncSession) -> list[RequestView]:
        """The open requests as the data admin sees them, with who recorded each (two queries)."""
        requests = await self.store.open_requests_in(session)
        names = await _names_in(session, (r.requested_by for r in requests))
        return [RequestView(r.id, r.pupil_id, r.pupil, _name(names, r.requested_by), r.recorded_at, r.note)
                for r in requests]

    async def _views(self) -> list[RequestView]:
        async with self._database.sessions() as session:
            return await self._views_in(session)

    async def photo_requests(self, request: CommandRequest) -> CommandReply:
        roles, refused = await self._roles_unless_refused(PHOTO_REQUESTS, request.actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        views = await self._views()
        return CommandReply(cards=[photo_requests_card(views, can_clear=Role.DATA_ADMIN in roles,
                                                       calendar=self._calendar)])

    async def on_clear(self, action: CardAction) -> ActionResult:
        """`do_not_photograph_clear`: close a pupil's requests and update every data admin's copy, in one
        transaction (and, from the list, answer with the list as it is after)."""
        submitted = button_payload(action, ClearSubmit)
        if (refused := await self._refused(DO_NOT_PHOTOGRAPH_CLEAR_VERB, action.actor,
                                           submitted.pupil_id)) is not None:
            return ActionResult(message=refused)
        view = next((v for v in await self._views() if v.pupil_id == submitted.pupil_id), None)
        cleared_by, cleared_at = action.actor.name or "the data admin", self._clock()
        closed_card = do_not_photograph_cleared_card(view, cleared_by=cleared_by, cleared_at=cleared_at,
                                                     pupil_id=submitted.pupil_id, already=False,
                                                     calendar=self._calendar)
        activity = card_message(closed_card, "Closed: updated in the MIS")
        updates = 0
        after: list[RequestView] = []
        async with self._database.transaction() as session:
            cleared = await self.store.clear_do_not_photograph_in(session, submitted.pupil_id,
                                                                  action.actor.aad_object_id)
            for request_id in cleared:
                updates += await card_copies.update_all(session, _subject(request_id), lambda _copy: activity,
                                                        version="closed")
            if submitted.in_list:
                after = await self._views_in(session)
        if updates:
            self._on_enqueued()
        log.info("do not photograph cleared", extra={"count": len(cleared), "copies_updated": updates})
        card = closed_card if cleared else do_not_photograph_cleared_card(
            view, cleared_by=cleared_by, cleared_at=cleared_at, pupil_id=submitted.pupil_id, already=True,
            calendar=self._calendar)
        if submitted.in_list:
            return ActionResult(card=photo_requests_card(after, can_clear=True, calendar=self._calendar),
                                extra_cards=[card])
        return ActionResult(card=card)

    # --- a pupil's record: data admin, DSL -----------------------------------------------------------------

    async def pupil_consent(self, request: CommandRequest) -> CommandReply:
        """`pupil consent <name>`: the register's row for a pupil, with the do-not-publish reason (restricted)."""
        if (refused := await self._refused(PUPIL_CONSENT, request.actor)) is not None:
            return CommandReply(texts=[refused])
        async with self._database.transaction() as session:  # the look is recorded with what it read
            found = await self._resolve_one_in(session, request.argument)
            if found is None:
                return CommandReply(texts=[
                    "Type **pupil consent** and one pupil's name, e.g. **pupil consent Amelia Hughes** (add the class "
                    "in brackets if two pupils share the name)."
                ])
            typed, register, resolution = found
            if len(register) == 0:
                return CommandReply(cards=[do_not_photograph_empty_register_card()])
            shown_as = _as_typed(typed)
            if resolution.status is ResolutionStatus.MATCHED and resolution.pupil is not None:
                pupils = [resolution.pupil]
            elif resolution.status is ResolutionStatus.AMBIGUOUS:
                pupils = list(resolution.candidates[:_MAX_RECORDS_SHOWN])
            else:
                close = ", ".join(f"**{escape_markdown(c.display_name)}** ({escape_markdown(c.class_label)})"
                                  for c in resolution.candidates)
                return CommandReply(texts=[
                    f"**{escape_markdown(shown_as)}** is not in the consent register."
                    + (f" Did you mean {close}? Type **pupil consent** and the name." if close else
                       " Check the spelling, or whether the MIS export has been imported since the pupil joined.")
                ])
            entries = [entry for pupil in pupils if (entry := register.get(pupil.pupil_id)) is not None]
            views = await self._views_in(session)
            for entry in entries:  # one line of the audit trail per pupil's record shown
                await self._trail.record_in(session, audit_view(
                    request.actor, "pupil_consent", RecordType.CONSENT_RECORD, entry.pupil.pupil_id, "consent_record",
                    {"register_version": register.version}))
        return CommandReply(cards=[pupil_consent_card(entries, register.purposes, views,
                                                      version=register.version, typed=shown_as,
                                                      calendar=self._calendar)])

    # --- the register: versions ------------------------------------------------------------------------

    @staticmethod
    def _version_view(version: RegisterVersion, names: dict[str, str]) -> VersionView:
        return VersionView(version.id, version.imported_at, _name(names, version.imported_by),
                           version.source_name, version.pupil_count, version.pupils_kept)

    async def _kept_in(self, session: AsyncSession,
                       versions: list[RegisterVersion]) -> dict[int, VersionView]:
        """The versions that keep their pupils, with who imported each (one query for the names)."""
        kept = [v for v in versions if v.pupils_kept]
        names = await _names_in(session, (v.imported_by for v in kept))
        return {v.id: self._version_view(v, names) for v in kept}

    async def _current_and_kept_in(self, session: AsyncSession) -> tuple[VersionView | None, dict[int, VersionView]]:
        versions = await self.store.versions_in(session)
        current = next((v for v in versions if v.is_current), None)
        kept = await self._kept_in(session, versions)
        return (kept.get(current.id) if current else None), kept

    async def consent_register(self, request: CommandRequest) -> CommandReply:
        roles, refused = await self._roles_unless_refused(CONSENT_REGISTER, request.actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        async with self._database.sessions() as session:
            current, kept = await self._current_and_kept_in(session)
            open_requests = len(await self.store.open_requests_in(session))
        earlier = [v for v_id, v in sorted(kept.items(), reverse=True) if current is None or v_id != current.version]
        return CommandReply(cards=[consent_register_card(
            current, earlier, open_requests=open_requests, can_activate=Role.DATA_ADMIN in roles,
            source=str(getattr(self._settings, "consent_source", "csv")), calendar=self._calendar,
        )])

    async def on_activate(self, action: CardAction) -> ActionResult:
        """`consent_register_activate`: make a kept version current, in one transaction with what the card shows."""
        submitted = button_payload(action, ActivateSubmit)
        if (refused := await self._refused(CONSENT_REGISTER_ACTIVATE_VERB, action.actor,
                                           submitted.version)) is not None:
            return ActionResult(message=refused)
        try:
            async with self._database.transaction() as session:
                result = await self.store.activate_version_in(session, submitted.version)
                kept = await self._kept_in(session, await self.store.versions_in(session))
                names = await _names_in(session, [result.imported_by])
        except VersionNotAvailableError:
            return ActionResult(message=f"Version {submitted.version} is no longer kept, so it cannot be made "
                                        "current. Nothing changed. Type **consent register** to see the versions "
                                        "kept, or send a new export.")
        log.info("consent register version activated", extra={"version": result.id})
        previous_id = result.previous_version_id
        previous = kept.get(previous_id) if previous_id is not None and previous_id != result.id else None
        return ActionResult(card=register_activated_card(self._version_view(result, names), previous,
                                                         calendar=self._calendar))

    # --- the register: CSV sent in the personal chat ---------------------------------------------------

    def csv_candidates(self, attachments: list[dict[str, Any]]) -> list[CsvCandidate]:
        """CSV files sent as Teams file attachments with an https SharePoint download link; anything else is
        left for the rest of the bot."""
        found: list[CsvCandidate] = []
        for index, attachment in enumerate(attachments, 1):
            if str(attachment.get("contentType") or "") != _FILE_DOWNLOAD_INFO:
                continue
            content = attachment.get("content") or {}
            if not isinstance(content, dict) or str(content.get("fileType") or "").lower() != "csv":
                continue
            url = str(content.get("downloadUrl") or "")
            parts = urlsplit(url)
            if parts.scheme.lower() != "https" or not (parts.hostname or "").lower().endswith(_SHAREPOINT_HOSTS):
                continue
            found.append(CsvCandidate(url, str(attachment.get("name") or f"register-{index}.csv")[:300]))
        return found

    def _mapping(self) -> ColumnMapping:
        path = getattr(self._settings, "consent_mapping_file", None)
        return ColumnMapping.from_json_file(path) if path else DEFAULT_MAPPING

    async def receive_csv(self, actor: Actor, candidates: list[CsvCandidate], fetch: Fetch) -> CommandReply:
        """Import the first CSV file (data admin only); anyone else's file is never downloaded."""
        if (refused := await self._refused(CONSENT_CSV, actor)) is not None:
            return CommandReply(texts=[refused])
        if getattr(self._settings, "consent_source", "csv") == "sharepoint":
            return CommandReply(texts=[
                "The consent register comes from the school's SharePoint list, not from files: your file was not "
                "read. Update the list in SharePoint, then type **update consent register** to read it now."
            ])
        if not candidates:
            return CommandReply(texts=["I found no CSV file in that message. Export the consent register from the "
                                       "MIS as a CSV file and send it here."])
        candidate = candidates[0]
        texts: list[str] = []
        if len(candidates) > 1:
            texts.append(f"I import one file at a time: only {candidate.file_name} was read. Send the others one by "
                         "one if they are needed.")
        try:
            mapping = self._mapping()
        except (OSError, ValueError):
            log.exception("the consent column mapping file cannot be read")
            return CommandReply(texts=[
                "The column mapping set for the consent register (POLICYBOT_CONSENT_MAPPING_FILE) cannot be read, "
                "so nothing was imported and nothing changed. Ask whoever runs Policy Bot to fix it."
            ])
        # The one register size limit (the command line and the SharePoint sync keep it too); the download stops
        # reading as soon as it is passed.
        max_bytes = int(getattr(self._settings, "consent_csv_max_bytes", DEFAULT_MAX_REGISTER_BYTES))
        try:
            data = await fetch(candidate.url, max_bytes, False)
            if len(data) > max_bytes:
                raise ScreenshotRefused(f"It is larger than the {max_bytes:,} bytes allowed.")
        except ScreenshotRefused as refusal:
            return CommandReply(texts=[
                f"I could not read {candidate.file_name}: {refusal} Nothing changed. Send the file again; if it is "
                "too large, export only the columns the register needs (ask IT if the limit must change)."
            ])
        try:
            result = await self.store.import_csv(data, imported_by=actor.aad_object_id,
                                                 source_name=candidate.file_name, mapping=mapping)
        except RegisterImportError:
            log.exception("the database refused a consent register import")
            return CommandReply(texts=["The database refused the import, so nothing changed. Try again in a few "
                                       "minutes; if it happens again, tell whoever runs Policy Bot."])
        async with self._database.sessions() as session:  # what the answer shows, read after the import
            current, kept = await self._current_and_kept_in(session)
            names = await _names_in(session, [actor.aad_object_id])
        if isinstance(result, ImportRejected):
            log.info("consent register import rejected", extra={"problems": result.error_count})
            return CommandReply(texts=texts, cards=[register_rejected_card(candidate.file_name, result, current,
                                                                           calendar=self._calendar)])
        log.info("consent register imported", extra={"version": result.id, "pupils": result.pupil_count})
        previous = kept.get(result.previous_version_id) if result.previous_version_id else None
        return CommandReply(texts=texts, cards=[register_imported_card(
            self._version_view(result, names), previous, result.warnings, calendar=self._calendar)])
