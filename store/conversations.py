"""Where the bot can reach people later, which activities it has already handled, and school settings.

- ``conversation_refs``: a serialised Bot Framework conversation reference per conversation (personal
  chats and team channels), saved on install and on every message, with tenant, team and channel ids
  beside it, so proactive messages, channel posts and card updates can be sent later.
- ``processed_activities``: Teams retries slow requests with the same activity id; the first claim
  wins and the others are answered from the stored result. Lives in the database so it holds across
  restarts and several instances.
- ``school_settings``: small values set from Teams at run time (the SLT incident channel).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Boolean, Integer, String, Table, Text, bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UtcDateTime, utcnow
from store.db import Database, upsert


class ConversationRefRow(Base):
    __tablename__ = "conversation_refs"

    conversation_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # personal | channel | groupChat
    aad_object_id: Mapped[str | None] = mapped_column(String(64), index=True)  # personal chats: the user
    user_name: Mapped[str | None] = mapped_column(String(256))
    teams_user_id: Mapped[str | None] = mapped_column(String(256))  # 29:... (refresh.userIds need these)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(256))
    channel_id: Mapped[str | None] = mapped_column(String(256))
    service_url: Mapped[str] = mapped_column(String(512))
    reference: Mapped[str] = mapped_column(Text)  # JSON of the ConversationReference
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProcessedActivityRow(Base):
    __tablename__ = "processed_activities"

    dedupe_key: Mapped[str] = mapped_column(String(600), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # processing | done
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)


# Every turn claims and answers: these are built once, so SQLAlchemy neither builds them nor looks them up in
# its compiled cache by a new cache key each turn (a statement object keeps its key). The claim is SQL text
# because the dialects' INSERT ... ON CONFLICT constructs are not cacheable at all (SQLAlchemy compiled the claim
# anew every turn); SQLite and PostgreSQL both take this form.
_CLAIM = text(
    "INSERT INTO processed_activities (dedupe_key, state, claimed_at) VALUES (:claim_key, 'processing', :claim_now) "
    "ON CONFLICT (dedupe_key) DO NOTHING"
).bindparams(bindparam("claim_key", type_=String()), bindparam("claim_now", type_=UtcDateTime))
_LEDGER = cast(Table, ProcessedActivityRow.__table__)
_FINISH = (
    update(_LEDGER)
    .where(_LEDGER.c.dedupe_key == bindparam("finish_key"))
    .values(state="done", response_status=bindparam("finish_status"), response_body=bindparam("finish_body"))
)


class SchoolSettingRow(Base):
    __tablename__ = "school_settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# --- conversation references --------------------------------------------------------------------


@dataclass(frozen=True)
class StoredConversation:
    conversation_id: str
    kind: str
    aad_object_id: str | None
    user_name: str | None
    teams_user_id: str | None
    tenant_id: str | None
    team_id: str | None
    channel_id: str | None
    service_url: str
    reference: dict[str, Any]
    stale: bool


def _stored(row: ConversationRefRow) -> StoredConversation:
    return StoredConversation(
        conversation_id=row.conversation_id, kind=row.kind, aad_object_id=row.aad_object_id,
        user_name=row.user_name, teams_user_id=row.teams_user_id, tenant_id=row.tenant_id, team_id=row.team_id,
        channel_id=row.channel_id, service_url=row.service_url, reference=json.loads(row.reference),
        stale=row.stale,
    )


def _conversation_values(conversation: StoredConversation) -> dict[str, Any]:
    return dict(
        conversation_id=conversation.conversation_id, kind=conversation.kind,
        aad_object_id=conversation.aad_object_id, user_name=conversation.user_name,
        teams_user_id=conversation.teams_user_id, tenant_id=conversation.tenant_id,
        team_id=conversation.team_id, channel_id=conversation.channel_id,
        service_url=conversation.service_url, reference=json.dumps(conversation.reference), stale=False,
        updated_at=utcnow(),
    )


async def save_conversation(session: AsyncSession, conversation: StoredConversation) -> None:
    """Insert or refresh a reference (a message from a conversation also clears its stale mark)."""
    url = str(session.get_bind().engine.url)
    await session.execute(upsert(url, ConversationRefRow, _conversation_values(conversation), ["conversation_id"]))


async def personal_chat_of(session: AsyncSession, aad_object_id: str) -> StoredConversation | None:
    """The newest personal chat of a person with the bot (None: they have never opened it)."""
    row = await session.scalar(
        select(ConversationRefRow)
        .where(ConversationRefRow.aad_object_id == aad_object_id, ConversationRefRow.kind == "personal")
        .order_by(ConversationRefRow.updated_at.desc())
        .limit(1)
    )
    return _stored(row) if row else None


async def personal_chats_of(session: AsyncSession, aad_object_ids: Sequence[str]) -> dict[str, StoredConversation]:
    """The newest personal chat of each person who has one, by AAD object id (one query)."""
    if not aad_object_ids:
        return {}
    rows = await session.scalars(
        select(ConversationRefRow)
        .where(ConversationRefRow.aad_object_id.in_(list(aad_object_ids)), ConversationRefRow.kind == "personal")
        .order_by(ConversationRefRow.updated_at.asc())
    )
    return {row.aad_object_id: _stored(row) for row in rows if row.aad_object_id}  # newest wins


@dataclass(frozen=True)
class ChatPerson:
    """Someone who has a personal chat with the bot, as Teams named them in it."""

    aad_object_id: str
    name: str | None
    teams_user_id: str | None  # 29:... (the Agents Playground's people picker gives these)


async def people_with_personal_chats(session: AsyncSession) -> list[ChatPerson]:
    """Everyone who has a personal chat with the bot, newest chat first (one query): the staff the bot can name
    besides the directory's role holders, and who a Teams user id is."""
    rows = await session.execute(
        select(ConversationRefRow.aad_object_id, ConversationRefRow.user_name, ConversationRefRow.teams_user_id)
        .where(ConversationRefRow.kind == "personal", ConversationRefRow.aad_object_id.is_not(None))
        .order_by(ConversationRefRow.updated_at.desc())
    )
    return [ChatPerson(aad_object_id=aad, name=name, teams_user_id=teams_id) for aad, name, teams_id in rows.all()
            if aad]


