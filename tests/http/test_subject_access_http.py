"""Subject access through the running app: the DPO types ``subject access <person>``, Teams shows the file consent
card, the DPO accepts, Teams sends ``fileConsent/invoke`` with an upload URL (here a local HTTP server stands in
for OneDrive), the bot PUTs the zip there and sends the file's info card. Someone else accepting the DPO's card is
refused and audited, and nothing is uploaded; a declined export is removed."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import SERVICES
from bot.settings import Settings
from store.audit import AuditRow
from store.exports import SubjectAccessExportRow
from tests.fakes.activities import TENANT, personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot

ROLES_FILE = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
SAM = user()  # staff
JO = user("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")  # DPO
ANNA = user("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")  # Head Teacher
CONSENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
INFO_TYPE = "application/vnd.microsoft.teams.card.file.info"


class OneDrive:
    """A local stand-in for the upload session URL Teams gives: records each PUT."""

    def __init__(self) -> None:
        self.puts: list[tuple[str, dict[str, str], bytes]] = []

    async def put(self, request: web.Request) -> web.Response:
        self.puts.append((request.path, dict(request.headers), await request.read()))
        return web.json_response({"id": "file-1"}, status=201)


@pytest.fixture
async def onedrive() -> AsyncIterator[tuple[OneDrive, str]]:
    drive = OneDrive()
    app = web.Application()
    app.router.add_put("/upload/{session}", drive.put)
    async with TestClient(TestServer(app)) as client:
        yield drive, str(client.make_url("/upload/session-1"))


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        dev_mode=True, database_url=sqlite_url, allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE,
    )


def consent_cards(connector: FakeConnector) -> list[dict[str, Any]]:
    return [a for d in connector.sent() for a in d.activity.get("attachments") or []
            if a.get("contentType") == CONSENT_TYPE]


def file_consent(connector: FakeConnector, who: dict[str, Any], card: dict[str, Any], upload_url: str,
                 action: str = "accept") -> dict[str, Any]:
    value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": card["content"]["acceptContext"]}
    if action == "accept":
        value["uploadInfo"] = {"contentUrl": "https://contoso.example/personal/jo/SAR.zip", "name": card["name"],
                               "uploadUrl": upload_url, "uniqueId": "unique-1", "fileType": "zip"}
    conversation = "a:personal-jo" if who is JO else f"a:personal-{who['id']}"
    return personal_activity(connector.url, type_="invoke", name="fileConsent/invoke", sender=who, value=value,
                             conversation_id=conversation)


async def audit_rows(client: TestClient) -> list[AuditRow]:
    async with client.app[SERVICES].database.sessions() as session:
        return list((await session.scalars(select(AuditRow).order_by(AuditRow.id))).all())


async def waiting_exports(client: TestClient) -> int:
    async with client.app[SERVICES].database.sessions() as session:
        return len((await session.scalars(select(SubjectAccessExportRow))).all())


async def test_the_dpo_accepts_the_file_and_it_is_uploaded_then_shown(
    settings: Settings, connector: FakeConnector, onedrive: tuple[OneDrive, str],
) -> None:
    drive, upload_url = onedrive
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="report", sender=SAM))
        await client.post("/api/messages", json=personal_activity(
            connector.url, text="subject access Sam Teacher", sender=JO, conversation_id="a:personal-jo"))
        [card] = consent_cards(connector)
        assert card["name"].startswith("SAR-") and card["name"].endswith(".zip")
        answer = await client.post("/api/messages", json=file_consent(connector, JO, card, upload_url))
        assert answer.status == 200
        assert await waiting_exports(client) == 0  # delivered: the bytes are no longer kept
        entries = await audit_rows(client)
    [(path, headers, body)] = drive.puts
    assert path == "/upload/session-1"
    assert headers["Content-Range"] == f"bytes 0-{len(body) - 1}/{len(body)}"
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        data = json.loads(archive.read("export.json"))
    assert data["subject"]["label"] == "Sam Teacher" and data["subject"]["aad_object_ids"] == [SAM["aadObjectId"]]
    [info] = [a for d in connector.sent() for a in d.activity.get("attachments") or []
              if a.get("contentType") == INFO_TYPE]
    assert info["contentUrl"] == "https://contoso.example/personal/jo/SAR.zip"
    assert info["content"] == {"uniqueId": "unique-1", "fileType": "zip"}
    assert [(e.action, e.outcome, e.reason) for e in entries] == [
        ("subject_access", "exported", "prepared"), ("subject_access_file", "exported", "delivered")]


@pytest.mark.parametrize("who", [SAM, ANNA])
async def test_someone_else_accepting_the_dpos_file_is_refused_audited_and_nothing_is_uploaded(
    settings: Settings, connector: FakeConnector, onedrive: tuple[OneDrive, str], who: dict[str, Any],
) -> None:
    drive, upload_url = onedrive
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(
            connector.url, text="subject access Anna Smith", sender=JO, conversation_id="a:personal-jo"))
        [card] = consent_cards(connector)
        connector.clear()
        answer = await client.post("/api/messages", json=file_consent(connector, who, card, upload_url))
        assert answer.status == 200
        assert await waiting_exports(client) == 1  # still the DPO's to accept
        entries = await audit_rows(client)
    assert drive.puts == []
    assert not [a for d in connector.sent() for a in d.activity.get("attachments") or []]
    refused = entries[-1]
    assert (refused.actor_aad, refused.outcome) == (who["aadObjectId"], "refused")
    assert refused.action in ("fileConsent/invoke", "subject_access_file")


async def test_a_declined_export_is_removed_and_nothing_is_uploaded(
    settings: Settings, connector: FakeConnector, onedrive: tuple[OneDrive, str],
) -> None:
    drive, upload_url = onedrive
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(
            connector.url, text="subject access Anna Smith", sender=JO, conversation_id="a:personal-jo"))
        [card] = consent_cards(connector)
        await client.post("/api/messages", json=file_consent(connector, JO, card, upload_url, action="decline"))
        assert await waiting_exports(client) == 0
    assert drive.puts == []
    assert any("was not sent and has been removed" in text for text in connector.texts())


async def test_staff_typing_subject_access_are_refused_and_shown_nothing(
    settings: Settings, connector: FakeConnector,
) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(
            connector.url, text="subject access Anna Smith", sender=SAM))
        entries = await audit_rows(client)
        assert await waiting_exports(client) == 0
    assert not consent_cards(connector)
    assert [(e.actor_aad, e.outcome) for e in entries] == [(SAM["aadObjectId"], "refused")]
