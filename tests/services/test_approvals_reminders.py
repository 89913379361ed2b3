"""Reminders of requests left pending (after N school days, once a school day, surviving restarts), and the
account register's hand-over flags to SLT."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.reminders import ApprovalReminders
from cards.approvals import APPROVAL_DECIDE_VERB
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.approvals import HistoryEvent
from domain.roles import Role
from services.accounts import AccountsWiring
from store import approvals as store
from store.db import Database
from store.outbox import OutboxKind
from tests.support.approvals import (
    ANNA,
    LEE,
    PRIYA,
    SAM,
    FakeClock,
    Person,
    card_text,
    click,
    outbox_activities,
    outbox_card,
    seeded,
    submit_case,
    wiring,
)

SERVICE_URL = "http://127.0.0.1:9/connector"
FRIDAY_3PM = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(FRIDAY_3PM)


async def prepared(database: Database, clock: FakeClock, directory_: object = None,
                   **setting_values: str) -> AccountsWiring:
    return await seeded(database, clock, directory_=directory_, **setting_values)


async def reminders_to(database: Database, person: Person) -> list[str]:
    return [card_text(outbox_card(a)) for e, a, _ in await outbox_activities(database)
            if e.kind is OutboxKind.SEND_PERSONAL and e.lane == person.chat_id and "Reminder:" in card_text(a)]


async def test_the_schools_time_zone_setting_decides_when_a_reminder_is_due(
    database: Database, clock: FakeClock
) -> None:
    """POLICYBOT_SCHOOL_TIMEZONE=Pacific/Auckland (UTC+13 in November): sent at 04:00 on Saturday there (15:00 on
    Friday in London), so the two school days run from Monday morning in Auckland, reminders go out from 08:00
    Auckland time, and the cards show Auckland times."""
    built = await prepared(database, clock, school_timezone="Pacific/Auckland")
    assert built.desk.calendar.timezone_name == "Pacific/Auckland"
    await submit_case(built)  # Friday 15:00 UTC
    worker = ApprovalReminders(built.desk, built.accounts, school_days=2, clock=clock)

    clock.current = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # London would remind now; Wednesday 05:00 in Auckland
    assert (await worker.run_once()).reminded == 0
    clock.current = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # Wednesday 08:00 in Auckland
    assert (await worker.run_once()).reminded == 1
    [reminder] = await reminders_to(database, ANNA)
    assert "Reminder: this request has waited 2 school days for a decision." in reminder
    assert "Asked by Sam Teacher on Sat 28 Nov 2026, 04:00" in reminder

    clock.current = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)  # Friday evening in London: Saturday in Auckland
    assert (await worker.run_once()).reminded == 0
    clock.current = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)  # Sunday evening in London: Monday 09:00 in Auckland
    assert (await worker.run_once()).reminded == 1


async def test_a_pending_request_reminds_after_two_school_days_once_a_day_across_restarts(
    database: Database, clock: FakeClock
) -> None:
    built = await prepared(database, clock)
    request_id = await submit_case(built)  # Friday 3pm
    worker = ApprovalReminders(built.desk, built.accounts, school_days=2, clock=clock)

    clock.current = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # Monday: one school day
    assert (await worker.run_once()).reminded == 0
    clock.current = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # Tuesday 4pm: two school days
    assert (await worker.run_once()).reminded == 1
    assert (await worker.run_once()).reminded == 0  # once a day
    restarted = ApprovalReminders(built.desk, built.accounts, school_days=2, clock=clock)
    assert (await restarted.run_once()).reminded == 0  # the day's reminder is remembered in the database
    [reminder] = await reminders_to(database, ANNA)
    assert "Reminder: this request has waited 2 school days for a decision." in reminder
    assert "Approve" in reminder

    clock.current = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # Saturday: no reminder
    assert (await restarted.run_once()).reminded == 0
    clock.current = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday
    assert (await restarted.run_once()).reminded == 1
    assert len(await reminders_to(database, ANNA)) == 2
    async with database.sessions() as session:
        events = [e.event for e in await store.history(session, request_id)]
    assert events.count(HistoryEvent.REMINDED) == 2

    # A decision ends the reminders, and updates the reminder cards too.
    await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, {"request_id": request_id, "round": 1,
                                                                "decision": "approve"}))
    clock.current = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    assert (await restarted.run_once()).reminded == 0
    updates = [e for e, _, _ in await outbox_activities(database) if e.kind is OutboxKind.UPDATE_ACTIVITY]
    assert len(updates) == 4  # the first card, two reminders and the SLT channel's card


async def test_during_a_delegation_the_reminder_goes_to_the_deputy(database: Database, clock: FakeClock) -> None:
    built = await prepared(database, clock)
    await submit_case(built)
    clock.current = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    async with database.transaction() as session:
        await store.create_delegation(session, head_aad=ANNA.aad, head_name=ANNA.name, deputy_aad=PRIYA.aad,
                                      deputy_name=PRIYA.name, starts_at=clock.current,
                                      ends_at=datetime(2026, 12, 5, tzinfo=UTC), now=clock.current)
    clock.current = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    result = await ApprovalReminders(built.desk, built.accounts, clock=clock).run_once()
    assert (result.routed, result.reminded) == (1, 1)  # the request reached the deputy, then its reminder
    assert len(await reminders_to(database, PRIYA)) == 1 and await reminders_to(database, ANNA) == []


async def test_an_account_whose_administrators_left_is_flagged_to_slt_once(
    database: Database, clock: FakeClock
) -> None:
    here = StaticRoleDirectory([
        DirectoryEntry(ANNA.aad, ANNA.name, frozenset({Role.HEAD_TEACHER, Role.SLT})),
        DirectoryEntry(SAM.aad, SAM.name), DirectoryEntry(LEE.aad, LEE.name),
    ], description="before")
    built = await prepared(database, clock, here)
    request_id = await submit_case(built)
    await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, {"request_id": request_id, "round": 1,
                                                                "decision": "approve"}))
    assert (await ApprovalReminders(built.desk, built.accounts, clock=clock).run_once()).handovers_flagged == 0

    lee_left = StaticRoleDirectory([
        DirectoryEntry(ANNA.aad, ANNA.name, frozenset({Role.HEAD_TEACHER, Role.SLT})),
        DirectoryEntry(SAM.aad, SAM.name), DirectoryEntry(LEE.aad, LEE.name, left=True),
    ], description="after")
    later = wiring(database, clock, directory_=lee_left)
    worker = ApprovalReminders(later.desk, later.accounts, clock=clock)
    assert (await worker.run_once()).handovers_flagged == 1
    clock.advance(days=1)
    assert (await worker.run_once()).handovers_flagged == 0  # the same leavers are flagged once
    [alert] = [card_text(outbox_card(a)) for e, a, _ in await outbox_activities(database)
               if e.kind is OutboxKind.POST_TO_CHANNEL and "hand-over" in card_text(a)]
    assert "Administrators still at the school | Sam Teacher" in alert
    assert "Administrators who have left | Lee Carter" in alert
    listing = await later.accounts.list_accounts(_command(ANNA))
    assert "Needs a hand-over: no longer at the school: Lee Carter" in card_text(listing.cards[0].to_dict())
    plain = await later.accounts.list_accounts(_command(SAM))
    assert "hand-over" not in card_text(plain.cards[0].to_dict())


def _command(person: Person):  # type: ignore[no-untyped-def]
    from services.requests import CommandRequest

    return CommandRequest(text="accounts", argument="", actor=person.actor())


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        ApprovalReminders(object(), school_days=-1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ApprovalReminders(object(), check_seconds=0)  # type: ignore[arg-type]


async def test_the_worker_runs_a_round_when_the_app_starts_and_stops_with_it(
    database: Database, clock: FakeClock
) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    built = await prepared(database, clock)
    await submit_case(built)
    clock.current = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    app = web.Application()
    worker = ApprovalReminders(built.desk, built.accounts, clock=clock, check_seconds=3600)
    app.cleanup_ctx.append(worker.cleanup_ctx)
    async with TestClient(TestServer(app)):
        for _ in range(200):
            if await reminders_to(database, ANNA):
                break
            await asyncio.sleep(0.02)
    assert len(await reminders_to(database, ANNA)) == 1
