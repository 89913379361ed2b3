"""The adversary: every way into the bot, tried by each person who must be refused, through the app factory outside
dev mode, with Bot Connector tokens signed by a local key and checked against a local OpenID server.

The cases come from the router's own table (``Router.declarations()``), so a route is covered as soon as it is
registered: every role its declaration does not admit is refused (in the personal chat), and a route only for the
personal chat is refused from a channel to someone it admits. The refusals a service finds against the record it
loads (a report's category, a request that is someone else's) are listed per verb below. A route that nobody may
be refused (reporting, ``whoami``) must be named in ``OPEN``, so a new route cannot go untried unnoticed.

For each case: the answer is a refusal (a message, or the invoke's proper answer: never a server error), nothing
changes (every table's rows compared, except the audit trail itself, the duplicate-activity ledger, the bot's
dialog state and the requests' own history of refusals), and exactly one new line of the audit trail names the
sender, the route and the record.

The full matrix runs on SQLite; PostgreSQL runs one case per route and per kind of refusal (a representative
subset: every route, router and service refusals, personal-chat refusals), in one app instance each.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import SERVICES, create_app
from bot.settings import Settings
from cards.help import START_FLOW_VERB
from dialogs.router import Declared, RouteKind, Router
from directory.static import StaticRoleDirectory
from domain.actors import Actor
from domain.approvals import HistoryEvent
from domain.audit import AuditOutcome, RecordType
from domain.incidents import Category, ReportDetails, rule_for
from domain.roles import Role
from store import approvals as approvals_store
from store import audit as trail
from store import incidents as records
from store.approvals import ApprovalEventRow
from store.audit import AuditRow
from store.base import Base, utcnow
from store.consent_store import ConsentStore
from store.conversations import ProcessedActivityRow, SchoolSettings
from store.outbox import OutboxStatus, list_entries
from store.tables import BotStateRow
from tests.fakes.activities import TENANT, personal_activity
from tests.fakes.connector import FakeConnector
from tests.fakes.credentials import FixedTokenCredentialsFactory
from tests.fakes.openid import OpenIdServer, SigningKey, sign_token
from tests.http_helpers import running_bot
from tests.support import approvals as approvals_support

APP_ID = "11111111-2222-3333-4444-555555555555"
SIMS = Path(__file__).resolve().parents[1] / "data" / "consent" / "sims_export.csv"
AMELIA = "A100000000001"
CHANNEL = "19:staff-room@thread.tacv2"
_SETTLE_TIMEOUT_S = 20.0
_MESSAGE = "application/vnd.microsoft.activity.message"
_ERROR = "application/vnd.microsoft.error"


@dataclass(frozen=True)
class Person:
    name: str
    aad: str
    teams_id: str
    roles: tuple[Role, ...]

    def sender(self) -> dict[str, str]:
        return {"id": self.teams_id, "name": self.name, "aadObjectId": self.aad}

    @property
    def chat(self) -> str:
        return f"a:personal-{self.teams_id[3:]}"


# The requester and reporter of every record (the same Sam as tests/support/approvals.py), and one person per role.
SAM = Person("Sam Teacher", approvals_support.SAM.aad, approvals_support.SAM.teams_id, ())
RUNNER = Person("Lee Carter", approvals_support.LEE.aad, approvals_support.LEE.teams_id, ())  # Sam's co-runner
PEOPLE: dict[Role, Person] = {
    Role.STAFF: Person("Max Staff", "00000000-0000-0000-0000-00000000a001", "29:staff-max", ()),
    Role.HEAD_TEACHER: Person("Hana Head", "00000000-0000-0000-0000-00000000a002", "29:head-hana",
                              (Role.HEAD_TEACHER,)),
    Role.DEPUTY: Person("Dev Deputy", "00000000-0000-0000-0000-00000000a003", "29:deputy-dev", (Role.DEPUTY,)),
    Role.SLT: Person("Sol Senior", "00000000-0000-0000-0000-00000000a004", "29:slt-sol", (Role.SLT,)),
    Role.DSL: Person("Dee Safeguard", "00000000-0000-0000-0000-00000000a005", "29:dsl-dee", (Role.DSL,)),
    Role.DPO: Person("Dora Protect", "00000000-0000-0000-0000-00000000a006", "29:dpo-dora", (Role.DPO,)),
    Role.DATA_ADMIN: Person("Ada Office", "00000000-0000-0000-0000-00000000a007", "29:office-ada",
                            (Role.DATA_ADMIN,)),
    Role.CHAIR_OF_GOVERNORS: Person("Cary Chair", "00000000-0000-0000-0000-00000000a008", "29:chair-cary",
                                    (Role.CHAIR_OF_GOVERNORS,)),
    Role.DEPUTY_DSL: Person("Dan Deputy-Safeguard", "00000000-0000-0000-0000-00000000a009", "29:ddsl-dan",
                            (Role.DEPUTY_DSL,)),
}
EVERYONE = (SAM, RUNNER, *PEOPLE.values())

# Ways in that nobody may be refused: anyone in the school, anywhere, touching no record of anyone else's.
OPEN: dict[str, str] = {
    "incident_risk": "a report form's first question: anyone reports",
    "incident_dsl_told": "a report form's step",
    "incident_choose_category": "a report form's step",
    "incident_category": "a report form's step",
    "incident_topic": "a report form's step: the chooser's first plain question",
    "incident_submit": "sending a report: anyone reports, a new record of their own",
    "incident_subject_confirm": "sending a report after saying who it is about: anyone reports, their own record",
    "incident_media_enquiry": "sending a media enquiry: anyone reports, a new record of their own",
    "report_incident": "anyone reports, from wherever they are",
    "accounts": "the register of school accounts is for everyone",
    "whoami": "the sender's own roles",
    "composeExtension/fetchTask": "Report to SLT on a message: anyone reports",
    "composeExtension/submitAction": "Report to SLT on a message: anyone reports",
    "incident_screenshots": "the sender's own screenshots, only ever read from their personal chat by the edge",
}

# Who the policy lets use each way in (any staff: ``STAFF``), and where ("chat": only in the personal chat). The
# router's declarations must say the same (a test checks): the cases below come from them.
STAFF = frozenset({Role.STAFF})
_HANDLERS = frozenset({Role.SLT, Role.HEAD_TEACHER, Role.DSL, Role.DPO, Role.CHAIR_OF_GOVERNORS,
                       Role.DEPUTY_DSL, Role.DEPUTY})  # a report's route or safeguarding chain may name these too
_HOLDERS = frozenset({Role.DPO, Role.HEAD_TEACHER})
POLICY: dict[str, tuple[frozenset[Role], str]] = {
    **{verb: (_HANDLERS, "anywhere") for verb in ("incident_view", "incident_take_lead", "incident_note",
                                                  "incident_escalate", "incident_close")},
    "incident_screenshot": (_HANDLERS, "chat"),
    **{verb: (_HANDLERS, "chat") for verb in ("incident_decision", "incident_referral_outcome",
                                              "incident_export_record", "incident_mark_transferred",
                                              "incident_add_pupil",
                                              "fileConsent/invoke#record_export")},  # the KCSIE record
    **{verb: (STAFF, "anywhere") for verb in ("incident_risk", "incident_dsl_told", "incident_choose_category",
                                              "incident_category", "incident_topic", "incident_submit",
                                              "incident_subject_confirm",
                                              "incident_media_enquiry", "report_incident",
                                              "composeExtension/fetchTask", "composeExtension/submitAction",
                                              "approval_decide", "approval_refresh", "approval_withdraw",
                                              "approval_edit", "accounts", "whoami")},
    **{route: (STAFF, "chat") for route in ("account_submit", "account_save_draft", "account_discard_draft",
                                            "propose_account", "check_photo", "photo_check_submit",
                                            "photo_check_choose_pupils", "request_device_exception",
                                            "device_exception_resubmit", "photo_check_exception_recheck",
                                            "do_not_photograph", "do_not_photograph_submit",
                                            "do_not_photograph_choose", "my_requests", "my_reports",
                                            "incident_screenshots", "application/search")},
    "do_not_photograph_clear": (frozenset({Role.DATA_ADMIN}), "chat"),
    "consent_register_activate": (frozenset({Role.DATA_ADMIN}), "chat"),
    "consent_csv": (frozenset({Role.DATA_ADMIN}), "chat"),
    "update_consent_register": (frozenset({Role.DATA_ADMIN}), "chat"),
    "photo_requests": (frozenset({Role.DATA_ADMIN, Role.DSL}), "chat"),
    "pupil_consent": (frozenset({Role.DATA_ADMIN, Role.DSL}), "chat"),
    "consent_register": (frozenset({Role.DATA_ADMIN, Role.DSL, Role.DPO}), "chat"),
    "status": (frozenset({Role.SLT, Role.HEAD_TEACHER}), "anywhere"),
    "use_channel": (frozenset({Role.SLT, Role.HEAD_TEACHER}), "anywhere"),
    "delegate": (frozenset({Role.HEAD_TEACHER}), "chat"),
    "end_delegation": (frozenset({Role.HEAD_TEACHER}), "chat"),
    "approvals": (frozenset({Role.HEAD_TEACHER, Role.DEPUTY}), "chat"),
    "open_reports": (frozenset({Role.SLT, Role.HEAD_TEACHER, Role.DSL, Role.DEPUTY_DSL, Role.CHAIR_OF_GOVERNORS}),
                     "chat"),
    "audit": (_HOLDERS, "chat"),
    "retention_preview": (frozenset({Role.DPO}), "chat"),
    "legal_hold": (_HOLDERS, "chat"),
    "release_legal_hold": (_HOLDERS, "chat"),
    "legal_holds": (_HOLDERS, "chat"),
    "subject_access": (frozenset({Role.DPO}), "chat"),
    "fileConsent/invoke": (frozenset({Role.DPO}), "chat"),
    **{route: (frozenset({Role.SLT, Role.HEAD_TEACHER, Role.DSL}), "chat") for route in ("dashboard",
                                                                                       "dashboard_period")},
    **{route: (frozenset({Role.HEAD_TEACHER, Role.CHAIR_OF_GOVERNORS}), "chat")
       for route in ("governors_report", "fileConsent/invoke#governors_report")},
    **{route: (frozenset({Role.DPO}), "chat") for route in ("erase", "rectify", "erase_confirm", "correct_confirm")},
    "close_account": (frozenset({Role.HEAD_TEACHER, Role.SLT}), "chat"),
    "policy_acknowledge": (STAFF, "chat"),  # issue 17: one's own acknowledgement, in one's personal chat
    **{route: (frozenset({Role.SLT, Role.HEAD_TEACHER}), "chat") for route in ("policy_status", "training",
                                                                             "training_submit")},
    "transfer_account": (frozenset({Role.HEAD_TEACHER, Role.SLT}), "chat"),
}

# Text typed for a command whose own answer depends on what follows it.
ARGUMENTS: dict[str, str] = {
    "delegate": "delegate to Dev Deputy until Friday",
    "pupil_consent": "pupil consent Amelia Hughes",
    "do_not_photograph": "do not photograph Amelia Hughes",
    "audit": "audit Max Staff",
    "legal_hold": "legal hold INC-2026-0001 because the police asked",
    "release_legal_hold": "release legal hold INC-2026-0001",
    "erase": "erase Sam Teacher because they asked",
    "training": "training Sam Teacher 12/11/2026 Online safety for staff",
    "rectify": "rectify Sam Teacher",
    "close_account": "close account Holy Trinity Year 6 because it is no longer used",
    "transfer_account": "transfer account Holy Trinity Year 6 to the PTA because the PTA runs it now",
}


@dataclass(frozen=True)
class Report:
    id: int
    reference: str
    screenshot: int  # one screenshot's id


@dataclass(frozen=True)
class World:
    """What the adversary aims at: records seeded before the first case."""

    slt_report: Report
    allegation: Report  # for the Head Teacher only
    about_head: Report  # for the Chair of Governors only
    account_request: int  # Sam's business case
    account_reference: str
    photo_request: int  # Sam's personal-device photo exception (pupils' names)
    photo_reference: str
    about_the_head: Report | None = None  # a negative comment about the Head Teacher (Lee's): never the Head's


@dataclass(frozen=True)
class Case:
    who: Person
    kind: RouteKind
    route: str
    where: str  # "personal" | "channel"
    data: dict[str, Any] = field(default_factory=dict)  # a verb's card data
    text: str = ""  # a command's message
    record_type: RecordType = RecordType.NONE
    record_refs: tuple[str | None, ...] = (None,)  # any one of these (a reference, or the id the card named)
    reasons: tuple[str, ...] = ()  # any one of these; none: the service's own reason, whatever it is
    level: str = "router"  # "router": refused before any service | "record": by the router or the service

    @property
    def id(self) -> str:
        return f"{self.route}-{self.who.name}-{self.where}"


# --- the app ------------------------------------------------------------------------------------------------------


def _roles_file(path: Path) -> Path:
    people = [{"aadObjectId": p.aad, "name": p.name, "roles": [r.value for r in p.roles]} for p in EVERYONE]
    path.write_text(json.dumps({"description": "the adversary suite: one person per role", "people": people}))
    return path


@dataclass
class Adversary:
    client: TestClient
    connector: FakeConnector
    token: str
    world: World | None = None

    @property
    def router(self) -> Router:
        return self.client.app[SERVICES].router

    def activity(self, who: Person, where: str, **fields: Any) -> dict[str, Any]:
        activity = personal_activity(self.connector.url, sender=who.sender(), conversation_id=who.chat, **fields)
        if where == "channel":
            activity["conversation"] = {"id": CHANNEL, "conversationType": "channel", "tenantId": TENANT}
            activity["channelData"] = {"tenant": {"id": TENANT}, "channel": {"id": CHANNEL},
                                       "team": {"id": "19:team@thread.tacv2"}}
        return activity

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        response = await self.client.post("/api/messages", json=activity,
                                          headers={"Authorization": f"Bearer {self.token}"})
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body

    async def say(self, who: Person, text: str, where: str = "personal") -> None:
        status, _ = await self.post(self.activity(who, where, text=text))
        assert status in (200, 201)

    def answers_to(self, activity_id: str) -> list[dict[str, Any]]:
        """What the bot sent in reply to one activity (the outbox's own deliveries are not replies)."""
        return [d.activity for d in self.connector.sent() if d.method == "POST" and d.activity_id == activity_id]

    async def settle(self) -> None:
        """Wait until the outbox has delivered what the seeding queued (so it changes nothing during the cases)."""
        database = self.client.app[SERVICES].database
        deadline = asyncio.get_running_loop().time() + _SETTLE_TIMEOUT_S
        while True:
            async with database.sessions() as session:
                pending = [e for e in await list_entries(session) if e.status is OutboxStatus.PENDING]
            if not pending:
                return
            assert asyncio.get_running_loop().time() < deadline, pending
            await asyncio.sleep(0.05)


async def _seed(bot: Adversary, roles: StaticRoleDirectory) -> World:
    services = bot.client.app[SERVICES]
    database = services.database
    for who in EVERYONE:  # everyone has opened the bot, and has been heard from in the staff room channel
        await bot.say(who, "whoami")
        await bot.say(who, "whoami", where="channel")
    sam = Actor(SAM.aad, SAM.name, SAM.teams_id)
    made: dict[Category, Report] = {}
    for category in (Category.NEGATIVE_COMMENT, Category.ALLEGATION_ABOUT_STAFF, Category.ABOUT_HEAD_TEACHER):
        await services.incidents.report(sam, ReportDetails(category=category, what_happened="Seen online."),
                                        category.value)
    lee = Actor(RUNNER.aad, RUNNER.name, RUNNER.teams_id)  # nobody is sent, or shown, a report about themselves
    await services.incidents.report(lee, ReportDetails(category=Category.NEGATIVE_COMMENT, what_happened="A post.",
                                                       about_staff=[PEOPLE[Role.HEAD_TEACHER].aad]), "about-head")
    async with database.transaction() as session:
        [about_the_head] = await records.reported_by(session, RUNNER.aad)
        head_shot, _ = await records.add_attachment(session, about_the_head.id, records.Person(RUNNER.aad, RUNNER.name),
                                                    "shot.png", "image/png", b"\x89PNG\r\n\x1a\nhead", utcnow())
        for incident in await records.reported_by(session, SAM.aad):
            shot, _ = await records.add_attachment(session, incident.id, records.Person(SAM.aad, SAM.name),
                                                   "shot.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(incident.id),
                                                   utcnow())
            made[incident.category] = Report(incident.id, incident.reference, shot.id)
    built = approvals_support.with_photo_exceptions(approvals_support.wiring(database, directory_=roles))
    account = await approvals_support.submit_case(built)
    photo = await approvals_support.submit_photo_exception(built)
    async with database.sessions() as session:
        account_request = await approvals_store.get_request(session, account)
    assert account_request is not None
    await ConsentStore(database).import_csv(SIMS.read_bytes(), imported_by=PEOPLE[Role.DATA_ADMIN].aad,
                                            source_name="sims.csv")
    await bot.say(SAM, "do not photograph Amelia Hughes")
    await SchoolSettings(database).set(SchoolSettings.SLT_CHANNEL, json.dumps({
        "channel_id": CHANNEL, "team_id": "19:team@thread.tacv2", "conversation_id": CHANNEL,
        "service_url": bot.connector.url, "tenant_id": TENANT,
    }), PEOPLE[Role.SLT].aad)
    await bot.settle()
    bot.connector.clear()
    return World(
        slt_report=made[Category.NEGATIVE_COMMENT], allegation=made[Category.ALLEGATION_ABOUT_STAFF],
        about_head=made[Category.ABOUT_HEAD_TEACHER], account_request=account,
        account_reference=account_request.reference, photo_request=photo.id, photo_reference=photo.reference,
        about_the_head=Report(about_the_head.id, about_the_head.reference, head_shot.id),
    )


@pytest.fixture
def signing_key() -> SigningKey:
    return SigningKey()


@pytest.fixture
async def adversary(database_url: str, connector: FakeConnector, signing_key: SigningKey,
                    tmp_path: Path) -> AsyncIterator[Adversary]:
    openid = OpenIdServer([signing_key]).start()
    roles = _roles_file(tmp_path / "roles.json")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_id=APP_ID, app_password="not-used-in-tests", app_type="SingleTenant", app_tenant_id=TENANT,
        allowed_tenant_ids=[TENANT], database_url=database_url, openid_metadata_url=openid.metadata_url,
        roles_file=roles,
    )
    try:
        async with running_bot(settings, credentials_factory=FixedTokenCredentialsFactory(APP_ID)) as client:
            token = sign_token(signing_key, audience=APP_ID, service_url=connector.url)
            bot = Adversary(client, connector, token)
            bot.world = await _seed(bot, StaticRoleDirectory.from_file(roles))
            yield bot
    finally:
        openid.stop()


