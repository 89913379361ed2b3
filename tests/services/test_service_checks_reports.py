"""The dashboard and the governors' report are the authority wherever they are called from: refused there, they answer
what the router would and leave one line in the audit trail; through the router the same sender is refused once.

``dashboard`` and its period chooser (``services/dashboard.py`` ``ACCESS``), ``governors report`` and the file
consent that delivers it (``services/governors_report.py`` ``ACCESS``) declare who may use them once; the router
registers those same declarations (``dialogs/dashboard.py``) and each use case checks its own again
(``services/audit.py`` ``Gate``). The cases come from the declarations (``tests/support/service_checks.py``): every
role a declaration does not admit, and each way in (all personal-chat only) used from a channel. The database holds
the hand-counted dataset (``tests/support/dashboard_world.py``, its photo checks not yet counted per day, which the
dashboard would write) and a governors' report the Head Teacher asked for, so a refused request has something it
could change. Both databases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from cards.dashboard import PERIOD_VERB
from cards.replies import ActionResult, CommandReply
from dialogs.dashboard import FILE_CONSENT_INVOKE, register_dashboard
from dialogs.router import InvokeRequest, Router
from directory.static import StaticRoleDirectory
from domain.access import Access
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.roles import Role, RoleDirectory
from services import dashboard, governors_report
from services.audit import AuditTrail
from services.dashboard import Dashboard
from services.governors_report import CONTEXT_KEY, GovernorsReports
from services.requests import CardAction, CommandRequest
from store import dashboard as store
from store.db import Database
from tests.support.dashboard_world import NOW, seed
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

UPLOAD_URL = "https://onedrive.example/upload"

# Every way in to the figures, by the route name it shares with the router, with its declaration. A declaration
# missing here (a new way in) fails the test that the router holds them all.
DECLARED: dict[str, Access] = {**dashboard.ACCESS, **governors_report.ACCESS}
TEXTS = {  # a command's message
    dashboard.COMMAND: "dashboard last term",
    governors_report.COMMAND: "governors report",
}


@dataclass
class World:
    database: Database
    dashboard: Dashboard
    governors: GovernorsReports
    router: Router
    report_id: int  # the Head Teacher's report, made before the test
    uploads: list[tuple[str, bytes]]  # what reached an upload URL


async def build(database: Database, directory: RoleDirectory) -> World:
    async with database.transaction() as session:
        await seed(session)
        report_id = await store.save_report(session, store.GovernorsReportRow(
            reference="GOV-20261201-001", period_title="Autumn term 2026", period_start=NOW, period_end=NOW,
            generated_at=NOW, generated_by_aad=PEOPLE[Role.HEAD_TEACHER].aad_object_id,
            generated_by_role=Role.HEAD_TEACHER.value, figures={}, summary="", file_name="GOV-20261201-001.pdf",
            content=b"%PDF-1.4 the report", size=19))
    uploads: list[tuple[str, bytes]] = []

    async def upload(url: str, content: bytes) -> None:
        uploads.append((url, content))

    trail = AuditTrail(database, clock=lambda: NOW)
    router = Router(directory=directory, trail=trail)
    world = World(database, Dashboard(database, directory, audit=trail, clock=lambda: NOW),
                  GovernorsReports(database, directory, audit=trail, uploader=upload, school_name="Holy Trinity",
                                   clock=lambda: NOW),
                  router, report_id, uploads)
    register_dashboard(router, world.dashboard, world.governors)
    return world


@pytest.fixture
async def world(database: Database) -> World:
    return await build(database, StaticRoleDirectory(PEOPLE.values(), description="test"))


def _consent(world: World, action: str = "accept") -> dict[str, Any]:
    """The file consent card's answer for the Head Teacher's report (its context names it)."""
    return {"type": "fileUpload", "action": action, "context": {CONTEXT_KEY: world.report_id},
            "uploadInfo": {"uploadUrl": UPLOAD_URL, "name": "GOV-20261201-001.pdf"}}


def _answered(body: Mapping[str, Any]) -> CommandReply:
    """An invoke's answer as the chat shows it (``bot/handler.py``): the texts sent, or the router's task message."""
    send = body.get("send") if isinstance(body.get("send"), Mapping) else {}
    task = body.get("task") if isinstance(body.get("task"), Mapping) else {}
    assert isinstance(send, Mapping) and isinstance(task, Mapping)
    texts = list(send.get("texts") or []) + ([task["value"]] if isinstance(task.get("value"), str) else [])
    return CommandReply(texts=texts, attachments=list(send.get("attachments") or []))


def _command(name: str, who: Actor) -> CommandRequest:
    text = TEXTS[name]
    return CommandRequest(text, text.split(" ", 1)[1] if name == dashboard.COMMAND else "", who)


async def direct(world: World, name: str, who: Actor) -> Reply:
    """The use case called as the edge, a worker or a future route would call it: no router in front."""
    calls: dict[str, Callable[[], Awaitable[Reply]]] = {
        dashboard.COMMAND: lambda: world.dashboard.command(_command(name, who)),
        PERIOD_VERB: lambda: world.dashboard.on_period(CardAction(PERIOD_VERB, {"period": "last_term"}, who)),
        governors_report.COMMAND: lambda: world.governors.request(who, ""),
        governors_report.CONSENT: lambda: _consented(world, who),
    }
    assert set(calls) == set(DECLARED), "a use case that checks its callers needs a way to be called here"
    return await calls[name]()


async def _consented(world: World, who: Actor) -> CommandReply:
    """The file consent answered straight to the use case, as the chat would show its outcome."""
    outcome = await world.governors.consent(who, _consent(world))
    return CommandReply(texts=outcome.texts, attachments=outcome.attachments)


async def routed(world: World, name: str, who: Actor) -> Reply:
    """The same request through the router (its check first, then the same use case)."""
    if name == PERIOD_VERB:
        return await world.router.dispatch(CardAction(PERIOD_VERB, {"period": "last_term"}, who))
    if name == governors_report.CONSENT:
        return _answered(await world.router.invoke(InvokeRequest(FILE_CONSENT_INVOKE, _consent(world), who)))
    return await routed_command(world.router, TEXTS[name], who)


CASES = cases(DECLARED)
CASES_OF = cases_by_name(DECLARED)


def test_the_router_holds_the_very_declaration_each_use_case_checks(world: World) -> None:
    """One place decides: the router's declaration of each way in to the figures is the service's own object, and
    every way in that ``dialogs/dashboard.py`` registers is one of them."""
    assert_router_holds(world.router, DECLARED, nothing_else=True)


def test_each_declaration_says_who_the_policy_names() -> None:
    """SLT, the Head Teacher and the DSL see the dashboard; the Head Teacher and the Chair make and receive the
    governors' report; all of it only in the personal chat."""
    viewers = frozenset({Role.SLT, Role.HEAD_TEACHER, Role.DSL})
    governors = frozenset({Role.HEAD_TEACHER, Role.CHAIR_OF_GOVERNORS})
    assert {name: (access.roles, access.personal_only) for name, access in DECLARED.items()} == {
        dashboard.COMMAND: (viewers, True), PERIOD_VERB: (viewers, True),
        governors_report.COMMAND: (governors, True), governors_report.CONSENT: (governors, True)}


