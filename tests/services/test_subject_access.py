"""Subject access as the DPO sees it: a seeded world of records naming people at random; for each pupil and each
member of staff, the export holds every record naming them (by Entra id, by pupil id, by name in any case and
without accents, as a whole word) and no other; other people in those records are marked for redaction; anyone
but the DPO is refused and audited; the export is audited. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import random
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from directory.static import StaticRoleDirectory
from domain.access import RefusalReason
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.calendar import SchoolCalendar
from domain.retention import RecordKind, build_schedule
from domain.subject_access import fold
from services.audit import AuditTrail
from services.retention import Retention
from services.subject_access import ACCESS, COMMAND, SubjectAccess
from store.approvals import ApprovalRequestRow
from store.audit import AuditRow
from store.consent_store import ConsentCheckLogRow, ConsentPupilRow, ConsentRegisterVersionRow, ConsentStateRow
from store.db import Database
from store.exports import SubjectAccessExportRow
from store.incidents import IncidentRow
from store.safeguarding_record import IncidentPupilRow
from tests.support.incidents_world import ANNA, JO, LEE, ROLES_FILE, SAM, TOM, Who

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
STAFF = (SAM, LEE, ANNA, TOM)


class Pupil:
    def __init__(self, pupil_id: str, first: str, surname: str, preferred: str | None = None) -> None:
        self.pupil_id, self.first, self.surname, self.preferred = pupil_id, first, surname, preferred

    @property
    def name(self) -> str:
        return f"{self.preferred or self.first} {self.surname}"


PUPILS = (Pupil("P001", "Zoë", "Brontë"), Pupil("P002", "Alex", "Brown"), Pupil("P003", "Mohammed", "Patel", "Mo"))


def spelled(name: str, rng: random.Random) -> str:
    """How someone might type a name: any case, accents dropped or not, extra spaces."""
    variant = rng.choice([name, name.upper(), name.lower(), fold(name), fold(name).title()])
    return variant.replace(" ", rng.choice([" ", "  "]))


def dpo() -> Actor:
    return Actor(JO.aad, JO.name, JO.teams_id, "a:jo-personal", "personal")


def as_actor(who: Who, kind: str = "personal") -> Actor:
    return Actor(who.aad, who.name, who.teams_id, f"a:{who.teams_id}", kind)


class World:
    """Rows naming people at random; ``mentions[key]`` is the set of (table, key) rows naming that person."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.mentions: dict[str, set[tuple[str, str]]] = {p.aad: set() for p in STAFF}
        self.mentions |= {p.pupil_id: set() for p in PUPILS}
        self.rows: list[Any] = []
        self.naming: list[set[str]] = []  # for each row, who it names (its key is known once it is saved)

    def _add(self, row: Any, *keys: str) -> None:
        self.rows.append(row)
        self.naming.append(set(keys))

    def _named_text(self, keys: set[str]) -> str:
        people: list[Who | Pupil] = self.rng.sample([*STAFF, *PUPILS], self.rng.randint(0, 2))
        keys |= {person.aad if isinstance(person, Who) else person.pupil_id for person in people}
        decoy = self.rng.choice(["Alex Browning", "Tomas Reedy", "the class", "samantha"])
        return " and ".join([spelled(p.name, self.rng) for p in people] + [decoy]) + " were seen online."

    def build(self) -> None:
        version = ConsentRegisterVersionRow(id=1, imported_at=NOW, imported_by="register import", source_name="mis.csv",
                                            encoding="utf-8", pupil_count=len(PUPILS), purposes=[], warnings=[])
        self._add(version)
        for pupil in PUPILS:
            self._add(ConsentPupilRow(version_id=1, pupil_id=pupil.pupil_id, first_name=pupil.first,
                                      preferred_first_name=pupil.preferred, surname=pupil.surname,
                                      class_name="5B", year_group="Year 5", do_not_publish=False), pupil.pupil_id)
        for n in range(1, 41):
            kind = self.rng.choice(["incident", "check", "request", "audit"])
            at = NOW - timedelta(days=n)
            if kind == "incident":
                reporter = self.rng.choice(STAFF)
                keys = {reporter.aad}
                text = self._named_text(keys)
                self._add(IncidentRow(
                    id=n, reference=f"INC-2026-{n:04d}", year=2026, number=n, submission_key=f"k{n}",
                    category="negative_comment", urgency="standard", status="open", immediate_risk=False,
                    dsl_told=None, reporter_aad=reporter.aad, reporter_name=reporter.name,
                    what_happened=text, platform="facebook", link="",
                    when_date=None, when_detail="", involved="", actions_taken=[], source="form",
                    source_author="", received_at=at, version=1), *keys)
                for pupil in self.rng.sample(PUPILS, self.rng.randint(0, 2)):  # the pupils linked to the report
                    self._add(IncidentPupilRow(incident_id=n, name=spelled(pupil.name, self.rng), added_at=at,
                                               added_by_aad=reporter.aad, added_by_name=reporter.name),
                              reporter.aad, pupil.pupil_id)
            elif kind == "check":
                checker = self.rng.choice(STAFF)
                pupils = self.rng.sample(PUPILS, self.rng.randint(0, 2))
                self._add(ConsentCheckLogRow(
                    checked_at=at, checked_by=checker.aad, destination="website", account_name=None,
                    purposes=["website"], device="school", media="photo", pupil_ids=[p.pupil_id for p in pupils],
                    unresolved_count=0, verdict="ok", reason_codes=[], register_version_id=1),
                    checker.aad, *(p.pupil_id for p in pupils))
            elif kind == "request":
                requester = self.rng.choice(STAFF)
                keys = {requester.aad}
                payload = {"aim": self._named_text(keys)}
                self._add(ApprovalRequestRow(
                    reference=f"ACC-2026-{n:04d}", client_key=f"c{n}", kind="new_account", state="pending",
                    round=1, requester_aad=requester.aad, requester_name=requester.name, payload=payload,
                    created_at=at, updated_at=at), *keys)
            else:
                who = self.rng.choice(STAFF)
                self._add(AuditRow(at=at, actor_aad=who.aad, actor_name=who.name, action="status",
                                          record_type="incident", record_ref=None, outcome="viewed", reason="details",
                                          detail={}), who.aad)

    async def save(self, database: Database) -> None:
        async with database.transaction() as session:
            for row, keys in zip(self.rows, self.naming, strict=True):  # parents first: a version, its pupils
                session.add(row)
                await session.flush()
                key = "|".join(str(getattr(row, c.key)) for c in row.__table__.primary_key.columns)
                for who in keys:
                    self.mentions[who].add((row.__tablename__, key))
            await session.execute(update(ConsentStateRow).values(current_version_id=1))  # the migration made the row