# --- the cases ----------------------------------------------------------------------------------------------------


def _verb_data(verb: str, world: World, incident: Report | None = None) -> dict[str, Any]:
    """Card data naming the seeded record a verb acts on, complete enough to reach the service's own check."""
    report = incident or world.slt_report
    account = {"request_id": world.account_request, "round": 1}
    photo = {"request_id": world.photo_request, "round": 1}
    data: dict[str, dict[str, Any]] = {
        "incident_view": {"incident": report.id},
        "incident_take_lead": {"incident": report.id},
        "incident_note": {"incident": report.id, "note": "Looked into it."},
        "incident_escalate": {"incident": report.id, "agency": "police", "escalation_reason": "Threats made.",
                              "external_reference": "CAD 123"},
        "incident_close": {"incident": report.id, "outcome_kind": "resolved", "outcome": "Dealt with."},
        "incident_screenshot": {"incident": report.id, "attachment": report.screenshot},
        "incident_decision": {"incident": report.id, "decision": "Monitor", "decision_reason": "Low risk."},
        "incident_referral_outcome": {"incident": report.id, "referral": 1, "referral_outcome": "Closed by MASH."},
        "incident_export_record": {"incident": report.id},
        "incident_mark_transferred": {"incident": report.id, "transfer_system": "CPOMS", "transfer_reference": "C1"},
        "incident_add_pupil": {"incident": report.id, "pupil": "Cara Dunn"},
        "approval_decide": {**account, "decision": "approve"},
        "approval_refresh": photo,
        "approval_withdraw": account,
        "approval_edit": account,
        "account_submit": {"form_id": "a" * 32, **account},
        "account_save_draft": {"form_id": "a" * 32, **account},
        "account_discard_draft": {"form_id": "a" * 32, **account},
        "photo_check_exception_recheck": photo,
        "device_exception_resubmit": {**photo, "circumstances": "The school tablet was flat."},
        "consent_register_activate": {"version": 1},
        "do_not_photograph_clear": {"pupilId": AMELIA},
        "do_not_photograph_choose": {"typed": "Amelia Hughes", "choice": AMELIA},
        "do_not_photograph_submit": {"pupil": "Amelia Hughes"},
        "dashboard_period": {"period": "this_term"},
        "policy_acknowledge": {"version": "abc123"},
        "training_submit": {"person": SAM.aad, "trained_on": "2026-11-12", "course": "Online safety"},
        "erase_confirm": {"request_id": 1},
        "correct_confirm": {"request_id": 1, "reason": "misspelt", "f1": "Sam Teacher"},
    }
    return dict(data.get(verb, {}))


