"""The Teams-facing bot: reads what arrives, hands it to dialogs and cards, saves state.

Thin by design: no policy rules live here. Every turn's acting user is the authenticated
``from.aadObjectId``; nothing a card or a message claims about who is acting is believed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

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
from botbuilder.schema import Activity

from bot.commands import Command, ParsedCommand, clean_text, parse
from bot.inbound import card_action_problem, message_extension_problem
from bot.references import conversation_from_activity
from bot.settings import Settings
from cards.base import CARD_CONTENT_TYPE, AdaptiveCard
from cards.help import START_FLOW_VERB, coming_soon_card, help_card, notice_card, role_commands, welcome_card
from cards.platform import PlatformStatus, status_card, whoami_card
from cards.replies import ActionResult, CommandReply
from dialogs.ask import AnswerQuestion, AskDialog
from dialogs.incidents import (
    message_extension_fetch_task,
    message_extension_submit,
    screenshot_candidates,
    teams_fetcher,
)
from dialogs.router import Router, UnknownVerb
from domain.actors import Actor
from domain.flows import Flow
from domain.roles import Role, RoleDirectory, RoleLookup
from services.consent_admin import ConsentAdmin
from services.incidents import Incidents
from services.requests import CardAction, CommandRequest
from store.conversations import ConversationStore, SchoolSettings

log = logging.getLogger(__name__)

_NO_IDENTITY = (
    "I couldn't tell who you are from this message, so I can't do that. Please use the bot from Teams "
    "signed in with your school account."
)
CARD_ACTION_INVOKE = "adaptiveCard/action"
MESSAGE_EXTENSION_INVOKES = frozenset({"composeExtension/fetchTask", "composeExtension/submitAction"})
ERROR_CONTENT_TYPE = "application/vnd.microsoft.error"
SORRY = (
    "Sorry, something went wrong on my side. Anything you had already submitted is saved. Try again in a moment; "
    "if it happens again, tell the school office so they can let IT know."
)


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int = 0
    oldest_pending_minutes: int | None = None
    failed: int = 0


@dataclass
class BotDeps:
    """Everything the bot needs, handed in by the app factory (no globals)."""

    settings: Settings
    conversation_state: ConversationState
    answer_question: AnswerQuestion
    directory: RoleDirectory
    conversations: ConversationStore
    school_settings: SchoolSettings
    outbox_backlog: Callable[[], Awaitable[OutboxBacklog]]
    router: Router
    incidents: Incidents | None = None
    consent_admin: ConsentAdmin | None = None  # the data admin's CSV sent in the personal chat
    consent_status: Callable[[], Awaitable[str]] | None = None  # the consent register's line in `status`


def _personal_chat_attachments(activity: Activity) -> list[dict[str, Any]]:
    """A personal-chat message's attachments as wire dicts (none for a channel or group chat)."""
    kind = activity.conversation.conversation_type if activity.conversation else None
    if not activity.attachments or (kind or "personal") != "personal":
        return []
    return [attachment.serialize() for attachment in activity.attachments]


def card_activity(card: AdaptiveCard) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card.to_dict()))


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


