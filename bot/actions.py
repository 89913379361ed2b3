"""Card actions and text commands, routed on an explicit verb to the feature that owns them.

The Teams edge (``bot/handler.py``) turns an ``adaptiveCard/action`` invoke, an ``Action.Submit``
fallback or a typed command into a ``CardAction`` / ``CommandRequest`` carrying the *authenticated*
actor, and features (approvals, incidents, photo checks) register handlers here. Handlers never see
Bot Framework types, so they are tested directly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cards.base import AdaptiveCard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """The person acting, from the authenticated activity (never from card data)."""

    aad_object_id: str
    name: str
    teams_user_id: str
    conversation_id: str | None = None
    conversation_kind: str | None = None  # personal | channel | groupChat


@dataclass(frozen=True)
class CardAction:
    verb: str
    data: dict[str, Any]
    actor: Actor
    activity_id: str | None = None  # the incoming invoke's id
    card_activity_id: str | None = None  # the message holding the card (replyToId)
    via_submit: bool = False  # an Action.Submit fallback (older clients) rather than Action.Execute


@dataclass
class ActionResult:
    """What the actor sees: a card that replaces the one they clicked, and/or a short message."""

    card: AdaptiveCard | None = None
    message: str | None = None
    extra_cards: list[AdaptiveCard] = field(default_factory=list)  # sent as new messages to the actor


ActionHandler = Callable[[CardAction], Awaitable[ActionResult]]


@dataclass(frozen=True)
class CommandRequest:
    text: str  # the whole command as typed, mentions stripped
    argument: str  # the text after the command's own words
    actor: Actor


@dataclass
class CommandReply:
    cards: list[AdaptiveCard] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


CommandHandler = Callable[[CommandRequest], Awaitable[CommandReply]]


class UnknownVerb(LookupError):
    pass


class ActionRouter:
    """Verb → handler, for card actions; command word(s) → handler, for typed commands."""

    def __init__(self) -> None:
        self._actions: dict[str, ActionHandler] = {}
        self._commands: list[tuple[tuple[str, ...], CommandHandler]] = []
        self._flows: dict[str, CommandHandler] = {}

    def on_action(self, verb: str, handler: ActionHandler) -> None:
        if verb in self._actions:
            raise ValueError(f"verb {verb!r} is registered twice")
        self._actions[verb] = handler

    def on_command(self, phrases: tuple[str, ...], handler: CommandHandler) -> None:
        """Register a typed command; the longest matching phrase at the start of the text wins."""
        self._commands.append((tuple(p.lower() for p in phrases), handler))

    def on_flow(self, flow: str, handler: CommandHandler) -> None:
        """What starts a flow from the help card or its command (e.g. the account request form)."""
        self._flows[flow] = handler

    def flow_handler(self, flow: str) -> CommandHandler | None:
        return self._flows.get(flow)

    def handles(self, verb: str) -> bool:
        return verb in self._actions

    async def dispatch(self, action: CardAction) -> ActionResult:
        handler = self._actions.get(action.verb)
        if handler is None:
            raise UnknownVerb(action.verb)
        return await handler(action)

    def match_command(self, text: str) -> tuple[CommandHandler, str] | None:
        lowered = text.lower().strip()
        best: tuple[int, CommandHandler, str] | None = None
        for phrases, handler in self._commands:
            for phrase in phrases:
                if lowered == phrase or lowered.startswith(phrase + " "):
                    if best is None or len(phrase) > best[0]:
                        best = (len(phrase), handler, text.strip()[len(phrase):].strip())
        return (best[1], best[2]) if best else None
