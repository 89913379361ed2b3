"""What a turn costs the database: two transactions for ``help``, no ping per checkout, a dropped
PostgreSQL connection replaced without the user noticing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text

from bot.app import SERVICES
from bot.settings import Settings
from store.db import Database
from tests.conftest import _admin
from tests.fakes.activities import TENANT, personal_activity
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot

_WORKERS = frozenset({"outbox-worker", "approval-reminders", "escalation-worker", "consent-sharepoint-sync"})


@contextmanager
def counting(database: Database) -> Iterator[dict[str, int]]:
    """Transactions begun and statements sent on the app's engine while the block runs."""
    counts = {"transactions": 0, "statements": 0}

    def in_a_request() -> bool:  # the background workers share the engine: leave their rounds out
        task = asyncio.current_task()
        return task is not None and task.get_name() not in _WORKERS

    def began(_connection: Any) -> None:
        counts["transactions"] += in_a_request()

    def statement(_connection: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is sent as a statement: counted above
            counts["statements"] += in_a_request()

    engine = database.engine.sync_engine
    event.listen(engine, "begin", began)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield counts
    finally:
        event.remove(engine, "begin", began)
        event.remove(engine, "before_cursor_execute", statement)


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, dev_mode=True, database_url=url, allowed_tenant_ids=[TENANT])  # type: ignore[call-arg]


async def test_a_help_turn_is_two_transactions_on_both_databases(
    migrated_database_url: str, connector: FakeConnector,
) -> None:
    async with running_bot(settings_for(migrated_database_url)) as client:
        database = client.app[SERVICES].database
        first = await client.post("/api/messages", json=personal_activity(connector.url, text="help"))
        assert first.status == 201  # the first turn of a conversation also remembers it (same transaction)
        for turn in range(3):
            with counting(database) as counts:
                response = await client.post("/api/messages", json=personal_activity(connector.url, text="help"))
                assert response.status == 201
            # the ledger's claim with the state read, then the ledger's answer (with any state written)
            assert counts["transactions"] == 2, (turn, counts)
            assert counts["statements"] == 3, (turn, counts)  # claim, state read, answer: no ping per checkout
    assert len(connector.cards()) == 4


async def test_an_activity_id_seen_again_is_answered_from_the_ledger_in_one_transaction(
    migrated_database_url: str, connector: FakeConnector,
) -> None:
    activity = personal_activity(connector.url, text="help")
    async with running_bot(settings_for(migrated_database_url)) as client:
        assert (await client.post("/api/messages", json=activity)).status == 201
        with counting(client.app[SERVICES].database) as counts:
            assert (await client.post("/api/messages", json=activity)).status == 200
        assert counts["transactions"] == 1
    assert len(connector.cards()) == 1  # acted on once


async def test_a_dropped_postgres_connection_is_replaced_without_an_error(
    postgres_server: str, migrated_database_url: str, connector: FakeConnector,
) -> None:
    if not migrated_database_url.startswith("postgresql"):
        return  # SQLite has no server to restart
    async with running_bot(settings_for(migrated_database_url)) as client:
        assert (await client.post("/api/messages", json=personal_activity(connector.url, text="help"))).status == 201
        database = client.app[SERVICES].database
        name = database.engine.url.database
        # What a PostgreSQL restart does to the pool's idle connections.
        await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                     "AND pid <> pg_backend_pid()")
        for _ in range(3):
            response = await client.post("/api/messages", json=personal_activity(connector.url, text="help"))
            assert response.status == 201
        async with database.sessions() as session:
            assert await session.scalar(text("SELECT 1")) == 1
    assert len(connector.cards()) == 4
