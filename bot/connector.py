"""An async Bot Connector transport: replies go out on one shared aiohttp session.

botbuilder 4.17's ``CloudAdapter`` already uses the *async* ``ConnectorClient``
(``botframework.connector.aio``), but its msrest pipeline sends every request with the synchronous
``requests`` library on a worker thread, and builds a new client (with a new ``requests`` session, so a
new TCP connection) for every turn. That outbound path, not the bot's own work, is the ceiling of a
stock bot (see TEAMS-NOTES, "Performance"). msrest's own aiohttp sender cannot replace it: it drops the
request's headers and body.

The seam used here is the one ``CloudAdapter`` is built around, ``BotFrameworkAuthentication``:
``AsyncConnectorAuthentication`` wraps the configured authentication and hands out connector factories
whose clients are the *same* generated ``ConnectorClient`` (every operation, model and
``ErrorResponseException`` unchanged) with only the transport swapped:

- requests go out on one ``aiohttp.ClientSession`` (kept-alive connections) owned by the wrapper;
- the bot's outbound token comes from the same credentials botbuilder would use (from the credentials
  factory; none when the app id is empty, as in dev mode), fetched off the event loop and reused until
  shortly before it expires;
- clients are cached per (app id, service URL, audience), so a turn builds nothing.

Errors keep the stock client's contract: a non-2xx answer raises ``ErrorResponseException`` whose
``response`` has ``status_code``, ``reason``, case-insensitive ``headers`` (``Retry-After``), ``text`` and
``json()``; a network failure raises msrest's ``ClientRequestError``. Like the stock client it never
retries: retrying is the caller's decision (the outbox).

Wiring: ``CloudAdapter(AsyncConnectorAuthentication(build_authentication(settings, factory)))`` and
``await authentication.close()`` on shutdown; the stock transport is the unwrapped authentication.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping
from datetime import datetime
from enum import Enum
from typing import Any, cast

import aiohttp
import jwt
from botbuilder.schema import Activity, ResourceResponse
from botframework.connector.about import __version__ as _BOTFRAMEWORK_VERSION
from botframework.connector.aio import ConnectorClient
from botframework.connector.aio.operations_async import AttachmentsOperations, ConversationsOperations
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from botframework.connector.bot_framework_sdk_client_async import BotFrameworkConnectorConfiguration
from botframework.connector.skills import BotFrameworkClient
from msrest import Deserializer, Serializer
from msrest.authentication import Authentication
from msrest.exceptions import ClientRequestError
from msrest.pipeline import Request, Response
from msrest.pipeline.async_abc import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Model
from msrest.universal_http import ClientRequest
from msrest.universal_http.async_abc import AsyncClientResponse
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

log = logging.getLogger(__name__)

# What botbuilder's own connector factory adds to the User-Agent (Teams sees the same client).
_USER_AGENT = f"Microsoft-BotFramework/3.1 (BotBuilder Python/{_BOTFRAMEWORK_VERSION})"
_SEND_TIMEOUT_S = 100.0  # msrest's connect and read timeout for the stock client; kept for parity
_MAX_CACHED_CLIENTS = 64  # one per (app id, service URL, audience): a school's bot sees a handful
_TOKEN_REFRESH_MARGIN_S = 300.0  # fetch a new token this long before the old one expires (as msal does)
_DOWNLOAD_CHUNK_BYTES = 10 * 1024  # chunk size of an attachment download, as msrest's


class SentJson(dict[str, Any]):
    """A card's JSON built for one reply and never changed after: copying it is sharing it.

    botbuilder deep-copies every activity a turn sends (``TurnContext.send_activities``); for a card that
    walked every node of its JSON, about a seventh of a help turn's CPU. It must hold JSON only (``dict``,
    ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``, string keys), as a pydantic ``model_dump(mode="json")``
    gives: the async connector sends it as it is, without walking it (``_JsonSerializer``).
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> SentJson:
        return self

    def __copy__(self) -> SentJson:
        return self


