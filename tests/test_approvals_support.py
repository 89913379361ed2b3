"""Shared pieces of the approvals and accounts tests (no tests here): people, chats, a desk, a fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.actions import Actor, CardAction
from bot.features.accounts import AccountsWiring, build_accounts
from bot.settings import Settings
from directory.static import StaticRoleDirectory
from domain.accounts import runner_field, training_field
from store.conversations import ConversationStore, SchoolSettings, StoredConversation
from store.db import Database
from tests.fakes.activities import BOT_ID, TENANT

REPO_ROOT = Path(__file__).resolve().parents[1]
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
        values[training_field(slot)] = "confirmed"
    values.update(changes)
    return values


def directory() -> StaticRoleDirectory:
    return StaticRoleDirectory.from_file(ROLES_FILE)


def wiring(database: Database, clock: FakeClock | None = None, *, directory_: Any = None) -> AccountsWiring:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database.url)  # type: ignore[call-arg]
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return build_accounts(
        database=database, directory=directory_ or directory(), conversations=ConversationStore(database),
        school_settings=SchoolSettings(database), settings=settings, **kwargs,
    )


def click(person: Person, verb: str, data: dict[str, Any], *, card_activity_id: str | None = None,
          via_submit: bool = False) -> CardAction:
    return CardAction(verb=verb, data=data, actor=person.actor(), activity_id="in-x",
                      card_activity_id=card_activity_id, via_submit=via_submit)


TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
