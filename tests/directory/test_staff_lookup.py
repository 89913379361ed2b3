"""Who can be named to run an account: the directory says who is staff (issue 19, item 1).

The staff file names the staff it lists (not its leavers); Graph names enabled members of the tenant, never a
guest, and searches them by the start of their name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient

from directory.graph import GraphRoleDirectory
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.accounts import StaffDirectory
from domain.roles import DirectoryUnavailableError, Person, Role
from tests.directory.test_directory_graph import GRAPH, LEE, ROLE_GROUPS, SAM, FakeClock, FakeGraph, school

GUEST = "00000000-0000-0000-0000-00000000ee01"
GONE = "00000000-0000-0000-0000-000000000999"


def test_both_directories_can_say_who_is_staff() -> None:
    assert StaticRoleDirectory.lists_everyone is False and GraphRoleDirectory.lists_everyone is True
    assert isinstance(StaticRoleDirectory([], description="none"), StaffDirectory)


async def test_the_staff_file_names_whom_it_lists_and_not_its_leavers() -> None:
    directory = StaticRoleDirectory([
        DirectoryEntry(SAM, "Sam Teacher"), DirectoryEntry(LEE, "Lee Carter"),
        DirectoryEntry("00000000-0000-0000-0000-000000000201", "Anna Smith", frozenset({Role.HEAD_TEACHER})),
        DirectoryEntry(GONE, "Ruth Old", left=True),
    ], description="test")
    assert await directory.staff_member(LEE.upper()) == Person(LEE, "Lee Carter")
    assert await directory.staff_member(GONE) is None  # has left
    assert await directory.staff_member(GUEST) is None  # not listed
    assert [p.name for p in await directory.search_staff("a")] == ["Anna Smith", "Lee Carter", "Sam Teacher"]
    assert [p.name for p in await directory.search_staff("  LEE ")] == ["Lee Carter"]
    assert await directory.search_staff("Ruth") == []
    assert len(await directory.search_staff("", limit=2)) == 2  # everyone listed, for the slots' choices


@dataclass
class StaffGraph(FakeGraph):
    """The fake Graph, answering users by id (with their type) and a startswith search of display names."""

    guests: set[str] = field(default_factory=set)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/v1.0/users" and self.failure is None:
            self.requests.append(request)
            query = parse_qs(request.url.query.decode())
            wanted = query["$filter"][0].removeprefix("startswith(displayName,'").removesuffix("')").replace("''", "'")
            found = [self._entry(user) for user, name in sorted(self.names.items(), key=lambda kv: kv[1])
                     if name.lower().startswith(wanted.lower())]
            return httpx.Response(200, json={"value": found[: int(query["$top"][0])]})
        if request.method == "GET" and path.startswith("/v1.0/users/") and path.count("/") == 3 \
                and self.failure is None:
            self.requests.append(request)
            user = path.rsplit("/", 1)[1]
            if user not in self.names:
                return httpx.Response(404, json={"error": {"code": "Request_ResourceNotFound", "message": "no"}})
            return httpx.Response(200, json=self._entry(user))
        return await super().handle(request)

    def _entry(self, user: str) -> dict[str, object]:
        return {"id": user, "displayName": self.names[user], "accountEnabled": user not in self.disabled,
                "userType": "Guest" if user in self.guests else "Member"}


@pytest.fixture
def graph() -> StaffGraph:
    base = school()
    made = StaffGraph(names={**base.names, GUEST: "Gus Visitor"}, members=base.members, guests={GUEST})
    made.disabled.add(SAM)
    return made


@pytest.fixture
async def directory(graph: StaffGraph) -> AsyncIterator[GraphRoleDirectory]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(graph.handle))
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = GRAPH
    yield GraphRoleDirectory(GraphServiceClient(request_adapter=adapter), ROLE_GROUPS, cache_seconds=300,
                             timeout_seconds=0.5, clock=FakeClock())
    await http.aclose()


async def test_graph_names_enabled_members_and_never_a_guest(directory: GraphRoleDirectory, graph: StaffGraph) -> None:
    assert await directory.staff_member(LEE) == Person(LEE, "Lee Carter")
    assert "displayName" in str(graph.requests[-1].url) and "userType" in str(graph.requests[-1].url)
    assert await directory.staff_member(GUEST) is None
    assert await directory.staff_member(SAM) is None  # disabled
    assert await directory.staff_member(GONE) is None  # not in the tenant
    assert await directory.staff_member("not-a-guid") is None  # never sent to Graph


async def test_graph_searches_members_by_the_start_of_their_name(directory: GraphRoleDirectory,
                                                                 graph: StaffGraph) -> None:
    assert [p.name for p in await directory.search_staff("l")] == ["Lee Carter"]
    assert await directory.search_staff("Gus") == []  # a guest
    assert await directory.search_staff("O'Brien") == []  # quoted for OData, not an error
    assert "startswith(displayName,'O''Brien')" in parse_qs(graph.requests[-1].url.query.decode())["$filter"]
    assert await directory.search_staff("   ") == []


async def test_graph_down_is_said_not_guessed(directory: GraphRoleDirectory, graph: StaffGraph) -> None:
    graph.failure = 503
    with pytest.raises(DirectoryUnavailableError):
        await directory.staff_member(LEE)
    with pytest.raises(DirectoryUnavailableError):
        await directory.search_staff("Lee")
