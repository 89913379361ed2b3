"""The report forms a person has open, and the ones they cancelled (issue 15, gap 5: ``cancel`` stops a report).

A report form is a card in Teams that carries its draft id (the submission key); the card itself cannot be taken
back. So each person's forms are kept server-side, as one item of the bot's conversation state (the ``bot_state``
table, beside the dialogs' state, under its own key): the drafts opened with ``report`` and not yet sent, and the
drafts cancelled. A cancelled draft is refused when its form is sent later. The lists are short: the newest drafts
are kept (a person does not have dozens of report forms open).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.tables import BotStateRow

_KEY = "incident-report-forms/{}"
_MAX_OPEN = 10
_MAX_CANCELLED = 50


async def _load(session: AsyncSession, aad_object_id: str) -> tuple[BotStateRow | None, dict[str, Any]]:
    row = await session.scalar(select(BotStateRow).where(BotStateRow.key == _KEY.format(aad_object_id))
                               .with_for_update())
    if row is None:
        return None, {"open": [], "cancelled": []}
    try:
        document = json.loads(row.document)
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    return row, {"open": [d for d in document.get("open", []) if isinstance(d, str)],
                 "cancelled": [d for d in document.get("cancelled", []) if isinstance(d, str)]}


async def _save(session: AsyncSession, aad_object_id: str, row: BotStateRow | None, document: dict[str, Any],
                now: datetime) -> None:
    text = json.dumps(document)
    if row is None:
        session.add(BotStateRow(key=_KEY.format(aad_object_id), etag=uuid.uuid4().hex, document=text, updated_at=now))
    else:
        row.document, row.etag, row.updated_at = text, uuid.uuid4().hex, now
    await session.flush()


async def opened(session: AsyncSession, aad_object_id: str, draft: str, now: datetime) -> None:
    """``draft`` is a report form this person has open."""
    row, document = await _load(session, aad_object_id)
    document["open"] = [d for d in document["open"] if d != draft][-(_MAX_OPEN - 1):] + [draft]
    await _save(session, aad_object_id, row, document, now)


async def cancel_open(session: AsyncSession, aad_object_id: str, now: datetime) -> int:
    """Cancel every report form this person has open; how many there were."""
    row, document = await _load(session, aad_object_id)
    if row is None or not document["open"]:
        return 0
    count = len(document["open"])
    document["cancelled"] = (document["cancelled"] + document["open"])[-_MAX_CANCELLED:]
    document["open"] = []
    await _save(session, aad_object_id, row, document, now)
    return count


async def is_cancelled(session: AsyncSession, aad_object_id: str, draft: str) -> bool:
    row = await session.scalar(select(BotStateRow).where(BotStateRow.key == _KEY.format(aad_object_id)))
    if row is None:
        return False
    try:
        document = json.loads(row.document)
    except ValueError:
        return False
    return isinstance(document, dict) and draft in document.get("cancelled", [])


async def sent(session: AsyncSession, aad_object_id: str, draft: str, now: datetime) -> None:
    """The form of ``draft`` was sent: it is no longer open."""
    row, document = await _load(session, aad_object_id)
    if row is None or draft not in document["open"]:
        return
    document["open"] = [d for d in document["open"] if d != draft]
    await _save(session, aad_object_id, row, document, now)