def _named(declared: Declared, data: dict[str, Any]) -> str | None:
    """The record the card data names, as the router reads it (the payload field, or its camelCase alias)."""
    name = declared.access.record_field
    if name is None or declared.payload is None:
        return None
    info = declared.payload.model_fields[name]
    value = data.get(name, data.get(info.alias or name))
    return None if value is None else str(value)


def _command_text(declared: Declared, router: Router) -> str:
    if declared.name in ARGUMENTS:
        return ARGUMENTS[declared.name]
    phrases = router.describe()["commands"][declared.name]["phrases"]
    return str(phrases[0])


def router_cases(router: Router, world: World) -> list[Case]:
    """From the declarations: every role a route does not admit, and a personal-chat route from a channel."""
    cases: list[Case] = []
    for declared in router.declarations():
        access = declared.access
        data = _verb_data(declared.name, world) if declared.kind is RouteKind.VERB else {}
        text = _command_text(declared, router) if declared.kind is RouteKind.COMMAND else ""
        base = {"kind": declared.kind, "route": declared.name, "data": data, "text": text,
                "record_type": access.record, "record_refs": (_named(declared, data),)}
        if not access.any_staff:
            for role, person in PEOPLE.items():
                if role not in access.roles:
                    cases.append(Case(person, where="personal", reasons=("role_not_held",), **base))
        if access.personal_only and declared.kind is not RouteKind.ATTACHMENTS:  # files: only read in the chat
            admitted = next(p for r, p in PEOPLE.items() if access.any_staff or r in access.roles)
            cases.append(Case(admitted, where="channel", reasons=("not_personal_chat",), **base))
    return cases


