"""The approvals commands that only some may use, and the KCSIE safeguarding record, are the authority wherever they
are called from: refused there, they answer what the router would and leave one line in the audit trail; through the
router the same sender is refused once.

``delegate``, ``end delegation`` and ``approvals`` (``services/approvals.py`` ``DELEGATE``, ``END_DELEGATION``,
``APPROVALS``), the safeguarding record's verbs and its file's consent (``services/safeguarding_record.py``
``RECORD_ACCESS``, ``RECORD_FILE_ACCESS``) declare who may use them once; the router registers those same declarations
(``dialogs/approvals.py``, ``dialogs/safeguarding_record.py``) and each use case checks its own again
(``services/audit.py`` ``Gate``). The cases come from the declarations (``tests/support/service_checks.py``): every
role a declaration does not admit, and each way in (all personal-chat only) used from a channel. The database holds
what a refused request could change: a pending request, a delegation running, a safeguarding report and a record's
PDF waiting for its exporter to accept it. The checks on the record itself stay the use cases' own (a deputy decides
only while a delegation runs; only the exporter receives the file). Both databases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from cards.replies import ActionResult, CommandReply
from cards.safeguarding_record import RECORD_EXPORT_CONTEXT
from cards.safeguarding_record import Verb as RecordVerb
from dialogs.approvals import register_approvals
from dialogs.incidents import HANDLERS, register_incidents
from dialogs.router import InvokeRequest, Router
from dialogs.safeguarding_record import register_safeguarding_record
from directory.static import StaticRoleDirectory
from domain.access import Access, RefusalReason
from domain.actors import Actor
from domain.audit import AuditOutcome, RecordType
from domain.incidents import Category, ReportDetails, Urgency
from domain.roles import Role, RoleDirectory
from domain.subject_access import EXPORT_LIFETIME
from services import approvals, safeguarding_record
from services.approvals import ApprovalDesk
from services.audit import AuditTrail
from services.incidents import IncidentSettings
from services.requests import CardAction, CommandRequest
from services.safeguarding_record import (
    FILE_CONSENT,
    FILE_CONSENT_INVOKE,
    RECORD_ACCESS,
    RECORD_FILE_ACCESS,
    SafeguardingRecord,
)
from store import approvals as approval_store
from store import exports
from store import incidents as records
from store import safeguarding_record as record_store
from store.base import utcnow
from store.conversations import ConversationStore
from store.db import Database
from tests.support import approvals as approvals_support
from tests.support.service_checks import (
    PEOPLE,
    Reply,
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

HEAD, DEPUTY, DSL = PEOPLE[Role.HEAD_TEACHER], PEOPLE[Role.DEPUTY], PEOPLE[Role.DSL]
EXPORT_ID = "export-of-the-dsl"
FILE_NAME = "INC-2026-0001-safeguarding-record.pdf"
UPLOAD_URL = "https://onedrive.example/upload/1"
_RECORD_VERBS = {verb.value: verb for verb in RecordVerb}

# Every role-restricted way in of the approvals desk and the safeguarding record, by the route name it shares with
# the router, with its declaration. A declaration missing here (a new way in) fails the test that the router holds
# them all.
DECLARED: dict[str, Access] = {
    approvals.DELEGATE_COMMAND: approvals.DELEGATE,
    approvals.END_DELEGATION_COMMAND: approvals.END_DELEGATION,
    approvals.APPROVALS_COMMAND: approvals.APPROVALS,
    **{verb: RECORD_ACCESS for verb in _RECORD_VERBS},
    FILE_CONSENT: RECORD_FILE_ACCESS,
}
UNTIL = (utcnow() + timedelta(days=3)).date().isoformat()  # the delegation typed: a date after today
TEXTS = {  # a command's message
    approvals.DELEGATE_COMMAND: f"delegate to {DEPUTY.name} until {UNTIL}",
    approvals.END_DELEGATION_COMMAND: "end delegation",
    approvals.APPROVALS_COMMAND: "approvals",
}
DATA: dict[str, dict[str, Any]] = {  # a verb's card data: each names the safeguarding report (id 1)
    RecordVerb.DECISION.value: {"incident": 1, "decision": "Monitor", "decision_reason": "Low risk."},
    RecordVerb.REFERRAL_OUTCOME.value: {"incident": 1, "referral": 1, "referral_outcome": "Closed by the MASH."},
    RecordVerb.EXPORT.value: {"incident": 1},
    RecordVerb.TRANSFERRED.value: {"incident": 1, "transfer_system": "CPOMS", "transfer_reference": "C1"},
    RecordVerb.ADD_PUPIL.value: {"incident": 1, "pupil": "Cara Dunn"},
}


@dataclass
class World:
    database: Database
    desk: ApprovalDesk
    record: SafeguardingRecord
    router: Router
    uploads: list[tuple[str, bytes]]  # what reached an upload URL


async def build(database: Database, directory: RoleDirectory) -> World:
    """The desk (with both kinds of request) and the safeguarding record on one router, and what they could change."""
    uploads: list[tuple[str, bytes]] = []

    async def upload(url: str, content: bytes) -> None:
        uploads.append((url, content))

    trail = AuditTrail(database)
    router = Router(directory=directory, trail=trail)
    built = approvals_support.with_photo_exceptions(approvals_support.wiring(database, directory_=directory))
    register_approvals(router, built.desk)
    incidents = register_incidents(router, database=database, directory=directory,
                                   conversations=ConversationStore(database), settings=IncidentSettings(), trail=trail)
    record = SafeguardingRecord(incidents, database, directory=directory, trail=trail, uploader=upload)
    register_safeguarding_record(router, record)

    await approvals_support.submit_photo_exception(built)  # a request waiting for a decision
    now = utcnow()
    details = ReportDetails(category=Category.PUPIL_SAFETY, what_happened="A man on TikTok asked Amy for her address.",
                            child_words="He said I'm pretty", pupils="Amy Lee")
    reporter = records.Person(PEOPLE[Role.STAFF].aad_object_id, PEOPLE[Role.STAFF].name)
    async with database.transaction() as session:
        await approval_store.create_delegation(  # the Head Teacher away: her deputy decides for her
            session, head_aad=HEAD.aad_object_id, head_name=HEAD.name, deputy_aad=DEPUTY.aad_object_id,
            deputy_name=DEPUTY.name, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2), now=now)
        incident = await records.create_incident(
            session, details=details, reporter=reporter, submission_key="staff:1", year=2026, urgency=Urgency.URGENT,
            received_at=now, escalate_due_at=None, screenshots_until=None)
        await record_store.save_report_parts(session, incident.id, details, reporter, now)
        await exports.save_export(session, export_id=EXPORT_ID, dpo_aad=DSL.aad_object_id.lower(), file_name=FILE_NAME,
                                  content=b"%PDF-1.4 the record", now=now, expires_at=now + EXPORT_LIFETIME)
    assert incident.id == 1
    return World(database, built.desk, record, router, uploads)


@pytest.fixture
async def world(database: Database) -> World:
    return await build(database, StaticRoleDirectory(PEOPLE.values(), description="test"))


def _consent(action: str = "accept") -> dict[str, Any]:
    """The file consent card's answer for the DSL's export of the record (its context names it)."""
    return {"type": "fileUpload", "action": action, "context": {RECORD_EXPORT_CONTEXT: EXPORT_ID},
            "uploadInfo": {"uploadUrl": UPLOAD_URL, "name": FILE_NAME}}


def _answered(body: Mapping[str, Any]) -> CommandReply:
    """An invoke's answer as the chat shows it (``bot/handler.py``): the texts sent, or the router's task message."""
    send = body.get("send") if isinstance(body.get("send"), Mapping) else {}
    task = body.get("task") if isinstance(body.get("task"), Mapping) else {}
    assert isinstance(send, Mapping) and isinstance(task, Mapping)
    texts = list(send.get("texts") or []) + ([task["value"]] if isinstance(task.get("value"), str) else [])
    return CommandReply(texts=texts, attachments=list(send.get("attachments") or []))


def _command(world: World, name: str, who: Actor) -> CommandRequest:
    matched = world.router.match_command(TEXTS[name])
    assert matched is not None, name
    return CommandRequest(TEXTS[name], matched[1], who)


def _click(verb: str, who: Actor) -> CardAction:
    return CardAction(verb, dict(DATA[verb]), who)


async def _consented(world: World, who: Actor, action: str = "accept") -> CommandReply:
    """The file consent answered straight to the use case, as the chat would show its outcome."""
    outcome = await world.record.consent(who, _consent(action))
    return CommandReply(texts=outcome.texts, attachments=outcome.attachments)


async def direct(world: World, name: str, who: Actor) -> Reply:
    """The use case called as the edge, a worker or a future route would call it: no router in front."""
    desk, record = world.desk, world.record
    verbs: dict[RecordVerb, Callable[[CardAction], Awaitable[ActionResult]]] = {
        RecordVerb.DECISION: record.on_decision, RecordVerb.REFERRAL_OUTCOME: record.on_referral_outcome,
        RecordVerb.EXPORT: record.on_export, RecordVerb.TRANSFERRED: record.on_transferred,
        RecordVerb.ADD_PUPIL: record.on_add_pupil,
    }
    calls: dict[str, Callable[[], Awaitable[Reply]]] = {
        approvals.DELEGATE_COMMAND: lambda: desk.delegate(_command(world, name, who)),
        approvals.END_DELEGATION_COMMAND: lambda: desk.end_delegation(_command(world, name, who)),
        approvals.APPROVALS_COMMAND: lambda: desk.pending_for_decider(_command(world, name, who)),
        **{verb: (lambda verb=verb: verbs[_RECORD_VERBS[verb]](_click(verb, who))) for verb in _RECORD_VERBS},
        FILE_CONSENT: lambda: _consented(world, who),
    }
    assert set(calls) == set(DECLARED), "a use case that checks its callers needs a way to be called here"
    return await calls[name]()


async def routed(world: World, name: str, who: Actor, consent: str = "accept") -> Reply:
    """The same request through the router (its check first, then the same use case)."""
    if name in DATA:
        return await world.router.dispatch(_click(name, who))
    if name == FILE_CONSENT:
        return _answered(await world.router.invoke(InvokeRequest(FILE_CONSENT_INVOKE, _consent(consent), who)))
    return await routed_command(world.router, TEXTS[name], who)


CASES = cases(DECLARED)
CASES_OF = cases_by_name(DECLARED)


def test_the_router_holds_the_very_declaration_each_use_case_checks(world: World) -> None:
    """One place decides: the router's declaration of each of these ways in is the service's own object, and every
    role-restricted way in that ``dialogs/approvals.py`` and ``dialogs/safeguarding_record.py`` register is one of
    them."""
    assert_router_holds(world.router, DECLARED)

    alone = Router(directory=StaticRoleDirectory(PEOPLE.values(), description="test"), trail=AuditTrail(world.database))
    register_approvals(alone, world.desk)
    register_safeguarding_record(alone, world.record)
    assert {d.name for d in alone.declarations() if not d.access.any_staff} == set(DECLARED)


def test_each_declaration_says_who_the_policy_names() -> None:
    """The Head Teacher alone delegates; she and her deputies list what waits (a deputy decides only while a delegation
    runs: the desk checks that); the record is for everyone who handles some kind of report, as the handling buttons
    are. All of it only in the personal chat."""
    assert RECORD_ACCESS.roles == RECORD_FILE_ACCESS.roles == safeguarding_record.RECORD_HANDLERS == HANDLERS
    head = frozenset({Role.HEAD_TEACHER})
    assert {name: (access.roles, access.personal_only, access.record) for name, access in DECLARED.items()} == {
        approvals.DELEGATE_COMMAND: (head, True, RecordType.DELEGATION),
        approvals.END_DELEGATION_COMMAND: (head, True, RecordType.DELEGATION),
        approvals.APPROVALS_COMMAND: (head | {Role.DEPUTY}, True, RecordType.APPROVAL_REQUEST),
        **{verb: (HANDLERS, True, RecordType.INCIDENT) for verb in _RECORD_VERBS},
        FILE_CONSENT: (HANDLERS, True, RecordType.INCIDENT)}


@pytest.mark.parametrize("name", list(CASES_OF))
async def test_a_use_case_called_by_someone_it_does_not_admit_refuses_audits_and_changes_nothing(
    world: World, name: str
) -> None:
    for case in CASES_OF[name]:
        await assert_refused_once(world.database, case, DECLARED[case.name],
                                  direct=lambda who: direct(world, name, who),
                                  routed=lambda who: routed(world, name, who),
                                  record_ref="1" if case.name in DATA else None)
        assert world.uploads == []  # a refused sender is never sent the file


async def test_someone_a_declaration_admits_is_not_refused_by_the_use_case_either(world: World) -> None:
    """Through the router, each admitted sender passes both checks: no refusal is written for them."""
    last = await last_entry(world.database)

    for role in (Role.DEPUTY, Role.HEAD_TEACHER):  # the deputy acting for the Head Teacher, and the Head Teacher
        waiting = await routed(world, approvals.APPROVALS_COMMAND, actor(role))
        assert isinstance(waiting, CommandReply) and waiting.cards, role  # the request, with its buttons
    delegated = await routed(world, approvals.DELEGATE_COMMAND, actor(Role.HEAD_TEACHER))
    assert isinstance(delegated, CommandReply) and delegated.cards
    ended = await routed(world, approvals.END_DELEGATION_COMMAND, actor(Role.HEAD_TEACHER))
    assert said(ended).startswith(f"Delegation to {DEPUTY.name} ended.")
    decided = await routed(world, RecordVerb.DECISION.value, actor(Role.DSL))
    assert isinstance(decided, ActionResult) and decided.card is not None
    assert said(decided) == "Recorded: the decision and its reason are in the chronology."
    declined = await routed(world, FILE_CONSENT, actor(Role.DSL), consent="decline")
    assert said(declined) == f"{FILE_NAME} was not sent and has been removed."

    entries = await entries_after(world.database, last)
    assert [e for e in entries if e.outcome is AuditOutcome.REFUSED] == []
    assert world.uploads == []


async def test_the_record_still_decides_who_receives_the_file_and_whether_a_deputy_decides_now(world: World) -> None:
    """Past the declaration, the use case's own checks on the record stay: the Head Teacher handles reports, but the
    DSL exported this file (``not_requester``); a deputy lists nothing once the delegation has ended
    (``not_a_decider``). Each refused once, nothing sent."""
    last = await last_entry(world.database)
    answer = await routed(world, FILE_CONSENT, actor(Role.HEAD_TEACHER))
    assert said(answer) == "Only the person who exported this record can receive it. Nothing was sent."
    [entry] = await entries_after(world.database, last)
    assert (entry.action, entry.reason, entry.record_ref) == (safeguarding_record.CONSENT, "not_requester",
                                                              "INC-2026-0001")
    assert world.uploads == []

    await routed(world, approvals.END_DELEGATION_COMMAND, actor(Role.HEAD_TEACHER))
    last = await last_entry(world.database)
    answer = await routed(world, approvals.APPROVALS_COMMAND, actor(Role.DEPUTY))
    assert said(answer) == approvals.APPROVALS.refused_text(RefusalReason.ROLE)
    [entry] = await entries_after(world.database, last)
    assert (entry.action, entry.reason, entry.record_type) == (approvals.APPROVALS_COMMAND, "not_a_decider",
                                                               RecordType.NONE)


@pytest.mark.parametrize("name", list(DECLARED))
async def test_when_the_directory_cannot_confirm_a_role_the_use_case_says_so_and_changes_nothing(
    database: Database, name: str
) -> None:
    """The Head Teacher is not told she lacks a role she holds: the directory is down, so try again later."""
    world = await build(database, directory_down())
    await assert_directory_down(database, name, actor(Role.HEAD_TEACHER), lambda who: direct(world, name, who))
    assert world.uploads == []
