"""`python -m bot` and `scripts/dev` stop cleanly and say when a port is taken (issue 19, item 10).

The bot runs as production runs it (``python -m bot``, dev mode, its own SQLite file), answers a message through a
fake Teams connector (so its HTTP client session is in use), and is stopped with SIGTERM or SIGINT, twice in a row
as a shell's exit trap can send it: it exits with status 0, logs "stopped", and its log has no ERROR line (before,
a second signal cut the cleanup off and the database connections closed under a cancelled task, logged as ERROR).
The Playground run of scripts/dev itself is in tests/e2e/test_dev_script.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.playground import REPO_ROOT, TENANT_ID, BotServer
from tests.fakes.activities import personal_activity
from tests.fakes.connector import FakeConnector

ROLES = REPO_ROOT / "playground" / "roles.json"
_EXIT_WAIT_S = 30.0  # the bot lets work in flight finish (workers: up to 15 s) before it exits


def _wait_exit(bot: BotServer) -> int:
    deadline = time.monotonic() + _EXIT_WAIT_S
    while (code := bot.process.exit_code()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"the bot did not stop within {_EXIT_WAIT_S:.0f} s\n{bot.tail()}")
        time.sleep(0.1)  # a process's exit: polled, there is nothing else to wait on across processes
    return code


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotServer]:
    server = BotServer(tmp_path, {"POLICYBOT_ROLES_FILE": str(ROLES), "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("first, second", [(signal.SIGTERM, signal.SIGTERM), (signal.SIGINT, signal.SIGTERM)],
                         ids=["kill", "ctrl-c then kill"])
def test_the_bot_stops_once_and_cleanly_whatever_the_signals(
    bot: BotServer, connector: FakeConnector, first: signal.Signals, second: signal.Signals
) -> None:
    bot.wait_ready()
    activity = personal_activity(connector.url, text="whoami")
    request = urllib.request.Request(  # noqa: S310 - loopback
        bot.messages_endpoint, data=json.dumps(activity).encode(), headers={"Content-Type": "application/json"},
        method="POST")
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - loopback
        assert response.status in (200, 201)
    assert connector.cards(), "the bot answered through the connector (its HTTP session is open)"
    pid = bot.process.pid
    assert pid is not None
    os.kill(pid, first)
    bot.wait_for_log(lambda record: str(record.get("msg", "")).startswith("stopping"), description="stopping")
    os.kill(pid, second)  # what a shell's INT/TERM trap followed by its EXIT trap sends
    assert _wait_exit(bot) == 0
    messages = [record.get("msg") for record in bot.log_records()]
    assert "stopped" in messages
    assert not bot.errors(), bot.tail()


def test_a_port_in_use_is_named_with_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = BotServer(tmp_path, {"POLICYBOT_PORT": str(port)})
        server.start()
        try:
            assert _wait_exit(server) == 1
        finally:
            server.stop()
    log = server.process.log_text()
    assert f"Not starting: port {port} on 127.0.0.1 is already in use" in log
    assert "POLICYBOT_PORT" in log


def test_scripts_dev_says_which_port_is_taken_and_starts_nothing(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLICYBOT_")}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env.update(POLICYBOT_DEV_SKIP_SETUP="1", POLICYBOT_PORT=str(port), POLICYBOT_ALLOWED_TENANT_IDS=TENANT_ID,
                   DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}")
        done = subprocess.run([str(REPO_ROOT / "scripts" / "dev")], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert f"port {port} (the bot) is already in use" in done.stderr
    assert "POLICYBOT_PORT=" in done.stderr and "ss -ltnp" in done.stderr
    assert not (tmp_path / "dev.db").exists()  # stopped before anything was started or imported
