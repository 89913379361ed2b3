"""Roles from Entra groups, read through Microsoft Graph (msgraph-sdk) and kept for a short while.

Each role except `staff` maps to one Entra group (`POLICYBOT_ROLE_GROUPS`); membership is transitive, so
nested groups count. Every member of the tenant is `staff`. The app registration needs the application
permissions `GroupMember.Read.All` and `User.Read.All`, with admin consent.

Requests made:

- `roles_of`: `POST /users/{id}/checkMemberGroups` with the configured group ids (at most 20 a request),
  kept for `cache_seconds` per person.
- `holders_of`: `GET /groups/{id}/transitiveMembers/graph.user`, following `@odata.nextLink`; disabled
  accounts are left out. Kept for `cache_seconds` per group.
- `is_in_directory`: `GET /users/{id}?$select=id,accountEnabled`; not found or disabled means "has left".
- `staff_member`: `GET /users/{id}?$select=id,displayName,accountEnabled,userType`: an enabled member of the
  tenant (not a guest), with the name Entra gives them (a runner named on a business case).
- `search_staff`: `GET /users?$filter=startswith(displayName,'…')&$select=...&$top=…`: the typeahead of the
  business case's runner slots.

When Graph cannot answer (network error, timeout, 429, 5xx, or a permissions problem) the directory answers
from what it last knew, marks role lookups `degraded` and logs a WARNING (an ERROR for a configuration
problem such as 401/403). It never grants a role it has not seen in Graph: with nothing known, a person is
`staff` only. After a failure Graph is left alone for a short quiet period (longer if it sent Retry-After),
so a Graph outage costs one slow turn rather than every turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.identity.aio import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_http.middleware.options import RetryHandlerOption
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.user import User
from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (
    CheckMemberGroupsPostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]  # msgraph-core has no type information

from bot.settings import Settings
from directory import DirectoryConfigError
from domain.roles import ROLE_TITLES, DirectoryUnavailableError, Person, Role, RoleLookup

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0  # roles are read inside a Teams turn, and Teams gives up on an invoke after ~15 s
_QUIET_AFTER_FAILURE_S = 30.0  # after a failure, answer from what we knew this long before asking again
_MAX_QUIET_S = 300.0  # a Retry-After longer than this is not honoured in full
_MAX_GROUPS_PER_CHECK = 20  # checkMemberGroups accepts at most 20 group ids a request
_MEMBERS_PAGE_SIZE = 999  # the largest page Graph serves for group members
_RETRIES_INSIDE_A_TURN = 1  # the SDK's own retry on 429/503/504; more would not fit in the timeout
_RETRY_DELAY_S = 1.0
_BAD_REQUEST = 400  # about one request only: not a reason to stop asking Graph
_NOT_FOUND = 404
_AUTH_PROBLEMS = (401, 403)

_SOURCE = "graph"
_SOURCE_LAST_KNOWN = "graph (last known, Graph unreachable)"
_SOURCE_STAFF_ONLY = "graph unreachable, nothing known yet: staff only"
_STAFF_ONLY = frozenset({Role.STAFF})

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Kept(Generic[_T]):
    """An answer from Graph and when it was read (by the directory's clock)."""

    value: _T
    read_at: float


class _NotFound(Exception):
    """Graph answered 404."""


class _GraphDown(Exception):
    """Graph did not answer usefully; the message says why, for the log."""


class GraphRoleDirectory:
    """A `RoleDirectory` over Entra groups, through an injected `GraphServiceClient`."""

    lists_everyone = True  # Graph sees the whole tenant (domain.accounts.StaffDirectory)

    def __init__(
        self,
        client: GraphServiceClient,
        role_groups: Mapping[Role, str],
        *,
        cache_seconds: float = 300.0,
        timeout_seconds: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Args:
        client: the Graph client (tests pass one over a fake HTTP transport).
        role_groups: the Entra group id of each role; roles left out are held by nobody.
        cache_seconds: how long an answer from Graph is used before asking again.
        timeout_seconds: the most one lookup may wait for Graph (token, retries and all pages included).
        clock: monotonic seconds; tests pass a fake to expire the cache.
        on_close: releases what `client` holds (see `create_graph_client`); called by `aclose`.

        Raises:
            ValueError: for a group given for `staff`, which every tenant member holds.
        """
        if Role.STAFF in role_groups:
            raise ValueError("staff is every member of the tenant; do not map it to a group")
        self._client = client
        self._group_of = {role: group_id.strip().lower() for role, group_id in role_groups.items()}
        self._roles_in_group: dict[str, set[Role]] = {}
        for role, group_id in self._group_of.items():
            self._roles_in_group.setdefault(group_id, set()).add(role)
        self._cache_seconds = cache_seconds
        self._timeout_s = timeout_seconds
        self._clock = clock
        self._on_close = on_close
        self._roles: dict[str, _Kept[frozenset[Role]]] = {}
        self._holders: dict[str, _Kept[tuple[Person, ...]]] = {}
        self._present: dict[str, _Kept[bool]] = {}
        self._last_failure: str | None = None
        self._quiet_until: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> GraphRoleDirectory:
        """The real directory: credential, HTTP client and Graph client built from the settings.

        Raises:
            DirectoryConfigError: saying which setting is missing or wrong.
        """
        role_groups = role_groups_from_settings(settings)
        connection = create_graph_client(settings, timeout_seconds=DEFAULT_TIMEOUT_S)
        return cls(
            connection.client,
            role_groups,
            cache_seconds=settings.role_cache_seconds,
            timeout_seconds=DEFAULT_TIMEOUT_S,
            clock=clock,
            on_close=connection.aclose,
        )

    # --- RoleDirectory ------------------------------------------------------------------------------

    async def roles_of(self, aad_object_id: str) -> RoleLookup:
        """STAFF plus the role of every configured group the person is in, directly or through nesting."""
        key = _key(aad_object_id)
        if key is None:
            log.warning("Not an Entra object id, so staff only: %r", aad_object_id)
            return RoleLookup(roles=_STAFF_ONLY, source=_SOURCE)
        if not self._group_of:
            return RoleLookup(roles=_STAFF_ONLY, source=_SOURCE)
        kept = self._roles.get(key)
        if kept is not None and self._fresh(kept):
            return RoleLookup(roles=kept.value, source=_SOURCE)
        try:
            groups = await self._ask_graph(lambda: self._groups_of(key))
        except _NotFound:
            log.warning("Graph does not know the user %s: staff only", key)
            self._roles.pop(key, None)
            return RoleLookup(roles=_STAFF_ONLY, source=_SOURCE)
        except _GraphDown as down:
            if kept is not None:
                log.warning("Graph unreachable (%s): using the last known roles of %s", down, key)
                return RoleLookup(roles=kept.value, source=_SOURCE_LAST_KNOWN, degraded=True)
            log.warning("Graph unreachable (%s) and no roles known for %s: staff only", down, key)
            return RoleLookup(roles=_STAFF_ONLY, source=_SOURCE_STAFF_ONLY, degraded=True)
        roles = frozenset({Role.STAFF}.union(*(self._roles_in_group.get(group, set()) for group in groups)))
        self._roles[key] = _Kept(roles, self._clock())
        return RoleLookup(roles=roles, source=_SOURCE)

    async def holders_of(self, role: Role) -> list[Person]:
        """The enabled users in the role's group (nested groups included); [] if no group is configured.

        Raises:
            ValueError: for `Role.STAFF`, which every member of the tenant holds.
            DirectoryUnavailableError: Graph cannot answer and the group was never read before.
        """
        if role is Role.STAFF:
            raise ValueError("Everyone in the tenant is staff; holders_of() answers only for the other roles")
        group_id = self._group_of.get(role)
        if group_id is None:
            return []
        kept = self._holders.get(group_id)
        if kept is not None and self._fresh(kept):
            return list(kept.value)
        try:
            people = await self._ask_graph(lambda: self._members_of(group_id))
        except _NotFound as missing:
            reason = f"group {group_id} for {role.value} does not exist; check POLICYBOT_ROLE_GROUPS"
            log.error("Graph: %s", reason)
            return self._last_known_holders(role, kept, reason, missing)
        except _GraphDown as down:
            return self._last_known_holders(role, kept, str(down), down)
        self._holders[group_id] = _Kept(people, self._clock())
        return list(people)

    async def is_in_directory(self, aad_object_id: str) -> bool:
        """Whether the user exists in the tenant with an enabled account.

        Raises:
            DirectoryUnavailableError: Graph cannot answer and the user was never looked up before.
        """
        key = _key(aad_object_id)
        if key is None:
            return False
        kept = self._present.get(key)
        if kept is not None and self._fresh(kept):
            return kept.value
        try:
            present = await self._ask_graph(lambda: self._account_enabled(key))
        except _NotFound:
            present = False
        except _GraphDown as down:
            if kept is not None:
                log.warning("Graph unreachable (%s): using what was last known of %s", down, key)
                return kept.value
            raise DirectoryUnavailableError(f"Graph cannot look up {key} ({down})") from down
        self._present[key] = _Kept(present, self._clock())
        return present

    async def staff_member(self, aad_object_id: str) -> Person | None:
        """The enabled member of the tenant (not a guest) with this Entra object id, named as Entra names them;
        None when Graph does not know them, or they are disabled or a guest.

        Raises:
            DirectoryUnavailableError: Graph cannot answer.
        """
        key = _key(aad_object_id)
        if key is None:
            return None
        try:
            user = await self._ask_graph(lambda: self._user(key))
        except _NotFound:
            return None
        except _GraphDown as down:
            raise DirectoryUnavailableError(f"Graph cannot look up {key} ({down})") from down
        if user is None or not user.id or user.account_enabled is False or (user.user_type or "Member") != "Member":
            return None
        return Person(aad_object_id=user.id, name=user.display_name or user.id)

    async def search_staff(self, text: str, *, limit: int = 10) -> list[Person]:
        """Enabled members of the tenant whose display name starts with ``text``.

        Raises:
            DirectoryUnavailableError: Graph cannot answer.
        """
        wanted = " ".join(text.split())[:64]
        if not wanted:
            return []
        try:
            users = await self._ask_graph(lambda: self._users_named(wanted, limit))
        except (_NotFound, _GraphDown) as down:
            raise DirectoryUnavailableError(f"Graph cannot search users ({down})") from down
        return users

    def describe(self) -> str:
        roles = ", ".join(role.value for role in Role if role in self._group_of) or "no roles"
        text = f"Microsoft Graph: Entra groups for {roles} (kept {self._cache_seconds:g} s)"
        if self._last_failure is not None:
            text += f"; Graph unreachable at the last try ({self._last_failure}), answering from last known"
        return text

    async def aclose(self) -> None:
        """Release the HTTP client and credential given through `on_close` (once)."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close()

    # --- Graph requests -----------------------------------------------------------------------------

    async def _groups_of(self, user_id: str) -> set[str]:
        """The configured groups the user is in, transitively (one request per 20 groups)."""
        group_ids = list(self._roles_in_group)
        found: set[str] = set()
        users = self._client.users.by_user_id(user_id)
        for start in range(0, len(group_ids), _MAX_GROUPS_PER_CHECK):
            body = CheckMemberGroupsPostRequestBody(group_ids=group_ids[start : start + _MAX_GROUPS_PER_CHECK])
            answer = await users.check_member_groups.post(body)
            if answer is not None and answer.value:
                found.update(group_id.lower() for group_id in answer.value)
        return found

    async def _members_of(self, group_id: str) -> tuple[Person, ...]:
        """The enabled users in a group and its nested groups, over every page."""
        members = self._client.groups.by_group_id(group_id).transitive_members.graph_user
        query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
            select=["id", "displayName", "accountEnabled"], top=_MEMBERS_PAGE_SIZE
        )
        page = await members.get(RequestConfiguration(query_parameters=query))
        people: dict[str, Person] = {}
        while page is not None:
            for user in page.value or []:
                if user.id and user.account_enabled is not False:
                    people.setdefault(user.id.lower(), Person(aad_object_id=user.id, name=user.display_name or user.id))
            if not page.odata_next_link:
                break
            page = await members.with_url(page.odata_next_link).get()
        return tuple(people.values())

    async def _account_enabled(self, user_id: str) -> bool:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", "accountEnabled"])
        user = await self._client.users.by_user_id(user_id).get(RequestConfiguration(query_parameters=query))
        return user is not None and user.account_enabled is not False

    async def _user(self, user_id: str) -> User | None:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "displayName", "accountEnabled", "userType"])
        return await self._client.users.by_user_id(user_id).get(RequestConfiguration(query_parameters=query))

    async def _users_named(self, text: str, limit: int) -> list[Person]:
        quoted = text.replace("'", "''")  # OData string literal
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"startswith(displayName,'{quoted}')", select=["id", "displayName", "accountEnabled", "userType"],
            top=max(1, min(limit, 25)))
        page = await self._client.users.get(RequestConfiguration(query_parameters=query))
        users = (page.value if page is not None else None) or []
        return [Person(aad_object_id=user.id, name=user.display_name or user.id) for user in users
                if user.id and user.account_enabled is not False and (user.user_type or "Member") == "Member"]

    async def _ask_graph(self, request: Callable[[], Awaitable[_T]]) -> _T:
        """Run one lookup against Graph within the timeout.

        Raises:
            _NotFound: Graph answered 404.
            _GraphDown: anything else that is not an answer, or Graph is in its quiet period.
        """
        now = self._clock()
        if self._quiet_until is not None and now < self._quiet_until:
            raise _GraphDown(f"{self._last_failure}; next try in {self._quiet_until - now:.0f} s")
        quiet_for = _QUIET_AFTER_FAILURE_S
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await request()
        except APIError as error:
            status = error.response_status_code
            if status == _NOT_FOUND:
                raise _NotFound from error
            reason = f"HTTP {status}"
            if status in _AUTH_PROBLEMS:
                reason += " (check the app's Graph permissions GroupMember.Read.All and User.Read.All)"
                log.error("Graph refused the bot's request: %s", reason)
            if status == _BAD_REQUEST:
                raise _GraphDown(reason) from error
            quiet_for = max(quiet_for, retry_after_seconds(error))
            self._fail(reason, quiet_for)
            raise _GraphDown(reason) from error
        except TimeoutError as error:
            self._fail(f"no answer within {self._timeout_s:g} s", quiet_for)
            raise _GraphDown(self._last_failure) from error
        except httpx.HTTPError as error:
            self._fail(f"network error: {type(error).__name__}", quiet_for)
            raise _GraphDown(self._last_failure) from error
        except AzureError as error:  # no token: the identity platform is unreachable or refuses the credential
            self._fail(f"no access token: {type(error).__name__}", quiet_for)
            raise _GraphDown(self._last_failure) from error
        self._last_failure = None
        self._quiet_until = None
        return answer

    def _fail(self, reason: str, quiet_for: float) -> None:
        self._last_failure = reason
        self._quiet_until = self._clock() + min(quiet_for, _MAX_QUIET_S)

    def _fresh(self, kept: _Kept[_T]) -> bool:
        return self._clock() - kept.read_at < self._cache_seconds

    @staticmethod
    def _last_known_holders(
        role: Role, kept: _Kept[tuple[Person, ...]] | None, reason: str, cause: Exception
    ) -> list[Person]:
        if kept is None:
            raise DirectoryUnavailableError(
                f"Graph cannot list the {ROLE_TITLES[role]} group ({reason}) and has not been read before"
            ) from cause
        log.warning("Graph unreachable (%s): using the last known holders of %s", reason, role.value)
        return list(kept.value)


