"""End-to-end harness: the real bot process, Microsoft 365 Agents Playground(s) and headless Chromium.

What runs (all on loopback, nothing from the internet):

* ``BotServer``: ``python -m bot`` in explicit dev mode on a free port, a fresh SQLite file in a
  temporary directory, its JSON-lines log captured to a file;
* ``PlaygroundServer``: ``agentsplayground -c msteams --dt`` started from ``playground/<identity>/`` so it
  reads that identity's ``.m365agentsplayground.yml`` (the signed-in user, tenant, team, channels);
* ``Browser``: Playwright's **sync** API driving Debian's Chromium (``/usr/bin/chromium``) with every host
  name except ``localhost``/``127.0.0.1`` unresolvable, so the Playground's CDN fonts never leave the box;
* ``PlaygroundSession``: one Playground page for one identity, with helpers that act like a person
  (type in the compose box, click card buttons, fill card inputs, @mention the bot in a channel) and that
  read the Playground's activity log (the same entries as its Log Panel, from its log web socket) so a test
  can assert the HTTP status of every activity in both directions.

Why the sync API: pytest-asyncio (auto mode) only wraps ``async def`` tests, so sync tests have no running
loop and Playwright's sync API can own the thread. While a sync Playwright instance is alive it marks its
own loop as running in this thread, so **e2e modules must hold only sync tests**, and the browser is
closed at the end of each module (``E2EStack.close``) before other (async) test modules run.

Each module gets its own stack (fresh database, fresh Playgrounds), so modules never see each other's
conversations. Inside a module the conversations carry on from test to test, as they would in Teams.

How the Playground (0.2.28) behaves, as seen from these helpers:

* Loading its page installs the bot in the personal chat (``installationUpdate`` + ``conversationUpdate``),
  every time: each load is a fresh transcript, while the bot's state for the conversation id stays.
  Opening a team channel the first time installs the bot in the team (the bot's greeting starts a thread).
* Activities the bot sends while no page is open are shown when the page next loads.
* Its log has an entry per HTTP exchange, added when the exchange ends: the bot's replies to a message
  are logged before the message itself. Entries have the HTTP status both ways (see ``LogEntry``).
* Cards re-render, emptying their inputs, when a new message arrives in the conversation, on the first
  change of a choice or check box in a card, and after an ``Action.Submit`` (``fill_card_input``
  copes with the first two). A programmatic ``fill()`` can be missed by the card renderer; typing works.
* ``Action.Execute`` sends an ``adaptiveCard/action`` invoke; a card in the answer replaces the old
  card in place, with the notice "Your response was sent to the app".
* In a channel the newest thread is at the top; a bot hears a post only when it is @mentioned.
* It listens on all interfaces (it has no host option); the harness gives it a free port.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # playwright is imported lazily so that a missing install gives a clear failure
    from playwright.sync_api import Browser as PwBrowser
    from playwright.sync_api import Locator, Page, Playwright, WebSocket

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("POLICYBOT_CHROMIUM", "/usr/bin/chromium"))
PLAYGROUND_BIN = REPO_ROOT / "node_modules" / ".bin" / "agentsplayground"
PLAYGROUND_CONFIGS = REPO_ROOT / "playground"
TENANT_ID = "00000000-0000-0000-0000-0000000000aa"
SKIP_ENV = "POLICYBOT_SKIP_PLAYGROUND"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Loopback only: every other host name fails to resolve at once (the Playground asks a CDN for fonts).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 900}
DEFAULT_TIMEOUT_S = 15.0

# Names in the Playground's UI (version 0.2.28) that the helpers rely on; kept in one place.
_RAIL_REGION = 'div[role="region"][aria-label="Chat and Teams Channel"]'
_CONVERSATION_PANE = f"div:has(> div > {_RAIL_REGION}) + div"
_CARD = ".ac-adaptiveCard"
_CHAT_MESSAGE = "xpath=ancestor::div[div[@aria-label='Message header']][1]"
_CHANNEL_POST = "xpath=ancestor::div[@role='group'][1]"
_CARD_INPUTS = "input, textarea, [role=radiogroup]"


class HarnessError(AssertionError):
    """Something in the end-to-end stack did not do what the test needed; the message says what and where."""


# --- prerequisites ---------------------------------------------------------------------------------------


def missing_prerequisites() -> list[str]:
    """What the end-to-end tests need and this machine lacks (empty when all is there)."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM}")
    if shutil.which("node") is None:
        missing.append("node on PATH")
    if not PLAYGROUND_BIN.exists():
        missing.append(f"the Agents Playground at {PLAYGROUND_BIN.relative_to(REPO_ROOT)} (npm package)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    return missing


# --- processes -------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback that is free now (the servers are told to use it straight away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) if kept else "(empty)"


_LIVE: set[ManagedProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Last resort (an interrupted run): end every process group the harness started and did not stop."""
    for process in list(_LIVE):
        process.stop(timeout=2)


class ManagedProcess:
    """A child process in its own process group, output to a file; ``stop`` ends the whole group."""

    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.cwd = cwd
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv built by this module
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its children too
            )
        _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def exit_code(self) -> int | None:
        return self._process.poll() if self._process else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 80) -> str:
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 5.0) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        # The leader may be gone while a child of the group lingers: end the group once more.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        _LIVE.discard(self)


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without anything that would configure the bot, plus ``extra``."""
    blocked_prefixes = ("POLICYBOT_", "MICROSOFTAPP", "MICROSOFT_APP", "M365_AGENTS_PLAYGROUND_", "TEAMSAPPTESTER_")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(blocked_prefixes) and key.upper() not in ("DATABASE_URL", "PYTEST_CURRENT_TEST")
    }
    loopback = "localhost,127.0.0.1,::1"
    env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, [env.get("NO_PROXY", ""), loopback]))
    env.update(extra)
    return env


