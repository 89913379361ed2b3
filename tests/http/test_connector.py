"""The async Bot Connector transport (bot/connector.py) against the fake connector over real HTTP.

Every operation botbuilder performs through the connector is checked end to end: replies, proactive
sends, updates, deletes, channel posts (create conversation), member pages; tokens present or absent as
the stock client sends them; errors raised as the stock client raises them; and the bot's help turn
through the app factory, byte for byte the same as with the stock client.
"""

from __future__ import annotations

import inspect
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)
from botframework.connector import models as connector_models
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AppCredentials, ClaimsIdentity, ServiceClientCredentialsFactory
from msrest import Serializer
from msrest.exceptions import ClientRequestError

from bot.app import SERVICES, create_app
from bot.auth import BotFrameworkConfig
from bot.connector import AsyncConnectorAuthentication
from bot.settings import Settings
from tests.fakes.activities import BOT_ID, TENANT, personal_activity
from tests.fakes.connector import FakeConnector
from tests.fakes.credentials import OUTBOUND_TOKEN, FixedTokenCredentialsFactory
from tests.http_helpers import running_bot

APP_ID = "11111111-2222-3333-4444-555555555555"
CHANNEL = "19:slt-incidents@thread.tacv2"
_HS256_KEY = "a-test-signing-key-that-is-long-enough-for-hs256"


