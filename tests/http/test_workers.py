"""The periodic worker runner: rounds, waking early, backing off after failures, stopping cleanly."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from sqlalchemy.exc import OperationalError

from bot.workers import PeriodicWorker, Workers


class Counting(PeriodicWorker):
    def __init__(self, *, every: float = 3600.0, fail_first: int = 0, again: list[float | None] | None = None,
                 round_seconds: float = 0.0) -> None:
        super().__init__("counting", every_seconds=every, backoff_cap_seconds=0.05)
        self.rounds = 0
        self.finished = 0
        self._fail_first = fail_first
        self._again = again or []
        self._round_seconds = round_seconds

    async def round(self) -> float | None:
        self.rounds += 1
        if self.rounds <= self._fail_first:
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        await asyncio.sleep(self._round_seconds)
        self.finished += 1
        return self._again.pop(0) if self._again else None


async def until(condition, seconds: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_a_round_runs_at_start_then_waits_for_its_interval_or_a_wake() -> None:
    worker = Counting()
    worker.start()
    try:
        await until(lambda: worker.rounds == 1)
        await asyncio.sleep(0.05)
        assert worker.rounds == 1  # the hour has not passed
        worker.wake()
        await until(lambda: worker.rounds == 2)
    finally:
        await worker.stop()


async def test_a_round_that_asks_to_run_again_at_once_is_not_kept_waiting() -> None:
    worker = Counting(again=[0, 0, None])
    worker.start()
    try:
        await until(lambda: worker.rounds == 3)
        await asyncio.sleep(0.05)
        assert worker.rounds == 3
    finally:
        await worker.stop()


async def test_failed_rounds_are_retried_after_a_capped_backoff_and_never_stop_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Counting(fail_first=3)
    worker.start()
    try:
        await until(lambda: worker.finished == 1)  # three failures, each retried within the 0.05 s cap
    finally:
        await worker.stop()
    assert sum("round failed (OperationalError)" in r.getMessage() for r in caplog.records) == 3


async def test_stop_lets_the_round_in_flight_finish() -> None:
    worker = Counting(round_seconds=0.2)
    worker.start()
    await until(lambda: worker.rounds == 1)
    await worker.stop(grace_seconds=5)
    assert worker.finished == 1


async def test_stop_cancels_a_round_that_outlasts_the_grace_period() -> None:
    worker = Counting(round_seconds=30)
    worker.start()
    await until(lambda: worker.rounds == 1)
    await worker.stop(grace_seconds=0.05)
    assert worker.finished == 0


async def test_the_apps_workers_start_with_it_and_stop_with_it() -> None:
    first, second = Counting(round_seconds=0.05), Counting()
    app = web.Application()
    app.cleanup_ctx.append(Workers(first, second).cleanup_ctx)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await until(lambda: first.rounds == 1 and second.rounds == 1)
    finally:
        await runner.cleanup()
    assert first.finished == 1 and second.finished == 1


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Counting(every=0)
