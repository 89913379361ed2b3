"""Closing or transferring a school account (policy: Administrator / Moderator, "closing or transferring"), on SQLite
and PostgreSQL: the Head Teacher and SLT record it with a reason and a date; the register shows it closed; the photo
check no longer offers it; no hand-over alert; anyone else is refused and audited; the retention schedule removes it
6 years after it closed, and then its approved request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cards.accounts import account_register_card
from directory.static import StaticRoleDirectory
from domain.access import RefusalReason
from domain.account_register import ClosureCommandError, Ending, parse_closure
from domain.accounts import check_handover
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.calendar import SchoolCalendar
from domain.retention import RecordKind, build_schedule
from services.account_register import AccountRegister
from services.audit import AuditTrail
from services.retention import Retention
from store import account_register as register_store
from store import audit as audit_store
from store.approvals import (
    AccountAdministratorRow,
    AccountClosureRow,
    AccountRow,
    ApprovalRequestRow,
    registered_account_names,
)
from store.db import Database
from store.retention import TombstoneRow
from tests.support.cardtext import card_texts
from tests.support.incidents_world import ANNA, JO, LEE, PRIYA, ROLES_FILE, SAM, TOM, Who

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
CALENDAR = SchoolCalendar()


def actor(who: Who, kind: str = "personal") -> Actor:
    return Actor(who.aad, who.name, who.teams_id, f"a:{who.teams_id}", kind)


def register(database: Database, now: datetime = NOW) -> AccountRegister:
    return AccountRegister(database, StaticRoleDirectory.from_file(ROLES_FILE), audit=AuditTrail(database),
                           calendar=CALENDAR, clock=lambda: now)


async def seed(database: Database) -> None:
    async with database.transaction() as session:
        for n, name in ((1, "Year 6"), (2, "PTA")):
            session.add(ApprovalRequestRow(
                id=n, reference=f"ACC-2026-{n:04d}", client_key=f"c{n}", kind="new_account", state="approved",
                round=1, requester_aad=SAM.aad, requester_name=SAM.name, payload={}, created_at=NOW - timedelta(30),
                updated_at=NOW - timedelta(29), decided_at=NOW - timedelta(29)))
            await session.flush()
            session.add(AccountRow(id=n, platform="Facebook", account_name=name, audience="Parents",
                                   visibility="private", approval_request_id=n, approval_reference=f"ACC-2026-{n:04d}",
                                   approved_at=NOW - timedelta(29), approved_by_name=ANNA.name, created_at=NOW))
            await session.flush()
            for who in (SAM, LEE):
                session.add(AccountAdministratorRow(account_id=n, aad_object_id=who.aad, name=who.name,
                                                    training="confirmed"))


async def test_the_head_teacher_closes_an_account_and_it_is_no_longer_offered(database: Database) -> None:
    await seed(database)
    reply = await register(database).end(actor(ANNA), Ending.CLOSED, "Year 6 because the class page is not used")
    assert "marked closed" in reply.texts[0]
    async with database.sessions() as session:
        assert await registered_account_names(session) == ["PTA"]  # the photo check offers open accounts only
        accounts = {a.account_name: a for a in await register_store.accounts_with_closures(session)}
        [entry] = await audit_store.recent(session, limit=1)
    closure = accounts["Year 6"].closure
    assert closure is not None and (closure.how, closure.reason, closure.closed_on) == (
        "closed", "the class page is not used", date(2026, 11, 3))
    assert accounts["PTA"].is_open
    assert (entry.action, entry.outcome, entry.record_ref) == ("close_account", AuditOutcome.RECORDED, "ACC-2026-0001")
    card = account_register_card([check_handover(a, []) for a in accounts.values()], show_handover=True,
                                 calendar=CALENDAR).to_dict()
    texts = card_texts(card)
    assert "Closed or transferred" in texts and "1 account needs a hand-over" in texts  # PTA only: its admins left


async def test_slt_transfer_an_account_with_a_date_and_a_second_closure_changes_nothing(database: Database) -> None:
    await seed(database)
    service = register(database)
    reply = await service.end(actor(PRIYA), Ending.TRANSFERRED,
                              "ACC-2026-0002 to the PTA committee on 01/11/2026 because the PTA runs it now")
    assert "transferred to the PTA committee" in reply.texts[0]
    again = await service.end(actor(ANNA), Ending.CLOSED, "PTA because gone")
    assert "already transferred" in again.texts[0]
    async with database.sessions() as session:
        [row] = list(await session.scalars(select(AccountClosureRow)))
    assert (row.how, row.transferred_to, row.closed_on, row.recorded_by_aad) == (
        "transferred", "the PTA committee", date(2026, 11, 1), PRIYA.aad)


@pytest.mark.parametrize("who,kind", [(SAM, "personal"), (TOM, "personal"), (JO, "personal")])
async def test_closing_is_refused_to_anyone_but_the_head_teacher_and_slt(database: Database, who: Who,
                                                                         kind: str) -> None:
    await seed(database)
    if who is TOM:  # Tom is the DSL and SLT: he may; a member of staff may not
        who = LEE
    reply = await register(database).end(actor(who, kind), Ending.CLOSED, "Year 6 because no")
    assert "Only the Head Teacher and SLT" in reply.texts[0]
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AccountClosureRow)) == 0
        [entry] = await audit_store.recent(session, limit=1)
    assert (entry.action, entry.outcome, entry.actor_aad, entry.reason) == (
        "close_account", AuditOutcome.REFUSED, who.aad, RefusalReason.ROLE.value)


@pytest.mark.parametrize(("how", "typed", "problem"), [
    (Ending.CLOSED, "Year 6", "because"),
    (Ending.CLOSED, "Year 6 on 31/12/2099 because later", "in the future"),
    (Ending.CLOSED, "Year 6 on 31/02/2026 because x", "can't read the date"),
    (Ending.TRANSFERRED, "Year 6 because x", "**to**"),
])
def test_a_closure_as_typed_is_checked(how: Ending, typed: str, problem: str) -> None:
    with pytest.raises(ClosureCommandError, match=problem.replace("*", r"\*")):
        parse_closure(how, typed, today=date(2026, 11, 3))


async def test_the_retention_run_removes_a_closed_account_six_years_on_then_its_request(database: Database) -> None:
    await seed(database)
    await register(database).end(actor(ANNA), Ending.CLOSED, "Year 6 because the class page is not used")

    def run_at(moment: datetime) -> Retention:
        return Retention(database, StaticRoleDirectory.from_file(ROLES_FILE), schedule=build_schedule(),
                         calendar=CALENDAR, clock=lambda: moment)

    soon = await run_at(NOW + timedelta(days=365 * 5)).run()
    assert not [i for i in soon.plan.items if i.kind is RecordKind.CLOSED_ACCOUNTS]
    later = run_at(NOW + timedelta(days=365 * 6 + 2))
    first = await later.run()
    assert [i.ids for i in first.plan.items if i.kind is RecordKind.CLOSED_ACCOUNTS] == [(1,)]
    second = await later.run()  # the approved request is no longer in the register: account_requests removes it
    assert [i.reference for i in second.plan.items if i.kind is RecordKind.ACCOUNT_REQUESTS] == ["ACC-2026-0001"]
    async with database.sessions() as session:
        assert [a.account_name for a in await register_store.accounts_with_closures(session)] == ["PTA"]
        assert await session.scalar(select(func.count()).select_from(AccountAdministratorRow)) == 2
        kinds = set(await session.scalars(select(TombstoneRow.record_kind)))
    assert {"closed_accounts", "account_requests"} <= kinds
