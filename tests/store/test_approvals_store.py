"""The approvals store on SQLite and PostgreSQL: the migration, append-only history, exactly-once transitions
under concurrency, drafts, delegations, reminders claimed once, the account register."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from domain.accounts import AccountCase, validate_form
from domain.approvals import (
    ApprovalAction,
    ApprovalKind,
    ApprovalRecord,
    ApprovalRefused,
    ApprovalState,
    Authority,
    HistoryEvent,
    RefusalReason,
    check_action,
)
from store import approvals as store
from store.db import Database
from tests.support.approvals import ANNA, LEE, PRIYA, SAM, TUESDAY_10AM, case_values
from tests.support.approvals import Person as P
from tests.support.migrations import schema_differences, tables_after_downgrade

MY_TABLES = {"approval_requests", "approval_events", "approval_delegations", "account_drafts", "account_register",
             "account_administrators"}
NOW = TUESDAY_10AM
BOTH = Authority(head_teachers={ANNA.aad: ANNA.name}, acting_deputies={PRIYA.aad: PRIYA.name})


def case() -> AccountCase:
    from domain.accounts import StaffMember

    people = {p.aad: StaffMember(p.aad, p.name) for p in (SAM, LEE)}
    checked = validate_form(case_values(), people).case
    assert checked is not None
    return checked


async def new_request(database: Database) -> ApprovalRecord:
    async with database.transaction() as session:
        request, _ = await store.create_request(
            session, kind=ApprovalKind.NEW_ACCOUNT, requester_aad=SAM.aad, requester_name=SAM.name,
            payload=case().model_dump(mode="json"), now=NOW,
        )
    return request


# --- the migration -----------------------------------------------------------------------------------------



async def test_the_migration_creates_exactly_the_tables_the_models_describe(database: Database) -> None:
    assert await schema_differences(database, MY_TABLES) == []


async def test_the_migration_downgrades_cleanly(database: Database) -> None:
    assert not MY_TABLES & await tables_after_downgrade(database, "0005_approvals@0006_card_copies")


# --- requests and their history ---------------------------------------------------------------------------


async def test_a_request_gets_a_reference_and_a_submitted_entry(database: Database) -> None:
    request = await new_request(database)
    assert request.reference == f"ACC-2026-{request.id:04d}" and request.state is ApprovalState.PENDING
    async with database.sessions() as session:
        [entry] = await store.history(session, request.id)
    assert (entry.event, entry.to_state, entry.actor_name, entry.at) == (
        HistoryEvent.SUBMITTED, ApprovalState.PENDING, SAM.name, NOW)
    assert AccountCase.model_validate(request.payload) == case()


async def test_the_history_refuses_updates(database: Database) -> None:
    request = await new_request(database)
    with pytest.raises((IntegrityError, DBAPIError)) as refused:
        async with database.transaction() as session:
            await session.execute(text("UPDATE approval_events SET comment = 'rewritten' WHERE request_id = :id"),
                                  {"id": request.id})
    assert "append-only" in str(refused.value)


async def test_a_transition_is_recorded_with_who_when_and_the_comment(database: Database) -> None:
    request = await new_request(database)
    transition = check_action(request, ApprovalAction.REQUEST_CHANGES, actor_aad_object_id=ANNA.aad,
                              actor_name=ANNA.name, authority=BOTH, comment="Who covers the holidays?", card_round=1)
    async with database.transaction() as session:
        after, event_id = await store.apply(session, request, transition, now=NOW + timedelta(hours=1))
    async with database.sessions() as session:
        stored = await store.get_request(session, request.id)
        entries = await store.history(session, request.id)
    assert stored == after and stored.state is ApprovalState.CHANGES_REQUESTED
    assert (entries[-1].id, entries[-1].event, entries[-1].actor_aad, entries[-1].comment) == (
        event_id, HistoryEvent.CHANGES_REQUESTED, ANNA.aad, "Who covers the holidays?")

    again = check_action(after, ApprovalAction.RESUBMIT, actor_aad_object_id=SAM.aad, actor_name=SAM.name,
                         authority=BOTH)
    changed = case().model_copy(update={"holiday_monitoring": "Lee, twice a week"}).model_dump(mode="json")
    async with database.transaction() as session:
        resubmitted, _ = await store.apply(session, after, again, now=NOW + timedelta(days=1), payload=changed)
    assert (resubmitted.state, resubmitted.round, resubmitted.payload["holiday_monitoring"]) == (
        ApprovalState.PENDING, 2, "Lee, twice a week")
    assert resubmitted.pending_since == NOW + timedelta(days=1) and resubmitted.decided_by_name is None


async def test_a_refusal_is_audited_even_for_a_request_that_does_not_exist(database: Database) -> None:
    request = await new_request(database)
    async with database.transaction() as session:
        await store.record_refusal(session, request_id=request.id, actor_aad=LEE.aad, actor_name=LEE.name,
                                   reason=RefusalReason.NOT_A_DECIDER, now=NOW, detail={"decision": "approve"})
        await store.record_refusal(session, request_id=9999, actor_aad=LEE.aad, actor_name=LEE.name,
                                   reason=RefusalReason.NO_SUCH_REQUEST, now=NOW)
    async with database.sessions() as session:
        audited = await store.refusals(session)
    assert [(e.request_id, e.detail["reason"]) for e in audited] == [
        (request.id, "not_a_decider"), (None, "no_such_request")]
    assert audited[1].detail["claimed_request_id"] == 9999


# --- exactly once, under concurrency -----------------------------------------------------------------------


@pytest.mark.parametrize("contenders", [2, 8])
async def test_concurrent_decisions_make_exactly_one(database: Database, contenders: int) -> None:
    request = await new_request(database)
    deciders = [(ANNA if i % 2 == 0 else PRIYA) for i in range(contenders)]
    actions = [ApprovalAction.APPROVE, ApprovalAction.REJECT, ApprovalAction.REQUEST_CHANGES]

    async def decide(index: int, person: P) -> ApprovalRecord | ApprovalRefused:
        transition = check_action(request, actions[index % 3], actor_aad_object_id=person.aad,
                                  actor_name=person.name, authority=BOTH, comment=f"comment {index}", card_round=1)
        try:
            async with database.transaction() as session:
                after, _ = await store.apply(session, request, transition, now=NOW)
                await asyncio.sleep(0.01)  # hold the transaction open a little: the others must wait or lose
                return after
        except ApprovalRefused as refused:
            return refused

    results = await asyncio.gather(*(decide(i, p) for i, p in enumerate(deciders)))
    winners = [r for r in results if isinstance(r, ApprovalRecord)]
    losers = [r for r in results if isinstance(r, ApprovalRefused)]
    assert len(winners) == 1 and len(losers) == contenders - 1
    winner = winners[0]
    for loser in losers:
        assert loser.reason is RefusalReason.NOT_PENDING
        assert loser.request is not None and loser.request.decided_by_name == winner.decided_by_name
    async with database.sessions() as session:
        stored = await store.get_request(session, request.id)
        decisions = [e for e in await store.history(session, request.id) if e.event is not HistoryEvent.SUBMITTED]
    assert stored is not None and stored.state is winner.state
    assert len(decisions) == 1 and decisions[0].actor_name == winner.decided_by_name


async def test_a_reminder_is_claimed_once_a_day(database: Database) -> None:
    request = await new_request(database)
    today = date(2026, 11, 26)

    async def claim(day: date) -> bool:
        async with database.transaction() as session:
            return await store.claim_reminder(session, request, day)

    assert sorted(await asyncio.gather(*(claim(today) for _ in range(5)))) == [False] * 4 + [True]
    assert await claim(today) is False
    assert await claim(today + timedelta(days=1)) is True


# --- drafts, delegations, register ---------------------------------------------------------------------------


async def test_drafts_are_kept_per_person_and_per_request(database: Database) -> None:
    async with database.transaction() as session:
        await store.save_draft(session, SAM.aad, {"aim": "first"}, now=NOW)
        await store.save_draft(session, SAM.aad, {"aim": "second"}, now=NOW + timedelta(minutes=5))
        await store.save_draft(session, SAM.aad, {"aim": "change"}, now=NOW, for_request=7)
    async with database.sessions() as session:
        draft = await store.get_draft(session, SAM.aad)
        change = await store.get_draft(session, SAM.aad, 7)
        nobody = await store.get_draft(session, LEE.aad)
    assert draft is not None and draft.values == {"aim": "second"} and draft.updated_at == NOW + timedelta(minutes=5)
    assert change is not None and change.values == {"aim": "change"} and nobody is None
    async with database.transaction() as session:
        await store.delete_draft(session, SAM.aad)
    async with database.sessions() as session:
        assert await store.get_draft(session, SAM.aad) is None
        assert await store.get_draft(session, SAM.aad, 7) is not None


async def test_a_new_delegation_replaces_the_running_one(database: Database) -> None:
    end = NOW + timedelta(days=3)
    async with database.transaction() as session:
        first, replaced = await store.create_delegation(
            session, head_aad=ANNA.aad, head_name=ANNA.name, deputy_aad=PRIYA.aad, deputy_name=PRIYA.name,
            starts_at=NOW, ends_at=end, now=NOW)
        assert replaced is None
        second, replaced = await store.create_delegation(
            session, head_aad=ANNA.aad, head_name=ANNA.name, deputy_aad=LEE.aad, deputy_name=LEE.name,
            starts_at=NOW + timedelta(hours=1), ends_at=end, now=NOW + timedelta(hours=1))
    assert replaced is not None and replaced.id == first.id and replaced.ended_at == NOW + timedelta(hours=1)
    async with database.sessions() as session:
        active = await store.active_delegations(session, NOW + timedelta(hours=2))
        over = await store.delegations_to_summarise(session, NOW + timedelta(hours=2))
        later = await store.delegations_to_summarise(session, end)
    assert [d.id for d in active] == [second.id]
    assert [d.id for d in over] == [first.id] and [d.id for d in later] == [first.id, second.id]
    async with database.transaction() as session:
        assert await store.claim_summary(session, first.id, NOW) is True
        assert await store.claim_summary(session, first.id, NOW) is False


async def test_an_approved_account_enters_the_register_once_with_its_administrators(database: Database) -> None:
    request = await new_request(database)
    transition = check_action(request, ApprovalAction.APPROVE, actor_aad_object_id=ANNA.aad, actor_name=ANNA.name,
                              authority=BOTH, card_round=1)
    async with database.transaction() as session:
        after, _ = await store.apply(session, request, transition, now=NOW)
        first = await store.add_account(session, after, case(), now=NOW)
        again = await store.add_account(session, after, case(), now=NOW)
    assert first == again
    async with database.sessions() as session:
        [account] = await store.registered_accounts(session)
        names = await store.registered_account_names(session)
    assert (account.platform, account.account_name, account.approval_reference, account.approved_by_name) == (
        "Facebook", "Holy Trinity Year 6", request.reference, ANNA.name)
    assert [a.name for a in account.administrators] == [SAM.name, LEE.name]
    assert names == ["Holy Trinity Year 6"]
    columns = {c["name"] for t in ("account_register", "account_administrators")
               for c in await _columns(database, t)}
    assert not any("pass" in c or "secret" in c for c in columns)  # the register has nowhere to keep a password


async def _columns(database: Database, table: str) -> list[dict[str, Any]]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda c: inspect(c).get_columns(table))