_HANDLING = ("incident_view", "incident_take_lead", "incident_note", "incident_escalate", "incident_close",
             "incident_screenshot", "incident_decision", "incident_referral_outcome", "incident_export_record",
             "incident_mark_transferred", "incident_add_pupil")


def record_cases(router: Router, world: World) -> list[Case]:
    """Refusals the policy asks for on a record: whoever the report's category does not name (domain/incidents.py's
    routing table, not the router's declarations: the router refuses those without any handling role, the service
    the others), and someone else's request."""
    cases: list[Case] = []
    categories = {world.slt_report: Category.NEGATIVE_COMMENT, world.allegation: Category.ALLEGATION_ABOUT_STAFF,
                  world.about_head: Category.ABOUT_HEAD_TEACHER}
    for report, category in categories.items():
        for verb in _HANDLING:
            for role, person in PEOPLE.items():
                if role in rule_for(category).handlers:
                    continue
                cases.append(Case(person, RouteKind.VERB, verb, "personal", _verb_data(verb, world, report),
                                  record_type=RecordType.INCIDENT, record_refs=(report.reference, str(report.id)),
                                  reasons=("role_not_held", "not_permitted"), level="record"))
    if world.about_the_head is not None:  # the Head Teacher, whom the report is about, whatever card data they craft
        report = world.about_the_head
        for verb in _HANDLING:
            cases.append(Case(PEOPLE[Role.HEAD_TEACHER], RouteKind.VERB, verb, "personal",
                              _verb_data(verb, world, report), record_type=RecordType.INCIDENT,
                              record_refs=(report.reference, str(report.id)), reasons=("about_them",),
                              level="record"))
    staff = PEOPLE[Role.STAFF]
    photo = (world.photo_reference, str(world.photo_request))
    account = (world.account_reference, str(world.account_request))
    for verb in ("photo_check_exception_recheck", "device_exception_resubmit"):
        cases.append(Case(staff, RouteKind.VERB, verb, "personal", _verb_data(verb, world),
                          record_type=RecordType.APPROVAL_REQUEST, record_refs=photo, reasons=("not_the_requester",),
                          level="record"))
    for verb in ("account_submit", "account_save_draft"):  # a form naming Sam's request: its draft would show it
        cases.append(Case(staff, RouteKind.VERB, verb, "personal", _verb_data(verb, world),
                          record_type=RecordType.APPROVAL_REQUEST, record_refs=account,
                          reasons=("not_the_requester",), level="record"))
    for verb in ("approval_withdraw", "approval_edit"):
        cases.append(Case(staff, RouteKind.VERB, verb, "personal", _verb_data(verb, world),
                          record_type=RecordType.APPROVAL_REQUEST, record_refs=account, level="record"))
    cases.append(Case(staff, RouteKind.VERB, "approval_refresh", "personal", _verb_data("approval_refresh", world),
                      record_type=RecordType.APPROVAL_REQUEST, record_refs=photo, level="record"))
    for role in (Role.STAFF, Role.SLT, Role.DSL, Role.DPO, Role.DATA_ADMIN, Role.CHAIR_OF_GOVERNORS, Role.DEPUTY):
        cases.append(Case(PEOPLE[role], RouteKind.VERB, "approval_decide", "personal",
                          _verb_data("approval_decide", world), record_type=RecordType.APPROVAL_REQUEST,
                          record_refs=account, level="record"))
    cases.append(Case(PEOPLE[Role.DEPUTY], RouteKind.COMMAND, "approvals", "personal", text="approvals",
                      record_type=RecordType.NONE, level="record"))  # a deputy with no delegation running
    return cases


