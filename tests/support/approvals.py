"""Shared pieces of the approvals and accounts tests (no tests here): people, chats, a desk, a fake clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.outbox_worker import BotFrameworkSender, OutboxWorker
from bot.settings import Settings
from dialogs.accounts import register_account_routes
from dialogs.approvals import register_approvals
from directory.static import StaticRoleDirectory
from domain.accounts import StaffMember, runner_field, validate_form
from domain.actors import Actor
from domain.approvals import ApprovalKind, ApprovalRecord
from services.accounts import AccountsWiring, RunnerRecordsLookup, build_accounts
from services.audit import AuditTrail
from services.requests import CardAction
from services.training import TrainingRecords
from store import training as training_store
from store.conversations import ConversationStore, SchoolSettings, StoredConversation
from store.db import Database
from store.outbox import OutboxEntry, OutboxRow, list_entries
from tests.fakes.activities import BOT_ID, TENANT, personal_activity
from tests.http_helpers import running_bot

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLES_FILE = REPO_ROOT / "playground" / "roles.json"
SLT_CHANNEL_ID = "19:slt-incidents@thread.tacv2"


@dataclass(frozen=True)
class Person:
    name: str
    aad: str
    teams_id: str

    @property
    def chat_id(self) -> str:
        return f"a:personal-{self.teams_id.split(':')[1]}"

    def sender(self) -> dict[str, str]:
        return {"id": self.teams_id, "name": self.name, "aadObjectId": self.aad}

    def actor(self) -> Actor:
        return Actor(aad_object_id=self.aad, name=self.name, teams_user_id=self.teams_id,
                     conversation_id=self.chat_id, conversation_kind="personal")


SAM = Person("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")
LEE = Person("Lee Carter", "00000000-0000-0000-0000-000000000102", "29:staff-lee")
ANNA = Person("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")
PRIYA = Person("Priya Shah", "00000000-0000-0000-0000-000000000202", "29:slt-priya")
TOM = Person("Tom Reed", "00000000-0000-0000-0000-000000000203", "29:dsl-tom")


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def reference(person: Person, service_url: str) -> dict[str, Any]:
    return {
        "activityId": "in-1",
        "user": person.sender(),
        "bot": {"id": BOT_ID, "name": "Policy Bot"},
        "conversation": {"id": person.chat_id, "conversationType": "personal", "tenantID": TENANT},
        "channelId": "msteams",
        "locale": "en-GB",
        "serviceUrl": service_url,
    }


async def save_chat(conversations: ConversationStore, person: Person, service_url: str) -> None:
    """As if the person had opened the bot: their personal chat is stored."""
    await conversations.save(StoredConversation(
        conversation_id=person.chat_id, kind="personal", aad_object_id=person.aad, user_name=person.name,
        teams_user_id=person.teams_id, tenant_id=TENANT, team_id=None, channel_id=None, service_url=service_url,
        reference=reference(person, service_url), stale=False,
    ))


async def save_slt_channel(database: Database, service_url: str) -> None:
    import json

    await SchoolSettings(database).set(SchoolSettings.SLT_CHANNEL, json.dumps({
        "channel_id": SLT_CHANNEL_ID, "channel_name": "SLT Incidents", "team_id": "team-holy-trinity",
        "conversation_id": SLT_CHANNEL_ID, "service_url": service_url, "tenant_id": TENANT,
    }), ANNA.aad)


def case_values(*runners: Person, **changes: str) -> dict[str, str]:
    """A complete business case as the form sends it."""
    runners = runners or (SAM, LEE)
    values = {
        "platform": "facebook", "account_name": "Holy Trinity Year 6", "aim": "Share Year 6 learning with families",
        "audience": "Parents of Year 6", "promotion": "Newsletter and letters home", "visibility": "private",
        "monitoring_plan": "Checked daily at 4pm", "holiday_monitoring": "Checked twice a week in holidays",
    }
    for slot, person in enumerate(runners, start=1):
        values[runner_field(slot)] = person.aad
    values.update(changes)
    return values


def directory() -> StaticRoleDirectory:
    return StaticRoleDirectory.from_file(ROLES_FILE)


TRAINED_ON = date(2026, 11, 2)
TRAINING_COURSE = "Social media for staff"
POLICY_VERSION = "test-policy-1"  # the policy version the accounts tests' records are kept against


def runner_records(database: Database, directory_: Any = None, version: str = POLICY_VERSION) -> RunnerRecordsLookup:
    """The business case's lookup of the runners' standing in the school's records (as the app builds it)."""
    return TrainingRecords(database, directory_ or directory(), audit=AuditTrail(database)).records_for(version)


