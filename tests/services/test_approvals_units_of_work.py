"""Each approvals and accounts use case opens at most one writing unit of work, and never asks the directory
while a unit of work is open (a slow directory must not hold a transaction, or SQLite's write lock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cards.accounts import ACCOUNT_DISCARD_DRAFT_VERB, ACCOUNT_SAVE_DRAFT_VERB, ACCOUNT_SUBMIT_VERB
from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_EDIT_VERB, APPROVAL_REFRESH_VERB, APPROVAL_WITHDRAW_VERB
from domain.approvals import ApprovalState
from domain.roles import Person as DirectoryPerson
from domain.roles import Role, RoleDirectory, RoleLookup
from services.accounts import AccountsWiring
from services.requests import CommandRequest
from store import approvals as store
from store.db import Database
from tests.support.approvals import (
    ANNA,
    LEE,
    PRIYA,
    SAM,
    TUESDAY_10AM,
    FakeClock,
    Person,
    card_text,
    case_values,
    click,
    directory,
    save_chat,
    wiring,
)

SERVICE_URL = "http://127.0.0.1:9/connector"  # nothing is delivered in these tests
FORM = "7" * 32


class CountingDatabase(Database):
    """The database, counting the units of work each use case opens."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.opened: list[str] = []
        self.open_now = 0

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        self.opened.append("read" if read_only else "write")
        self.open_now += 1
        try:
            async with super().unit_of_work(read_only=read_only) as session:
                yield session
        finally:
            self.open_now -= 1


class WatchedDirectory:
    """The role directory, noting any question asked while a unit of work is open."""

    def __init__(self, inner: RoleDirectory, database: CountingDatabase) -> None:
        self._inner = inner
        self._database = database
        self.asked_inside: list[str] = []

    def _note(self, what: str) -> None:
        if self._database.open_now:
            self.asked_inside.append(what)

    async def roles_of(self, aad_object_id: str) -> RoleLookup:
        self._note("roles_of")
        return await self._inner.roles_of(aad_object_id)

    async def holders_of(self, role: Role) -> list[DirectoryPerson]:
        self._note("holders_of")
        return await self._inner.holders_of(role)

    async def is_in_directory(self, aad_object_id: str) -> bool:
        self._note("is_in_directory")
        return await self._inner.is_in_directory(aad_object_id)

    def describe(self) -> str:
        return self._inner.describe()


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[CountingDatabase]:
    db = CountingDatabase(sqlite_url)
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TUESDAY_10AM)


@pytest.fixture
def watched(database: CountingDatabase) -> WatchedDirectory:
    return WatchedDirectory(directory(), database)


@pytest.fixture
async def built(database: CountingDatabase, clock: FakeClock, watched: WatchedDirectory) -> AccountsWiring:
    desk_wiring = wiring(database, clock, directory_=watched)
    for person in (SAM, LEE, ANNA, PRIYA):
        await save_chat(desk_wiring.desk._conversations, person, SERVICE_URL)  # noqa: SLF001 - test set-up
    return desk_wiring


async def units_of(database: CountingDatabase, watched: WatchedDirectory,
                   use_case: Callable[[], Awaitable[Any]]) -> tuple[list[str], Any]:
    """The units of work one use case opened (in order), and what it returned."""
    database.opened.clear()
    result = await use_case()
    assert watched.asked_inside == [], "the directory was asked inside a unit of work"
    return list(database.opened), result


def command(person: Person, text: str, argument: str = "") -> CommandRequest:
    return CommandRequest(text=text, argument=argument, actor=person.actor())


async def test_the_form_and_its_request_each_write_once(
    built: AccountsWiring, database: CountingDatabase, watched: WatchedDirectory
) -> None:
    accounts = built.accounts
    opened, _ = await units_of(database, watched, lambda: accounts.start(command(SAM, "new account")))
    assert opened.count("write") == 0
    opened, result = await units_of(database, watched, lambda: accounts.save_draft(
        click(SAM, ACCOUNT_SAVE_DRAFT_VERB, {"form_id": FORM, "aim": "Sport"})))
    assert opened.count("write") == 1 and opened[-1] == "write" and "Draft saved" in card_text(result.card.to_dict())
    opened, result = await units_of(database, watched, lambda: accounts.submit(
        click(SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM, **case_values(SAM)})))  # one runner: to fix
    assert opened.count("write") == 1 and "Please fix" in card_text(result.card.to_dict())
    opened, result = await units_of(database, watched, lambda: accounts.submit(
        click(SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM, **case_values()})))
    assert opened.count("write") == 1 and opened[-1] == "write" and "Sent to" in card_text(result.card.to_dict())
    opened, _ = await units_of(database, watched, lambda: accounts.discard_draft(
        click(SAM, ACCOUNT_DISCARD_DRAFT_VERB, {"form_id": FORM})))
    assert opened == ["write"]


