"""The retention job as the DPO sees it: a record past its period goes at the next run and leaves a tombstone; a
held one is kept and marked; a safeguarding report is flagged for the DSL, never deleted; the preview is what the
run then does; every command is refused to anyone but the DPO (and the Head Teacher for holds), each refusal
audited. On SQLite and PostgreSQL, with a settable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from cards.incidents import Verb
from cards.retention import HOLD_MARKER
from directory.static import StaticRoleDirectory
from domain.access import RefusalReason
from domain.audit import AuditOutcome
from domain.retention import Disposal, RecordKind, build_schedule
from domain.roles import DirectoryUnavailableError, Person, Role
from services.audit import AuditTrail
from services.retention import ACCESS, LEGAL_HOLD, LEGAL_HOLDS, RELEASE_LEGAL_HOLD, RETENTION_PREVIEW, Retention
from store import incidents as records
from store import retention as retention_store
from store.audit import AuditRow
from store.consent_store import ConsentCheckLogRow
from store.conversations import ProcessedActivityRow
from store.incidents import IncidentAttachmentRow, IncidentEventRow, IncidentRow
from tests.support.incidents_world import (
    ANNA,
    GRACE,
    JO,
    LEE,
    PRIYA,
    ROLES_FILE,
    SAM,
    TOM,
    School,
    Who,
    actor,
    shown_text,
)


@pytest.fixture
async def school(migrated_database_url: str) -> AsyncIterator[School]:
    world = await School.open(migrated_database_url)
    try:
        yield world
    finally:
        await world.close()


def retention_of(school: School, **overrides: str) -> Retention:
    return Retention(school.database, StaticRoleDirectory.from_file(ROLES_FILE), schedule=build_schedule(overrides),
                     calendar=school.incidents.calendar, clock=school.clock.now)


async def closed_report(school: School, category: str = "negative_comment", *, handler: Who = ANNA,
                        involved: str = "Alex Brown (Year 5)") -> str:
    receipt = await school.report(SAM, category=category, involved=involved)
    async with school.database.sessions() as session:
        incident = await session.scalar(select(IncidentRow).order_by(IncidentRow.id.desc()).limit(1))
    assert incident is not None and receipt is not None
    await school.act(handler, Verb.TAKE_LEAD, {"incident": incident.id})
    await school.act(handler, Verb.CLOSE, {"incident": incident.id, "outcome_kind": "resolved", "outcome": "Done"})
    return incident.reference


async def incident(school: School, reference: str) -> IncidentRow:
    async with school.database.sessions() as session:
        row = await session.scalar(select(IncidentRow).where(IncidentRow.reference == reference))
        assert row is not None
        return row


async def count(school: School, model: type, *where: object) -> int:
    async with school.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def say(retention: Retention, who: Who, text: str, kind: str = "personal") -> str:
    if text == "retention preview":
        reply = await retention.preview(actor(who, kind))
    elif text == "legal holds":
        reply = await retention.list_holds(actor(who, kind))
    elif text.startswith("release legal hold "):
        reply = await retention.release_hold(actor(who, kind), text[len("release legal hold "):])
    else:
        assert text.startswith("legal hold ")
        reply = await retention.place_hold(actor(who, kind), text[len("legal hold "):])
    return "\n".join(reply.texts + [read(card.to_dict()) for card in reply.cards])


def read(card: dict[str, object]) -> str:
    """What a person reads on a card (markdown escapes dropped)."""
    return shown_text(card).replace("\\", "")


async def test_a_report_past_its_period_is_anonymised_at_the_next_run_and_leaves_its_tombstone(school: School) -> None:
    reference = await closed_report(school)
    row = await incident(school, reference)
    async with school.database.transaction() as session:
        await records.add_attachment(session, row.id, records.Person(SAM.aad, SAM.name), "shot.png", "image/png",
                                     b"\x89PNG fake", school.clock.now())
    retention = retention_of(school)

    school.clock.advance(days=5 * 365)
    early = await retention.run()  # screenshots go after a year; the report after 6 years
    assert [(i.kind, i.reference) for i in early.plan.items if i.reference] == [
        (RecordKind.INCIDENT_SCREENSHOTS, reference)]
    assert await count(school, IncidentAttachmentRow, IncidentAttachmentRow.incident_id == row.id) == 0
    assert (await incident(school, reference)).involved == "Alex Brown (Year 5)"

    school.clock.advance(days=370)  # now past 6 years
    outcome = await retention.run()
    assert outcome.run_id is not None
    after = await incident(school, reference)
    assert (after.category, after.status, after.received_at, after.closed_at) == (
        row.category, row.status, row.received_at, row.closed_at)  # counts survive
    assert (after.involved, after.what_happened, after.reporter_name, after.reporter_aad, after.lead_name) == (
        "", retention_store.REMOVED, retention_store.REMOVED, "", None)
    assert await count(school, IncidentEventRow, IncidentEventRow.incident_id == row.id) == 0
    assert await count(school, IncidentAttachmentRow, IncidentAttachmentRow.incident_id == row.id) == 0
    async with school.database.sessions() as session:
        shot_tomb, tomb = await retention_store.tombstones(session, reference=reference)
        assert await session.scalar(select(func.count()).select_from(retention_store.RetentionUnlockRow)) == 0
    assert (tomb.record_kind, tomb.action, tomb.category, tomb.status, tomb.first_at, tomb.last_at) == (
        RecordKind.INCIDENT_GENERAL.value, "anonymised", "negative_comment", "closed", row.received_at, row.closed_at)
    assert "6 years after the report is closed" in tomb.why and "Alex" not in tomb.why
    assert (shot_tomb.record_kind, shot_tomb.action, shot_tomb.record_count) == (
        RecordKind.INCIDENT_SCREENSHOTS.value, "deleted", 1)
    dpo_card = read((await school.sent_to())[JO.name][-1])
    assert f"Retention run {outcome.run_id}: done" in dpo_card and reference in dpo_card

    again = await retention.run()  # the next run finds nothing more to do with it
    assert reference not in {item.reference for item in again.plan.items}


async def test_a_held_report_is_kept_and_marked_until_the_hold_is_released(school: School) -> None:
    reference = await closed_report(school)
    retention = retention_of(school)
    answer = await say(retention, JO, f"legal hold {reference} because the LADO is investigating")
    assert f"**{reference}** is on legal hold" in answer

    school.clock.advance(days=7 * 365)
    preview = await say(retention, JO, "retention preview")
    assert "Kept because of a legal hold" in preview and reference in preview
    outcome = await retention.run()
    assert reference in {item.reference for item in outcome.plan.held}
    assert (await incident(school, reference)).involved == "Alex Brown (Year 5)"
    view = await school.act(ANNA, Verb.VIEW, {"incident": (await incident(school, reference)).id})
    assert view.card is not None and HOLD_MARKER in shown_text(view.card.to_dict())
    assert reference in await say(retention, ANNA, "legal holds")

    assert "released" in await say(retention, ANNA, f"release legal hold {reference}")
    trail = await AuditTrail(school.database).recent(record_ref=reference)
    assert [(e.action, e.outcome, e.actor_name) for e in trail] == [
        ("release_legal_hold", AuditOutcome.RECORDED, ANNA.name),
        ("incident_view", AuditOutcome.VIEWED, ANNA.name),  # the Head Teacher opened the held report's details
        ("legal_hold", AuditOutcome.RECORDED, JO.name)]
    assert all("LADO" not in str(e.detail) for e in trail)  # the typed reason stays in the hold, not the trail
    await retention.run()
    assert (await incident(school, reference)).involved == ""


async def test_a_hold_on_a_person_keeps_every_record_naming_them(school: School) -> None:
    named = await closed_report(school, involved="Alex Brown (Year 5)")
    other = await closed_report(school, involved="Someone else")
    retention = retention_of(school)
    answer = await say(retention, ANNA, "legal hold Alex Brown because an allegation is under investigation")
    assert "matches their name in records' text only" in answer  # not a member of staff the bot knows
    school.clock.advance(days=7 * 365)
    outcome = await retention.run()
    assert named in {item.reference for item in outcome.plan.held}
    assert (await incident(school, named)).involved == "Alex Brown (Year 5)"
    assert (await incident(school, other)).involved == ""


async def test_a_safeguarding_report_is_flagged_for_the_dsl_and_never_deleted(school: School) -> None:
    reference = await closed_report(school, "pupil_safety", handler=TOM)
    retention = retention_of(school)
    school.clock.advance(days=31)
    outcome = await retention.run()
    assert [(i.reference, i.disposal) for i in outcome.plan.items] == [(reference, Disposal.FLAG)]
    assert outcome.reviewers_told == 1
    told = read((await school.sent_to())[TOM.name][-1])
    assert "Records to transfer and review" in told and reference in told
    async with school.database.sessions() as session:
        assert await retention_store.flagged_refs(session) == {reference}

    school.clock.advance(days=30 * 365)
    later = await retention.run()
    assert reference not in {item.reference for item in later.plan.items}  # flagged once, never removed
    kept = await incident(school, reference)
    assert kept.involved == "Alex Brown (Year 5)" and kept.category == "pupil_safety"
    assert await count(school, IncidentEventRow, IncidentEventRow.incident_id == kept.id) > 0


async def test_an_allegation_about_staff_is_flagged_after_ten_years_not_before(school: School) -> None:
    reference = await closed_report(school, "allegation_about_staff", involved="Mr Example")
    retention = retention_of(school)
    school.clock.advance(days=9 * 365)
    assert reference not in {i.reference for i in (await retention.run()).plan.items}
    school.clock.advance(days=366 + 3)
    outcome = await retention.run()
    assert [(i.reference, i.disposal) for i in outcome.plan.items] == [(reference, Disposal.FLAG)]
    told = read((await school.sent_to())[ANNA.name][-1])  # the allegation's handler, not the channel
    assert reference in told


async def test_the_preview_is_exactly_what_the_run_then_does(school: School) -> None:
    general = await closed_report(school)
    held = await closed_report(school, involved="Held Person")
    safeguarding = await closed_report(school, "pupil_safety", handler=TOM)
    retention = retention_of(school)
    trail = AuditTrail(school.database, clock=school.clock.now)
    await say(retention, SAM, "retention preview")  # a refusal: an audit entry that will be old too
    async with school.database.transaction() as session:
        session.add(ConsentCheckLogRow(checked_at=school.clock.now(), checked_by=LEE.aad, destination="website",
                                       account_name=None, purposes=["website"], device="school", media="photo",
                                       pupil_ids=["p1"], unresolved_count=0, verdict="yes", reason_codes=[],
                                       register_version_id=None))
    await say(retention, JO, "legal hold Held Person because a complaint is open")
    school.clock.advance(days=7 * 365)

    async with school.database.sessions() as session:
        previewed = await retention.plan_in(session, school.clock.now())
    shown = await say(retention, JO, "retention preview")
    for reference in (general, safeguarding):
        assert reference in shown
    outcome = await retention.run()
    assert outcome.plan.comparable() == previewed.comparable()
    kinds = {(i.kind, i.disposal) for i in outcome.plan.items}
    assert {(RecordKind.INCIDENT_GENERAL, Disposal.ANONYMISE), (RecordKind.INCIDENT_SAFEGUARDING, Disposal.FLAG),
            (RecordKind.PHOTO_CHECK_LOG, Disposal.DELETE), (RecordKind.AUDIT_TRAIL, Disposal.DELETE)} <= kinds
    assert held in {i.reference for i in outcome.plan.held}
    assert await count(school, ConsentCheckLogRow) == 0
    remaining = await trail.recent(limit=100)
    assert {e.action for e in remaining} == {"legal_hold"}  # the old refusal went; the hold's entry is held
    async with school.database.sessions() as session:
        tombs = await retention_store.tombstones(session, run_id=outcome.run_id)
    assert {(t.record_kind, t.record_ref) for t in tombs} >= {
        (RecordKind.INCIDENT_GENERAL.value, general), (RecordKind.PHOTO_CHECK_LOG.value, None)}


async def test_two_runs_at_once_remove_a_record_once(school: School) -> None:
    reference = await closed_report(school)
    school.clock.advance(days=7 * 365)
    first, second = await asyncio.gather(retention_of(school).run(), retention_of(school).run())
    async with school.database.sessions() as session:
        assert len(await retention_store.tombstones(session, reference=reference)) == 1
    assert sorted(len(outcome.plan.items) > 0 for outcome in (first, second)) == [False, True]
    dpo_cards = [a for a in (await school.sent_to())[JO.name] if "Retention run" in read(a)]
    assert len(dpo_cards) == 1  # the DPO hears once


COMMANDS = {"retention preview": RETENTION_PREVIEW, "legal hold INC-2026-0001 because the police asked": LEGAL_HOLD,
            "release legal hold INC-2026-0001": RELEASE_LEGAL_HOLD, "legal holds": LEGAL_HOLDS}


@pytest.mark.parametrize("text", COMMANDS)
@pytest.mark.parametrize("who", [SAM, TOM, PRIYA, GRACE], ids=lambda w: w.name)
async def test_each_command_is_refused_to_anyone_but_the_dpo_and_head_and_audited(
    school: School, text: str, who: Who,
) -> None:
    reference = await closed_report(school)
    assert reference == "INC-2026-0001"
    retention = retention_of(school)
    before = await count(school, AuditRow)
    answer = await say(retention, who, text)
    assert answer == ACCESS[COMMANDS[text]].refused_text(RefusalReason.ROLE)
    assert "Data Protection Officer" in answer
    entries = await AuditTrail(school.database).recent(actor_aad=who.aad)
    assert len(entries) == 1 and await count(school, AuditRow) == before + 1
    assert (entries[0].outcome, entries[0].action, entries[0].reason) == (
        AuditOutcome.REFUSED, COMMANDS[text], RefusalReason.ROLE.value)
    async with school.database.sessions() as session:
        assert await retention_store.active_holds(session) == []


@pytest.mark.parametrize("text", COMMANDS)
async def test_the_head_teacher_may_hold_but_not_preview_and_nobody_outside_the_personal_chat(
    school: School, text: str,
) -> None:
    await closed_report(school)
    retention = retention_of(school)
    head = await say(retention, ANNA, text)
    assert (head == ACCESS[RETENTION_PREVIEW].refused_text(RefusalReason.ROLE)) == (text == "retention preview")
    in_channel = await say(retention, JO, text, "channel")
    assert in_channel == ACCESS[COMMANDS[text]].refused_text(RefusalReason.NOT_PERSONAL_CHAT)
    [entry] = await AuditTrail(school.database).recent(actor_aad=JO.aad)
    assert (entry.outcome, entry.reason) == (AuditOutcome.REFUSED, RefusalReason.NOT_PERSONAL_CHAT.value)


async def test_a_hold_on_a_reference_that_does_not_exist_is_refused_and_audited(school: School) -> None:
    retention = retention_of(school)
    answer = await say(retention, JO, "legal hold INC-2026-0099 because of a claim")
    assert "I can't find INC-2026-0099" in answer
    [entry] = await AuditTrail(school.database).recent(record_ref="INC-2026-0099")
    assert (entry.outcome, entry.reason) == (AuditOutcome.REFUSED, "not_found")
    assert "Type **legal hold**" in await say(retention, JO, "legal hold INC-2026-0001")  # no reason given


class DirectoryDown(StaticRoleDirectory):
    """The school's directory cannot say who holds a role (Graph unreachable)."""

    async def holders_of(self, role: Role) -> list[Person]:
        raise DirectoryUnavailableError("Graph unreachable")


