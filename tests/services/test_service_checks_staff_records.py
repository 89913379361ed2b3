"""Staff records' use cases are the authority wherever they are called from: ``training`` and its form, ``policy
status`` and the "I have read the policy" button, ``close account`` and ``transfer account``.

Each declares who may use it once, beside the code (``services/training.py``, ``services/acknowledgement.py``,
``services/account_register.py``: ``ACCESS``); the router registers that same declaration and each use case checks
it again (``services/audit.py`` ``Gate``). Refused there, a use case answers what the router would, leaves one line in
the audit trail and changes nothing; through the router the same sender is refused once, before the use case. The
cases come from the declarations (``tests/support/service_checks.py``); a declaration without a call here fails.
Both databases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from cards.acknowledgement import ACKNOWLEDGE_VERB, AcknowledgePayload
from cards.replies import ActionResult, CommandReply
from cards.training import TRAINING_SUBMIT_VERB, TrainingPayload
from dialogs.account_register import register_account_register
from dialogs.policy_status import register_policy_status
from dialogs.router import Router
from dialogs.training import register_training
from directory.static import StaticRoleDirectory
from domain.access import Access
from domain.account_register import Ending
from domain.acknowledgement import edition_of
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.policy_help import parse_policy
from domain.roles import Role
from services import account_register, acknowledgement, training
from services.account_register import AccountRegister
from services.acknowledgement import PolicyAcknowledgements
from services.audit import AuditTrail
from services.requests import CardAction, CommandRequest
from services.training import TrainingRecords
from store.approvals import AccountRow, ApprovalRequestRow
from store.db import Database
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
POLICY = """# Social Media Policy

## Staff