class ConnectorResponse:
    """The HTTP answer carried by ``ErrorResponseException.response``.

    It offers the parts of a ``requests.Response`` that code written for the stock client reads:
    ``status_code``, ``reason``, ``headers`` (case-insensitive, e.g. ``headers.get("Retry-After")``),
    ``url``, ``content``, ``text`` and ``json()``.
    """

    def __init__(self, status_code: int, reason: str, headers: Mapping[str, str], content: bytes, url: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self.content = content
        self.url = url

    @property
    def text(self) -> str:
        return self.content.decode("utf-8-sig", errors="replace")

    def json(self) -> Any:
        return json.loads(self.text)

    def __repr__(self) -> str:
        return f"<ConnectorResponse [{self.status_code}]>"


class _ReceivedResponse(AsyncClientResponse):
    """msrest's view of a fully read response (msrest deserialises from ``body()``/``text()``)."""

    def __init__(self, request: ClientRequest, answer: ConnectorResponse) -> None:
        super().__init__(request, answer)
        self.status_code = answer.status_code
        # msrest declares MutableMapping but only reads a response's headers; keep the case-insensitive view.
        self.headers = cast(MutableMapping[str, str], answer.headers)
        self.reason = answer.reason
        self._body = answer.content

    def body(self) -> bytes:
        return self._body

    def stream_download(
        self, chunk_size: int | None = None, callback: Callable[[bytes, Any], None] | None = None
    ) -> AsyncIterator[bytes]:
        """Attachment downloads: the body is already in memory; hand it out in chunks."""
        size = chunk_size or _DOWNLOAD_CHUNK_BYTES
        body = self._body

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), size):
                chunk = body[start : start + size]
                if callback is not None:
                    callback(chunk, self)
                yield chunk

        return chunks()


# The msrest pipeline as this module runs it: msrest's request in, the fully read response out.
_PipelineRequest = Request[ClientRequest]
_PipelineResponse = Response[ClientRequest, AsyncClientResponse]
_Pipeline = AsyncPipeline[ClientRequest, AsyncClientResponse]


class _SharedSessionSender(AsyncHTTPSender[ClientRequest, AsyncClientResponse]):
    """The end of the msrest pipeline: one request on the shared aiohttp session."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._session = session

    async def __aenter__(self) -> _SharedSessionSender:
        return self

    async def __aexit__(self, *exc_details: object) -> None:
        """The session belongs to ``AsyncConnectorAuthentication``: a client going away keeps it open."""

    async def send(self, request: _PipelineRequest, **config: Any) -> _PipelineResponse:
        outgoing: ClientRequest = request.http_request
        if outgoing.files:
            raise NotImplementedError("multipart uploads are not part of the Bot Connector API")
        # aiohttp computes Content-Length from the body it is given.
        headers = {name: value for name, value in outgoing.headers.items() if name.lower() != "content-length"}
        data = outgoing.data.encode("utf-8") if isinstance(outgoing.data, str) else outgoing.data
        try:
            # encoded=True: send the path exactly as msrest quoted it (conversation ids hold ':', ';', '@').
            async with self._session().request(
                outgoing.method, URL(outgoing.url, encoded=True), headers=headers, data=data
            ) as answer:
                content = await answer.read()
                received = ConnectorResponse(answer.status, answer.reason or "", answer.headers, content, outgoing.url)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            # The stock client raises the same type for a failed request.
            raise ClientRequestError(f"Error occurred in request: {type(error).__name__}", error) from error
        return Response(request, _ReceivedResponse(outgoing, received))


class _OutboundToken:
    """The bot's bearer token for one set of credentials.

    ``AppCredentials.get_access_token`` is synchronous and may call Entra ID, so it runs on a worker
    thread; a JWT is then reused until shortly before its ``exp``. An opaque token is fetched every time.
    """

    def __init__(self, credentials: Authentication | None) -> None:
        self._credentials = credentials
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    def _anonymous(self) -> bool:
        credentials = self._credentials
        if credentials is None:
            return True
        if isinstance(credentials, AppCredentials):
            # botbuilder sends no token without an app id (dev mode) or for an anonymous skill.
            app_id = credentials.microsoft_app_id
            return not app_id or app_id == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID
        return False

    async def authorization(self) -> str | None:
        """The Authorization header value, or None when botbuilder would send none."""
        if self._anonymous():
            return None
        if self._token is not None and time.time() < self._refresh_at:
            return f"Bearer {self._token}"
        async with self._lock:
            if self._token is not None and time.time() < self._refresh_at:
                return f"Bearer {self._token}"
            credentials = self._credentials
            if not isinstance(credentials, AppCredentials):
                # Any other msrest credentials: let them sign a session and read the header back.
                session = await asyncio.to_thread(credentials.signed_session)  # type: ignore[union-attr]
                try:
                    header = session.headers.get("Authorization")
                finally:
                    session.close()
                return str(header) if header else None
            token = await asyncio.to_thread(credentials.get_access_token)
            self._token, self._refresh_at = token, _refresh_time(token)
            return f"Bearer {token}"

    def forget(self) -> None:
        """The service refused the token: fetch a new one next time."""
        self._token, self._refresh_at = None, 0.0


def _refresh_time(token: str) -> float:
    """When to fetch a new token: before a JWT's expiry; at once for a token that is not a JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return 0.0
    expires = claims.get("exp")
    if not isinstance(expires, int | float):
        return 0.0
    return float(expires) - _TOKEN_REFRESH_MARGIN_S


