"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_SQLITE_BUSY_TIMEOUT_MS = 10_000  # writers wait this long for the lock instead of failing at once
_POOL_RECYCLE_S = 1800  # PostgreSQL: connections older than this are replaced (no ping per checkout)
_BEGIN_OPTION = "policybot_sqlite_begin"  # execution option: how a SQLite transaction starts

class NestedUnitOfWorkError(RuntimeError):
    """A unit of work was opened inside another on the same database: a programming error.

    Each use case runs in ONE unit of work. A second session inside the first would wait for the
    first's write lock on SQLite (until the busy timeout) and take a second pooled connection on
    PostgreSQL, which is how a crowd of clicks once exhausted the pool.
    """


T = TypeVar("T")

_ACTIVE: ContextVar[frozenset[int]] = ContextVar("policybot_active_units_of_work", default=frozenset())


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # We emit BEGIN ourselves (see _sqlite_begin): the driver's own BEGIN comes only at the first write,
    # so a transaction that read first could not take the write lock later ("database is locked" at once,
    # without waiting for the busy timeout, whenever another writer committed in between).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Writers take SQLite's write lock when they begin (waiting up to the busy timeout); readers don't."""
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """A connection going back to the pool is rolled back only if it is still in a transaction.

    SQLAlchemy's default reset rolls back every returned connection, even one whose transaction just committed:
    on SQLite a no-op, but a round trip to the driver's thread, twice per help turn. SQLite itself says whether a
    transaction is open (``in_transaction``: autocommit mode, we send BEGIN ourselves), so one left open by an
    error or a cancelled task is still rolled back, as before.
    """
    if not state.asyncio_safe:
        return  # as SQLAlchemy's own reset: a connection collected outside the event loop is not touched
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """The async engine and its units of work; one per application.

    Nothing else opens a session. ``unit_of_work()`` is one session in one transaction, committed when
    the block ends and rolled back (connection returned, SQLite lock released) when it raises; opening
    one inside another raises ``NestedUnitOfWorkError``.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}  # no SQL parameters in errors or logs
        if self.is_sqlite:
            _prepare_sqlite_file(url)
            kwargs.update(pool_reset_on_return=None)  # _sqlite_reset instead
        else:
            # No pre-ping: it cost a round trip per checkout. A dropped connection fails at its first statement,
            # which invalidates the pool's older connections; the edge runs its unit of work again (``run``).
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=False, pool_recycle=_POOL_RECYCLE_S)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
            event.listen(self.engine.sync_engine, "reset", _sqlite_reset)
            reader = self.engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        else:
            reader = self.engine
        self._writer_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None
        self._reader_sessions = async_sessionmaker(reader, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """One session in one transaction: committed on success, rolled back on any error.

        Args:
            read_only: a reader (SQLite: a deferred transaction that takes SQLite's write lock only if it
                writes, which a reader must not; PostgreSQL: the same as a writer).

        Raises:
            NestedUnitOfWorkError: a unit of work of this database is already open in this task.
        """
        active = _ACTIVE.get()
        if id(self) in active:
            raise NestedUnitOfWorkError("a unit of work is already open: pass its session instead")
        token = _ACTIVE.set(active | {id(self)})
        try:
            async with self._writer_turn(read_only):
                async with self._session(read_only) as session:
                    yield session
        finally:
            _ACTIVE.reset(token)

    @asynccontextmanager
    async def _writer_turn(self, read_only: bool) -> AsyncIterator[None]:
        """SQLite takes one writer at a time: writers of this process queue here, on the event loop, rather than
        in SQLite's busy wait on a worker thread (where a failed statement's cursor, cleaned up later on the
        loop, could wait for that thread and stall every request until the busy timeout)."""
        if read_only or self._sqlite_writer is None:
            yield
            return
        async with self._sqlite_writer:
            yield

    @asynccontextmanager
    async def _session(self, read_only: bool) -> AsyncIterator[AsyncSession]:
        """One session, its transaction committed if the block ends well, rolled back if it raises."""
        session = await self._begin(self._reader_sessions if read_only else self._writer_sessions)
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            transaction = session.get_transaction()
            if transaction is not None and transaction.is_active:
                await session.commit()  # a reader's commit ends its snapshot; it wrote nothing
            else:
                await session.rollback()  # a failed flush the work caught: nothing of it is kept
        finally:
            await session.close()

    @staticmethod
    async def _begin(factory: async_sessionmaker[AsyncSession]) -> AsyncSession:
        """A session with its transaction begun on a checked-out connection."""
        session = factory()
        try:
            await session.begin()
            await session.connection()
        except BaseException:
            await session.close()
            raise
        return session

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]], *, read_only: bool = False) -> T:
        """``work`` in one unit of work, run once more if the connection turned out dead (PostgreSQL restarted).

        No ping per checkout: a dead connection shows itself at its first statement, which invalidates the
        pool's older connections too, and ``work`` runs again on a new one. What failed was rolled back (the
        server had already dropped it), so only work that is safe to repeat belongs here: the edge's claim
        of an activity and its record of the answer.
        """
        try:
            async with self.unit_of_work(read_only=read_only) as session:
                return await work(session)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("database connection dropped: running the unit of work again on a new one")
        async with self.unit_of_work(read_only=read_only) as session:
            return await work(session)

    def transaction(self) -> Any:
        """A writing unit of work (see ``unit_of_work``)."""
        return self.unit_of_work()

    def sessions(self) -> Any:
        """A reading unit of work (see ``unit_of_work``)."""
        return self.unit_of_work(read_only=True)

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
