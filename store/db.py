"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_SQLITE_BUSY_TIMEOUT_MS = 10_000  # writers wait this long for the lock instead of failing at once


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """The async engine and a session factory; one per application."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if is_sqlite(url):
            _prepare_sqlite_file(url)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if is_sqlite(url):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic), creating the database file if needed."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade)

    async def current_revisions(self) -> frozenset[str]:
        async with self.engine.connect() as connection:
            return await connection.run_sync(
                lambda sync_conn: frozenset(MigrationContext.configure(sync_conn).get_current_heads())
            )

    def head_revisions(self) -> frozenset[str]:
        """Each feature's tables are a branch off the first migration; all heads are applied."""
        return frozenset(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())

    async def is_ready(self) -> tuple[bool, str]:
        """Readiness: the database answers and its schema is at the newest migration."""
        try:
            async with asyncio.timeout(3):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                current = await self.current_revisions()
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
            log.warning("database not ready: %s", type(exc).__name__)
            return False, "database unreachable"
        heads = self.head_revisions()
        if current != heads:
            return False, f"schema at {sorted(current)}, expected {sorted(heads)}"
        return True, "ok"

    async def dispose(self) -> None:
        await self.engine.dispose()


def _upgrade(sync_connection: Any) -> None:
    config = alembic_config(str(sync_connection.engine.url))
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "heads")


def upsert(database_url: str, table: Any, values: dict[str, Any], keys: list[str]) -> Any:
    """An INSERT that updates the row with the same key instead (SQLite and PostgreSQL)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = sqlite_insert if is_sqlite(database_url) else pg_insert
    statement = insert(table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={k: v for k, v in values.items() if k not in keys}
    )
