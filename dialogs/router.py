"""The one router: every card verb, typed command, flow, attachment handler and invoke the bot answers.

The Teams edge (``bot/handler.py``) turns an activity into an authenticated ``Actor`` and a ``CardAction`` or
``CommandRequest`` and asks this router; each conversation in ``dialogs/`` registers its routes here when
the app is built. Reading the table (``Router.describe()``) tells every way into the app and who may use
it; the help card's role commands and the manifest's command menu come from the same ``COMMANDS`` table
(``dialogs/commands.py``), so a command is listed once.

A verb's payload is a pydantic model from ``cards/`` (beside the card that carries the button), validated
here before any service runs: a payload of the wrong shape gets a clear answer and changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from cards.replies import ActionResult, CommandReply
from domain.actors import Actor
from domain.commands import ASK_WORD, CANCEL_WORDS, FLOW_PATTERNS, HELP_WORDS, CommandInfo, looks_like_question
from domain.flows import Flow
from services.incidents import Fetch
from services.requests import CardAction, CommandRequest

log = logging.getLogger(__name__)

ActionHandler = Callable[[CardAction], Awaitable[ActionResult]]
CommandHandler = Callable[[CommandRequest], Awaitable[CommandReply]]

NO_IDENTITY = (
    "I couldn't tell who you are from this message, so I can't do that. Please use the bot from Teams "
    "signed in with your school account."
)

_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)  # linear: "<at>" repeated cannot backtrack
_SPACES = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """Strip @mentions (channel posts), collapse spaces, trim."""
    return _SPACES.sub(" ", _MENTION.sub(" ", text or "")).strip()


@dataclass(frozen=True)
class AttachmentsRequest:
    """Files sent in the personal chat: each attachment handler says whether they are its kind."""

    actor: Actor | None  # None: the message carried no Entra identity
    attachments: list[dict[str, Any]]  # wire dicts
    service_url: str
    fetch: Fetch  # downloads with the bot's Teams credentials where the file is on Teams' side


AttachmentHandler = Callable[[AttachmentsRequest], Awaitable[CommandReply | None]]  # None: not its kind


@dataclass(frozen=True)
class InvokeRequest:
    """An invoke other than a card action (the message extension): its ``value`` object and the actor."""

    name: str
    value: dict[str, Any]
    actor: Actor | None


InvokeHandler = Callable[[InvokeRequest], Awaitable[dict[str, Any]]]  # the invoke's response body


class TextKind(StrEnum):
    HELP = "help"
    CANCEL = "cancel"
    COMMAND = "command"
    FLOW = "flow"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TextMatch:
    """What a typed message asks for."""

    kind: TextKind
    text: str  # cleaned
    argument: str = ""
    handler: CommandHandler | None = None
    flow: Flow | None = None

_OUT_OF_DATE = "That button is out of date or its data is not valid. Nothing was changed. Type **help** to start again."


class UnknownVerb(LookupError):
    """No route for this verb (an old card, or data that did not come from our cards)."""


@dataclass(frozen=True)
class VerbRoute:
    verb: str
    handler: ActionHandler
    payload: type[BaseModel] | None  # validated before the handler runs
    owner: str  # the dialog module that registered it


@dataclass(frozen=True)
class CommandRoute:
    command: CommandInfo
    phrases: tuple[str, ...]  # lower case
    handler: CommandHandler
    owner: str


@dataclass
class Router:
    """Verb → handler (with its payload model); command phrase → handler; flow → starter."""

    _verbs: dict[str, VerbRoute] = field(default_factory=dict)
    _commands: list[CommandRoute] = field(default_factory=list)
    _flows: dict[str, CommandHandler] = field(default_factory=dict)
    _attachments: list[tuple[str, AttachmentHandler]] = field(default_factory=list)
    _invokes: dict[str, InvokeHandler] = field(default_factory=dict)

    # --- registration ---------------------------------------------------------------------------------

    def on_action(self, verb: str, handler: ActionHandler, *, payload: type[BaseModel] | None = None,
                  owner: str = "") -> None:
        if verb in self._verbs:
            raise ValueError(f"verb {verb!r} is registered twice")
        self._verbs[verb] = VerbRoute(verb, handler, payload, owner or _owner_of(handler))

    def on_command(self, command: CommandInfo, handler: CommandHandler, *, owner: str = "") -> None:
        """Register the handler of a command of the table (``domain/commands.py``); the longest phrase wins."""
        if not command.phrases:
            raise ValueError(f"command {command.name!r} has no phrases to match")
        lowered = tuple(p.lower() for p in command.phrases)
        for route in self._commands:
            clash = set(lowered) & set(route.phrases)
            if clash or route.command.name == command.name:
                raise ValueError(f"command {command.name!r} (or one of its phrases) is registered twice")
        self._commands.append(CommandRoute(command, lowered, handler, owner or _owner_of(handler)))

    def on_flow(self, flow: str, handler: CommandHandler) -> None:
        """What starts a flow from the help card or its command (e.g. the account request form)."""
        if flow in self._flows:
            raise ValueError(f"flow {flow!r} is registered twice")
        self._flows[flow] = handler

    def on_attachments(self, name: str, handler: AttachmentHandler) -> None:
        """Files sent in the personal chat; handlers are asked in the order registered."""
        self._attachments.append((name, handler))

    def on_invoke(self, name: str, handler: InvokeHandler) -> None:
        """An invoke by name (card actions are verbs: ``on_action``)."""
        if name in self._invokes:
            raise ValueError(f"invoke {name!r} is registered twice")
        self._invokes[name] = handler

    # --- lookup ---------------------------------------------------------------------------------------

    def match_text(self, text: str | None) -> TextMatch:
        """What a message asks for: help, cancel, a command (longest phrase), a flow, a question, or nothing known.

        Help and cancel are answered by the edge for every conversation; a question starts the ask flow.
        """
        cleaned = clean_text(text)
        lowered = cleaned.lower().rstrip(".!")
        if lowered in HELP_WORDS:
            return TextMatch(TextKind.HELP, cleaned)
        if lowered in CANCEL_WORDS:
            return TextMatch(TextKind.CANCEL, cleaned)
        matched = self.match_command(cleaned) or self.match_command(cleaned.rstrip(".!"))  # "whoami!" too
        if matched is not None:
            return TextMatch(TextKind.COMMAND, cleaned, argument=matched[1], handler=matched[0])
        if lowered == ASK_WORD or lowered.startswith(ASK_WORD + " "):
            return TextMatch(TextKind.FLOW, cleaned, argument=cleaned[len(ASK_WORD):].strip(), flow=Flow.ASK_POLICY)
        for pattern, flow in FLOW_PATTERNS:
            if pattern.match(lowered):
                return TextMatch(TextKind.FLOW, cleaned, argument=cleaned, flow=flow)
        if looks_like_question(lowered):
            return TextMatch(TextKind.FLOW, cleaned, argument=cleaned, flow=Flow.ASK_POLICY)
        return TextMatch(TextKind.UNKNOWN, cleaned, argument=cleaned)

    async def attachments(self, request: AttachmentsRequest) -> CommandReply | None:
        """The answer of the first attachment handler that takes these files (None: none does)."""
        for _name, handler in self._attachments:
            reply = await handler(request)
            if reply is not None:
                return reply
        return None

    def handles_invoke(self, name: object) -> bool:
        return isinstance(name, str) and name in self._invokes

    async def invoke(self, request: InvokeRequest) -> dict[str, Any]:
        """Run the invoke's handler.

        Raises:
            KeyError: no handler for ``request.name`` (ask ``handles_invoke`` first).
        """
        return await self._invokes[request.name](request)

    def flow_handler(self, flow: str) -> CommandHandler | None:
        return self._flows.get(flow)

    def handles(self, verb: str) -> bool:
        return verb in self._verbs

    def payload_model(self, verb: str) -> type[BaseModel] | None:
        route = self._verbs.get(verb)
        return route.payload if route else None

    async def dispatch(self, action: CardAction) -> ActionResult:
        """Validate the verb's payload, then run its handler.

        Raises:
            UnknownVerb: no route for ``action.verb``.
        """
        route = self._verbs.get(action.verb)
        if route is None:
            raise UnknownVerb(action.verb)
        if route.payload is not None:
            try:
                payload = route.payload.model_validate(action.data)
            except ValidationError as error:
                log.info("card payload refused", extra={"verb": action.verb, "errors": error.error_count()})
                return ActionResult(message=_OUT_OF_DATE)
            action = replace(action, payload=payload)
        return await route.handler(action)

    def match_command(self, text: str) -> tuple[CommandHandler, str] | None:
        lowered = text.lower().strip()
        best: tuple[int, CommandHandler, str] | None = None
        for route in self._commands:
            for phrase in route.phrases:
                if lowered == phrase or (not route.command.exact and lowered.startswith(phrase + " ")):
                    if best is None or len(phrase) > best[0]:
                        best = (len(phrase), route.handler, text.strip()[len(phrase):].strip())
        return (best[1], best[2]) if best else None

    def describe(self) -> Mapping[str, Any]:
        """The table, for people and tests: every verb (with its payload model) and command phrase, by owner."""
        return {
            "verbs": {v.verb: {"owner": v.owner, "payload": v.payload.__name__ if v.payload else None}
                      for v in sorted(self._verbs.values(), key=lambda r: r.verb)},
            "commands": {c.command.name: {"owner": c.owner, "phrases": list(c.phrases)} for c in self._commands},
            "flows": sorted(self._flows),
            "attachments": [name for name, _ in self._attachments],
            "invokes": sorted(self._invokes),
        }


def _owner_of(handler: Callable[..., Any]) -> str:
    return str(getattr(handler, "__module__", "") or "")
