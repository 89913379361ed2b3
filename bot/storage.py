"""A botbuilder ``Storage`` on the project's database, with e-tag optimistic concurrency.

Conversation and user state live in the ``bot_state`` table beside the school's records, so dialog
state survives a restart and is shared by several bot instances on PostgreSQL.
"""

from __future__ import annotations

import uuid
from typing import Any

from botbuilder.core import Storage
from sqlalchemy import delete, select, update

from bot import state_codec
from store.base import utcnow
from store.db import Database, upsert
from store.tables import BotStateRow

_ANY_ETAG = "*"


class StateConflictError(Exception):
    """Someone else saved this state since it was read (e-tag mismatch)."""


def _etag_of(item: Any) -> str | None:
    if isinstance(item, dict):
        return item.get("e_tag")
    return getattr(item, "e_tag", None)


def _without_etag(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k != "e_tag"}
    return item


class SqlStorage(Storage):
    """botbuilder ``Storage`` backed by SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def read(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            raise ValueError("Keys are required when reading")
        async with self._db.sessions() as session:
            rows = (await session.execute(select(BotStateRow).where(BotStateRow.key.in_(keys)))).scalars()
            result: dict[str, Any] = {}
            for row in rows:
                item = state_codec.decode(row.document)
                if isinstance(item, dict):
                    item["e_tag"] = row.etag
                elif hasattr(item, "e_tag"):
                    item.e_tag = row.etag
                result[row.key] = item
            return result

    async def write(self, changes: dict[str, Any]) -> None:
        if changes is None:
            raise ValueError("Changes are required when writing")
        async with self._db.transaction() as session:
            for key, item in changes.items():
                expected = _etag_of(item)
                if expected == "":
                    raise StateConflictError(f"state {key!r} has an empty e-tag")
                document = state_codec.encode(_without_etag(item))
                new_etag = uuid.uuid4().hex
                if expected is None or expected == _ANY_ETAG:
                    values = {"key": key, "etag": new_etag, "document": document, "updated_at": utcnow()}
                    await session.execute(upsert(self._db.url, BotStateRow, values, ["key"]))
                    continue
                updated = await session.execute(
                    update(BotStateRow)
                    .where(BotStateRow.key == key, BotStateRow.etag == expected)
                    .values(etag=new_etag, document=document, updated_at=utcnow())
                )
                if updated.rowcount == 1:  # type: ignore[attr-defined]
                    continue
                exists = await session.scalar(select(BotStateRow.key).where(BotStateRow.key == key))
                if exists is not None:
                    raise StateConflictError(
                        f"state {key!r} was changed by another turn (e-tag {expected} is stale)"
                    )
                session.add(BotStateRow(key=key, etag=new_etag, document=document, updated_at=utcnow()))
                await session.flush()

    async def delete(self, keys: list[str]) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(BotStateRow).where(BotStateRow.key.in_(keys)))
