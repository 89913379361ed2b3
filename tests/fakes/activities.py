"""Teams-shaped activities for tests (the JSON Teams posts to /api/messages)."""

from __future__ import annotations

import itertools
from typing import Any

TENANT = "00000000-0000-0000-0000-0000000000aa"
OTHER_TENANT = "99999999-0000-0000-0000-000000000099"
BOT_ID = "28:policy-bot"

_ids = itertools.count(1)


def user(name: str = "Sam Teacher", aad: str = "00000000-0000-0000-0000-000000000101",
         teams_id: str = "29:staff-sam") -> dict[str, Any]:
    return {"id": teams_id, "name": name, "aadObjectId": aad}


def personal_activity(
    service_url: str,
    *,
    type_: str = "message",
    text: str | None = None,
    value: Any = None,
    sender: dict[str, Any] | None = None,
    tenant: str = TENANT,
    conversation_id: str = "a:personal-sam",
    activity_id: str | None = None,
    name: str | None = None,
    action: str | None = None,
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": type_,
        "id": activity_id or f"in-{next(_ids)}",
        "timestamp": "2026-11-24T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": sender or user(),
        "conversation": {"id": conversation_id, "conversationType": "personal", "tenantId": tenant},
        "recipient": {"id": BOT_ID, "name": "Policy Bot"},
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-GB",
    }
    if text is not None:
        activity["text"] = text
    if value is not None:
        activity["value"] = value
    if name is not None:
        activity["name"] = name
    if action is not None:
        activity["action"] = action
    return activity
