"""A fake Microsoft Graph v1.0 for the role directory (``directory/graph.py``), served to a real
``GraphServiceClient`` over an ``httpx.MockTransport``: the requests msgraph-sdk really sends (paths, query strings,
JSON bodies) are answered and recorded, with switchable outages, so a test can take Graph down and bring it back.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient

from directory.graph import GraphRoleDirectory
from domain.roles import Role

GRAPH = "https://graph.fake.test/v1.0"
# The Entra group of each role in the fake tenant (Role.STAFF is anyone in it: no group).
ROLE_GROUPS: dict[Role, str] = {
    role: f"aaaaaaaa-0000-0000-0000-{index:012d}" for index, role in enumerate(Role, start=1) if role is not Role.STAFF
}
QUIET_S = 60.0  # longer than the directory's quiet period after a failure


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeGraph:
    """Enough of Microsoft Graph v1.0 for the role directory, with switchable outages."""

    names: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    members: dict[str, list[str]] = field(default_factory=dict)  # group → users and nested groups
    page_size: int = 100
    failure: int | str | None = None  # an HTTP status, "timeout" or "connect"
    failure_headers: dict[str, str] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failure == "timeout":
            await asyncio.sleep(60)
        if self.failure == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if isinstance(self.failure, int):
            return httpx.Response(self.failure, text="<html>Service Unavailable</html>", headers=self.failure_headers)
        path = request.url.path
        if request.method == "POST" and (found := re.fullmatch(r"/v1\.0/users/([^/]+)/checkMemberGroups", path)):
            return self._check_member_groups(found.group(1), request)
        if request.method == "GET" and (
            found := re.fullmatch(r"/v1\.0/groups/([^/]+)/transitiveMembers/(?:microsoft\.)?graph\.user", path)
        ):
            return self._transitive_users(found.group(1), request)
        if request.method == "GET" and (found := re.fullmatch(r"/v1\.0/users/([^/]+)", path)):
            return self._user(found.group(1), request)
        return _error(400, "BadRequest", f"the fake does not know {request.method} {path}")

    def _check_member_groups(self, user_id: str, request: httpx.Request) -> httpx.Response:
        if user_id not in self.names:
            return _error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist")
        body = json.loads(request.content)
        group_ids = body.get("groupIds")
        if set(body) != {"groupIds"} or not isinstance(group_ids, list) or not 1 <= len(group_ids) <= 20:
            return _error(400, "Request_BadRequest", "groupIds must list 1 to 20 groups")
        return httpx.Response(200, json={"value": [g for g in group_ids if user_id in self.users_in(g)]})

    def _transitive_users(self, group_id: str, request: httpx.Request) -> httpx.Response:
        if group_id not in self.members:
            return _error(404, "Request_ResourceNotFound", f"Resource '{group_id}' does not exist")
        query = parse_qs(request.url.query.decode())
        start = int(query.get("$skiptoken", ["0"])[0])
        users = sorted(self.users_in(group_id))
        page = [
            {"id": user, "displayName": self.names[user], "accountEnabled": user not in self.disabled}
            for user in users[start : start + self.page_size]
        ]
        answer: dict[str, Any] = {"value": page}
        if start + self.page_size < len(users):
            link = f"{GRAPH}/groups/{group_id}/transitiveMembers/microsoft.graph.user"
            answer["@odata.nextLink"] = (
                f"{link}?$select=id,displayName,accountEnabled&$skiptoken={start + self.page_size}"
            )
        return httpx.Response(200, json=answer)

    def _user(self, user_id: str, request: httpx.Request) -> httpx.Response:
        if user_id not in self.names:
            return _error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist")
        return httpx.Response(200, json={"id": user_id, "accountEnabled": user_id not in self.disabled})

    def users_in(self, group_id: str) -> set[str]:
        """Users in a group, through nested groups too (what Graph calls transitive)."""
        found: set[str] = set()
        for member in self.members.get(group_id, []):
            found |= self.users_in(member) if member in self.members else {member}
        return found


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def graph_client(graph: FakeGraph) -> tuple[GraphServiceClient, httpx.AsyncClient]:
    """A real Graph client talking to ``graph``; close the HTTP client after the test."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(graph.handle))
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = GRAPH
    return GraphServiceClient(request_adapter=adapter), http


@dataclass
class SchoolGraph:
    """A school's people in the fake Graph, read by the real ``GraphRoleDirectory`` (``directory``); ``down()`` takes
    Graph down (HTTP 503), ``recover()`` brings it back and lets the directory's quiet period after a failure pass.
    Close with ``aclose()``."""

    graph: FakeGraph
    clock: FakeClock
    directory: GraphRoleDirectory
    http: httpx.AsyncClient

    @classmethod
    def of(cls, people: Iterable[tuple[str, str, Iterable[Role]]]) -> SchoolGraph:
        """``people``: (object id, name, roles) each; each is a member of the groups of their roles."""
        members: dict[str, list[str]] = {group: [] for group in ROLE_GROUPS.values()}
        names: dict[str, str] = {}
        for aad, name, roles in people:
            names[aad] = name
            for role in roles:
                if role in ROLE_GROUPS:
                    members[ROLE_GROUPS[role]].append(aad)
        graph = FakeGraph(names=names, members=members)
        client, http = graph_client(graph)
        clock = FakeClock()
        directory = GraphRoleDirectory(client, ROLE_GROUPS, cache_seconds=300, timeout_seconds=2, clock=clock)
        return cls(graph, clock, directory, http)

    @classmethod
    def from_roles_file(cls, path: Path) -> SchoolGraph:
        """The people of a roles file (``directory/static.py``'s format), in Graph instead."""
        listed = json.loads(path.read_text(encoding="utf-8"))["people"]
        return cls.of((p["aadObjectId"], p["name"], [Role(r) for r in p.get("roles", [])]) for p in listed)

    def down(self) -> None:
        self.graph.failure = 503

    def recover(self) -> None:
        self.graph.failure = None
        self.clock.advance(QUIET_S)

    async def aclose(self) -> None:
        await self.http.aclose()
