"""Retention of approval requests: a decided request goes with its append-only history after its period, leaving a
tombstone; a held one is kept and its card says so. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_REFRESH_VERB
from cards.retention import HOLD_MARKER
from domain.retention import RecordKind, build_schedule
from services.retention import Retention
from store import retention as retention_store
from store.approvals import ApprovalEventRow, ApprovalRequestRow
from store.card_copies import CardCopyRow
from store.db import Database
from tests.support.approvals import ANNA, TUESDAY_10AM, FakeClock, Person, click, directory, submit_case, wiring
from tests.support.incidents_world import shown_text

JO = Person("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")  # the DPO


async def rejected_request(database: Database, clock: FakeClock) -> tuple[Retention, int, str]:
    built = wiring(database, clock)
    request_id = await submit_case(built)
    await built.desk.decide(click(ANNA, APPROVAL_DECIDE_VERB, {"request_id": request_id, "round": 1,
                                                               "decision": "reject", "comment": "Not this year"}))
    async with database.sessions() as session:
        row = await session.get(ApprovalRequestRow, request_id)
        assert row is not None and row.state == "rejected" and row.reference
        reference = row.reference
    retention = Retention(database, directory(), schedule=build_schedule(), calendar=built.desk.calendar, clock=clock)
    return retention, request_id, reference


async def rows(database: Database, model: type, *where: object) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_decided_request_goes_with_its_history_after_six_years_leaving_a_tombstone(database: Database) -> None:
    clock = FakeClock(TUESDAY_10AM)
    retention, request_id, reference = await rejected_request(database, clock)
    assert await rows(database, ApprovalEventRow, ApprovalEventRow.request_id == request_id) > 0

    clock.advance(days=5 * 365)
    assert reference not in {i.reference for i in (await retention.run()).plan.items}
    clock.advance(days=400)
    outcome = await retention.run()
    assert [(i.kind, i.reference) for i in outcome.plan.items if i.reference] == [
        (RecordKind.ACCOUNT_REQUESTS, reference)]
    assert await rows(database, ApprovalRequestRow, ApprovalRequestRow.id == request_id) == 0
    assert await rows(database, ApprovalEventRow, ApprovalEventRow.request_id == request_id) == 0
    assert await rows(database, CardCopyRow, CardCopyRow.subject == f"approval:{request_id}") == 0
    async with database.sessions() as session:
        [tomb] = await retention_store.tombstones(session, reference=reference)
    assert (tomb.record_kind, tomb.action, tomb.category, tomb.status) == (
        RecordKind.ACCOUNT_REQUESTS.value, "deleted", "new_account", "rejected")


async def test_a_held_request_is_kept_and_its_card_is_marked(database: Database) -> None:
    clock = FakeClock(TUESDAY_10AM)
    retention, request_id, reference = await rejected_request(database, clock)
    placed = await retention.place_hold(JO.actor(), f"{reference} because a complaint about the decision")
    assert f"**{reference}** is on legal hold" in placed.texts[0]
    clock.advance(days=7 * 365)
    outcome = await retention.run()
    assert reference in {i.reference for i in outcome.plan.held}
    assert await rows(database, ApprovalRequestRow, ApprovalRequestRow.id == request_id) == 1
    refreshed = await wiring(database, clock).desk.refresh(click(ANNA, APPROVAL_REFRESH_VERB,
                                                                 {"request_id": request_id}))
    assert refreshed.card is not None and HOLD_MARKER in shown_text(refreshed.card.to_dict())
