"""Keeping the consent register in Teams (issue 7), through the running bot and the fake Bot Connector.

- ``do not photograph <pupil>``: any member of staff, personal chat only; recorded at once (the next photo check
  says NO); the data admin is sent a card in her personal chat through the outbox; only she can close it.
- ``photo requests`` (data admin, DSL) and ``consent register`` (data admin, DSL, DPO).
- The data admin's CSV sent in the personal chat: downloaded from a loopback server standing in for SharePoint,
  imported all or nothing, undone with a button. Nobody else's file is downloaded.

People and roles: ``playground/roles.json`` (Jo Bell: data admin and DPO; Tom Reed: DSL; Sam Teacher: staff).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import SERVICES
from bot.settings import Settings
from dialogs.consent_admin import register_consent_admin
from dialogs.router import Router
from domain.actors import Actor
from domain.roles import DirectoryUnavailableError, Person, Role, RoleLookup
from services.audit import AuditTrail
from services.consent_admin import ConsentAdmin, CsvCandidate
from services.incidents import ScreenshotRefused, http_fetcher
from services.requests import CommandRequest
from store.consent_store import ConsentStore
from store.outbox import OutboxStatus, list_entries
from tests.fakes.activities import TENANT, personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_nodes, card_texts

DATA = Path(__file__).parent.parent / "data" / "consent"
SIMS = DATA / "sims_export.csv"
ROLES = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
SAM = user("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")
LEE = user("Lee Carter", "00000000-0000-0000-0000-000000000102", "29:staff-lee")
TOM = user("Tom Reed", "00000000-0000-0000-0000-000000000203", "29:dsl-tom")
JO = user("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")
AMELIA = "A100000000001"
ALL_CHECKS = {"appropriatelyDressed": "true", "nobodyRidiculed": "true", "notInToiletOrChangingArea": "true"}
WISHES = "If anyone asks not to be filmed or photographed then their wishes should be respected."
_SETTLE_TIMEOUT_S = 20.0


def shown(card: dict[str, Any]) -> str:
    """What a person reads: TextBlocks and facts, with Markdown escapes removed."""
    facts = [f"{f['title']}: {f['value']}" for node in card_nodes(card, "FactSet") for f in node["facts"]]
    return (card_texts(card) + "\n" + "\n".join(facts)).replace("\\", "")


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return card_nodes(card, "Action.Execute")


@dataclass
class Bot:
    client: TestClient
    connector: FakeConnector

    @property
    def store(self) -> ConsentStore:
        return ConsentStore(self.client.app[SERVICES].database)

    def chat(self, who: dict[str, Any]) -> str:
        return f"a:personal-{who['id']}"

    async def say(self, who: dict[str, Any], text: str, *, kind: str = "personal",
                  attachments: list[dict[str, Any]] | None = None) -> None:
        activity = personal_activity(self.connector.url, text=text, sender=who, conversation_id=self.chat(who))
        if kind != "personal":
            activity["conversation"] = {"id": f"19:{kind}-thread@thread.v2", "conversationType": kind,
                                        "tenantId": TENANT}
        if attachments is not None:
            activity["attachments"] = attachments
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()

    async def invoke(self, who: dict[str, Any], verb: str, data: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/api/messages", json=personal_activity(
            self.connector.url, type_="invoke", name="adaptiveCard/action", sender=who,
            conversation_id=self.chat(who),
            value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
        ))
        assert response.status == 200, await response.text()
        return await response.json()

    def cards_in(self, who: dict[str, Any]) -> list[dict[str, Any]]:
        return [a["content"] for d in self.connector.sent() if d.conversation_id == self.chat(who)
                for a in d.body.get("attachments") or []]

    def texts_in(self, conversation_id: str) -> list[str]:
        return [d.body.get("text") or "" for d in self.connector.sent() if d.conversation_id == conversation_id]

    async def settle(self) -> None:
        deadline = asyncio.get_running_loop().time() + _SETTLE_TIMEOUT_S
        while True:
            async with self.client.app[SERVICES].database.sessions() as session:
                entries = await list_entries(session)
            if not any(e.status is OutboxStatus.PENDING for e in entries):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the outbox did not settle: {entries}")
            await asyncio.sleep(0.05)

    async def check_photo(self, who: dict[str, Any], pupils: str) -> str:
        answer = await self.invoke(who, "photo_check_submit", {
            "verb": "photo_check_submit", "destination": "school_website", "pupils": pupils,
            "device": "school_device", **ALL_CHECKS,
        })
        return shown(answer["value"])

    def admin(self, **settings: Any) -> ConsentAdmin:
        """A ConsentAdmin over the running app's database, directory and chats (for the CSV tests)."""
        services = self.client.app[SERVICES]
        return register_consent_admin(
            Router(directory=services.directory, trail=AuditTrail(services.database)), database=services.database,
            store=ConsentStore(services.database), directory=services.directory, conversations=services.conversations,
            settings=services.settings.model_copy(update=settings),
        )