def _dev_authentication() -> ConfigurationBotFrameworkAuthentication:
    config = BotFrameworkConfig(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")
    return ConfigurationBotFrameworkAuthentication(config)


def _registered_authentication(factory: ServiceClientCredentialsFactory) -> ConfigurationBotFrameworkAuthentication:
    config = BotFrameworkConfig(APP_ID=APP_ID, APP_PASSWORD="unused", APP_TYPE="SingleTenant", APP_TENANTID=TENANT)
    return ConfigurationBotFrameworkAuthentication(config, credentials_factory=factory)


@asynccontextmanager
async def async_connector(
    inner: ConfigurationBotFrameworkAuthentication, service_url: str, app_id: str = "", *, transport: str = "async"
) -> AsyncIterator[ConnectorClient]:
    """A connector client as CloudAdapter gets one for a turn of `app_id`.

    ``transport="stock"`` gives botbuilder's own client instead: the tests that take a ``transport``
    parameter pass with both, which is what "behaves like the stock client" means here.
    """
    claims = ClaimsIdentity({"aud": app_id, "appid": app_id}, True)
    if transport == "stock":
        yield await inner.create_connector_factory(claims).create(service_url, None)
        return
    authentication = AsyncConnectorAuthentication(inner)
    try:
        yield await authentication.create_connector_factory(claims).create(service_url, None)
    finally:
        await authentication.close()


@pytest.fixture(params=["async", "stock"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _message(text: str) -> Activity:
    return Activity(type="message", text=text, from_property=ChannelAccount(id=BOT_ID, name="Policy Bot"))


# --- every operation botbuilder uses ---------------------------------------------------------------


async def test_send_reply_update_delete_round_trip(connector: FakeConnector, transport: str) -> None:
    async with async_connector(_dev_authentication(), connector.url, transport=transport) as client:
        sent = await client.conversations.send_to_conversation("a:personal-sam", _message("one"))
        replied = await client.conversations.reply_to_activity("a:personal-sam", "in-1", _message("two"))
        updated = await client.conversations.update_activity(
            "a:personal-sam", sent.id, Activity(type="message", id=sent.id, text="one, edited")
        )
        deleted = await client.conversations.delete_activity("a:personal-sam", replied.id)

    assert sent.id and replied.id and sent.id != replied.id
    assert updated.id == sent.id
    assert deleted is None
    deliveries = connector.sent()
    assert [(d.method, d.conversation_id, d.activity_id) for d in deliveries] == [
        ("POST", "a:personal-sam", None),
        ("POST", "a:personal-sam", "in-1"),
        ("PUT", "a:personal-sam", sent.id),
        ("DELETE", "a:personal-sam", replied.id),
    ]
    assert [d.body.get("text") for d in deliveries[:3]] == ["one", "two", "one, edited"]


async def test_conversation_ids_with_reserved_characters_reach_the_right_path(
    connector: FakeConnector, transport: str
) -> None:
    thread = f"{CHANNEL};messageid=1700000000000"
    async with async_connector(_dev_authentication(), connector.url, transport=transport) as client:
        await client.conversations.send_to_conversation(thread, _message("in the thread"))
    [delivery] = connector.sent()
    assert delivery.conversation_id == thread


async def test_create_conversation_posts_in_a_channel(connector: FakeConnector, transport: str) -> None:
    parameters = ConversationParameters(
        is_group=True,
        channel_data={"channel": {"id": CHANNEL}, "tenant": {"id": TENANT}},
        activity=_message("A new incident was reported"),
        bot=ChannelAccount(id=BOT_ID),
    )
    async with async_connector(_dev_authentication(), connector.url, transport=transport) as client:
        created = await client.conversations.create_conversation(parameters)
    assert created.id and created.activity_id
    [delivery] = connector.sent()
    assert delivery.path == "/v3/conversations"
    assert delivery.body["channelData"]["channel"]["id"] == CHANNEL
    assert delivery.body["activity"]["text"] == "A new incident was reported"


async def test_what_is_sent_is_what_msrest_would_send(connector: FakeConnector, transport: str) -> None:
    card = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": "Café – “quotes” & <tags>", "wrap": True, "maxLines": 3}],
        "actions": [{"type": "Action.Execute", "verb": "decide", "data": {"n": 1.5, "ok": False, "none": None}}],
        "when": datetime(2026, 11, 24, 10, 0, tzinfo=UTC),  # not plain JSON: msrest's own conversion
        "tuple": (1, 2),  # neither: msrest turns it into a string
    }
    activity = _message("card")
    activity.attachments = [Attachment(content_type="application/vnd.microsoft.card.adaptive", content=card)]
    stock = Serializer({k: v for k, v in connector_models.__dict__.items() if isinstance(v, type)})
    expected = stock.body(activity, "Activity")

    async with async_connector(_dev_authentication(), connector.url, transport=transport) as client:
        await client.conversations.send_to_conversation("a:personal-sam", activity)
    [delivery] = connector.sent()
    assert delivery.body == expected


async def test_member_pages_are_read(aiohttp_server: Any) -> None:
    pages = {
        None: {"members": [{"id": "29:a", "name": "A", "aadObjectId": "oid-a"}], "continuationToken": "page-2"},
        "page-2": {"members": [{"id": "29:b", "name": "B", "aadObjectId": "oid-b"}]},
    }

    async def paged_members(request: web.Request) -> web.Response:
        assert request.match_info["conversation_id"] == "a:personal-sam"
        return web.json_response(pages[request.query.get("continuationToken")])

    members_app = web.Application()
    members_app.router.add_get("/v3/conversations/{conversation_id}/pagedmembers", paged_members)
    server = await aiohttp_server(members_app)

    found: list[str] = []
    token = None
    async with async_connector(_dev_authentication(), str(server.make_url("/"))) as client:
        while True:
            page = await client.conversations.get_teams_conversation_paged_members("a:personal-sam", 1, token)
            found += [member.aad_object_id for member in page.members]
            token = page.continuation_token
            if not token:
                break
    assert found == ["oid-a", "oid-b"]


# --- through botbuilder: proactive turns and TeamsInfo ---------------------------------------------


def _channel_reference(service_url: str) -> ConversationReference:
    return ConversationReference().deserialize(
        {
            "bot": {"id": BOT_ID, "name": "Policy Bot"},
            "conversation": {"id": CHANNEL, "conversationType": "channel", "isGroup": True},
            "channelId": "msteams",
            "serviceUrl": service_url,
        }
    )


async def test_proactive_channel_post_then_update_and_delete_through_cloud_adapter(connector: FakeConnector) -> None:
    authentication = AsyncConnectorAuthentication(_registered_authentication(FixedTokenCredentialsFactory(APP_ID)))
    adapter = CloudAdapter(authentication)
    posted: list[tuple[ConversationReference, str]] = []

    async def post(turn_context: TurnContext) -> None:
        posted.append(
            await TeamsInfo.send_message_to_teams_channel(
                turn_context, MessageFactory.text("Incident #12"), CHANNEL, bot_app_id=APP_ID
            )
        )

    try:
        await adapter.continue_conversation(_channel_reference(connector.url), post, bot_app_id=APP_ID)
        [(thread, activity_id)] = posted

        async def edit_then_remove(turn_context: TurnContext) -> None:
            await turn_context.update_activity(Activity(type="message", id=activity_id, text="Incident #12: closed"))
            await turn_context.delete_activity(activity_id)

        await adapter.continue_conversation(thread, edit_then_remove, bot_app_id=APP_ID)
    finally:
        await authentication.close()

    deliveries = connector.sent()
    assert [d.method for d in deliveries] == ["POST", "PUT", "DELETE"]
    assert deliveries[0].path == "/v3/conversations"
    assert deliveries[0].body["channelData"]["channel"]["id"] == CHANNEL
    assert deliveries[1].conversation_id == thread.conversation.id
    assert deliveries[1].activity_id == activity_id
    assert deliveries[1].body["text"] == "Incident #12: closed"
    assert {d.authorization for d in deliveries} == {f"Bearer {OUTBOUND_TOKEN}"}


async def test_clients_and_their_session_are_reused_across_turns(connector: FakeConnector) -> None:
    authentication = AsyncConnectorAuthentication(_dev_authentication())
    adapter = CloudAdapter(authentication)
    clients: list[object] = []

    async def send(turn_context: TurnContext) -> None:
        clients.append(turn_context.turn_state[adapter.BOT_CONNECTOR_CLIENT_KEY])
        await turn_context.send_activity("hello")

    try:
        for _ in range(3):
            await adapter.continue_conversation(_channel_reference(connector.url), send, bot_app_id="")
    finally:
        await authentication.close()
    assert len(connector.sent()) == 3
    assert clients[0] is clients[1] is clients[2]


# --- the bot's token -------------------------------------------------------------------------------


async def test_token_is_sent_when_the_bot_has_an_app_id(connector: FakeConnector, transport: str) -> None:
    inner = _registered_authentication(FixedTokenCredentialsFactory(APP_ID))
    async with async_connector(inner, connector.url, app_id=APP_ID, transport=transport) as client:
        await client.conversations.send_to_conversation("a:personal-sam", _message("hi"))
    [delivery] = connector.sent()
    assert delivery.authorization == f"Bearer {OUTBOUND_TOKEN}"


async def test_no_token_in_dev_mode(connector: FakeConnector, transport: str) -> None:
    async with async_connector(_dev_authentication(), connector.url, transport=transport) as client:
        await client.conversations.send_to_conversation("a:personal-sam", _message("hi"))
    [delivery] = connector.sent()
    assert delivery.authorization is None


async def test_an_unknown_app_id_is_refused_as_botbuilder_refuses_it(connector: FakeConnector) -> None:
    inner = _registered_authentication(FixedTokenCredentialsFactory(APP_ID))
    with pytest.raises(PermissionError):
        async with async_connector(inner, connector.url, app_id="someone-else"):
            pass
    assert connector.sent() == []


class _CountingCredentials(AppCredentials):
    """Hands out a fixed token and counts how often it was asked (as msal would be)."""

    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id=app_id)
        self.token = token
        self.fetches = 0

    def get_access_token(self, force_refresh: bool = False) -> str:
        self.fetches += 1
        return self.token


class _CountingFactory(FixedTokenCredentialsFactory):
    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id)
        self.credentials = _CountingCredentials(app_id, token)

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):  # type: ignore[no-untyped-def]
        return self.credentials


