"""What the edge accepts: the shape of an activity a turn can run on, checked on the raw JSON.

Teams always sends these fields, with these types. Anything else is answered by ``/api/messages``
(400, or a Universal Actions error for a card action) before the ledger, the state or any feature sees it,
so a malformed activity costs nothing beyond its own parsing. The limits on identifiers are the widths of
the columns they are stored in (PostgreSQL enforces them; SQLite would not).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
MAX_DEPTH = 64  # Teams activities nest a dozen levels at most (a message payload's card inside an invoke)

_OPTIONAL_TEXT = ("text", "name", "locale", "action", "textFormat", "summary", "inputHint")
_OPTIONAL_LISTS = ("attachments", "entities", "membersAdded", "membersRemoved", "reactionsAdded",
                   "reactionsRemoved")
_OPTIONAL_OBJECTS = ("recipient", "channelData", "relatesTo")
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f]")  # C0 controls and DEL


def _document_problem(document: Any) -> str | None:
    """Nesting deeper than any Teams activity, or a NUL character (PostgreSQL cannot store one in text and
    Teams never sends one). One iterative walk: no recursion for a hostile document to exhaust."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return "the activity holds a NUL character"
            continue
        if isinstance(node, dict):
            children: Any = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            return "the activity is nested too deeply"
        stack.extend((child, depth + 1) for child in children)
    return None


def _text(body: dict[str, Any], key: str, limit: int, *, required: bool = False, is_id: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        return f"{key} is missing" if required else None
    if not isinstance(value, str):
        return f"{key} is not a string"
    if required and not value.strip():
        return f"{key} is empty"
    if len(value) > limit:
        return f"{key} is too long"
    if is_id and _CONTROL_CHARACTERS.search(value):
        return f"{key} holds control characters"  # ids end up in URL paths and headers when the bot replies
    return None


def _account(body: dict[str, Any], key: str, *, id_limit: int) -> str | None:
    account = body.get(key)
    if not isinstance(account, dict):
        return f"{key} is missing" if account is None else f"{key} is not an object"
    for problem in (
        _text(account, "id", id_limit, required=True, is_id=True),
        _text(account, "name", 256),
        _text(account, "aadObjectId", 64, is_id=True),
        _text(account, "conversationType", 32),
        _text(account, "tenantId", 64, is_id=True),
    ):
        if problem:
            return f"{key}.{problem}"
    return None


def _service_url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "serviceUrl is missing" if value in (None, "") else "serviceUrl is not a string"
    if len(value) > 512 or any(ch.isspace() for ch in value):
        return "serviceUrl is not a URL"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "serviceUrl is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "serviceUrl is not an http(s) URL"
    return None


def activity_problem(body: dict[str, Any]) -> str | None:
    """Why this JSON object cannot be run as a turn, or None when it can.

    A turn needs its type, a service URL to answer on, the channel, the conversation's id (conversation
    state and the duplicate ledger are keyed on it) and the sender's id (user state).
    """
    if problem := _document_problem(body):
        return problem
    for problem in (
        _text(body, "type", 64, required=True),
        _service_url_problem(body.get("serviceUrl")),
        _text(body, "channelId", 64, required=True, is_id=True),
        _text(body, "id", 256, is_id=True),
        _text(body, "replyToId", 256, is_id=True),
        _account(body, "conversation", id_limit=512),
        _account(body, "from", id_limit=256),
    ):
        if problem:
            return problem
    for key in _OPTIONAL_TEXT:
        if problem := _text(body, key, 1_000_000):
            return problem
    for key in _OPTIONAL_OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key} is not an object"
    for key in _OPTIONAL_LISTS:
        items = body.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            return f"{key} is not a list of objects"
    for attachment in body.get("attachments") or ():
        if problem := _attachment_problem(attachment):
            return problem
    if body.get("type") == "invoke" and not body.get("name"):
        return "the invoke has no name"
    return None


def _attachment_problem(attachment: dict[str, Any]) -> str | None:
    for key in ("contentType", "contentUrl", "name", "thumbnailUrl"):
        if attachment.get(key) is not None and not isinstance(attachment[key], str):
            return f"attachments: {key} is not a string"
    if attachment.get("contentType") == FILE_DOWNLOAD_INFO and not isinstance(attachment.get("content"), dict):
        return "attachments: a file's download info is not an object"
    return None


def card_action_problem(value: Any) -> str | None:
    """Why an ``adaptiveCard/action`` invoke's value cannot be acted on, or None when it can."""
    if not isinstance(value, dict):
        return "The card sent something I can't read (its value is not an object)."
    action = value.get("action")
    if not isinstance(action, dict):
        return "The card sent something I can't read (it names no action)."
    if not isinstance(action.get("verb"), str):
        return "The card sent something I can't read (its action has no verb)."
    return None  # data that is not an object is no data: the verb's own payload check answers it


def message_extension_problem(value: Any) -> str | None:
    """Why a message-extension invoke's value cannot be acted on, or None when it can."""
    if not isinstance(value, dict):
        return "Teams sent something I can't read. Close this window and try again."
    for key in ("messagePayload", "data"):
        if value.get(key) is not None and not isinstance(value[key], dict):
            return "Teams sent something I can't read. Close this window and try again."
    payload = value.get("messagePayload") or {}
    for key in ("from", "body"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            return "Teams sent a message I can't read. Close this window and try again."
    sender = payload.get("from") or {}
    for key in ("user", "application"):
        if sender.get(key) is not None and not isinstance(sender[key], dict):
            return "Teams sent a message I can't read. Close this window and try again."
    return None