def _settings(database_url: str, **extra: Any) -> Settings:
    return Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                    allowed_tenant_ids=[TENANT], roles_file=ROLES, **extra)



async def _open_bot(bot: Bot, *people: dict[str, Any]) -> None:
    for who in people:  # each opens the bot once, so it can reach them later
        await bot.say(who, "whoami")
    bot.connector.clear()


@pytest.fixture
async def bot(database_url: str, connector: FakeConnector) -> AsyncIterator[Bot]:
    async with running_bot(_settings(database_url)) as client:
        world = Bot(client, connector)
        await world.store.import_csv(SIMS.read_bytes(), imported_by=JO["aadObjectId"], source_name="sims_export.csv")
        await _open_bot(world, SAM, JO, TOM)
        yield world


@pytest.fixture
async def empty_bot(sqlite_url: str, connector: FakeConnector) -> AsyncIterator[Bot]:
    async with running_bot(_settings(sqlite_url)) as client:
        world = Bot(client, connector)
        await _open_bot(world, SAM, JO)
        yield world


# --- do not photograph ------------------------------------------------------------------------------


async def test_a_request_is_recorded_at_once_the_next_check_says_no_and_the_data_admin_is_told(bot: Bot) -> None:
    assert "YES" in (await bot.check_photo(SAM, "Amelia Hughes")).split("\n")
    await bot.say(SAM, "do not photograph Amelia Hughes: her mum asked at the gate [see](https://evil.example)")
    [confirmation] = bot.cards_in(SAM)
    assert_valid_card(confirmation)
    text = shown(confirmation)
    assert "Recorded" in text and "Amelia Hughes" in text and AMELIA in text
    assert "The data admin has been told: Jo Bell" in text
    assert WISHES in text and "Use of images" in text

    verdict = await bot.check_photo(SAM, "Amelia Hughes")  # at once, for everyone
    assert "NO" in verdict.split("\n") and "YES" not in verdict.split("\n")
    assert WISHES in verdict
    assert "NO" in (await bot.check_photo(TOM, "Amelia Hughes")).split("\n")

    await bot.settle()
    [request_card] = bot.cards_in(JO)
    assert_valid_card(request_card)
    text = shown(request_card)
    for expected in ("Amelia Hughes", "3B", AMELIA, "Sam Teacher", "her mum asked at the gate", "update the MIS"):
        assert expected in text
    assert "[see](https://evil.example)" not in card_texts(request_card)  # the note's Markdown is inert
    [done] = buttons(request_card)
    assert (done["title"], done["verb"], done["data"]) == (
        "Done: updated in the MIS", "do_not_photograph_clear", {"pupilId": AMELIA})
    [open_request] = await bot.store.open_do_not_photograph_requests()
    assert (open_request.requested_by, open_request.pupil_id) == (SAM["aadObjectId"], AMELIA)


