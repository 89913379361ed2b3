"""What the person acting sees in answer: a card that replaces the one they clicked, new cards, short texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cards.base import AdaptiveCard


@dataclass
class ActionResult:
    """The answer to a card action: a card that replaces the clicked one, and/or a short message."""

    card: AdaptiveCard | None = None
    message: str | None = None
    extra_cards: list[AdaptiveCard] = field(default_factory=list)  # sent as new messages to the actor


@dataclass
class CommandReply:
    """The answer to a typed command (or a file sent): cards and texts, sent in order (texts first)."""

    cards: list[AdaptiveCard] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)  # other attachments (a file consent card)
