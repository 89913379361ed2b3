"""Screenshots pasted in the personal chat after a report: fetched from Teams, checked, stored, shown to few.

Teams delivers a pasted image as an ``image/*`` attachment whose ``contentUrl`` is on the conversation's
service URL and needs the bot's token. A small aiohttp server on loopback plays that part here.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cards.incidents import Verb
from dialogs.incidents import screenshot_candidates
from domain.incidents import EventKind
from services.incidents import IncidentSettings, http_fetcher, sniff_image
from store import incidents as records
from store.outbox import OutboxKind
from tests.support.incidents_world import ANNA, LEE, SAM, TOM, School, actor, card_text, shown_text

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TOKEN = "bot-token-123"


class FakeTeamsFiles:
    """Serves /v3/attachments/<id>/views/original like Teams: only with the bot's bearer token."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"1": PNG, "2": PNG + b"more", "text": b"just text, not an image"}
        self.authorizations: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401)
        content = self.files.get(request.match_info["id"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="image/png")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v3/attachments/{id}/views/original", self.handle)
        return app


@pytest.fixture
async def teams() -> AsyncIterator[tuple[FakeTeamsFiles, str]]:
    files = FakeTeamsFiles()
    server = TestServer(files.app())
    await server.start_server()
    yield files, str(server.make_url("/"))
    await server.close()


@pytest.fixture
async def school(sqlite_url: str) -> AsyncIterator[School]:
    world = await School.open(sqlite_url, settings=IncidentSettings(screenshot_max_bytes=1024))
    yield world
    await world.close()


async def token() -> str:
    return TOKEN


def pasted(service_url: str, *ids: str) -> list[dict]:
    """A Teams message with pasted images: one image/* attachment each, plus the HTML copy of the message."""
    attachments = [{"contentType": "image/png", "contentUrl": f"{service_url}v3/attachments/{i}/views/original"}
                   for i in ids]
    return attachments + [{"contentType": "text/html", "content": "<p><img src='x'></p>"}]


def test_only_images_from_teams_itself_are_candidates() -> None:
    service = "https://smba.trafficmanager.net/emea/"
    attachments = [
        {"contentType": "image/png", "contentUrl": f"{service}v3/attachments/1/views/original"},
        {"contentType": "image/png", "contentUrl": "https://evil.example/v3/attachments/1/views/original"},
        {"contentType": "image/png", "contentUrl": "http://smba.trafficmanager.net/emea/v3/attachments/1"},
        {"contentType": "text/html", "content": "<p>hello</p>"},
        {"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "shot.png",
         "content": {"downloadUrl": "https://school.sharepoint.com/download?x=1", "fileType": "png"}},
        {"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "virus.exe",
         "content": {"downloadUrl": "https://school.sharepoint.com/download?x=2", "fileType": "exe"}},
        {"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "elsewhere.png",
         "content": {"downloadUrl": "https://evil.example/download", "fileType": "png"}},
    ]
    found = screenshot_candidates(attachments, service)
    assert [(c.url, c.authenticated) for c in found] == [
        (f"{service}v3/attachments/1/views/original", True),  # the bot's token goes to Teams only
        ("https://school.sharepoint.com/download?x=1", False),  # a pre-authenticated link gets no token
    ]


def test_image_types_come_from_the_bytes() -> None:
    assert sniff_image(PNG) == "image/png"
    assert sniff_image(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_image(b"GIF89a...") == "image/gif"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"<svg xmlns='http://www.w3.org/2000/svg'>") is None
    assert sniff_image(b"MZ\x90\x00") is None


async def test_screenshots_are_stored_with_the_report_and_shown_only_to_permitted_people(
    school: School, teams: tuple[FakeTeamsFiles, str]
) -> None:
    files, service_url = teams
    await school.report(SAM, category="bullying_pupil")  # the DSL (Tom) gets the details
    candidates = screenshot_candidates(pasted(service_url, "1", "text"), service_url)
    reply = await school.incidents.receive_screenshots(actor(SAM), candidates, http_fetcher(token))
    assert reply.texts[0].startswith("Added 1 screenshot to INC-2026-0001")
    assert "not a PNG, JPEG, GIF or WebP image" in reply.texts[1]
    assert files.authorizations == [f"Bearer {TOKEN}"] * 2

    async with school.database.sessions() as session:
        [stored] = await records.attachments(session, 1)
        entries = await records.events(session, 1)
    assert (stored.content_type, stored.size, stored.uploaded_by_aad) == ("image/png", len(PNG), SAM.aad)
    assert entries[-1].kind is EventKind.SCREENSHOT_ADDED
    # Every copy of the details card now lists it (the DSL's personal card is updated).
    updates = [a for e, a, _ in await school.outbox_activities() if e.kind is OutboxKind.UPDATE_ACTIVITY]
    assert any("Screenshots (1)" in shown_text(update) for update in updates)
    assert all("Screenshots" not in card_text(a) for e, a, _ in await school.outbox_activities()
               if e.kind is OutboxKind.POST_TO_CHANNEL)

    # Sent again (a Teams retry): stored once.
    again = await school.incidents.receive_screenshots(actor(SAM), candidates[:1], http_fetcher(token))
    assert again.texts[0].startswith("Added 1 screenshot")
    async with school.database.sessions() as session:
        assert len(await records.attachments(session, 1)) == 1

    shown = await school.act(TOM, Verb.SHOW_SCREENSHOT, {"incident": 1, "attachment": stored.id})
    [card] = shown.extra_cards
    image = [node for node in card.to_dict()["body"] if node["type"] == "Image"]
    assert image and image[0]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    head = await school.act(ANNA, Verb.SHOW_SCREENSHOT, {"incident": 1, "attachment": stored.id})
    assert head.extra_cards  # the Head Teacher is among the handlers of a pupil-bullying report
    for who in (LEE, SAM):  # staff, including the reporter, never see stored screenshots
        refused = await school.act(who, Verb.SHOW_SCREENSHOT, {"incident": 1, "attachment": stored.id})
        assert refused.extra_cards == [] and refused.message is not None
        assert "Only the people the policy names" in refused.message
    in_channel = await school.act(TOM, Verb.SHOW_SCREENSHOT, {"incident": 1, "attachment": stored.id}, "channel")
    assert in_channel.extra_cards == [] and "personal chat" in (in_channel.message or "")


async def test_too_big_or_unauthenticated_screenshots_are_refused(
    school: School, teams: tuple[FakeTeamsFiles, str]
) -> None:
    files, service_url = teams
    files.files["big"] = PNG + b"x" * 2000  # the school allows 1 KB here
    await school.report(SAM, category="negative_comment")
    candidates = screenshot_candidates(pasted(service_url, "big"), service_url)
    reply = await school.incidents.receive_screenshots(actor(SAM), candidates, http_fetcher(token))
    assert reply.texts == ["Not stored: screenshot-1: It is larger than 1 KB."]
    no_token = await school.incidents.receive_screenshots(
        actor(SAM), screenshot_candidates(pasted(service_url, "1"), service_url), http_fetcher(None)
    )
    assert "HTTP 401" in no_token.texts[0]
    async with school.database.sessions() as session:
        assert await records.attachments(session, 1) == []


async def test_screenshots_need_a_recent_report_of_a_category_that_accepts_them(
    school: School, teams: tuple[FakeTeamsFiles, str]
) -> None:
    files, service_url = teams
    candidates = screenshot_candidates(pasted(service_url, "1"), service_url)
    none_yet = await school.incidents.receive_screenshots(actor(SAM), candidates, http_fetcher(token))
    assert "Type **report** to report an incident first" in none_yet.texts[0]

    await school.report(SAM, category="inappropriate_image")  # never copy an image of a child
    refused = await school.incidents.receive_screenshots(actor(SAM), candidates, http_fetcher(token))
    assert "not accepted for this kind of report" in refused.texts[0]

    await school.report(LEE, category="other")  # Lee's report does not take Sam's screenshots
    school.clock.advance(minutes=31)
    await school.report(SAM, category="praise")
    school.clock.advance(minutes=31)  # the window has passed
    late = await school.incidents.receive_screenshots(actor(SAM), candidates, http_fetcher(token))
    assert "report an incident first" in late.texts[0]
    assert files.authorizations == []  # nothing was downloaded for a report that does not take it