async def test_only_the_data_admin_closes_a_request(bot: Bot) -> None:
    await bot.say(SAM, "do not film Tobi Adeyemi-Clarke")
    tobi = "A100000000007"
    for who in (SAM, TOM):  # the recorder and the DSL cannot
        refused = await bot.invoke(who, "do_not_photograph_clear", {"pupilId": tobi})
        assert refused["type"] == "application/vnd.microsoft.activity.message"
        assert "Only the data admin" in refused["value"] and "Nothing changed" in refused["value"]
    assert [r.pupil_id for r in await bot.store.open_do_not_photograph_requests()] == [tobi]
    assert "NO" in (await bot.check_photo(SAM, "Tobi Adeyemi-Clarke")).split("\n")

    closed = (await bot.invoke(JO, "do_not_photograph_clear", {"pupilId": tobi}))["value"]
    assert_valid_card(closed)
    assert "Closed by Jo Bell" in shown(closed)
    assert await bot.store.open_do_not_photograph_requests() == []
    assert "YES" in (await bot.check_photo(SAM, "Tobi Adeyemi-Clarke")).split("\n")
    again = (await bot.invoke(JO, "do_not_photograph_clear", {"pupilId": tobi}))["value"]
    assert "someone closed it already" in shown(again)


async def test_when_one_data_admin_closes_a_request_every_data_admins_card_shows_it_closed(
    sqlite_url: str, connector: FakeConnector, tmp_path: Path
) -> None:
    roles = json.loads(ROLES.read_text(encoding="utf-8"))
    for person in roles["people"]:
        if person["aadObjectId"] == LEE["aadObjectId"]:
            person["roles"] = ["data_admin"]  # a second data admin: the school office has two
    roles_file = tmp_path / "roles.json"
    roles_file.write_text(json.dumps(roles), encoding="utf-8")
    async with running_bot(_settings(sqlite_url).model_copy(update={"roles_file": roles_file})) as client:
        world = Bot(client, connector)
        await world.store.import_csv(SIMS.read_bytes(), imported_by="test")
        await _open_bot(world, SAM, JO, LEE)
        await world.say(SAM, "do not photograph Amelia Hughes")
        await world.settle()
        posted = {who["name"]: [d for d in connector.sent() if d.conversation_id == world.chat(who)]
                  for who in (JO, LEE)}
        assert all(len(deliveries) == 1 and deliveries[0].method == "POST" for deliveries in posted.values()), posted
        assert all(buttons(deliveries[0].body["attachments"][0]["content"]) for deliveries in posted.values())

        closed = (await world.invoke(JO, "do_not_photograph_clear", {"pupilId": AMELIA}))["value"]
        assert "Closed by Jo Bell" in shown(closed)
        await world.settle()
        for who in (JO, LEE):  # each copy is updated in place (PUT to the posted activity), without the button
            [update] = [d for d in connector.sent() if d.conversation_id == world.chat(who) and d.method == "PUT"]
            assert update.activity_id and update.activity_id.startswith("act-")
            card = update.body["attachments"][0]["content"]
            assert_valid_card(card)
            assert "Closed by Jo Bell" in shown(card) and buttons(card) == []

        # Lee clicks her stale button anyway: nothing more changes, she is told it was already closed.
        again = (await world.invoke(LEE, "do_not_photograph_clear", {"pupilId": AMELIA}))["value"]
        assert "someone closed it already" in shown(again)
        await world.settle()
        assert len([d for d in connector.sent() if d.method == "PUT"]) == 2


@pytest.mark.parametrize("kind", ["channel", "groupChat"])
async def test_outside_the_personal_chat_the_name_is_not_repeated_and_nothing_is_recorded(
    bot: Bot, kind: str
) -> None:
    await bot.say(SAM, "do not photograph Amelia Hughes", kind=kind)
    [reply] = [d.body for d in bot.connector.sent()]
    said = (reply.get("text") or "") + str(reply.get("attachments") or "")
    assert "Amelia" not in said and "Hughes" not in said
    assert "personal chat" in said and "Nothing was recorded" in said
    assert await bot.store.open_do_not_photograph_requests() == []


