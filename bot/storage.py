"""A botbuilder ``Storage`` on the project's database, with e-tag optimistic concurrency.

Conversation and user state live in the ``bot_state`` table beside the school's records, so dialog
state survives a restart and is shared by several bot instances on PostgreSQL. This module only adapts botbuilder's
``Storage`` (a turn's buffering, documents through the codec, e-tags on the items); the statements and every unit of
work are in ``store/bot_state.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from botbuilder.core import Storage
from sqlalchemy.ext.asyncio import AsyncSession

from bot import state_codec
from store import bot_state
from store.bot_state import StateConflictError
from store.db import Database

__all__ = ["SqlStorage", "StateConflictError", "TurnState"]


def _etag_of(item: Any) -> str | None:
    if isinstance(item, dict):
        return item.get("e_tag")
    return getattr(item, "e_tag", None)


def _without_etag(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k != "e_tag"}
    return item


@dataclass
class TurnState:
    """One turn's conversation state: read with the turn's first transaction, written with its last.

    While a turn runs (``SqlStorage.during``), botbuilder's reads are answered from what was prefetched and
    its writes are kept here; the edge writes them in the transaction that also records the turn as done.
    A turn that fails writes nothing.
    """

    loaded: dict[str, Any] = field(default_factory=dict)  # key -> stored document (absent: no row)
    prefetched: frozenset[str] = frozenset()
    writes: dict[str, Any] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return bool(self.writes or self.deletes)


_TURN: ContextVar[TurnState | None] = ContextVar("policybot_turn_state", default=None)


class SqlStorage(Storage):  # type: ignore[misc]  # botbuilder is untyped
    """botbuilder ``Storage`` backed by SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # --- the turn's state, in the edge's transactions --------------------------------------------------

    async def prefetch(self, session: AsyncSession, keys: list[str]) -> TurnState:
        """Read the turn's state rows in the edge's first transaction."""
        return TurnState(loaded=_items(await bot_state.read(session, keys)), prefetched=frozenset(keys))

    @contextmanager
    def during(self, turn: TurnState) -> Iterator[TurnState]:
        """Answer reads of the prefetched keys from ``turn`` and keep writes in it, for the block."""
        token = _TURN.set(turn)
        try:
            yield turn
        finally:
            _TURN.reset(token)

    async def flush(self, session: AsyncSession, turn: TurnState) -> None:
        """Write what the turn changed, in the edge's last transaction."""
        if turn.deletes:
            await bot_state.delete_keys(session, turn.deletes)
        if turn.writes:
            await bot_state.write_all(session, self._db.url, _documents(turn.writes))

    # --- botbuilder's Storage ---------------------------------------------------------------------------

    async def read(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            raise ValueError("Keys are required when reading")
        turn = _TURN.get()
        if turn is not None and set(keys) <= turn.prefetched:
            found = {**turn.loaded, **turn.writes}
            return {key: found[key] for key in keys if key in found and key not in turn.deletes}
        return _items(await bot_state.read_stored(self._db, keys))

    async def write(self, changes: dict[str, Any]) -> None:
        if changes is None:
            raise ValueError("Changes are required when writing")
        turn = _TURN.get()
        if turn is not None and set(changes) <= turn.prefetched:
            turn.writes.update(changes)
            turn.deletes.difference_update(changes)
            return
        await bot_state.write_stored(self._db, _documents(changes))

    async def delete(self, keys: list[str]) -> None:
        turn = _TURN.get()
        if turn is not None and set(keys) <= turn.prefetched:
            turn.deletes.update(keys)
            for key in keys:
                turn.writes.pop(key, None)
            return
        await bot_state.delete_stored(self._db, keys)


# --- documents <-> rows (the SQL and the units of work are in store/bot_state.py) ---------------------------------


def _items(rows: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """Stored ``(key, etag, document)`` rows as botbuilder's items, each carrying its e-tag."""
    result: dict[str, Any] = {}
    for key, etag, document in rows:
        item = state_codec.decode(document)
        if isinstance(item, dict):
            item["e_tag"] = etag
        elif hasattr(item, "e_tag"):
            item.e_tag = etag
        result[key] = item
    return result


def _documents(changes: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """botbuilder's items as ``(key, document, expected e-tag)``, every one encoded before any is written."""
    return [(key, state_codec.encode(_without_etag(item)), _etag_of(item)) for key, item in changes.items()]