async def test_when_nobody_can_be_told_a_report_is_flagged_at_the_next_run_instead(school: School) -> None:
    reference = await closed_report(school, "pupil_safety", handler=TOM)
    school.clock.advance(days=31)
    down = Retention(school.database, DirectoryDown.from_file(ROLES_FILE), schedule=build_schedule(),
                     calendar=school.incidents.calendar, clock=school.clock.now)
    outcome = await down.run()
    assert reference not in {i.reference for i in outcome.plan.items}
    async with school.database.sessions() as session:
        assert await retention_store.flagged_refs(session) == set()
    again = await retention_of(school).run()
    assert [(i.reference, i.disposal) for i in again.plan.items] == [(reference, Disposal.FLAG)]
    assert again.reviewers_told == 1


async def test_the_duplicate_activity_ledger_is_purged_after_two_days_and_recent_ids_are_kept(school: School) -> None:
    async with school.database.transaction() as session:
        session.add(ProcessedActivityRow(dedupe_key="old", state="done", claimed_at=school.clock.now()))
    school.clock.advance(days=1)
    async with school.database.transaction() as session:
        session.add(ProcessedActivityRow(dedupe_key="recent", state="done", claimed_at=school.clock.now()))
    retention = retention_of(school)

    school.clock.advance(days=1, minutes=1)  # "old" is now past two days, "recent" is not
    outcome = await retention.run()
    assert [i.kind for i in outcome.plan.items if i.kind is RecordKind.ACTIVITY_LEDGER] != []
    async with school.database.sessions() as session:
        keys = set(await session.scalars(select(ProcessedActivityRow.dedupe_key)))
    assert keys == {"recent"}