- Know the contents of and ensure that any use of social media is carried out in line with this policy.
"""
EDITION = edition_of(parse_policy(POLICY))
TRAINEE = PEOPLE[Role.STAFF]

# Every use case here that checks its callers, by the route name it shares with the router. A declaration missing
# here fails.
DECLARED: dict[str, Access] = {**training.ACCESS, **acknowledgement.ACCESS, **account_register.ACCESS}
TEXTS = {  # a command's message: one that would change a record if it were not refused (or show the list)
    training.COMMAND: f"training {TRAINEE.name} 12/11/2026 Online safety for staff",
    acknowledgement.STATUS_COMMAND: "policy status",
    account_register.CLOSE_ACCOUNT: "close account Year 6 because the class page is not used",
    account_register.TRANSFER_ACCOUNT: "transfer account PTA to the PTA committee because the PTA runs it now",
}
PAYLOADS: dict[str, BaseModel] = {  # a verb's card data
    TRAINING_SUBMIT_VERB: TrainingPayload(person=TRAINEE.aad_object_id, trained_on="2026-11-12",
                                          course="Online safety"),
    ACKNOWLEDGE_VERB: AcknowledgePayload(version=EDITION.version),
}


@dataclass
class World:
    database: Database
    training: TrainingRecords
    acknowledgements: PolicyAcknowledgements
    register: AccountRegister
    router: Router


def build(database: Database, directory: StaticRoleDirectory) -> World:
    trail = AuditTrail(database, clock=lambda: NOW)
    records = TrainingRecords(database, directory, audit=trail, calendar=CALENDAR, clock=lambda: NOW)
    acks = PolicyAcknowledgements(database, directory, edition=EDITION, audit=trail, calendar=CALENDAR,
                                  clock=lambda: NOW)
    register = AccountRegister(database, directory, audit=trail, calendar=CALENDAR, clock=lambda: NOW)
    router = Router(directory=directory, trail=trail)
    register_training(router, records)
    register_policy_status(router, acks)
    register_account_register(router, register)
    return World(database, records, acks, register, router)


@pytest.fixture
async def world(database: Database) -> World:
    # Records a refused command would change: two approved accounts, open in the register.
    async with database.transaction() as session:
        for n, name in ((1, "Year 6"), (2, "PTA")):
            session.add(ApprovalRequestRow(
                id=n, reference=f"ACC-2026-{n:04d}", client_key=f"c{n}", kind="new_account", state="approved",
                round=1, requester_aad=TRAINEE.aad_object_id, requester_name=TRAINEE.name, payload={},
                created_at=NOW - timedelta(30), updated_at=NOW - timedelta(29), decided_at=NOW - timedelta(29)))
            await session.flush()
            session.add(AccountRow(id=n, platform="Facebook", account_name=name, audience="Parents",
                                   visibility="private", approval_request_id=n, approval_reference=f"ACC-2026-{n:04d}",
                                   approved_at=NOW - timedelta(29), approved_by_name=PEOPLE[Role.HEAD_TEACHER].name,
                                   created_at=NOW))
    return build(database, StaticRoleDirectory(PEOPLE.values(), description="test"))


def _command(name: str, who: Actor) -> CommandRequest:
    text = TEXTS[name]
    phrase = next(p for p in command(name).phrases if text.lower().startswith(p))
    return CommandRequest(text, text[len(phrase):].strip(), who)


def _click(verb: str, who: Actor, *, validated: bool = True) -> CardAction:
    """The button as the edge hands it on (``validated``: with the payload the router would have checked)."""
    payload = PAYLOADS[verb]
    return CardAction(verb, payload.model_dump(), who, payload=payload if validated else None)


def direct(world: World, name: str, who: Actor) -> Awaitable[CommandReply | ActionResult]:
    """The use case called as the edge, a worker or a future route would call it: no router in front."""
    calls: dict[str, Callable[[], Awaitable[CommandReply | ActionResult]]] = {
        training.COMMAND: lambda: world.training.command(_command(name, who)),
        TRAINING_SUBMIT_VERB: lambda: world.training.submit(_click(name, who)),
        acknowledgement.STATUS_COMMAND: lambda: world.acknowledgements.status(_command(name, who)),
        ACKNOWLEDGE_VERB: lambda: world.acknowledgements.acknowledge(_click(name, who)),
        account_register.CLOSE_ACCOUNT: lambda: world.register.end(who, Ending.CLOSED, _command(name, who).argument),
        account_register.TRANSFER_ACCOUNT: lambda: world.register.end(who, Ending.TRANSFERRED,
                                                                      _command(name, who).argument),
    }
    assert set(calls) == set(DECLARED), "a use case that checks its callers needs a way to be called here"
    return calls[name]()


async def routed(world: World, name: str, who: Actor) -> CommandReply | ActionResult:
    """The same request through the router (its check first, then the same use case)."""
    if name in PAYLOADS:
        return await world.router.dispatch(_click(name, who, validated=False))
    return await routed_command(world.router, TEXTS[name], who)


CASES = cases(DECLARED)
CASES_OF = cases_by_name(DECLARED)


def test_every_check_a_use_case_makes_is_the_routers_own_declaration(world: World) -> None:
    """The router holds the very declaration the use case checks (one place decides), and every declaration a use
    case checks has a way to be called here."""
    assert_router_holds(world.router, DECLARED, nothing_else=True)


@pytest.mark.parametrize("name", list(CASES_OF))
async def test_a_use_case_called_by_someone_it_does_not_admit_refuses_audits_and_changes_nothing(
    world: World, name: str
) -> None:
    for case in CASES_OF[name]:
        await assert_refused_once(world.database, case, DECLARED[case.name],
                                  direct=lambda who: direct(world, name, who),
                                  routed=lambda who: routed(world, name, who))


async def test_senders_a_declaration_admits_are_not_refused_by_the_use_case_either(world: World) -> None:
    """Through the router, SLT and the Head Teacher (and any member of staff for their own acknowledgement) pass both
    checks: each request does what it asks, and no refusal is written for them."""
    last = await last_entry(world.database)
    slt, head, member = actor(Role.SLT), actor(Role.HEAD_TEACHER), actor(Role.STAFF)

    typed = await routed(world, training.COMMAND, slt)
    assert isinstance(typed, CommandReply) and typed.cards and not typed.texts
    form = await routed(world, TRAINING_SUBMIT_VERB, head)
    assert isinstance(form, ActionResult) and form.card is not None and form.message is None
    status = await routed(world, acknowledgement.STATUS_COMMAND, head)
    assert isinstance(status, CommandReply) and status.cards and not status.texts
    read = await routed(world, ACKNOWLEDGE_VERB, member)
    assert isinstance(read, ActionResult) and read.card is not None and read.message is None
    assert "marked closed" in said(await routed(world, account_register.CLOSE_ACCOUNT, slt))
    assert "transferred to the PTA committee" in said(await routed(world, account_register.TRANSFER_ACCOUNT, head))

    entries = await entries_after(world.database, last)
    assert [e for e in entries if e.outcome is AuditOutcome.REFUSED] == []
    assert {(e.action, e.outcome) for e in entries} == {
        (acknowledgement.STATUS_COMMAND, AuditOutcome.VIEWED),
        (account_register.CLOSE_ACCOUNT, AuditOutcome.RECORDED),
        (account_register.TRANSFER_ACCOUNT, AuditOutcome.RECORDED),
    }


@pytest.mark.parametrize("name", [n for n, access in DECLARED.items() if not access.any_staff])
async def test_when_the_directory_cannot_confirm_a_role_the_use_case_says_so_and_changes_nothing(
    database: Database, name: str
) -> None:
    """The Head Teacher is not told she lacks a role she holds: the directory is down, so try again later."""
    world = build(database, directory_down())
    await assert_directory_down(database, name, actor(Role.HEAD_TEACHER), lambda who: direct(world, name, who))
