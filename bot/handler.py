"""The Teams-facing bot: reads what arrives, hands it to dialogs and cards, saves state.

Thin by design: no policy rules live here. Every turn's acting user is the authenticated
``from.aadObjectId``; nothing a card or a message claims about who is acting is believed.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

from botbuilder.core import (
    CardFactory,
    ConversationState,
    InvokeResponse,
    MessageFactory,
    TurnContext,
)
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.core.teams.teams_activity_extensions import teams_get_channel_data
from botbuilder.dialogs import Dialog, DialogSet, DialogTurnStatus
from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot.connector import SentJson
from bot.inbound import card_action_problem, message_extension_problem
from bot.references import conversation_from_activity
from bot.settings import Settings
from cards.base import CARD_CONTENT_TYPE, AdaptiveCard
from cards.help import START_FLOW_VERB, coming_soon_card, help_card, role_commands, welcome_card
from cards.replies import ActionResult, CommandReply
from cards.report_offer import report_offer_card
from dialogs.ask import AnswerQuestion, AskDialog
from dialogs.incidents import teams_fetcher
from dialogs.router import NO_IDENTITY, AttachmentsRequest, InvokeRequest, Router, TextKind, UnknownVerb
from dialogs.subject_access import FILE_CONSENT_INVOKE
from domain.actors import Actor
from domain.flows import Flow
from domain.roles import RoleDirectory, RoleLookup
from services.requests import CardAction, ChannelInfo, CommandRequest

log = logging.getLogger(__name__)
_HELP_CARDS_KEPT = 64  # help cards kept built, one per set of role lines (a school has a handful)

_NO_IDENTITY = NO_IDENTITY
CARD_ACTION_INVOKE = "adaptiveCard/action"
MESSAGE_EXTENSION_INVOKES = frozenset({"composeExtension/fetchTask", "composeExtension/submitAction"})
ERROR_CONTENT_TYPE = "application/vnd.microsoft.error"
SORRY = (
    "Sorry, something went wrong on my side. Anything you had already submitted is saved. Try again in a moment; "
    "if it happens again, tell the school office so they can let IT know."
)


@dataclass
class BotDeps:
    """Everything the bot needs, handed in by the app factory (no globals)."""

    settings: Settings
    conversation_state: ConversationState
    answer_question: AnswerQuestion
    directory: RoleDirectory
    router: Router
    share_card_json: bool = False  # the async connector sends cards without botbuilder's deep copy
    # Issue 17: the policy's key points for someone who has not confirmed reading it (None: nothing to offer now).
    policy_offer: Callable[[Actor], Awaitable[AdaptiveCard | None]] | None = None


_OFFER_POLICY = "policybot.offer_policy"  # turn_state: this turn's answer may carry the policy's key points


def _personal_chat_attachments(activity: Activity) -> list[dict[str, Any]]:
    """A personal-chat message's attachments as wire dicts (none for a channel or group chat)."""
    kind = activity.conversation.conversation_type if activity.conversation else None
    if not activity.attachments or (kind or "personal") != "personal":
        return []
    return [attachment.serialize() for attachment in activity.attachments]


def card_activity(card: AdaptiveCard, *, share_json: bool = False) -> Activity:
    """A message holding one card. ``share_json``: its JSON is shared rather than deep-copied when the turn
    sends it (``SentJson``; only the async connector serialises it, msrest's would turn it into a string)."""
    content = card.to_dict()
    return MessageFactory.attachment(CardFactory.adaptive_card(SentJson(content) if share_json else content))


def card_invoke_response(card: AdaptiveCard) -> InvokeResponse:
    """An ``adaptiveCard/action`` answer that replaces the card in place.

    The body is the wire JSON already; our `/api/messages` handler writes it as it is (botbuilder's
    own models would be serialised twice by CloudAdapter, and cannot carry a string value).
    """
    return InvokeResponse(
        status=HTTPStatus.OK,
        body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card.to_dict()},
    )


