"""The one audit trail, as the use cases write it: every refusal and every view of restricted detail; and
``audit <reference or person>``, the trail read in Teams by the Data Protection Officer and the Head Teacher.

A refusal found inside a use case's unit of work is recorded in it (``record_in``), so the entry and the
answer agree; one found before any unit of work (the router's check, a missing identity) gets a unit of
work of its own (``record``). Entries are also logged, without names or text: the action, the record and
the reason only.

``Gate`` is the one check of a way in (``domain/access.py``'s ``Access``): the router runs it before any service, and a
service that is the authority wherever it is called from (a route, a worker, a test) runs it again with the same
declaration, so a permission is declared once and every refusal, wherever it happens, is in the trail.

A record is named in the trail as the card data named it (an incident's or a request's id: the router knows no
more) or by its reference; ``audit`` finds it by either and shows the reference.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cards.audit import AuditLine, audit_trail_card
from cards.replies import CommandReply
from domain.access import Access, RefusalReason
from domain.actors import Actor
from domain.approvals import KIND_PREFIXES
from domain.audit import AuditEntry, AuditOutcome, RecordType
from domain.calendar import SchoolCalendar
from domain.incidents import Category, ChannelView, Permission, may, parse_reference, rule_for
from domain.roles import DirectoryUnavailableError, Person, Role, RoleDirectory, RoleLookup
from services.requests import CommandRequest
from store import approvals as approval_records
from store import audit as store
from store import conversations
from store import incidents as incident_records
from store.base import utcnow
from store.db import Database

log = logging.getLogger(__name__)


_SAFE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:#-]{0,63}")  # an id or reference, never free text


def safe_reference(value: object) -> str | None:
    """A record id or reference fit for the audit trail (a number, or a short token); None for anything else
    (free text a card or an attacker put there is never recorded or logged)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _SAFE_REFERENCE.fullmatch(value):
        return value
    return None


def refusal(actor: Actor | None, action: str, record_type: RecordType, record_ref: str | int | None,
            reason: str, detail: Mapping[str, Any] | None = None) -> AuditEntry:
    """The entry for a refused attempt (``actor`` None: the activity carried no identity)."""
    return AuditEntry(
        actor_aad=actor.aad_object_id if actor else None, actor_name=actor.name if actor else None,
        action=action, record_type=record_type, record_ref=None if record_ref is None else str(record_ref),
        outcome=AuditOutcome.REFUSED, reason=reason, detail=dict(detail or {}),
    )


def view(actor: Actor, action: str, record_type: RecordType, record_ref: str | int | None, what: str,
         detail: Mapping[str, Any] | None = None, *, outcome: AuditOutcome = AuditOutcome.VIEWED) -> AuditEntry:
    """The entry for restricted detail shown (or exported) to someone allowed to see it."""
    return AuditEntry(
        actor_aad=actor.aad_object_id, actor_name=actor.name, action=action, record_type=record_type,
        record_ref=None if record_ref is None else str(record_ref), outcome=outcome, reason=what,
        detail=dict(detail or {}),
    )


class AuditTrail:
    """Writes and reads the trail (``store/audit.py``)."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._clock = clock

    async def record_in(self, session: AsyncSession, entry: AuditEntry) -> int:
        """Append ``entry`` in the caller's unit of work."""
        _log(entry)
        return await store.record(session, entry, now=self._clock())

    async def record(self, entry: AuditEntry) -> int:
        """Append ``entry`` in a unit of work of its own (for refusals found outside any)."""
        async with self._db.transaction() as session:
            return await self.record_in(session, entry)

    async def recent(self, *, record_ref: str | None = None, actor_aad: str | None = None,
                     record_type: RecordType | None = None, limit: int = 50) -> list[AuditEntry]:
        async with self._db.sessions() as session:
            return await store.recent(session, record_ref=record_ref, actor_aad=actor_aad, record_type=record_type,
                                      limit=limit)

    def now(self) -> datetime:
        return self._clock()


DIRECTORY_DOWN = ("I can't check your roles with the school's directory just now, so I can't do this. Nothing was "
                  "changed. Try again in a few minutes.")