# --- building the real client from the settings -------------------------------------------------------


@dataclass(frozen=True)
class GraphConnection:
    """A Graph client and what it holds open (HTTP connections, the credential's token cache)."""

    client: GraphServiceClient
    http_client: httpx.AsyncClient
    credential: AsyncTokenCredential

    async def aclose(self) -> None:
        await self.http_client.aclose()
        await self.credential.close()


def create_graph_client(
    settings: Settings,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_S,
    needed_for: str = "POLICYBOT_ROLE_SOURCE is graph",
    retries: int = _RETRIES_INSIDE_A_TURN,
) -> GraphConnection:
    """A `GraphServiceClient` for `settings.graph_base_url`, authenticated with an azure-identity async credential.

    Shared by everything that reads Graph (roles here, the consent register's SharePoint list in
    `directory.consent_sharepoint`), so there is one way to authenticate and one set of settings.

    Args:
        settings: the `POLICYBOT_GRAPH_*` settings.
        timeout_seconds: the HTTP timeout of one request.
        needed_for: why Graph is used, to start the sentence of a configuration error
            (e.g. "POLICYBOT_CONSENT_SOURCE is sharepoint").
        retries: how often the SDK itself retries a request Graph throttled (429) or could not serve (503, 504).

    Raises:
        DirectoryConfigError: saying which setting is missing or wrong.
    """
    base_url = settings.graph_base_url.rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme != "https" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise DirectoryConfigError(
            f"POLICYBOT_GRAPH_BASE_URL must be an https URL (e.g. https://graph.microsoft.com/v1.0), not {base_url!r}"
        )
    if not parts.hostname:
        raise DirectoryConfigError(f"POLICYBOT_GRAPH_BASE_URL has no host: {base_url!r}")
    credential = _credential(settings, needed_for)
    authentication = AzureIdentityAuthenticationProvider(
        credential, scopes=[f"{parts.scheme}://{parts.netloc}/.default"], allowed_hosts=[parts.hostname]
    )
    retry = RetryHandlerOption(delay=_RETRY_DELAY_S, max_retries=retries)
    http_client = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(timeout=httpx.Timeout(timeout_seconds)),
        options={RetryHandlerOption.get_key(): retry},
    )
    adapter = GraphRequestAdapter(authentication, client=http_client)
    adapter.base_url = base_url
    return GraphConnection(GraphServiceClient(request_adapter=adapter), http_client, credential)


