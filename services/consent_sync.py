"""The consent register read from a SharePoint list through Microsoft Graph (issue 7), when configured.

``register_consent_sync(router, *, store, directory, settings)`` registers ``update consent register`` and returns
the ``ConsentSync`` whose ``cleanup_ctx`` runs the periodic sync while the app runs.

With ``POLICYBOT_CONSENT_SOURCE=sharepoint``:

- at start-up and then every ``POLICYBOT_CONSENT_SYNC_MINUTES`` (0: only when the data admin asks) the list is
  read whole (``directory.consent_sharepoint``); if what it says differs from the current register, it is imported as
  a new version in one transaction (``ConsentStore.import_register``, imported by "SharePoint sync"), the previous
  version kept. Whether it differs is told by a fingerprint of the register's content kept at the end of the
  version's source (``SharePoint list <list> (content <fingerprint>)``): an unchanged list adds no version. It is
  compared with the newest version imported from the list, so when the data admin makes an older version current
  (``consent register``) that choice stands until the list changes.
- a list with any unreadable item changes nothing; the problems are logged as a count only (they hold pupil data)
  and shown to the data admin when she asks.
- a list whose register is over ``POLICYBOT_CONSENT_CSV_MAX_BYTES`` (the limit of a CSV file too, counted as the CSV
  the list is read as) is rejected the same way: no page is asked for after the one that passes it.
- when Graph cannot answer (network, timeout, 429 with Retry-After, 5xx, 401/403, 404) the current register stays
  in use, a WARNING (ERROR for a permission or configuration problem) is logged with the HTTP status and what to
  check, never a secret or a pupil; the next round tries again (later, if Graph sent a longer Retry-After).
- ``update consent register`` (data admin only, checked on the server, personal chat only): sync now and say what
  happened and what to do next. Who may is declared here once (``UPDATE_ACCESS``): the router checks it, and the
  use case checks it again; each refusal is in the audit trail.

With ``POLICYBOT_CONSENT_SOURCE=csv`` the command tells the data admin to send the MIS export in the chat.

Missing settings (no site or list id, an unreadable mapping file, no Graph credential) are a ``SettingsError`` when
the app is built, with a sentence saying what to set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.settings import Settings, SettingsError
from cards.base import escape_markdown
from cards.incidents import school_time
from cards.replies import CommandReply
from directory.consent_sharepoint import (
    PERMISSION_HINT,
    REQUEST_TIMEOUT_S,
    ConsentListUnavailable,
    FailureKind,
    SharePointConsentReader,
)
from directory.graph import create_graph_client
from domain.access import only
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.consent import DEFAULT_CONFIG, ConsentPolicyConfig
from domain.consent_import import DEFAULT_MAPPING, ColumnMapping, ParsedRegister
from domain.consent_sharepoint import ListRejected, register_fingerprint
from domain.roles import Role, RoleDirectory
from services.audit import AuditTrail, Gate
from services.requests import CommandRequest
from store.base import utcnow
from store.consent_store import ConsentStore, RegisterImportError, RegisterVersion

log = logging.getLogger(__name__)

UPDATE_CONSENT_REGISTER_PHRASES = ("update consent register", "update the consent register")
IMPORTED_BY = "SharePoint sync"
_COMMAND_WAIT_S = 10.0  # a typed command is answered in the turn: Teams resends a message left unanswered ~15 s
_FINGERPRINT_CHARS = 20  # 80 bits of SHA-256: no two registers of a school will share it
_SOURCE_MAX_CHARS = 300  # consent_register_versions.source_name
_PROBLEMS_SHOWN = 10
_SECONDS_PER_MINUTE = 60

UPDATE_CONSENT_REGISTER = "update_consent_register"
UPDATE_ACCESS = only(Role.DATA_ADMIN, personal_only=True, record=RecordType.CONSENT_REGISTER, refusal=(
    "Only the data admin (school office) can update the consent register. Nothing changed. If the register needs "
    "changing, tell the school office."))
_CSV_SOURCE = (
    "The consent register here comes from the MIS: export it as a CSV file and send the file in this chat, and I "
    "will import it. (Policy Bot is not set up to read a SharePoint list.)"
)


# --- What a sync can come to ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    version: RegisterVersion


@dataclass(frozen=True)
class Unchanged:
    """The list says what the newest version imported from it says.

    `current` is the version in use when the data admin made another one current (``consent register``): an
    unchanged list leaves her choice alone; the list is imported again only once it changes.
    """

    version: RegisterVersion
    current: RegisterVersion | None = None


@dataclass(frozen=True)
class Rejected:
    rejected: ListRejected
    current: RegisterVersion | None


@dataclass(frozen=True)
class Unavailable:
    failure: ConsentListUnavailable
    current: RegisterVersion | None


@dataclass(frozen=True)
class NotStored:
    """The list was read but the database refused it (or something unexpected happened): nothing changed."""

    current: RegisterVersion | None


SyncOutcome = Imported | Unchanged | Rejected | Unavailable | NotStored


def _outcome_in_brief(outcome: SyncOutcome) -> str:
    if isinstance(outcome, Imported):
        return f"imported as version {outcome.version.id}"
    if isinstance(outcome, Unchanged):
        return "unchanged"
    if isinstance(outcome, Rejected):
        count = outcome.rejected.problem_count
        return f"not imported, {count} problem{'s' if count != 1 else ''} in the list (the data admin sees them)"
    if isinstance(outcome, Unavailable):
        why = {FailureKind.UNREACHABLE: "Microsoft Graph could not be reached",
               FailureKind.NOT_ALLOWED: "the bot is not allowed to read the list: ask IT",
               FailureKind.NOT_FOUND: "the list was not found: check the site and list ids",
               FailureKind.REFUSED: "Microsoft Graph refused the request"}[outcome.failure.kind]
        return f"not read ({why}); the register in use is kept"
    return "read but not stored (see the log); the register in use is kept"


def source_name(list_name: str, parsed: ParsedRegister) -> str:
    """A version's source: the list, and the fingerprint of what it said (how an unchanged list is recognised)."""
    marker = _marker(parsed)
    room = _SOURCE_MAX_CHARS - len(marker) - len("SharePoint list  ")
    return f"SharePoint list {list_name[:room]} {marker}"