class _BearerTokenPolicy(AsyncHTTPPolicy[ClientRequest, AsyncClientResponse]):
    def __init__(self, credentials: Authentication | None) -> None:
        super().__init__()
        self._token = _OutboundToken(credentials)

    async def send(self, request: _PipelineRequest, **kwargs: Any) -> _PipelineResponse:
        headers = request.http_request.headers
        authorization = await self._token.authorization()
        if authorization:
            headers["Authorization"] = authorization
        else:
            headers.pop("Authorization", None)
        assert self.next is not None, "AsyncPipeline links every policy to the next before it sends"
        response = await self.next.send(request, **kwargs)
        if authorization and response.http_response.status_code == 401:
            self._token.forget()
        return response


class _NotPlain(Exception):
    """A request body outside what ``_JsonSerializer.body`` serialises itself: msrest serialises it."""


# How a model class is written, computed once per class: (attribute, JSON key, msrest type) for each attribute,
# or None when msrest must write it (validation rules, XML, flattened keys or additional properties).
_MODEL_PLANS: dict[type[Any], tuple[tuple[str, str, str], ...] | None] = {}


_PLAIN_TYPES: dict[str, type[Any]] = {"str": str, "bool": bool, "int": int, "float": float}


def _model_plan(cls: type[Any]) -> tuple[tuple[str, str, str], ...] | None:
    if cls in _MODEL_PLANS:
        return _MODEL_PLANS[cls]
    attributes: dict[str, dict[str, Any]] = getattr(cls, "_attribute_map", {})
    plain = (
        not getattr(cls, "_validation", None)
        and not hasattr(cls, "_xml_map")
        and "additional_properties" not in attributes
        and all("." not in desc["key"] and "xml" not in desc for desc in attributes.values())
    )
    plan = tuple((name, desc["key"], desc["type"]) for name, desc in attributes.items()) if plain else None
    _MODEL_PLANS[cls] = plan
    return plan