class PolicyBot(TeamsActivityHandler):
    """Routes messages, card submits and invokes; persists conversation and user state each turn."""

    def __init__(self, deps: BotDeps) -> None:
        self._deps = deps
        self._settings = deps.settings
        self._conversation_state = deps.conversation_state
        self._dialog_state = deps.conversation_state.create_property("DialogState")
        self._dialogs = DialogSet(self._dialog_state)
        self._flow_dialogs: dict[Flow, Dialog] = {}
        self.register_flow_dialog(Flow.ASK_POLICY, AskDialog(deps.answer_question))

    # --- wiring -------------------------------------------------------------------------------------

    def register_flow_dialog(self, flow: Flow, dialog: Dialog) -> None:
        """A flow started from a command or the help card runs this dialog."""
        self._dialogs.add(dialog)
        self._flow_dialogs[flow] = dialog

    # --- turn ---------------------------------------------------------------------------------------

    def handles_invoke(self, name: object) -> bool:
        """Whether this bot answers an invoke of this name (others get 400 before any work)."""
        if name == CARD_ACTION_INVOKE:
            return True
        return self._deps.incidents is not None and name in MESSAGE_EXTENSION_INVOKES

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self._conversation_state.save_changes(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if isinstance(activity.value, dict) and activity.value.get("verb") and not (activity.text or "").strip():
            await self._on_card_submit(turn_context, activity.value)
            return
        if await self._consent_csv(turn_context):
            return
        if await self._screenshots(turn_context):
            return
        parsed = parse(activity.text)
        dialog_context = await self._dialogs.create_context(turn_context)

        if parsed.command is Command.CANCEL:
            if dialog_context.active_dialog is not None:
                await dialog_context.cancel_all_dialogs()
                await turn_context.send_activity("Cancelled. Nothing was sent. Type **help** to see what I can do.")
            else:
                await turn_context.send_activity("There is nothing to cancel. Type **help** to see what I can do.")
            return
        if parsed.command is Command.HELP:
            await turn_context.send_activity(card_activity(await self._help(turn_context)))
            if dialog_context.active_dialog is not None:
                await turn_context.send_activity("You can carry on where you were, or type **cancel** to stop.")
            return

        if dialog_context.active_dialog is not None:
            result = await dialog_context.continue_dialog()
            if result.status != DialogTurnStatus.Empty:
                return

        matched = self._deps.router.match_command(clean_text(activity.text))
        if matched is not None:
            handler, argument = matched
            actor = self._actor(turn_context)
            if actor is None:
                await turn_context.send_activity(_NO_IDENTITY)
                return
            await self._send_reply(
                turn_context, await handler(CommandRequest(clean_text(activity.text), argument, actor))
            )
            return
        await self._run_command(turn_context, parsed)

    async def _run_command(self, turn_context: TurnContext, parsed: ParsedCommand) -> None:
        if parsed.command is Command.START_FLOW and parsed.flow is not None:
            await self._start_flow(turn_context, parsed.flow, parsed.argument)
            return
        if parsed.command is Command.WHOAMI:
            await self._whoami(turn_context)
            return
        if parsed.command is Command.STATUS:
            await self._status(turn_context)
            return
        if parsed.command is Command.USE_CHANNEL:
            await self._use_channel(turn_context)
            return
        if parsed.command is Command.UNKNOWN:
            reply = card_activity(await self._help(turn_context))
            if parsed.argument:
                reply.text = "I didn't understand that. Here is what I can do:"
            await turn_context.send_activity(reply)
            return
        await turn_context.send_activity(card_activity(coming_soon_notice(parsed.command)))

    async def _start_flow(self, turn_context: TurnContext, flow: Flow, argument: str = "") -> None:
        dialog = self._flow_dialogs.get(flow)
        if dialog is None:
            starter = self._deps.router.flow_handler(flow.value)
            actor = self._actor(turn_context)
            if starter is None or actor is None:
                await turn_context.send_activity(card_activity(coming_soon_card(flow)))
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
                flow = Flow(value.get("flow"))
            except ValueError:
                await turn_context.send_activity("That button is out of date. Type **help** for the current menu.")
                return
            await self._start_flow(turn_context, flow)
            return
        if self._deps.router.handles(str(verb)):
            actor = self._actor(turn_context)
            if actor is None:
                await turn_context.send_activity(_NO_IDENTITY)
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
            reply = card_activity(result.card)
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
            await turn_context.send_activity(card_activity(card))

    async def _send_reply(self, turn_context: TurnContext, reply: CommandReply) -> None:
        for text in reply.texts:
            await turn_context.send_activity(text)
        for card in reply.cards:
            await turn_context.send_activity(card_activity(card))

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

    # --- platform commands --------------------------------------------------------------------------

    async def _roles(self, turn_context: TurnContext) -> RoleLookup:
        """Roles of the authenticated sender (never of anyone a card or message names)."""
        sender = turn_context.activity.from_property
        if sender is None or not sender.aad_object_id:
            return RoleLookup(roles=frozenset(), source="no Entra identity on this message")
        return await self._deps.directory.roles_of(sender.aad_object_id)

    async def _whoami(self, turn_context: TurnContext) -> None:
        sender = turn_context.activity.from_property
        lookup = await self._roles(turn_context)
        await turn_context.send_activity(card_activity(whoami_card(sender.name or "you", lookup)))

    async def _status(self, turn_context: TurnContext) -> None:
        lookup = await self._roles(turn_context)
        if not lookup.roles & {Role.SLT, Role.HEAD_TEACHER}:
            await turn_context.send_activity(
                "Only members of the Senior Leadership Team can see the bot's status. "
                "Type **whoami** to see your roles."
            )
            return
        channel = await self._deps.school_settings.get(SchoolSettings.SLT_CHANNEL)
        channel_text = "not chosen yet: SLT can type @Policy Bot use this channel for incidents in a channel"
        if channel:
            chosen = json.loads(channel)
            channel_text = f"{chosen.get('channel_name') or chosen['channel_id']} (chosen in Teams)"
        elif self._settings.slt_channel_id:
            channel_text = f"{self._settings.slt_channel_id} (from configuration)"
        backlog = await self._deps.outbox_backlog()
        status = PlatformStatus(
            slt_channel=channel_text,
            role_source=self._deps.directory.describe(),
            outbox_pending=backlog.pending,
            outbox_oldest_pending_minutes=backlog.oldest_pending_minutes,
            outbox_failed=backlog.failed,
            stale_conversations=await self._deps.conversations.count_stale(),
            consent_register=await self._deps.consent_status() if self._deps.consent_status else None,
        )
        await turn_context.send_activity(card_activity(status_card(status)))

    async def _use_channel(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conversation = conversation_from_activity(activity)
        if conversation is None or conversation.kind != "channel" or not conversation.channel_id:
            await turn_context.send_activity(
                "Type this in the team channel where SLT should receive incident reports, mentioning me: "
                f"**@{self._settings.bot_name} use this channel for incidents**."
            )
            return
        lookup = await self._roles(turn_context)
        if Role.SLT not in lookup.roles and Role.HEAD_TEACHER not in lookup.roles:
            log.warning("refused: use channel by non-SLT", extra={"activity_id": activity.id})
            await turn_context.send_activity(
                "Only a member of the Senior Leadership Team can choose where incident reports go, because "
                "they can contain sensitive information. Please ask a member of SLT."
            )
            return
        try:
            channel_data = teams_get_channel_data(activity)
        except Exception:  # noqa: BLE001 - malformed channelData: the channel's name is only shown
            channel_data = None
        chosen = {
            "channel_id": conversation.channel_id,
            "channel_name": channel_data.channel.name if channel_data and channel_data.channel else None,
            "team_id": conversation.team_id,
            "conversation_id": conversation.conversation_id,
            "service_url": conversation.service_url,
            "tenant_id": conversation.tenant_id,
        }
        await self._deps.school_settings.set(
            SchoolSettings.SLT_CHANNEL, json.dumps(chosen), activity.from_property.aad_object_id
        )
        await turn_context.send_activity(
            "Done: incident reports will be posted in this channel, with minimal detail. "
            "Restricted reports (allegations about staff, safeguarding) show here only as a notice; "
            "their details go privately to the people the policy names."
        )

    # --- invokes ------------------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """Card actions and the message extension; any other invoke is answered 400 (botbuilder: 501)."""
        name = turn_context.activity.name
        if name == CARD_ACTION_INVOKE:
            return await self._on_card_action(turn_context)
        incidents = self._deps.incidents
        if incidents is not None and name in MESSAGE_EXTENSION_INVOKES:
            value = turn_context.activity.value
            problem = message_extension_problem(value)
            if problem:
                log.info("message extension invoke not readable", extra={"activity_id": turn_context.activity.id})
                return task_message_response(problem)
            actor = self._actor(turn_context)
            if name == "composeExtension/fetchTask":
                body = await message_extension_fetch_task(incidents, value, actor)
            else:
                body = await message_extension_submit(incidents, value, actor)
            return InvokeResponse(status=HTTPStatus.OK, body=body)  # a dict: written as it is
        log.info("invoke not handled", extra={"invoke": str(name)[:80], "activity_id": turn_context.activity.id})
        return unsupported_invoke_response(name)

    async def _consent_csv(self, turn_context: TurnContext) -> bool:
        """A CSV file sent in the personal chat is a consent register for the data admin (True: handled)."""
        admin = self._deps.consent_admin
        attachments = _personal_chat_attachments(turn_context.activity)
        if admin is None or not attachments:
            return False
        candidates = admin.csv_candidates(attachments)
        if not candidates:
            return False
        actor = self._actor(turn_context)
        if actor is None:
            await turn_context.send_activity(_NO_IDENTITY)
            return True
        await self._send_reply(turn_context, await admin.receive_csv(actor, candidates, teams_fetcher(turn_context)))
        return True

    async def _screenshots(self, turn_context: TurnContext) -> bool:
        """Images pasted in the personal chat after a report are stored with it (True: handled)."""
        incidents = self._deps.incidents
        attachments = _personal_chat_attachments(turn_context.activity)
        if incidents is None or not attachments:
            return False
        candidates = screenshot_candidates(attachments, turn_context.activity.service_url)
        if not candidates:
            return False
        actor = self._actor(turn_context)
        if actor is None:
            await turn_context.send_activity(_NO_IDENTITY)
            return True
        await self._send_reply(
            turn_context, await incidents.receive_screenshots(actor, candidates, teams_fetcher(turn_context))
        )
        return True

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
            return message_invoke_response(_NO_IDENTITY)
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
            await turn_context.send_activity(card_activity(card))
        return response

    # --- installation -------------------------------------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        conversation = turn_context.activity.conversation
        conversation_type = conversation.conversation_type if conversation else None
        if conversation_type == "personal":
            await turn_context.send_activity(card_activity(self._welcome()))
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

    async def _help(self, turn_context: TurnContext) -> AdaptiveCard:
        """The help card, with the sender's own commands in the personal chat (a channel sees everyone's help)."""
        conversation = turn_context.activity.conversation
        if (conversation.conversation_type if conversation else None) not in (None, "personal"):
            return help_card(self._settings.bot_name, self._settings.school_name)
        lookup = await self._roles(turn_context)
        return help_card(self._settings.bot_name, self._settings.school_name, role_commands(lookup.roles))

    def _welcome(self) -> AdaptiveCard:
        return welcome_card(self._settings.bot_name, self._settings.school_name)


def coming_soon_notice(command: Command) -> AdaptiveCard:
    return notice_card(
        "Coming soon",
        [f"'{command.value.replace('_', ' ')}' is not ready yet. Type help to see what I can do now."],
    )