async def test_a_name_shared_by_two_pupils_gets_the_choice_card_and_the_chosen_pupil_is_recorded(bot: Bot) -> None:
    await bot.say(SAM, "do not photograph Oliver Smith: he asked himself")
    [choice] = bot.cards_in(SAM)
    assert_valid_card(choice)
    assert "More than one pupil is called" in shown(choice)
    [picker] = [e for e in choice["body"] if e.get("type") == "Input.ChoiceSet"]
    titles = {c["value"]: c["title"] for c in picker["choices"]}
    assert "4C" in titles["A100000000002"] and "5A" in titles["A100000000003"] and "not_listed" in titles
    assert await bot.store.open_do_not_photograph_requests() == []  # nothing until one is chosen

    [button] = buttons(choice)
    answer = (await bot.invoke(SAM, button["verb"], {**button["data"], "choice": "A100000000003"}))["value"]
    assert_valid_card(answer)
    assert "Recorded" in shown(answer) and "5A" in shown(answer)
    [request] = await bot.store.open_do_not_photograph_requests()
    assert (request.pupil_id, request.note) == ("A100000000003", "he asked himself")

    await bot.say(SAM, "do not photograph Oliver Smith (4C)")  # the class tells them apart: no question
    assert "Recorded" in shown(bot.cards_in(SAM)[-1])
    assert {r.pupil_id for r in await bot.store.open_do_not_photograph_requests()} == {
        "A100000000002", "A100000000003"}


async def test_a_name_not_in_the_register_records_nothing_and_says_what_to_do(bot: Bot) -> None:
    await bot.say(SAM, "do not photograph Amelia Hughs")  # a typo: close names are offered
    [choice] = bot.cards_in(SAM)
    assert "is not in the consent register" in shown(choice)
    [button] = buttons(choice)
    none = (await bot.invoke(SAM, button["verb"], {**button["data"], "choice": "not_listed"}))["value"]
    assert_valid_card(none)
    text = shown(none)
    assert "Not recorded" in text and "Check the spelling" in text and "tell the school office" in text

    await bot.say(SAM, "do not photograph Zebedee Quuxworth")  # nobody close: said at once
    text = shown(bot.cards_in(SAM)[-1])
    assert "nobody has a similar name" in text and "Nothing was recorded" in text
    assert await bot.store.open_do_not_photograph_requests() == []


async def test_a_second_request_for_the_same_pupil_adds_nothing(bot: Bot) -> None:
    await bot.say(SAM, "do not photograph Amelia Hughes")
    await bot.say(LEE, "don\u2019t photograph Amelia Hughes")  # a phone's curly apostrophe
    assert "already recorded" in shown(bot.cards_in(LEE)[-1])
    assert len(await bot.store.open_do_not_photograph_requests()) == 1


async def test_with_no_name_a_form_and_with_no_register_it_says_so(empty_bot: Bot) -> None:
    await empty_bot.say(SAM, "do not film")
    [form] = empty_bot.cards_in(SAM)
    assert_valid_card(form)
    assert {"pupil", "note"} <= {e.get("id") for e in form["body"]}
    assert WISHES in shown(form)
    [button] = buttons(form)
    answer = (await empty_bot.invoke(SAM, button["verb"], {"pupil": "Amelia Hughes", "note": "parent"}))["value"]
    assert_valid_card(answer)
    assert "The consent register is empty" in shown(answer) and "school office" in shown(answer)
    assert await empty_bot.store.open_do_not_photograph_requests() == []


async def test_a_data_admin_who_never_opened_the_bot_is_named_and_the_request_is_still_recorded(
    sqlite_url: str, connector: FakeConnector
) -> None:
    async with running_bot(_settings(sqlite_url)) as client:
        world = Bot(client, connector)
        await world.store.import_csv(SIMS.read_bytes(), imported_by="test")
        await _open_bot(world, SAM)  # Jo has never opened Policy Bot
        await world.say(SAM, "do not photograph Amelia Hughes")
        text = shown(world.cards_in(SAM)[-1])
        assert "I could not tell Jo Bell" in text and "tell the school office" in text
        assert [r.pupil_id for r in await world.store.open_do_not_photograph_requests()] == [AMELIA]
        assert "NO" in (await world.check_photo(SAM, "Amelia Hughes")).split("\n")


class _DirectoryDown:
    """A role directory that knows everyone is staff but cannot say who holds a role (Graph is down)."""

    async def roles_of(self, aad_object_id: str) -> RoleLookup:
        return RoleLookup(frozenset({Role.STAFF}), "test", degraded=True)

    async def holders_of(self, role: Role) -> list[Person]:
        raise DirectoryUnavailableError("down")

    async def is_in_directory(self, aad_object_id: str) -> bool:
        raise DirectoryUnavailableError("down")

    def describe(self) -> str:
        return "down"


