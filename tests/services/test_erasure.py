"""Erasure and rectification as the DPO does them (UK GDPR Art. 17 and 16), on SQLite and PostgreSQL.

A member of staff and a pupil appear across the bot's tables. ``erase`` shows what goes and what stays (and why);
the confirm removes, anonymises and redacts in one unit of work, leaving tombstones; afterwards subject access finds
only what the card said is kept (safeguarding and breach reports, a held report, a pending request, the audit
trail). A second click, or two at once, erases once. ``rectify`` changes a misspelt name everywhere it is recorded
for the person, and nothing keeps the old value. Anyone but the DPO is refused and audited.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from cards.erasure import CORRECT_CONFIRM_VERB, ERASE_CONFIRM_VERB, CorrectionForm, EraseConfirm
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.access import RefusalReason
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.retention import HoldKind
from domain.roles import Role
from domain.subject_access import Subject
from services.audit import AuditTrail
from services.erasure import ACCESS, CORRECT, ERASE, Erasure
from services.requests import CardAction
from store import audit as audit_store
from store import retention as retention_store
from store import subject_access as records
from store.approvals import AccountAdministratorRow, AccountDraftRow, AccountRow, ApprovalEventRow, ApprovalRequestRow
from store.audit import AuditRow
from store.consent_store import (
    ConsentCheckLogRow,
    ConsentPupilRow,
    ConsentRegisterVersionRow,
    ConsentStateRow,
    ConsentStore,
)
from store.db import Database
from store.erasure import DataRightsRequestRow
from store.incidents import IncidentEventRow, IncidentRow
from store.retention import REMOVED, TombstoneRow
from tests.support.cardtext import card_texts
from tests.support.incidents_world import ANNA, JO, LEE, ROLES_FILE, SAM, TOM, Who

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def actor(who: Who, kind: str = "personal") -> Actor:
    return Actor(who.aad, who.name, who.teams_id, f"a:{who.teams_id}", kind)


def service(database: Database) -> Erasure:
    return Erasure(database, StaticRoleDirectory.from_file(ROLES_FILE), audit=AuditTrail(database), clock=lambda: NOW)


def incident(n: int, category: str, reporter: Who, *, what: str = "A post about the school.",
             status: str = "closed") -> IncidentRow:
    return IncidentRow(
        id=n, reference=f"INC-2026-{n:04d}", year=2026, number=n, submission_key=f"k{n}", category=category,
        urgency="standard", status=status, immediate_risk=False, dsl_told=None, reporter_aad=reporter.aad,
        reporter_name=reporter.name, what_happened=what, platform="facebook", link="", when_date=None,
        when_detail="", involved="", actions_taken=[], source="form", source_author="",
        received_at=NOW - timedelta(days=40), closed_at=NOW - timedelta(days=20) if status == "closed" else None,
        version=1)


def request(n: int, kind: str, state: str, requester: Who, name: str | None = None) -> ApprovalRequestRow:
    prefix = "ACC" if kind == "new_account" else "PHO"
    return ApprovalRequestRow(
        id=n, reference=f"{prefix}-2026-{n:04d}", client_key=f"c{n}", kind=kind, state=state, round=1,
        requester_aad=requester.aad, requester_name=name or requester.name, payload={"aim": "Year 6 news"},
        created_at=NOW - timedelta(days=30), updated_at=NOW - timedelta(days=29),
        decided_at=NOW - timedelta(days=29) if state != "pending" else None)


async def seed(database: Database) -> None:
    async with database.transaction() as session:
        session.add_all([
            incident(1, "negative_comment", SAM),  # closed, general: anonymised
            incident(2, "bullying_pupil", SAM),  # safeguarding: kept
            incident(3, "negative_comment", LEE, what="Sam Teacher was named in a post."),  # held: kept
            incident(4, "data_breach", SAM),  # breach log: kept
            incident(5, "negative_comment", SAM, status="open"),  # still being handled: kept
            request(6, "new_account", "rejected", SAM),  # decided: deleted with its history
            request(7, "personal_device_photo", "pending", SAM),  # still being decided: kept
            ConsentRegisterVersionRow(id=1, imported_at=NOW, imported_by=JO.aad, source_name="mis.csv",
                                      encoding="utf-8", pupil_count=2, purposes=[], warnings=[]),
        ])
        await session.flush()
        session.add_all([
            IncidentEventRow(incident_id=1, at=NOW - timedelta(days=30), kind="note", actor_aad=SAM.aad,
                             actor_name=SAM.name, what="Reported it.", why=None),
            IncidentEventRow(incident_id=2, at=NOW - timedelta(days=30), kind="note", actor_aad=TOM.aad,
                             actor_name=TOM.name, what="Spoke to Sam Teacher.", why=None),
            ApprovalEventRow(request_id=6, event="submitted", round=1, actor_aad=SAM.aad, actor_name=SAM.name,
                             at=NOW - timedelta(days=30)),
            AccountDraftRow(owner_aad=SAM.aad, for_request=0, data={"aim": "x"}, updated_at=NOW),
            ConsentCheckLogRow(checked_at=NOW, checked_by=SAM.aad, destination="website", account_name=None,
                               purposes=["website"], device="school", media="photo", pupil_ids=["P002"],
                               unresolved_count=0, verdict="ok", reason_codes=[], register_version_id=1),
            ConsentCheckLogRow(checked_at=NOW, checked_by=LEE.aad, destination="website", account_name=None,
                               purposes=["website"], device="school", media="photo", pupil_ids=["P001", "P002"],
                               unresolved_count=0, verdict="ok", reason_codes=[], register_version_id=1),
            ConsentCheckLogRow(checked_at=NOW, checked_by=LEE.aad, destination="website", account_name=None,
                               purposes=["website"], device="school", media="photo", pupil_ids=["P001"],
                               unresolved_count=0, verdict="ok", reason_codes=[], register_version_id=1),
            ConsentPupilRow(version_id=1, pupil_id="P001", first_name="Zoe", preferred_first_name=None,
                            surname="Bronte", class_name="5B", year_group="Year 5", do_not_publish=False),
            ConsentPupilRow(version_id=1, pupil_id="P002", first_name="Alex", preferred_first_name=None,
                            surname="Brown", class_name="5B", year_group="Year 5", do_not_publish=True),
            AuditRow(at=NOW, actor_aad=SAM.aad, actor_name=SAM.name, action="status", record_type="incident",
                     record_ref=None, outcome="refused", reason="role_not_held", detail={}),
        ])
        await session.execute(ConsentStateRow.__table__.update().values(current_version_id=1))
        if session.get_bind().dialect.name == "postgresql":  # the version was given its id: move the sequence on
            await session.execute(text("SELECT setval(pg_get_serial_sequence('consent_register_versions', 'id'), 1)"))
        await retention_store.place_hold(session, kind=HoldKind.INCIDENT, target="INC-2026-0003", person_name=None,
                                         reason="a claim", by_aad=JO.aad, by_name=JO.name, now=NOW)


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(card)
    return found


def _texts(card: dict[str, Any]) -> str:
    """What the DPO reads (Markdown escapes taken out)."""
    return card_texts(card).replace("\\", "")


async def prepared_erasure(database: Database, typed: str = "Sam Teacher because he asked on 1 November") -> tuple[
        int, dict[str, Any]]:
    reply = await service(database).erase(actor(JO), typed)
    [card] = reply.cards
    as_dict = card.to_dict()
    [button] = _actions(as_dict)
    assert button["verb"] == ERASE_CONFIRM_VERB
    return int(button["data"]["request_id"]), as_dict


def confirm(request_id: int, who: Who = JO) -> CardAction:
    data = {"request_id": request_id}
    return CardAction(ERASE_CONFIRM_VERB, data, actor(who), payload=EraseConfirm.model_validate(data))


async def test_erase_shows_what_goes_and_what_stays_and_why(database: Database) -> None:
    await seed(database)
    _, card = await prepared_erasure(database)
    text = _texts(card)
    for expected in ("Anonymise: Incident reports", "INC-2026-0001", "Erase: Approval requests", "ACC-2026-0006",
                     "Keep: Incident reports", "KCSIE", "Art. 33(5)", "On legal hold", "INC-2026-0003",
                     "still being handled", "still being decided", "Audit trail", "Art. 5(2)", "Art. 17(3)"):
        assert expected in text, expected
    async with database.sessions() as session:  # preparing changed nothing but the request and the audit entry
        assert (await session.get(IncidentRow, 1)).reporter_name == SAM.name  # type: ignore[union-attr]
        [entry] = [e for e in await audit_store.recent(session, limit=5) if e.action == "erase"]
    assert (entry.outcome, entry.reason) == (AuditOutcome.VIEWED, "prepared")
    assert SAM.aad in entry.detail["subject_ids"] and "Sam" not in str(entry.detail)


async def test_the_confirm_erases_leaves_tombstones_and_subject_access_finds_only_what_is_kept(
        database: Database) -> None:
    await seed(database)
    request_id, _ = await prepared_erasure(database)
    result = await service(database).confirm_erase(confirm(request_id))
    assert result.card is not None and "done" in _texts(result.card.to_dict())
    async with database.sessions() as session:
        anonymised = await session.get(IncidentRow, 1)
        assert anonymised is not None and anonymised.reporter_name == REMOVED and anonymised.reporter_aad == ""
        assert anonymised.category == "negative_comment" and anonymised.closed_at is not None  # counts survive
        assert await session.scalar(select(func.count()).select_from(IncidentEventRow)
                                    .where(IncidentEventRow.incident_id == 1)) == 0
        for kept in (2, 3, 4, 5):  # safeguarding, held, breach, open: untouched
            row = await session.get(IncidentRow, kept)
            assert row is not None and row.reporter_name in (SAM.name, LEE.name) and row.what_happened != REMOVED
        assert await session.get(ApprovalRequestRow, 6) is None
        assert await session.scalar(select(func.count()).select_from(ApprovalEventRow)
                                    .where(ApprovalEventRow.request_id == 6)) == 0
        assert await session.get(ApprovalRequestRow, 7) is not None
        assert await session.scalar(select(func.count()).select_from(AccountDraftRow)) == 0
        checks = list(await session.scalars(select(ConsentCheckLogRow.checked_by)))
        assert SAM.aad not in checks
        assert await session.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "status")) == 1
        stones = {(t.record_ref, t.action) for t in await session.scalars(select(TombstoneRow))}
        assert {("INC-2026-0001", "anonymised"), ("ACC-2026-0006", "deleted")} <= stones
        assert all("Art. 17" in t.why and "Sam" not in t.why for t in await session.scalars(select(TombstoneRow)))
        done = await session.get(DataRightsRequestRow, request_id)
        assert done is not None and done.state == "done" and done.subject is None
        assert done.reason == "he asked on 1 November"
        # subject access now finds only what the card said is kept
        sam = Subject(SAM.name, frozenset({SAM.aad}), frozenset({SAM.name}))
        left = {(r.table, r.reference) for r in await records.records_naming(session, sam, [])}
    assert {t for t, _ in left} <= {"incidents", "incident_events", "approval_requests", "audit_events",
                                    "consent_register_versions"}
    assert {ref for t, ref in left if t == "incidents"} == {"INC-2026-0002", "INC-2026-0003", "INC-2026-0004",
                                                              "INC-2026-0005"}
    assert {ref for t, ref in left if t == "approval_requests"} == {"PHO-2026-0007"}


async def test_a_pupil_is_erased_from_the_register_and_redacted_from_checks_that_name_others(
        database: Database) -> None:
    await seed(database)
    register = ConsentStore(database)  # a bot instance's cached register
    async with database.sessions() as session:
        assert (await register.register_in(session)).get("P001") is not None
    request_id, card = await prepared_erasure(database, "Zoe Bronte because her parents asked")
    assert "Redact: Photo check log" in _texts(card) and "MIS" in _texts(card)
    await service(database).confirm_erase(confirm(request_id))
    async with database.sessions() as session:
        assert (await register.register_in(session)).get("P001") is None  # the cache reads the register again
        current = await session.scalar(select(ConsentStateRow.current_version_id))
        assert current != 1 and await session.get(ConsentPupilRow, (current, "P002")) is not None  # a new version
        assert await session.get(ConsentPupilRow, (1, "P001")) is None
        assert await session.get(ConsentPupilRow, (1, "P002")) is not None
        pupils = [list(p) for p in await session.scalars(select(ConsentCheckLogRow.pupil_ids))]
    assert ["P002"] in pupils and all("P001" not in p for p in pupils)
    assert len(pupils) == 2  # the check of Zoe alone went; the one with Alex stays, without her


async def test_a_do_not_publish_pupil_is_kept_and_the_card_says_why(database: Database) -> None:
    await seed(database)
    _, card = await prepared_erasure(database, "Alex Brown because asked")
    assert "do-not-publish flag" in _texts(card)


async def test_a_second_click_changes_nothing(database: Database) -> None:
    await seed(database)
    request_id, _ = await prepared_erasure(database)
    erasure = service(database)
    await erasure.confirm_erase(confirm(request_id))
    again = await erasure.confirm_erase(confirm(request_id))
    assert again.card is None and again.message is not None and "already carried out" in again.message
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TombstoneRow)
                                    .where(TombstoneRow.record_ref == "INC-2026-0001")) == 1
        erased = [e for e in await audit_store.recent(session, limit=20)
                  if e.action == "erase" and e.outcome is AuditOutcome.RECORDED]
    assert len(erased) == 1


async def test_two_concurrent_confirms_erase_once(database: Database) -> None:
    await seed(database)
    request_id, _ = await prepared_erasure(database)
    results = await asyncio.gather(service(database).confirm_erase(confirm(request_id)),
                                   service(database).confirm_erase(confirm(request_id)))
    assert sorted(r.card is not None for r in results) == [False, True]
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TombstoneRow)
                                    .where(TombstoneRow.record_ref == "ACC-2026-0006")) == 1
        assert await session.scalar(select(func.count()).select_from(AuditRow).where(
            AuditRow.action == "erase", AuditRow.outcome == "recorded")) == 1


async def test_only_the_dpo_who_prepared_it_may_confirm(database: Database) -> None:
    await seed(database)
    request_id, _ = await prepared_erasure(database)
    refused = await service(database).confirm_erase(confirm(request_id, ANNA))  # not the DPO: the declaration
    assert refused.card is None and refused.message == ACCESS[ERASE_CONFIRM_VERB].refused_text(RefusalReason.ROLE)
    another_dpo = StaticRoleDirectory([DirectoryEntry(TOM.aad, TOM.name, frozenset({Role.DPO}))], description="test")
    other = await Erasure(database, another_dpo, audit=AuditTrail(database), clock=lambda: NOW).confirm_erase(
        confirm(request_id, TOM))  # a DPO, but not the one who prepared it: the request's own check
    assert other.card is None and other.message == (
        "Only the Data Protection Officer who prepared this can confirm it. Nothing was changed.")
    async with database.sessions() as session:
        row = await session.get(DataRightsRequestRow, request_id)
        assert row is not None and row.state == "pending"
        entries = [e for e in await audit_store.recent(session, limit=5) if e.action == ERASE_CONFIRM_VERB]
    assert sorted((e.actor_aad, e.outcome, e.reason, e.record_ref) for e in entries) == sorted([
        (ANNA.aad, AuditOutcome.REFUSED, RefusalReason.ROLE.value, str(request_id)),
        (TOM.aad, AuditOutcome.REFUSED, "not_requester", row.reference)])


@pytest.mark.parametrize("who,kind", [(SAM, "personal"), (ANNA, "personal"), (TOM, "personal"), (JO, "channel")])
async def test_erase_and_rectify_are_refused_to_anyone_but_the_dpo_in_the_personal_chat(
        database: Database, who: Who, kind: str) -> None:
    await seed(database)
    erasure = service(database)
    reason = RefusalReason.NOT_PERSONAL_CHAT if kind == "channel" else RefusalReason.ROLE
    for reply in (await erasure.erase(actor(who, kind), "Sam Teacher because he asked"),
                  await erasure.correct(actor(who, kind), "Sam Teacher")):
        assert reply.cards == [] and reply.texts == [ACCESS[ERASE].refused_text(reason)]
    async with database.sessions() as session:
        entries = [e for e in await audit_store.recent(session, limit=5) if e.action in ("erase", "rectify")]
        assert await session.scalar(select(func.count()).select_from(DataRightsRequestRow)) == 0
    assert sorted((e.action, e.outcome, e.actor_aad, e.reason) for e in entries) == [
        (ERASE, AuditOutcome.REFUSED, who.aad, reason.value), (CORRECT, AuditOutcome.REFUSED, who.aad, reason.value)]


# --- rectification -------------------------------------------------------------------------------------------


async def test_rectify_corrects_a_misspelt_name_everywhere_and_keeps_no_old_value(database: Database) -> None:
    await seed(database)
    async with database.transaction() as session:
        session.add(request(8, "new_account", "approved", SAM, name="Sam Teachr"))
        await session.flush()
        session.add(AccountRow(id=1, platform="Facebook", account_name="Year 6", audience="Parents",
                               visibility="private", approval_request_id=8, approval_reference="ACC-2026-0008",
                               approved_at=NOW, approved_by_name=ANNA.name, created_at=NOW))
        await session.flush()
        session.add(AccountAdministratorRow(account_id=1, aad_object_id=SAM.aad, name="Sam Teachr",
                                            training="confirmed"))
    erasure = service(database)
    reply = await erasure.correct(actor(JO), SAM.aad)
    [card] = reply.cards
    as_dict = card.to_dict()
    boxes = {b["value"]: b["id"] for b in _inputs(as_dict) if b["id"] != "reason"}
    assert "Sam Teachr" in boxes and SAM.name in boxes
    [button] = _actions(as_dict)
    data = {"request_id": button["data"]["request_id"], "reason": "misspelt at the request",
            boxes["Sam Teachr"]: "Sam Teacher", boxes[SAM.name]: SAM.name}
    result = await erasure.confirm_correct(CardAction(CORRECT_CONFIRM_VERB, data, actor(JO),
                                                      payload=CorrectionForm.model_validate(data)))
    assert result.card is not None and "2 records" in str(result.card.to_dict())
    async with database.sessions() as session:
        assert (await session.get(ApprovalRequestRow, 8)).requester_name == SAM.name  # type: ignore[union-attr]
        assert await session.scalar(select(AccountAdministratorRow.name)) == SAM.name
        row = await session.get(DataRightsRequestRow, int(data["request_id"]))
        assert row is not None and row.plan is None and row.subject is None and row.reason == data["reason"]
        [entry] = [e for e in await audit_store.recent(session, limit=5)
                   if e.action == "rectify" and e.outcome is AuditOutcome.RECORDED]
        everything = str([tuple(r) for r in (await session.execute(select(DataRightsRequestRow))).all()])
    assert "Teachr" not in str(entry.detail) and "Sam Teacher" not in str(entry.detail)
    assert entry.detail["fields"][0]["records"] == 2 and "Teachr" not in everything
    again = await erasure.confirm_correct(CardAction(CORRECT_CONFIRM_VERB, data, actor(JO),
                                                     payload=CorrectionForm.model_validate(data)))
    assert again.card is None and "already carried out" in (again.message or "")


async def test_rectify_corrects_a_pupils_name_in_the_register(database: Database) -> None:
    await seed(database)
    register = ConsentStore(database)  # a bot instance's cached register
    async with database.sessions() as session:
        assert (await register.register_in(session)).get("P001") is not None
    erasure = service(database)
    [card] = (await erasure.correct(actor(JO), "Zoe Bronte")).cards
    as_dict = card.to_dict()
    boxes = {b["value"]: b["id"] for b in _inputs(as_dict) if b["id"] != "reason"}
    [button] = _actions(as_dict)
    data = {"request_id": button["data"]["request_id"], "reason": "accents", boxes["Zoe"]: "Zoë",
            boxes["Bronte"]: "Brontë"}
    await erasure.confirm_correct(CardAction(CORRECT_CONFIRM_VERB, data, actor(JO),
                                             payload=CorrectionForm.model_validate(data)))
    async with database.sessions() as session:
        pupil = await session.get(ConsentPupilRow, (1, "P001"))
    assert pupil is not None and (pupil.first_name, pupil.surname) == ("Zoë", "Brontë")
    async with database.sessions() as session:
        cached = (await register.register_in(session)).get("P001")
    assert cached is not None and (cached.pupil.first_name, cached.pupil.surname) == ("Zoë", "Brontë")


async def test_rectify_does_not_touch_safeguarding_reports_or_the_history(database: Database) -> None:
    await seed(database)
    erasure = service(database)
    [card] = (await erasure.correct(actor(JO), SAM.aad)).cards
    as_dict = card.to_dict()
    boxes = {b["value"]: b["id"] for b in _inputs(as_dict) if b["id"] != "reason"}
    [button] = _actions(as_dict)
    data = {"request_id": button["data"]["request_id"], "reason": "new surname", boxes[SAM.name]: "Sam Jones"}
    await erasure.confirm_correct(CardAction(CORRECT_CONFIRM_VERB, data, actor(JO),
                                             payload=CorrectionForm.model_validate(data)))
    async with database.sessions() as session:
        assert (await session.get(IncidentRow, 1)).reporter_name == "Sam Jones"  # type: ignore[union-attr]
        assert (await session.get(IncidentRow, 2)).reporter_name == SAM.name  # type: ignore[union-attr]  # KCSIE
        assert await session.scalar(select(IncidentEventRow.actor_name).where(IncidentEventRow.incident_id == 1)) \
            == SAM.name  # the chronology is append-only
        assert await session.scalar(select(AuditRow.actor_name).where(AuditRow.action == "status")) == SAM.name


def _inputs(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in card["body"] if e.get("type") == "Input.Text"]


async def test_a_hold_placed_after_the_card_keeps_the_records_at_the_confirm(database: Database) -> None:
    await seed(database)
    request_id, _ = await prepared_erasure(database)
    async with database.transaction() as session:
        await retention_store.place_hold(session, kind=HoldKind.PERSON, target=SAM.aad, person_name=SAM.name,
                                         reason="an allegation", by_aad=ANNA.aad, by_name=ANNA.name, now=NOW)
    result = await service(database).confirm_erase(confirm(request_id))
    assert result.card is not None and "On legal hold" in _texts(result.card.to_dict())
    async with database.sessions() as session:
        assert (await session.get(IncidentRow, 1)).reporter_name == SAM.name  # type: ignore[union-attr]
        assert await session.get(ApprovalRequestRow, 6) is not None
        assert await session.scalar(select(func.count()).select_from(TombstoneRow)) == 0


async def test_a_persons_policy_acknowledgements_notices_and_training_go_and_training_they_recorded_stays(
        database: Database) -> None:
    from store.acknowledgements import PolicyAcknowledgementRow, PolicyNoticeRow
    from store.training import TrainingRecordRow

    await seed(database)
    async with database.transaction() as session:
        session.add_all([
            PolicyAcknowledgementRow(aad_object_id=SAM.aad, name=SAM.name, version="v1", acknowledged_at=NOW),
            PolicyNoticeRow(kind="policy_offer", aad_object_id=SAM.aad, name=SAM.name, key="v1", created_at=NOW,
                            times_sent=1),
            TrainingRecordRow(aad_object_id=SAM.aad, name=SAM.name, trained_on=NOW.date(), course="Social media",
                              recorded_by_aad=ANNA.aad, recorded_by_name=ANNA.name, recorded_at=NOW),
            # Lee's training, recorded by Sam: Lee's record, it names Sam only as who recorded it
            TrainingRecordRow(aad_object_id=LEE.aad, name=LEE.name, trained_on=NOW.date(), course="Social media",
                              recorded_by_aad=SAM.aad, recorded_by_name=SAM.name, recorded_at=NOW),
        ])
    request_id, card = await prepared_erasure(database)
    assert "Someone else's record" in _texts(card)
    await service(database).confirm_erase(confirm(request_id))
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PolicyAcknowledgementRow)) == 0
        assert await session.scalar(select(func.count()).select_from(PolicyNoticeRow)) == 0
        trained = list(await session.scalars(select(TrainingRecordRow.aad_object_id)))
    assert trained == [LEE.aad]