def exported(bundle: bytes) -> tuple[dict[str, Any], str]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert sorted(archive.namelist()) == ["export.json", "report.html"]
        return json.loads(archive.read("export.json")), archive.read("report.html").decode("utf-8")


async def export_of(database: Database, service: SubjectAccess, typed: str) -> tuple[dict[str, Any], str]:
    reply = await service.request(dpo(), f"{typed}")
    [attachment] = reply.attachments
    export_id = attachment["content"]["acceptContext"]["export"]
    async with database.sessions() as session:
        row = await session.get(SubjectAccessExportRow, export_id)
        assert row is not None and attachment["name"] == row.file_name
        return exported(bytes(row.content))


def service_of(database: Database) -> SubjectAccess:
    async def no_upload(url: str, content: bytes) -> None:
        raise AssertionError("no upload in these tests")

    return SubjectAccess(database, StaticRoleDirectory.from_file(ROLES_FILE), audit=AuditTrail(database),
                         uploader=no_upload, clock=lambda: NOW)


@pytest.mark.parametrize("seed", [1, 2])
async def test_every_record_naming_a_person_is_in_their_export_and_no_other(database: Database, seed: int) -> None:
    world = World(seed)
    world.build()
    await world.save(database)
    service = service_of(database)
    for person in (*STAFF, *PUPILS):
        key = person.aad if isinstance(person, Who) else person.pupil_id
        typed = person.name if world.rng.random() < 0.5 or isinstance(person, Pupil) else person.aad
        data, report = await export_of(database, service, spelled(typed, world.rng) if typed == person.name else typed)
        found = {(r["table"], r["key"]) for r in data["records"]}
        assert found == world.mentions[key], (person.name, found ^ world.mentions[key])
        assert data["record_count"] == len(found)
        assert "Alex Browning" not in {t["value"] for r in data["records"] for t in r["third_parties"]}
        assert f"<h1>Subject access export {data['reference']}</h1>" in report


async def test_other_people_in_an_exported_record_are_marked_for_redaction(database: Database) -> None:
    async with database.transaction() as session:
        session.add(IncidentRow(
            id=1, reference="INC-2026-0001", year=2026, number=1, submission_key="k1", category="negative_comment",
            urgency="standard", status="open", immediate_risk=False, dsl_told=None, reporter_aad=SAM.aad,
            reporter_name=SAM.name, what_happened="Anna Smith saw a <b>photo</b> of Sam Teacher",
            platform="facebook", link="", when_date=None, when_detail="", involved="", actions_taken=[], source="form",
            source_author="", received_at=NOW, version=1, lead_aad=LEE.aad, lead_name=LEE.name))
    data, report = await export_of(database, service_of(database), "sam teacher")
    [record] = data["records"]
    parties = {(t["kind"], t["value"]) for t in record["third_parties"]}
    # Anna holds a role (the directory); Lee has none, but the record names him beside his Entra id
    assert parties == {("name", "Lee Carter"), ("name", "Anna Smith"), ("aad_id", LEE.aad)}
    assert '<mark class="third-party" title="another person: review before disclosure">Anna Smith</mark>' in report
    assert "&lt;b&gt;photo&lt;/b&gt;" in report and "<b>photo</b>" not in report  # text, never markup
    assert "Sam Teacher</mark>" not in report


