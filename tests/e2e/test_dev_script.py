"""`scripts/dev` stops everything it started when it is killed (issue 19, item 10).

It starts the bot and three Agents Playgrounds (each in a process group of its own); a plain ``kill`` (SIGTERM) of
the script stops all of them, the bot without an ERROR in its log, so the next scripts/dev finds its ports free. The
ports it prints are the ones in use: a Playground port that is taken is skipped, and said so.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.playground import REPO_ROOT, TENANT_ID, free_port, missing_prerequisites

pytestmark = pytest.mark.playground

_START_S = 90.0  # a loaded machine: migrations, the policy index, three node servers
_STOP_S = 30.0


def _children() -> dict[int, int]:
    """pid → parent pid of every process (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(root: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate, timeout: float, what: str, output: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s\n--- scripts/dev ---\n{output.read_text()[-4000:]}")
        time.sleep(0.2)  # other processes' sockets and exits: polled


def test_killing_scripts_dev_stops_the_bot_and_every_playground(tmp_path: Path) -> None:
    if missing_prerequisites():
        pytest.skip(", ".join(missing_prerequisites()))
    bot_port = free_port()
    with socket.socket() as taken:  # a Playground port already in use: skipped, and the ports printed are the real ones
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        first = taken.getsockname()[1]
        env = {key: value for key, value in os.environ.items() if not key.startswith("POLICYBOT_")}
        env.update(POLICYBOT_DEV_SKIP_SETUP="1", POLICYBOT_PORT=str(bot_port), PLAYGROUND_PORT=str(first),
                   POLICYBOT_ALLOWED_TENANT_IDS=TENANT_ID, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}",
                   PYTHONUNBUFFERED="1")
        output = tmp_path / "dev.out"
        with open(output, "wb") as out:
            script = subprocess.Popen([str(REPO_ROOT / "scripts" / "dev")], cwd=REPO_ROOT, env=env, stdout=out,  # noqa: S603
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        started: set[int] = set()
        playground_ports = [first + 1, first + 2, first + 3]
        try:
            _wait(lambda: "Press Ctrl+C to stop" in output.read_text(), _START_S, "scripts/dev did not start", output)
            printed = output.read_text()
            assert f"port {first} is in use" in printed
            for port in playground_ports:
                assert f"http://localhost:{port} " in printed
            _wait(lambda: all(_listening(p) for p in [bot_port, *playground_ports]), _START_S,
                  "the bot and the three Playgrounds were not listening", output)
            started = _descendants(script.pid)
            assert len(started) >= 4  # the bot and three Playgrounds (and the shells around them)

            script.send_signal(signal.SIGTERM)  # `kill <pid>`, not Ctrl+C
            script.wait(_STOP_S)
            _wait(lambda: not any(_alive(pid) for pid in started), _STOP_S, "processes were left running", output)
        finally:
            if script.poll() is None:
                os.killpg(script.pid, signal.SIGKILL)
            for pid in started:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
    text = output.read_text()
    assert "scripts/dev: stopped the bot and the Playgrounds." in text
    assert '"level": "ERROR"' not in text, text[-4000:]
    assert not any(_listening(port) for port in [bot_port, *playground_ports])  # a second scripts/dev starts cleanly
