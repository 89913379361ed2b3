"""The incident feature as the app factory and the Teams handler wire it: the "Report to SLT" message action
(``composeExtension/fetchTask`` and ``submitAction``) and screenshots pasted in the personal chat, over HTTP,
both routed by the one router (``router.on_invoke``, ``router.on_attachments``)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import SERVICES
from bot.settings import Settings
from store import incidents as records
from tests.fakes.activities import TENANT, personal_activity, user
from tests.http_helpers import running_bot
from tests.support.incidents_world import shown_text

ROLES = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
SAM = user("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
MESSAGE = {
    "id": "1700000000000",
    "from": {"user": {"id": "29:staff-lee", "displayName": "Lee Carter"}},
    "body": {"contentType": "html", "content": "<p>Look at <b>this</b> &amp; that</p>"},
    "linkToMessage": "https://teams.microsoft.com/l/message/19:abc@thread.tacv2/1700000000000",
}


class FakeTeams:
    """A Bot Connector on loopback that also serves pasted images (/v3/attachments/<id>/views/original)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.image_requests = 0

    async def attachment(self, request: web.Request) -> web.Response:
        self.image_requests += 1
        return web.Response(body=PNG, content_type="image/png")

    async def activity(self, request: web.Request) -> web.Response:
        self.sent.append(await request.json())
        return web.json_response({"id": f"act-{len(self.sent)}"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v3/attachments/{id}/views/original", self.attachment)
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self.activity)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{activity_id}", self.activity)
        return app


@pytest.fixture
async def teams() -> AsyncIterator[tuple[FakeTeams, str]]:
    fake = FakeTeams()
    server = TestServer(fake.app())
    await server.start_server()
    yield fake, str(server.make_url("/"))
    await server.close()


def settings(sqlite_url: str) -> Settings:
    return Settings(_env_file=None, dev_mode=True, database_url=sqlite_url,  # type: ignore[call-arg]
                    allowed_tenant_ids=[TENANT], roles_file=ROLES)


def invoke(service_url: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    activity = personal_activity(service_url, type_="invoke", name=name, value=value, sender=SAM)
    activity["conversation"] = {"id": "19:general@thread.tacv2;messageid=1700000000000",
                                "conversationType": "channel", "tenantId": TENANT}
    return activity


async def test_report_to_slt_on_a_message_over_http(sqlite_url: str, teams: tuple[FakeTeams, str]) -> None:
    _fake, service_url = teams
    async with running_bot(settings(sqlite_url)) as client:
        response = await client.post("/api/messages", json=invoke(service_url, "composeExtension/fetchTask", {
            "commandId": "reportMessage", "commandContext": "message", "messagePayload": MESSAGE}))
        assert response.status == 200
        task = (await response.json())["task"]
        card = task["value"]["card"]["content"]
        values = {node["id"]: node.get("value") for node in card["body"] if "id" in node}
        assert values["what_happened"] == "Look at this & that"
        assert values["involved"] == "Message posted by Lee Carter"

        data = {**card["actions"][0]["data"], "risk": "no", "category": "negative_comment",
                "what_happened": values["what_happened"]}
        response = await client.post("/api/messages", json=invoke(service_url, "composeExtension/submitAction", {
            "commandId": "reportMessage", "commandContext": "message", "messagePayload": MESSAGE, "data": data}))
        assert response.status == 200
        receipt = (await response.json())["task"]["value"]["card"]["content"]
        assert "Report received: INC-2026-0001" in shown_text(receipt)
        async with client.app[SERVICES].database.sessions() as session:
            [saved] = await records.reported_by(session, SAM["aadObjectId"])
        assert saved.source_author == "Lee Carter"


async def test_a_screenshot_pasted_after_a_report_is_stored_with_it(
    sqlite_url: str, teams: tuple[FakeTeams, str]
) -> None:
    fake, service_url = teams
    async with running_bot(settings(sqlite_url)) as client:
        incidents = client.app[SERVICES].incidents
        assert incidents is not None
        from domain.actors import Actor
        from domain.incidents import ReportDetails

        await incidents.report(Actor(SAM["aadObjectId"], SAM["name"], SAM["id"], "a:personal-sam", "personal"),
                               ReportDetails(category="offensive_content", what_happened="Abuse."), "d" * 32)
        message = personal_activity(service_url, sender=SAM)
        message["attachments"] = [
            {"contentType": "image/png", "contentUrl": f"{service_url}v3/attachments/1/views/original"},
            {"contentType": "text/html", "content": "<p><img src='x'></p>"},
        ]
        response = await client.post("/api/messages", json=message)
        assert response.status in (200, 201)
        assert fake.image_requests == 1
        assert "Added 1 screenshot to INC-2026-0001" in json.dumps(fake.sent)
        async with client.app[SERVICES].database.sessions() as session:
            [stored] = await records.attachments(session, 1)
        assert stored.size == len(PNG) and stored.content_type == "image/png"