@pytest.mark.parametrize("who,kind", [(SAM, "personal"), (ANNA, "personal"), (TOM, "personal"), (JO, "channel")])
async def test_anyone_but_the_dpo_in_the_personal_chat_is_refused_and_audited(
    database: Database, who: Who, kind: str,
) -> None:
    reply = await service_of(database).request(as_actor(who, kind), "Sam Teacher")
    reason = RefusalReason.NOT_PERSONAL_CHAT if kind == "channel" else RefusalReason.ROLE
    assert not reply.attachments and reply.texts == [ACCESS[COMMAND].refused_text(reason)]
    async with database.sessions() as session:
        exports = (await session.scalars(select(SubjectAccessExportRow))).all()
        [entry] = (await session.scalars(select(AuditRow))).all()
    assert not exports
    assert (entry.actor_aad, entry.action, entry.outcome) == (who.aad, "subject_access", AuditOutcome.REFUSED.value)
    assert entry.reason == reason.value


async def test_the_export_is_audited_without_the_subjects_name(database: Database) -> None:
    data, _ = await export_of(database, service_of(database), "Anna Smith")
    async with database.sessions() as session:
        [entry] = (await session.scalars(select(AuditRow))).all()
    assert (entry.actor_aad, entry.outcome, entry.reason, entry.record_ref) == (
        JO.aad, AuditOutcome.EXPORTED.value, "prepared", data["reference"])
    assert entry.detail == {"records": 0, "subject_ids": [ANNA.aad], "pupil_ids": [], "bytes": entry.detail["bytes"]}
    assert "Anna" not in json.dumps(entry.detail)


async def test_only_the_dpo_who_asked_may_accept_the_file_another_dpo_is_refused_and_audited(
    database: Database, tmp_path: Path,
) -> None:
    roles = tmp_path / "roles.json"
    roles.write_text(json.dumps({"people": [
        {"aadObjectId": JO.aad, "name": JO.name, "roles": ["dpo"]},
        {"aadObjectId": TOM.aad, "name": TOM.name, "roles": ["dpo"]},
    ]}), encoding="utf-8")
    uploads: list[str] = []

    async def upload(url: str, content: bytes) -> None:
        uploads.append(url)

    service = SubjectAccess(database, StaticRoleDirectory.from_file(roles), audit=AuditTrail(database),
                            uploader=upload, clock=lambda: NOW)
    reply = await service.request(dpo(), "Tom Reed")
    context = reply.attachments[0]["content"]["acceptContext"]
    accept = {"type": "fileUpload", "action": "accept", "context": context,
              "uploadInfo": {"uploadUrl": "https://onedrive.example/upload/1", "name": "x.zip",
                             "contentUrl": "https://onedrive.example/x.zip", "uniqueId": "u", "fileType": "zip"}}
    refused = await service.consent(as_actor(TOM), accept)
    assert refused.texts and not refused.attachments and uploads == []
    delivered = await service.consent(dpo(), accept)
    assert uploads == ["https://onedrive.example/upload/1"] and delivered.attachments
    async with database.sessions() as session:
        entries = (await session.scalars(select(AuditRow).order_by(AuditRow.id))).all()
        assert (await session.scalars(select(SubjectAccessExportRow))).all() == []
    assert [(e.actor_aad, e.action, e.outcome, e.reason) for e in entries] == [
        (JO.aad, "subject_access", "exported", "prepared"),
        (TOM.aad, "subject_access_file", "refused", "not_requester"),
        (JO.aad, "subject_access_file", "exported", "delivered"),
    ]


async def test_an_export_not_accepted_is_refused_after_a_day_and_the_retention_run_removes_it(
    database: Database,
) -> None:
    reply = await service_of(database).request(dpo(), "Anna Smith")
    context = reply.attachments[0]["content"]["acceptContext"]
    later = NOW + timedelta(hours=25)
    retention = Retention(database, StaticRoleDirectory.from_file(ROLES_FILE), schedule=build_schedule(),
                          calendar=SchoolCalendar(), clock=lambda: later)
    outcome = await retention.run()
    assert RecordKind.SUBJECT_ACCESS_EXPORTS in {item.kind for item in outcome.plan.items}
    async with database.sessions() as session:
        assert (await session.scalars(select(SubjectAccessExportRow))).all() == []
    answer = await service_of(database).consent(dpo(), {"type": "fileUpload", "action": "accept", "context": context})
    assert "no longer available" in answer.texts[0]