class Gate:
    """Who may use a way in, decided from its ``Access`` and the sender; each refusal written to the trail.

    The router asks before any service runs; a service asks again with the same ``Access`` when it is the authority
    wherever it is called from. Through the router a refused sender never reaches the service, so a refusal is
    written once.

    Args:
        directory: the sender's roles (always the authenticated sender's, never a card's).
        trail: where refusals are written.
    """

    def __init__(self, directory: RoleDirectory, trail: AuditTrail) -> None:
        self._directory = directory
        self._trail = trail

    async def refused(self, name: str, access: Access, actor: Actor | None, record_ref: str | None = None, *,
                      lookup: RoleLookup | None = None) -> str | None:
        """None when ``actor`` may use ``name``; else what to tell them, the refusal already in the trail.

        The roles are looked up only for a way in that needs more than staff, and only when the conversation
        allows it (a personal-chat route used elsewhere is refused without asking the directory).

        Args:
            name: the route (verb, command, flow, file handler or invoke) as the trail names it.
            access: its declaration.
            actor: the authenticated sender (None: the activity carried no identity).
            record_ref: the record the request names, fit for the trail (an id or a reference).
            lookup: the sender's roles when the caller has already asked the directory for them.
        """
        detail: dict[str, Any] = {}
        degraded = False
        if actor is None:
            reason: RefusalReason | None = RefusalReason.NO_IDENTITY
        else:
            detail["conversation"] = actor.conversation_kind or "personal"
            reason = None
            if access.personal_only and not actor.in_personal_chat:
                reason = RefusalReason.NOT_PERSONAL_CHAT  # known without asking the directory
            elif not access.any_staff:
                lookup = lookup or await self._directory.roles_of(actor.aad_object_id)
                degraded = lookup.degraded
                reason = access.refusal_reason(lookup.roles, actor.conversation_kind)
                detail["roles"] = sorted(role.value for role in lookup.roles)
                if degraded:
                    detail["directory"] = "degraded"
        if reason is None:
            return None
        await self._trail.record(refusal(actor, name, access.record, record_ref, reason.value, detail))
        if degraded and reason is RefusalReason.ROLE:
            return DIRECTORY_DOWN
        return access.refused_text(reason)


def _log(entry: AuditEntry) -> None:
    level = logging.WARNING if entry.outcome is AuditOutcome.REFUSED else logging.INFO
    log.log(level, "audit: %s %s", entry.action, entry.outcome.value,
            extra={"record_type": entry.record_type.value, "record_ref": entry.record_ref, "reason": entry.reason})


# --- `audit <reference or person>`: the DPO and the Head Teacher ---------------------------------------------

AUDIT_COMMAND = "audit"
AUDIT_READERS = frozenset({Role.DPO, Role.HEAD_TEACHER})
_SHOWN = 30  # entries on the card (Teams cards stay well under their size limit)
_REQUEST_REFERENCE = re.compile(r"([A-Z]{3})-(\d{4})-(\d{1,9})")
_RECORD_ID = re.compile(r"#?(\d{1,9})")
_AAD_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_MAX_NAME = 120
_USAGE = ("Type **audit** and a reference (e.g. **audit INC-2026-0004** or **audit ACC-2026-0002**), a request's "
          "number, or a person's name (e.g. **audit Lee Carter**): I show the most recent refusals and views of "
          "restricted detail about it, or by them.")
AUDIT_ACCESS = Access(AUDIT_READERS, personal_only=True, record=RecordType.AUDIT_TRAIL,
                      refusal="Only the Data Protection Officer and the Head Teacher can read the audit trail. Nothing "
                              "was shown.")


def may_know_of(roles: frozenset[Role], category: Category) -> bool:
    """Whether someone with ``roles`` may know that a report of ``category`` exists at all.

    A report that never appears in a channel (an allegation about staff, a concern about the Head Teacher) is
    known only to its handlers: the trail does not show its entries to anyone else, so ``audit`` cannot tell the
    Head Teacher that a report about her exists.
    """
    return may(Permission.VIEW, roles, category) or rule_for(category).channel is not ChannelView.NONE


