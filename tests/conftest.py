"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), the fake connector, the app."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.settings import Settings
from store.db import Database
from tests.fakes.activities import TENANT
from tests.fakes.connector import ConnectorServer, FakeConnector

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("POLICYBOT_REQUIRE_POSTGRES") == "1"

# Property tests explore new examples on every local run; CI (.ci/run) replays the same examples each time, so a run
# there fails only for a change, never for a rare example met by chance (a case found locally is pinned with @example).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if REQUIRE_POSTGRES:
    hypothesis_settings.load_profile("ci")


async def _postgres_reachable() -> str | None:
    engine = create_async_engine(POSTGRES_URL)
    try:
        async with asyncio.timeout(5):
            async with engine.connect():
                return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL admin URL, or a clear skip (a failure in CI, where it is required)."""
    # Asked from a worker thread: this fixture may be requested while an event loop is running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        problem = pool.submit(asyncio.run, _postgres_reachable()).result()
    if problem is not None:
        message = f"PostgreSQL not reachable at {POSTGRES_URL} ({problem}); set TEST_POSTGRES_URL"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


async def _admin(sql: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    request.getfixturevalue("postgres_server")
    name = f"policybot_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


T = TypeVar("T")


def _in_a_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on its own event loop (session fixtures may be set up while a test's loop runs)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema once per run; each test gets a copy (``migrated_database_url``)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    _in_a_thread(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL database migrated once per run, the template each test's database is created from."""
    name = f"policybot_template_{uuid.uuid4().hex[:12]}"
    _in_a_thread(_admin(f'CREATE DATABASE "{name}"'))
    try:
        _in_a_thread(_migrate(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)))
        yield name
    finally:
        _in_a_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
async def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database already at the newest schema, copied from a template (much faster than migrating each)."""
    if request.param == "sqlite":
        target = tmp_path / "bot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"policybot_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database(migrated_database_url: str) -> AsyncIterator[Database]:
    """A migrated database (SQLite, then PostgreSQL), disposed after the test."""
    db = Database(migrated_database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def connector() -> Iterator[FakeConnector]:
    server = ConnectorServer()
    fake = server.start()
    yield fake
    server.stop()


@pytest.fixture
def dev_settings(sqlite_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        dev_mode=True,
        database_url=sqlite_url,
        allowed_tenant_ids=[TENANT],
    )
