"""A turn's own database work, in two transactions: one before the turn runs, one after.

1. **Begin** (one unit of work): claim the activity in the duplicate ledger (Teams retries slow requests
   with the same id), remember the conversation's reference when it is new or changed (for proactive
   messages later), and read the turn's conversation state.
2. The turn runs. botbuilder's state reads are answered from what was read, its writes are kept
   (``bot/storage.py`` ``TurnState``); each use case the turn calls runs in its own unit of work.
3. **Finish** (one unit of work): write the conversation state the turn changed and record the answer in
   the ledger, together. A turn that failed writes no state and releases its claim, so Teams' retry runs.

So a ``help`` turn costs two transactions, whatever it reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botbuilder.schema import Activity
from sqlalchemy.ext.asyncio import AsyncSession

from bot.references import conversation_from_activity
from bot.storage import SqlStorage, StateConflictError, TurnState
from store.base import utcnow
from store.conversations import Claim, claim_activity, finish_activity, release_activity, save_conversation
from store.db import Database

log = logging.getLogger(__name__)

_KNOWN_CONVERSATIONS_KEPT = 10_000  # the cache of conversation fingerprints is cleared beyond this
_REMEMBERED_TYPES = frozenset({"message", "installationUpdate", "conversationUpdate", "invoke"})


@dataclass(frozen=True)
class Begun:
    """What ``TurnRecords.begin`` found: the claim and, for a first delivery, the turn's state."""

    claim: Claim
    state: TurnState


def state_keys(activity: Activity) -> list[str]:
    """The conversation state's storage key, as botbuilder's ``ConversationState`` builds it."""
    if not activity.channel_id or not activity.conversation or not activity.conversation.id:
        return []
    return [f"{activity.channel_id}/conversations/{activity.conversation.id}"]


def _raw_fingerprint(activity: Activity) -> tuple[str, ...] | None:
    """What an activity says of its conversation, read without building a reference (cheap, every turn)."""
    conversation, sender = activity.conversation, activity.from_property
    if conversation is None or not conversation.id or not activity.service_url:
        return None
    return (conversation.id, activity.service_url, conversation.conversation_type or "",
            (sender.aad_object_id or "") if sender else "", (sender.name or "") if sender else "",
            (sender.id or "") if sender else "")


class TurnRecords:
    """The ledger claim, the conversation reference and the conversation state of each turn."""

    def __init__(self, database: Database, storage: SqlStorage, *, takeover_after: timedelta) -> None:
        self._db = database
        self._storage = storage
        self._takeover_after = takeover_after
        self._known: dict[str, tuple[str, str | None, str | None]] = {}
        self._seen: dict[str, tuple[str, ...]] = {}  # conversation id -> what the activity said of it last time

    async def begin(self, activity: Activity, key: str | None) -> Begun:
        """Claim (``key``: None for an activity without an id), remember the conversation, read the state.

        Raises:
            SQLAlchemyError: the database is unavailable (nothing was done: the caller answers 503).
        """
        raw = _raw_fingerprint(activity)
        seen = raw is not None and self._seen.get(raw[0]) == raw  # the same as last time: nothing to rebuild
        conversation = None
        if activity.type in _REMEMBERED_TYPES and not seen:
            conversation = conversation_from_activity(activity)
        fingerprint = None
        if conversation is not None:
            # The name is part of it: the Playground's install activity carries none, a later message does.
            fingerprint = (conversation.service_url, conversation.aad_object_id, conversation.user_name)
            if self._known.get(conversation.conversation_id) == fingerprint:
                conversation = None
        remembered = conversation

        async def work(session: AsyncSession) -> Begun:
            claim = Claim(first=True)
            if key is not None:
                claim = await claim_activity(session, key, now=utcnow(), takeover_after=self._takeover_after)
            if not claim.first:
                return Begun(claim, TurnState())
            if remembered is not None:
                await save_conversation(session, remembered)
            return Begun(claim, await self._storage.prefetch(session, state_keys(activity)))

        begun = await self._db.run(work)  # run again once if PostgreSQL had dropped the connection
        if not begun.claim.first:
            return begun
        if conversation is not None and fingerprint is not None:
            if len(self._known) >= _KNOWN_CONVERSATIONS_KEPT:
                self._known.clear()  # bounded: unknown ids sent by a misbehaving client cost no memory
            self._known[conversation.conversation_id] = fingerprint
        if raw is not None and activity.type in _REMEMBERED_TYPES:
            if len(self._seen) >= _KNOWN_CONVERSATIONS_KEPT:
                self._seen.clear()
            self._seen[raw[0]] = raw
        return begun

    async def finish(self, key: str | None, state: TurnState, status: int | None, body: Any) -> None:
        """Write the turn's state and its answer in the ledger, in one transaction.

        A state changed meanwhile by another turn of the same conversation (e-tag) is not overwritten: the
        answer is still recorded.
        """
        if key is None and not state.changed:
            return
        async def both(session: AsyncSession) -> None:
            await self._storage.flush(session, state)
            if key is not None:
                await finish_activity(session, key, status, body)

        async def answer_only(session: AsyncSession) -> None:
            if key is not None:
                await finish_activity(session, key, status, body)

        try:
            await self._db.run(both)
        except StateConflictError:
            log.warning("conversation state changed by another turn meanwhile: this turn's state not saved")
            await self._db.run(answer_only)

    async def release(self, key: str | None) -> None:
        """The turn failed: forget the claim so Teams' retry is processed."""
        if key is None:
            return
        await self._db.run(lambda session: release_activity(session, key))
