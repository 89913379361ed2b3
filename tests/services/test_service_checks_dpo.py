"""The Data Protection Officer's use cases are the authority wherever they are called from: ``retention preview`` and
the legal hold commands, ``subject access`` and the file consent that delivers its export, ``erase``, ``rectify`` and
their buttons.

Each declares who may use it once, beside the code (``services/retention.py``, ``services/subject_access.py``,
``services/erasure.py``: ``ACCESS``); the router registers that same declaration and each use case checks it again
(``services/audit.py`` ``Gate``). Refused there, a use case answers what the router would, leaves one line in the
audit trail and changes nothing; through the router the same sender is refused once, before the use case. The cases
come from the declarations (``tests/support/service_checks.py``); a declaration without a call here fails. The checks
on the record itself (only the DPO who prepared an erasure, or asked for an export, may confirm or receive it) stay
in the use case: ``tests/services/test_erasure.py``, ``tests/services/test_subject_access.py``. Both databases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from cards.erasure import CORRECT_CONFIRM_VERB, ERASE_CONFIRM_VERB, CorrectionForm, EraseConfirm
from cards.replies import ActionResult, CommandReply
from dialogs.erasure import register_erasure
from dialogs.retention import register_retention
from dialogs.router import InvokeRequest, Router
from dialogs.subject_access import register_subject_access
from directory.static import StaticRoleDirectory
from domain.access import Access, RefusalReason
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.retention import build_schedule
from domain.roles import Role
from services import erasure, retention, subject_access
from services.audit import AuditTrail
from services.erasure import Erasure
from services.requests import CardAction, CommandRequest
from services.retention import Retention
from services.subject_access import SubjectAccess
from store import erasure as erasure_store
from store.db import Database
from store.erasure import DataRightsRequestRow
from tests.support.service_checks import (
    PEOPLE,
    actor,
    assert_directory_down,
    assert_refused_once,
    assert_router_holds,
    cases,
    cases_by_name,
    directory_down,
    entries_after,
    last_entry,
    routed_command,
    said,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CALENDAR = SchoolCalendar()
SUBJECT = PEOPLE[Role.SLT].name  # the person whose data the DPO is asked about (a role holder the directory knows)
HELD = PEOPLE[Role.DSL].name  # a person already on legal hold
UPLOAD = "https://onedrive.example/upload/1"

# Every use case here that checks its callers, by the route name it shares with the router. A declaration missing
# here fails.
DECLARED: dict[str, Access] = {**retention.ACCESS, **subject_access.ACCESS, **erasure.ACCESS}
TEXTS = {  # a command's message: one that would show restricted detail or change a record if it were not refused
    retention.RETENTION_PREVIEW: "retention preview",
    retention.LEGAL_HOLD: f"legal hold {PEOPLE[Role.STAFF].name} because the police asked",
    retention.RELEASE_LEGAL_HOLD: f"release legal hold {HELD}",
    retention.LEGAL_HOLDS: "legal holds",
    subject_access.COMMAND: f"subject access {SUBJECT}",
    erasure.ERASE: f"erase {SUBJECT} because they asked",
    erasure.CORRECT: f"rectify {SUBJECT}",
}


@dataclass
class Seeded:
    """Records a refused request would change: a prepared erasure and correction, an export waiting for the DPO."""

    erase_id: int
    correct_id: int
    export: dict[str, Any]  # the file consent card's context (the export's id)


@dataclass
class World:
    database: Database
    retention: Retention
    subject_access: SubjectAccess
    erasure: Erasure
    router: Router
    seeded: Seeded | None = None
    uploads: list[str] = field(default_factory=list)  # where the export was sent (never for a refused sender)


def build(database: Database, directory: StaticRoleDirectory, seeded: Seeded | None = None) -> World:
    trail = AuditTrail(database, clock=lambda: NOW)
    uploads: list[str] = []

    async def upload(url: str, _content: bytes) -> None:
        uploads.append(url)

    world = World(database,
                  Retention(database, directory, schedule=build_schedule(), calendar=CALENDAR, audit=trail,
                            clock=lambda: NOW),
                  SubjectAccess(database, directory, audit=trail, uploader=upload, clock=lambda: NOW),
                  Erasure(database, directory, audit=trail, clock=lambda: NOW),
                  Router(directory=directory, trail=trail), seeded, uploads)
    register_retention(world.router, world.retention)
    register_subject_access(world.router, world.subject_access)
    register_erasure(world.router, world.erasure)
    return world


@pytest.fixture
async def world(database: Database) -> World:
    world = build(database, StaticRoleDirectory(PEOPLE.values(), description="test"))
    dpo = actor(Role.DPO)
    held = await world.retention.place_hold(dpo, f"{HELD} because a claim is open")
    assert "is on legal hold" in said(held)
    exported = await world.subject_access.request(dpo, SUBJECT)
    [consent_card] = exported.attachments
    assert (await world.erasure.erase(dpo, f"{SUBJECT} because they asked")).cards
    assert (await world.erasure.correct(dpo, SUBJECT)).cards
    async with database.sessions() as session:
        ids = {row.kind: row.id for row in await session.scalars(select(DataRightsRequestRow))}
    world.seeded = Seeded(ids[erasure_store.ERASE], ids[erasure_store.CORRECT],
                          dict(consent_card["content"]["acceptContext"]))
    return world


def _command(name: str, who: Actor) -> CommandRequest:
    text = TEXTS[name]
    phrase = next(p for p in command(name).phrases if text.lower().startswith(p))
    return CommandRequest(text, text[len(phrase):].strip(), who)


def _payload(world: World, verb: str) -> EraseConfirm | CorrectionForm:
    assert world.seeded is not None
    if verb == ERASE_CONFIRM_VERB:
        return EraseConfirm(request_id=world.seeded.erase_id)
    return CorrectionForm(request_id=world.seeded.correct_id, reason="misspelt at the person's request")


def _click(world: World, verb: str, who: Actor, *, validated: bool = True) -> CardAction:
    """The button as the edge hands it on (``validated``: with the payload the router would have checked)."""
    payload = _payload(world, verb)
    return CardAction(verb, payload.model_dump(), who, payload=payload if validated else None)


def _accept(world: World) -> dict[str, Any]:
    """Teams' ``fileConsent/invoke`` value when the file consent card is accepted."""
    assert world.seeded is not None
    return {"type": "fileUpload", "action": "accept", "context": world.seeded.export,
            "uploadInfo": {"uploadUrl": UPLOAD, "name": "export.zip", "contentUrl": "https://onedrive.example/x.zip",
                           "uniqueId": "u1", "fileType": "zip"}}


