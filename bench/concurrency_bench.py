"""K concurrent approval decisions and incident reports, next to K concurrent `help` turns, on SQLite and PostgreSQL.

Run from the repository root:

    .venv/bin/python -m bench.concurrency_bench [--k 20,50] [--repeats 3] [--databases sqlite,postgres]

A benchmark, not a test: it prints figures for a person to read, and reports failures instead of stopping
at them. Everything stays on loopback. For each database it starts, each in its own process:

- a fake Bot Connector (a small aiohttp server answering 200 to every call the bot makes);
- our bot, built by the real factory ``bot.app.create_app(Settings(dev_mode=True, ...))`` on a fresh database
  (a SQLite file in a temporary folder, or a new PostgreSQL database dropped afterwards), served by aiohttp
  ``AppRunner`` on 127.0.0.1 with its own outbox worker running. The bench adds, in that process only, a
  counter of the database work (SQLAlchemy events on the app's engine) and a ``GET /_bench/stats`` route.

Everything the bot is told arrives over HTTP, as Teams would send it: people open the bot, a member of SLT
chooses the incident channel, staff send account business cases (``account_submit``). First, each operation
is run ``--sequential`` times one at a time (rows ``1x10``: the uncontended cost, and the statement breakdown).
Then, per repeat and per K, three bursts of K requests fired at once, each timed from its POST to its answer:

- ``help``: K staff each type ``help`` (the baseline: the same run, the same bot, the same concurrency);
- ``decide``: the Head Teacher clicks Approve (``adaptiveCard/action``, verb ``approval_decide``) on K pending
  account requests, each seeded just before over HTTP (untimed, one at a time);
- ``report``: K staff each send a complete incident report (verb ``incident_submit``).

The order of the three rotates from one repeat to the next. After a burst the bench waits until the bot has no
request in flight and (SQLite) nobody holds the write lock. If that has not happened ``_GRACE_S`` later, or if
any operation of the burst failed, the bot is killed and started again on the same database, then warmed up
with a few help turns (noted in the output), so no burst pays for the last one's tail. The outbox is not waited
for (Teams' rate limit, 50 messages per conversation per 30 s, would make that minutes per burst): its worker
goes on sending in the background, as in production.

After each burst the database is read (plain SQL on the tables): every decision must be applied exactly once
(approved by the Head Teacher, one ``approved`` history entry, one register row) and every report stored
exactly once.

Figures per burst: errors (HTTP >= 500, no answer within the timeout, an answer that is not the success card,
or a record missing or doubled), p50/p99 latency, the bot process's CPU ms per operation, database round trips
per operation made inside the HTTP requests (statements + BEGIN/COMMIT/ROLLBACK + pool pings; the outbox
worker's are counted apart and left out), and the outbox messages queued per operation. Each is also given as
a ratio to the help burst of the same repeat and K. The exit status is 1 if any operation failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import logging
import multiprocessing
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TENANT = "00000000-0000-0000-0000-0000000000aa"
BOT_ID = "28:policy-bot"
ROLES_FILE = REPO / "playground" / "roles.json"
SLT_CHANNEL = "19:slt-incidents@thread.tacv2"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

APPROVAL_DECIDE_VERB = "approval_decide"
ACCOUNT_SUBMIT_VERB = "account_submit"
INCIDENT_SUBMIT_VERB = "incident_submit"

OPS = ("help", "decide", "report")
_OP_LABELS = {"help": "help turn", "decide": "decision", "report": "incident report"}

_START_TIMEOUT_S = 90.0  # the bot migrates its database before it listens
_STOP_TIMEOUT_S = 15.0
_GRACE_S = 3.0  # after a burst, wait this long for the bot to finish what is left in flight, then restart it
_QUIET_TIMEOUT_S = 30.0  # before a burst (and after a restart), wait this long for quiet
_WARM_UP_TURNS = 5  # help turns after a restart, so the next burst does not pay for a cold start
_SEED_ATTEMPTS = 4
_SERVER_CORE = 0


@dataclass(frozen=True)
class Person:
    name: str
    aad: str
    teams_id: str

    @property
    def chat_id(self) -> str:
        return f"a:personal-{self.teams_id.split(':', 1)[1]}"

    def sender(self) -> dict[str, str]:
        return {"id": self.teams_id, "name": self.name, "aadObjectId": self.aad}


# People of playground/roles.json: Anna is the Head Teacher, Priya SLT; Sam and Lee run the proposed accounts.
SAM = Person("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")
LEE = Person("Lee Carter", "00000000-0000-0000-0000-000000000102", "29:staff-lee")
ANNA = Person("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")
PRIYA = Person("Priya Shah", "00000000-0000-0000-0000-000000000202", "29:slt-priya")
TOM = Person("Tom Reed", "00000000-0000-0000-0000-000000000203", "29:dsl-tom")
JO = Person("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")
NAMED = (SAM, LEE, ANNA, PRIYA, TOM, JO)


def bench_staff(index: int) -> Person:
    """A member of staff with no role (not in the roles file): sends `help` and incident reports."""
    return Person(f"Bench Staff {index}", f"00000000-0000-0000-0001-{index:012d}", f"29:bench-staff-{index}")


# --- activities (the JSON Teams posts to /api/messages) -----------------------------------------


_activity_ids = itertools.count(1)
_RUN = uuid.uuid4().hex[:8]


def _activity(service_url: str, person: Person, *, type_: str = "message", text: str | None = None,
              value: Any = None, name: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": type_,
        "id": f"bench-{_RUN}-{next(_activity_ids)}",  # never reused: the bot de-duplicates activity ids
        "timestamp": "2026-11-24T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": person.sender(),
        "conversation": {"id": person.chat_id, "conversationType": "personal", "tenantId": TENANT},
        "recipient": {"id": BOT_ID, "name": "Policy Bot"},
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-GB",
    }
    if text is not None:
        activity["text"] = text
    if value is not None:
        activity["value"] = value
    if name is not None:
        activity["name"] = name
    return activity


def _execute(service_url: str, person: Person, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    """A click on an Action.Execute button."""
    return _activity(service_url, person, type_="invoke", name="adaptiveCard/action",
                     value={"action": {"type": "Action.Execute", "verb": verb, "data": data}})


def _channel_message(service_url: str, person: Person, text: str) -> dict[str, Any]:
    """`@Policy Bot <text>` in the SLT channel."""
    activity = _activity(service_url, person, text=f"<at>Policy Bot</at> {text}")
    activity["conversation"] = {"id": f"{SLT_CHANNEL};messageid=1", "conversationType": "channel",
                                "isGroup": True, "tenantId": TENANT}
    activity["channelData"] = {
        "tenant": {"id": TENANT},
        "team": {"id": "19:team-general@thread.tacv2", "name": "Holy Trinity Staff"},
        "channel": {"id": SLT_CHANNEL, "name": "SLT Incidents"},
    }
    activity["entities"] = [{"type": "mention", "text": "<at>Policy Bot</at>",
                             "mentioned": {"id": BOT_ID, "name": "Policy Bot"}}]
    return activity


def _business_case(tag: str) -> dict[str, str]:
    """A complete account business case, as the form sends it."""
    return {
        "platform": "facebook", "account_name": f"Bench {tag}", "aim": "Share Year 6 learning with families",
        "audience": "Parents of Year 6", "promotion": "Newsletter and letters home", "visibility": "private",
        "monitoring_plan": "Checked daily at 4pm", "holiday_monitoring": "Checked twice a week in holidays",
        "runner_1": SAM.aad, "runner_1_training": "confirmed", "runner_2": LEE.aad, "runner_2_training": "confirmed",
    }


# --- the fake Bot Connector (its own process) ------------------------------------------------------


def _connector_app() -> web.Application:
    ids = itertools.count(1)

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        n = next(ids)
        return web.Response(body=b'{"id": "r-%d", "activityId": "r-%d"}' % (n, n), content_type="application/json")

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


# --- the bot (its own process), with the bench's counters ----------------------------------------


_IN_TURN: ContextVar[bool] = ContextVar("bench_in_turn", default=False)
_TABLE_AFTER = {
    "SELECT": re.compile(r"\bfrom\s+\"?(\w+)", re.IGNORECASE),
    "WITH": re.compile(r"\bfrom\s+\"?(\w+)", re.IGNORECASE),
    "DELETE": re.compile(r"\bfrom\s+\"?(\w+)", re.IGNORECASE),
    "INSERT": re.compile(r"\binto\s+\"?(\w+)", re.IGNORECASE),
    "UPDATE": re.compile(r"^update\s+\"?(\w+)", re.IGNORECASE),
}


def _shape(statement: str) -> str:
    """`SELECT approval_requests`: the statement's verb and first table."""
    text = " ".join(statement.split())
    verb = text.split(" ", 1)[0].upper() if text else "?"
    pattern = _TABLE_AFTER.get(verb)
    found = pattern.search(text) if pattern else None
    return f"{verb} {found.group(1)}" if found else verb