def all_cases(router: Router, world: World) -> list[Case]:
    return router_cases(router, world) + record_cases(router, world)


def representative(cases: Iterable[Case]) -> list[Case]:
    """One case per route and per kind of refusal (router: role, personal chat; service)."""
    seen: set[tuple[str, str, str]] = set()
    chosen: list[Case] = []
    for case in cases:
        key = (case.route, case.where, case.level)
        if key not in seen:
            seen.add(key)
            chosen.append(case)
    return chosen


# --- what must hold for each case ---------------------------------------------------------------------------------


_NOT_COMPARED = {AuditRow.__tablename__, ProcessedActivityRow.__tablename__, BotStateRow.__tablename__}


async def snapshot(bot: Adversary) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the bot keeps (but the trail, the ledger and dialog state); a request's refusals in
    its own history are the desk's record of them, like the trail's, and are left out too."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with bot.client.app[SERVICES].database.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in _NOT_COMPARED:
                continue
            query = select(*table.columns).order_by(*(table.primary_key.columns or table.columns))
            if table.name == ApprovalEventRow.__tablename__:
                query = query.where(ApprovalEventRow.event != HistoryEvent.REFUSED.value)
            found[table.name] = [tuple(row) for row in (await session.execute(query)).all()]
    return found


async def last_entry_id(bot: Adversary) -> int:
    async with bot.client.app[SERVICES].database.sessions() as session:
        return int(await session.scalar(select(func.max(AuditRow.id))) or 0)


