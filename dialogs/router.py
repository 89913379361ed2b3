"""The one router: every card verb, typed command, flow, attachment handler and invoke the bot answers.

The Teams edge (``bot/turn.py``) turns an activity into an authenticated ``Actor`` and a ``CardAction`` or
``CommandRequest`` and asks this router; each conversation in ``dialogs/`` registers its routes here when
the app is built. Reading the table (``Router.describe()``) tells every way into the app and who may use
it; the help card's role commands and the manifest's command menu come from the same ``COMMANDS`` table
(``dialogs/commands.py``), so a command is listed once.

A verb's payload is a pydantic model from ``cards/`` (beside the card that carries the button), validated
here before any service runs: a payload of the wrong shape gets a clear answer and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from cards.replies import ActionResult, CommandReply
from domain.commands import CommandInfo
from services.requests import CardAction, CommandRequest

log = logging.getLogger(__name__)

ActionHandler = Callable[[CardAction], Awaitable[ActionResult]]
CommandHandler = Callable[[CommandRequest], Awaitable[CommandReply]]

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

    # --- lookup ---------------------------------------------------------------------------------------

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
        }


def _owner_of(handler: Callable[..., Any]) -> str:
    return str(getattr(handler, "__module__", "") or "")