def _record_ref(world: World, name: str) -> str | None:
    """The record the trail names: a button's request (the router reads it from the card data); else none."""
    if name in (ERASE_CONFIRM_VERB, CORRECT_CONFIRM_VERB):
        return str(_payload(world, name).request_id)
    return None


async def _consent(world: World, who: Actor) -> CommandReply:
    outcome = await world.subject_access.consent(who, _accept(world))
    return CommandReply(texts=outcome.texts, attachments=outcome.attachments)


def direct(world: World, name: str, who: Actor) -> Awaitable[CommandReply | ActionResult]:
    """The use case called as the edge, a worker or a future route would call it: no router in front."""
    calls: dict[str, Callable[[], Awaitable[CommandReply | ActionResult]]] = {
        retention.RETENTION_PREVIEW: lambda: world.retention.preview(who),
        retention.LEGAL_HOLD: lambda: world.retention.place_hold(who, _command(name, who).argument),
        retention.RELEASE_LEGAL_HOLD: lambda: world.retention.release_hold(who, _command(name, who).argument),
        retention.LEGAL_HOLDS: lambda: world.retention.list_holds(who),
        subject_access.COMMAND: lambda: world.subject_access.request(who, _command(name, who).argument),
        subject_access.FILE_CONSENT_INVOKE: lambda: _consent(world, who),
        erasure.ERASE: lambda: world.erasure.erase(who, _command(name, who).argument),
        erasure.CORRECT: lambda: world.erasure.correct(who, _command(name, who).argument),
        ERASE_CONFIRM_VERB: lambda: world.erasure.confirm_erase(_click(world, name, who)),
        CORRECT_CONFIRM_VERB: lambda: world.erasure.confirm_correct(_click(world, name, who)),
    }
    assert set(calls) == set(DECLARED), "a use case that checks its callers needs a way to be called here"
    return calls[name]()


async def routed(world: World, name: str, who: Actor) -> CommandReply | ActionResult:
    """The same request through the router (its check first, then the same use case)."""
    if name in (ERASE_CONFIRM_VERB, CORRECT_CONFIRM_VERB):
        return await world.router.dispatch(_click(world, name, who, validated=False))
    if name == subject_access.FILE_CONSENT_INVOKE:
        answer = await world.router.invoke(InvokeRequest(name, _accept(world), who))
        if "task" in answer:  # the router's refusal, in the task module
            return CommandReply(texts=[answer["task"]["value"]])
        return CommandReply(texts=answer["send"]["texts"], attachments=answer["send"]["attachments"])
    return await routed_command(world.router, TEXTS[name], who)


CASES = cases(DECLARED)
CASES_OF = cases_by_name(DECLARED)