class ErrorTally(logging.Handler):
    """Counts WARNING+ log records by logger and exception (what a 500 was caused by)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                first = (str(error).strip().splitlines() or [""])[0]
                key = f"{record.levelname} {record.name}: {type(error).__name__}: {first}"
            else:
                key = f"{record.levelname} {record.name}: {record.getMessage()}"
            self.counts[re.sub(r"\d{3,}", "N", key)[:160]] += 1
        except Exception:  # noqa: BLE001 - a counter must never break the bot's logging
            pass


class Probe:
    """Database work on the app's engine, split into inside /api/messages requests ("turn") and the rest."""

    def __init__(self, sync_engine: Any, tally: ErrorTally) -> None:
        from sqlalchemy import event

        self.counts: dict[str, Counter[str]] = {"turn": Counter(), "background": Counter()}
        self.shapes: dict[str, Counter[str]] = {"turn": Counter(), "background": Counter()}
        self.in_flight = 0
        self.requests = 0
        self.tally = tally

        def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            where = self._where()
            shape = _shape(statement)
            self.counts[where]["statements"] += 1
            if shape.startswith("BEGIN"):
                self.counts[where]["begin_sql"] += 1
            self.shapes[where][shape] += 1

        def counter(name: str) -> Callable[..., None]:
            def on_event(*_args: Any) -> None:
                self.counts[self._where()][name] += 1
            return on_event

        event.listen(sync_engine, "before_cursor_execute", on_statement)
        for name in ("begin", "commit", "rollback"):
            event.listen(sync_engine, name, counter(name))
        event.listen(sync_engine, "checkout", counter("checkout"))  # pool events, through the engine
        event.listen(sync_engine, "connect", counter("connect"))
        dialect = sync_engine.dialect
        ping = dialect.do_ping
        count_ping = counter("ping")

        def do_ping(dbapi_connection: Any) -> bool:  # pool_pre_ping: one round trip per checkout
            count_ping()
            return bool(ping(dbapi_connection))

        dialect.do_ping = do_ping

    @staticmethod
    def _where() -> str:
        return "turn" if _IN_TURN.get() else "background"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        if request.path != "/api/messages":
            return await handler(request)
        token = _IN_TURN.set(True)
        self.in_flight += 1
        self.requests += 1
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1
            _IN_TURN.reset(token)

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response({
            "in_flight": self.in_flight, "requests": self.requests,
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "shapes": {k: dict(v) for k, v in self.shapes.items()},
            "errors": dict(self.tally.counts),
        })