class _JsonSerializer(Serializer):
    """msrest's serializer, with a short path for the activities the bot sends and the JSON inside them.

    - An Adaptive Card is an attachment's ``content`` (type ``object``): msrest walks it node by node and
      converts every string and number with ``eval(type_name)(value)``. For exact ``dict``/``list``/``str``/
      ``int``/``float``/``bool``/``None`` nodes this gives the same output directly (a ``SentJson`` is JSON
      already and is sent as it is); any other node (a model, a date, an enum...) still goes through msrest.
    - A request body (``body``) that is a model whose every part is plain (models without validation rules,
      XML or flattened keys, holding exact ``str``/``bool``/``int``/``float`` values, datetimes, JSON objects, lists
      and dicts of these, and such models) is written directly: what msrest writes for it, without its
      dict-to-model pass, its validation walk (these models have no rules, so it cannot fail) and its per-value
      dispatch, about a twentieth of a help turn's CPU. Anything else is msrest's, exactly as before.
    """

    def serialize_object(self, attr: Any, **kwargs: Any) -> Any:
        kind = type(attr)
        if attr is None or kind is str or kind is int or kind is float or kind is bool or kind is SentJson:
            return attr
        if kind is dict:
            serialized: dict[str, Any] = {}
            for key, value in attr.items():
                # msrest's serialize_unicode is unannotated.
                name = key if type(key) is str else self.serialize_unicode(key)  # type: ignore[no-untyped-call]
                try:
                    serialized[name] = self.serialize_object(value, **kwargs)
                except ValueError:  # as msrest: a value it cannot serialise becomes null
                    serialized[name] = None
            return serialized
        if kind is list:
            items: list[Any] = []
            for value in attr:
                try:
                    items.append(self.serialize_object(value, **kwargs))
                except ValueError:  # as msrest: an item it cannot serialise is left out
                    pass
            return items
        return super().serialize_object(attr, **kwargs)  # type: ignore[no-untyped-call]  # msrest: unannotated

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if not kwargs and type(data) is self.dependencies.get(data_type):
            try:
                return self._plain_model(data)
            except Exception:  # noqa: BLE001 - not plain, or failing: msrest serialises it (and raises its errors)
                pass
        return super().body(data, data_type, **kwargs)  # type: ignore[no-untyped-call]  # msrest: unannotated

    def _plain_model(self, model: Any) -> dict[str, Any]:
        plan = _model_plan(type(model))
        if plan is None:
            raise _NotPlain
        serialized: dict[str, Any] = {}
        for name, key, kind in plan:
            value = getattr(model, name)
            if value is not None:  # as msrest: an attribute without a value is left out
                serialized[key] = self._plain_value(value, kind)
        return serialized

    def _plain_value(self, value: Any, kind: str) -> Any:
        """``value`` (not None) as msrest writes a value of type ``kind``; _NotPlain when it is not that simple."""
        exact = type(value)
        plain = _PLAIN_TYPES.get(kind)
        if plain is not None:
            if exact is plain:
                return value
            if kind == "str" and isinstance(value, Enum):
                return value.value  # as msrest: botbuilder's enums (ActivityTypes...) are written as their values
            raise _NotPlain  # msrest would convert it (str(), int()...)
        if kind == "object":
            if hasattr(value, "_validation"):
                raise _NotPlain  # a model msrest would validate
            return self.serialize_object(value)
        if kind == "iso-8601":
            if exact is not datetime:
                raise _NotPlain
            return Serializer.serialize_iso(value)  # type: ignore[no-untyped-call]  # msrest: unannotated
        if kind.startswith("[") and kind.endswith("]"):
            if exact is not list:
                raise _NotPlain
            inner = kind[1:-1]
            return [None if item is None else self._plain_value(item, inner) for item in value]
        if kind.startswith("{") and kind.endswith("}"):
            if exact is not dict or not all(type(key) is str for key in value):
                raise _NotPlain
            inner = kind[1:-1]
            return {key: None if item is None else self._plain_value(item, inner) for key, item in value.items()}
        model_class = self.dependencies.get(kind)
        if not (isinstance(model_class, type) and issubclass(model_class, Model) and not issubclass(model_class, Enum)):
            raise _NotPlain  # an enum, or a type msrest resolves from the value
        if not isinstance(value, Model):
            raise _NotPlain  # e.g. a dict where a model belongs: msrest builds the model first
        return self._plain_model(value)


class _JsonDeserializer(Deserializer):
    """msrest's deserializer, with a short path for the answer to every message sent: ``{"id": "..."}``.

    That is a ``ResourceResponse`` built directly, as msrest builds it from exactly that JSON; any other answer
    (more keys, an id that is not a string, another type) is msrest's.
    """

    def __call__(self, target_obj: str, response_data: Any, content_type: str | None = None) -> Any:
        if target_obj == "ResourceResponse":
            data = self._unpack_content(response_data, content_type)  # type: ignore[no-untyped-call]
            if type(data) is dict and len(data) == 1 and type(data.get("id")) is str:
                return ResourceResponse(id=data["id"])
            return self._deserialize(target_obj, data)  # type: ignore[no-untyped-call]  # msrest: unannotated
        return super().__call__(target_obj, response_data, content_type)  # type: ignore[no-untyped-call]


