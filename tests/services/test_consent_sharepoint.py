"""The consent register read from a SharePoint list (issue 7), through a real GraphServiceClient and a fake Graph.

The fake answers what msgraph-sdk really sends for a list (its columns, then its items with their fields, page by
page through ``@odata.nextLink``) over an ``httpx.MockTransport``, and records every request. Built-in SharePoint
columns are there as in a real list (ID, Created, ...: read-only), the Title column is renamed "UPN", and internal
names are SharePoint's encoded ones (``Consent_x003a__x0020_Website`` for "Consent: Website").
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from alembic import command
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient

from bot.app import create_app
from bot.settings import Settings, SettingsError
from bot.workers import ConsentSyncWorker, Workers
from dialogs.consent_admin import register_consent_sync, register_consent_sync_routes
from dialogs.router import Router
from directory.consent_sharepoint import SharePointConsentReader
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.actors import Actor
from domain.calendar import SchoolCalendar
from domain.consent import ConsentState
from domain.consent_import import size_in_words
from domain.consent_sharepoint import ListColumn, ListItem, ListRejected, parse_list_items
from domain.roles import Role
from services.audit import AuditTrail
from services.consent_sync import IMPORTED_BY, ConsentSync, Imported, Rejected, Unavailable, Unchanged
from services.requests import CommandRequest
from store.consent_store import ConsentStore
from store.db import Database, alembic_config

GRAPH = "https://graph.fake.test/v1.0"
SITE = "holytrinity.sharepoint.com,1b2c3d4e-0000-0000-0000-000000000001,5f6a7b8c-0000-0000-0000-000000000002"
LIST = "Photo consent"
SECRET = "not-a-real-secret-but-never-logged"
JO = "00000000-0000-0000-0000-000000000204"  # data admin
SAM = "00000000-0000-0000-0000-000000000101"  # staff
CONSENT_REVISION = "0003_consent"
AUDIT_REVISION = "0008_audit"
LONDON = SchoolCalendar()

# (internal name, display name); the order of the list in SharePoint
COLUMNS: list[tuple[str, str]] = [
    ("Title", "UPN"),
    ("Surname", "Legal Surname"),
    ("Forename", "Legal Forename"),
    ("Preferred", "Preferred Forename"),
    ("RegGroup", "Reg Group"),
    ("Year", "Year"),
    ("Consent_x003a__x0020_Display", "Consent: Display in school"),
    ("Consent_x003a__x0020_Website", "Consent: Website"),
    ("Consent_x003a__x0020_SocialMedia", "Consent: School social media"),
    ("Consent_x003a__x0020_Newsletter", "Consent: Newsletter/prospectus"),
    ("Consent_x003a__x0020_Press", "Consent: Press"),
    ("Consent_x003a__x0020_Video", "Consent: Video"),
    ("DoNotPublish", "Do Not Publish"),
    ("DoNotPublishReason", "Do Not Publish Reason"),
    ("Notes", "Office notes"),  # not the register's: never asked for
]
BUILT_IN = [  # SharePoint's own columns: "ID" must not be taken for the pupil id
    {"name": "ID", "displayName": "ID", "readOnly": True, "hidden": False},
    {"name": "Created", "displayName": "Created", "readOnly": True, "hidden": False},
    {"name": "Modified", "displayName": "Modified", "readOnly": True, "hidden": False},
    {"name": "ContentType", "displayName": "Content Type", "readOnly": False, "hidden": True},
]


def pupil(upn: str, surname: str, forename: str, reg: str, year: float, consents: list[Any], *,
          dnp: bool = False, reason: str | None = None, preferred: str | None = None) -> dict[str, Any]:
    purposes = [name for name, _ in COLUMNS if name.startswith("Consent_")]
    return {
        "Title": upn, "Surname": surname, "Forename": forename, "Preferred": preferred, "RegGroup": reg,
        "Year": year, **dict(zip(purposes, consents, strict=True)), "DoNotPublish": dnp,
        "DoNotPublishReason": reason, "Notes": "Mum phoned about the trip",
    }


G = "Granted"


def school_list() -> list[dict[str, Any]]:
    return [
        pupil("A100000000001", "Hughes", "Amelia", "3B", 3.0, [G, G, G, G, G, G]),
        pupil("A100000000002", "Smith", "Oliver", "4C", 4.0, [G, G, G, G, "Refused", G], preferred="Olly"),
        pupil("A100000000004", "O'Brien", "Zoë", "3B", 3.0, [G, G, "Withdrawn 14/01/2025", G, "Not asked", G]),
        pupil("A100000000005", "Nowak", "Kacper", "6A", 6.0, [G, "Refused", "Refused", G, "Refused", G],
              dnp=True, reason="Court order"),
        pupil("A100000000006", "Begum", "Ayesha", "6A", 6.0, [G, None, None, None, None, None]),
    ]


@dataclass
class FakeSharePoint:
    """Enough of Graph's sites/lists API for one list, with switchable outages."""

    items: list[dict[str, Any]] = field(default_factory=school_list)
    page_size: int = 2
    failure: int | str | None = None  # an HTTP status, "timeout" or "connect"
    failure_headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert "authorization" not in {name.lower() for name in request.headers} or SECRET not in str(request.headers)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failure == "timeout":
            await asyncio.sleep(60)
        if self.failure == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if isinstance(self.failure, int):
            return httpx.Response(self.failure, headers=self.failure_headers,
                                  json={"error": {"code": "generalException", "message": "unavailable"}})
        found = re.fullmatch(r"/v1\.0/sites/([^/]+)/lists/([^/]+)/(columns|items)", request.url.path)
        if request.method != "GET" or found is None:
            return _error(400, "invalidRequest", f"the fake does not know {request.method} {request.url.path}")
        if found.group(1) != SITE or found.group(2) != LIST:
            return _error(404, "itemNotFound", "The requested site or list was not found")
        query = {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}
        return self._columns() if found.group(3) == "columns" else self._items(query)

    def _columns(self) -> httpx.Response:
        own = [{"name": name, "displayName": display, "readOnly": False, "hidden": False} for name, display in COLUMNS]
        return httpx.Response(200, json={"value": [*BUILT_IN[:1], *own, *BUILT_IN[1:]]})

    def _items(self, query: dict[str, str]) -> httpx.Response:
        selected = re.fullmatch(r"fields\(\$select=([^)]*)\)", query.get("$expand", ""))
        if selected is None or query.get("$select") != "id":
            return _error(400, "invalidRequest", "expected $select=id&$expand=fields($select=...)")
        names = selected.group(1).split(",")
        start = int(query.get("$skiptoken", "0"))
        page = [
            {"id": str(number), "fields": {"@odata.etag": '"1"', "id": str(number),
                                           **{name: fields[name] for name in names if name in fields}}}
            for number, fields in enumerate(self.items[start : start + self.page_size], start + 1)
        ]
        answer: dict[str, Any] = {"value": page}
        if start + self.page_size < len(self.items):
            answer["@odata.nextLink"] = (
                f"{GRAPH}/sites/{SITE}/lists/{LIST.replace(' ', '%20')}/items?$select=id&$expand=fields($select="
                f"{','.join(names)})&$top={self.page_size}&$skiptoken={start + self.page_size}"
            )
        return httpx.Response(200, json=answer)

    def item_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/items")]


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def _upgrade_to_consent(sync_connection: Any) -> None:
    config = alembic_config(str(sync_connection.engine.url))
    config.attributes["connection"] = sync_connection
    command.upgrade(config, CONSENT_REVISION)  # the consent branch, and the audit trail its refusals go to
    command.upgrade(config, AUDIT_REVISION)


