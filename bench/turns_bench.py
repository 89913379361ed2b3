"""Turns per second and latency of a `help` turn, next to a stock botbuilder echo bot, in one run.

Run from the repository root:

    .venv/bin/python -m bench.turns_bench [--conversations 5,10,20] [--turns 400] [--warmup 100]

A benchmark, not a test. Everything stays on loopback and the run stops by itself. It starts, each in
its own process:

- a fake Bot Connector (a small aiohttp server answering 200 {"id": ...} to every reply);
- three bots, each served by aiohttp on 127.0.0.1 exactly the same way (AppRunner, no access log):
  1. ``echo``: a stock botbuilder 4.17 echo bot (CloudAdapter + ConfigurationBotFrameworkAuthentication
     with an empty app id, no state) replying with one Adaptive Card per message;
  2. ``help/stock``: our bot through ``create_app`` in dev mode with durable SQLite state in a temporary
     directory, answering ``help`` with its help card, botbuilder's stock connector client;
  3. ``help/async``: the same, with the async connector (``bot/connector.py``).

The bots are measured one at a time (the others idle) and in turn for each concurrency, so a drift of
the machine hits all three alike. N simulated Teams conversations (distinct conversation, user and
activity ids: the bot de-duplicates activity ids) each send their next message as soon as the previous
one is answered; after a warm-up, ``--turns`` turns are timed. Latency is the POST /api/messages round
trip, which for a message includes sending the reply to the connector. On a machine with at least two
cores the bot under test is pinned to core 0 and the load generator and fake connector to the others,
so client load never takes the server's core (``--no-pin`` turns this off).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fakes.activities import TENANT, personal_activity  # noqa: E402

BOTS = ("echo", "help/stock", "help/async")
_BOT_LABELS = {
    "echo": "echo bot (stock botbuilder)",
    "help/stock": "help + SQLite, stock connector",
    "help/async": "help + SQLite, async connector",
}
_START_TIMEOUT_S = 60.0  # a server that is not listening by then has failed
_REQUEST_TIMEOUT_S = 30.0  # one turn taking longer than this means something is broken: stop
_STOP_TIMEOUT_S = 10.0  # grace period for a server process to clean up after SIGTERM
_SERVER_CORE = 0


# --- the fake Bot Connector ----------------------------------------------------------------------


def _connector_app() -> web.Application:
    ids = itertools.count(1)

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b'{"id": "r-%d"}' % next(ids), content_type="application/json")

    async def create_conversation(request: web.Request) -> web.Response:
        await request.read()
        n = next(ids)
        return web.Response(body=b'{"id": "c-%d", "activityId": "r-%d"}' % (n, n), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v3/conversations", create_conversation)
    app.router.add_post("/v3/conversations/{conversation}/activities", answer)
    app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", answer)
    app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", answer)
    app.router.add_delete("/v3/conversations/{conversation}/activities/{activity}", answer)
    return app


# --- the stock echo bot ----------------------------------------------------------------------------


def _echo_app() -> web.Application:
    """The framework's floor: the botbuilder samples' echo bot, replying with one Adaptive Card."""
    from botbuilder.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class Config:
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    class EchoBot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            card = {
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.5",
                "body": [
                    {"type": "TextBlock", "text": "Echo", "weight": "Bolder", "size": "Medium"},
                    {"type": "TextBlock", "text": turn_context.activity.text or "", "wrap": True},
                ],
            }
            await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


# --- our bot -------------------------------------------------------------------------------------


def _policy_bot_app(connector_mode: str, workdir: Path) -> web.Application:
    from bot.app import SERVICES, create_app
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        dev_mode=True,
        database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        allowed_tenant_ids=[TENANT],
        roles_file=REPO / "playground" / "roles.json",
        log_level="WARNING",
    )
    if "connector_mode" in inspect.signature(create_app).parameters:
        return create_app(settings, connector_mode=connector_mode)  # type: ignore[call-arg]
    app = create_app(settings)
    if connector_mode == "async":
        # Until create_app takes connector_mode: wrap the adapter's authentication the same way.
        from bot.connector import AsyncConnectorAuthentication

        adapter = app[SERVICES].adapter
        authentication = AsyncConnectorAuthentication(adapter.bot_framework_authentication)
        adapter.bot_framework_authentication = authentication

        async def close_connector(_app: web.Application) -> None:
            await authentication.close()

        app.on_cleanup.append(close_connector)
    return app


# --- server processes ----------------------------------------------------------------------------


def _serve(kind: str, core: int | None, ready: Queue) -> None:  # type: ignore[type-arg]
    """A child process: serve one app on 127.0.0.1 until SIGTERM, reporting the port on `ready`."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    with tempfile.TemporaryDirectory(prefix="turns-bench-") as workdir:
        if kind == "connector":
            app = _connector_app()
        elif kind == "echo":
            app = _echo_app()
        else:
            app = _policy_bot_app(kind.split("/")[1], Path(workdir))
        asyncio.run(_run_until_terminated(app, ready))