def role_groups_from_settings(settings: Settings) -> dict[Role, str]:
    """`POLICYBOT_ROLE_GROUPS` checked: known roles other than staff, each mapped to a group object id.

    Raises:
        DirectoryConfigError: naming the bad entry.
    """
    if not settings.role_groups:
        raise DirectoryConfigError(
            "POLICYBOT_ROLE_SOURCE is graph but POLICYBOT_ROLE_GROUPS is empty. Set it to a JSON object mapping "
            'roles to Entra group object ids, e.g. {"head_teacher": "<group id>", "slt": "<group id>"}. Roles: '
            + ", ".join(role.value for role in Role if role is not Role.STAFF)
        )
    groups: dict[Role, str] = {}
    for name, group_id in settings.role_groups.items():
        if name == Role.STAFF.value:
            raise DirectoryConfigError(
                "POLICYBOT_ROLE_GROUPS maps staff to a group, but every member of the tenant is staff: remove it"
            )
        if name not in {role.value for role in Role}:
            raise DirectoryConfigError(
                f"POLICYBOT_ROLE_GROUPS has an unknown role {name!r}; roles: "
                + ", ".join(role.value for role in Role if role is not Role.STAFF)
            )
        if _key(group_id) is None:
            raise DirectoryConfigError(
                f"POLICYBOT_ROLE_GROUPS maps {name} to {group_id!r}, which is not an Entra group object id (a GUID)"
            )
        groups[Role(name)] = group_id.strip()
    return groups