async def _consent_database(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade_to_consent)
    yield db
    await db.dispose()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async for db in _consent_database(database_url):
        yield db


@pytest.fixture
async def sqlite_database(sqlite_url: str) -> AsyncIterator[Database]:
    async for db in _consent_database(sqlite_url):
        yield db


@pytest.fixture
def sharepoint() -> FakeSharePoint:
    return FakeSharePoint()


@pytest.fixture
async def graph_client(sharepoint: FakeSharePoint) -> AsyncIterator[GraphServiceClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(sharepoint.handle))
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = GRAPH
    yield GraphServiceClient(request_adapter=adapter)
    await http.aclose()


def settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "dev_mode": True, "consent_source": "sharepoint", "consent_sharepoint_site_id": SITE,
        "consent_sharepoint_list_id": LIST, **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def directory() -> StaticRoleDirectory:
    return StaticRoleDirectory(
        [DirectoryEntry(JO, "Jo Bell", frozenset({Role.DATA_ADMIN})), DirectoryEntry(SAM, "Sam Teacher")],
        description="test",
    )


def make_sync(database: Database, client: GraphServiceClient, *, interval_seconds: float = 0.0,
              timeout_seconds: float = 5.0, **extra: Any) -> ConsentSync:
    reader = SharePointConsentReader(client, SITE, LIST, timeout_seconds=timeout_seconds, calendar=LONDON)
    return ConsentSync(ConsentStore(database), directory(), settings(**extra), trail=AuditTrail(database),
                       reader=reader, interval_seconds=interval_seconds)