async def entries_after(bot: Adversary, after: int) -> list[Any]:
    async with bot.client.app[SERVICES].database.sessions() as session:
        return [entry for entry in await trail.recent(session, limit=20) if entry.id is not None and entry.id > after]


async def attempt(bot: Adversary, case: Case) -> tuple[int, Any, list[dict[str, Any]]]:
    """Send the case's activity; the HTTP status, the invoke's answer (if any) and the replies sent."""
    if case.kind is RouteKind.VERB:
        activity = bot.activity(case.who, case.where, type_="invoke", name="adaptiveCard/action",
                                 value={"action": {"type": "Action.Execute", "verb": case.route, "data": case.data}})
    elif case.kind is RouteKind.COMMAND:
        activity = bot.activity(case.who, case.where, text=case.text)
    elif case.kind is RouteKind.FLOW:
        activity = bot.activity(case.who, case.where, value={"verb": START_FLOW_VERB, "flow": case.route})
    elif case.kind is RouteKind.ATTACHMENTS:
        activity = bot.activity(case.who, case.where, text="")
        activity["attachments"] = [_ATTACHMENTS[case.route](bot.connector.url)]
    else:
        activity = bot.activity(case.who, case.where, type_="invoke", name=case.route.split("#")[0],
                                value=_INVOKE_VALUES.get(case.route, {}))  # "invoke#key": keyed by its context
    status, body = await bot.post(activity)
    return status, body, bot.answers_to(activity["id"])