async def test_when_the_directory_is_down_the_request_is_recorded_and_staff_are_told_what_to_do(
    bot: Bot
) -> None:
    services = bot.client.app[SERVICES]
    router = Router(directory=_DirectoryDown(), trail=AuditTrail(services.database))
    register_consent_admin(router, database=services.database, store=ConsentStore(services.database),
                           directory=_DirectoryDown(), conversations=services.conversations,
                           settings=services.settings)
    handler, argument = router.match_command("do not photograph Amelia Hughes") or (None, "")
    assert handler is not None
    reply = await handler(CommandRequest("do not photograph Amelia Hughes", argument, _actor(SAM)))
    text = shown(reply.cards[0].to_dict())
    assert "nobody has been told yet" in text and "tell the school office" in text
    assert [r.pupil_id for r in await bot.store.open_do_not_photograph_requests()] == [AMELIA]


def _actor(who: dict[str, Any]) -> Actor:
    return Actor(who["aadObjectId"], who["name"], who["id"], f"a:personal-{who['id']}", "personal")


async def test_the_data_admin_and_the_dsl_see_a_pupils_record_with_the_do_not_publish_reason(bot: Bot) -> None:
    await bot.say(SAM, "do not photograph Zoe O'Brien: asked at parents' evening")
    await bot.settle()
    for who in (JO, TOM):
        bot.connector.clear()
        await bot.say(who, "pupil consent Lucja Nowak")
        [card] = bot.cards_in(who)
        assert_valid_card(card)
        text = shown(card)
        for expected in ("Łucja Nowak", "3B, Year 3", "Pupil id: A100000000005", "The school website: Granted",
                         "Do not publish: Yes", "Reason: Court order: contact restrictions", "Restricted"):
            assert expected in text, (expected, text)
        bot.connector.clear()
        await bot.say(who, "consent for zoe o'brien")
        text = shown(bot.cards_in(who)[0])
        assert "School social media: Withdrawn on Tue 14 Jan 2025" in text and "The press: Not asked" in text
        assert "Do not publish: No" in text
        assert "Do not photograph" in text and "asked at parents' evening" in text  # the open request too


async def test_a_shared_name_shows_each_pupil_and_an_unknown_name_offers_close_ones(bot: Bot) -> None:
    await bot.say(JO, "pupil consent Oliver Smith")
    text = shown(bot.cards_in(JO)[0])
    assert "2 pupils are called" in text and "A100000000002" in text and "A100000000003" in text
    bot.connector.clear()
    await bot.say(JO, "pupil consent Oliver Smith (5A)")
    text = shown(bot.cards_in(JO)[0])
    assert "A100000000003" in text and "A100000000002" not in text
    bot.connector.clear()
    await bot.say(JO, "pupil consent Amelia Hughs")
    [answer] = bot.texts_in(bot.chat(JO))
    assert "is not in the consent register" in answer and "Amelia Hughes" in answer


async def test_nobody_else_sees_a_pupils_record_and_never_in_a_channel(bot: Bot) -> None:
    for who in (SAM, LEE):
        await bot.say(who, "pupil consent Lucja Nowak")
    for who in (SAM, LEE):
        [answer] = bot.texts_in(bot.chat(who))
        assert "Only the data admin" in answer and "can I post this photo?" in answer
        assert bot.cards_in(who) == []
    await bot.say(JO, "pupil consent Lucja Nowak", kind="channel")
    sent = [d.body for d in bot.connector.sent()]
    assert "Court order" not in str(sent) and "Nowak" not in str(sent)
    assert any("personal chat" in (body.get("text") or "") for body in sent)