def _marker(parsed: ParsedRegister) -> str:
    return f"(content {register_fingerprint(parsed)[:_FINGERPRINT_CHARS]})"


# --- Settings ------------------------------------------------------------------------------------------------


def sharepoint_list_from_settings(settings: Settings) -> tuple[str, str]:
    """The site id and list id of the consent list, checked.

    Raises:
        SettingsError: saying which setting to set.
    """
    site_id = settings.consent_sharepoint_site_id.strip()
    list_id = settings.consent_sharepoint_list_id.strip()
    if not site_id:
        raise SettingsError(
            "POLICYBOT_CONSENT_SOURCE is sharepoint but POLICYBOT_CONSENT_SHAREPOINT_SITE_ID is empty: set it to the "
            "id of the SharePoint site holding the consent list (Graph Explorer shows it for GET "
            "/sites/{host}:/sites/{site name}), or set POLICYBOT_CONSENT_SOURCE=csv."
        )
    if not list_id:
        raise SettingsError(
            "POLICYBOT_CONSENT_SOURCE is sharepoint but POLICYBOT_CONSENT_SHAREPOINT_LIST_ID is empty: set it to the "
            "id or the name of the SharePoint list holding the consent register, or set POLICYBOT_CONSENT_SOURCE=csv."
        )
    return site_id, list_id


def mapping_from_settings(settings: Settings) -> ColumnMapping | None:
    """The list's column mapping: its own file, else the CSV's file; None for the default.

    Raises:
        SettingsError: the file cannot be read or is not a valid mapping.
    """
    for name, path in (
        ("POLICYBOT_CONSENT_SHAREPOINT_MAPPING_FILE", settings.consent_sharepoint_mapping_file),
        ("POLICYBOT_CONSENT_MAPPING_FILE", settings.consent_mapping_file),
    ):
        if path is None:
            continue
        try:
            return ColumnMapping.from_json_file(path)
        except (OSError, ValueError) as error:
            raise SettingsError(
                f"{name} is {path}, which cannot be read as a consent column mapping ({type(error).__name__}): fix "
                "the file (python -m services.consent_import_cli --print-default-mapping prints one to start from) or "
                "unset it."
            ) from error
    return None