async def train(database: Database, *people: Person, on: date = TRAINED_ON,
                course: str = TRAINING_COURSE) -> None:
    """SLT recorded these people's social media training (so a case naming them needs no "training to follow")."""
    async with database.transaction() as session:
        for person in people:
            await training_store.add(session, aad_object_id=person.aad, name=person.name, trained_on=on,
                                     course=course, recorded_by_aad=PRIYA.aad, recorded_by_name=PRIYA.name,
                                     now=datetime.now(UTC))


def wiring(database: Database, clock: FakeClock | None = None, *, directory_: Any = None,
           **setting_values: Any) -> AccountsWiring:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database.url,  # type: ignore[call-arg]
                        **setting_values)
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return build_accounts(
        database=database, directory=directory_ or directory(), conversations=ConversationStore(database),
        school_settings=SchoolSettings(database), settings=settings,
        runner_records=runner_records(database, directory_), **kwargs,
    )


def click(person: Person, verb: str, data: dict[str, Any], *, card_activity_id: str | None = None,
          via_submit: bool = False) -> CardAction:
    return CardAction(verb=verb, data=data, actor=person.actor(), activity_id="in-x",
                      card_activity_id=card_activity_id, via_submit=via_submit)


TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


# --- talking to the running bot over HTTP -------------------------------------------------------------------


def bot_settings(database_url: str) -> Settings:
    return Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                    allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE)


@asynccontextmanager
async def accounts_bot(settings: Settings, *, trained: tuple[Person, ...] = (SAM, LEE)) -> \
        AsyncIterator[tuple[TestClient, AccountsWiring]]:
    """The real app, with the accounts feature registered (as create_app will do once it is wired there).

    Args:
        trained: people whose social media training is recorded before the test starts.
    """
    from bot.app import SERVICES, policy_edition
    from cards.accounts import ACCOUNT_SUBMIT_VERB

    async with running_bot(settings) as client:
        services = client.app[SERVICES]
        records = runner_records(services.database, services.directory, policy_edition(services.settings).version)
        built = build_accounts(database=services.database, directory=services.directory,
                               conversations=services.conversations, school_settings=SchoolSettings(services.database),
                               settings=services.settings, runner_records=records)
        if not services.router.handles(ACCOUNT_SUBMIT_VERB):
            register_approvals(services.router, built.desk)
            register_account_routes(services.router, built.accounts)
        await train(services.database, *trained)
        yield client, built


async def say(client: TestClient, service_url: str, person: Person, text: str) -> None:
    response = await client.post("/api/messages", json=personal_activity(
        service_url, text=text, sender=person.sender(), conversation_id=person.chat_id))
    assert response.status in (200, 201), await response.text()


async def meet(client: TestClient, service_url: str, *people: Person) -> None:
    """These people open the bot (so it has their personal chats and knows their names)."""
    for person in people:
        await say(client, service_url, person, "hello")


async def execute(client: TestClient, service_url: str, person: Person, verb: str, data: dict[str, Any], *,
                  reply_to: str | None = None, activity_id: str | None = None) -> dict[str, Any]:
    """Click an Action.Execute button: returns the invoke's answer (``type`` and ``value``)."""
    activity = personal_activity(
        service_url, type_="invoke", name="adaptiveCard/action", sender=person.sender(),
        conversation_id=person.chat_id, activity_id=activity_id,
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
    )
    if reply_to:
        activity["replyToId"] = reply_to
    response = await client.post("/api/messages", json=activity)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    assert body["statusCode"] == 200
    return body


async def submit(client: TestClient, service_url: str, person: Person, verb: str, data: dict[str, Any], *,
                 reply_to: str | None = None) -> None:
    """Click the Action.Submit fallback (older clients): a message with the data as its value."""
    activity = personal_activity(service_url, value={"verb": verb, **data}, sender=person.sender(),
                                 conversation_id=person.chat_id)
    if reply_to:
        activity["replyToId"] = reply_to
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201), await response.text()


