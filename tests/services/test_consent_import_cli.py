"""The command-line consent import keeps the register size limit (issue 14): the bot's own setting
(``POLICYBOT_CONSENT_CSV_MAX_BYTES``), the file read in pieces and refused as soon as it passes it.

A 50 MB file once took 128 s and 2.2 GB before anything was said; here a small limit stands in for the 20 MB one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.settings import Settings
from domain.consent_import import size_in_words
from services.consent_import_cli import main
from store.consent_store import ConsentStore
from store.db import Database

REPO = Path(__file__).resolve().parents[2]
SIMS = REPO / "tests" / "data" / "consent" / "sims_export.csv"
SIZE = SIMS.stat().st_size


def _settings(max_bytes: int) -> Settings:
    return Settings(_env_file=None, consent_csv_max_bytes=max_bytes)  # type: ignore[call-arg]


async def _versions(url: str) -> int:
    database = Database(url)
    try:
        return len(await ConsentStore(database).versions())
    finally:
        await database.dispose()


async def test_a_file_of_exactly_the_limit_is_imported(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(SIMS), "--database-url", sqlite_url, "--migrate"]
    assert await asyncio.to_thread(lambda: main(argv, settings=_settings(SIZE))) == 0
    assert "imported as register version 1: 10 pupils" in capsys.readouterr().out
    assert await _versions(sqlite_url) == 1


async def test_a_file_one_byte_over_the_limit_is_refused_in_a_sentence_and_nothing_changes(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    database = Database(sqlite_url)
    await database.migrate()
    await database.dispose()
    argv = [str(SIMS), "--database-url", sqlite_url]
    assert await asyncio.to_thread(lambda: main(argv, settings=_settings(SIZE - 1))) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line == (f"{SIMS}: not imported: it is larger than the {size_in_words(SIZE - 1)} a consent register may be "
                    "(POLICYBOT_CONSENT_CSV_MAX_BYTES), so it was not read further and nothing changed. Export only "
                    "the columns the register needs.")
    assert await _versions(sqlite_url) == 0


def test_an_endless_file_is_read_no_further_than_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A named pipe that never ends: read whole, the import would never finish."""
    fifo = tmp_path / "register.csv"
    os.mkfifo(fifo)
    written = 0
    row = SIMS.read_bytes().splitlines(keepends=True)[1]

    def feed() -> None:
        nonlocal written
        try:
            with fifo.open("wb") as pipe:
                while True:
                    written += pipe.write(row * 100)
        except BrokenPipeError:
            return  # the import stopped reading

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    limit = 100_000
    assert main([str(fifo), "--dry-run"], settings=_settings(limit)) == 1
    feeder.join(timeout=10)
    assert not feeder.is_alive()
    assert limit < written < limit + 2 * 1024 * 1024  # at most the piece that passed it, and what the pipe held
    assert "is larger than the 97.66 KB a consent register may be" in capsys.readouterr().err


@pytest.mark.parametrize(("limit", "status"), [(SIZE, 0), (SIZE - 1, 1)])
def test_the_limit_is_the_bots_setting_from_the_environment(limit: int, status: int) -> None:
    environment = {**os.environ, "POLICYBOT_CONSENT_CSV_MAX_BYTES": str(limit)}
    completed = subprocess.run(
        [sys.executable, "-m", "services.consent_import_cli", str(SIMS), "--dry-run"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == status, completed.stderr
    if status:
        assert "not imported: it is larger than the" in completed.stderr
    else:
        assert "10 pupils readable" in completed.stdout