async def _run_until_terminated(app: web.Application, ready: Queue) -> None:  # type: ignore[type-arg]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
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


def _start(context: Any, kind: str, core: int | None) -> Server:
    ready = context.Queue()
    process = context.Process(target=_serve, args=(kind, core, ready), name=f"turns-bench {kind}", daemon=True)
    process.start()
    try:
        port = ready.get(timeout=_START_TIMEOUT_S)
    except Exception:
        _stop(Server(kind, process, ""))
        raise RuntimeError(f"the {kind} server did not start (exit code {process.exitcode})") from None
    return Server(kind, process, f"http://127.0.0.1:{port}/")


def _stop(server: Server) -> None:
    if server.process.is_alive():
        server.process.terminate()
        server.process.join(_STOP_TIMEOUT_S)
    if server.process.is_alive():
        server.process.kill()
        server.process.join(_STOP_TIMEOUT_S)


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Measurement:
    bot: str
    conversations: int
    turns: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float
    connector_cpu_s: float

    @property
    def throughput(self) -> float:
        return self.turns / self.seconds

    @property
    def cpu_ms_per_turn(self) -> float:
        """The bot process's CPU per turn: what its throughput would be bound by on a quiet core."""
        return self.server_cpu_s * 1000.0 / self.turns

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile of the round-trip latencies."""
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


class Load:
    """N conversations, each sending `help` as soon as its previous turn was answered."""

    def __init__(self, session: ClientSession, bot_url: str, connector_url: str, bot: str, run_id: str) -> None:
        self._session = session
        self._endpoint = bot_url + "api/messages"
        self._connector_url = connector_url
        self._bot = bot.replace("/", "-")
        self._run_id = run_id
        self._sequence = itertools.count(1)

    def _activity(self, conversation: int) -> dict[str, Any]:
        sender = {
            "id": f"29:bench-user-{conversation}",
            "name": f"Bench User {conversation}",
            "aadObjectId": str(uuid.UUID(int=conversation + 1)),
        }
        return personal_activity(
            self._connector_url,
            text="help",
            sender=sender,
            conversation_id=f"a:bench-{self._bot}-{conversation}",
            activity_id=f"bench-{self._run_id}-{self._bot}-{next(self._sequence)}",  # never reused
        )

    async def _turn(self, conversation: int) -> float:
        started = time.perf_counter()
        async with self._session.post(self._endpoint, json=self._activity(conversation)) as response:
            await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{self._bot}: HTTP {response.status} for a help turn")
        return (time.perf_counter() - started) * 1000.0

    async def run(self, conversations: int, turns: int) -> tuple[float, list[float]]:
        """Send exactly `turns` turns over `conversations` concurrent conversations; (seconds, latencies)."""
        remaining = iter(range(turns))
        latencies: list[float] = []

        async def conversation(index: int) -> None:
            for _ in remaining:
                latencies.append(await self._turn(index))

        started = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(conversations)))
        return time.perf_counter() - started, latencies


async def _measure_all(
    servers: dict[str, Server], connector: Server, conversation_counts: list[int], turns: int, warmup: int,
    slices: int,
) -> list[Measurement]:
    """For each concurrency: warm every bot up, then time them in interleaved slices.

    The timed turns of each bot are split into `slices` slices, run bot after bot (the order rotating
    from one slice to the next), so a busy spell of the machine lands on all three bots alike.
    """
    run_id = uuid.uuid4().hex[:8]
    results: list[Measurement] = []
    connector_pool = TCPConnector(limit=0)
    async with ClientSession(connector=connector_pool, timeout=ClientTimeout(total=_REQUEST_TIMEOUT_S)) as session:
        loads = {name: Load(session, server.url, connector.url, name, run_id) for name, server in servers.items()}
        for count in conversation_counts:
            for name in BOTS:
                await loads[name].run(count, max(warmup, 2 * count))
            rows = {name: Measurement(name, count, 0, 0.0, [], 0.0, 0.0) for name in BOTS}
            for index in range(slices):
                slice_turns = turns // slices + (1 if index < turns % slices else 0)
                for name in BOTS[index % len(BOTS):] + BOTS[: index % len(BOTS)]:
                    row, server = rows[name], servers[name]
                    cpu_before, connector_before = server.cpu_seconds(), connector.cpu_seconds()
                    seconds, latencies = await loads[name].run(count, slice_turns)
                    row.turns += slice_turns
                    row.seconds += seconds
                    row.latencies_ms += latencies
                    row.server_cpu_s += server.cpu_seconds() - cpu_before
                    row.connector_cpu_s += connector.cpu_seconds() - connector_before
            for name in BOTS:
                results.append(rows[name])
                print(f"  measured {name:<11} at {count:>3} conversations: {rows[name].throughput:7.1f} turns/s, "
                      f"{rows[name].cpu_ms_per_turn:5.2f} CPU ms/turn", file=sys.stderr, flush=True)
    return results


# --- report --------------------------------------------------------------------------------------


def _table(results: list[Measurement]) -> str:
    header = (
        f"{'conv':>4}  {'bot':<32} {'turns/s':>8} {'x echo':>7} {'p50 ms':>8} {'x echo':>7} "
        f"{'p99 ms':>8} {'x echo':>7} {'CPU ms/turn':>11} {'x echo':>7} {'srv CPU':>8}"
    )
    lines = [header, "-" * len(header)]
    for count in sorted({r.conversations for r in results}):
        rows = {r.bot: r for r in results if r.conversations == count}
        echo = rows["echo"]
        for name in BOTS:
            row = rows[name]
            p50, p99 = row.percentile(0.50), row.percentile(0.99)
            lines.append(
                f"{count:>4}  {_BOT_LABELS[name]:<32} {row.throughput:8.1f} {row.throughput / echo.throughput:7.2f} "
                f"{p50:8.1f} {p50 / echo.percentile(0.50):7.2f} {p99:8.1f} {p99 / echo.percentile(0.99):7.2f} "
                f"{row.cpu_ms_per_turn:11.2f} {row.cpu_ms_per_turn / echo.cpu_ms_per_turn:7.2f} "
                f"{row.server_cpu_s / row.seconds:8.0%}"
            )
        lines.append("")
    lines.append(
        "x echo: ratio to the echo bot at the same concurrency in this run (turns/s: higher is better; latency "
        "and CPU: lower is better). CPU ms/turn: CPU time of the bot's process (all its threads) per turn, the "
        "figure least moved by other load on the machine. srv CPU: that CPU time per second of measurement "
        "(100% = one core; well under 100% means the bot was waiting, or starved by other processes)."
    )
    return "\n".join(lines)


def _parse_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give positive numbers, comma separated, e.g. 5,10,20")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=_parse_counts, default=[5, 10, 20],
                        help="concurrent conversations to measure at, comma separated (default 5,10,20)")
    parser.add_argument("--turns", type=int, default=400, help="timed turns per bot and concurrency (default 400)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed turns before each measurement (default 100)")
    parser.add_argument("--slices", type=int, default=4,
                        help="interleave the bots in this many slices of the timed turns (default 4)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the bot under test to its own core")
    args = parser.parse_args()
    if args.turns < 1 or args.warmup < 0 or not 1 <= args.slices <= args.turns:
        parser.error("--turns must be positive, --warmup not negative, --slices between 1 and --turns")

    cores = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cores) >= 2
    server_core = cores[_SERVER_CORE] if pin else None
    if pin:
        os.sched_setaffinity(0, set(cores) - {server_core})  # this process (load) and the fake connector
    print(
        f"turns bench: {len(cores)} cores, bots pinned to core {server_core}" if pin else
        f"turns bench: {len(cores)} cores, no pinning",
        file=sys.stderr,
    )

    context = multiprocessing.get_context("spawn")
    started: list[Server] = []
    try:
        connector = _start(context, "connector", None)
        started.append(connector)
        servers = {}
        for name in BOTS:
            servers[name] = _start(context, name, server_core)
            started.append(servers[name])
        load_before = os.getloadavg()[0]
        results = asyncio.run(
            _measure_all(servers, connector, args.conversations, args.turns, args.warmup, args.slices)
        )
        load_after = os.getloadavg()[0]
    finally:
        for server in reversed(started):
            _stop(server)

    print(f"\nhelp turn vs stock echo bot: {args.turns} timed turns per row in {args.slices} interleaved slices, "
          f"warm-up {args.warmup}; python {sys.version.split()[0]}, {len(cores)} cores, "
          f"load average {load_before:.1f} before and {load_after:.1f} after (the bench itself adds about 2)\n")
    print(_table(results))
    cpu = {name: statistics.fmean(r.cpu_ms_per_turn for r in results if r.bot == name) for name in BOTS}
    print(f"\nCPU per turn, mean over concurrencies: echo {cpu['echo']:.2f} ms, help/stock {cpu['help/stock']:.2f} ms "
          f"({cpu['echo'] / cpu['help/stock']:.2f}x echo's throughput bound), help/async {cpu['help/async']:.2f} ms "
          f"({cpu['echo'] / cpu['help/async']:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
