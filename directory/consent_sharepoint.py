"""The consent register's SharePoint list, read through Microsoft Graph (msgraph-sdk), all or nothing (issue 7).

`SharePointConsentReader.read()` reads the whole list and hands back what `domain.consent_sharepoint` makes of
it: a `ParsedRegister` (ready for `ConsentStore.import_register`) or a `ListRejected` naming each unreadable
item. Storing it is the sync's job (`services.consent_sync`).

Requests made (app-only; the app registration needs `Sites.Read.All`, or `Sites.Selected` with read access
granted to this one site):

- `GET /sites/{site-id}/lists/{list-id}/columns?$select=name,displayName,readOnly,hidden`: which columns exist,
  by display name (what the school sees) and internal name (what items are keyed by).
- `GET /sites/{site-id}/lists/{list-id}/items?$select=id&$expand=fields($select=<the columns the mapping
  names>)&$top=500`, following `@odata.nextLink` to the last page. Only the columns the register needs are
  asked for: other columns of the list (notes, say) never leave SharePoint.

`{list-id}` may be the list's id (a GUID) or its display name, as Graph accepts both.

The list may hold at most ``max_bytes`` of register (``POLICYBOT_CONSENT_CSV_MAX_BYTES``, the limit of a CSV file
too), counted as the CSV it is read as while the pages arrive: past it, no further page is asked for and the list is
rejected, nothing changed.

When Graph cannot answer (network error, timeout, 429, 5xx, 401/403, 404) `read()` raises
`ConsentListUnavailable`, whose message is safe to log: it names the HTTP status and what to check, never a
value from the list.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable

import httpx
from azure.core.exceptions import AzureError, ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.sites.item.lists.item.columns.columns_request_builder import ColumnsRequestBuilder
from msgraph.generated.sites.item.lists.item.items.items_request_builder import ItemsRequestBuilder
from msgraph.graph_service_client import GraphServiceClient

from directory.graph import retry_after_seconds
from domain.calendar import SchoolCalendar
from domain.consent import DEFAULT_CONFIG, ConsentPolicyConfig
from domain.consent_import import DEFAULT_MAPPING, ColumnMapping, RegisterTooLarge
from domain.consent_sharepoint import (
    ListColumn,
    ListItem,
    ListProblem,
    ListReadResult,
    ListRejected,
    ListSize,
    columns_to_read,
    parse_list_items,
)

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 120.0  # the whole list, every page: 50,000 pupils is about 100 pages
REQUEST_TIMEOUT_S = 30.0  # one page
_PAGE_SIZE = 500  # items a page; Graph may send fewer
_NOT_FOUND = 404
_AUTH_PROBLEMS = (401, 403)
_THROTTLED = 429
_SERVER_ERRORS = 500
PERMISSION_HINT = "the app registration needs the Graph application permission Sites.Read.All (or Sites.Selected " \
                  "with read access to the site), with admin consent"


class FailureKind(enum.Enum):
    UNREACHABLE = "unreachable"  # network, timeout, 429, 5xx: try again later
    NOT_ALLOWED = "not_allowed"  # 401/403 or a refused credential: IT must grant the permission
    NOT_FOUND = "not_found"  # 404: the site or list id is wrong (or the list was deleted)
    REFUSED = "refused"  # another 4xx: Graph refused the request itself


class ConsentListUnavailable(Exception):
    """Graph did not hand over the list. The message is safe to log (no secrets, no pupil data).

    Attributes:
        kind: what went wrong, so the caller can say what to do next.
        status: the HTTP status, if Graph answered.
        retry_after: seconds Graph asked to wait (429, 503), or 0.
    """

    def __init__(self, reason: str, kind: FailureKind, *, status: int | None = None, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class _ListTooLarge(Exception):
    def __init__(self, max_bytes: int, items_read: int) -> None:
        super().__init__("the list is over the register size limit")
        self.rejected = ListRejected(
            problems=(ListProblem(item_id=None, row=None, message=f"{RegisterTooLarge(max_bytes)}. Is it the consent "
                                  "register? If it is, ask whoever runs Policy Bot to raise the limit"),),
            problem_count=1,
            item_count=items_read,
        )


class SharePointConsentReader:
    """Reads the consent list through an injected `GraphServiceClient` (tests pass one over a fake transport).

    The app builds the client with `directory.graph.create_graph_client`, as the role directory does
    (`services.consent_sync.reader_from_settings`).
    """

    def __init__(
        self,
        client: GraphServiceClient,
        site_id: str,
        list_id: str,
        *,
        calendar: SchoolCalendar,
        mapping: ColumnMapping = DEFAULT_MAPPING,
        config: ConsentPolicyConfig = DEFAULT_CONFIG,
        timeout_seconds: float = READ_TIMEOUT_S,
        page_size: int = _PAGE_SIZE,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self.site_id = site_id
        self.list_id = list_id
        self._calendar = calendar  # date columns are read as school dates
        self._mapping = mapping
        self._config = config
        self._timeout_s = timeout_seconds
        self._page_size = page_size
        self._on_close = on_close

    @property
    def name(self) -> str:
        """The list as the settings name it (shown in a version's source)."""
        return self.list_id

    async def read(self, *, max_bytes: int) -> ListReadResult:
        """Every item of the list, read and checked: a `ParsedRegister` or a `ListRejected`.

        Args:
            max_bytes: the register size limit, counted as the CSV the list is read as (`ListSize`); the page that
                passes it is the last one asked for, and the list is rejected.

        Raises:
            ConsentListUnavailable: Graph did not hand the list over (nothing was read).
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                columns = await self._columns()
                chosen = columns_to_read(columns, self._mapping)
                size = ListSize(columns, self._calendar, self._mapping)
                items = await self._items(chosen, size, max_bytes) if chosen else []
        except _ListTooLarge as too_large:
            return too_large.rejected
        except APIError as error:
            raise _unavailable(error) from error
        except TimeoutError as error:
            raise ConsentListUnavailable(
                f"SharePoint did not hand over the list within {self._timeout_s:g} s", FailureKind.UNREACHABLE
            ) from error
        except httpx.HTTPError as error:
            raise ConsentListUnavailable(f"network error: {type(error).__name__}", FailureKind.UNREACHABLE) from error
        except ClientAuthenticationError as error:
            raise ConsentListUnavailable(
                f"the identity platform refused the bot's Graph credential ({type(error).__name__}); check "
                "POLICYBOT_GRAPH_CLIENT_ID and its secret or certificate", FailureKind.NOT_ALLOWED,
            ) from error
        except AzureError as error:
            raise ConsentListUnavailable(f"no access token: {type(error).__name__}", FailureKind.UNREACHABLE) from error
        return await asyncio.to_thread(parse_list_items, columns, items, self._mapping, self._config,
                                       calendar=self._calendar)

    async def aclose(self) -> None:
        """Release the HTTP client and credential given through `on_close` (once)."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close()

    async def _columns(self) -> list[ListColumn]:
        builder = self._client.sites.by_site_id(self.site_id).lists.by_list_id(self.list_id).columns
        query = ColumnsRequestBuilder.ColumnsRequestBuilderGetQueryParameters(
            select=["name", "displayName", "readOnly", "hidden"]
        )
        page = await builder.get(RequestConfiguration(query_parameters=query))
        columns: list[ListColumn] = []
        while page is not None:
            columns.extend(
                ListColumn(name=column.name, display_name=column.display_name or column.name,
                           read_only=bool(column.read_only), hidden=bool(column.hidden))
                for column in page.value or []
                if column.name
            )
            if not page.odata_next_link:
                break
            page = await builder.with_url(page.odata_next_link).get()
        return columns

    async def _items(self, columns: list[ListColumn], size: ListSize, max_bytes: int) -> list[ListItem]:
        builder = self._client.sites.by_site_id(self.site_id).lists.by_list_id(self.list_id).items
        query = ItemsRequestBuilder.ItemsRequestBuilderGetQueryParameters(
            select=["id"],
            expand=[f"fields($select={','.join(column.name for column in columns)})"],
            top=self._page_size,
        )
        page = await builder.get(RequestConfiguration(query_parameters=query))
        items: list[ListItem] = []
        while page is not None:
            for item in page.value or []:
                fields = dict(item.fields.additional_data) if item.fields is not None else {}
                items.append(ListItem(item_id=str(item.id or "?"), fields=fields))
                if size.add(items[-1]) > max_bytes:
                    raise _ListTooLarge(max_bytes, len(items))
            if not page.odata_next_link:
                break
            page = await builder.with_url(page.odata_next_link).get()
        return items


def _unavailable(error: APIError) -> ConsentListUnavailable:
    status = error.response_status_code
    if status in _AUTH_PROBLEMS:
        return ConsentListUnavailable(
            f"Graph refused to read the list (HTTP {status}): {PERMISSION_HINT}", FailureKind.NOT_ALLOWED, status=status
        )
    if status == _NOT_FOUND:
        return ConsentListUnavailable(
            f"Graph found no such list (HTTP {status}): check POLICYBOT_CONSENT_SHAREPOINT_SITE_ID and "
            "POLICYBOT_CONSENT_SHAREPOINT_LIST_ID", FailureKind.NOT_FOUND, status=status,
        )
    if status is not None and (status == _THROTTLED or status >= _SERVER_ERRORS):
        retry_after = retry_after_seconds(error)
        wait = f", asked to wait {retry_after:g} s" if retry_after else ""
        return ConsentListUnavailable(
            f"Graph could not serve the list (HTTP {status}{wait})", FailureKind.UNREACHABLE,
            status=status, retry_after=retry_after,
        )
    return ConsentListUnavailable(f"Graph refused the request (HTTP {status})", FailureKind.REFUSED, status=status)