@dataclass(frozen=True)
class _Subject:
    """What ``audit`` was asked about."""

    label: str  # as the card names it
    about: tuple[tuple[RecordType | None, str], ...] = ()  # the record: (its kind, or any; its reference or id)
    actors: tuple[str, ...] = ()  # the people's Entra object ids
    hidden: bool = False  # a record the reader may not know exists: shown as having no entries
    audit_ref: str | None = None  # how the VIEWED entry names what was looked at


class AuditDesk:
    """``audit <reference or person>``: the recent entries about a record or by a person.

    The router admits the DPO and the Head Teacher in their personal chat (``AUDIT_ACCESS``); the same declaration is
    checked again here, a refusal in the trail. The
    directory is asked for people's names first; then one unit of work reads the entries and records the look
    (VIEWED, ``audit_trail``), so the trail shows who read it.
    """

    def __init__(self, database: Database, trail: AuditTrail, directory: RoleDirectory, *,
                 calendar: SchoolCalendar) -> None:
        self._db = database
        self._trail = trail
        self._directory = directory
        self._gate = Gate(directory, trail)
        self._calendar = calendar

    async def show(self, request: CommandRequest) -> CommandReply:
        actor = request.actor
        lookup = await self._directory.roles_of(actor.aad_object_id)
        refused = await self._gate.refused(AUDIT_COMMAND, AUDIT_ACCESS, actor, lookup=lookup)
        if refused is not None:
            return CommandReply(texts=[refused])
        roles = lookup.roles
        query = " ".join(request.argument.split())[:_MAX_NAME]
        if not query:
            return CommandReply(texts=[_USAGE])
        named = [] if _names_a_record(query) or _AAD_ID.fullmatch(query) else await self._holders_named(query)
        async with self._db.transaction() as session:
            about_me = frozenset(await incident_records.reports_about(session, actor.aad_object_id))  # never shown
            subject = await self._subject_in(session, query, named, roles, about_me)
            if subject is None:
                return CommandReply(texts=[
                    "I know no reference or person by that name. Type a reference such as INC-2026-0004, a request's "
                    "number, or a person's full name as Teams shows it (or their Entra object id)."])
            entries = [] if subject.hidden else await store.recent(
                session, about=subject.about, actor_aads=subject.actors, limit=_SHOWN * 2)
            lines = (await self._lines_in(session, entries, roles, about_me))[:_SHOWN]
            await self.record_view_in(session, actor, subject, len(lines))
        return CommandReply(cards=[audit_trail_card(subject.label, lines, calendar=self._calendar, limit=_SHOWN)])

    async def record_view_in(self, session: AsyncSession, actor: Actor, subject: _Subject, shown: int) -> None:
        detail: dict[str, Any] = {"entries": shown}
        if len(subject.actors) > 1:
            detail["people"] = list(subject.actors)
        await self._trail.record_in(session, view(actor, AUDIT_COMMAND, RecordType.AUDIT_TRAIL, subject.audit_ref,
                                                  "entries", detail))

    async def _holders_named(self, name: str) -> list[Person]:
        """The directory's role holders called ``name`` (asked before the unit of work: it may be Graph)."""
        found: dict[str, Person] = {}
        for role in Role:
            if role is Role.STAFF:
                continue
            try:
                holders = await self._directory.holders_of(role)
            except DirectoryUnavailableError:
                continue
            for person in holders:
                if person.name.strip().lower() == name.lower():
                    found.setdefault(person.aad_object_id.lower(), person)
        return list(found.values())

    async def _subject_in(self, session: AsyncSession, query: str, named: Sequence[Person],
                          roles: frozenset[Role], about_me: frozenset[int] = frozenset()) -> _Subject | None:
        upper = query.upper()
        looked_at = (RecordType.AUDIT_TRAIL, upper)  # earlier looks at the trail about the same record
        if parse_reference(upper) is not None:
            incident = await incident_records.by_reference(session, upper)
            if incident is None:
                return _Subject(upper, ((RecordType.INCIDENT, upper), looked_at), audit_ref=upper)
            return _Subject(incident.reference, ((RecordType.INCIDENT, incident.reference),
                                                 (RecordType.INCIDENT, str(incident.id)), looked_at),
                            hidden=not may_know_of(roles, incident.category) or incident.id in about_me,
                            audit_ref=incident.reference)  # a report about the reader: as if it did not exist
        request_reference = _REQUEST_REFERENCE.fullmatch(upper)
        if request_reference is not None and request_reference.group(1) in KIND_PREFIXES.values():
            request_id = int(request_reference.group(3))
            request = await approval_records.get_request(session, request_id)
            about: tuple[tuple[RecordType | None, str], ...] = ((RecordType.APPROVAL_REQUEST, upper), looked_at)
            if request is not None and request.reference == upper:  # the id the cards name it by
                about += ((RecordType.APPROVAL_REQUEST, str(request_id)),)
            return _Subject(upper, about, audit_ref=upper)
        number = _RECORD_ID.fullmatch(query)
        if number is not None:
            return _Subject(f"record {number.group(1)}", ((None, number.group(1)),), audit_ref=number.group(1))
        if _AAD_ID.fullmatch(query):
            known = await self._names_in(session, [query])
            return _Subject(known.get(query.lower(), query), actors=(query,), audit_ref=query)
        people = {person.aad_object_id.lower(): person.name for person in named}
        for chat in await conversations.people_with_personal_chats(session):
            if chat.name and chat.name.strip().lower() == query.lower():
                people.setdefault(chat.aad_object_id.lower(), chat.name)
        for aad, recorded in (await store.actors_named(session, query)).items():
            people.setdefault(aad.lower(), recorded)
        if not people:
            return None
        ids = tuple(sorted(people))
        label = next(iter(people.values())) if len(ids) == 1 else f"{query} ({len(ids)} people of that name)"
        return _Subject(label, actors=ids, audit_ref=ids[0] if len(ids) == 1 else None)

    async def _names_in(self, session: AsyncSession, aad_ids: Iterable[str]) -> dict[str, str]:
        chats = await conversations.personal_chats_of(session, list(aad_ids))
        return {aad.lower(): chat.user_name for aad, chat in chats.items() if chat.user_name}

    async def _lines_in(self, session: AsyncSession, entries: Sequence[AuditEntry],
                        roles: frozenset[Role], about_me: frozenset[int] = frozenset()) -> list[AuditLine]:
        """The entries as the card shows them: records by their reference; entries about a report the reader may
        not know exists are left out."""
        incidents: dict[str, incident_records.Incident | None] = {}
        requests: dict[str, str | None] = {}
        lines: list[AuditLine] = []
        for entry in entries:
            shown_ref = entry.record_ref
            ref = entry.record_ref
            if ref is not None and (entry.record_type is RecordType.INCIDENT or (
                    entry.record_type is RecordType.AUDIT_TRAIL and parse_reference(ref) is not None)):
                if ref not in incidents:
                    incidents[ref] = await (incident_records.get(session, int(ref)) if ref.isdigit()
                                            else incident_records.by_reference(session, ref))
                incident = incidents[ref]
                if incident is not None:
                    if not may_know_of(roles, incident.category) or incident.id in about_me:
                        continue  # nobody sees the handling of a report about themselves (issue 15)
                    shown_ref = incident.reference
            elif ref is not None and ref.isdigit() and entry.record_type is RecordType.APPROVAL_REQUEST:
                if ref not in requests:
                    request = await approval_records.get_request(session, int(ref))
                    requests[ref] = request.reference if request is not None else None
                shown_ref = requests[ref] or ref
            assert entry.at is not None  # read from the trail
            lines.append(AuditLine(
                at=entry.at, who=entry.actor_name or entry.actor_aad or "an unidentified sender", action=entry.action,
                outcome=entry.outcome, record_type=entry.record_type, record=shown_ref, reason=entry.reason,
            ))
        return lines


def _names_a_record(query: str) -> bool:
    upper = query.upper()
    return (parse_reference(upper) is not None or _REQUEST_REFERENCE.fullmatch(upper) is not None
            or _RECORD_ID.fullmatch(query) is not None)
