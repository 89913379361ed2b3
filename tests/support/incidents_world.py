"""A small school for the incident tests: the Playground's people and roles, their chats, an SLT channel.

Helpers only (no tests): ``School`` wires the real feature (``register_incidents``) to a migrated database,
the Playground roles file, stored conversation references and a settable clock, and reads back what was
enqueued for delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cards.incidents import Verb
from cards.replies import ActionResult
from dialogs.incidents import register_incidents
from dialogs.router import Router
from dialogs.safeguarding_record import register_safeguarding_record
from directory.static import StaticRoleDirectory
from domain.actors import Actor
from domain.roles import RoleDirectory
from services.audit import AuditTrail
from services.incidents import Incidents, IncidentSettings
from services.requests import CardAction, CommandRequest
from services.safeguarding_record import SafeguardingRecord
from store.card_copies import CardCopyRow
from store.conversations import ConversationStore, SchoolSettings, StoredConversation
from store.db import Database
from store.incidents import IncidentAttachmentRow, IncidentEventRow, IncidentRow
from store.outbox import OutboxEntry, OutboxKind, OutboxRow, list_entries

_RECORD_TABLES = (IncidentRow, IncidentEventRow, IncidentAttachmentRow, OutboxRow, CardCopyRow)

REPO = Path(__file__).resolve().parents[2]
ROLES_FILE = REPO / "playground" / "roles.json"
SERVICE_URL = "https://smba.example.test/emea/"
SLT_CHANNEL = "19:slt-incidents@thread.tacv2"
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 10:00 in London (GMT in November)


@dataclass(frozen=True)
class Who:
    name: str
    aad: str
    teams_id: str


SAM = Who("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")  # staff
LEE = Who("Lee Carter", "00000000-0000-0000-0000-000000000102", "29:staff-lee")  # staff
ANNA = Who("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")  # head teacher + SLT
PRIYA = Who("Priya Shah", "00000000-0000-0000-0000-000000000202", "29:slt-priya")  # SLT + deputy
TOM = Who("Tom Reed", "00000000-0000-0000-0000-000000000203", "29:dsl-tom")  # DSL + SLT
JO = Who("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")  # data admin + DPO
GRACE = Who("Grace Hall", "00000000-0000-0000-0000-000000000301", "29:chair-grace")  # chair of governors
EVERYONE = (SAM, LEE, ANNA, PRIYA, TOM, JO, GRACE)


def personal_chat_id(who: Who) -> str:
    return f"a:personal-{who.teams_id}"


def actor(who: Who, kind: str = "personal") -> Actor:
    conversation = personal_chat_id(who) if kind == "personal" else f"{SLT_CHANNEL};messageid=1"
    return Actor(who.aad, who.name, who.teams_id, conversation, kind)


class Clock:
    def __init__(self, now: datetime = TUESDAY_10AM) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def reference_json(conversation_id: str) -> dict[str, Any]:
    return {
        "serviceUrl": SERVICE_URL, "channelId": "msteams",
        "conversation": {"id": conversation_id, "conversationType": "personal"},
        "bot": {"id": "28:policy-bot", "name": "Policy Bot"},
    }


@dataclass
class School:
    database: Database
    router: Router
    incidents: Incidents
    conversations: ConversationStore
    clock: Clock
    settings: IncidentSettings = field(default_factory=IncidentSettings)
    record: SafeguardingRecord | None = None
    uploads: Uploads | None = None

    @classmethod
    async def open(
        cls, url: str, *, chats: tuple[Who, ...] = EVERYONE, slt_channel: bool = True,
        settings: IncidentSettings | None = None, clock: Clock | None = None,
        database_class: type[Database] = Database, directory: RoleDirectory | None = None,
    ) -> School:
        database = database_class(url)
        await database.migrate()
        conversations = ConversationStore(database)
        for who in chats:
            await conversations.save(StoredConversation(
                conversation_id=personal_chat_id(who), kind="personal", aad_object_id=who.aad, user_name=who.name,
                teams_user_id=who.teams_id, tenant_id="tenant", team_id=None, channel_id=None,
                service_url=SERVICE_URL, reference=reference_json(personal_chat_id(who)), stale=False,
            ))
        if slt_channel:
            await SchoolSettings(database).set(SchoolSettings.SLT_CHANNEL, json.dumps({
                "channel_id": SLT_CHANNEL, "team_id": "team-1", "conversation_id": SLT_CHANNEL,
                "service_url": SERVICE_URL, "tenant_id": "tenant",
            }), ANNA.aad)
        clock = clock or Clock()
        directory = directory or StaticRoleDirectory.from_file(ROLES_FILE)
        trail = AuditTrail(database, clock=clock.now)
        router = Router(directory=directory, trail=trail)
        settings = settings or IncidentSettings()
        incidents = register_incidents(
            router, database=database, directory=directory, conversations=conversations, settings=settings,
            clock=clock.now, trail=trail,
        )
        uploads = Uploads()
        record = SafeguardingRecord(incidents, database, directory=directory, trail=trail,  # the KCSIE record's verbs
                                    uploader=uploads)
        register_safeguarding_record(router, record)
        return cls(database, router, incidents, conversations, clock, settings, record, uploads)

    async def close(self) -> None:
        await self.database.dispose()

    async def act(self, who: Who, verb: Verb, data: dict[str, Any], kind: str = "personal") -> ActionResult:
        return await self.router.dispatch(CardAction(verb.value, data, actor(who, kind)))

    async def report(self, who: Who = SAM, *, category: str = "negative_comment", risk: bool = False,
                     draft: str | None = None, **fields: Any) -> ActionResult:
        """Go through the flow as a person would (first question, category, form) and send the report."""
        reply = await self.router.flow_handler("report_incident")(CommandRequest("report", "", actor(who)))  # type: ignore[misc]
        first = reply.cards[0].to_dict()
        draft = draft or first["actions"][0]["data"]["draft"]
        data: dict[str, Any] = {"draft": draft, "risk": "yes" if risk else "no"}
        await self.act(who, Verb.RISK, data)
        if risk:
            data["dsl_told"] = fields.pop("dsl_told", "yes")
            await self.act(who, Verb.DSL_TOLD, dict(data))
        data["category"] = category
        await self.act(who, Verb.CATEGORY, dict(data))
        form = {"what_happened": "Something happened online.", "platform": "Facebook", **fields}
        if category == "media_enquiry":  # its own short form (cards/media_enquiry.py): who is asking, what about
            enquiry = {"enquirer": form.get("involved") or "A reporter", "about": form["what_happened"]}
            return await self.act(who, Verb.MEDIA_ENQUIRY, {**data, **enquiry})
        return await self.act(who, Verb.SUBMIT, {**data, **form})

    async def records(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the incident records, their chronology, screenshots, outbox and card copies (to show that
        something changed nothing)."""
        found: dict[str, list[tuple[Any, ...]]] = {}
        async with self.database.sessions() as session:
            for table in _RECORD_TABLES:
                columns = list(table.__table__.columns)
                rows = (await session.execute(select(*columns).order_by(*table.__table__.primary_key))).all()
                found[table.__tablename__] = [tuple(row) for row in rows]
        return found

    async def outbox(self) -> list[OutboxEntry]:
        async with self.database.sessions() as session:
            return await list_entries(session)

    async def outbox_activities(self) -> list[tuple[OutboxEntry, dict[str, Any], dict[str, Any] | None]]:
        """Each outbox message with its activity JSON and target (pending messages still hold them)."""
        async with self.database.sessions() as session:
            rows = {row.id: row for row in (await session.scalars(select(OutboxRow))).all()}
        return [(entry, rows[entry.id].activity or {}, rows[entry.id].target) for entry in await self.outbox()]

    async def sent_to(self) -> dict[str, list[dict[str, Any]]]:
        """New messages by where they go: "channel" or the recipient's name (card updates left out)."""
        names = {personal_chat_id(who): who.name for who in EVERYONE}
        found: dict[str, list[dict[str, Any]]] = {}
        for entry, activity, _target in await self.outbox_activities():
            if entry.kind is OutboxKind.POST_TO_CHANNEL:
                found.setdefault("channel", []).append(activity)
            elif entry.kind is OutboxKind.SEND_PERSONAL:
                found.setdefault(names.get(entry.lane, entry.lane), []).append(activity)
        return found


class Uploads:
    """Stands in for the OneDrive upload URL Teams gives a file consent: what was put where."""

    def __init__(self) -> None:
        self.put: list[tuple[str, bytes]] = []

    async def __call__(self, url: str, content: bytes) -> None:
        self.put.append((url, content))


def card_text(activity_or_card: dict[str, Any]) -> str:
    """All the JSON of an activity or card as one string (for "never contains" checks)."""
    return json.dumps(activity_or_card, ensure_ascii=False)


def shown_text(node: object) -> str:
    """The text a person reads in a card or activity (TextBlock texts, fact titles and values), one per line."""
    found: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("text", "title", "value") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(item, list):
            for element in item:
                walk(element)

    walk(node)
    return "\n".join(found)