def _bot_app(database_url: str, log_path: Path) -> web.Application:
    from bot.app import SERVICES, create_app
    from bot.settings import Settings

    tally = ErrorTally()
    file_handler = logging.FileHandler(log_path)
    file_handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, tally]
    root.setLevel(logging.WARNING)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        dev_mode=True,
        database_url=database_url,
        allowed_tenant_ids=[TENANT],
        roles_file=ROLES_FILE,
        log_level="WARNING",
    )
    app = create_app(settings)
    probe = Probe(app[SERVICES].database.engine.sync_engine, tally)
    app.middlewares.append(probe.middleware)
    app.router.add_get("/_bench/stats", probe.stats)
    return app


def _serve(kind: str, database_url: str, core: int | None, ready: Queue) -> None:  # type: ignore[type-arg]
    """A child process: serve one app on 127.0.0.1 until SIGTERM, reporting its port on `ready`."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        with tempfile.TemporaryDirectory(prefix="concurrency-bench-log-") as workdir:
            app = _connector_app() if kind == "connector" else _bot_app(database_url, Path(workdir) / "bot.log")
            asyncio.run(_run_until_terminated(app, ready))
    except BaseException as error:
        ready.put(f"{type(error).__name__}: {error}")
        raise


async def _run_until_terminated(app: web.Application, ready: Queue) -> None:  # type: ignore[type-arg]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        ready.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await stop.wait()
    finally:
        await runner.cleanup()


@dataclass
class Server:
    name: str
    process: SpawnProcess
    url: str

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and all its threads so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(context: Any, kind: str, database_url: str, core: int | None) -> Server:
    ready = context.Queue()
    process = context.Process(target=_serve, args=(kind, database_url, core, ready),
                              name=f"concurrency-bench {kind}", daemon=True)
    process.start()
    try:
        port = ready.get(timeout=_START_TIMEOUT_S)
    except Exception:
        port = None
    if not isinstance(port, int):
        _stop(Server(kind, process, ""))
        raise RuntimeError(f"the {kind} server did not start ({port or f'exit code {process.exitcode}'})")
    return Server(kind, process, f"http://127.0.0.1:{port}/")


def _kill(server: Server) -> None:
    server.process.kill()
    server.process.join(_STOP_TIMEOUT_S)


def _stop(server: Server) -> None:
    if server.process.is_alive():
        server.process.terminate()
        server.process.join(_STOP_TIMEOUT_S)
    if server.process.is_alive():
        server.process.kill()
        server.process.join(_STOP_TIMEOUT_S)


# --- databases ---------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _fresh_database(kind: str, postgres_url: str, workdir: Path) -> Any:
    """A SQLite file in `workdir`, or a new PostgreSQL database dropped afterwards: yields its URL."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    from sqlalchemy.engine import make_url

    name = f"policybot_bench_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(postgres_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _postgres_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _postgres_admin(url: str, sql: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(15), engine.connect() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await engine.dispose()


