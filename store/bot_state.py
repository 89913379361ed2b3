"""The ``bot_state`` table's statements: botbuilder's conversation and user state, one JSON document per key.

``bot/storage.py`` adapts these to botbuilder's ``Storage`` (prefetch, turn buffering, the codec); the SQL and the
units of work are here, with the other tables' repositories: a turn's state is read and written in the edge's own
transactions (``read``, ``write_all``, ``delete_keys`` with its session), and botbuilder's reads and writes outside a
turn each get a unit of work of their own (``read_stored``, ``write_stored``, ``delete_stored``). E-tags give
optimistic concurrency: a write that names an e-tag succeeds only if the row still has it. The read statements run
every turn, so they are built once (SQLAlchemy keeps a statement's cache key) and return plain rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import utcnow
from store.db import Database, upsert
from store.tables import BotStateRow

ANY_ETAG = "*"
_STATE = cast(Table, BotStateRow.__table__)
_READ_ONE = select(_STATE.c.key, _STATE.c.etag, _STATE.c.document).where(_STATE.c.key == bindparam("state_key"))
_READ_MANY = select(_STATE.c.key, _STATE.c.etag, _STATE.c.document).where(
    _STATE.c.key.in_(bindparam("state_keys", expanding=True))
)


class StateConflictError(Exception):
    """Someone else saved this state since it was read (e-tag mismatch)."""


async def read(session: AsyncSession, keys: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(key, etag, document)`` for each stored key of ``keys``; absent keys are left out."""
    if len(keys) == 1:
        rows = await session.execute(_READ_ONE, {"state_key": keys[0]})
    else:
        rows = await session.execute(_READ_MANY, {"state_keys": list(keys)})
    return [(key, etag, document) for key, etag, document in rows]


async def delete_keys(session: AsyncSession, keys: Iterable[str]) -> None:
    await session.execute(delete(BotStateRow).where(BotStateRow.key.in_(sorted(keys))))


async def write(session: AsyncSession, url: str, key: str, document: str, expected_etag: str | None) -> str:
    """Store ``document`` under ``key`` and return its new e-tag.

    ``expected_etag`` None or ``"*"`` writes whatever is there; otherwise the row must still carry that e-tag
    (or not exist at all, when it is created).

    Raises:
        StateConflictError: the e-tag is empty, or the row was changed by another turn since it was read.
    """
    if expected_etag == "":
        raise StateConflictError(f"state {key!r} has an empty e-tag")
    new_etag = uuid.uuid4().hex
    if expected_etag is None or expected_etag == ANY_ETAG:
        values = {"key": key, "etag": new_etag, "document": document, "updated_at": utcnow()}
        await session.execute(upsert(url, BotStateRow, values, ["key"]))
        return new_etag
    updated = await session.execute(
        update(BotStateRow)
        .where(BotStateRow.key == key, BotStateRow.etag == expected_etag)
        .values(etag=new_etag, document=document, updated_at=utcnow())
    )
    if updated.rowcount == 1:  # type: ignore[attr-defined]
        return new_etag
    exists = await session.scalar(select(BotStateRow.key).where(BotStateRow.key == key))
    if exists is not None:
        raise StateConflictError(f"state {key!r} was changed by another turn (e-tag {expected_etag} is stale)")
    session.add(BotStateRow(key=key, etag=new_etag, document=document, updated_at=utcnow()))
    await session.flush()
    return new_etag


async def write_all(session: AsyncSession, url: str, documents: Iterable[tuple[str, str, str | None]]) -> None:
    """``write`` each ``(key, document, expected_etag)`` in the caller's unit of work (all or, with it, none).

    Raises:
        StateConflictError: as ``write``; the caller's transaction rolls back every document of the batch.
    """
    for key, document, expected_etag in documents:
        await write(session, url, key, document, expected_etag)


# --- outside a turn: a unit of work of their own ---------------------------------------------------------------


async def read_stored(database: Database, keys: Sequence[str]) -> list[tuple[str, str, str]]:
    """``read`` in a reading unit of work of its own."""
    async with database.sessions() as session:
        return await read(session, keys)


async def write_stored(database: Database, documents: Iterable[tuple[str, str, str | None]]) -> None:
    """``write_all`` in one transaction of its own: every document is stored, or (a conflict) none.

    Raises:
        StateConflictError: an e-tag was empty or stale; nothing was written.
    """
    async with database.transaction() as session:
        await write_all(session, database.url, documents)


async def delete_stored(database: Database, keys: Iterable[str]) -> None:
    """``delete_keys`` in one transaction of its own."""
    async with database.transaction() as session:
        await delete_keys(session, keys)
