"""A running app with the people of ``playground/roles.json`` and a look at its audit trail (no tests here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import SERVICES
from bot.settings import Settings
from domain.actors import Actor
from domain.audit import AuditEntry
from domain.incidents import Category, ReportDetails
from store import audit as trail_store
from store import incidents as records
from store.consent_store import ConsentStore
from tests.fakes.activities import TENANT, personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot

ROLES = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
SIMS = Path(__file__).resolve().parents[1] / "data" / "consent" / "sims_export.csv"
SAM = user("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")  # staff
LEE = user("Lee Carter", "00000000-0000-0000-0000-000000000102", "29:staff-lee")  # staff
ANNA = user("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")  # Head Teacher, SLT
TOM = user("Tom Reed", "00000000-0000-0000-0000-000000000203", "29:dsl-tom")  # DSL, SLT
JO = user("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")  # data admin, DPO
GRACE = user("Grace Hall", "00000000-0000-0000-0000-000000000301", "29:chair-grace")  # chair of governors
AMELIA = "A100000000001"


CHANNEL = "19:staff-room@thread.v2"


@dataclass
class Bot:
    client: TestClient
    connector: FakeConnector
    _answered: str = ""

    async def say(self, who: dict[str, Any], text: str, *, kind: str = "personal") -> list[str]:
        """Send a message; the texts the bot answered in that conversation (what it sent elsewhere, such as the
        outbox's deliveries, is left out)."""
        self.connector.clear()
        conversation = f"a:{who['id']}" if kind == "personal" else CHANNEL
        activity = personal_activity(self.connector.url, text=text, sender=who, conversation_id=conversation)
        if kind != "personal":
            activity["conversation"] = {"id": CHANNEL, "conversationType": kind, "tenantId": TENANT}
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()
        self._answered = activity["id"]
        return [d.activity.get("text") or "" for d in self._answers() if not d.activity.get("attachments")]

    def _answers(self) -> list[Any]:
        """What the bot sent in answer to the last message (replies to it; the outbox's deliveries are not)."""
        return [d for d in self.connector.sent() if d.method == "POST" and d.activity_id == self._answered]

    async def click(self, who: dict[str, Any], verb: str, data: dict[str, Any], *,
                    kind: str = "personal") -> dict[str, Any]:
        activity = personal_activity(
            self.connector.url, type_="invoke", name="adaptiveCard/action", sender=who,
            conversation_id=f"a:{who['id']}", value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
        )
        if kind != "personal":
            activity["conversation"] = {"id": CHANNEL, "conversationType": kind, "tenantId": TENANT}
        response = await self.client.post("/api/messages", json=activity)
        assert response.status == 200, await response.text()
        return await response.json()

    async def report(self, category: Category, who: dict[str, Any] = SAM) -> records.Incident:
        incidents = self.client.app[SERVICES].incidents
        actor = Actor(who["aadObjectId"], who["name"], who["id"])
        await incidents.report(actor, ReportDetails(category=category, what_happened="Seen online."), category.value)
        async with self.client.app[SERVICES].database.sessions() as session:
            [incident] = [i for i in await records.reported_by(session, who["aadObjectId"]) if i.category is category]
        return incident

    async def incident(self, incident_id: int) -> records.Incident:
        async with self.client.app[SERVICES].database.sessions() as session:
            found = await records.get(session, incident_id)
        assert found is not None
        return found

    async def import_register(self) -> None:
        await ConsentStore(self.client.app[SERVICES].database).import_csv(
            SIMS.read_bytes(), imported_by=JO["aadObjectId"], source_name="sims.csv")

    def cards(self) -> list[dict[str, Any]]:
        """The cards the bot answered the last message with, in that conversation."""
        return [a["content"] for d in self._answers() for a in d.activity.get("attachments") or []]

    async def trail(self) -> list[tuple[Any, ...]]:
        """The trail, oldest first: who, their name, what, which kind of record, which record, the outcome, why."""
        async with self.client.app[SERVICES].database.sessions() as session:
            entries: list[AuditEntry] = await trail_store.recent(session, limit=500)
        return [(e.actor_aad, e.actor_name, e.action, e.record_type, e.record_ref, e.outcome, e.reason)
                for e in reversed(entries)]


@asynccontextmanager
async def audit_world(database_url: str, connector: FakeConnector) -> AsyncIterator[Bot]:
    """The app (dev mode) with everyone's personal chat opened."""
    settings = Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES)
    async with running_bot(settings) as client:
        world = Bot(client, connector)
        for who in (SAM, LEE, ANNA, TOM, JO, GRACE):
            await world.say(who, "hello")
        yield world