def _csv_file(_service_url: str) -> dict[str, Any]:
    return {"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "register.csv",
            "content": {"downloadUrl": "https://holytrinity.sharepoint.com/sites/office/register.csv",
                        "fileType": "csv", "uniqueId": "file-1"}}


_ATTACHMENTS = {"consent_csv": _csv_file}
_INVOKE_VALUES: dict[str, dict[str, Any]] = {  # what Teams sends with an invoke the router declares ({} otherwise)
    "composeExtension/fetchTask": {"commandId": "reportMessage", "commandContext": "message"},
    "composeExtension/submitAction": {"commandId": "reportMessage", "data": {}},
    "fileConsent/invoke": {"type": "fileUpload", "action": "decline", "context": {"export": "none"}},
    "fileConsent/invoke#governors_report": {"type": "fileUpload", "action": "decline",
                                            "context": {"governors_report": 0}},
    "fileConsent/invoke#record_export": {"type": "fileUpload", "action": "decline", "context": {"record_export": "x"}},
    "application/search": {"dataset": "policybot.staff", "queryText": "Lee", "queryOptions": {"skip": 0, "top": 10}},
}


async def check(bot: Adversary, case: Case, before: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """Run one case and check what must hold; returns the snapshot after it (the next case's before)."""
    last = await last_entry_id(bot)
    status, body, replies = await attempt(bot, case)
    assert status < 500, (case.id, status, body)
    if case.kind is RouteKind.VERB:
        assert status == 200 and body["statusCode"] == 200 and body["type"] != _ERROR, (case.id, body)
        if case.level == "router":
            assert body["type"] == _MESSAGE and body["value"], (case.id, body)
    elif case.kind is RouteKind.INVOKE:  # a task module's message, or (an invoke answered 200 empty) said in the chat
        assert status == 200, (case.id, status, body)
        task = body.get("task") if isinstance(body, dict) else None
        said = [task["value"]] if isinstance(task, dict) and task.get("type") == "message" else []
        assert said + [r["text"] for r in replies if r.get("text")], (case.id, body, replies)
    else:
        assert status in (200, 201), (case.id, status)
        assert replies, (case.id, "no answer")
        if case.level == "router":
            assert [r.get("text") for r in replies] and not any(r.get("attachments") for r in replies), \
                (case.id, replies)
    after = await snapshot(bot)
    changed = {name: (before[name], rows) for name, rows in after.items() if before.get(name) != rows}
    assert changed == {}, (case.id, changed)
    new = await entries_after(bot, last)
    assert len(new) == 1, (case.id, [(e.action, e.reason) for e in new])
    [entry] = new
    assert (entry.actor_aad, entry.actor_name, entry.action, entry.outcome) == (
        case.who.aad, case.who.name, case.route, AuditOutcome.REFUSED), (case.id, entry)
    if case.level == "router" or case.record_type is not RecordType.NONE:
        assert entry.record_type is case.record_type, (case.id, entry)
    assert entry.record_ref in case.record_refs, (case.id, entry.record_ref, case.record_refs)
    assert entry.reason and (not case.reasons or entry.reason in case.reasons), (case.id, entry.reason)
    return after


async def run(bot: Adversary, cases: list[Case]) -> None:
    before = await snapshot(bot)
    for case in cases:
        before = await check(bot, case, before)


# --- the tests ----------------------------------------------------------------------------------------------------


def test_every_route_is_tried_or_named_open(sqlite_url: str, tmp_path: Path) -> None:
    """A route nobody is refused must be named in OPEN, with why; everything else has cases (from the router)."""
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=_roles_file(tmp_path / "roles.json"))
    router = create_app(settings)[SERVICES].router
    placeholder = World(Report(1, "INC-2026-0001", 1), Report(2, "INC-2026-0002", 2), Report(3, "INC-2026-0003", 3),
                        account_request=1, account_reference="ACC-2026-0001", photo_request=2,
                        photo_reference="PHO-2026-0002")
    assert set(PEOPLE) == set(Role), "one person per role: a new role must be tried against every route too"
    tried = {case.route for case in all_cases(router, placeholder)}
    routes = {declared.name for declared in router.declarations()}
    assert routes - tried == set(OPEN), "a route nobody is refused: name it in OPEN, or give it a case"
    assert not set(OPEN) & tried


def test_the_router_admits_whom_the_policy_names(sqlite_url: str, tmp_path: Path) -> None:
    """Each declaration says what POLICY says: a route loosened by mistake fails here, not only in Teams."""
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=_roles_file(tmp_path / "roles.json"))
    declared = {d.name: (d.access.roles, "chat" if d.access.personal_only else "anywhere")
                for d in create_app(settings)[SERVICES].router.declarations()}
    assert declared == POLICY


async def test_each_role_that_must_be_refused_is_refused_changes_nothing_and_is_audited(
    adversary: Adversary, database_url: str
) -> None:
    assert adversary.world is not None
    cases = all_cases(adversary.router, adversary.world)
    if not database_url.startswith("sqlite"):
        cases = representative(cases)  # PostgreSQL: every route and kind of refusal once (see the module's doc)
    await run(adversary, cases)
