"""Roles from Entra groups, through a real GraphServiceClient talking to a small fake Graph over httpx.

The fake answers the requests msgraph-sdk really sends (paths, query strings, JSON bodies) and records them,
so the tests can say how many requests a lookup cost and what they looked like.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient

from directory.graph import GraphRoleDirectory
from domain.roles import DirectoryUnavailableError, Person, Role
from tests.fakes.graph import GRAPH, FakeClock, FakeGraph

ANNA = "00000000-0000-0000-0000-000000000201"
PRIYA = "00000000-0000-0000-0000-000000000202"
TOM = "00000000-0000-0000-0000-000000000203"
JO = "00000000-0000-0000-0000-000000000204"
SAM = "00000000-0000-0000-0000-000000000101"
LEE = "00000000-0000-0000-0000-000000000102"
GONE = "00000000-0000-0000-0000-000000000999"

HEAD_GROUP = "aaaaaaaa-0000-0000-0000-000000000001"
SLT_GROUP = "aaaaaaaa-0000-0000-0000-000000000002"
DSL_GROUP = "aaaaaaaa-0000-0000-0000-000000000003"
SAFEGUARDING_TEAM = "aaaaaaaa-0000-0000-0000-000000000004"  # nested inside the DSL group
DPO_GROUP = "aaaaaaaa-0000-0000-0000-000000000005"

ROLE_GROUPS = {Role.HEAD_TEACHER: HEAD_GROUP, Role.SLT: SLT_GROUP, Role.DSL: DSL_GROUP, Role.DPO: DPO_GROUP}
CACHE_S = 300.0


def school() -> FakeGraph:
    return FakeGraph(
        names={
            ANNA: "Anna Smith",
            PRIYA: "Priya Shah",
            TOM: "Tom Reed",
            JO: "Jo Bell",
            SAM: "Sam Teacher",
            LEE: "Lee Carter",
        },
        members={
            HEAD_GROUP: [ANNA],
            SLT_GROUP: [ANNA, PRIYA, TOM],
            DSL_GROUP: [SAFEGUARDING_TEAM],
            SAFEGUARDING_TEAM: [TOM],
            DPO_GROUP: [JO],
        },
    )


@pytest.fixture
def graph() -> FakeGraph:
    return school()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(graph: FakeGraph) -> AsyncIterator[GraphServiceClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(graph.handle))
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = GRAPH
    yield GraphServiceClient(request_adapter=adapter)
    await http.aclose()


@pytest.fixture
def directory(client: GraphServiceClient, clock: FakeClock) -> GraphRoleDirectory:
    return GraphRoleDirectory(client, ROLE_GROUPS, cache_seconds=CACHE_S, timeout_seconds=0.2, clock=clock)


# --- roles --------------------------------------------------------------------------------------------


async def test_roles_come_from_one_check_member_groups_request(directory: GraphRoleDirectory, graph: FakeGraph) -> None:
    lookup = await directory.roles_of(ANNA)

    assert lookup.roles == {Role.STAFF, Role.HEAD_TEACHER, Role.SLT}
    assert lookup.source == "graph" and not lookup.degraded
    [request] = graph.requests
    assert request.method == "POST"
    assert str(request.url) == f"{GRAPH}/users/{ANNA}/checkMemberGroups"
    assert request.headers["content-type"].startswith("application/json")
    body = json.loads(request.content)
    assert sorted(body["groupIds"]) == sorted(ROLE_GROUPS.values())


async def test_membership_through_a_nested_group_counts(directory: GraphRoleDirectory) -> None:
    assert (await directory.roles_of(TOM)).roles == {Role.STAFF, Role.SLT, Role.DSL}


async def test_a_member_of_no_role_group_is_staff(directory: GraphRoleDirectory) -> None:
    lookup = await directory.roles_of(SAM)
    assert lookup.roles == {Role.STAFF} and not lookup.degraded


async def test_a_user_graph_does_not_know_is_staff_only(directory: GraphRoleDirectory) -> None:
    lookup = await directory.roles_of(GONE)
    assert lookup.roles == {Role.STAFF} and not lookup.degraded


async def test_something_that_is_not_an_object_id_is_never_sent_to_graph(
    directory: GraphRoleDirectory, graph: FakeGraph
) -> None:
    assert (await directory.roles_of("../groups/x")).roles == {Role.STAFF}
    assert graph.requests == []


async def test_one_group_can_carry_two_roles(client: GraphServiceClient, graph: FakeGraph) -> None:
    directory = GraphRoleDirectory(client, {Role.DPO: DPO_GROUP, Role.DATA_ADMIN: DPO_GROUP.upper()})
    assert (await directory.roles_of(JO)).roles == {Role.STAFF, Role.DPO, Role.DATA_ADMIN}
    assert json.loads(graph.requests[0].content) == {"groupIds": [DPO_GROUP]}


async def test_roles_are_kept_so_a_second_lookup_sends_nothing(
    directory: GraphRoleDirectory, graph: FakeGraph, clock: FakeClock
) -> None:
    await directory.roles_of(ANNA)
    clock.advance(CACHE_S - 1)
    lookup = await directory.roles_of(ANNA.upper())  # the same person, however the id is written

    assert lookup.roles == {Role.STAFF, Role.HEAD_TEACHER, Role.SLT} and not lookup.degraded
    assert len(graph.requests) == 1


async def test_kept_roles_expire_and_changes_in_entra_are_seen(
    directory: GraphRoleDirectory, graph: FakeGraph, clock: FakeClock
) -> None:
    assert Role.SLT in (await directory.roles_of(PRIYA)).roles
    graph.members[SLT_GROUP].remove(PRIYA)
    clock.advance(CACHE_S)

    assert (await directory.roles_of(PRIYA)).roles == {Role.STAFF}
    assert len(graph.requests) == 2


# --- Graph unreachable ------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [503, 500, 429, "timeout", "connect"])
async def test_graph_down_falls_back_to_the_last_known_roles_and_says_so(
    directory: GraphRoleDirectory,
    graph: FakeGraph,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    failure: int | str,
) -> None:
    await directory.roles_of(ANNA)
    clock.advance(CACHE_S + 1)
    graph.failure = failure

    with caplog.at_level(logging.WARNING, logger="directory.graph"):
        lookup = await directory.roles_of(ANNA)

    assert lookup.roles == {Role.STAFF, Role.HEAD_TEACHER, Role.SLT}
    assert lookup.degraded is True
    assert lookup.source == "graph (last known, Graph unreachable)"
    [record] = [r for r in caplog.records if r.name == "directory.graph"]
    assert record.levelno == logging.WARNING
    assert "last known roles" in record.getMessage() and ANNA in record.getMessage()
    assert "Graph unreachable at the last try" in directory.describe()


async def test_a_slow_graph_is_given_up_on_within_the_timeout(directory: GraphRoleDirectory, graph: FakeGraph) -> None:
    graph.failure = "timeout"
    async with asyncio.timeout(5):  # the fake would take 60 s; the directory waits 0.2 s
        lookup = await directory.roles_of(ANNA)
    assert lookup.roles == {Role.STAFF} and lookup.degraded


async def test_graph_down_with_nothing_known_grants_nothing_beyond_staff(
    directory: GraphRoleDirectory, graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    graph.failure = 503
    with caplog.at_level(logging.WARNING, logger="directory.graph"):
        lookup = await directory.roles_of(ANNA)

    assert lookup.roles == {Role.STAFF}
    assert lookup.degraded is True
    assert "unreachable" in lookup.source
    assert "no roles known" in caplog.text


async def test_after_a_failure_graph_is_left_alone_for_a_while_then_asked_again(
    directory: GraphRoleDirectory, graph: FakeGraph, clock: FakeClock
) -> None:
    graph.failure = 503
    await directory.roles_of(ANNA)
    await directory.roles_of(PRIYA)
    assert len(graph.requests) == 1  # the second lookup did not wait on a Graph known to be down

    graph.failure = None
    clock.advance(30)
    lookup = await directory.roles_of(PRIYA)
    assert lookup.roles == {Role.STAFF, Role.SLT} and not lookup.degraded
    assert "unreachable" not in directory.describe()


async def test_retry_after_on_429_is_honoured(
    directory: GraphRoleDirectory, graph: FakeGraph, clock: FakeClock
) -> None:
    graph.failure, graph.failure_headers = 429, {"Retry-After": "120"}
    await directory.roles_of(ANNA)
    graph.failure = None
    clock.advance(60)
    assert (await directory.roles_of(ANNA)).degraded
    clock.advance(61)
    assert not (await directory.roles_of(ANNA)).degraded
    assert len(graph.requests) == 2


async def test_a_permissions_problem_is_logged_as_an_error_and_grants_nothing(
    directory: GraphRoleDirectory, graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    graph.failure = 403
    with caplog.at_level(logging.WARNING, logger="directory.graph"):
        lookup = await directory.roles_of(ANNA)
    assert lookup.roles == {Role.STAFF} and lookup.degraded
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "GroupMember.Read.All" in errors[0]


# --- holders of a role ------------------------------------------------------------------------------


async def test_holders_are_read_over_every_page(directory: GraphRoleDirectory, graph: FakeGraph) -> None:
    extra = {f"00000000-0000-0000-0000-00000000050{n}": f"Governor {n}" for n in range(5)}
    graph.names |= extra
    graph.members[SLT_GROUP] += list(extra)
    graph.disabled.add(PRIYA)
    graph.page_size = 3

    holders = await directory.holders_of(Role.SLT)

    assert {person.name for person in holders} == {"Anna Smith", "Tom Reed", *extra.values()}  # Priya disabled
    assert len(graph.requests) == 3  # 8 members, 3 a page
    first, *following = graph.requests
    assert first.url.path == f"/v1.0/groups/{SLT_GROUP}/transitiveMembers/graph.user"
    assert parse_qs(first.url.query.decode()) == {"$select": ["id,displayName,accountEnabled"], "$top": ["999"]}
    assert [parse_qs(r.url.query.decode())["$skiptoken"] for r in following] == [["3"], ["6"]]


async def test_holders_through_nested_groups_are_kept(
    directory: GraphRoleDirectory, graph: FakeGraph, clock: FakeClock
) -> None:
    assert await directory.holders_of(Role.DSL) == [Person(TOM, "Tom Reed")]
    clock.advance(CACHE_S - 1)
    assert await directory.holders_of(Role.DSL) == [Person(TOM, "Tom Reed")]
    assert len(graph.requests) == 1


async def test_holders_fall_back_to_the_last_known_list(
    directory: GraphRoleDirectory, graph: FakeGraph, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert await directory.holders_of(Role.HEAD_TEACHER) == [Person(ANNA, "Anna Smith")]
    clock.advance(CACHE_S)
    graph.failure = 502
    with caplog.at_level(logging.WARNING, logger="directory.graph"):
        assert await directory.holders_of(Role.HEAD_TEACHER) == [Person(ANNA, "Anna Smith")]
    assert "last known holders of head_teacher" in caplog.text


async def test_holders_unknown_and_graph_down_is_an_error_not_an_empty_list(
    directory: GraphRoleDirectory, graph: FakeGraph
) -> None:
    graph.failure = 503
    with pytest.raises(DirectoryUnavailableError, match="Designated Safeguarding Lead group \\(HTTP 503\\)"):
        await directory.holders_of(Role.DSL)


async def test_a_configured_group_that_does_not_exist_is_reported(
    client: GraphServiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    directory = GraphRoleDirectory(client, {Role.DPO: "bbbbbbbb-0000-0000-0000-000000000000"})
    with pytest.raises(DirectoryUnavailableError, match="check POLICYBOT_ROLE_GROUPS"):
        await directory.holders_of(Role.DPO)
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_a_role_without_a_group_has_no_holders(directory: GraphRoleDirectory, graph: FakeGraph) -> None:
    assert await directory.holders_of(Role.CHAIR_OF_GOVERNORS) == []
    with pytest.raises(ValueError, match="Everyone in the tenant is staff"):
        await directory.holders_of(Role.STAFF)
    assert graph.requests == []


# --- still at the school? ---------------------------------------------------------------------------


async def test_is_in_directory_reads_the_user(directory: GraphRoleDirectory, graph: FakeGraph) -> None:
    graph.disabled.add(LEE)

    assert await directory.is_in_directory(SAM) is True
    assert await directory.is_in_directory(LEE) is False  # account disabled
    assert await directory.is_in_directory(GONE) is False  # 404
    assert [str(r.url) for r in graph.requests] == [
        f"{GRAPH}/users/{SAM}?%24select=id,accountEnabled",
        f"{GRAPH}/users/{LEE}?%24select=id,accountEnabled",
        f"{GRAPH}/users/{GONE}?%24select=id,accountEnabled",
    ]


async def test_is_in_directory_falls_back_or_says_it_cannot_tell(
    directory: GraphRoleDirectory, graph: FakeGraph, clock: FakeClock
) -> None:
    assert await directory.is_in_directory(SAM) is True
    clock.advance(CACHE_S)
    graph.failure = "connect"
    assert await directory.is_in_directory(SAM) is True  # last known
    with pytest.raises(DirectoryUnavailableError, match="network error: ConnectError"):
        await directory.is_in_directory(LEE)


# --- description ------------------------------------------------------------------------------------


def test_describe_names_the_roles_read_from_groups(directory: GraphRoleDirectory) -> None:
    assert directory.describe() == "Microsoft Graph: Entra groups for head_teacher, slt, dsl, dpo (kept 300 s)"


def test_staff_cannot_be_mapped_to_a_group(client: GraphServiceClient) -> None:
    with pytest.raises(ValueError, match="staff is every member of the tenant"):
        GraphRoleDirectory(client, {Role.STAFF: HEAD_GROUP})
