"""The two checks every store's migration gets: it creates what the models describe, and it downgrades."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, inspect

from store.base import Base
from store.db import Database, alembic_config


def _table_of(difference: Any) -> str:
    first = difference[0] if isinstance(difference, list) else difference
    thing = first[1]
    return str(thing.name if isinstance(thing, Table) else thing.table.name)


async def schema_differences(database: Database, tables: Collection[str]) -> list[Any]:
    """What differs between the migrated database and the models, for these tables only."""
    def differences(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, Base.metadata) if _table_of(d) in tables]

    async with database.engine.connect() as connection:
        return await connection.run_sync(differences)


async def tables_after_downgrade(database: Database, target: str) -> set[str]:
    """Downgrade to ``target`` (e.g. ``0007_incidents@0007_incidents``) and list the tables left."""
    def downgrade(sync_connection: Any) -> list[str]:
        config = alembic_config(str(sync_connection.engine.url))
        config.attributes["connection"] = sync_connection
        command.downgrade(config, target)
        return inspect(sync_connection).get_table_names()

    async with database.engine.begin() as connection:
        return set(await connection.run_sync(downgrade))