def card_text(card: dict[str, Any]) -> str:
    """Every string in a card, joined, Markdown escapes removed (to assert what a person would read)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            parts.append(re.sub(r"\\(.)", r"\1", node))

    walk(card)
    return " | ".join(parts)


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    for action in card.get("actions") or []:
        if action["title"] == title:
            return action
    raise AssertionError(f"no button {title!r} in {[a['title'] for a in card.get('actions') or []]}")


async def outbox(database: Database) -> list[OutboxEntry]:
    async with database.sessions() as session:
        return await list_entries(session)


async def outbox_activities(database: Database) -> list[tuple[OutboxEntry, dict[str, Any] | None, Any]]:
    """Each outbox message with its (undelivered) activity and target."""
    async with database.sessions() as session:
        entries = await list_entries(session)
        rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
    by_id = {row.id: row for row in rows}  # read second: a message added in between has no entry and is left out
    return [(entry, by_id[entry.id].activity, by_id[entry.id].target) for entry in entries if entry.id in by_id]


def outbox_card(activity: dict[str, Any] | None) -> dict[str, Any]:
    assert activity is not None
    return activity["attachments"][0]["content"]


def delivery_worker(client: TestClient) -> OutboxWorker:
    from bot.app import SERVICES

    services = client.app[SERVICES]
    return OutboxWorker(services.database, BotFrameworkSender(services.adapter, services.settings.app_id))


NOWHERE = "http://127.0.0.1:9/connector"  # a service URL nothing listens on: tests that deliver nothing


async def seeded(database: Database, clock: FakeClock | None = None, *, directory_: Any = None,
                 **setting_values: str) -> AccountsWiring:
    """The desk and accounts kind, with Sam, Lee, Anna and Priya's chats and an SLT channel saved, and Sam and Lee's
    social media training recorded (the business case's runners)."""
    built = wiring(database, clock, directory_=directory_, **setting_values)
    await train(database, SAM, LEE)
    for person in (SAM, LEE, ANNA, PRIYA):
        await save_chat(built.desk._conversations, person, NOWHERE)  # noqa: SLF001 - test set-up
    await save_slt_channel(database, NOWHERE)
    return built


EXCEPTION_PUPILS = (("P-1001", "Amelia Hughes", "3B"), ("P-1002", "Tobi Adeyemi-Clarke", "3B"))
EXCEPTION_CIRCUMSTANCES = "The school tablet froze in the Year 3 assembly; my phone was the only camera in the hall."


def with_photo_exceptions(built: AccountsWiring, clock: FakeClock | None = None) -> AccountsWiring:
    """The desk with the personal-device photo exception kind registered too (as the app registers it)."""
    from services.photo_check import DeviceExceptions

    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    built.desk.register_kind(DeviceExceptions(built.desk.database, days=7, calendar=built.desk.calendar, **kwargs))
    return built


async def submit_photo_exception(built: AccountsWiring, requester: Person | None = None) -> ApprovalRecord:
    """A personal-device photo exception naming two pupils (``EXCEPTION_PUPILS``), as the photo check sends it."""
    from cards.consent import DeviceExceptionCase, ExceptionPupil
    from domain.consent import DestinationKind

    case = DeviceExceptionCase(
        destination=DestinationKind.SCHOOL_WEBSITE, purposes=("school_website",),
        purpose_titles=("the school website",), circumstances=EXCEPTION_CIRCUMSTANCES,
        pupils=tuple(ExceptionPupil(pupil_id=i, name=name, class_label=label) for i, name, label in EXCEPTION_PUPILS),
    )
    sent = await built.desk.submit(ApprovalKind.PERSONAL_DEVICE_PHOTO, (requester or SAM).actor(),
                                   case.model_dump(mode="json"))
    return sent.request


async def submit_case(built: AccountsWiring) -> int:
    """Sam's account business case, submitted to the desk; its request id."""
    people = {p.aad: StaffMember(p.aad, p.name) for p in (SAM, LEE)}
    case = validate_form(case_values(), people).case
    assert case is not None
    case = case.with_records({})  # nothing recorded for either runner
    return (await built.desk.submit(ApprovalKind.NEW_ACCOUNT, SAM.actor(), case.model_dump(mode="json"))).request.id