def message_invoke_response(text: str) -> InvokeResponse:
    """An ``adaptiveCard/action`` answer shown as a short message, leaving the card as it is."""
    return InvokeResponse(
        status=HTTPStatus.OK,
        body={"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text},
    )


def error_invoke_response(status_code: HTTPStatus, message: str) -> InvokeResponse:
    """An ``adaptiveCard/action`` error (Universal Actions): HTTP 200, the error's status in the body.

    ``code`` is the status's name (``BadRequest``, ``InternalServerError``); Teams shows the message.
    """
    code = "".join(word.capitalize() for word in status_code.phrase.split())
    return InvokeResponse(
        status=HTTPStatus.OK,
        body={"statusCode": int(status_code), "type": ERROR_CONTENT_TYPE, "value": {"code": code, "message": message}},
    )


def task_message_response(text: str) -> InvokeResponse:
    """A message-extension (task module) answer that shows ``text`` in the dialog."""
    return InvokeResponse(status=HTTPStatus.OK, body={"task": {"type": "message", "value": text}})


def unsupported_invoke_response(name: object) -> InvokeResponse:
    """An invoke this bot does not handle: 400 (botbuilder answers 501, a server error, for these)."""
    shown = str(name)[:80] if name else ""
    return InvokeResponse(status=HTTPStatus.BAD_REQUEST,
                          body={"error": f"this bot does not handle the invoke {shown!r}"})


def failed_invoke_response(name: object) -> InvokeResponse:
    """The answer to an invoke whose turn failed on our side (never a 5xx: see ``on_turn_error``)."""
    if name in MESSAGE_EXTENSION_INVOKES:
        return task_message_response(SORRY)
    return error_invoke_response(HTTPStatus.INTERNAL_SERVER_ERROR, SORRY)


class PolicyBot(TeamsActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    """Routes messages, card submits and invokes; persists conversation and user state each turn."""

    def __init__(self, deps: BotDeps) -> None:
        self._deps = deps
        self._settings = deps.settings
        self._conversation_state = deps.conversation_state
        self._dialog_state = deps.conversation_state.create_property("DialogState")
        self._dialogs = DialogSet(self._dialog_state)
        self._flow_dialogs: dict[Flow, Dialog] = {}
        self._help_json: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}  # role lines -> the help card's JSON
        self.register_flow_dialog(Flow.ASK_POLICY, AskDialog(deps.answer_question))

    def _card_activity(self, card: AdaptiveCard) -> Activity:
        return card_activity(card, share_json=self._deps.share_card_json)

    # --- wiring -------------------------------------------------------------------------------------

    def register_flow_dialog(self, flow: Flow, dialog: Dialog) -> None:
        """A flow started from a command or the help card runs this dialog."""
        self._dialogs.add(dialog)
        self._flow_dialogs[flow] = dialog

    # --- turn ---------------------------------------------------------------------------------------

    def handles_invoke(self, name: object) -> bool:
        """Whether this bot answers an invoke of this name (others get 400 before any work)."""
        return name == CARD_ACTION_INVOKE or self._deps.router.handles_invoke(name)

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self._offer_policy(turn_context)
        await self._conversation_state.save_changes(turn_context)

    async def _offer_policy(self, turn_context: TurnContext) -> None:
        """Issue 17: after a welcome, a help card or a policy answer in the personal chat, the policy's key points as
        an extra card, for someone who has not confirmed reading this version (at most once a school day). Never a
        gate: the answer has been sent already, and a failure here only logs."""
        if self._deps.policy_offer is None or not turn_context.turn_state.get(_OFFER_POLICY):
            return
        actor = self._actor(turn_context)
        if actor is None or not actor.in_personal_chat:
            return
        try:
            card = await self._deps.policy_offer(actor)
        except Exception:  # noqa: BLE001 - the offer must never spoil the answer it goes with
            log.exception("could not offer the policy's key points")
            return
        if card is not None:
            await turn_context.send_activity(self._card_activity(card))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """A card submit, files, or text: help and cancel here, everything else through the one router."""
        activity = turn_context.activity
        if isinstance(activity.value, dict) and activity.value.get("verb") and not (activity.text or "").strip():
            await self._on_card_submit(turn_context, activity.value)
            return
        attachments = _personal_chat_attachments(activity)
        if attachments:
            reply = await self._deps.router.attachments(AttachmentsRequest(
                self._actor(turn_context), attachments, activity.service_url or "", teams_fetcher(turn_context)))
            if reply is not None:
                await self._send_reply(turn_context, reply)
                return
        match = self._deps.router.match_text(activity.text)
        dialog_context = await self._dialogs.create_context(turn_context)

        if match.kind is TextKind.CANCEL:
            actor = self._actor(turn_context)
            stopped = await self._deps.router.cancel(actor) if actor is not None else []  # e.g. an open report form
            if dialog_context.active_dialog is not None:
                await dialog_context.cancel_all_dialogs()
                if not stopped:
                    await turn_context.send_activity("Cancelled. Nothing was sent. Type **help** to see what I can "
                                                     "do.")
            elif not stopped:
                await turn_context.send_activity("There is nothing to cancel. Type **help** to see what I can do.")
            for said in stopped:
                await turn_context.send_activity(said)
            return
        if match.kind is TextKind.HELP:
            turn_context.turn_state[_OFFER_POLICY] = True
            await turn_context.send_activity(await self._help_activity(turn_context))
            if dialog_context.active_dialog is not None:
                await turn_context.send_activity("You can carry on where you were, or type **cancel** to stop.")
            return

        if dialog_context.active_dialog is not None:
            result = await dialog_context.continue_dialog()
            if result.status != DialogTurnStatus.Empty:
                return

        if match.kind is TextKind.COMMAND and match.handler is not None:
            actor = self._actor(turn_context)
            if actor is None:
                await turn_context.send_activity(await self._deps.router.refuse_unidentified(match.name))
                return
            request = CommandRequest(match.text, match.argument, actor, channel=_channel_info(activity))
            await self._send_reply(turn_context, await match.handler(request))
            return
        if match.kind is TextKind.FLOW and match.flow is not None:
            if match.offer_report:  # reads like a report: the button first, before any policy quotes
                await turn_context.send_activity(self._card_activity(report_offer_card()))
            elif match.flow is Flow.ASK_POLICY:
                turn_context.turn_state[_OFFER_POLICY] = True
            await self._start_flow(turn_context, match.flow, match.argument)
            return
        reply = await self._help_activity(turn_context)
        if match.text:
            reply.text = "I didn't understand that. Here is what I can do:"
        await turn_context.send_activity(reply)

    async def _start_flow(self, turn_context: TurnContext, flow: Flow, argument: str = "") -> None:
        dialog = self._flow_dialogs.get(flow)
        if dialog is None:
            starter = self._deps.router.flow_handler(flow.value)
            actor = self._actor(turn_context)
            if starter is not None and actor is None:
                await turn_context.send_activity(await self._deps.router.refuse_unidentified(flow.value))
                return
            if starter is None or actor is None:
                await turn_context.send_activity(self._card_activity(coming_soon_card(flow)))
                return
            await self._send_reply(turn_context, await starter(CommandRequest(argument, argument, actor)))
            return
        dialog_context = await self._dialogs.create_context(turn_context)
        await dialog_context.cancel_all_dialogs()
        options = {"question": argument} if flow is Flow.ASK_POLICY else {"text": argument}
        await dialog_context.begin_dialog(dialog.id, options)

    async def _on_card_submit(self, turn_context: TurnContext, value: dict[str, Any]) -> None:
        verb = value.get("verb")
        if verb == START_FLOW_VERB:
            try:
                # A missing or non-string flow raises ValueError, as an unknown one does.
                flow = Flow(cast(str, value.get("flow")))
            except ValueError:
                await turn_context.send_activity("That button is out of date. Type **help** for the current menu.")
                return
            await self._start_flow(turn_context, flow)
            return
        if self._deps.router.handles(str(verb)):
            actor = self._actor(turn_context)
            if actor is None:
                await turn_context.send_activity(await self._deps.router.refuse_unidentified(str(verb)))
                return
            data = {k: v for k, v in value.items() if k != "verb"}
            action = CardAction(
                verb=str(verb), data=data, actor=actor, activity_id=turn_context.activity.id,
                card_activity_id=turn_context.activity.reply_to_id, via_submit=True,
            )
            result = await self._deps.router.dispatch(action)
            await self._deliver_submit_result(turn_context, result)
            return
        dialog_context = await self._dialogs.create_context(turn_context)
        if dialog_context.active_dialog is not None:
            result = await dialog_context.continue_dialog()
            if result.status != DialogTurnStatus.Empty:
                return
        await turn_context.send_activity("That button is no longer active. Type **help** to start again.")

    async def _deliver_submit_result(self, turn_context: TurnContext, result: ActionResult) -> None:
        """An Action.Submit cannot replace its card in the invoke answer: update it, or send anew."""
        if result.card is not None:
            reply = self._card_activity(result.card)
            replaced = False
            if turn_context.activity.reply_to_id:
                reply.id = turn_context.activity.reply_to_id
                try:
                    await turn_context.update_activity(reply)
                    replaced = True
                except Exception:  # noqa: BLE001 - older clients may not allow updates: send it anew
                    log.info("could not update the submitted card; sending a new one")
            if not replaced:
                reply.id = None
                await turn_context.send_activity(reply)
        if result.message:
            await turn_context.send_activity(result.message)
        for card in result.extra_cards:
            await turn_context.send_activity(self._card_activity(card))

    async def _send_reply(self, turn_context: TurnContext, reply: CommandReply) -> None:
        for text in reply.texts:
            await turn_context.send_activity(text)
        for card in reply.cards:
            await turn_context.send_activity(self._card_activity(card))
        for attachment in reply.attachments:
            await turn_context.send_activity(_attachment_activity(attachment))

    async def _send_file_consent_result(self, turn_context: TurnContext, body: dict[str, Any]) -> None:
        """The texts and file cards a ``fileConsent/invoke`` handler returned under ``send`` (a refusal by the
        router comes back as a task message: its text is said in the chat)."""
        send: dict[str, Any] = body["send"] if isinstance(body.get("send"), dict) else {}
        task: dict[str, Any] = body["task"] if isinstance(body.get("task"), dict) else {}
        texts = list(send.get("texts") or []) + ([task["value"]] if isinstance(task.get("value"), str) else [])
        for text in texts:
            await turn_context.send_activity(text)
        for attachment in send.get("attachments") or []:
            await turn_context.send_activity(_attachment_activity(attachment))

    def _actor(self, turn_context: TurnContext) -> Actor | None:
        """The authenticated sender. Card data naming someone else is ignored everywhere."""
        activity = turn_context.activity
        sender = activity.from_property
        if sender is None or not sender.aad_object_id:
            return None
        conversation = activity.conversation
        return Actor(
            aad_object_id=sender.aad_object_id,
            name=sender.name or "",
            teams_user_id=sender.id or "",
            conversation_id=conversation.id if conversation else None,
            conversation_kind=(conversation.conversation_type or "personal") if conversation else None,
        )

    async def _roles(self, turn_context: TurnContext) -> RoleLookup:
        """Roles of the authenticated sender (never of anyone a card or message names)."""
        sender = turn_context.activity.from_property
        if sender is None or not sender.aad_object_id:
            return RoleLookup(roles=frozenset(), source="no Entra identity on this message")
        return await self._deps.directory.roles_of(sender.aad_object_id)

    # --- invokes ------------------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """Card actions and the router's invokes (the message extension); any other is answered 400."""
        name = turn_context.activity.name
        if name == CARD_ACTION_INVOKE:
            return await self._on_card_action(turn_context)
        if self._deps.router.handles_invoke(name):
            value = turn_context.activity.value
            problem = message_extension_problem(value) if name in MESSAGE_EXTENSION_INVOKES else None
            if problem or not isinstance(value, dict):
                log.info("invoke not readable", extra={"activity_id": turn_context.activity.id})
                return task_message_response(problem or "That request could not be read.")
            body = await self._deps.router.invoke(InvokeRequest(str(name), value, self._actor(turn_context)))
            if name == FILE_CONSENT_INVOKE:  # answered 200; what follows is said in the chat
                await self._send_file_consent_result(turn_context, body)
                return InvokeResponse(status=HTTPStatus.OK)
            return InvokeResponse(status=HTTPStatus.OK, body=body)  # a dict: written as it is
        log.info("invoke not handled", extra={"invoke": str(name)[:80], "activity_id": turn_context.activity.id})
        return unsupported_invoke_response(name)

    async def _on_card_action(self, turn_context: TurnContext) -> InvokeResponse:
        value = turn_context.activity.value
        problem = card_action_problem(value)
        if problem:
            log.info("card action not readable", extra={"activity_id": turn_context.activity.id})
            return error_invoke_response(HTTPStatus.BAD_REQUEST, problem)
        action = value["action"]
        verb = action["verb"]
        data = action["data"] if isinstance(action.get("data"), dict) else {}  # the verb's payload check answers
        log.info("card action", extra={"verb": verb, "activity_id": turn_context.activity.id})
        actor = self._actor(turn_context)
        if actor is None:
            if not self._deps.router.handles(verb):
                return message_invoke_response(_NO_IDENTITY)
            return message_invoke_response(await self._deps.router.refuse_unidentified(verb))
        card_action = CardAction(
            verb=verb, data=data, actor=actor, activity_id=turn_context.activity.id,
            card_activity_id=turn_context.activity.reply_to_id,
        )
        try:
            result = await self._deps.router.dispatch(card_action)
        except UnknownVerb:
            return message_invoke_response("That button is no longer active. Type help to start again.")
        if result.message and result.card is None:
            response = message_invoke_response(result.message)
        elif result.card is not None:
            response = card_invoke_response(result.card)
            if result.message:
                await turn_context.send_activity(result.message)
        else:
            response = message_invoke_response("Done.")
        for card in result.extra_cards:
            await turn_context.send_activity(self._card_activity(card))
        return response

    # --- installation -------------------------------------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        conversation = turn_context.activity.conversation
        conversation_type = conversation.conversation_type if conversation else None
        if conversation_type == "personal":
            turn_context.turn_state[_OFFER_POLICY] = True
            await turn_context.send_activity(self._card_activity(self._welcome()))
        else:
            await turn_context.send_activity(
                f"Hello, I'm {self._settings.bot_name}. Staff talk to me in a personal chat. "
                "A member of SLT can type **@" + self._settings.bot_name + " use this channel for incidents** "
                "to receive incident reports here."
            )

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        # The welcome is sent once, on installationUpdate; conversationUpdate is ignored here (botbuilder's
        # Teams dispatch would first look up every added member through the connector, for nothing).
        return

    # --- cards --------------------------------------------------------------------------------------

    async def _help_activity(self, turn_context: TurnContext) -> Activity:
        """The help card, with the sender's own commands in the personal chat (a channel sees everyone's help).

        Its JSON depends only on those commands (and the settings), so it is built once for each set of them and
        shared by every turn that sends it (never changed after: see ``SentJson``).
        """
        conversation = turn_context.activity.conversation
        lines: tuple[tuple[str, str], ...] = ()
        if (conversation.conversation_type if conversation else None) in (None, "personal"):
            lines = tuple(role_commands((await self._roles(turn_context)).roles))
        content = self._help_json.get(lines)
        if content is None:
            content = help_card(self._settings.bot_name, self._settings.school_name, lines).to_dict()
            if len(self._help_json) >= _HELP_CARDS_KEPT:
                self._help_json.clear()
            self._help_json[lines] = content
        shared = SentJson(content) if self._deps.share_card_json else copy.deepcopy(content)
        return MessageFactory.attachment(CardFactory.adaptive_card(shared))

    def _welcome(self) -> AdaptiveCard:
        return welcome_card(self._settings.bot_name, self._settings.school_name)


def _attachment_activity(attachment: dict[str, Any]) -> Activity:
    """A message carrying one attachment other than an Adaptive Card (Teams' file consent and file info cards)."""
    return Activity(type=ActivityTypes.message, attachments=[Attachment(
        content_type=attachment["contentType"], content_url=attachment.get("contentUrl"),
        name=attachment.get("name"), content=attachment.get("content"))])


def _channel_info(activity: Activity) -> ChannelInfo | None:
    """The team channel a message was posted in (None in a personal or group chat)."""
    conversation = conversation_from_activity(activity)
    if conversation is None or conversation.kind != "channel" or not conversation.channel_id:
        return None
    try:
        channel_data = teams_get_channel_data(activity)
    except Exception:  # noqa: BLE001 - malformed channelData: the channel's name is only shown
        channel_data = None
    return ChannelInfo(
        channel_id=conversation.channel_id,
        channel_name=channel_data.channel.name if channel_data and channel_data.channel else None,
        team_id=conversation.team_id,
        conversation_id=conversation.conversation_id,
        service_url=conversation.service_url,
        tenant_id=conversation.tenant_id,
        team_name=channel_data.team.name if channel_data and channel_data.team else None,
    )