def test_every_check_a_use_case_makes_is_the_routers_own_declaration(world: World) -> None:
    """The router holds the very declaration the use case checks (one place decides), and every declaration a use
    case checks has a way to be called here."""
    assert_router_holds(world.router, DECLARED, nothing_else=True)


def test_the_refusals_keep_the_words_people_already_read() -> None:
    """The holds' refusal is the router's general sentence (it names the DPO and the Head Teacher); the others keep
    their own, naming what was refused."""
    assert "Data Protection Officer can do this" in DECLARED[retention.LEGAL_HOLDS].refused_text(RefusalReason.ROLE)
    assert "preview the retention schedule" in DECLARED[retention.RETENTION_PREVIEW].refused_text(RefusalReason.ROLE)
    assert "subject access export" in DECLARED[subject_access.COMMAND].refused_text(RefusalReason.ROLE)
    for name in (erasure.ERASE, erasure.CORRECT, ERASE_CONFIRM_VERB, CORRECT_CONFIRM_VERB):
        assert "erase or correct a person's data" in DECLARED[name].refused_text(RefusalReason.ROLE)


@pytest.mark.parametrize("name", list(CASES_OF))
async def test_a_use_case_called_by_someone_it_does_not_admit_refuses_audits_and_changes_nothing(
    world: World, name: str
) -> None:
    for case in CASES_OF[name]:
        await assert_refused_once(world.database, case, DECLARED[case.name],
                                  direct=lambda who: direct(world, name, who),
                                  routed=lambda who: routed(world, name, who),
                                  record_ref=_record_ref(world, case.name))
        assert world.uploads == []  # a refused sender is never sent the export


async def test_senders_a_declaration_admits_are_not_refused_by_the_use_case_either(world: World) -> None:
    """Through the router, the DPO (and the Head Teacher for legal holds) pass both checks: each request does what
    it asks, and no refusal is written for them."""
    last = await last_entry(world.database)
    dpo, head = actor(Role.DPO), actor(Role.HEAD_TEACHER)

    preview = await routed(world, retention.RETENTION_PREVIEW, dpo)
    assert isinstance(preview, CommandReply) and preview.cards and not preview.texts
    assert "is on legal hold" in said(await routed(world, retention.LEGAL_HOLD, head))
    holds = await routed(world, retention.LEGAL_HOLDS, head)
    assert isinstance(holds, CommandReply) and holds.cards and not holds.texts
    assert "is released" in said(await routed(world, retention.RELEASE_LEGAL_HOLD, dpo))
    assert "record(s) name" in said(await routed(world, subject_access.COMMAND, dpo))
    delivered = await routed(world, subject_access.FILE_CONSENT_INVOKE, dpo)
    assert isinstance(delivered, CommandReply) and delivered.attachments and world.uploads == [UPLOAD]
    erase = await routed(world, erasure.ERASE, dpo)
    assert isinstance(erase, CommandReply) and erase.cards and not erase.texts
    rectify = await routed(world, erasure.CORRECT, dpo)
    assert isinstance(rectify, CommandReply) and rectify.cards and not rectify.texts
    erased = await routed(world, ERASE_CONFIRM_VERB, dpo)
    assert isinstance(erased, ActionResult) and erased.card is not None and erased.message is None
    corrected = await routed(world, CORRECT_CONFIRM_VERB, dpo)
    assert isinstance(corrected, ActionResult) and corrected.card is not None and corrected.message is None

    entries = await entries_after(world.database, last)
    assert [e for e in entries if e.outcome is AuditOutcome.REFUSED] == []
    assert {(e.action, e.outcome) for e in entries} >= {
        (retention.LEGAL_HOLD, AuditOutcome.RECORDED), (retention.RELEASE_LEGAL_HOLD, AuditOutcome.RECORDED),
        (subject_access.COMMAND, AuditOutcome.EXPORTED), (subject_access.CONSENT, AuditOutcome.EXPORTED),
        (erasure.ERASE, AuditOutcome.RECORDED), (erasure.CORRECT, AuditOutcome.RECORDED),
    }


@pytest.mark.parametrize("name", [n for n, access in DECLARED.items() if not access.any_staff])
async def test_when_the_directory_cannot_confirm_a_role_the_use_case_says_so_and_changes_nothing(
    world: World, name: str
) -> None:
    """The DPO is not told they lack a role they hold: the directory is down, so try again later."""
    down = build(world.database, directory_down(), world.seeded)
    entry = await assert_directory_down(world.database, name, actor(Role.DPO), lambda who: direct(down, name, who))
    assert entry.record_ref == _record_ref(world, name) and down.uploads == []