async def get_conversation(session: AsyncSession, conversation_id: str) -> StoredConversation | None:
    row = await session.get(ConversationRefRow, conversation_id)
    return _stored(row) if row else None


async def channel_of(session: AsyncSession, channel_id: str) -> StoredConversation | None:
    """The reference saved for a team channel (its root conversation, not a thread)."""
    row = await session.scalar(
        select(ConversationRefRow)
        .where(ConversationRefRow.channel_id == channel_id, ConversationRefRow.kind == "channel")
        .order_by(ConversationRefRow.updated_at.desc())
        .limit(1)
    )
    return _stored(row) if row else None


async def mark_stale(session: AsyncSession, conversation_id: str) -> None:
    await session.execute(
        update(ConversationRefRow).where(ConversationRefRow.conversation_id == conversation_id).values(stale=True)
    )


async def count_stale(session: AsyncSession) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(ConversationRefRow).where(ConversationRefRow.stale)) or 0)


class ConversationStore:
    """The conversation references, each call its own unit of work (for callers outside any use case)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(self, conversation: StoredConversation) -> None:
        async with self._db.transaction() as session:
            await save_conversation(session, conversation)

    async def personal_chat_of(self, aad_object_id: str) -> StoredConversation | None:
        async with self._db.sessions() as session:
            return await personal_chat_of(session, aad_object_id)

    async def get(self, conversation_id: str) -> StoredConversation | None:
        async with self._db.sessions() as session:
            return await get_conversation(session, conversation_id)

    async def channel(self, channel_id: str) -> StoredConversation | None:
        async with self._db.sessions() as session:
            return await channel_of(session, channel_id)

    async def mark_stale(self, conversation_id: str) -> None:
        async with self._db.transaction() as session:
            await mark_stale(session, conversation_id)

    async def count_stale(self) -> int:
        async with self._db.sessions() as session:
            return await count_stale(session)


# --- duplicate deliveries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """The result of claiming an activity: first delivery, or a duplicate (with the first answer)."""

    first: bool
    done: bool = False
    response_status: int | None = None
    response_body: Any = None


def _claim_of(row: ProcessedActivityRow) -> Claim:
    """A duplicate's view of an existing claim: finished (with the first answer) or still running."""
    if row.state != "done":
        return Claim(first=False)
    body = json.loads(row.response_body) if row.response_body else None
    return Claim(first=False, done=True, response_status=row.response_status, response_body=body)