class _SharedSessionConnectorClient(ConnectorClient):  # type: ignore[misc]  # botbuilder is untyped
    """botbuilder's generated async ``ConnectorClient``, on the shared session, with the faster (de)serializer."""

    _serialize: Serializer  # set by ConnectorClient.__init__, replaced by ours below
    _deserialize: Deserializer

    def __init__(
        self,
        credentials: Authentication | None,
        base_url: str,
        pipeline: Callable[[BotFrameworkConnectorConfiguration], _Pipeline],
    ) -> None:
        super().__init__(credentials, base_url=base_url, pipeline_type=pipeline)
        self.config.add_user_agent(_USER_AGENT)
        # The generated operations take their serializer when built: build them again with ours.
        # msrest's Serializer.__init__ is unannotated.
        self._serialize = _JsonSerializer(self._serialize.dependencies)  # type: ignore[no-untyped-call]
        self._deserialize = _JsonDeserializer(self._deserialize.dependencies)  # type: ignore[no-untyped-call]
        self.attachments = AttachmentsOperations(self._client, self.config, self._serialize, self._deserialize)
        self.conversations = ConversationsOperations(self._client, self.config, self._serialize, self._deserialize)


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    """The bot's app id for a turn, read from the claims as botbuilder's own connector factory reads it."""
    app_id: str | None = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return app_id


class _AsyncConnectorFactory(ConnectorFactory):  # type: ignore[misc]  # botbuilder is untyped
    """botbuilder's connector factory for one turn, answering with clients on the shared session."""

    def __init__(self, stock: ConnectorFactory, app_id: str | None, owner: AsyncConnectorAuthentication) -> None:
        self._stock = stock
        self._app_id = app_id
        self._owner = owner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return await self._owner._client_for(self._stock, self._app_id, service_url, audience)


class AsyncConnectorAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]  # botbuilder is untyped
    """Wraps a ``BotFrameworkAuthentication`` so outbound Bot Connector calls use a shared aiohttp session.

    Inbound authentication, user token clients and skills are the wrapped object's, unchanged. Call
    ``close()`` when the app stops (it closes the session).
    """

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._http: aiohttp.ClientSession | None = None
        self._sender = _SharedSessionSender(self._session)
        self._clients: OrderedDict[tuple[str | None, str, str | None], ConnectorClient] = OrderedDict()
        self._user_token_clients: dict[str | None, UserTokenClient] = {}

    @property
    def inner(self) -> BotFrameworkAuthentication:
        """The wrapped authentication (the stock transport, if ever needed)."""
        return self._inner

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=_SEND_TIMEOUT_S, sock_read=_SEND_TIMEOUT_S),
                trust_env=True,  # proxies from the environment, as the stock client (requests) honours them
                skip_auto_headers=("User-Agent",),  # msrest's user-agent policy sets it
            )
        return self._http

    async def close(self) -> None:
        self._clients.clear()
        self._user_token_clients.clear()
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None

    async def _client_for(
        self, stock: ConnectorFactory, app_id: str | None, service_url: str, audience: str | None
    ) -> ConnectorClient:
        key = (app_id, service_url, audience)
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        # botbuilder's factory resolves the credentials (and refuses an unknown app id); keep them.
        credentials = (await stock.create(service_url, audience)).config.credentials
        client = _SharedSessionConnectorClient(credentials, service_url, self._pipeline)
        self._clients[key] = client
        if len(self._clients) > _MAX_CACHED_CLIENTS:
            self._clients.popitem(last=False)
        return client

    def _pipeline(self, config: BotFrameworkConnectorConfiguration) -> _Pipeline:
        return AsyncPipeline(
            [config.user_agent_policy, _BearerTokenPolicy(config.credentials), RawDeserializer()],
            self._sender,
        )

    def _adopt(self, result: AuthenticateRequestResult) -> AuthenticateRequestResult:
        if result.connector_factory is not None:
            result.connector_factory = _AsyncConnectorFactory(
                result.connector_factory, _app_id(result.claims_identity), self
            )
        return result

    # --- BotFrameworkAuthentication ---------------------------------------------------------------

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        return self._adopt(await self._inner.authenticate_request(activity, auth_header))

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return self._adopt(await self._inner.authenticate_streaming_request(auth_header, channel_id_header))

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _AsyncConnectorFactory(
            self._inner.create_connector_factory(claims_identity), _app_id(claims_identity), self
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # botbuilder builds one for every turn (used only by sign-in prompts), and building it costs about a
        # third of a turn's CPU (msrest's retry configuration). It depends on nothing but the app id.
        app_id = _app_id(claims_identity)
        client = self._user_token_clients.get(app_id)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            if len(self._user_token_clients) >= _MAX_CACHED_CLIENTS:
                self._user_token_clients.clear()
            self._user_token_clients[app_id] = client
        return client

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        audience: str = self._inner.get_originating_audience()
        return audience

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)