def _credential(settings: Settings, needed_for: str) -> AsyncTokenCredential:
    """The azure-identity async credential the settings ask for: exactly one of three kinds."""
    chosen = [
        name
        for name, is_set in (
            ("POLICYBOT_GRAPH_CLIENT_SECRET", bool(settings.graph_client_secret)),
            ("POLICYBOT_GRAPH_CERTIFICATE_PATH", settings.graph_certificate_path is not None),
            ("POLICYBOT_GRAPH_USE_MANAGED_IDENTITY", settings.graph_use_managed_identity),
        )
        if is_set
    ]
    if not chosen:
        raise DirectoryConfigError(
            f"{needed_for} but no Graph credential is set. Set POLICYBOT_GRAPH_CLIENT_ID with "
            "POLICYBOT_GRAPH_CLIENT_SECRET or POLICYBOT_GRAPH_CERTIFICATE_PATH, or set "
            "POLICYBOT_GRAPH_USE_MANAGED_IDENTITY=true when the bot runs in Azure."
        )
    if len(chosen) > 1:
        raise DirectoryConfigError(f"Set only one Graph credential, not {' and '.join(chosen)}.")
    if settings.graph_use_managed_identity:
        # A client id picks a user-assigned identity; without one the system-assigned identity is used.
        return ManagedIdentityCredential(client_id=settings.graph_client_id or None)
    tenant_id = settings.graph_tenant_id or settings.app_tenant_id
    if not tenant_id:
        raise DirectoryConfigError(
            "Graph needs the school's tenant id: set POLICYBOT_GRAPH_TENANT_ID (or MicrosoftAppTenantId)."
        )
    if not settings.graph_client_id:
        raise DirectoryConfigError("Graph needs the app registration's client id: set POLICYBOT_GRAPH_CLIENT_ID.")
    if settings.graph_certificate_path is not None:
        if not settings.graph_certificate_path.is_file():
            raise DirectoryConfigError(
                f"POLICYBOT_GRAPH_CERTIFICATE_PATH is {settings.graph_certificate_path}, which is not a file."
            )
        try:
            return CertificateCredential(
                tenant_id, settings.graph_client_id, certificate_path=str(settings.graph_certificate_path)
            )
        except ValueError as error:  # azure-identity reads the PEM at once
            raise DirectoryConfigError(
                f"POLICYBOT_GRAPH_CERTIFICATE_PATH is {settings.graph_certificate_path}, which azure-identity "
                f"cannot load ({error}); it needs an RSA private key and its certificate, PEM encoded."
            ) from error
    return ClientSecretCredential(tenant_id, settings.graph_client_id, settings.graph_client_secret)


def retry_after_seconds(error: APIError) -> float:
    """Graph's Retry-After (seconds) on a 429 or 503, or 0."""
    headers = error.response_headers or {}
    value = next((text for name, text in headers.items() if name.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def _key(object_id: str) -> str | None:
    """An Entra object id in canonical form (lower case), or None if it is not one."""
    try:
        return str(UUID(object_id.strip()))
    except (ValueError, AttributeError):
        return None