def say(text: str, who: str = JO, kind: str = "personal") -> CommandRequest:
    actor = Actor(aad_object_id=who, name="Jo Bell" if who == JO else "Sam Teacher", teams_user_id="29:x",
                  conversation_id="a:chat", conversation_kind=kind)
    return CommandRequest(text=text, argument="", actor=actor)


def routes(database: Database) -> Router:
    """A router checking senders against ``directory()`` (its refusals audited in ``database``)."""
    return Router(directory=directory(), trail=AuditTrail(database))


async def update(router: Router, who: str = JO, kind: str = "personal") -> str:
    """What the command answers (a refusal by the router comes as a card: its text)."""
    matched = router.match_command("update consent register")
    assert matched is not None
    reply = await matched[0](say("update consent register", who, kind))
    texts = [*reply.texts, *(block["text"] for card in reply.cards for block in card.to_dict()["body"]
                             if block.get("type") == "TextBlock")]
    return "\n".join(texts).replace("\\", "")


# --- importing the list -----------------------------------------------------------------------------------


async def test_the_list_is_imported_over_every_page_with_consents_withdrawals_and_do_not_publish(
    database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="services.consent_sync")
    caplog.set_level(logging.DEBUG, logger="directory.consent_sharepoint")
    sync = make_sync(database, graph_client)

    outcome = await sync.sync()

    assert isinstance(outcome, Imported)
    assert outcome.version.pupil_count == 5
    assert outcome.version.imported_by == IMPORTED_BY
    assert outcome.version.source_name.startswith(f"SharePoint list {LIST} (content ")
    assert len(sharepoint.item_requests()) == 3  # 5 items, 2 a page
    register = await ConsentStore(database).load_register()
    amelia, zoe, kacper, ayesha = (register.get(i) for i in ("A100000000001", "A100000000004", "A100000000005",
                                                             "A100000000006"))
    assert amelia is not None and zoe is not None and kacper is not None and ayesha is not None
    assert amelia.pupil.class_name == "3B" and amelia.pupil.year_group == "3"  # a number column's 3.0
    assert amelia.consents["school_website"].state is ConsentState.GRANTED
    assert zoe.pupil.first_name == "Zoë"
    assert zoe.consents["school_social_media"].state is ConsentState.WITHDRAWN
    assert zoe.consents["school_social_media"].withdrawn_on == date(2025, 1, 14)
    assert zoe.consents["press"].state is ConsentState.NOT_ASKED
    assert kacper.do_not_publish and kacper.do_not_publish_reason == "Court order"  # a Yes/No column
    assert not amelia.do_not_publish
    assert ayesha.consents["school_website"].state is ConsentState.NOT_ASKED  # an empty cell
    # only the register's columns are asked for: the office's notes never leave SharePoint
    asked = sharepoint.item_requests()[0].url.query.decode()
    assert "Notes" not in asked and "Title" in asked and "ID," not in asked
    # nobody's name or consent in the logs
    assert "Hughes" not in caplog.text and "Court order" not in caplog.text and "Zo" not in caplog.text
    assert "imported as register version" in caplog.text