class Reader:
    """The bench's own read-only connection to the bot's database (plain SQL on the tables)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.ext.asyncio import create_async_engine

        parsed = make_url(url)
        self._sqlite_path = parsed.database if parsed.get_backend_name() == "sqlite" else None

        self._engine = create_async_engine(url, pool_size=1, max_overflow=0) if "postgresql" in url else \
            create_async_engine(url)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        async with self._engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())

    async def writable(self) -> bool:
        """SQLite: whether a writer could take the write lock now (nobody holds it). Always True on PostgreSQL."""
        if self._sqlite_path is None:
            return True

        def try_lock(path: str) -> bool:
            connection = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
                return True
            except sqlite3.OperationalError:
                return False
            finally:
                connection.close()

        return await asyncio.to_thread(try_lock, self._sqlite_path)

    async def last_outbox_id(self) -> int:
        [(last,)] = await self.rows("SELECT coalesce(max(id), 0) FROM outbox")
        return int(last)

    async def close(self) -> None:
        await self._engine.dispose()


def _in_list(values: list[Any]) -> str:
    return ", ".join(str(int(v)) for v in values) or "NULL"


# --- one burst ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    latency_ms: float
    problem: str | None  # None: answered as expected


@dataclass
class Burst:
    database: str
    k: int  # operations in the burst
    at_once: int  # how many were sent at once: k, or 1 (one after another)
    repeat: int
    op: str
    outcomes: list[Outcome]
    seconds: float
    cpu_s: float  # the bot process's CPU from the first request sent to the last answer
    queued: int  # outbox messages the burst queued (for the worker to send to Teams)
    turn: Counter[str]  # database work inside the requests (the outbox worker's is left out)
    turn_shapes: Counter[str]
    errors_logged: Counter[str]
    not_stored: int = 0
    stored_twice: int = 0
    note: str = ""
    failed_ops: int = 0  # operations with any problem (answer or record)
    prepare_s: float = 0.0  # waiting for quiet and seeding before the burst
    settle_s: float = 0.0  # waiting for quiet (or restarting the bot) after it

    def percentile(self, fraction: float) -> float:
        ordered = sorted(o.latency_ms for o in self.outcomes)
        return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]

    @property
    def cpu_ms_per_op(self) -> float:
        return self.cpu_s * 1000.0 / self.k

    def round_trips(self, counts: Counter[str]) -> int:
        """Statements + BEGIN (once, whether the driver or the application sends it) + COMMIT/ROLLBACK + pings."""
        begins = max(counts["begin"], counts["begin_sql"])
        return counts["statements"] - counts["begin_sql"] + begins + counts["commit"] + counts["rollback"] + \
            counts["ping"]

    @property
    def rt_per_op(self) -> float:
        return self.round_trips(self.turn) / self.k

    @property
    def queued_per_op(self) -> float:
        return self.queued / self.k

    def problems(self) -> Counter[str]:
        found = Counter(o.problem for o in self.outcomes if o.problem)
        if self.not_stored:
            found["not stored / not applied"] += self.not_stored
        if self.stored_twice:
            found["stored more than once"] += self.stored_twice
        return found


def _delta(after: dict[str, Any], before: dict[str, Any]) -> Counter[str]:
    result = Counter(after)
    result.subtract(Counter(before))
    return +result


class Driver:
    """Talks to one running bot over HTTP, reads its database, and restarts the bot when a burst leaves it stuck."""

    def __init__(self, session: ClientSession, bot: Server, restart: Callable[[Server], Server],
                 connector_url: str, reader: Reader, timeout_s: float) -> None:
        self.session = session
        self.bot = bot
        self._restart = restart
        self.restarts = 0
        self.last_words: dict[str, Any] = {}  # the stats of a bot just before it was restarted
        self.service_url = connector_url
        self.reader = reader
        self.timeout = ClientTimeout(total=timeout_s)

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.bot.url + "api/messages", json=activity, timeout=self.timeout) as response:
            raw = await response.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            return response.status, body

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(self.bot.url + "_bench/stats", timeout=ClientTimeout(total=30)) as response:
            return await response.json()  # type: ignore[no-any-return]

    async def _state(self) -> tuple[bool, str]:
        """(quiet, what is still going on): no request in flight and, on SQLite, nobody holding the write lock."""
        stats = await self.stats()
        problems = []
        if stats["in_flight"]:
            problems.append(f"{stats['in_flight']} requests in flight")
        try:
            if not await self.reader.writable():
                problems.append("the SQLite write lock held")
        except Exception as error:  # noqa: BLE001 - worth reporting, not dying for
            problems.append(f"the database unreadable ({type(error).__name__})")
        return not problems, ", ".join(problems)

    async def quiet(self, grace_s: float = _QUIET_TIMEOUT_S, *, failed: int = 0) -> str:
        """Wait until the bot is quiet: '' or a note of what happened.

        Not quiet within `grace_s` (a request still in flight, the SQLite write lock still held), or `failed`
        operations in the burst just run: the bot is killed and started again on the same database, and warmed
        up with a few `help` turns, so the next burst does not pay for this one (a failed burst can leave
        connections holding SQLite's write lock). The outbox is not waited for: Teams' rate limit (50 messages
        per conversation per 30 s) would make that minutes per burst; its worker goes on sending in the
        background, as it does in production.
        """
        deadline = time.monotonic() + grace_s
        while True:
            quiet, problem = await self._state()
            if quiet and not failed:
                return ""
            if time.monotonic() > deadline or (quiet and failed):
                break
            await asyncio.sleep(0.1)
        self.last_words = await self.stats()
        self.bot = await asyncio.to_thread(self._restart, self.bot)
        self.restarts += 1
        why = f"{problem} {grace_s:.0f} s after the burst" if problem else f"{failed} operations failed"
        note = f"bot restarted ({why})"
        for index in range(1, _WARM_UP_TURNS + 1):
            with contextlib.suppress(Exception):
                await self.post(_activity(self.service_url, bench_staff(index), text="help"))
        deadline = time.monotonic() + _QUIET_TIMEOUT_S
        while True:
            quiet, after = await self._state()
            if quiet:
                return note
            if time.monotonic() > deadline:
                return f"{note}; still not quiet {_QUIET_TIMEOUT_S:.0f} s after: {after}"
            await asyncio.sleep(0.2)

    # --- set-up, as people would do it in Teams ----------------------------------------------------

    async def setup(self, staff: int) -> None:
        for person in NAMED:  # each opens the bot once, so it knows their chat
            await self._expect_ok(_activity(self.service_url, person, text="hello"), "hello")
        await self._expect_ok(_channel_message(self.service_url, PRIYA, "use this channel for incidents"),
                              "use this channel")
        rows = await self.reader.rows("SELECT count(*) FROM school_settings")
        if not rows or not rows[0][0]:
            raise RuntimeError("the SLT channel was not stored")
        for start in range(1, staff + 1, 10):  # each bench staff member has used the bot once
            await asyncio.gather(*(self._expect_ok(_activity(self.service_url, bench_staff(i), text="help"), "help")
                                   for i in range(start, min(staff, start + 9) + 1)))

    async def _expect_ok(self, activity: dict[str, Any], what: str) -> Any:
        status, body = await self.post(activity)
        if status not in (200, 201):
            raise RuntimeError(f"set-up {what!r}: HTTP {status} {str(body)[:200]}")
        return body

    async def seed_requests(self, count: int, tag: str) -> tuple[list[int], int]:
        """Sam sends `count` account business cases; returns their request ids and how many tries failed."""
        ids: list[int] = []
        failed_tries = 0
        for index in range(count):
            data = {"form_id": uuid.uuid4().hex, **_business_case(f"{tag} {index}")}
            for attempt in range(_SEED_ATTEMPTS):
                try:  # the same form_id again is the same request (the form is only ever sent once)
                    status, body = await self.post(_execute(self.service_url, SAM, ACCOUNT_SUBMIT_VERB, data))
                except (TimeoutError, OSError):
                    status, body = 0, None
                request_id = _withdraw_request_id(body) if status == 200 else None
                if request_id is not None:
                    ids.append(request_id)
                    break
                failed_tries += 1
                await asyncio.sleep(0.5 * (attempt + 1))
        return ids, failed_tries

    # --- the operations --------------------------------------------------------------------------

    async def help(self, index: int) -> Outcome:
        return await self._timed(_activity(self.service_url, bench_staff(index), text="help"), _is_message_ok)

    async def decide(self, request_id: int) -> Outcome:
        data = {"request_id": request_id, "round": 1, "decision": "approve", "comment": ""}
        return await self._timed(_execute(self.service_url, ANNA, APPROVAL_DECIDE_VERB, data), _is_decided)

    async def report(self, index: int, marker: str) -> Outcome:
        data = {"draft": uuid.uuid4().hex, "risk": "no", "category": "offensive_content", "what_happened": marker,
                "platform": "Facebook", "involved": "Two parents", "actions_taken": "blocked,screenshot_kept"}
        return await self._timed(_execute(self.service_url, bench_staff(index), INCIDENT_SUBMIT_VERB, data),
                                 _is_receipt)

    async def _timed(self, activity: dict[str, Any], check: Callable[[int, Any], str | None]) -> Outcome:
        started = time.perf_counter()
        try:
            status, body = await self.post(activity)
        except TimeoutError:
            return Outcome((time.perf_counter() - started) * 1000.0, "no answer within the timeout")
        except OSError as error:
            return Outcome((time.perf_counter() - started) * 1000.0, f"connection error ({type(error).__name__})")
        elapsed = (time.perf_counter() - started) * 1000.0
        if status >= 500:
            return Outcome(elapsed, f"HTTP {status}")
        return Outcome(elapsed, check(status, body))


def _withdraw_request_id(body: Any) -> int | None:
    try:
        for action in body["value"].get("actions") or []:
            if action.get("title") == "Withdraw":
                return int(action["data"]["request_id"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None


def _invoke_card(status: int, body: Any) -> tuple[str | None, str]:
    if status != 200:
        return f"HTTP {status}", ""
    if not isinstance(body, dict) or body.get("statusCode") != 200:
        return "invoke answer not 200", ""
    return None, json.dumps(body.get("value"))


def _is_message_ok(status: int, _body: Any) -> str | None:
    return None if status in (200, 201) else f"HTTP {status}"


def _is_decided(status: int, body: Any) -> str | None:
    problem, text = _invoke_card(status, body)
    if problem:
        return problem
    if "Nothing was changed" in text or "Approved." not in text:
        return "answer is not the decided card"
    return None


def _is_receipt(status: int, body: Any) -> str | None:
    problem, text = _invoke_card(status, body)
    if problem:
        return problem
    return None if "Report received: INC-" in text else "answer is not the receipt"


async def _burst(driver: Driver, database: str, k: int, repeat: int, op: str, *, at_once: bool = True) -> Burst:
    """K operations of one kind: fired at once (or, `at_once=False`, one after another), then checked."""
    prepared = time.perf_counter()
    note = await driver.quiet()
    tag = f"{_RUN} r{repeat} k{k}{'' if at_once else 's'}"
    request_ids: list[int] = []
    if op == "decide":
        request_ids, failed_tries = await driver.seed_requests(k, tag)
        if failed_tries:
            note = "; ".join(filter(None, [note, f"seeding: {failed_tries} tries failed, {len(request_ids)} of {k} "
                                                 "requests pending"]))
        note = "; ".join(filter(None, [note, await driver.quiet()]))
    markers = [f"bench {tag} report {i}" for i in range(k)]
    calls: list[Callable[[], Awaitable[Outcome]]]
    if op == "help":
        calls = [functools.partial(driver.help, i) for i in range(1, k + 1)]
    elif op == "decide":
        calls = [functools.partial(driver.decide, request_id) for request_id in request_ids]
    else:
        calls = [functools.partial(driver.report, i + 1, markers[i]) for i in range(k)]

    last_outbox_id = await driver.reader.last_outbox_id()
    before = await driver.stats()
    cpu_before = driver.bot.cpu_seconds()
    started = time.perf_counter()
    prepare_s = started - prepared
    if at_once:
        outcomes = list(await asyncio.gather(*(call() for call in calls)))
    else:
        outcomes = [await call() for call in calls]
    seconds = time.perf_counter() - started
    cpu_window = driver.bot.cpu_seconds() - cpu_before
    bot = driver.bot
    still = await driver.quiet(_GRACE_S, failed=sum(1 for o in outcomes if o.problem))
    settle_s = time.perf_counter() - started - seconds
    # restarted: the old process's figures as they stood when it was stopped
    after = await driver.stats() if driver.bot is bot else driver.last_words
    queued = await driver.reader.last_outbox_id() - last_outbox_id
    note = "; ".join(filter(None, [note, still]))
    if len(outcomes) < k:  # requests that could not even be seeded count as failed decisions
        outcomes += [Outcome(0.0, "request could not be seeded")] * (k - len(outcomes))
    burst = Burst(
        database=database, k=k, at_once=k if at_once else 1, repeat=repeat, op=op, outcomes=outcomes,
        seconds=seconds, cpu_s=cpu_window, queued=queued,
        turn=_delta(after["counts"].get("turn", {}), before["counts"].get("turn", {})),
        turn_shapes=_delta(after["shapes"].get("turn", {}), before["shapes"].get("turn", {})),
        errors_logged=_delta(after["errors"], before["errors"]), note=note, prepare_s=prepare_s, settle_s=settle_s,
    )
    failed = {i for i, o in enumerate(outcomes) if o.problem}
    try:
        if op == "decide":
            failed |= await _verify_decisions(driver.reader, request_ids, burst)
        elif op == "report":
            failed |= await _verify_reports(driver.reader, markers, burst)
    except Exception as error:  # noqa: BLE001 - report it; the next burst may still tell something
        burst.note = "; ".join(filter(None, [burst.note, f"verification failed: {type(error).__name__}: {error}"]))
        failed = set(range(k))
    burst.failed_ops = len(failed)
    return burst


async def _verify_decisions(reader: Reader, request_ids: list[int], burst: Burst) -> set[int]:
    """Every decision applied exactly once: approved by the Head Teacher, one history entry, one register row."""
    ids = _in_list(request_ids)
    states = {row[0]: (row[1], row[2]) for row in await reader.rows(
        f"SELECT id, state, decided_by_name FROM approval_requests WHERE id IN ({ids})")}
    approved = dict(await reader.rows(
        f"SELECT request_id, count(*) FROM approval_events WHERE event = 'approved' AND request_id IN ({ids}) "
        "GROUP BY request_id"))
    registered = dict(await reader.rows(
        f"SELECT approval_request_id, count(*) FROM account_register WHERE approval_request_id IN ({ids}) "
        "GROUP BY approval_request_id"))
    failed: set[int] = set()
    for index, request_id in enumerate(request_ids):
        state = states.get(request_id)
        events, rows = approved.get(request_id, 0), registered.get(request_id, 0)
        if state != ("approved", ANNA.name) or events == 0 or rows == 0:
            burst.not_stored += 1
            failed.add(index)
        elif events > 1 or rows > 1:
            burst.stored_twice += 1
            failed.add(index)
    return failed


async def _verify_reports(reader: Reader, markers: list[str], burst: Burst) -> set[int]:
    """Every report stored exactly once."""
    prefix = markers[0].rsplit(" ", 1)[0] + " "
    stored = dict(await reader.rows(
        "SELECT what_happened, count(*) FROM incidents WHERE what_happened LIKE :prefix GROUP BY what_happened",
        prefix=prefix + "%"))
    failed: set[int] = set()
    for index, marker in enumerate(markers):
        count = stored.get(marker, 0)
        if count == 0:
            burst.not_stored += 1
            failed.add(index)
        elif count > 1:
            burst.stored_twice += 1
            failed.add(index)
    return failed


# --- one database ----------------------------------------------------------------------------------


async def _run_database(kind: str, args: argparse.Namespace, context: Any, server_core: int | None,
                        connector: Server) -> tuple[list[Burst], int]:
    """Start the bot on a fresh database, set it up over HTTP, and run every burst: (bursts, restarts)."""
    bursts: list[Burst] = []
    with tempfile.TemporaryDirectory(prefix="concurrency-bench-") as workdir:
        async with _fresh_database(kind, args.postgres_url, Path(workdir)) as url:

            def restart(old: Server) -> Server:
                _kill(old)  # a graceful stop would wait for the stuck requests
                return _start(context, "bot", url, server_core)

            driver: Driver | None = None
            bot = await asyncio.to_thread(_start, context, "bot", url, server_core)
            reader = Reader(url)
            try:
                async with ClientSession(connector=TCPConnector(limit=0)) as session:
                    driver = Driver(session, bot, restart, connector.url, reader, args.timeout)
                    await driver.setup(max(*args.k, args.sequential, _WARM_UP_TURNS))
                    if args.sequential:  # the cost of one operation alone, for the statement breakdown
                        for op in OPS:
                            bursts.append(await _burst(driver, kind, args.sequential, 0, op, at_once=False))
                            _progress(bursts[-1])
                    for repeat in range(1, args.repeats + 1):
                        for k in args.k:
                            order = OPS[(repeat - 1) % len(OPS):] + OPS[: (repeat - 1) % len(OPS)]
                            for op in order:
                                bursts.append(await _burst(driver, kind, k, repeat, op))
                                _progress(bursts[-1])
            finally:
                await reader.close()
                await asyncio.to_thread(_stop, driver.bot if driver is not None else bot)
    return bursts, driver.restarts if driver is not None else 0


def _progress(burst: Burst) -> None:
    print(f"  {burst.database:<8} repeat {burst.repeat} K={_k_label(burst):<5} {burst.op:<6}: "
          f"{burst.failed_ops:>3} of {burst.k} failed, p50 {burst.percentile(0.5):8.1f} ms, "
          f"p99 {burst.percentile(0.99):8.1f} ms, {burst.cpu_ms_per_op:6.1f} CPU ms/op, "
          f"{burst.rt_per_op:5.1f} round trips/op, {burst.seconds:5.1f} s (+{burst.prepare_s:.1f} s before, "
          f"{burst.settle_s:.1f} s after)"
          + (f"  [{burst.note}]" if burst.note else ""), file=sys.stderr, flush=True)


# --- report ------------------------------------------------------------------------------------------


def _span(values: list[float], digits: int = 1) -> str:
    low, high = min(values), max(values)
    if round(low, digits) == round(high, digits):
        return f"{low:.{digits}f}"
    return f"{low:.{digits}f}-{high:.{digits}f}"


def _k_label(burst: Burst) -> str:
    return str(burst.k) if burst.at_once > 1 else f"1x{burst.k}"


def _table(bursts: list[Burst]) -> str:
    header = (f"{'db':<8} {'K':>5}  {'operation':<15} {'errors':>7} {'p50 ms':>11} {'x help':>10} "
              f"{'p99 ms':>11} {'x help':>10} {'CPU ms/op':>10} {'x help':>9} {'RT/op':>9} {'x help':>9} "
              f"{'queued/op':>9}")
    lines = [header, "-" * len(header)]
    keyed: dict[tuple[str, int, str], list[Burst]] = defaultdict(list)
    helps: dict[tuple[str, int, int], Burst] = {}
    for burst in bursts:
        keyed[(burst.database, burst.at_once, burst.op)].append(burst)
        if burst.op == "help":
            helps[(burst.database, burst.at_once, burst.repeat)] = burst
    for database in dict.fromkeys(b.database for b in bursts):
        for at_once in sorted({b.at_once for b in bursts if b.database == database}):
            for op in OPS:
                group = keyed.get((database, at_once, op), [])
                if not group:
                    continue
                pairs = [(b, helps[(database, at_once, b.repeat)]) for b in group
                         if (database, at_once, b.repeat) in helps]

                def ratio(value: Callable[[Burst], float], pairs: list[tuple[Burst, Burst]] = pairs) -> str:
                    found = [value(b) / value(h) for b, h in pairs if value(h) > 0]
                    return _span(found, 2) if found else "-"

                failed = sum(b.failed_ops for b in group)
                total = sum(b.k for b in group)
                lines.append(
                    f"{database:<8} {_k_label(group[0]):>5}  {_OP_LABELS[op]:<15} {f'{failed}/{total}':>7} "
                    f"{_span([b.percentile(0.5) for b in group], 0):>11} {ratio(lambda b: b.percentile(0.5)):>10} "
                    f"{_span([b.percentile(0.99) for b in group], 0):>11} {ratio(lambda b: b.percentile(0.99)):>10} "
                    f"{_span([b.cpu_ms_per_op for b in group]):>10} {ratio(lambda b: b.cpu_ms_per_op):>9} "
                    f"{_span([b.rt_per_op for b in group]):>9} {ratio(lambda b: b.rt_per_op):>9} "
                    f"{_span([b.queued_per_op for b in group]):>9}"
                )
            lines.append("")
    return "\n".join(lines)


def _details(bursts: list[Burst]) -> str:
    lines: list[str] = []
    grouped: dict[tuple[str, str, str], list[Burst]] = defaultdict(list)
    for burst in bursts:
        grouped[(burst.database, _k_label(burst), burst.op)].append(burst)
    for (database, k, op), group in grouped.items():
        problems: Counter[str] = Counter()
        logged: Counter[str] = Counter()
        notes = [f"repeat {b.repeat}: {b.note}" for b in group if b.note]
        for burst in group:
            problems.update(burst.problems())
            logged.update(burst.errors_logged)
        if not problems and not logged and not notes:
            continue
        lines.append(f"{database} K={k} {_OP_LABELS[op]}s ({len(group)} bursts):")
        for problem, count in problems.most_common():
            lines.append(f"    {count:>4} x {problem}")
        for message, count in logged.most_common(5):
            lines.append(f"    log  {count:>4} x {message}")
        for note in notes:
            lines.append(f"    note {note}")
    return "\n".join(lines) if lines else "(none)"


def _statements(bursts: list[Burst], top: int) -> str:
    """Per database and operation: the statements made inside the requests, per operation, commonest first.

    From the operations run one at a time if there were any (nothing waits, nothing fails), else from the
    bursts without errors, else from all.
    """
    lines: list[str] = []
    grouped: dict[tuple[str, str], list[Burst]] = defaultdict(list)
    for burst in bursts:
        grouped[(burst.database, burst.op)].append(burst)
    for (database, op), group in grouped.items():
        alone = [b for b in group if b.at_once == 1]
        clean = [b for b in group if b.failed_ops == 0]
        chosen, which = ((alone, "one at a time") if alone else (clean, "bursts without errors") if clean
                         else (group, "all bursts, none without errors"))
        shapes: Counter[str] = Counter()
        turn: Counter[str] = Counter()
        for burst in chosen:
            shapes.update(burst.turn_shapes)
            turn.update(burst.turn)
        ops = sum(b.k for b in chosen)
        parts = ", ".join(f"{turn[key] / ops:.1f} {key}" for key in ("begin", "commit", "rollback", "checkout",
                                                                       "ping") if turn[key])
        round_trips = chosen[0].round_trips(turn) / ops
        statements = turn["statements"] - turn["begin_sql"]  # an explicit BEGIN is counted with the begins
        lines.append(f"{database} {_OP_LABELS[op]} ({which}, {ops} operations): {round_trips:.1f} round trips/op = "
                     f"{statements / ops:.1f} statements + {parts}")
        listed = [(shape, count) for shape, count in shapes.most_common() if not shape.startswith("BEGIN")]
        for shape, count in listed[:top]:
            lines.append(f"    {count / ops:6.2f}  {shape}")
    return "\n".join(lines)


def _parse_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give positive numbers, comma separated, e.g. 20,50")
    return counts


def _parse_databases(text: str) -> list[str]:
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    if not kinds or any(kind not in ("sqlite", "postgres") for kind in kinds):
        raise argparse.ArgumentTypeError("give sqlite, postgres or both, comma separated")
    return kinds


@contextlib.contextmanager
def _servers_stopped(started: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in reversed(started):
            _stop(server)


async def _postgres_problem(url: str) -> str | None:
    try:
        await _postgres_admin(url, "SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(error).__name__}: {error}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=_parse_counts, default=[20, 50],
                        help="operations fired at once per burst, comma separated (default 20,50)")
    parser.add_argument("--repeats", type=int, default=3, help="bursts of each kind per K and database (default 3)")
    parser.add_argument("--databases", type=_parse_databases, default=["sqlite", "postgres"],
                        help="sqlite, postgres or both (default both)")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
                        help="an existing PostgreSQL database to connect to; the bench creates and drops its own "
                             f"beside it (default $BENCH_POSTGRES_URL or {DEFAULT_POSTGRES_URL})")
    parser.add_argument("--timeout", type=float, default=15.0,
                        help="seconds to wait for each answer (default 15: the Bot Connector does not wait longer)")
    parser.add_argument("--sequential", type=int, default=10,
                        help="first run this many of each operation one at a time (the uncontended cost; 0: skip)")
    parser.add_argument("--statements", type=int, default=10,
                        help="show this many commonest statements per operation (default 10)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the bot to its own core")
    args = parser.parse_args()
    if args.repeats < 1 or args.timeout <= 0 or args.sequential < 0:
        parser.error("--repeats must be positive, --timeout above 0 and --sequential not negative")

    cores = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cores) >= 2
    server_core = cores[_SERVER_CORE] if pin else None
    if pin:
        os.sched_setaffinity(0, set(cores) - {server_core})  # this process (load) and the fake connector
    print(f"concurrency bench: {len(cores)} cores, " + (f"bot pinned to core {server_core}" if pin else "no pinning"),
          file=sys.stderr)

    context = multiprocessing.get_context("spawn")
    started: list[Server] = []
    bursts: list[Burst] = []
    skipped: list[str] = []
    load_before = os.getloadavg()[0]
    wall = time.monotonic()
    with _servers_stopped(started):
        connector = _start(context, "connector", "", None)
        started.append(connector)
        for kind in args.databases:
            if kind == "postgres":
                problem = asyncio.run(_postgres_problem(args.postgres_url))
                if problem:
                    skipped.append(f"postgres skipped: not reachable at {args.postgres_url} ({problem})")
                    print(f"  {skipped[-1]}", file=sys.stderr)
                    continue
            found, restarts = asyncio.run(_run_database(kind, args, context, server_core, connector))
            bursts += found
            if restarts:
                skipped.append(f"{kind}: the bot was restarted {restarts} times after failed or stuck bursts "
                               "(see the notes below)")
    load_after = os.getloadavg()[0]

    print(f"\nK concurrent operations vs K concurrent help turns, {args.repeats} repeats, timeout {args.timeout:.0f} s "
          f"per request; python {sys.version.split()[0]}, {len(cores)} cores, load average {load_before:.1f} "
          f"before and {load_after:.1f} after; {time.monotonic() - wall:.0f} s in all\n")
    for line in skipped:
        print(line)
    print(_table(bursts))
    print(
        "errors: operations that failed (HTTP >= 500, no answer in time, not the expected card, or the record not "
        "stored / applied exactly once), of all operations over the repeats. Ranges are min-max over the repeats; "
        "x help: the ratio to the help burst of the same repeat, K and database (lower is better). CPU ms/op: the "
        "bot process's CPU from the first request to the last answer, per operation. RT/op: database round trips "
        "made inside the requests (statements + BEGIN/COMMIT/ROLLBACK + pool pings), per operation. queued/op: "
        "outbox messages queued per operation. K=1xN: N operations one after another (the uncontended cost).\n"
    )
    print("Problems, and what the bot logged (WARNING and above), per database, K and operation:")
    print(_details(bursts))
    print("\nStatements inside the requests, per operation (commonest first):")
    print(_statements(bursts, args.statements))
    return 1 if any(b.failed_ops for b in bursts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