class BotServer:
    """The bot as production runs it (``python -m bot``), in dev mode, on loopback, with its own database.

    It runs in ``workdir`` (not the repository) so a developer's ``.env`` cannot change what is tested.
    """

    def __init__(self, workdir: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.database_path = workdir / "bot.db"
        self.url = f"http://127.0.0.1:{self.port}"
        self.messages_endpoint = f"{self.url}/api/messages"
        env = {
            "POLICYBOT_DEV_MODE": "true",
            "POLICYBOT_HOST": "127.0.0.1",
            "POLICYBOT_PORT": str(self.port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.database_path}",
            "POLICYBOT_ALLOWED_TENANT_IDS": TENANT_ID,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra_env or {})
        self.process = ManagedProcess(
            "bot",
            [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "bot"],
            cwd=workdir,
            env=_clean_env(env),
            log_path=workdir / "bot.log",
        )

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for ``GET /readyz`` to answer 200 (the database is migrated and reachable)."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.exit_code()
            if code is not None:
                raise HarnessError(
                    f"The bot exited with status {code} before it was ready.\n--- bot log ---\n{self.process.tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read()[:200]!r}"
            except OSError as error:
                last = str(error)
            time.sleep(0.1)  # polling a socket that is not open yet: there is nothing to wait on
        raise HarnessError(
            f"The bot did not become ready at {self.url}/readyz within {timeout:.0f} s (last: {last}).\n"
            f"--- bot log ---\n{self.process.tail()}"
        )

    def log_records(self) -> list[dict[str, Any]]:
        """The bot's log as parsed JSON lines (other lines come back as ``{"raw": line}``)."""
        records = []
        for line in self.process.log_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append({"raw": line})
        return records

    def errors(self) -> list[dict[str, Any]]:
        """Log records at ERROR or above (a turn that failed, an unhandled request)."""
        return [r for r in self.log_records() if r.get("level") in ("ERROR", "CRITICAL")]

    def wait_for_log(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = DEFAULT_TIMEOUT_S,
        description: str = "a matching log record",
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for record in self.log_records():
                if predicate(record):
                    return record
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"The bot did not log {description} within {timeout:.0f} s.\n--- bot log ---\n{self.process.tail()}"
                )
            time.sleep(0.1)  # the log is a file: polling is the only way to wait on it

    def tail(self, lines: int = 120) -> str:
        return self.process.tail(lines)

    def stop(self) -> None:
        self.process.stop()


@dataclass(frozen=True)
class Identity:
    """The parts of a Playground identity file the harness needs (read without a YAML library)."""

    name: str
    config_dir: Path
    user_name: str
    bot_name: str
    personal_chat_id: str

    @classmethod
    def load(cls, name: str) -> Identity:
        config_dir = PLAYGROUND_CONFIGS / name
        config = config_dir / ".m365agentsplayground.yml"
        if not config.is_file():
            raise HarnessError(f"No Playground identity {name!r}: {config.relative_to(REPO_ROOT)} does not exist.")
        sections: dict[str, dict[str, str]] = {}
        section = ""
        for line in config.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line.startswith(" "):
                section = line.split(":", 1)[0].strip()
                continue
            match = re.match(r"^  (\w+):\s*(.*?)\s*$", line)  # direct children only (two spaces)
            if match:
                sections.setdefault(section, {})[match.group(1)] = match.group(2).strip("\"'")
        try:
            return cls(
                name,
                config_dir,
                sections["currentUser"]["name"],
                sections["bot"]["name"],
                sections["personalChat"]["id"],
            )
        except KeyError as missing:
            raise HarnessError(f"{config.relative_to(REPO_ROOT)} has no {missing} entry") from None


class PlaygroundServer:
    """One Agents Playground process for one identity, pointed at the bot."""

    def __init__(self, identity: Identity, bot_endpoint: str, workdir: Path) -> None:
        self.identity = identity
        self.requested_port = free_port()
        self.port: int | None = None
        tmp = workdir / f"playground-{identity.name}-tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {
            # Keep its own log file and temp files out of the repository, and never open a desktop browser.
            "M365_AGENTS_PLAYGROUND_LOGFILE": str(workdir / f"playground-{identity.name}.internal.log"),
            "TEAMSAPPTESTER_BROWSER": "none",
            "TMPDIR": str(tmp),
        }
        self.process = ManagedProcess(
            f"playground:{identity.name}",
            [str(PLAYGROUND_BIN), "-e", bot_endpoint, "-c", "msteams", "--dt", "-p", str(self.requested_port)],
            cwd=identity.config_dir,
            env=_clean_env(env),
            log_path=workdir / f"playground-{identity.name}.log",
        )

    @property
    def url(self) -> str:
        if self.port is None:
            raise HarnessError(f"The Playground for {self.identity.name} is not running")
        return f"http://localhost:{self.port}"

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for "Listening on <port>" (it falls back to another port if ours was taken) and its UI."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.exit_code()
            if code is not None:
                raise HarnessError(
                    f"The Playground for {self.identity.name} exited with status {code}. It does so without a "
                    "message when it rejects its config (e.g. `users` must hold exactly five users): check "
                    f"{(self.identity.config_dir / '.m365agentsplayground.yml').relative_to(REPO_ROOT)}.\n"
                    f"--- output ---\n{self.process.tail()}"
                )
            match = re.search(r"Listening on (\d+)", self.process.log_text())
            if match:
                port = int(match.group(1))
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            self.port = port
                            return
                except OSError:
                    pass
            time.sleep(0.1)  # waiting for a child's output file and socket: nothing to block on
        raise HarnessError(
            f"The Playground for {self.identity.name} did not serve its UI within {timeout:.0f} s.\n"
            f"--- output ---\n{self.process.tail()}"
        )

    def stop(self) -> None:
        self.process.stop()


class Browser:
    """Playwright (sync API) with Debian's Chromium, headless, loopback only."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: PwBrowser | None = None

    def start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )

    def new_page(self) -> Page:
        if self._browser is None:
            raise HarnessError("The browser is not running")
        context = self._browser.new_context(
            viewport=VIEWPORT, service_workers="block", locale="en-GB", timezone_id="Europe/London"
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_S * 1000)
        return context.new_page()

    def close(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            self._browser = None
            if self._playwright is not None:
                self._playwright.stop()
                self._playwright = None
            # The sync API marks its loop as running in this thread between calls; after stop() it must be
            # gone, or the async tests of later modules could not start their loops.
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop()
                asyncio.events._set_running_loop(None)


# --- the Playground's activity log -----------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    """One activity in the Playground's Log Panel: who sent it, its HTTP status, the JSON both ways."""

    name: str  # activity type or connector call: message, invoke, installationUpdate, updateActivity, ...
    to_bot: bool  # True: Playground -> bot (/api/messages); False: bot -> Playground connector
    status: int | None
    conversation_id: str
    text: str
    request: dict[str, Any] = field(repr=False, compare=False)
    response: Any = field(repr=False, compare=False)

    @classmethod
    def from_frame(cls, log: dict[str, Any]) -> LogEntry:
        request = (log.get("request") or {}).get("body") or {}
        response = log.get("response") or {}
        return cls(
            name=str(log.get("activityName")),
            to_bot=log.get("to") == "User Application",
            status=response.get("statusCode"),
            conversation_id=str(log.get("conversationId") or ""),
            text=str(log.get("displayText") or ""),
            request=request if isinstance(request, dict) else {"body": request},
            response=response.get("body"),
        )

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards the activity carries (a message's attachments, or an invoke's card answer)."""
        found = [
            a.get("content")
            for a in self.request.get("attachments") or []
            if isinstance(a, dict) and a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]
        if isinstance(self.response, dict) and self.response.get("type") == "application/vnd.microsoft.card.adaptive":
            found.append(self.response.get("value"))
        return [card for card in found if isinstance(card, dict)]

    @property
    def card_title(self) -> str:
        """The first text of the first card (its title, as a person would read it), or ''."""

        def first_text(node: Any) -> str:
            if isinstance(node, dict):
                if node.get("type") == "TextBlock" and node.get("text"):
                    return str(node["text"])
                for key in ("body", "items", "columns"):
                    for child in node.get(key) or []:
                        text = first_text(child)
                        if text:
                            return text
            return ""

        cards = self.cards
        return first_text(cards[0]) if cards else ""

    def __str__(self) -> str:
        arrow = "Playground -> bot" if self.to_bot else "bot -> Playground"
        text = f" {self.text[:80]!r}" if self.text else ""
        title = self.card_title
        card = f" card {title[:80]!r}" if title else ""
        return f"{arrow}: {self.name} {self.status} [{self.conversation_id}]{text}{card}"


def _input_kind(locator: Locator) -> str:
    """What kind of Adaptive Card input a labelled element is, as the Playground renders it."""
    tag, input_type, role, css = locator.evaluate(
        "e => [e.tagName.toLowerCase(), e.getAttribute('type') || '', e.getAttribute('role') || '', "
        "String(e.className || '')]"
    )
    if input_type == "checkbox":
        return "checkbox"
    if role == "radiogroup":
        return "radiogroup"
    if role == "combobox":
        return "dropdown" if "Combobox" in css else "date"
    if tag in ("input", "textarea"):
        return "text"
    return f"unknown <{tag} type={input_type!r} role={role!r}>"


# --- a person in front of one Playground -----------------------------------------------------------------


class PlaygroundSession:
    """One identity's Playground page, driven like a person would, plus its activity log.

    Text searches are limited to the conversation pane (not the left rail's previews or the Log Panel).
    """

    def __init__(self, identity: Identity, server: PlaygroundServer, page: Page, bot: BotServer) -> None:
        self.identity = identity
        self.server = server
        self.page = page
        self.bot = bot
        self.activities: list[LogEntry] = []
        self.text_log: list[str] = []
        self._view = ""
        self._load_mark = 0
        self._filled: dict[tuple[str, str], tuple[Locator, str, Any]] = {}  # what fill_card_input set
        page.on("websocket", self._on_websocket)

    # --- navigation ---------------------------------------------------------------------------------------

    @property
    def pane(self) -> Locator:
        """The conversation pane (messages and compose box) of whatever chat or channel is open."""
        return self.page.locator(_CONVERSATION_PANE)

    def begin_load(self) -> None:
        """Start loading the UI without waiting (several pages load side by side); ``load`` finishes it."""
        self._load_mark = self.mark()
        self.page.goto(self.server.url, wait_until="commit")
        self._view = "loading"

    def load(self) -> None:
        """Open the Playground UI. Each load is a fresh transcript; the Playground (re)installs the bot in the
        personal chat (``installationUpdate`` + ``conversationUpdate``), so the welcome card arrives again.
        Returns once the bot has answered both (its welcome is sent within that turn), so nothing from the
        installation arrives after the test starts typing."""
        if self._view != "loading":
            self.begin_load()
        mark = self._load_mark
        try:
            self.page.locator(_RAIL_REGION).wait_for(timeout=30_000)
        except Exception as error:
            raise HarnessError(f"The Playground UI for {self.identity.name} did not render: {error}") from error
        if self.pane.count() != 1:
            raise HarnessError(
                "Cannot find the Playground's conversation pane (selector "
                f"{_CONVERSATION_PANE!r}): has the Playground's layout changed?"
            )
        self._compose_box().wait_for()  # the personal chat is open at start
        self._view = "personal"
        for activity in ("installationUpdate", "conversationUpdate"):
            self.wait_for_activity(
                activity, to_bot=True, since=mark, conversation=self.identity.personal_chat_id, timeout=30
            )

    def open_personal_chat(self) -> None:
        """Show the personal chat with the bot (loading the UI first if needed) and wait for its compose box."""
        if self._view in ("", "loading"):
            self.load()
        self.page.get_by_role("treeitem", name="Personal Chat", exact=True).click()
        self._compose_box().wait_for()
        self._view = "personal"

    def open_channel(self, name: str) -> None:
        """Open a team channel from the left rail. The first time, the Playground installs the bot in the team
        (``installationUpdate`` and ``conversationUpdate`` with ``channelData.team``)."""
        if self._view in ("", "loading"):
            self.load()
        item = self.page.get_by_role("treeitem", name=re.compile(rf" - {re.escape(name)}$"))
        try:
            item.first.wait_for(timeout=5_000)
        except Exception:
            raise HarnessError(
                f"No channel {name!r} in the left rail of {self.identity.name}'s Playground; "
                "channels come from team.channels in its .m365agentsplayground.yml"
            ) from None
        item.first.click()
        self._new_post_box().wait_for()
        self._view = f"channel:{name}"

    def reload(self) -> None:
        """A fresh transcript (the bot keeps its state: the conversation id does not change)."""
        self._view = ""
        self.load()

    # --- typing --------------------------------------------------------------------------------------------

    def _compose_box(self) -> Locator:
        return self.pane.get_by_role("textbox").last

    def _new_post_box(self) -> Locator:
        return self.pane.get_by_role("textbox").first

    def _type(self, text: str) -> None:
        lines = text.split("\n")
        for index, line in enumerate(lines):
            if index:
                self.page.keyboard.press("Shift+Enter")
            if line:
                self.page.keyboard.insert_text(line)  # one input event: much faster than type() per key

    def send(self, text: str, *, check: bool = True, timeout: float = DEFAULT_TIMEOUT_S) -> LogEntry:
        """Type ``text`` in the chat's compose box and press Enter. Returns the message's log entry once the
        Playground has posted it to the bot; with ``check`` a non-2xx answer from the bot fails the test."""
        if not self._view.startswith("personal"):
            raise HarnessError(
                f"send() types in a chat; {self.identity.name} has {self._view or 'nothing'} open "
                "(use post_in_channel_mentioning_bot in channels)"
            )
        mark = self.mark()
        box = self._compose_box()
        box.click()
        self._type(text)
        self.page.keyboard.press("Enter")
        entry = self.wait_for_activity("message", to_bot=True, since=mark, text=text.strip(), timeout=timeout)
        if check:
            self._check(entry)
        return entry

    def post_in_channel_mentioning_bot(
        self, text: str, *, check: bool = True, timeout: float = DEFAULT_TIMEOUT_S
    ) -> LogEntry:
        """Start a new post in the open channel: "@<bot name> <text>", picking the bot from the mention pop-up
        (a channel bot only hears posts that @mention it). Returns the message's log entry; the bot receives
        ``<at>Bot</at> text`` in conversation ``<channel id>;messageid=<n>``."""
        if not self._view.startswith("channel:"):
            raise HarnessError(f"{self.identity.name} has no channel open: call open_channel(name) first")
        mark = self.mark()
        self._new_post_box().click()
        self.page.keyboard.type("@" + self.identity.bot_name[:3])
        menu = self.page.get_by_role("listbox", name="Typeahead menu")
        try:
            menu.get_by_role("menuitem", name=self.identity.bot_name).first.click()  # name: avatar + text
        except Exception as error:
            raise HarnessError(f"The @mention pop-up did not offer {self.identity.bot_name!r}: {error}") from error
        self._type(" " + text)
        self.pane.get_by_role("button", name="Post", exact=True).click()
        entry = self.wait_for_activity(
            "message",
            to_bot=True,
            since=mark,
            timeout=timeout,
            where=lambda e: text.strip() in e.text and "<at>" in e.text,
        )
        if check:
            self._check(entry)
        return entry

    # --- reading -------------------------------------------------------------------------------------------

    def text_locator(self, text: str | re.Pattern[str], *, exact: bool = False) -> Locator:
        return self.pane.get_by_text(text, exact=exact)

    def count_text(self, text: str | re.Pattern[str], *, exact: bool = False) -> int:
        return self.text_locator(text, exact=exact).count()

    def wait_for_text(
        self,
        text: str | re.Pattern[str],
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        exact: bool = False,
        min_count: int = 1,
    ) -> Locator:
        """Wait until ``text`` shows in the conversation pane (messages and rendered cards; case-insensitive
        substring unless ``exact``) at least ``min_count`` times. Returns the last match."""
        locator = self.text_locator(text, exact=exact)
        deadline = time.monotonic() + timeout
        try:
            if min_count <= 1:
                locator.last.wait_for(state="visible", timeout=timeout * 1000)
            else:
                while locator.count() < min_count:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"seen {locator.count()} times")
                    self.page.wait_for_timeout(50)
        except Exception as error:
            raise HarnessError(
                f"{self.identity.name}: {text!r} did not appear in the conversation ({self._view}) within "
                f"{timeout:.0f} s ({error.__class__.__name__}).\n{self.describe()}"
            ) from None
        return locator.last

    def card(self, text: str | re.Pattern[str], timeout: float = DEFAULT_TIMEOUT_S) -> Locator:
        """The newest rendered Adaptive Card containing ``text`` (waits for it)."""
        cards = self.pane.locator(_CARD).filter(has_text=text)
        try:
            cards.last.wait_for(state="visible", timeout=timeout * 1000)
        except Exception:
            raise HarnessError(
                f"{self.identity.name}: no card containing {text!r} appeared within {timeout:.0f} s.\n{self.describe()}"
            ) from None
        return cards.last

    def conversation_text(self) -> str:
        return self.pane.inner_text()

    # --- cards ---------------------------------------------------------------------------------------------

    def click_card_button(
        self,
        name: str,
        *,
        card: Locator | str | None = None,
        expect_activity: bool = True,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> LogEntry | None:
        """Click the card button named exactly ``name`` (in ``card``, by default the newest card that has it).

        ``Action.Submit`` sends a ``message`` with a ``value``; ``Action.Execute`` an ``invoke``
        (``adaptiveCard/action``) whose returned card replaces the old one in place. Returns that activity's
        log entry; with ``check`` a non-2xx answer from the bot fails the test. Pass ``expect_activity=False``
        for buttons that send nothing (``Action.ShowCard``, ``Action.ToggleVisibility``).
        """
        scope = self._card_scope(card)
        button = scope.get_by_role("button", name=name, exact=True).last
        try:
            button.wait_for(state="visible", timeout=timeout * 1000)
        except Exception:
            raise HarnessError(
                f"{self.identity.name}: no card button {name!r} within {timeout:.0f} s.\n{self.describe()}"
            ) from None
        self._restore_fills()
        mark = self.mark()
        button.click()
        self._filled.clear()  # the click sends the card's inputs; the Playground empties them afterwards
        if not expect_activity:
            return None
        try:
            entry = self.wait_for_activity(
                timeout=timeout,
                to_bot=True,
                since=mark,
                where=lambda e: e.name == "invoke" or (e.name == "message" and e.request.get("value") is not None),
                description=f"the activity sent by clicking {name!r}",
            )
        except HarnessError as error:
            problems = self.card_validation_errors(scope)
            if problems:
                raise HarnessError(
                    f"{self.identity.name}: clicking {name!r} sent nothing: the card's inputs failed "
                    f"validation: {problems}. (After an Action.Submit the Playground re-renders "
                    f"that card with empty inputs.)\n{self.describe()}"
                ) from None
            raise error from None
        if check:
            self._check(entry)
        return entry

    def card_validation_errors(self, card: Locator | str | None = None) -> list[str]:
        """The validation messages (``errorMessage``) the renderer shows under card inputs right now."""
        scope = self._card_scope(card)
        # An input's aria-labelledby names its label, then its error message: a text block, hidden while valid.
        return scope.locator(".ac-input-container [aria-labelledby]").evaluate_all(
            "els => [...new Set(els.flatMap(e => (e.getAttribute('aria-labelledby') || '').split(/\\s+/).slice(1))"
            ".map(id => document.getElementById(id))"
            ".filter(el => el && el.classList.contains('ac-textBlock') && el.offsetParent !== null"
            " && el.innerText.trim())"
            ".map(el => el.innerText.trim()))]"
        )

    def fill_card_input(
        self, label: str, value: str | bool | Iterable[str], *, card: Locator | str | None = None
    ) -> None:
        """Set a card input found by its label, as a person would.

        * ``Input.Text`` (single or multi-line): ``value`` is typed in;
        * ``Input.ChoiceSet`` compact (a drop-down): ``value`` is the choice's title;
        * ``Input.ChoiceSet`` expanded (radio buttons): the choice's title;
        * ``Input.ChoiceSet`` multi-select (check boxes): an iterable of titles, exactly those are ticked;
        * ``Input.Toggle``: ``True``/``False``;
        * ``Input.Date``: ``YYYY-MM-DD``.
        A required input's label reads "<label> *" in the Playground; both forms are accepted.

        Playground quirk (0.2.28): a card re-renders, emptying what was typed or picked in it, when a new
        message arrives in the conversation and on the first change of a choice or check box in it. So the
        harness remembers what it set, sets it again if it was lost, and checks it all before a card button
        is clicked (``click_card_button``). Teams keeps what people typed.
        """
        scope = self._card_scope(card)
        self._fill(scope, label, value)
        key = (repr(scope), label)  # a locator's repr names its selector: the same card gives the same key
        self._filled.pop(key, None)
        self._filled[key] = (scope, label, value)
        self._restore_fills()

    def _card_input(self, scope: Locator, label: str) -> tuple[Locator, str]:
        pattern = re.compile(rf"^\s*{re.escape(label)}(\s*\*)?\s*$")
        inputs = scope.get_by_label(pattern).and_(scope.locator(_CARD_INPUTS))
        if inputs.count() == 0:
            inputs = scope.get_by_label(label).and_(scope.locator(_CARD_INPUTS))
        if inputs.count() == 0:
            raise HarnessError(f"{self.identity.name}: no card input labelled {label!r}.\n{self.describe()}")
        return inputs, _input_kind(inputs.first)

    def _fill(self, scope: Locator, label: str, value: str | bool | Iterable[str]) -> None:
        inputs, kind = self._card_input(scope, label)
        first = inputs.first
        if kind == "text":  # typed like a person: the renderer misses a programmatic fill() of the first card
            first.click()
            self.page.keyboard.press("ControlOrMeta+A")
            self.page.keyboard.press("Delete")
            if str(value):
                self.page.keyboard.insert_text(str(value))
        elif kind == "date":  # type the ISO date, confirm it, close the calendar pop-up
            first.fill(str(value))
            first.press("Enter")
            self.page.keyboard.press("Escape")
        elif kind == "checkbox":
            if isinstance(value, bool):
                first.set_checked(value)
            else:
                wanted = {value} if isinstance(value, str) else set(value)
                for index in range(inputs.count()):
                    box = inputs.nth(index)
                    box.set_checked((box.get_attribute("aria-label") or "") in wanted)
        elif kind == "radiogroup":
            first.get_by_role("radio", name=str(value), exact=True).check()
        elif kind == "dropdown":
            first.click()
            self.page.get_by_role("option", name=str(value), exact=True).click()
        else:
            raise HarnessError(f"Do not know how to fill the input labelled {label!r} ({kind})")

    def _fill_holds(self, scope: Locator, label: str, value: str | bool | Iterable[str]) -> bool:
        inputs, kind = self._card_input(scope, label)
        first = inputs.first
        if kind in ("text", "dropdown"):
            return first.input_value() == str(value)
        if kind == "date":
            return first.input_value() != ""  # shown in the page's locale, not as typed
        if kind == "radiogroup":
            return first.get_by_role("radio", name=str(value), exact=True).is_checked()
        if isinstance(value, bool):
            return first.is_checked() == value
        wanted = {value} if isinstance(value, str) else set(value)
        return all(
            inputs.nth(i).is_checked() == ((inputs.nth(i).get_attribute("aria-label") or "") in wanted)
            for i in range(inputs.count())
        )

    def _restore_fills(self) -> None:
        """Set again whatever a re-render of the card emptied (see fill_card_input)."""
        for _attempt in range(3):
            lost = [fill for fill in self._filled.values() if not self._fill_holds(*fill)]
            if not lost:
                return
            # Choices first: the first change of a choice is itself what empties the typed text.
            lost.sort(key=lambda fill: self._card_input(fill[0], fill[1])[1] in ("text", "date"))
            for fill in lost:
                self._fill(*fill)
        labels = [fill[1] for fill in self._filled.values() if not self._fill_holds(*fill)]
        if labels:
            raise HarnessError(f"{self.identity.name}: the card keeps losing the values of {labels}")

    def _card_scope(self, card: Locator | str | None) -> Locator:
        if card is None:
            return self.pane
        if isinstance(card, str):
            return self.card(card)
        return card

    # --- the activity log ----------------------------------------------------------------------------------

    def _on_websocket(self, socket_: WebSocket) -> None:
        if socket_.url.endswith("/_ws/log/stream"):
            socket_.on("framereceived", self._on_log_frame)

    def _on_log_frame(self, payload: str | bytes) -> None:
        try:
            frame = json.loads(payload)
        except (TypeError, ValueError):
            return
        if frame.get("logAction") != "appendLog":
            return
        log = frame.get("log") or {}
        if log.get("activityName"):
            self.activities.append(LogEntry.from_frame(log))
        elif log.get("displayText"):
            self.text_log.append(str(log["displayText"]))

    def settle(self, quiet: float = 0.3, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until the activity log has been quiet for ``quiet`` seconds (the bot has finished answering and
        the outbox has nothing in flight for this Playground). Use before typing into a card if more messages
        may still arrive: a new message re-renders the cards (see fill_card_input)."""
        deadline = time.monotonic() + timeout
        seen, since = len(self.activities), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"{self.identity.name}: activities kept coming for {timeout:.0f} s.\n{self.describe()}"
                )
            self.page.wait_for_timeout(50)
            if len(self.activities) != seen:
                seen, since = len(self.activities), time.monotonic()

    def mark(self) -> int:
        """A position in the activity log; pass it as ``since`` to wait only for what comes after."""
        return len(self.activities)

    def wait_for_activity(
        self,
        name: str | None = None,
        *,
        to_bot: bool | None = None,
        since: int = 0,
        text: str | None = None,
        conversation: str | None = None,
        where: Callable[[LogEntry], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        description: str | None = None,
    ) -> LogEntry:
        """Wait for an entry in the Playground's activity log (what its Log Panel shows) and return it.

        ``to_bot`` True: sent by the Playground to the bot; False: the bot's call to the mock connector.
        ``text``: the entry's text equals it; ``conversation``: the conversation id starts with it.
        """

        def matches(entry: LogEntry) -> bool:
            return (
                (name is None or entry.name == name)
                and (to_bot is None or entry.to_bot == to_bot)
                and (text is None or entry.text.strip() == text)
                and (conversation is None or entry.conversation_id.startswith(conversation))
                and (where is None or where(entry))
            )

        deadline = time.monotonic() + timeout
        while True:
            for entry in self.activities[since:]:
                if matches(entry):
                    return entry
            if time.monotonic() > deadline:
                what = description or " ".join(
                    part
                    for part in [
                        name or "an activity",
                        {True: "to the bot", False: "from the bot", None: ""}[to_bot],
                        f"with text {text!r}" if text is not None else "",
                        f"in {conversation}" if conversation else "",
                    ]
                    if part
                )
                raise HarnessError(
                    f"{self.identity.name}: the Playground logged no {what} within {timeout:.0f} s.\n{self.describe()}"
                )
            self.page.wait_for_timeout(50)  # lets Playwright deliver web socket frames while we wait

    def _check(self, entry: LogEntry) -> None:
        if not entry.ok:
            raise HarnessError(
                f"{self.identity.name}: the bot answered {entry}: HTTP {entry.status} "
                f"(body {str(entry.response)[:300]!r}).\n--- bot log (tail) ---\n{self.bot.tail(40)}"
            )

    def failed_activities(self) -> list[LogEntry]:
        """Activities either way whose HTTP status was not 2xx."""
        return [entry for entry in self.activities if entry.status is not None and not entry.ok]

    def log_panel_text(self) -> str:
        """The text of the Playground's Log Panel as a person sees it (``activities`` has the same, parsed)."""
        header = self.page.get_by_text("Log Panel", exact=True)
        return header.locator("xpath=../../..").inner_text()

    def describe(self, last: int = 15) -> str:
        lines = [f"--- {self.identity.name}'s Playground activity log (last {last}) ---"]
        lines += [f"  {entry}" for entry in self.activities[-last:]] or ["  (nothing logged)"]
        return "\n".join(lines)

    # --- pictures ------------------------------------------------------------------------------------------

    def screenshot(self, path: str | Path, *, of: Locator | str | None = None, padding: int = 12) -> Path:
        """Save a PNG a person can read: the message holding the card ``of`` (text in the card, or a locator)
        with its sender line, or by default the whole conversation pane."""
        path = _screenshot_destination(Path(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        if of is None:
            target = self.pane
        else:
            card = self.card(of) if isinstance(of, str) else of
            target = card
            for container in (_CHAT_MESSAGE, _CHANNEL_POST):
                candidate = card.locator(container)
                if candidate.count() == 1:
                    target = candidate
                    break
        original = self.page.viewport_size or VIEWPORT
        self.page.mouse.move(0, 0)  # no hover highlight on a button in the picture
        try:
            box = target.bounding_box()
            if box is None:
                raise HarnessError(f"Nothing visible to photograph for {of!r}")
            if of is not None and box["height"] + 2 * padding > original["height"] - 60:  # a tall card: grow
                self.page.set_viewport_size(
                    {"width": original["width"], "height": int(box["height"] + 2 * padding + 240)}
                )
            target.scroll_into_view_if_needed()
            box = target.bounding_box()
            assert box is not None
            viewport = self.page.viewport_size or original
            pad_y = min(padding, 4)  # messages sit close together: keep the neighbours out of the picture
            x = max(box["x"] - padding, 0)
            y = max(box["y"] - pad_y, 0)
            clip = {
                "x": x,
                "y": y,
                "width": min(box["width"] + 2 * padding, viewport["width"] - x),
                "height": min(box["height"] + 2 * pad_y, viewport["height"] - y),
            }
            self.page.screenshot(path=str(path), clip=clip, animations="disabled", caret="hide")
        finally:
            if self.page.viewport_size != original:
                self.page.set_viewport_size(original)
        return path

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.page.context.close()


# --- the whole stack -------------------------------------------------------------------------------------


class E2EStack:
    """The bot, a browser and, on demand, one Playground + page per identity. ``close`` ends them all."""

    def __init__(self, workdir: Path, bot_env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.bot = BotServer(workdir, bot_env)
        self.browser = Browser()
        self.playgrounds: dict[str, PlaygroundServer] = {}
        self.sessions: dict[str, PlaygroundSession] = {}
        self.timings: dict[str, float] = {}

    def start(self, identities: Iterable[str] = ()) -> None:
        """Start the bot, the browser and the Playgrounds of ``identities`` side by side, and begin loading
        their pages (``session(name).open_personal_chat()`` etc. finish loading)."""
        started = time.monotonic()
        self.bot.start()
        pending = self._start_playground_processes(identities)
        self.browser.start()  # overlaps with the bot's and the Playgrounds' start-up
        self.bot.wait_ready()
        for server in pending:
            server.wait_ready()
        for name in identities:
            self.session(name).begin_load()
        self.timings["start"] = time.monotonic() - started

    def _start_playground_processes(self, identities: Iterable[str]) -> list[PlaygroundServer]:
        pending = []
        for name in identities:
            if name not in self.playgrounds:
                server = PlaygroundServer(Identity.load(name), self.bot.messages_endpoint, self.workdir)
                self.playgrounds[name] = server
                server.start()
                pending.append(server)
        return pending

    def start_playgrounds(self, *identities: str) -> None:
        """Start several Playgrounds side by side (faster than one after the other)."""
        for server in self._start_playground_processes(identities):
            server.wait_ready()

    def session(self, identity: str) -> PlaygroundSession:
        """The Playground session for ``playground/<identity>/`` (started the first time it is asked for)."""
        if identity not in self.sessions:
            started = time.monotonic()
            self.start_playgrounds(identity)
            server = self.playgrounds[identity]
            session = PlaygroundSession(server.identity, server, self.browser.new_page(), self.bot)
            self.sessions[identity] = session
            self.timings[f"playground:{identity}"] = time.monotonic() - started
        return self.sessions[identity]

    def diagnostics(self, failure_dir: Path | None = None, label: str = "failure") -> list[tuple[str, str]]:
        """Report sections for a failed test: the bot log, each Playground's activity log and output, and a
        screenshot of each open page (saved under ``failure_dir``)."""
        sections = [("bot log (tail)", self.bot.tail(150))]
        for name, session in self.sessions.items():
            text = session.describe(last=40)
            if failure_dir is not None:
                try:
                    shot = failure_dir / f"{label}-{name}.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    session.page.screenshot(path=str(shot))
                    text += f"\n(screenshot: {shot})"
                except Exception as error:  # noqa: BLE001 - diagnostics must never hide the real failure
                    text += f"\n(no screenshot: {error})"
            sections.append((f"{name} Playground activities", text))
        for name, server in self.playgrounds.items():
            sections.append((f"{name} Playground output (tail)", server.process.tail(30)))
        return sections

    def close(self) -> None:
        errors: list[BaseException] = []
        for session in self.sessions.values():
            session.close()
        for action in [self.browser.close, *[p.stop for p in self.playgrounds.values()], self.bot.stop]:
            try:
                action()
            except BaseException as error:  # noqa: BLE001 - stop everything, then report
                errors.append(error)
        if errors:
            raise errors[0]


_DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
_RUN_SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


def _screenshot_destination(path: Path) -> Path:
    """The docs' screenshots are refreshed only when asked (POLICYBOT_UPDATE_SCREENSHOTS=1); otherwise a run
    writes its pictures under test-results/, so running the tests leaves the work tree unchanged."""
    if os.environ.get("POLICYBOT_UPDATE_SCREENSHOTS") == "1":
        return path
    try:
        relative = path.resolve().relative_to(_DOCS_SCREENSHOTS)
    except ValueError:
        return path
    return _RUN_SCREENSHOTS / relative


# --- a card at a phone's width --------------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}  # a phone's viewport
CARD_ON_PHONE = 358  # the width Teams' mobile client gives a card in a chat on a 390 px wide screen


def as_on_a_phone(card: Locator) -> dict[str, float]:
    """Give the card the width it has on a phone (the Playground's own page does not shrink below about 450 px,
    so the card is narrowed in place), then measure: its scroll and client widths, how far the widest of its parts
    overflows its box, and how many of its parts are wider than the card."""
    return card.evaluate(
        """(el, width) => {
            el.style.width = width + 'px'; el.style.maxWidth = width + 'px'; el.style.minWidth = '0';
            const nodes = [el, ...el.querySelectorAll('*')].filter(n => n.offsetParent !== null);
            const box = el.getBoundingClientRect();
            const widest = nodes.reduce((most, n) => Math.max(most, n.scrollWidth - n.clientWidth), 0);
            const outside = nodes.filter(n => n.getBoundingClientRect().right > box.right + 1).length;
            return {scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, width: box.width,
                    widestOverflow: widest, partsOutside: outside};
        }""",
        CARD_ON_PHONE,
    )


def fits(sizes: dict[str, float]) -> bool:
    """Whether a card measured by ``as_on_a_phone`` fits a phone: nothing scrolls, sticks out or is wider."""
    return (sizes["scrollWidth"] <= sizes["clientWidth"] and sizes["widestOverflow"] <= 1
            and sizes["partsOutside"] == 0 and sizes["width"] <= CARD_ON_PHONE)


# --- the business case's runner slots ---------------------------------------------------------------------------


def runner_input(form: Locator, slot: int) -> Locator:
    """The typeahead box of a business case's runner slot (labelled "Runner N", "Runner 3 (optional)")."""
    return form.locator(
        f"xpath=.//label[starts-with(normalize-space(.), 'Runner {slot}')]/following-sibling::div//input").first


def choose_runner(session: PlaygroundSession, form: Locator, slot: int, name: str) -> None:
    """Type part of a name in a runner slot and pick the suggestion, as a person does (the slot filters the school's
    staff list; Teams also asks the bot as the person types, which the Playground does not do yet)."""
    box = runner_input(form, slot)
    box.click()
    session.page.keyboard.type(name.split(" ")[0])
    session.page.get_by_role("option").filter(has_text=name).first.click()


def fill_business_case(session: PlaygroundSession, form: Locator, *, name: str, aim: str, audience: str,
                       runners: Sequence[str], promoted: str = "Newsletter", monitoring: str | None = None,
                       holidays: str | None = None) -> None:
    """Fill a Facebook business case as a member of staff does: the account, its aim, audience and promotion,
    private, the runners chosen by name, then the monitoring plan and holiday cover when given (a test that leaves
    one out sees the form come back)."""
    session.fill_card_input("Platform", "Facebook", card=form)
    session.fill_card_input("Proposed account name", name, card=form)
    session.fill_card_input("Aim of the account", aim, card=form)
    session.fill_card_input("Intended audience", audience, card=form)
    session.fill_card_input("How it will be promoted", promoted, card=form)
    session.fill_card_input("Open or private", "Private / closed (approved members only)", card=form)
    for slot, runner in enumerate(runners, start=1):
        choose_runner(session, form, slot, runner)
    if monitoring is not None:
        session.fill_card_input("Monitoring plan (term time)", monitoring, card=form)
    if holidays is not None:
        session.fill_card_input("Monitoring during school holidays", holidays, card=form)