@pytest.mark.parametrize("name", list(CASES_OF))
async def test_a_use_case_called_by_someone_it_does_not_admit_refuses_audits_and_changes_nothing(
    world: World, name: str
) -> None:
    for case in CASES_OF[name]:
        await assert_refused_once(world.database, case, DECLARED[case.name],
                                  direct=lambda who: direct(world, name, who),
                                  routed=lambda who: routed(world, name, who))
        assert world.uploads == []  # a refused sender is never sent the file


async def test_someone_a_declaration_admits_is_not_refused_by_the_use_case_either(world: World) -> None:
    """Through the router, each admitted sender passes both checks: no refusal is written for them."""
    last = await last_entry(world.database)

    shown = await routed(world, dashboard.COMMAND, actor(Role.SLT))
    assert isinstance(shown, CommandReply) and shown.cards and not shown.texts
    chosen = await routed(world, PERIOD_VERB, actor(Role.DSL))
    assert isinstance(chosen, ActionResult) and chosen.card is not None and chosen.message is None
    made = await routed(world, governors_report.COMMAND, actor(Role.CHAIR_OF_GOVERNORS))
    assert isinstance(made, CommandReply) and made.attachments
    delivered = await routed(world, governors_report.CONSENT, actor(Role.HEAD_TEACHER))
    assert isinstance(delivered, CommandReply) and delivered.attachments
    assert world.uploads == [(UPLOAD_URL, b"%PDF-1.4 the report")]

    entries = await entries_after(world.database, last)
    assert [e for e in entries if e.outcome is AuditOutcome.REFUSED] == []
    assert {(e.action, e.outcome) for e in entries} == {
        (dashboard.COMMAND, AuditOutcome.VIEWED), (PERIOD_VERB, AuditOutcome.VIEWED),
        (governors_report.COMMAND, AuditOutcome.EXPORTED), (governors_report.CONSENT, AuditOutcome.EXPORTED),
    }


async def test_the_record_still_decides_who_receives_the_file(world: World) -> None:
    """The Chair of Governors passes the declaration, but the Head Teacher asked for this report: refused by the
    record (``not_requester``), once, and nothing is sent."""
    last = await last_entry(world.database)

    answer = await routed(world, governors_report.CONSENT, actor(Role.CHAIR_OF_GOVERNORS))

    assert said(answer) == "Only the person who asked for this report can receive it. Nothing was sent."
    [entry] = await entries_after(world.database, last)
    assert (entry.action, entry.reason, entry.record_ref) == (governors_report.CONSENT, "not_requester",
                                                              "GOV-20261201-001")
    assert world.uploads == []


@pytest.mark.parametrize("name", list(DECLARED))
async def test_when_the_directory_cannot_confirm_a_role_the_use_case_says_so_and_changes_nothing(
    database: Database, name: str
) -> None:
    """The Head Teacher is not told she lacks a role she holds: the directory is down, so try again later."""
    world = await build(database, directory_down())
    await assert_directory_down(database, name, actor(Role.HEAD_TEACHER), lambda who: direct(world, name, who))
    assert world.uploads == []