async def claim_activity(session: AsyncSession, key: str, *, now: datetime, takeover_after: timedelta) -> Claim:
    """Claim an activity for processing, in the caller's unit of work (no statement fails on a duplicate, so the
    transaction stays usable on PostgreSQL). A claim left 'processing' too long (a crash) is taken over."""
    inserted = await session.execute(_CLAIM, {"claim_key": key, "claim_now": now})
    if inserted.rowcount == 1:  # type: ignore[attr-defined]
        return Claim(first=True)
    taken = await session.execute(
        update(ProcessedActivityRow)
        .where(
            ProcessedActivityRow.dedupe_key == key,
            ProcessedActivityRow.state == "processing",
            ProcessedActivityRow.claimed_at < now - takeover_after,
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return Claim(first=True)
    row = await session.get(ProcessedActivityRow, key)
    return Claim(first=True) if row is None else _claim_of(row)


async def finish_activity(session: AsyncSession, key: str, status: int | None, body: Any) -> None:
    """Record the answer given to the first delivery (retries are answered with it)."""
    await session.execute(
        _FINISH, {"finish_key": key, "finish_status": status, "finish_body": json.dumps(body) if body else None}
    )


async def release_activity(session: AsyncSession, key: str) -> None:
    """The turn failed: forget the claim so Teams' retry is processed."""
    await session.execute(delete(ProcessedActivityRow).where(ProcessedActivityRow.dedupe_key == key))


class ActivityLedger:
    """Reads of the ledger outside a turn: a retry waiting for the first delivery's answer, and the purge of old
    entries. A turn claims, answers and releases in its own transactions (``bot/turns.py``)."""

    def __init__(self, database: Database, *, keep_for: timedelta) -> None:
        self._db = database
        self._keep_for = keep_for

    async def peek(self, key: str) -> Claim:
        """The current state of a claim, without claiming."""
        async with self._db.sessions() as session:
            row = await session.get(ProcessedActivityRow, key)
            return Claim(first=False) if row is None else _claim_of(row)

    async def purge(self) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(ProcessedActivityRow).where(ProcessedActivityRow.claimed_at < utcnow() - self._keep_for)
            )
            return int(result.rowcount or 0)


# --- school settings ----------------------------------------------------------------------------


async def get_setting(session: AsyncSession, key: str) -> str | None:
    row = await session.get(SchoolSettingRow, key)
    return row.value if row else None


async def set_setting(session: AsyncSession, key: str, value: str, updated_by: str | None) -> None:
    row = await session.get(SchoolSettingRow, key)
    if row is None:
        session.add(SchoolSettingRow(key=key, value=value, updated_by=updated_by, updated_at=utcnow()))
    else:
        row.value, row.updated_by, row.updated_at = value, updated_by, utcnow()


class SchoolSettings:
    SLT_CHANNEL = "slt_channel"

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, key: str) -> str | None:
        async with self._db.sessions() as session:
            return await get_setting(session, key)

    async def set(self, key: str, value: str, updated_by: str | None) -> None:
        async with self._db.transaction() as session:
            await set_setting(session, key, value, updated_by)
