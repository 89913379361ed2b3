"""The one router: every card verb, typed command, flow, attachment handler and invoke the bot answers.

The Teams edge (``bot/handler.py``) turns an activity into an authenticated ``Actor`` and a ``CardAction`` or
``CommandRequest`` and asks this router; each conversation in ``dialogs/`` registers its routes here when
the app is built. Reading the table (``Router.describe()``) tells every way into the app and who may use
it; the help card's role commands and the manifest's command menu come from the same ``COMMANDS`` table
(``domain/commands.py``), so a command is listed once.

Every route is registered with its ``Access`` (``domain/access.py``): who may use it (roles, or any member of
staff), whether only in a personal chat, and which record it touches. A registration without one fails. Before
any service runs, the router checks the sender (their roles from the directory, never from the card) and the
conversation; a refusal is answered (a short message, as every refusal of the bot is; a proper invoke answer)
and written to the audit trail
(``services/audit.py``) naming who, which route and which record. Whether the sender may act on *that* record
is checked again inside the service, against the record loaded in its unit of work.

A verb's payload is a pydantic model from ``cards/`` (beside the card that carries the button), validated
here before any service runs: a payload of the wrong shape gets a clear answer and changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from cards.replies import ActionResult, CommandReply
from domain.access import NO_IDENTITY as NO_IDENTITY  # what the edge answers a message with no identity
from domain.access import Access, RefusalReason
from domain.actors import Actor
from domain.audit import RecordType
from domain.commands import (
    ASK_WORD,
    CANCEL_WORDS,
    FLOW_PATTERNS,
    HELP_WORDS,
    CommandInfo,
    looks_like_question,
    looks_like_report,
)
from domain.flows import Flow
from domain.roles import RoleDirectory
from services.audit import AuditTrail, Gate, refusal, safe_reference
from services.incidents import Fetch
from services.requests import CardAction, CommandRequest

log = logging.getLogger(__name__)

ActionHandler = Callable[[CardAction], Awaitable[ActionResult]]
CommandHandler = Callable[[CommandRequest], Awaitable[CommandReply]]


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
AttachmentTest = Callable[[AttachmentsRequest], bool]  # whether the files are this handler's kind (no I/O)


@dataclass(frozen=True)
class InvokeRequest:
    """An invoke other than a card action (the message extension): its ``value`` object and the actor."""

    name: str
    value: dict[str, Any]
    actor: Actor | None


InvokeHandler = Callable[[InvokeRequest], Awaitable[dict[str, Any]]]  # the invoke's response body
CancelHook = Callable[[Actor], Awaitable[str | None]]  # stops what the sender has open; what to tell them (or None)


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
    handler: CommandHandler | None = None  # a command's, guarded: the router's check runs first
    flow: Flow | None = None
    name: str = ""  # the command's name
    offer_report: bool = False  # it reads like a report: offer the report button before anything else


_OUT_OF_DATE = "That button is out of date or its data is not valid. Nothing was changed. Type **help** to start again."


class UnknownVerb(LookupError):
    """No route for this verb (an old card, or data that did not come from our cards)."""


class RouteKind(StrEnum):
    VERB = "verb"
    COMMAND = "command"
    FLOW = "flow"
    ATTACHMENTS = "attachments"
    INVOKE = "invoke"


@dataclass(frozen=True)
class Declared:
    """One way into the bot and its declaration (``Router.declarations()``: what the security tests walk)."""

    kind: RouteKind
    name: str  # the verb, the command's name, the flow, the attachment handler's or the invoke's name
    access: Access
    payload: type[BaseModel] | None = None  # a verb's payload model


@dataclass(frozen=True)
class VerbRoute:
    verb: str
    handler: ActionHandler
    payload: type[BaseModel] | None  # validated before the handler runs
    owner: str  # the dialog module that registered it
    access: Access


@dataclass(frozen=True)
class CommandRoute:
    command: CommandInfo
    phrases: tuple[str, ...]  # lower case
    handler: CommandHandler  # guarded: the router's check runs first
    owner: str
    access: Access


@dataclass(frozen=True)
class _AttachmentRoute:
    name: str
    takes: AttachmentTest
    handler: AttachmentHandler
    access: Access


@dataclass(frozen=True)
class _InvokeRoute:
    name: str  # the declared name: the invoke's, or ``invoke#context_key`` for one keyed by its context
    handler: InvokeHandler
    access: Access
    context_key: str | None = None  # the key the invoke's ``value.context`` must hold (Teams' file consent)


def _declared(access: object, what: str) -> Access:
    """The declaration, or a failed registration: no route without one."""
    if not isinstance(access, Access):
        raise TypeError(f"{what} is registered without an Access declaration (domain/access.py)")
    return access


class Router:
    """Verb → handler (with its payload model); command phrase → handler; flow → starter; each with its ``Access``.

    Args:
        directory: the sender's roles for the check (always the authenticated sender's, never the card's).
        trail: where refusals are written.
    """

    def __init__(self, *, directory: RoleDirectory, trail: AuditTrail) -> None:
        self._trail = trail
        self._gate = Gate(directory, trail)
        self._verbs: dict[str, VerbRoute] = {}
        self._commands: list[CommandRoute] = []
        self._flows: dict[str, tuple[CommandHandler, Access]] = {}
        self._attachments: list[_AttachmentRoute] = []
        self._invokes: dict[str, _InvokeRoute] = {}
        self._cancel_hooks: list[CancelHook] = []

    @property
    def trail(self) -> AuditTrail:
        """Where refusals are written (a dialog hands it to a service that checks its callers too)."""
        return self._trail

    # --- registration ---------------------------------------------------------------------------------

    def on_action(self, verb: str, handler: ActionHandler, *, access: Access, payload: type[BaseModel] | None = None,
                  owner: str = "") -> None:
        access = _declared(access, f"verb {verb!r}")
        if verb in self._verbs:
            raise ValueError(f"verb {verb!r} is registered twice")
        if access.record_field is not None and (payload is None or access.record_field not in payload.model_fields):
            raise ValueError(f"verb {verb!r}: its payload has no field {access.record_field!r} naming the record")
        self._verbs[verb] = VerbRoute(verb, handler, payload, owner or _owner_of(handler), access)

    def on_command(self, command: CommandInfo, handler: CommandHandler, *, access: Access, owner: str = "") -> None:
        """Register the handler of a command of the table (``domain/commands.py``); the longest phrase wins."""
        access = _declared(access, f"command {command.name!r}")
        if not command.phrases:
            raise ValueError(f"command {command.name!r} has no phrases to match")
        lowered = tuple(p.lower() for p in command.phrases)
        for route in self._commands:
            clash = set(lowered) & set(route.phrases)
            if clash or route.command.name == command.name:
                raise ValueError(f"command {command.name!r} (or one of its phrases) is registered twice")
        self._commands.append(CommandRoute(command, lowered, self._guard_command(command.name, handler, access),
                                           owner or _owner_of(handler), access))

    def on_flow(self, flow: str, handler: CommandHandler, *, access: Access) -> None:
        """What starts a flow from the help card or its command (e.g. the account request form)."""
        access = _declared(access, f"flow {flow!r}")
        if flow in self._flows:
            raise ValueError(f"flow {flow!r} is registered twice")
        self._flows[flow] = (self._guard_command(flow, handler, access), access)

    def on_attachments(self, name: str, handler: AttachmentHandler, *, takes: AttachmentTest,
                       access: Access) -> None:
        """Files sent in the personal chat; the first handler whose ``takes`` says they are its kind answers."""
        access = _declared(access, f"attachment handler {name!r}")
        if any(route.name == name for route in self._attachments):
            raise ValueError(f"attachment handler {name!r} is registered twice")
        self._attachments.append(_AttachmentRoute(name, takes, handler, access))

    def on_invoke(self, name: str, handler: InvokeHandler, *, access: Access, context_key: str | None = None) -> None:
        """An invoke by name (card actions are verbs: ``on_action``); answered as a task module (the message
        extension's).

        ``context_key``: one of several handlers of the same invoke, chosen by the key its ``value.context`` holds
        (Teams sends every file consent card's answer as ``fileConsent/invoke``, with the context the card carried);
        declared, checked and audited as ``name#context_key``. An invoke whose context names no keyed handler goes
        to the one registered without a key."""
        declared = f"{name}#{context_key}" if context_key else name
        access = _declared(access, f"invoke {declared!r}")
        if declared in self._invokes:
            raise ValueError(f"invoke {declared!r} is registered twice")
        self._invokes[declared] = _InvokeRoute(declared, handler, access, context_key)

    def on_cancel(self, hook: CancelHook) -> None:
        """What ``cancel`` stops besides the dialogs (e.g. an open report form). It acts only on the sender's own
        things, so it needs no declaration: the edge calls it for whoever typed ``cancel``."""
        self._cancel_hooks.append(hook)

    async def cancel(self, actor: Actor) -> list[str]:
        """Run every cancel hook for ``actor``: what each stopped, to tell them."""
        return [said for hook in self._cancel_hooks if (said := await hook(actor)) is not None]

    # --- the one check --------------------------------------------------------------------------------

    async def refused(self, name: str, access: Access, actor: Actor | None,
                      record_ref: str | None = None) -> str | None:
        """None when ``actor`` may use the route ``name``; else what to tell them, the refusal already audited
        (``services/audit.py`` ``Gate``: the one check, which a service that is its own authority runs too)."""
        return await self._gate.refused(name, access, actor, record_ref)

    async def refuse_unidentified(self, name: str) -> str:
        """An activity with no Entra identity asked for ``name`` (a verb, a command): audited, and the answer."""
        access = self._access_of(name)
        await self._trail.record(refusal(None, name, access.record if access else RecordType.NONE, None,
                                         RefusalReason.NO_IDENTITY.value))
        return NO_IDENTITY

    def _access_of(self, name: str) -> Access | None:
        if name in self._verbs:
            return self._verbs[name].access
        if name in self._flows:
            return self._flows[name][1]
        return next((route.access for route in self._commands if route.command.name == name), None)

    def _guard_command(self, name: str, handler: CommandHandler, access: Access) -> CommandHandler:
        async def guarded(request: CommandRequest) -> CommandReply:
            refused = await self.refused(name, access, request.actor)
            if refused is not None:
                return CommandReply(texts=[refused])
            return await handler(request)

        guarded.__module__ = getattr(handler, "__module__", __name__)
        return guarded

    # --- lookup ---------------------------------------------------------------------------------------

    def match_text(self, text: str | None) -> TextMatch:
        """What a message asks for: help, cancel, a command (longest phrase), a flow, a question, or nothing known.

        Help and cancel are answered by the edge for every conversation; a question starts the ask flow. A
        command's handler runs the router's check first.
        """
        cleaned = clean_text(text)
        lowered = cleaned.lower().rstrip(".!")
        if lowered in HELP_WORDS:
            return TextMatch(TextKind.HELP, cleaned)
        if lowered in CANCEL_WORDS:
            return TextMatch(TextKind.CANCEL, cleaned)
        matched = self._match_route(cleaned) or self._match_route(cleaned.rstrip(".!"))  # "whoami!" too
        if matched is not None:
            route, argument = matched
            return TextMatch(TextKind.COMMAND, cleaned, argument=argument, handler=route.handler,
                             name=route.command.name)
        offer = looks_like_report(lowered)
        if lowered == ASK_WORD or lowered.startswith(ASK_WORD + " "):
            return TextMatch(TextKind.FLOW, cleaned, argument=cleaned[len(ASK_WORD):].strip(), flow=Flow.ASK_POLICY,
                             offer_report=offer)
        for pattern, flow in FLOW_PATTERNS:
            if pattern.match(lowered):
                return TextMatch(TextKind.FLOW, cleaned, argument=cleaned, flow=flow)
        if offer or looks_like_question(lowered):  # a report in plain words: the button first, then the policy
            return TextMatch(TextKind.FLOW, cleaned, argument=cleaned, flow=Flow.ASK_POLICY, offer_report=offer)
        return TextMatch(TextKind.UNKNOWN, cleaned, argument=cleaned)

    async def attachments(self, request: AttachmentsRequest) -> CommandReply | None:
        """The answer of the first attachment handler whose kind these files are (None: none takes them)."""
        for route in self._attachments:
            if not route.takes(request):
                continue
            refused = await self.refused(route.name, route.access, request.actor)
            if refused is not None:
                return CommandReply(texts=[refused])
            reply = await route.handler(request)
            if reply is not None:
                return reply
        return None

    def handles_invoke(self, name: object) -> bool:
        return isinstance(name, str) and "#" not in name and any(
            route.name.split("#")[0] == name for route in self._invokes.values())

    def _invoke_route(self, request: InvokeRequest) -> _InvokeRoute:
        context = request.value.get("context") if isinstance(request.value, Mapping) else None
        keyed = [r for r in self._invokes.values() if r.context_key and r.name.split("#")[0] == request.name
                 and isinstance(context, Mapping) and r.context_key in context]
        if keyed:
            return keyed[0]
        if request.name in self._invokes:
            return self._invokes[request.name]
        return next(r for r in self._invokes.values() if r.name.split("#")[0] == request.name)

    async def invoke(self, request: InvokeRequest) -> dict[str, Any]:
        """Run the invoke's handler after the check (a refusal is answered in the task module).

        Raises:
            KeyError: no handler for ``request.name`` (ask ``handles_invoke`` first).
        """
        route = self._invoke_route(request)
        refused = await self.refused(route.name, route.access, request.actor)
        if refused is not None:
            return {"task": {"type": "message", "value": refused}}
        return await route.handler(request)

    def flow_handler(self, flow: str) -> CommandHandler | None:
        """The flow's starter, the router's check first."""
        found = self._flows.get(flow)
        return found[0] if found else None

    def handles(self, verb: str) -> bool:
        return verb in self._verbs

    def payload_model(self, verb: str) -> type[BaseModel] | None:
        route = self._verbs.get(verb)
        return route.payload if route else None

    async def dispatch(self, action: CardAction) -> ActionResult:
        """Check the sender, validate the verb's payload, then run its handler.

        Raises:
            UnknownVerb: no route for ``action.verb``.
        """
        route = self._verbs.get(action.verb)
        if route is None:
            raise UnknownVerb(action.verb)
        payload: BaseModel | None = None
        problem: ValidationError | None = None
        if route.payload is not None:
            try:
                payload = route.payload.model_validate(action.data)
            except ValidationError as error:
                problem = error
        refused = await self.refused(route.verb, route.access, action.actor,
                                     _record_ref(route, payload, action.data))
        if refused is not None:
            return ActionResult(message=refused)
        if problem is not None:
            log.info("card payload refused", extra={"verb": action.verb, "errors": problem.error_count()})
            return ActionResult(message=_OUT_OF_DATE)
        if payload is not None:
            action = replace(action, payload=payload)
        return await route.handler(action)

    def match_command(self, text: str) -> tuple[CommandHandler, str] | None:
        """The command ``text`` starts with (its guarded handler) and what follows its phrase."""
        matched = self._match_route(text)
        return (matched[0].handler, matched[1]) if matched else None

    def _match_route(self, text: str) -> tuple[CommandRoute, str] | None:
        lowered = text.lower().strip()
        best: tuple[int, CommandRoute, str] | None = None
        for route in self._commands:
            for phrase in route.phrases:
                if lowered == phrase or (not route.command.exact and lowered.startswith(phrase + " ")):
                    if best is None or len(phrase) > best[0]:
                        best = (len(phrase), route, text.strip()[len(phrase):].strip())
        return (best[1], best[2]) if best else None

    def declarations(self) -> list[Declared]:
        """Every route with its declaration, verbs first (by name), then commands, flows, files, invokes."""
        found = [Declared(RouteKind.VERB, v.verb, v.access, v.payload)
                 for v in sorted(self._verbs.values(), key=lambda r: r.verb)]
        found += [Declared(RouteKind.COMMAND, c.command.name, c.access) for c in self._commands]
        found += [Declared(RouteKind.FLOW, name, access) for name, (_, access) in sorted(self._flows.items())]
        found += [Declared(RouteKind.ATTACHMENTS, a.name, a.access) for a in self._attachments]
        found += [Declared(RouteKind.INVOKE, i.name, i.access) for i in sorted(self._invokes.values(),
                                                                               key=lambda r: r.name)]
        return found

    def describe(self) -> Mapping[str, Any]:
        """The table, for people and tests: every verb (with its payload model) and command phrase, by owner, and
        who may use each way in."""
        return {
            "verbs": {v.verb: {"owner": v.owner, "payload": v.payload.__name__ if v.payload else None,
                               "access": _described(v.access)}
                      for v in sorted(self._verbs.values(), key=lambda r: r.verb)},
            "commands": {c.command.name: {"owner": c.owner, "phrases": list(c.phrases), "access": _described(c.access)}
                         for c in self._commands},
            "flows": sorted(self._flows),
            "attachments": [route.name for route in self._attachments],
            "invokes": sorted(self._invokes),
            "access": {f"{d.kind.value}:{d.name}": _described(d.access) for d in self.declarations()},
        }


def _described(access: Access) -> dict[str, Any]:
    return {"roles": sorted(role.value for role in access.roles), "personal_only": access.personal_only,
            "record": access.record.value, "record_field": access.record_field}


def _record_ref(route: VerbRoute, payload: BaseModel | None, data: Mapping[str, Any]) -> str | None:
    """Which record the card data names (from the validated payload; else the raw field, if it is an id)."""
    name = route.access.record_field
    if name is None or not isinstance(data, Mapping):
        return None
    if payload is not None:
        return safe_reference(getattr(payload, name, None))
    info = route.payload.model_fields.get(name) if route.payload is not None else None
    keys = [name] + ([info.alias] if info is not None and info.alias else [])
    return next((ref for key in keys if (ref := safe_reference(data.get(key))) is not None), None)


def _owner_of(handler: Callable[..., Any]) -> str:
    return str(getattr(handler, "__module__", "") or "")