async def test_deciding_changing_and_resending_each_write_once(
    built: AccountsWiring, database: CountingDatabase, watched: WatchedDirectory
) -> None:
    desk, accounts = built.desk, built.accounts
    sent = await accounts.submit(click(SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM, **case_values()}))
    assert sent.card is not None
    [request] = await _requests(database)
    ask = {"request_id": request.id, "round": 1, "decision": "request_changes", "comment": "Who covers August?"}

    opened, _ = await units_of(database, watched, lambda: desk.refresh(
        click(ANNA, APPROVAL_REFRESH_VERB, {"request_id": request.id})))
    assert opened.count("write") == 0
    opened, _ = await units_of(database, watched, lambda: desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, ask)))
    assert opened == ["write"]
    opened, late = await units_of(database, watched, lambda: desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, ask)))
    assert opened == ["write"] and "Nothing was changed" in card_text(late.card.to_dict())  # refused, audited in it
    opened, form = await units_of(database, watched, lambda: desk.edit(
        click(SAM, APPROVAL_EDIT_VERB, {"request_id": request.id, "round": 1})))
    assert opened.count("write") == 1 and opened[0] == "write"  # the checks; the form is read after it
    assert "Resend to the Head Teacher" in card_text(form.card.to_dict())
    opened, _ = await units_of(database, watched, lambda: desk.edit(
        click(LEE, APPROVAL_EDIT_VERB, {"request_id": request.id, "round": 1})))  # not his: refused, audited
    assert opened == ["write"]
    opened, resent = await units_of(database, watched, lambda: accounts.submit(click(
        SAM, ACCOUNT_SUBMIT_VERB, {"form_id": "8" * 32, "request_id": request.id, **case_values(aim="More")})))
    assert opened.count("write") == 1 and "Sent again (version 2)" in card_text(resent.card.to_dict())
    opened, _ = await units_of(database, watched, lambda: desk.withdraw(
        click(SAM, APPROVAL_WITHDRAW_VERB, {"request_id": request.id, "round": 2})))
    assert opened == ["write"]
    [after] = await _requests(database)
    assert after.state is ApprovalState.WITHDRAWN
    opened, _ = await units_of(database, watched, lambda: desk.my_requests(command(SAM, "my requests")))
    assert opened.count("write") == 0


async def test_delegating_routes_the_waiting_requests_in_its_one_unit_of_work(
    built: AccountsWiring, database: CountingDatabase, watched: WatchedDirectory, clock: FakeClock
) -> None:
    desk, accounts = built.desk, built.accounts
    for form, name in (("1" * 32, "Year 6 news"), ("2" * 32, "Sports news")):
        await accounts.submit(click(SAM, ACCOUNT_SUBMIT_VERB, {"form_id": form, **case_values(account_name=name)}))
    opened, reply = await units_of(database, watched, lambda: desk.delegate(
        command(ANNA, "delegate to Priya until Friday", "Priya until Friday")))
    assert opened.count("write") == 1
    assert "the 2 requests waiting now have been sent to them" in card_text(reply.cards[0].to_dict())
    opened, _ = await units_of(database, watched, lambda: desk.pending_for_decider(command(PRIYA, "approvals")))
    assert opened.count("write") == 1  # the cards sent, each stored as a copy of its request's card

    opened, routed = await units_of(database, watched, lambda: desk.route_pending())
    assert opened.count("write") <= 1 and routed == 0  # the deputy has them already

    clock.advance(days=6)  # past Friday: reminders due, the delegation over
    opened, reminded = await units_of(database, watched, lambda: desk.send_reminders())
    assert opened.count("write") == 1 and reminded == 2
    opened, summaries = await units_of(database, watched, lambda: desk.summarise_ended_delegations())
    assert opened.count("write") == 1 and summaries == 1
    clock.advance(hours=1)
    opened, _ = await units_of(database, watched, lambda: desk.send_reminders())
    assert opened.count("write") == 0  # nothing due again today: nothing written
    opened, _ = await units_of(database, watched, lambda: desk.end_delegation(command(ANNA, "end delegation")))
    assert opened.count("write") <= 1
    clock.advance(days=1)
    async with database.sessions() as session:
        assert await store.active_delegations(session, clock() - timedelta(days=1)) == []


async def _requests(database: Database) -> list[Any]:
    async with database.sessions() as session:
        return await store.requests_of(session, SAM.aad)