def reader_from_settings(
    settings: Settings, *, calendar: SchoolCalendar, config: ConsentPolicyConfig = DEFAULT_CONFIG
) -> SharePointConsentReader:
    """The real reader, over a Graph client built as the role directory builds its own.

    Raises:
        SettingsError: saying which setting to set or correct.
    """
    site_id, list_id = sharepoint_list_from_settings(settings)
    mapping = mapping_from_settings(settings) or DEFAULT_MAPPING
    connection = create_graph_client(
        settings, timeout_seconds=REQUEST_TIMEOUT_S, needed_for="POLICYBOT_CONSENT_SOURCE is sharepoint"
    )
    return SharePointConsentReader(connection.client, site_id, list_id, calendar=calendar, mapping=mapping,
                                   config=config, on_close=connection.aclose)


# --- The sync ----------------------------------------------------------------------------------------------------


class ConsentSync:
    """Keeps the consent register in step with the SharePoint list (when that is the source).

    Args:
        store: the app's one `ConsentStore`.
        directory: where the data admin's role is checked.
        trail: where a refused ``update consent register`` is written (the router's trail).
        settings: `consent_source`, the list's ids, `consent_sync_minutes`, the Graph credential.
        calendar: the school calendar the app built (times shown, date columns read); from `settings` when None.
        reader: the list reader (tests pass one over a fake Graph); built from the settings when None.
        interval_seconds: overrides `consent_sync_minutes` (tests use a tiny one); 0 syncs only when asked.
        command_wait_seconds: how long `update consent register` waits for the sync before answering that it is
            still running.

    Raises:
        SettingsError: the source is sharepoint and a setting it needs is missing or wrong.
    """

    def __init__(
        self,
        store: ConsentStore,
        directory: RoleDirectory,
        settings: Settings,
        *,
        trail: AuditTrail,
        calendar: SchoolCalendar | None = None,
        reader: SharePointConsentReader | None = None,
        interval_seconds: float | None = None,
        command_wait_seconds: float = _COMMAND_WAIT_S,
    ) -> None:
        self.store = store
        self._gate = Gate(directory, trail)
        self._settings = settings
        self._calendar = calendar or settings.school_calendar()
        self._reader: SharePointConsentReader | None = None
        if settings.consent_source == "sharepoint":
            sharepoint_list_from_settings(settings)
            self._reader = reader if reader is not None else reader_from_settings(
                settings, calendar=self._calendar, config=store.config)
        self._interval_s = (
            interval_seconds if interval_seconds is not None else settings.consent_sync_minutes * _SECONDS_PER_MINUTE
        )
        self._command_wait_s = command_wait_seconds
        self._lock = asyncio.Lock()  # one sync at a time: the loop's and the data admin's queue up
        self._tasks: set[asyncio.Task[SyncOutcome]] = set()
        self.rounds = 0  # scheduled syncs run (for `status` and tests)
        self.last: tuple[datetime, SyncOutcome] | None = None  # when the list was last read, and what came of it

    @property
    def enabled(self) -> bool:
        return self._reader is not None

    @property
    def runs_periodically(self) -> bool:
        """Whether the app reads the list on its own (``bot/workers.py`` ``ConsentSyncWorker``)."""
        return self._reader is not None and self._interval_s > 0

    @property
    def interval_seconds(self) -> float:
        return self._interval_s

    # --- running ------------------------------------------------------------------------------------------------

    async def sync(self) -> SyncOutcome:
        """Read the list and import it if it changed; never raises for Graph or the list's content.

        Raises:
            RuntimeError: the source is not sharepoint.
        """
        if self._reader is None:
            raise RuntimeError("the consent register is not read from SharePoint (POLICYBOT_CONSENT_SOURCE=csv)")
        async with self._lock:
            outcome = await self._sync(self._reader)
            self.last = (utcnow(), outcome)
            return outcome

    async def status_line(self) -> str:
        """The register in a line for `status` (SLT): the version in use and, with SharePoint, the last read."""
        current = await self._current()
        if current is None:
            line = "empty: nothing imported yet, so every photo check says no"
        else:
            imported = school_time(current.imported_at, self._calendar)
            line = f"version {current.id}, {current.pupil_count} pupils, imported {imported}"
        if not self.enabled:
            return line
        if self.last is None:
            return f"{line}; SharePoint list not read yet"
        at, outcome = self.last
        return f"{line}; SharePoint list read {school_time(at, self._calendar)}: {_outcome_in_brief(outcome)}"

    async def _current(self) -> RegisterVersion | None:
        return next((version for version in await self.store.versions() if version.is_current), None)

    async def _sync(self, reader: SharePointConsentReader) -> SyncOutcome:
        try:
            result = await reader.read(max_bytes=self._settings.consent_csv_max_bytes)  # the one register size limit
        except ConsentListUnavailable as failure:
            level = logging.WARNING if failure.kind is FailureKind.UNREACHABLE else logging.ERROR
            log.log(level, "SharePoint consent list not read, the current register is kept: %s", failure.reason)
            return Unavailable(failure, await self._current_or_none())
        except Exception as error:  # noqa: BLE001 - the loop must survive; the type says enough, the text may hold data
            log.error("SharePoint consent list not read, the current register is kept: unexpected %s",
                      type(error).__name__)
            return NotStored(await self._current_or_none())
        try:
            versions = await self.store.versions()  # newest first
            current = next((version for version in versions if version.is_current), None)
            if isinstance(result, ListRejected):
                log.warning("SharePoint consent list not imported, the current register is kept: %d problem(s) in "
                            "%d item(s)", result.problem_count, result.item_count)
                return Rejected(result, current)
            # Compared with the newest version from the list, not the current one: when the data admin has made
            # an older version current, the same list must not undo her choice at the next sync.
            latest = next((version for version in versions if version.imported_by == IMPORTED_BY), None)
            if latest is not None and latest.source_name.endswith(_marker(result)):
                log.info("SharePoint consent list unchanged since version %d", latest.id)
                return Unchanged(latest, None if current is None or current.id == latest.id else current)
            version = await self.store.import_register(
                result, imported_by=IMPORTED_BY, source_name=source_name(reader.name, result)
            )
        except RegisterImportError:
            log.error("SharePoint consent list read but the database refused the import; nothing changed")
            return NotStored(await self._current_or_none())
        except Exception as error:  # noqa: BLE001 - as above
            log.error("SharePoint consent list not imported, nothing changed: unexpected %s", type(error).__name__)
            return NotStored(await self._current_or_none())
        log.info("SharePoint consent list imported as register version %d: %d pupils", version.id,
                 version.pupil_count)
        return Imported(version)

    async def _current_or_none(self) -> RegisterVersion | None:
        try:
            return await self._current()
        except Exception as error:  # noqa: BLE001 - only for the answer; the database may be what failed
            log.warning("consent register versions unreadable: %s", type(error).__name__)
            return None

    def next_delay(self, outcome: SyncOutcome) -> float:
        """How long the periodic sync waits after ``outcome``: the interval, or longer if Graph asked for it."""
        if isinstance(outcome, Unavailable):
            return max(self._interval_s, outcome.failure.retry_after)
        return self._interval_s

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp `cleanup_ctx`: when the app stops, a sync the data admin asked for is cancelled and the list's
        reader closed (the periodic rounds are run, and stopped first, by the app's workers)."""
        if self.runs_periodically:
            log.info("SharePoint consent sync: every %g s", self._interval_s)
        yield
        pending: list[asyncio.Task[Any]] = [*self._tasks]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._reader is not None:
            await self._reader.aclose()

    # --- the data admin's command ---------------------------------------------------------------------------

    async def update_consent_register(self, request: CommandRequest) -> CommandReply:
        refused = await self._gate.refused(UPDATE_CONSENT_REGISTER, UPDATE_ACCESS, request.actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        if self._reader is None:
            return CommandReply(texts=[_CSV_SOURCE])
        return CommandReply(texts=[await self._sync_now()])

    async def _sync_now(self) -> str:
        task = asyncio.create_task(self.sync(), name="consent-sharepoint-sync-now")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), self._command_wait_s)
        except TimeoutError:
            return ("I am still reading the SharePoint list (it is taking a while). Photo checks use the current "
                    "register until it is done: type **consent register** in a few minutes to see whether a new "
                    "version was imported.")
        return self.describe(outcome)

    def describe(self, outcome: SyncOutcome) -> str:
        """What the data admin is told: what happened, and what to do next."""
        if isinstance(outcome, Imported):
            version = outcome.version
            text = (f"Imported the consent register from the SharePoint list: **{version.pupil_count} pupils**, now "
                    f"version {version.id}. Photo checks use it from now on.")
            if version.previous_version_id:
                text += (f" Version {version.previous_version_id} is kept: type **consent register** to go back to "
                         "it if this was a mistake.")
            if version.warnings:
                text += "\n\nPlease check:\n" + "\n".join(f"- {escape_markdown(w)}" for w in version.warnings)
            return text
        if isinstance(outcome, Unchanged):
            version = outcome.version
            if outcome.current is not None:
                return (f"The SharePoint list has not changed since version {version.id} was imported "
                        f"({school_time(version.imported_at, self._calendar)}), and version {outcome.current.id} "
                        f"({outcome.current.pupil_count} pupils) stays in use because it was made current with "
                        "**consent register**. The list is imported again as soon as it changes; to use version "
                        f"{version.id} now, make it current with **consent register**.")
            return (f"The SharePoint list has not changed since version {version.id} was imported "
                    f"({school_time(version.imported_at, self._calendar)}): the register is up to date, "
                    f"{version.pupil_count} pupils. Nothing to do.")
        still = _still_used(outcome.current, self._calendar)
        if isinstance(outcome, Rejected):
            rejected = outcome.rejected
            count = rejected.problem_count
            shown = [f"- {escape_markdown(str(problem))}" for problem in rejected.problems[:_PROBLEMS_SHOWN]]
            if count > len(shown):
                shown.append(f"- and {count - len(shown)} more")
            return (f"The SharePoint list was **not imported**: it has {count} problem{'s' if count != 1 else ''}, "
                    f"so nothing changed. {still}\n\n" + "\n".join(shown) + "\n\nWhat to do: correct these items "
                    "in the SharePoint list (the row is the item's place in the list, from 1), then type **update "
                    "consent register** again. Nothing is imported until every item can be read.")
        if isinstance(outcome, Unavailable):
            failure = outcome.failure
            if failure.kind is FailureKind.NOT_ALLOWED:
                return (f"Policy Bot is not allowed to read the SharePoint list, so nothing changed. {still} "
                        f"What to do: ask IT to check the bot's access ({PERMISSION_HINT}), then type **update "
                        "consent register** again.")
            if failure.kind is FailureKind.NOT_FOUND:
                return (f"SharePoint says the consent list Policy Bot is set up to read does not exist, so nothing "
                        f"changed. {still} What to do: ask whoever runs Policy Bot to check "
                        "POLICYBOT_CONSENT_SHAREPOINT_SITE_ID and POLICYBOT_CONSENT_SHAREPOINT_LIST_ID (was the "
                        "list renamed or moved?).")
            if failure.kind is FailureKind.REFUSED:
                return (f"Microsoft Graph refused to read the SharePoint list (HTTP {failure.status}), so nothing "
                        f"changed. {still} What to do: tell whoever runs Policy Bot; the log says more.")
            later = (f" in {_minutes(failure.retry_after)}" if failure.retry_after > _SECONDS_PER_MINUTE
                     else " in a few minutes")
            automatic = (f" It is also read automatically every {_minutes(self._interval_s)}."
                         if self._interval_s > 0 else "")
            return (f"SharePoint (Microsoft Graph) could not be reached just now, so nothing changed. {still} "
                    f"What to do: type **update consent register** again{later}.{automatic}")
        return (f"The SharePoint list could not be imported (the database did not take it), so nothing changed. "
                f"{still} What to do: try again in a few minutes; if it happens again, tell whoever runs Policy Bot.")


def _still_used(current: RegisterVersion | None, calendar: SchoolCalendar) -> str:
    if current is None:
        return "There is still no consent register: every photo check says NO until one is imported."
    return (f"Photo checks still use the current register, version {current.id} "
            f"({current.pupil_count} pupils, imported {school_time(current.imported_at, calendar)}).")


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / _SECONDS_PER_MINUTE))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