async def test_photo_requests_are_for_the_data_admin_and_the_dsl_oldest_first(bot: Bot) -> None:
    await bot.say(SAM, "do not photograph Riya Patel: her dad phoned")
    await bot.say(LEE, "do not photograph Marek Kowalski")
    await bot.settle()  # the data admin's cards are delivered
    bot.connector.clear()

    await bot.say(SAM, "photo requests")
    [refusal] = bot.texts_in(bot.chat(SAM))
    assert "Only the data admin" in refusal and "Designated Safeguarding Lead" in refusal

    await bot.say(TOM, "photo requests")
    [dsl_view] = bot.cards_in(TOM)
    assert_valid_card(dsl_view)
    text = shown(dsl_view)
    assert text.index("Riya Patel") < text.index("Marek Kowalski")
    assert "her dad phoned" in text and "Sam Teacher" in text and "Lee Carter" in text
    assert buttons(dsl_view) == []  # the DSL sees them but does not close them

    await bot.say(JO, "photo requests")
    [admin_view] = bot.cards_in(JO)
    assert_valid_card(admin_view)
    clear = buttons(admin_view)
    assert [b["data"]["pupilId"] for b in clear] == ["A100000000008", "A100000000010"]
    answer = await bot.invoke(JO, clear[0]["verb"], clear[0]["data"])
    assert "Riya Patel" not in shown(answer["value"]) and "Marek Kowalski" in shown(answer["value"])
    assert [r.pupil_id for r in await bot.store.open_do_not_photograph_requests()] == ["A100000000010"]


# --- the register: versions ---------------------------------------------------------------------------


async def test_consent_register_shows_the_versions_and_only_the_data_admin_changes_them(bot: Bot) -> None:
    await bot.say(SAM, "do not photograph Amelia Hughes")
    await bot.store.import_csv((DATA / "arbor_export_bom.csv").read_bytes(), imported_by=JO["aadObjectId"],
                               source_name="arbor.csv")
    await bot.settle()
    bot.connector.clear()
    await bot.say(SAM, "consent register")
    assert "Only the data admin" in bot.texts_in(bot.chat(SAM))[0]

    await bot.say(TOM, "consent register")
    [dsl_view] = bot.cards_in(TOM)
    assert_valid_card(dsl_view)
    assert "version 2" in shown(dsl_view) and "version 1" in shown(dsl_view) and buttons(dsl_view) == []

    await bot.say(JO, "consent register")
    [card] = bot.cards_in(JO)
    assert_valid_card(card)
    text = shown(card)
    assert "Current: version 2" in text and "By: Jo Bell" in text and "arbor.csv" in text
    assert "Open do not photograph requests: **1**".replace("*", "") in text.replace("*", "")
    [make] = buttons(card)
    assert (make["title"], make["data"]) == ("Make this the current register", {"version": 1})

    refused = await bot.invoke(SAM, make["verb"], make["data"])
    assert "Only the data admin" in refused["value"]
    assert (await bot.store.load_register()).version == 2
    changed = (await bot.invoke(JO, make["verb"], make["data"]))["value"]
    assert_valid_card(changed)
    assert (await bot.store.load_register()).version == 1
    assert "version 1" in shown(changed)


# --- the register: a CSV sent in the personal chat ------------------------------------------------------


class FakeSharePoint:
    """Serves files like a SharePoint pre-authenticated download link, and counts the downloads."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.downloads: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append(name)
        if name not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[name], content_type="text/csv")

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """A file that never ends, sent without a length: only the reader's own count can stop it."""
        self.downloads.append("endless")
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        row = SIMS.read_bytes().splitlines(keepends=True)[1]
        while True:
            await response.write(row * 100)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/download/endless.csv", self.endless)
        app.router.add_get("/download/{name}", self.handle)
        return app


@pytest.fixture
async def sharepoint() -> AsyncIterator[tuple[FakeSharePoint, str]]:
    files = FakeSharePoint()
    for path in DATA.glob("*.csv"):
        files.files[path.name] = path.read_bytes()
    server = TestServer(files.app())
    await server.start_server()
    yield files, str(server.make_url("/download/"))
    await server.close()


def _file(url: str, name: str) -> CsvCandidate:
    return CsvCandidate(url + name, name)


