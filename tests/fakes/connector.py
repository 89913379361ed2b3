"""A fake Bot Connector (the Teams service the bot sends replies to), served over loopback HTTP.

It runs its own event loop in a thread, because botbuilder's connector client sends with the
synchronous ``requests`` library. Tests read what was delivered and can script failures
(503, 429 with Retry-After, 403, 404) for the next N requests, or for the next N requests to one
conversation. It can also accept the next N requests and hold back their answers until released: the
message is delivered, but the bot has not heard so yet (a crash, or a slow answer, in between).
Creating a conversation in a channel (a new channel post) answers like Teams: the new thread's id is
``<channel id>;messageid=<activity id>``.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Delivery:
    method: str
    path: str
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]
    authorization: str | None

    @property
    def activity(self) -> dict[str, Any]:
        """The activity delivered: a new conversation (a channel post) carries it inside its parameters."""
        if self.path == "/v3/conversations":
            return self.body.get("activity") or {}
        return self.body


@dataclass
class ScriptedFailure:
    status: int
    retry_after: str | None = None
    conversation_id: str | None = None  # None: any request; else only requests for this conversation (or channel)


@dataclass
class FakeConnector:
    deliveries: list[Delivery] = field(default_factory=list)
    failures: list[ScriptedFailure] = field(default_factory=list)
    attempts: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _holds: int = 0
    _held: list[threading.Event] = field(default_factory=list)
    url: str = ""

    def fail_next(
        self, status: int, times: int = 1, retry_after: str | None = None, *, conversation_id: str | None = None
    ) -> None:
        """Answer the next ``times`` requests (to ``conversation_id`` only, if given) with ``status``."""
        with self._lock:
            self.failures.extend(ScriptedFailure(status, retry_after, conversation_id) for _ in range(times))

    def hold_next(self, times: int = 1) -> None:
        """Accept the next ``times`` requests (they count as delivered) but answer each only when released."""
        with self._lock:
            self._holds += times

    def held(self) -> int:
        """Requests accepted and not answered yet."""
        with self._lock:
            return sum(1 for answer in self._held if not answer.is_set())

    def release(self, count: int | None = None) -> None:
        """Answer the ``count`` oldest held requests (all of them when None)."""
        with self._lock:
            waiting = [answer for answer in self._held if not answer.is_set()]
            for answer in waiting if count is None else waiting[:count]:
                answer.set()

    async def _answer_if_held(self) -> None:
        with self._lock:
            if self._holds <= 0:
                return
            self._holds -= 1
            answer = threading.Event()
            self._held.append(answer)
        await asyncio.to_thread(answer.wait)

    def _take_failure(self, conversation_id: str) -> ScriptedFailure | None:
        with self._lock:
            self.attempts += 1
            for index, failure in enumerate(self.failures):
                if failure.conversation_id in (None, conversation_id):
                    return self.failures.pop(index)
        return None

    @staticmethod
    def _failure_response(failure: ScriptedFailure) -> web.Response:
        headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
        return web.json_response(
            {"error": {"code": "Scripted", "message": f"scripted {failure.status}"}},
            status=failure.status,
            headers=headers,
        )

    def sent(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Card contents of every delivered activity, in order."""
        found = []
        for delivery in self.sent():
            for attachment in delivery.activity.get("attachments") or []:
                if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                    found.append(attachment["content"])
        return found

    def texts(self) -> list[str]:
        return [d.activity.get("text") or "" for d in self.sent()]

    def clear(self) -> None:
        with self._lock:
            self.deliveries.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        conversation_id = request.match_info.get("conversation_id", "")
        failure = self._take_failure(conversation_id)
        if failure is not None:
            return self._failure_response(failure)
        body = await request.json() if request.can_read_body else {}
        activity_id = request.match_info.get("activity_id")
        with self._lock:
            new_id = activity_id if request.method == "PUT" else f"act-{next(self._ids)}"
            self.deliveries.append(
                Delivery(request.method, request.path, conversation_id, activity_id, body,
                         request.headers.get("Authorization"))
            )
        await self._answer_if_held()
        return web.json_response({"id": new_id})

    async def _create_conversation(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel_id = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        failure = self._take_failure(channel_id or "")
        if failure is not None:
            return self._failure_response(failure)
        with self._lock:
            activity_id = f"act-{next(self._ids)}"
            conversation_id = f"{channel_id};messageid={activity_id}" if channel_id else f"conv-{next(self._ids)}"
            self.deliveries.append(
                Delivery("POST", request.path, conversation_id, None, body, request.headers.get("Authorization"))
            )
        await self._answer_if_held()
        return web.json_response({"id": conversation_id, "activityId": activity_id})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._handle)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{activity_id}", self._handle)
        app.router.add_put("/v3/conversations/{conversation_id}/activities/{activity_id}", self._handle)
        app.router.add_delete("/v3/conversations/{conversation_id}/activities/{activity_id}", self._handle)
        return app


class ConnectorServer:
    """Runs a ``FakeConnector`` on 127.0.0.1 in a background thread."""

    def __init__(self) -> None:
        self.connector = FakeConnector()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> FakeConnector:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        port = future.result(timeout=10)
        self.connector.url = f"http://127.0.0.1:{port}/"
        return self.connector

    async def _start(self) -> int:
        self._runner = web.AppRunner(self.connector.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        self.connector.release()  # a held answer must not keep the server from closing
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