def _jwt(expires_in_s: float) -> str:
    return jwt.encode({"exp": int(time.time() + expires_in_s), "aud": "https://api.botframework.com"}, _HS256_KEY)


@pytest.mark.parametrize(
    ("token", "fetches"),
    [
        pytest.param(_jwt(3600), 1, id="jwt-reused-until-near-expiry"),
        pytest.param(_jwt(60), 3, id="jwt-close-to-expiry-fetched-again"),
        pytest.param("opaque-token", 3, id="opaque-fetched-every-time"),
    ],
)
async def test_token_is_reused_only_while_it_is_valid(connector: FakeConnector, token: str, fetches: int) -> None:
    factory = _CountingFactory(APP_ID, token)
    async with async_connector(_registered_authentication(factory), connector.url, app_id=APP_ID) as client:
        for text in ("one", "two", "three"):
            await client.conversations.send_to_conversation("a:personal-sam", _message(text))
    assert factory.credentials.fetches == fetches
    assert {d.authorization for d in connector.sent()} == {f"Bearer {token}"}


async def test_a_refused_token_is_fetched_again(connector: FakeConnector) -> None:
    factory = _CountingFactory(APP_ID, _jwt(3600))
    async with async_connector(_registered_authentication(factory), connector.url, app_id=APP_ID) as client:
        await client.conversations.send_to_conversation("a:personal-sam", _message("one"))
        connector.fail_next(401)
        with pytest.raises(ErrorResponseException):
            await client.conversations.send_to_conversation("a:personal-sam", _message("two"))
        await client.conversations.send_to_conversation("a:personal-sam", _message("three"))
    assert factory.credentials.fetches == 2