async def test_the_data_admin_imports_a_csv_and_can_undo_it(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    files, url = sharepoint
    admin = empty_bot.admin()
    first = await admin.receive_csv(_actor(JO), [_file(url, "sims_export.csv")], http_fetcher())
    [card] = first.cards
    assert_valid_card(card.to_dict())
    assert "Imported 10 pupils as version 1" in shown(card.to_dict()).replace("*", "")
    assert buttons(card.to_dict()) == []  # nothing to go back to

    second = await admin.receive_csv(_actor(JO), [_file(url, "arbor_export_bom.csv")], http_fetcher())
    card_json = second.cards[0].to_dict()
    assert_valid_card(card_json)
    text = shown(card_json).replace("*", "")
    assert "as version 2" in text and "The previous register is kept: version 1: 10 pupils" in text
    assert "by Jo Bell" in text
    [undo] = buttons(card_json)
    assert (undo["title"], undo["verb"], undo["data"]) == (
        "Undo: go back to the previous register", "consent_register_activate", {"version": 1})
    assert (await empty_bot.store.load_register()).version == 2
    assert files.downloads == ["sims_export.csv", "arbor_export_bom.csv"]

    refused = await empty_bot.invoke(SAM, undo["verb"], undo["data"])
    assert "Only the data admin" in refused["value"]
    assert (await empty_bot.store.load_register()).version == 2
    undone = (await empty_bot.invoke(JO, undo["verb"], undo["data"]))["value"]
    assert_valid_card(undone)
    assert (await empty_bot.store.load_register()).version == 1
    assert "YES" in (await empty_bot.check_photo(SAM, "Amelia Hughes")).split("\n")


async def test_a_malformed_csv_changes_nothing_and_lists_its_line_numbers(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    _, url = sharepoint
    admin = empty_bot.admin()
    await admin.receive_csv(_actor(JO), [_file(url, "sims_export.csv")], http_fetcher())
    reply = await admin.receive_csv(_actor(JO), [_file(url, "malformed_rows.csv")], http_fetcher())
    [card] = reply.cards
    assert_valid_card(card.to_dict())
    text = shown(card.to_dict()).replace("*", "")
    assert "Not imported: nothing changed" in text
    assert "still use the current register, version 1: 10 pupils" in text and "by Jo Bell" in text
    for line in ("line 3", "line 4", "line 5", "line 6", "line 7", "line 8"):
        assert line in text
    assert "send the file here again" in text
    assert (await empty_bot.store.load_register()).version == 1
    assert len(await empty_bot.store.versions()) == 1


async def test_only_the_first_twenty_problems_are_listed_then_how_many_more(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    files, url = sharepoint
    header = SIMS.read_bytes().splitlines()[0]
    files.files["bad.csv"] = b"\n".join([header] + [b"X%d,Smith,Ann,,3B,Year 3,Maybe,,,,,,No," % i for i in range(25)])
    reply = await empty_bot.admin().receive_csv(_actor(JO), [_file(url, "bad.csv")], http_fetcher())
    text = shown(reply.cards[0].to_dict())
    assert "line 21" in text and "line 22" not in text and "and 5 more" in text
    assert "There is still no consent register" in text


async def test_a_teachers_csv_is_refused_without_being_downloaded(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    files, url = sharepoint
    reply = await empty_bot.admin().receive_csv(_actor(SAM), [_file(url, "sims_export.csv")], http_fetcher())
    assert reply.texts == ["Only the data admin can import the consent register; your file was not read. If the "
                           "register needs changing, tell the school office."]
    assert files.downloads == []
    # Through Teams itself: a CSV file in Sam's personal chat gets the same answer (and no download).
    await empty_bot.say(SAM, "", attachments=[{
        "contentType": "application/vnd.microsoft.teams.file.download.info", "name": "register.csv",
        "content": {"downloadUrl": "https://school.sharepoint.com/personal/x/download.aspx?t=1", "fileType": "csv"},
    }])
    assert any("Only the data admin can import" in t for t in empty_bot.texts_in(empty_bot.chat(SAM)))
    assert await empty_bot.store.versions() == []


async def test_an_oversize_csv_or_a_failed_download_changes_nothing(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    _, url = sharepoint
    small = empty_bot.admin(consent_csv_max_bytes=100)
    reply = await small.receive_csv(_actor(JO), [_file(url, "sims_export.csv")], http_fetcher())
    assert "I could not read sims_export.csv: It is larger than" in reply.texts[0]
    assert "Nothing changed" in reply.texts[0]
    missing = await empty_bot.admin().receive_csv(_actor(JO), [_file(url, "gone.csv")], http_fetcher())
    assert "HTTP 404" in missing.texts[0] and "Send the file again" in missing.texts[0]
    assert await empty_bot.store.versions() == []


async def test_a_csv_of_exactly_the_limit_is_imported_and_one_byte_more_is_not(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    _, url = sharepoint
    size = SIMS.stat().st_size
    over = await empty_bot.admin(consent_csv_max_bytes=size - 1).receive_csv(
        _actor(JO), [_file(url, "sims_export.csv")], http_fetcher())
    assert over.texts == ["I could not read sims_export.csv: It is larger than 1 KB. Nothing changed. Send the file "
                          "again; if it is too large, export only the columns the register needs (ask IT if the limit "
                          "must change)."]
    assert await empty_bot.store.versions() == []
    exact = await empty_bot.admin(consent_csv_max_bytes=size).receive_csv(
        _actor(JO), [_file(url, "sims_export.csv")], http_fetcher())
    assert exact.cards and "Consent register imported" in shown(exact.cards[0].to_dict())
    assert len(await empty_bot.store.versions()) == 1


async def test_a_download_is_read_no_further_than_the_limit(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    files, url = sharepoint
    limit = 100_000
    async with asyncio.timeout(5):  # read whole, it would never end (the download's own timeout is 10 s)
        reply = await empty_bot.admin(consent_csv_max_bytes=limit).receive_csv(
            _actor(JO), [_file(url, "endless.csv")], http_fetcher())
    assert "It is larger than 97 KB" in reply.texts[0] and "Nothing changed" in reply.texts[0]
    assert files.downloads == ["endless"]
    assert await empty_bot.store.versions() == []


async def test_an_injected_fetch_that_ignores_the_cap_is_still_refused(empty_bot: Bot) -> None:
    async def careless(url: str, max_bytes: int, authenticated: bool) -> bytes:
        assert authenticated is False  # a SharePoint link is pre-authenticated: the bot's token never goes there
        return SIMS.read_bytes()

    reply = await empty_bot.admin(consent_csv_max_bytes=50).receive_csv(
        _actor(JO), [CsvCandidate("https://school.sharepoint.com/x", "x.csv")], careless)
    assert "larger than" in reply.texts[0]
    assert await empty_bot.store.versions() == []


async def test_a_sharepoint_register_is_not_imported_from_files(empty_bot: Bot) -> None:
    async def never(url: str, max_bytes: int, authenticated: bool) -> bytes:
        raise ScreenshotRefused("should not be called")

    reply = await empty_bot.admin(consent_source="sharepoint").receive_csv(
        _actor(JO), [CsvCandidate("https://school.sharepoint.com/x", "x.csv")], never)
    assert "comes from the school's SharePoint list" in reply.texts[0] and "not read" in reply.texts[0]
    assert await empty_bot.store.versions() == []


async def test_a_custom_column_mapping_from_settings_is_used(
    empty_bot: Bot, sharepoint: tuple[FakeSharePoint, str]
) -> None:
    _, url = sharepoint
    admin = empty_bot.admin(consent_mapping_file=DATA / "custom_mapping.json")
    reply = await admin.receive_csv(_actor(JO), [_file(url, "custom_layout.csv")], http_fetcher())
    assert reply.cards and "Consent register imported" in shown(reply.cards[0].to_dict())


def test_csv_candidates_are_csv_files_on_sharepoint_over_https() -> None:
    admin = ConsentAdmin.__new__(ConsentAdmin)
    info = "application/vnd.microsoft.teams.file.download.info"
    found = admin.csv_candidates([
        {"contentType": info, "name": "consent.csv",
         "content": {"downloadUrl": "https://school.sharepoint.com/d?x=1", "fileType": "CSV"}},
        {"contentType": info, "name": "photo.png",
         "content": {"downloadUrl": "https://school.sharepoint.com/d?x=2", "fileType": "png"}},
        {"contentType": info, "name": "elsewhere.csv",
         "content": {"downloadUrl": "https://evil.example/d?x=3", "fileType": "csv"}},
        {"contentType": info, "name": "plain.csv",
         "content": {"downloadUrl": "http://school.sharepoint.com/d?x=4", "fileType": "csv"}},
        {"contentType": "text/html", "content": "<p>here it is</p>"},
    ])
    assert found == [CsvCandidate("https://school.sharepoint.com/d?x=1", "consent.csv")]