async def test_an_unchanged_list_adds_no_version_and_a_change_adds_one(
    database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    sync = make_sync(database, graph_client)
    first = await sync.sync()
    assert isinstance(first, Imported)

    sharepoint.items.reverse()  # the same pupils in another order is the same register
    again = await sync.sync()

    assert isinstance(again, Unchanged) and again.version.id == first.version.id
    assert len(await sync.store.versions()) == 1

    sharepoint.items[0]["Consent_x003a__x0020_Website"] = "Withdrawn 02/03/2026"
    changed = await sync.sync()

    assert isinstance(changed, Imported) and changed.version.id != first.version.id
    assert changed.version.previous_version_id == first.version.id
    register = await sync.store.load_register()
    entry = register.get("A100000000006")
    assert entry is not None and entry.consents["school_website"].withdrawn_on == date(2026, 3, 2)


async def test_status_says_which_version_is_in_use_and_how_the_last_read_went(
    database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    sync = make_sync(database, graph_client)
    assert (await sync.status_line()).endswith("; SharePoint list not read yet")
    first = await sync.sync()
    assert isinstance(first, Imported)
    line = await sync.status_line()
    assert line.startswith(f"version {first.version.id}, 5 pupils, imported ")
    assert line.endswith(f": imported as version {first.version.id}")
    sharepoint.failure = 503
    await sync.sync()
    line = await sync.status_line()
    assert line.startswith(f"version {first.version.id}, 5 pupils")  # still in use
    assert line.endswith("not read (Microsoft Graph could not be reached); the register in use is kept")


async def test_going_back_to_an_older_version_stands_until_the_list_changes(
    database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    sync = make_sync(database, graph_client)
    first = await sync.sync()
    sharepoint.items[0]["Consent_x003a__x0020_Website"] = "Refused"  # a mistake typed into the list
    mistake = await sync.sync()
    assert isinstance(first, Imported) and isinstance(mistake, Imported)

    await sync.store.activate_version(first.version.id)  # the data admin goes back ("consent register")
    again = await sync.sync()  # the list still says the same: her choice stands

    assert isinstance(again, Unchanged) and again.version.id == mistake.version.id
    assert again.current is not None and again.current.id == first.version.id
    assert [v.id for v in await sync.store.versions() if v.is_current] == [first.version.id]
    told = sync.describe(again)
    assert f"version {first.version.id} (5 pupils) stays in use" in told and "as soon as it changes" in told

    sharepoint.items[0]["Consent_x003a__x0020_Website"] = "Granted"  # the list is corrected: imported again
    corrected = await sync.sync()
    assert isinstance(corrected, Imported)
    assert [v.id for v in await sync.store.versions() if v.is_current] == [corrected.version.id]


async def test_an_unreadable_item_changes_nothing_and_the_problem_names_the_item(
    database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint, caplog: pytest.LogCaptureFixture
) -> None:
    sync = make_sync(database, graph_client)
    first = await sync.sync()
    assert isinstance(first, Imported)
    sharepoint.items[2]["Consent_x003a__x0020_Website"] = "Maybe"  # item 3, row 3
    sharepoint.items[3]["Title"] = "A100000000001"  # Amelia's id again: item 4
    sharepoint.items[0]["Surname"] = "Hughes-Jones"  # a change that must not go in either

    outcome = await sync.sync()

    assert isinstance(outcome, Rejected)
    problems = [str(problem) for problem in outcome.rejected.problems]
    assert "item 3 (row 3), column 'Consent: Website': unknown consent value 'Maybe'" in problems[0]
    assert "item 4 (row 4)" in problems[1] and "also in item 1 (row 1)" in problems[1]
    assert outcome.rejected.problem_count == 2
    versions = await sync.store.versions()
    assert [v.id for v in versions] == [first.version.id] and versions[0].is_current
    entry = (await sync.store.load_register()).get("A100000000001")
    assert entry is not None and entry.pupil.surname == "Hughes"
    assert "Maybe" not in caplog.text and "A100000000001" not in caplog.text

    text = sync.describe(outcome)
    assert "not imported" in text and "nothing changed" in text
    assert f"version {first.version.id}" in text and "update consent register" in text


# --- the register size limit, kept while the pages arrive (issue 14) ---------------------------------------------


def _as_csv_text(items: list[dict[str, Any]]) -> bytes:
    """The list as the CSV it is read as, written here from the fake's own items: the register's columns under
    their display names, Yes/No for true/false, whole numbers without ".0", nothing for an empty field."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    register = [(name, display) for name, display in COLUMNS if name != "Notes"]
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([display for _, display in register])
    writer.writerows([cell(item.get(name)) for name, _ in register] for item in items)
    return text.getvalue().encode("utf-8")


async def test_a_list_of_exactly_the_limit_is_imported_and_one_byte_more_changes_nothing(
    database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    size = len(_as_csv_text(sharepoint.items))
    over = await make_sync(database, graph_client, consent_csv_max_bytes=size - 1).sync()
    assert isinstance(over, Rejected)
    [problem] = over.rejected.problems
    assert str(problem) == (f"the list: it is larger than the {size_in_words(size - 1)} a consent register may be "
                            "(POLICYBOT_CONSENT_CSV_MAX_BYTES), so it was not read further and nothing changed. Is it "
                            "the consent register? If it is, ask whoever runs Policy Bot to raise the limit")
    assert await ConsentStore(database).versions() == []
    exact = await make_sync(database, graph_client, consent_csv_max_bytes=size).sync()
    assert isinstance(exact, Imported) and exact.version.pupil_count == len(sharepoint.items)


async def test_no_page_is_asked_for_after_the_one_that_passes_the_limit(
    sqlite_database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    sharepoint.page_size = 2  # 5 items: 3 pages
    first_item = len(_as_csv_text(sharepoint.items[:1]))
    outcome = await make_sync(sqlite_database, graph_client, consent_csv_max_bytes=first_item).sync()
    assert isinstance(outcome, Rejected)
    assert outcome.rejected.item_count == 2  # the second item, on the first page, passed the limit
    assert len(sharepoint.item_requests()) == 1
    assert await ConsentStore(sqlite_database).versions() == []


def test_values_a_csv_cell_cannot_hold_reject_the_item() -> None:
    columns = [ListColumn(name=name, display_name=display) for name, display in COLUMNS]
    items = [ListItem(item_id=str(n), fields=fields) for n, fields in enumerate(school_list(), 1)]
    items[1] = ListItem(item_id="17", fields={**items[1].fields, "RegGroup": {"LookupId": 3, "LookupValue": "4C"}})
    items[4] = ListItem(item_id="30", fields={**items[4].fields, "Consent_x003a__x0020_Video": ["Granted", "Refused"]})

    result = parse_list_items(columns, items, calendar=LONDON)

    assert isinstance(result, ListRejected)
    assert [str(p) for p in result.problems] == [
        "item 17 (row 2), column 'Reg Group': is a lookup or person column: make it a text or choice column",
        "item 30 (row 5), column 'Consent: Video': holds several values: make it a single choice or text column",
    ]


def test_a_list_without_a_register_column_says_which_column_is_missing() -> None:
    columns = [ListColumn(name=name, display_name=display) for name, display in COLUMNS if name != "Surname"]
    items = [ListItem(item_id="1", fields=school_list()[0])]

    result = parse_list_items(columns, items, calendar=LONDON)

    assert isinstance(result, ListRejected)
    assert str(result.problems[0]).startswith("the list: missing column: surname")


# --- Graph failing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "headers", "told"),
    [
        (503, {}, "could not be reached"),
        (429, {"Retry-After": "600"}, "again in 10 minutes"),
        (403, {}, "not allowed to read the SharePoint list"),
        (401, {}, "Sites.Read.All"),
        ("connect", {}, "could not be reached"),
        ("timeout", {}, "could not be reached"),
    ],
)
async def test_when_graph_fails_the_current_register_is_kept_and_the_answer_says_what_to_do(
    sqlite_database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint,
    caplog: pytest.LogCaptureFixture, failure: int | str, headers: dict[str, str], told: str,
) -> None:
    sync = make_sync(sqlite_database, graph_client, timeout_seconds=0.3, interval_seconds=60)
    router = routes(sqlite_database)
    register_consent_sync_routes(router, sync)
    assert "Imported" in await update(router)
    sharepoint.failure, sharepoint.failure_headers = failure, headers
    sharepoint.items[0]["Surname"] = "Changed"

    outcome = await sync.sync()
    text = await update(router)

    assert isinstance(outcome, Unavailable)
    assert told in text and "nothing changed" in text and "still use the current register, version 1" in text
    assert len(await sync.store.versions()) == 1
    entry = (await sync.store.load_register()).get("A100000000001")
    assert entry is not None and entry.pupil.surname == "Hughes"
    assert "not read, the current register is kept" in caplog.text and SECRET not in caplog.text
    if failure == 429:
        assert outcome.failure.retry_after == 600  # the next round waits as long as Graph asked


async def test_a_list_that_does_not_exist_is_a_configuration_problem(
    sqlite_database: Database, graph_client: GraphServiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    reader = SharePointConsentReader(graph_client, SITE, "Photo consnet", calendar=LONDON)
    sync = ConsentSync(ConsentStore(sqlite_database), directory(), settings(), trail=AuditTrail(sqlite_database),
                       reader=reader, interval_seconds=0)
    router = routes(sqlite_database)
    register_consent_sync_routes(router, sync)

    text = await update(router)

    assert "does not exist" in text and "POLICYBOT_CONSENT_SHAREPOINT_LIST_ID" in text
    assert "There is still no consent register" in text
    assert any(r.levelno == logging.ERROR and "HTTP 404" in r.getMessage() for r in caplog.records)


# --- the data admin's command -----------------------------------------------------------------------------


async def test_only_the_data_admin_updates_the_register_and_only_in_the_personal_chat(
    sqlite_database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    router = routes(sqlite_database)
    register_consent_sync(router, store=ConsentStore(sqlite_database), directory=directory(), settings=settings(),
                          reader=SharePointConsentReader(graph_client, SITE, LIST, calendar=LONDON), interval_seconds=0)

    refused = await update(router, who=SAM)
    in_channel = await update(router, kind="channel")

    assert "Only the data admin" in refused and "Nothing changed" in refused
    assert "personal chat" in in_channel
    assert sharepoint.requests == []  # nothing read for either
    assert await ConsentStore(sqlite_database).versions() == []

    imported = await update(router)
    unchanged = await update(router)

    assert "Imported the consent register from the SharePoint list: **5 pupils**, now version 1" in imported
    assert "has not changed since version 1 was imported" in unchanged and "Nothing to do" in unchanged


async def test_with_the_csv_source_the_data_admin_is_asked_for_the_mis_export(sqlite_database: Database) -> None:
    router = routes(sqlite_database)
    sync = register_consent_sync(router, store=ConsentStore(sqlite_database), directory=directory(),
                                 settings=settings(consent_source="csv"))

    text = await update(router)

    assert not sync.enabled
    assert "CSV file" in text and "send the file in this chat" in text
    assert "Only the data admin" in await update(router, who=SAM)


async def test_a_slow_list_is_answered_in_time_and_imported_when_it_arrives(
    sqlite_database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    sharepoint.delay_s = 0.1
    reader = SharePointConsentReader(graph_client, SITE, LIST, calendar=LONDON)
    sync = ConsentSync(ConsentStore(sqlite_database), directory(), settings(), trail=AuditTrail(sqlite_database),
                       reader=reader, interval_seconds=0, command_wait_seconds=0.05)
    router = routes(sqlite_database)
    register_consent_sync_routes(router, sync)

    text = await update(router)

    assert "still reading the SharePoint list" in text
    for _ in range(100):
        if await sync.store.versions():
            break
        await asyncio.sleep(0.05)
    assert [v.pupil_count for v in await sync.store.versions()] == [5]


# --- the periodic sync ------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def app_running(sync: ConsentSync, *, until_rounds: int) -> AsyncIterator[None]:
    """An app running the sync's rounds (its worker), entered once ``until_rounds`` rounds ran (2 s at most)
    and stopped on leaving."""
    app = web.Application()
    app.cleanup_ctx.append(sync.cleanup_ctx)
    app.cleanup_ctx.append(Workers(ConsentSyncWorker(sync)).cleanup_ctx)  # as the app factory runs it
    server = TestServer(app)
    await server.start_server()
    try:
        for _ in range(200):
            if sync.rounds >= until_rounds:
                break
            await asyncio.sleep(0.01)
        yield
    finally:
        await server.close()


async def test_the_periodic_sync_runs_while_the_app_runs_and_stops_with_it(
    sqlite_database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    sync = make_sync(sqlite_database, graph_client, interval_seconds=0.01)
    async with app_running(sync, until_rounds=3):
        assert sync.rounds >= 3

    requests_when_stopped = len(sharepoint.requests)
    await asyncio.sleep(0.1)
    assert len(sharepoint.requests) == requests_when_stopped  # the loop stopped with the app
    assert [v.imported_by for v in await sync.store.versions()] == [IMPORTED_BY]  # imported once, then unchanged


async def test_with_sync_minutes_0_the_list_is_read_only_when_asked(
    sqlite_database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    reader = SharePointConsentReader(graph_client, SITE, LIST, calendar=LONDON)
    sync = ConsentSync(ConsentStore(sqlite_database), directory(), settings(consent_sync_minutes=0),
                       trail=AuditTrail(sqlite_database), reader=reader)
    app = web.Application()
    app.cleanup_ctx.append(sync.cleanup_ctx)
    server = TestServer(app)
    await server.start_server()
    await asyncio.sleep(0.05)
    await server.close()

    assert sharepoint.requests == []


# --- settings --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ({"consent_sharepoint_site_id": ""}, "POLICYBOT_CONSENT_SHAREPOINT_SITE_ID is empty"),
        ({"consent_sharepoint_list_id": "  "}, "POLICYBOT_CONSENT_SHAREPOINT_LIST_ID is empty"),
        ({}, "POLICYBOT_CONSENT_SOURCE is sharepoint but no Graph credential is set"),
        ({"consent_sharepoint_mapping_file": Path("/nonexistent/mapping.json")},
         "POLICYBOT_CONSENT_SHAREPOINT_MAPPING_FILE is /nonexistent/mapping.json"),
    ],
)
def test_sharepoint_without_what_it_needs_is_a_settings_error_at_start_up(
    sqlite_url: str, missing: dict[str, Any], named: str
) -> None:
    database = Database(sqlite_url)
    with pytest.raises(SettingsError, match=re.escape(named)):
        register_consent_sync(routes(database), store=ConsentStore(database), directory=directory(),
                              settings=settings(**missing))


async def test_complete_settings_build_the_graph_reader_without_touching_the_network(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    sync = register_consent_sync(
        routes(database), store=ConsentStore(database), directory=directory(),
        settings=settings(graph_tenant_id="00000000-0000-0000-0000-0000000000aa", graph_client_id="app",
                          graph_client_secret=SECRET, consent_sync_minutes=0),
    )
    app = web.Application()
    app.cleanup_ctx.append(sync.cleanup_ctx)
    server = TestServer(app)
    await server.start_server()
    await server.close()  # closes the reader's HTTP client and credential
    await database.dispose()

    assert sync.enabled


async def test_after_a_429_the_next_round_waits_as_long_as_graph_asked(
    sqlite_database: Database, graph_client: GraphServiceClient, sharepoint: FakeSharePoint
) -> None:
    sharepoint.failure, sharepoint.failure_headers = 429, {"Retry-After": "600"}
    sync = make_sync(sqlite_database, graph_client, interval_seconds=0.01)
    async with app_running(sync, until_rounds=1):
        await asyncio.sleep(0.1)  # ten intervals: without Retry-After Graph would have been asked ten times more

    assert sync.rounds == 1
    assert await sync.store.versions() == []


def test_the_app_refuses_to_start_with_sharepoint_but_no_list(sqlite_url: str) -> None:
    with pytest.raises(SettingsError, match="POLICYBOT_CONSENT_SHAREPOINT_LIST_ID is empty"):
        create_app(settings(database_url=sqlite_url, consent_sharepoint_list_id=""))