# --- errors: as the stock client raises them -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, "7"), (503, "30"), (412, None), (403, None), (404, None), (413, None), (502, None)],
)
async def test_error_statuses_raise_with_status_and_retry_after(
    connector: FakeConnector, transport: str, status: int, retry_after: str | None
) -> None:
    connector.fail_next(status, retry_after=retry_after)
    async with async_connector(_dev_authentication(), connector.url, transport=transport) as client:
        with pytest.raises(ErrorResponseException) as raised:
            await client.conversations.reply_to_activity("a:personal-sam", "in-1", _message("hi"))
        # The next request is not failed: no retry happened inside the client.
        await client.conversations.send_to_conversation("a:personal-sam", _message("after"))
    error = raised.value
    assert error.response.status_code == status
    assert error.response.headers.get("Retry-After") == retry_after
    assert error.response.headers.get("retry-after") == retry_after  # case-insensitive, like requests
    assert error.response.json()["error"]["code"] == "Scripted"
    assert error.error.error.code == "Scripted"  # the ErrorResponse model, deserialised as msrest does
    assert str(error) == f"(Scripted) scripted {status}"
    assert [d.body["text"] for d in connector.sent()] == ["after"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_connector_raises_client_request_error(transport: str) -> None:
    unreachable = f"http://127.0.0.1:{_closed_port()}/"
    async with async_connector(_dev_authentication(), unreachable, transport=transport) as client:
        with pytest.raises(ClientRequestError):
            await client.conversations.send_to_conversation("a:personal-sam", _message("hi"))


# --- the bot's help turn through the app factory ---------------------------------------------------


@asynccontextmanager
async def bot_with_async_connector(settings: Settings) -> AsyncIterator[TestClient]:
    """The app from create_app with its adapter's authentication wrapped (what connector_mode="async" does)."""
    app = create_app(settings)
    adapter = app[SERVICES].adapter
    authentication = AsyncConnectorAuthentication(adapter.bot_framework_authentication)
    adapter.bot_framework_authentication = authentication
    try:
        async with TestClient(TestServer(app)) as client:
            yield client
    finally:
        await authentication.close()


async def test_help_turn_sends_exactly_what_the_stock_connector_sends(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    activity = personal_activity(connector.url, text="help", activity_id="help-1")
    async with running_bot(dev_settings) as client:
        assert (await client.post("/api/messages", json=activity)).status == 201
    [stock] = connector.sent()
    connector.clear()

    async with bot_with_async_connector(dev_settings) as client:
        activity["id"] = "help-2"
        assert (await client.post("/api/messages", json=activity)).status == 201
    [delivered] = connector.sent()

    assert delivered.path == stock.path.replace("help-1", "help-2")
    assert {**delivered.body, "replyToId": None} == {**stock.body, "replyToId": None}
    assert delivered.authorization is None
    assert connector.cards()[0]["body"][0]["text"] == "How Policy Bot can help"


def _create_app_has_connector_mode() -> bool:
    return "connector_mode" in inspect.signature(create_app).parameters


@pytest.mark.skipif(not _create_app_has_connector_mode(), reason="create_app does not take connector_mode yet")
@pytest.mark.parametrize("mode", ["async", "stock"])
async def test_help_turn_with_create_app_connector_mode(
    dev_settings: Settings, connector: FakeConnector, mode: str
) -> None:
    async with running_bot(dev_settings, connector_mode=mode) as client:
        uses_async = isinstance(client.app[SERVICES].adapter.bot_framework_authentication, AsyncConnectorAuthentication)
        response = await client.post("/api/messages", json=personal_activity(connector.url, text="help"))
        assert response.status == 201
    assert uses_async == (mode == "async")
    [card] = connector.cards()
    assert card["body"][0]["text"] == "How Policy Bot can help"

