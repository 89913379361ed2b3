"""The application factory: builds every part from settings and returns the aiohttp app.

No module globals: tests build the app exactly as production does, passing settings (and, at the
network edge we cannot reach from here, a credentials factory).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Literal

from aiohttp import web
from botbuilder.core import ConversationState, InvokeResponse, TurnContext
from botbuilder.core.serializer_helper import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import BotFrameworkAuthentication, ServiceClientCredentialsFactory

from bot.auth import KeysUnavailable, Unauthenticated, authenticate, build_authentication
from bot.connector import AsyncConnectorAuthentication
from bot.escalations import EscalationWorker
from bot.file_upload import put_file
from bot.handler import (
    CARD_ACTION_INVOKE,
    BotDeps,
    PolicyBot,
    card_activity,
    error_invoke_response,
    failed_invoke_response,
    unsupported_invoke_response,
)
from bot.inbound import activity_problem, card_action_problem
from bot.logging_setup import quiet_libraries
from bot.outbox_worker import BotFrameworkSender, OutboxWorker
from bot.policy_reminders import PolicyReminders
from bot.reminders import ApprovalReminders
from bot.retention import RetentionWorker
from bot.settings import Settings, SettingsError
from bot.storage import SqlStorage
from bot.turns import TurnRecords
from bot.workers import ConsentSyncWorker, PeriodicWorker, Workers
from cards.base import AdaptiveCard
from cards.help import notice_card
from cards.policy_help import policy_answer_card
from dialogs.account_register import register_account_register
from dialogs.accounts import register_accounts
from dialogs.ask import AnswerQuestion
from dialogs.audit import register_audit
from dialogs.consent_admin import register_consent_admin, register_consent_sync
from dialogs.dashboard import register_dashboard
from dialogs.erasure import register_erasure
from dialogs.incidents import register_incidents
from dialogs.photo_check import register_consent
from dialogs.platform import register_platform
from dialogs.policy_status import register_policy_status
from dialogs.retention import register_retention
from dialogs.router import Router
from dialogs.safeguarding_record import register_safeguarding_record
from dialogs.subject_access import register_subject_access
from dialogs.training import register_training
from directory import ClosableRoleDirectory
from directory.factory import build_directory
from domain.acknowledgement import PolicyEdition, edition_of
from domain.policy_help import SAMPLE_POLICY_PATH, PolicyLoadError, load_policy_index, parse_policy
from services.account_register import AccountRegister
from services.acknowledgement import PolicyAcknowledgements
from services.audit import AuditTrail
from services.dashboard import Dashboard
from services.erasure import Erasure
from services.governors_report import GovernorsReports
from services.incidents import Incidents
from services.photo_check import consent_config_from_settings
from services.platform import Platform
from services.retention import Retention
from services.safeguarding_record import SafeguardingRecord
from services.subject_access import SubjectAccess
from services.training import TrainingRecords
from store.consent_store import ConsentStore
from store.conversations import ActivityLedger, Claim, ConversationStore, SchoolSettings
from store.db import Database

log = logging.getLogger(__name__)

_MAX_BODY_BYTES = 256 * 1024  # Teams activities are far smaller; anything bigger is not from Teams
_CLAIM_TAKEOVER = timedelta(seconds=60)  # a claim older than this was left by a crashed turn
_LEDGER_RETENTION = timedelta(days=2)  # Teams retries within minutes; keep ids well beyond that
_DUPLICATE_WAIT_S = 8.0  # a retried invoke waits this long for the first delivery's answer
_MAX_DEDUPE_KEY = 600  # the ledger's key column; longer keys are hashed
# Where CloudAdapter keeps a turn's invoke answer (botbuilder 4.17 is frozen: the name will not change).
_INVOKE_RESPONSE_KEY = CloudAdapter._INVOKE_RESPONSE_KEY


@dataclass
class BotServices:
    """The parts of a running bot, kept on the app for handlers and tests."""

    settings: Settings
    database: Database
    adapter: CloudAdapter
    bot: PolicyBot
    storage: SqlStorage
    ledger: ActivityLedger
    conversations: ConversationStore
    directory: ClosableRoleDirectory
    router: Router
    turns: TurnRecords
    incidents: Incidents  # the incident service (tests start a report with it)


SERVICES = web.AppKey("services", BotServices)
OUTBOX = web.AppKey("outbox", OutboxWorker)


def tenant_of(activity: Activity) -> str | None:
    """The Entra tenant of a Teams activity, ``channelData.tenant.id`` (``conversation.tenant_id`` is always None:
    see TEAMS-NOTES). Read from the plain JSON: building botbuilder's channel-data model for it cost each turn a
    second msrest deserialisation."""
    channel_data = activity.channel_data
    tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
    tenant_id = tenant.get("id") if isinstance(tenant, dict) else None
    return tenant_id if isinstance(tenant_id, str) and tenant_id else None


def tenant_allowed(settings: Settings, activity: Activity) -> bool:
    if not settings.allowed_tenant_ids:
        return settings.dev_mode  # production always has an allow-list (checked at start-up)
    return tenant_of(activity) in settings.allowed_tenant_ids


def policy_answerer(settings: Settings) -> AnswerQuestion:
    """Index the school's policy once at start-up; each question is then answered from memory.

    Raises:
        SettingsError: the configured policy file cannot be read or has no sections.
    """
    try:
        index = load_policy_index(settings.policy_path)
    except PolicyLoadError as problem:
        raise SettingsError(f"POLICYBOT_POLICY_PATH: {problem}") from problem
    log.info("policy indexed", extra={"source": index.document.source, "passages": len(index.passages)})
    if index.document.is_sample:  # issue 17: a sample never passes as the school's policy
        log.warning(
            "POLICYBOT_POLICY_PATH is not set to the school's policy: answers come from the bundled SAMPLE policy "
            "and every answer card says so. Set POLICYBOT_POLICY_PATH to the school's Social Media Policy.",
            extra={"source": index.document.source},
        )

    def answer(question: str) -> AdaptiveCard:
        return policy_answer_card(index.answer(question))

    return answer


def policy_edition(settings: Settings) -> PolicyEdition:
    """The policy staff are asked to confirm reading (issue 17): its version (a hash of the file's text) and key
    points, read once at start-up; a changed file is a new version at the next start.

    Raises:
        SettingsError: the configured policy file cannot be read.
    """
    path = settings.policy_path if settings.policy_path is not None else SAMPLE_POLICY_PATH
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as problem:
        raise SettingsError(f"POLICYBOT_POLICY_PATH: the policy file {path} cannot be read ({problem}).") from problem
    return edition_of(parse_policy(text, source=str(path)))


def create_app(
    settings: Settings,
    *,
    credentials_factory: ServiceClientCredentialsFactory | None = None,
    answer_question: AnswerQuestion | None = None,
    directory: ClosableRoleDirectory | None = None,
    connector_mode: Literal["async", "stock"] = "async",
) -> web.Application:
    """Build the bot's web application.

    Raises:
        SettingsError: when the settings would serve the bot unsafely (see ``Settings.check_safe_to_serve``).
    """
    settings.check_safe_to_serve()
    calendar = settings.school_calendar()  # the school's clock, built once: every feature that reads it gets this one
    retention_schedule = settings.retention()  # an impossible period stops the bot here, saying which
    database = Database(settings.database_url)
    storage = SqlStorage(database)
    conversation_state = ConversationState(storage)
    authentication: BotFrameworkAuthentication = build_authentication(settings, credentials_factory)
    if connector_mode == "async":
        # Replies on one shared aiohttp session instead of msrest + requests on worker threads (bench/).
        authentication = AsyncConnectorAuthentication(authentication)
    adapter = CloudAdapter(authentication)
    conversations = ConversationStore(database)
    school_settings = SchoolSettings(database)
    role_directory = directory or build_directory(settings)
    trail = AuditTrail(database)  # every refusal and view of restricted detail (the router's and the services')
    router = Router(directory=role_directory, trail=trail)
    ledger = ActivityLedger(database, keep_for=_LEDGER_RETENTION)
    outbox = OutboxWorker(
        database,
        BotFrameworkSender(adapter, settings.app_id),
        poll_seconds=settings.outbox_poll_seconds,
        max_attempts=settings.outbox_max_attempts,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        renew=timedelta(seconds=settings.outbox_renew_seconds),
        on_stale=lambda stale: conversations.mark_stale(stale.conversation_id),
    )

    acknowledgements = PolicyAcknowledgements(
        database, role_directory, edition=policy_edition(settings), audit=trail, calendar=calendar,
        reminder_school_days=settings.policy_reminder_school_days, approved_on=settings.policy_approved_on,
        review_due=settings.policy_review_date(), on_enqueued=outbox.wake)
    training = TrainingRecords(database, role_directory, audit=trail, calendar=calendar,
                               followup_school_days=settings.training_followup_school_days, on_enqueued=outbox.wake)
    accounts = register_accounts(  # business cases show each runner's standing in the school's records (issue 17)
        router, database=database, directory=role_directory, conversations=conversations,
        school_settings=school_settings, settings=settings, calendar=calendar,
        runner_records=training.records_for(acknowledgements.edition.version),
    )
    reminders = ApprovalReminders(
        accounts.desk, accounts.accounts,
        school_days=settings.approval_reminder_school_days,
        check_seconds=settings.approval_check_seconds,
    )
    incidents = register_incidents(
        router, database=database, directory=role_directory, conversations=conversations, settings=settings,
        school_settings=school_settings, calendar=calendar, on_enqueued=outbox.wake,
    )
    # one register cache shared by the check, the data admin and the sync
    consent_store = ConsentStore(database, config=consent_config_from_settings(settings))
    register_consent(
        router, database=database, store=consent_store, desk=accounts.desk, settings=settings, directory=role_directory,
    )
    register_consent_admin(
        router, database=database, store=consent_store, directory=role_directory, conversations=conversations,
        settings=settings, calendar=calendar, on_enqueued=outbox.wake,
    )
    consent_sync = register_consent_sync(router, store=consent_store, directory=role_directory, settings=settings,
                                         calendar=calendar)
    escalations = EscalationWorker(incidents, poll_seconds=settings.incident_escalation_poll_seconds)
    register_platform(router, Platform(database, role_directory, bot_name=settings.bot_name,
                                       slt_channel_id=settings.slt_channel_id, consent_status=consent_sync.status_line))
    register_audit(router, database=database, trail=trail, directory=role_directory, calendar=calendar)
    retention = Retention(database, role_directory, schedule=retention_schedule, calendar=calendar,
                          on_enqueued=outbox.wake)
    register_retention(router, retention)
    record_files = SafeguardingRecord(incidents, database, directory=role_directory, trail=trail, uploader=put_file,
                                      loopback_uploads=settings.dev_mode)
    register_safeguarding_record(router, record_files)
    register_subject_access(router, SubjectAccess(database, role_directory, audit=trail, uploader=put_file,
                                                  loopback_uploads=settings.dev_mode))
    terms = settings.school_terms(calendar)  # an unreadable term start stops the bot here, saying which
    register_dashboard(router, Dashboard(database, role_directory, audit=trail, calendar=calendar, terms=terms),
                       GovernorsReports(database, role_directory, audit=trail, uploader=put_file,
                                        school_name=settings.school_name, calendar=calendar, terms=terms,
                                        policy_approved_on=settings.policy_approved_on,
                                        policy_review_due=settings.policy_review_due,
                                        loopback_uploads=settings.dev_mode))
    register_erasure(router, Erasure(database, role_directory, audit=trail))
    register_account_register(router, AccountRegister(database, role_directory, audit=trail, calendar=calendar))
    register_policy_status(router, acknowledgements)
    register_training(router, training)
    deps = BotDeps(
        settings=settings,
        conversation_state=conversation_state,
        answer_question=answer_question or policy_answerer(settings),
        directory=role_directory,
        router=router,
        share_card_json=connector_mode == "async",
        policy_offer=acknowledgements.offer,
    )
    bot = PolicyBot(deps)

    adapter.on_turn_error = turn_error_handler(conversation_state)
    turns = TurnRecords(database, storage, takeover_after=_CLAIM_TAKEOVER)
    services = BotServices(settings, database, adapter, bot, storage, ledger, conversations, role_directory, router,
                           turns, incidents)

    quiet_libraries()  # what libraries would log of a request or a statement's parameters stays out
    app = web.Application(client_max_size=_MAX_BODY_BYTES)
    app[SERVICES] = services
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app[OUTBOX] = outbox
    app.cleanup_ctx.append(_database_lifecycle)
    app.on_cleanup.append(_close_connector)
    # Registered after the database: these stop first, so work in flight is recorded before it closes.
    app.cleanup_ctx.append(consent_sync.cleanup_ctx)  # closes the list's reader after the workers stopped
    periodic: list[PeriodicWorker] = [outbox, reminders, escalations,
                                      RetentionWorker(retention, every_hours=settings.retention_run_hours),
                                      PolicyReminders(acknowledgements, training,
                                                      check_seconds=settings.approval_check_seconds)]
    if consent_sync.runs_periodically:
        periodic.append(ConsentSyncWorker(consent_sync))
    app.cleanup_ctx.append(Workers(*periodic).cleanup_ctx)
    return app


def turn_error_handler(conversation_state: ConversationState) -> Callable[[TurnContext, Exception], Awaitable[None]]:
    """The adapter's ``on_turn_error``: never raises, logs the failure once, and answers it.

    What the turn wrote is already rolled back (each unit of work rolls back when it raises) and its state is
    not saved. A message's conversation state is cleared too, so a dialog stuck on the failing step starts
    afresh; the sender gets the "Sorry" card. An invoke gets a proper error answer (Universal Actions error for
    a card action, a dialog message for the message extension) unless the turn had already answered it.
    """

    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        activity = turn_context.activity
        try:
            log.error(
                "turn failed",
                exc_info=error,
                extra={"activity_id": activity.id, "type": activity.type, "invoke": str(activity.name or "")[:80]},
            )
        except Exception:  # noqa: BLE001 - logging must not turn a failed turn into a 500
            pass
        if activity.type == ActivityTypes.invoke:
            await _answer_failed_invoke(turn_context)
            return
        if activity.type != ActivityTypes.message:
            return
        try:
            await conversation_state.clear_state(turn_context)  # delete() expects the state loaded this turn
            await conversation_state.delete(turn_context)
        except Exception:  # noqa: BLE001 - the database may be what failed
            log.warning("could not clear the failed turn's conversation state", extra={"activity_id": activity.id})
        try:
            await turn_context.send_activity(card_activity(_sorry_card()))
        except Exception:  # noqa: BLE001 - the connector itself may be what failed
            log.warning("could not tell the user about the failed turn", extra={"activity_id": activity.id})

    return on_turn_error


def _sorry_card() -> AdaptiveCard:
    return notice_card(
        "Sorry, something went wrong on my side",
        [
            "Anything you had already submitted is saved. What you were typing may need "
            "to be started again: type help.",
            "If it happens again, tell the school office so they can let IT know.",
        ],
        tone="error",
    )


async def _answer_failed_invoke(turn_context: TurnContext) -> None:
    if turn_context.turn_state.get(_INVOKE_RESPONSE_KEY) is not None:
        return  # the turn had answered (its work is committed); what failed came after
    try:
        await turn_context.send_activity(
            Activity(type=ActivityTypes.invoke_response, value=failed_invoke_response(turn_context.activity.name))
        )
    except Exception:  # noqa: BLE001 - `messages` answers an invoke left without an answer
        log.warning("could not answer the failed invoke", extra={"activity_id": turn_context.activity.id})


async def _close_connector(app: web.Application) -> None:
    authentication = app[SERVICES].adapter.bot_framework_authentication
    if isinstance(authentication, AsyncConnectorAuthentication):
        await authentication.close()


async def _database_lifecycle(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.database.migrate()
    log.info("database ready", extra={"revisions": sorted(await services.database.current_revisions())})
    yield
    await services.directory.aclose()
    await services.database.dispose()


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)


async def messages(request: web.Request) -> web.Response:
    """`/api/messages`: authenticate, check the tenant, run the turn. Bad input gets 4xx, never 5xx.

    Anything a client can send is answered: a body that is not an activity a turn can run on gets 400 (and an
    unreadable card action a Universal Actions error) before the ledger, state or any feature sees it; a turn
    that fails is answered by ``on_turn_error``. Only our own infrastructure failing gives 503 (retry later).
    """
    services = request.app[SERVICES]
    if request.content_type != "application/json":
        return _problem(415, "expected application/json")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _problem(400, "the body is not JSON")
    except RecursionError:
        return _problem(400, "the activity is nested too deeply")
    if not isinstance(body, dict):
        return _problem(400, "the body is not an activity")
    problem = activity_problem(body)
    if problem:
        log.info("request refused: malformed activity", extra={"reason": problem})
        return _problem(400, problem)
    try:
        activity = Activity().deserialize(body)
    except Exception:  # noqa: BLE001 - msrest raises several types for malformed activities
        return _problem(400, "the body is not an activity")

    try:
        auth_result = await authenticate(
            services.adapter.bot_framework_authentication,
            services.settings,
            activity,
            request.headers.get("Authorization", ""),
        )
    except Unauthenticated as refusal:
        log.warning("request refused: unauthenticated", extra={"reason": str(refusal)})
        return _problem(401, "unauthorized")
    except KeysUnavailable as failure:
        log.error("cannot check tokens: signing keys unavailable", extra={"reason": str(failure)})
        return _problem(503, "cannot check tokens right now; retry later")

    if not tenant_allowed(services.settings, activity):
        log.warning("request refused: tenant not allowed", extra={"tenant": tenant_of(activity)})
        return _problem(403, "this tenant is not served")

    if activity.type == ActivityTypes.invoke:
        refused = _refuse_invoke(services, activity)
        if refused is not None:
            return _invoke_answer(refused)

    key = _dedupe_key(activity)
    try:  # the turn's first transaction: claim, remember the conversation, read its state (bot/turns.py)
        begun = await services.turns.begin(activity, key)
    except Exception:  # noqa: BLE001 - the database is unavailable: nothing ran, a retry is safe
        log.exception("could not record the activity; asking for a retry", extra={"activity_id": activity.id})
        return _problem(503, "cannot take this activity right now; retry later")
    if key is not None and not begun.claim.first:
        return await _answer_duplicate(services, key, activity, begun.claim)
    try:
        with services.storage.during(begun.state):
            invoke_response = await services.adapter.process_activity(auth_result, activity, services.bot.on_turn)
    except Exception:  # noqa: BLE001 - on_turn_error answers a failed turn; this is the adapter itself failing
        log.exception("could not run the turn", extra={"activity_id": activity.id, "type": activity.type})
        await _release(services, key)
        if activity.type == ActivityTypes.invoke:
            return _invoke_answer(failed_invoke_response(activity.name))
        return _problem(503, "cannot process this activity right now; retry later")
    except BaseException:
        await _release(services, key)  # let Teams' retry be processed
        raise
    if activity.type == ActivityTypes.invoke and (invoke_response is None or invoke_response.status >= 500):
        # botbuilder answers an invoke left unanswered with 501: ours always get a proper answer
        log.warning("an invoke was left without an answer", extra={"invoke": str(activity.name)[:80]})
        invoke_response = failed_invoke_response(activity.name)
    status, body_out = 201, None
    if invoke_response:
        body_out = invoke_response.body
        if hasattr(body_out, "serialize"):
            body_out = serializer_helper(body_out)
        status = invoke_response.status
    try:  # the turn's last transaction: the state it changed and its answer, together
        await services.turns.finish(key, begun.state, status, body_out)
    except Exception:  # noqa: BLE001 - the turn's work is done: answer it; a retry waits, then takes over
        log.exception("could not record the answer to the activity", extra={"activity_id": activity.id})
    if body_out is None and status == 201:
        return web.Response(status=201)
    return web.json_response(body_out, status=status)


def _refuse_invoke(services: BotServices, activity: Activity) -> InvokeResponse | None:
    """An invoke answered before anything runs: one this bot does not handle, or a card action it cannot read."""
    if not services.bot.handles_invoke(activity.name):
        log.info("invoke not handled", extra={"invoke": str(activity.name)[:80], "activity_id": activity.id})
        return unsupported_invoke_response(activity.name)
    if activity.name == CARD_ACTION_INVOKE:
        problem = card_action_problem(activity.value)
        if problem:
            log.info("card action not readable", extra={"activity_id": activity.id})
            return error_invoke_response(HTTPStatus.BAD_REQUEST, problem)
    return None


def _invoke_answer(response: InvokeResponse) -> web.Response:
    return web.json_response(response.body, status=response.status)


async def _release(services: BotServices, key: str | None) -> None:
    if key is None:
        return
    try:
        await services.turns.release(key)
    except Exception:  # noqa: BLE001 - the claim is taken over after _CLAIM_TAKEOVER anyway
        log.warning("could not release the activity's claim", extra={"key": key[:200]})


def _dedupe_key(activity: Activity) -> str | None:
    if not activity.id or not activity.conversation:
        return None
    key = f"{activity.channel_id}|{activity.conversation.id}|{activity.type}|{activity.id}"
    if len(key) > _MAX_DEDUPE_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


async def _answer_duplicate(services: BotServices, key: str, activity: Activity, claim: Claim) -> web.Response:
    """A retried delivery: act on nothing, answer like the first delivery did."""
    log.info("duplicate delivery ignored", extra={"activity_id": activity.id, "type": activity.type})
    if activity.type != "invoke":
        return web.Response(status=200)
    deadline = asyncio.get_running_loop().time() + _DUPLICATE_WAIT_S
    while not claim.done and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        claim = await services.ledger.peek(key)
    if claim.done and claim.response_status is not None:
        if claim.response_body is None:
            return web.Response(status=claim.response_status)
        return web.json_response(claim.response_body, status=claim.response_status)
    return _problem(503, "the first delivery of this activity is still being processed; retry later")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    ok, detail = await request.app[SERVICES].database.is_ready()
    return web.json_response({"status": "ok" if ok else "unavailable", "detail": detail}, status=200 if ok else 503)
