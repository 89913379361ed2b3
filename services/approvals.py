"""The approval desk: the use cases of the approval mechanism, for every kind of approval.

`ApprovalDesk` runs the approval mechanism for every kind of approval (a new account, a personal-device photo
exception): submitting, routing to the deciders, deciding, withdrawing, resubmitting, delegation, reminders,
`my requests`. A kind plugs in with a `KindHandler` (its summary for the cards, what happens when a request
of that kind changes state, and its edit form); see `services/accounts.py`. The Teams half (verbs, commands)
is `dialogs/approvals.py`; each verb's payload is a model from `cards/approvals.py`, validated by the router
before a use case here runs.

Units of work. Each use case opens at most one writing unit of work (`Database.transaction()`): what it
needs from the directory (roles, who decides) is asked before it, never inside; reads it needs first are
made in a reader before it or in the same session. A refusal is audited in the unit of work that found it.

Events between kinds. What a kind does when one of its requests changes state is a hook called inside the
decision's (or withdrawal's) unit of work, with its session: `KindHandler.on_transition` (e.g. the account
register gains the approved account) and, when the requester can be reached, `RequesterFollowUp
.after_requester_told` (e.g. the photo exception's button sent after the outcome). They run in the same
transaction as the decision, its card updates and its outbox messages, so all commit together or none do;
a hook must not open a unit of work of its own (`NestedUnitOfWorkError`) nor call the directory.

Rules kept here (the domain rules are in `domain/approvals.py`):

- The actor is always the authenticated sender (`CardAction.actor`); ids in card data only say *which*
  request, and are checked: the request must exist, the button must sit on a card of that request (when
  Teams tells us which card), the round must be the one shown, the actor must be allowed, the state must
  allow it. Anything else is answered clearly, changes nothing, and is written to the request's history and
  to the one audit trail (`services/audit.py`), in the unit of work that refused it.
- Who may use `delegate`, `end delegation` and `approvals` is declared here once (`DELEGATE`, `END_DELEGATION`,
  `APPROVALS`): the router checks it before the use case runs, and the use case checks the same declaration again
  (`services/audit.py` `Gate`: it is the authority wherever it is called from), each refusal in the audit trail.
  Whether a deputy decides *now* (a delegation running) is the `approvals` use case's own check after it.
- Nobody sees a request that is not theirs to see (`domain.approvals.view_of`): each answer that shows a request
  (a refresh, Teams' automatic refresh, `approvals`, a refused decision) shows the view the person may have, and
  someone who may have none gets a card saying so, with nothing of the request, and the refusal audited. Each
  time a request with pupils' names is shown to someone other than its requester, the audit trail records it.
- A decision is applied with a conditional update (`store.approvals.apply`), then, in the same
  transaction, every stored copy of the request's card is updated and the requester and SLT are told,
  through the outbox: an invoke does database work only and answers at once.
- Routing (who gets the decider's card) is idempotent per request, round and decider (outbox dedupe keys),
  so the reminders worker can run it again at any time: after a delegation starts, or once a Head Teacher
  who had never opened the bot does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cards.approvals import (
    DECISION_TITLES,
    DecisionButton,
    RequestButton,
    RequestSummary,
    decider_card,
    delegation_card,
    delegation_notice_card,
    delegation_summary_card,
    my_requests_card,
    outcome_card,
    refused_view_card,
    slt_card,
    status_card,
    superseded_card,
    when,
)
from cards.base import AdaptiveCard
from cards.replies import ActionResult, CommandReply
from domain.access import Access, only
from domain.actors import Actor
from domain.approvals import (
    AUDITED_REFUSALS,
    DECIDER_ACTIONS,
    KIND_TITLES,
    STATE_TITLES,
    ApprovalAction,
    ApprovalKind,
    ApprovalRecord,
    ApprovalRefused,
    ApprovalState,
    Authority,
    Capacity,
    Delegation,
    DelegationError,
    RefusalReason,
    RequestView,
    Transition,
    acting_for_map,
    check_action,
    delegation_window,
    parse_delegation,
    reminder_due,
    view_is_audited,
    view_of,
)
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.roles import DirectoryUnavailableError, Person, Role, RoleDirectory
from services import audit
from services.audit import AuditTrail, Gate
from services.requests import CardAction, CommandRequest
from store import approvals as store
from store import card_copies, conversations
from store import retention as retention_records
from store.base import utcnow
from store.conversations import ConversationStore, SchoolSettings
from store.db import Database
from store.outbox import ChannelTarget, OutboxMessage, enqueue

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_ROUTING_BUDGET_S = 2.0  # directory look-ups inside an invoke; beyond this the worker routes it (Teams waits ~5 s)
DECIDER_AUDIENCE = "decider"
SLT_AUDIENCE = "slt_channel"
REQUESTER_AUDIENCE = "requester"  # the requester's card (the form's message once sent) and the outcome message
_NOTHING_CHANGED = "Nothing was changed."
_APPROVALS_SHOWN = 10  # cards `approvals` sends at once, the oldest first (the others once these are decided)

# --- who may use the role-restricted commands (dialogs/approvals.py registers these; each use case checks again) ---

DELEGATE_COMMAND = "delegate"
END_DELEGATION_COMMAND = "end_delegation"
APPROVALS_COMMAND = "approvals"
DELEGATE: Access = only(Role.HEAD_TEACHER, personal_only=True, record=RecordType.DELEGATION,
                        refusal="Only the Head Teacher can delegate approvals.")
END_DELEGATION: Access = only(Role.HEAD_TEACHER, personal_only=True, record=RecordType.DELEGATION,
                              refusal="Only the Head Teacher can end a delegation of approvals.")
_ONLY_DECIDERS = ("Only the Head Teacher, or a deputy while approvals are delegated to them, decides requests. Type "
                  "**my requests** to see yours.")
# A deputy decides only while a delegation is active: the declaration admits deputies, `approvals` checks the rest.
APPROVALS: Access = only(Role.HEAD_TEACHER, Role.DEPUTY, personal_only=True, record=RecordType.APPROVAL_REQUEST,
                         refusal=_ONLY_DECIDERS)


async def _send_decider_copy(session: AsyncSession, request: ApprovalRecord, reference: dict[str, Any],
                             aad_object_id: str, card: AdaptiveCard, *, banner: str | None = None,
                             dedupe_key: str | None = None) -> None:
    """Send a decider's card to their chat through the outbox and store it as a copy of the request's card for its
    round, so a later change of state updates it (routing, reminders and `approvals` all send it so)."""
    outbox_id = await enqueue(session, OutboxMessage.personal(
        reference, card_message(card, banner or f"{KIND_TITLES[request.kind]} {request.reference} needs your decision"),
        dedupe_key=dedupe_key,
    ))
    await card_copies.record(session, subject_of(request.id), DECIDER_AUDIENCE, outbox_id, recipient=aad_object_id,
                             round_=request.round)


async def marked_if_held(session: AsyncSession, request: ApprovalRecord) -> ApprovalRecord:
    """The request, marked when a legal hold covers it (its reference, or a person it names): its cards say so."""
    holds = await retention_records.holds_in_force(session)
    held = holds.covers(request.reference, (request.requester_aad_object_id, request.decided_by_aad_object_id),
                        (request.requester_name, request.decided_by_name))
    return replace(request, legal_hold=True) if held else request


def card_message(card: AdaptiveCard, summary: str) -> dict[str, Any]:
    """An outbox activity holding one card; ``summary`` is what Teams shows in notifications."""
    return {"type": "message", "summary": summary, "attachments": [card.attachment()]}


def subject_of(request_id: int) -> str:
    return f"approval:{request_id}"


class KindHandler(Protocol):
    """What a kind of approval adds to the desk."""

    kind: ApprovalKind

    def summary(self, request: ApprovalRecord) -> RequestSummary:
        """The request's content for the cards."""
        ...

    async def on_transition(
        self, session: AsyncSession, after: ApprovalRecord, transition: Transition, now: datetime
    ) -> list[str]:
        """Work of this kind in the decision's (or withdrawal's) unit of work, through ``session`` (e.g. the
        account register); returns next steps for the requester's message. Must not open a unit of work of its
        own nor ask the directory: it runs inside the transaction."""
        ...

    async def edit(self, action: CardAction, request: ApprovalRecord) -> ActionResult:
        """The requester's form to change a request that was sent back for changes (called after the desk's
        checks have committed: it may read, and ask the directory, for the form)."""
        ...


@runtime_checkable
class ChangeSummary(Protocol):
    """Optional for a kind: what a resubmitted payload changed, in plain words, for the new version's cards."""

    def changes(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        """E.g. ``["aim", "runners"]`` (empty: nothing the kind shows changed)."""
        ...


@runtime_checkable
class RequesterFollowUp(Protocol):
    """Optional for a kind: messages for the requester that must come after the desk's outcome message."""

    async def after_requester_told(
        self, session: AsyncSession, after: ApprovalRecord, requester_chat: dict[str, Any]
    ) -> None:
        """Runs in the decision's transaction, after the outcome message is enqueued in ``requester_chat`` (the
        requester's conversation reference), so it is delivered first: the outbox keeps a chat's messages in
        order. Not called when the requester cannot be reached."""
        ...


@dataclass(frozen=True)
class Routing:
    """Who may decide now and who new or pending requests go to, as the directory and delegations say."""

    authority: Authority
    delegations: Sequence[Delegation]

    def recipients(self, request: ApprovalRecord) -> dict[str, str]:
        """The deciders a request is sent to: never the requester, nor a deputy acting for the requester (nobody
        decides their own request, nor the Head Teacher's own through the Head's delegation)."""
        return {aad: name for aad, name in self.authority.routed_to.items()
                if self.authority.may_decide_request(aad, request)}

    def deciders_of(self, request: ApprovalRecord) -> list[str]:
        """Everyone who may decide this request now (ids): whose Teams ids its card's refresh lists."""
        return [aad for aad in self.authority.deciders if self.authority.may_decide_request(aad, request)]

    def with_delegation(self, delegation: Delegation, now: datetime) -> Routing:
        """This routing once ``delegation`` replaces whatever its Head Teacher had running (its deputy was chosen
        from the directory's deputies, so holds the role)."""
        head = delegation.head_aad_object_id.lower()
        kept = [d for d in self.delegations if d.head_aad_object_id.lower() != head]
        if delegation.active_at(now):
            kept.append(delegation)
        still_acting = {d.deputy_aad_object_id.lower() for d in kept}
        acting = {aad: name for aad, name in self.authority.acting_deputies.items() if aad.lower() in still_acting}
        if delegation.active_at(now):
            acting[delegation.deputy_aad_object_id] = delegation.deputy_name
        return Routing(Authority(head_teachers=dict(self.authority.head_teachers), acting_deputies=acting,
                                 acting_for=acting_for_map(kept)), kept)


@dataclass(frozen=True)
class Submitted:
    request: ApprovalRecord
    routed_to: Sequence[str]  # names of deciders who will get the card now
    waiting_for: Sequence[str]  # deciders who have never opened the bot: they get it when they do
    new: bool = True  # False: the same form was sent before (a double click)


RequesterCard = Callable[[Submitted], AdaptiveCard]  # the card a kind answers the requester's form with


class ApprovalDesk:
    """The approval mechanism: every kind of request, from submission to decision, reminders and delegation."""

    def __init__(
        self,
        database: Database,
        directory: RoleDirectory,
        conversations: ConversationStore,
        school_settings: SchoolSettings,
        *,
        calendar: SchoolCalendar,
        slt_channel_id: str = "",
        clock: Clock = utcnow,
        audit_trail: AuditTrail | None = None,
    ) -> None:
        self._db = database
        self._trail = audit_trail or AuditTrail(database, clock=clock)
        self._gate = Gate(directory, self._trail)
        self._directory = directory
        self._conversations = conversations
        self._school_settings = school_settings
        self._slt_channel_id = slt_channel_id
        self._clock = clock
        self._calendar = calendar
        self._kinds: dict[ApprovalKind, KindHandler] = {}

    # --- wiring ---------------------------------------------------------------------------------------

    def register_kind(self, handler: KindHandler) -> None:
        if handler.kind in self._kinds:
            raise ValueError(f"approval kind {handler.kind} is registered twice")
        self._kinds[handler.kind] = handler

    @property
    def database(self) -> Database:
        return self._db

    @property
    def calendar(self) -> SchoolCalendar:
        """The school calendar (school dates, school days, card times), built once from the settings."""
        return self._calendar

    def summary(self, request: ApprovalRecord) -> RequestSummary:
        return self._kinds[request.kind].summary(request)

    # --- who decides ----------------------------------------------------------------------------------

    async def routing(self, now: datetime) -> Routing:
        """The Head Teacher(s) and any acting deputy (a deputy with an active delegation who still holds the
        deputy role).

        Raises:
            DirectoryUnavailableError: the directory cannot say who the Head Teacher is.
        """
        heads = {p.aad_object_id: p.name for p in await self._directory.holders_of(Role.HEAD_TEACHER)}
        async with self._db.sessions() as session:
            delegations = await store.active_delegations(session, now)
        acting: dict[str, str] = {}
        for delegation in delegations:
            lookup = await self._directory.roles_of(delegation.deputy_aad_object_id)
            if Role.DEPUTY in lookup.roles:
                acting[delegation.deputy_aad_object_id] = delegation.deputy_name
        return Routing(Authority(head_teachers=heads, acting_deputies=acting, acting_for=acting_for_map(delegations)),
                       delegations)

    async def _authority_for(
        self, session: AsyncSession, actor: Actor, roles: frozenset[Role], now: datetime,
    ) -> tuple[Authority, Delegation | None]:
        """What the actor may do, from their own roles (read before the unit of work: works even if listing role
        holders fails) and the delegations in force."""
        if Role.HEAD_TEACHER in roles:
            return Authority(head_teachers={actor.aad_object_id: actor.name}), None
        if Role.DEPUTY in roles:
            mine = [d for d in await store.active_delegations(session, now)
                    if d.deputy_aad_object_id.lower() == actor.aad_object_id.lower()]
            if mine:
                return Authority(head_teachers={}, acting_deputies={actor.aad_object_id: actor.name},
                                 acting_for=acting_for_map(mine)), mine[0]
        return Authority(head_teachers={}), None

    async def _teams_ids(self, session: AsyncSession, aad_ids: Sequence[str]) -> list[str]:
        chats = await conversations.personal_chats_of(session, aad_ids)
        return [chat.teams_user_id for aad in aad_ids if (chat := chats.get(aad)) is not None and chat.teams_user_id]

    async def slt_channel(self, session: AsyncSession) -> ChannelTarget | None:
        """Where SLT are reached: the channel SLT chose in Teams, else the configured channel id."""
        raw = await conversations.get_setting(session, SchoolSettings.SLT_CHANNEL)
        if raw:
            chosen = json.loads(raw)
            return ChannelTarget(service_url=chosen["service_url"], channel_id=chosen["channel_id"],
                                 tenant_id=chosen.get("tenant_id"), team_id=chosen.get("team_id"))
        if self._slt_channel_id:
            channel = await conversations.channel_of(session, self._slt_channel_id)
            if channel is not None:
                return ChannelTarget(service_url=channel.service_url, channel_id=self._slt_channel_id,
                                     tenant_id=channel.tenant_id, team_id=channel.team_id)
        return None

    # --- sending --------------------------------------------------------------------------------------

    async def _route(
        self, session: AsyncSession, request: ApprovalRecord, recipients: Mapping[str, str],
        routing: Routing | None, *, banner: str | None = None, key_suffix: str = "",
    ) -> tuple[list[str], list[str]]:
        """Send the decider's card of this round to each recipient once. Returns (sent to, not reachable)."""
        sent, missing = [], []
        request = await store.changes_of_round(session, request)
        summary = self.summary(request)
        refresh_ids = await self._teams_ids(session, routing.deciders_of(request) if routing else list(recipients))
        for aad, name in recipients.items():
            key = f"{subject_of(request.id)}:r{request.round}:decider:{aad.lower()}{key_suffix}"
            if await store.outbox_key_exists(session, key):
                continue
            chat = await conversations.personal_chat_of(session, aad)
            if chat is None or chat.stale:
                missing.append(name)
                continue
            acting_for = None
            if routing is not None and aad in routing.authority.acting_deputies:
                acting_for = next((d.head_name for d in routing.delegations
                                   if d.deputy_aad_object_id.lower() == aad.lower()), None)
            card = decider_card(request, summary, refresh_user_ids=refresh_ids, acting_for=acting_for, banner=banner,
                                calendar=self._calendar)
            await _send_decider_copy(session, request, chat.reference, aad, card, banner=banner, dedupe_key=key)
            sent.append(name)
        return sent, missing

    async def _post_to_slt(self, session: AsyncSession, request: ApprovalRecord, channel: ChannelTarget | None) -> None:
        if channel is None:
            log.info("no SLT channel chosen: request not posted", extra={"request": request.reference})
            return
        key = f"{subject_of(request.id)}:slt"
        outbox_id = await enqueue(session, OutboxMessage.channel_post(
            channel, card_message(slt_card(request, self.summary(request), calendar=self._calendar),
                                  f"{KIND_TITLES[request.kind]} {request.reference}"),
            dedupe_key=key,
        ))
        await card_copies.record(session, subject_of(request.id), SLT_AUDIENCE, outbox_id)

    async def _update_copies(self, session: AsyncSession, request: ApprovalRecord, version: str, *,
                             answered: tuple[str | None, AdaptiveCard] | None = None) -> int:
        """Bring every stored copy of the request's card to the request as it now stands, in ``session``: a copy of
        an earlier version says "Replaced by version N" with no buttons; the requester's copies show the status with
        what they may still do (Withdraw, Change and resend); the deciders' copies the status, without buttons (a
        new round is sent to them as a new message); the SLT channel's copy its view.

        Args:
            answered: the message a button was clicked in and the card the click answered it with (its notice:
                "Withdrawn. ...", "Approved. ..."): a copy in that message is updated to that same card, so the
                update, which may land after the answer, does not take the notice away.
        """
        subject = subject_of(request.id)
        in_answered = await card_copies.copy_ids_in(session, subject, answered[0]) if answered else frozenset()
        answer = card_message(answered[1], f"{request.reference}: {STATE_TITLES[request.state]}") if answered else None
        request = await store.changes_of_round(session, request)
        summary = self.summary(request)
        title = f"{request.reference}: {STATE_TITLES[request.state]}"
        decider_view = card_message(status_card(request, summary, calendar=self._calendar), title)
        requester_view = card_message(status_card(request, summary, for_requester=True, calendar=self._calendar),
                                      title)
        slt_view = card_message(slt_card(request, summary, calendar=self._calendar), title)
        replaced: dict[int, dict[str, Any]] = {}

        def activity_for(copy: card_copies.CardCopyRow) -> dict[str, Any] | None:
            if copy.audience == SLT_AUDIENCE:  # a channel's copy keeps the channel's view, whatever was clicked
                return slt_view
            if answer is not None and copy.id in in_answered:
                return answer
            if copy.round is not None and copy.round < request.round:
                if copy.round not in replaced:
                    replaced[copy.round] = card_message(
                        superseded_card(request, summary, calendar=self._calendar, version=copy.round),
                        f"{request.reference}: replaced by version {request.round}")
                return replaced[copy.round]
            if copy.audience == DECIDER_AUDIENCE:
                return decider_view
            if copy.audience == REQUESTER_AUDIENCE:
                return requester_view
            return None

        return await card_copies.update_all(session, subject, activity_for, version=version)

    async def _track_requester_card(self, session: AsyncSession, request: ApprovalRecord, card_activity_id: str | None,
                                    card: AdaptiveCard) -> None:
        """Remember the message the requester's card now sits in (the form they sent, answered in place by
        ``card``), so a later change updates it too: an update of that message to the very card it shows is queued
        and stored as the requester's copy of this version. Copies stored earlier in the same message are forgotten
        (the message shows this version now)."""
        if not card_activity_id:
            return
        chat = await conversations.personal_chat_of(session, request.requester_aad_object_id)
        if chat is None or chat.stale:
            return
        subject = subject_of(request.id)
        await card_copies.forget_activity(session, subject, card_activity_id)
        outbox_id = await enqueue(session, OutboxMessage.update(
            chat.reference, card_activity_id,
            card_message(card, f"{request.reference}: {STATE_TITLES[request.state]}"),
            dedupe_key=f"{subject}:r{request.round}:requester-card:{card_activity_id}"[:255],
        ))
        await card_copies.record(session, subject, REQUESTER_AUDIENCE, outbox_id,
                                 recipient=request.requester_aad_object_id, round_=request.round)

    async def _tell_requester(self, session: AsyncSession, request: ApprovalRecord, version: str,
                              next_steps: Sequence[str]) -> dict[str, Any] | None:
        """Enqueue the outcome message; returns the requester's chat reference (None: they cannot be reached)."""
        chat = await conversations.personal_chat_of(session, request.requester_aad_object_id)
        if chat is None or chat.stale:
            log.info("requester has no personal chat: not told", extra={"request": request.reference})
            return None
        card = outcome_card(request, self.summary(request), next_steps, calendar=self._calendar)
        outbox_id = await enqueue(session, OutboxMessage.personal(
            chat.reference, card_message(card, f"Your request {request.reference}: {STATE_TITLES[request.state]}"),
            dedupe_key=f"{subject_of(request.id)}:{version}:requester",
        ))
        if request.state is ApprovalState.CHANGES_REQUESTED:  # its buttons must not outlive the request's state
            await card_copies.record(session, subject_of(request.id), REQUESTER_AUDIENCE, outbox_id,
                                     recipient=request.requester_aad_object_id, round_=request.round)
        return chat.reference

    # --- submitting -----------------------------------------------------------------------------------

    async def _routing_within_budget(self, now: datetime) -> Routing | None:
        try:
            async with asyncio.timeout(_ROUTING_BUDGET_S):
                return await self.routing(now)
        except (TimeoutError, DirectoryUnavailableError):
            log.warning("directory slow or unavailable: the reminders worker will route the request")
            return None

    async def submit(
        self, kind: ApprovalKind, actor: Actor, payload: Mapping[str, Any], *, client_key: str | None = None,
        after_create: Callable[[AsyncSession, ApprovalRecord], Awaitable[None]] | None = None,
        shown_in: str | None = None, requester_card: RequesterCard | None = None,
    ) -> Submitted:
        """A new request: stored, sent to the deciders, posted to SLT, all in one transaction.

        Args:
            client_key: the form's id; the same form sent twice makes one request.
            after_create: more work of the kind in the same transaction (e.g. delete the draft).
            shown_in: the message the requester's card will sit in (the form's, answered in place), and
                requester_card: that card: stored as the requester's copy, so later changes update it too.
        """
        now = self._clock()
        key = f"{actor.aad_object_id.lower()}:{client_key}" if client_key else None
        if key is not None:
            async with self._db.sessions() as session:
                existing = await store.request_by_client_key(session, key)
            if existing is not None:
                return Submitted(existing, routed_to=(), waiting_for=(), new=False)
        routing = await self._routing_within_budget(now)
        try:
            async with self._db.transaction() as session:
                channel = await self.slt_channel(session)
                request, _ = await store.create_request(
                    session, kind=kind, requester_aad=actor.aad_object_id, requester_name=actor.name or "Someone",
                    payload=payload, now=now, client_key=key,
                )
                sent: list[str] = []
                missing: list[str] = []
                if routing is not None:
                    sent, missing = await self._route(session, request, routing.recipients(request), routing)
                await self._post_to_slt(session, request, channel)
                if after_create is not None:
                    await after_create(session, request)
                if requester_card is not None:
                    await self._track_requester_card(session, request, shown_in,
                                                     requester_card(Submitted(request, sent, missing)))
        except IntegrityError:
            if key is None:
                raise
            async with self._db.sessions() as session:
                existing = await store.request_by_client_key(session, key)
            if existing is None:
                raise
            return Submitted(existing, routed_to=(), waiting_for=(), new=False)
        log.info("approval requested", extra={"request": request.reference, "kind": kind.value})
        return Submitted(request, routed_to=sent, waiting_for=missing)

    async def resubmit(
        self, actor: Actor, request_id: int, payload: Mapping[str, Any],
        after_change: Callable[[AsyncSession, ApprovalRecord], Awaitable[None]] | None = None,
        *, kind: ApprovalKind | None = None, shown_in: str | None = None,
        requester_card: RequesterCard | None = None,
    ) -> Submitted:
        """The requester sends a request back after changes were asked for: a new round, sent again.

        The request is read and checked first (a refusal is audited in a unit of work of its own); routing asks
        the directory; then one unit of work applies the round, updates the cards and routes it (someone who
        acted first in between is audited in it).

        Every copy of the earlier version's card (the deciders', the requester's) then says "Replaced by version N";
        the new version's cards say what changed since (the kind's `ChangeSummary`).

        Args:
            kind: the kind the payload is of; a request of another kind is answered as not found.
            shown_in, requester_card: as for `submit` (the form the change was sent from).

        Raises:
            ApprovalRefused: not found, not theirs, not waiting for changes, or someone acted first (audited).
        """
        now = self._clock()
        async with self._db.sessions() as session:
            request = await store.get_request(session, request_id)
        try:
            if request is None or request.kind not in self._kinds or (kind is not None and request.kind is not kind):
                raise ApprovalRefused(RefusalReason.NO_SUCH_REQUEST)
            transition = check_action(request, ApprovalAction.RESUBMIT, actor_aad_object_id=actor.aad_object_id,
                                      actor_name=actor.name, authority=Authority(head_teachers={}))
        except ApprovalRefused as refusal:
            found = None if refusal.reason is RefusalReason.NO_SUCH_REQUEST else request
            await self._audit(actor, request_id, refusal.reason, {"action": "resubmit"}, verb="resubmit", request=found)
            raise
        routing = await self._routing_within_budget(now)
        handler = self._kinds[request.kind]
        changed = handler.changes(request.payload, payload) if isinstance(handler, ChangeSummary) else []
        async with self._db.transaction() as session:
            try:
                after, event_id = await store.apply(session, request, transition, now=now, payload=payload,
                                                    changed=changed)
            except ApprovalRefused as refusal:  # someone acted first: audited here, raised once this commits
                await self._audit_in(session, actor, request_id, refusal.reason, {"action": "resubmit"},
                                     verb="resubmit", request=refusal.request or request)
                refused = refusal
            else:
                if shown_in:  # the form's message shows the new version: no earlier copy of it is replaced
                    await card_copies.forget_activity(session, subject_of(after.id), shown_in)
                await self._update_copies(session, after, f"event{event_id}")
                sent: list[str] = []
                missing: list[str] = []
                if routing is not None:
                    sent, missing = await self._route(session, after, routing.recipients(after), routing)
                if after_change is not None:
                    await after_change(session, after)
                submitted = Submitted(after, routed_to=sent, waiting_for=missing)
                if requester_card is not None:
                    await self._track_requester_card(session, after, shown_in, requester_card(submitted))
                return submitted
        raise refused

    # --- deciding -------------------------------------------------------------------------------------

    async def _audit_in(self, session: AsyncSession, actor: Actor, request_id: int | None, reason: RefusalReason,
                        detail: Mapping[str, Any], *, verb: str, request: ApprovalRecord | None = None) -> None:
        """Record a refused attempt in the unit of work that refused it: in the request's history and in the audit
        trail (the trail logs it, without names).

        Args:
            verb: the verb or command attempted (the trail's action).
            request: the request as loaded; None when the attempt names none that exists (the trail then keeps the
                id the card claimed).
        """
        if reason not in AUDITED_REFUSALS:
            return
        await store.record_refusal(session, request_id=request_id, actor_aad=actor.aad_object_id,
                                   actor_name=actor.name, reason=reason, now=self._clock(), detail=detail)
        claimed = {"claimed_request_id": request_id} if request is None and request_id is not None else {}
        await self._trail.record_in(session, audit.refusal(
            actor, verb, RecordType.APPROVAL_REQUEST, request.reference if request else None, reason.value,
            {**detail, **claimed}))

    async def _audit(self, actor: Actor, request_id: int | None, reason: RefusalReason,
                     detail: Mapping[str, Any], *, verb: str, request: ApprovalRecord | None = None) -> None:
        """Record a refused attempt in a unit of work of its own (for refusals found outside any)."""
        if reason not in AUDITED_REFUSALS:
            return
        async with self._db.transaction() as session:
            await self._audit_in(session, actor, request_id, reason, detail, verb=verb, request=request)

    async def _record_view_in(self, session: AsyncSession, actor: Actor, request: ApprovalRecord,
                              shown: RequestView | None, verb: str) -> None:
        """Record in the audit trail that ``request`` was shown to ``actor`` in ``shown``, when that view is audited
        (pupils' names shown to someone other than the requester: `domain.approvals.view_is_audited`)."""
        if shown is not None and view_is_audited(request, shown):
            await self._trail.record_in(session, audit.view(
                actor, verb, RecordType.APPROVAL_REQUEST, request.reference, "pupil_names", {"view": shown.value}))

    def _view_card(self, request: ApprovalRecord, shown: RequestView, actor: Actor, *, notice: str | None = None,
                   refresh_ids: Sequence[str] = (), acting_for: str | None = None) -> AdaptiveCard:
        """The card of ``request`` as ``actor`` may see it (``shown``, from `domain.approvals.view_of`)."""
        summary = self.summary(request)
        if shown is RequestView.REQUESTER:
            return status_card(request, summary, for_requester=True, notice=notice, calendar=self._calendar,
                               refresh_user_ids=[actor.teams_user_id] if not request.is_final else ())
        if shown is RequestView.DECIDER:
            if request.state is ApprovalState.PENDING:
                return decider_card(request, summary, refresh_user_ids=refresh_ids, acting_for=acting_for,
                                    banner=notice, calendar=self._calendar)
            return status_card(request, summary, notice=notice, calendar=self._calendar)
        return slt_card(request, summary, notice=notice, calendar=self._calendar)

    async def load_request_in(self, session: AsyncSession, action: CardAction, what: str,
                              request_id: int | None) -> ApprovalRecord | ActionResult:
        """The request a button names (``request_id``, from its typed payload), or the answer when it names none
        or the button is from another request's card (both audited in ``session``)."""
        request = await store.get_request(session, request_id) if request_id is not None else None
        if request is None or request.kind not in self._kinds:
            await self._audit_in(session, action.actor, request_id, RefusalReason.NO_SUCH_REQUEST,
                                 {"action": what, "via_submit": action.via_submit}, verb=action.verb)
            return ActionResult(message=f"I can't find that request. {_NOTHING_CHANGED} Type **my requests** to see "
                                        "yours.")
        if action.card_activity_id:
            subjects = await store.card_subjects_of_activity(session, action.card_activity_id)
            if subjects and subject_of(request.id) not in subjects:
                await self._audit_in(session, action.actor, request.id, RefusalReason.WRONG_CARD,
                                     {"action": what, "card_subjects": sorted(subjects)}, verb=action.verb,
                                     request=request)
                # The request it names is not named back: the data was not sent by this card.
                return ActionResult(message=f"That button does not belong to the request it names. {_NOTHING_CHANGED}")
        return await store.changes_of_round(session, await marked_if_held(session, request))

    async def load_request(self, action: CardAction, what: str) -> ApprovalRecord | ActionResult:
        """``load_request_in`` in a unit of work of its own. Kinds use it for their own buttons too."""
        async with self._db.transaction() as session:
            return await self.load_request_in(session, action, what, request_id_of(action))

    async def decide(self, action: CardAction) -> ActionResult:
        """Approve, reject or ask for changes (verb `approval_decide`): one unit of work, refusals audited in it."""
        button = button_payload(action, DecisionButton)
        comment = button.comment
        now = self._clock()
        roles = (await self._directory.roles_of(action.actor.aad_object_id)).roles  # before: may ask Graph
        async with self._db.transaction() as session:
            loaded = await self.load_request_in(session, action, "decide", button.request_id)
            if isinstance(loaded, ActionResult):
                return loaded
            request = loaded
            decision = button.decision
            if decision is None or decision not in DECIDER_ACTIONS:
                return ActionResult(message=f"That button is out of date. {_NOTHING_CHANGED}")
            authority, delegation = await self._authority_for(session, action.actor, roles, now)
            try:
                transition = check_action(
                    request, decision, actor_aad_object_id=action.actor.aad_object_id, actor_name=action.actor.name,
                    authority=authority, comment=comment, card_round=button.round,
                )
                # Issue 17: a kind may ask the decider to confirm an approval first (a runner with no training).
                confirm = getattr(self._kinds[request.kind], "confirm_approval", None)
                if decision is ApprovalAction.APPROVE and not button.confirmed and confirm is not None:
                    asked = await confirm(session, request, comment)
                    if asked is not None:
                        return ActionResult(card=asked)
                after, event_id = await store.apply(session, request, transition, now=now)
            except ApprovalRefused as refusal:
                return await self._refused(session, action, refusal, request, authority, delegation, comment,
                                           what="decide", decision=decision, card_round=button.round,
                                           slt=Role.SLT in roles)
            await self._record_view_in(session, action.actor, after, RequestView.DECIDER, action.verb)
            next_steps = await self._kinds[after.kind].on_transition(session, after, transition, now)
            version = f"event{event_id}"
            done = {ApprovalAction.APPROVE: "Approved", ApprovalAction.REJECT: "Rejected",
                    ApprovalAction.REQUEST_CHANGES: "Sent back for changes"}[decision]
            answer = status_card(
                after, self.summary(after), calendar=self._calendar,
                notice=f"{done}. {after.requester_name} will be told, and SLT can see the decision.")
            await self._update_copies(session, after, version, answered=(action.card_activity_id, answer))
            requester_chat = await self._tell_requester(session, after, version, next_steps)
            kind = self._kinds[after.kind]
            if requester_chat is not None and isinstance(kind, RequesterFollowUp):
                await kind.after_requester_told(session, after, requester_chat)
        log.info("approval decided", extra={"request": after.reference, "decision": decision.value,
                                            "capacity": transition.capacity.value if transition.capacity else None})
        return ActionResult(card=answer)

    async def _refused(
        self, session: AsyncSession, action: CardAction, refusal: ApprovalRefused, request: ApprovalRecord,
        authority: Authority, delegation: Delegation | None, comment: str, *, what: str,
        decision: ApprovalAction | None = None, card_round: int | None = None, slt: bool = False,
    ) -> ActionResult:
        """The refused actor's answer; the refusal is audited in ``session`` (the action's unit of work).

        The answer shows the request only in the view the actor may have of it (`view_of`: ``authority`` is what they
        may decide, ``slt`` whether they hold the SLT role); someone who may have none is told why, with nothing of
        the request.
        """
        current = refusal.request or request
        await self._audit_in(session, action.actor, current.id, refusal.reason,
                             {"action": what, "decision": decision.value if decision else "",
                              "card_round": card_round, "via_submit": action.via_submit},
                             verb=action.verb, request=current)
        reason = refusal.reason
        if reason is RefusalReason.NOT_THE_REQUESTER:
            return ActionResult(message=f"Only the person who sent a request can change or withdraw it. "
                                        f"{_NOTHING_CHANGED}")
        acting_for = delegation.head_name if delegation else None
        shown = view_of(current, action.actor.aad_object_id, authority, slt=slt)
        notice = f"That can't be done now. {_NOTHING_CHANGED}"
        if reason is RefusalReason.NOT_A_DECIDER:
            notice = ("Only the Head Teacher, or a deputy while the Head Teacher has delegated approvals to them, can "
                      f"decide this request. {_NOTHING_CHANGED}")
        elif reason is RefusalReason.OWN_REQUEST:
            notice = (f"You can't decide your own request: the Head Teacher decides it. {_NOTHING_CHANGED}"
                      if delegation is not None else
                      "You can't decide your own request. The policy does not say who decides a request from the Head "
                      f"Teacher: ask SLT. {_NOTHING_CHANGED}")
        elif reason is RefusalReason.ACTING_FOR_REQUESTER:
            notice = (f"{acting_for or 'The Head Teacher'} made this request, and you decide approvals for them while "
                      "they are away: nobody decides a request made by the person they act for. The policy does not "
                      f"say who decides a request from the Head Teacher, so it waits: ask SLT. {_NOTHING_CHANGED}")
        elif reason is RefusalReason.NOT_PENDING:
            notice = _already(current, self._calendar)
        if shown is None:
            return ActionResult(card=refused_view_card(notice))
        card: AdaptiveCard
        if (reason is RefusalReason.OUT_OF_DATE and card_round is not None and card_round < current.round
                and shown in (RequestView.DECIDER, RequestView.REQUESTER)):
            # A button of a version that was replaced: the card it sat on says so, with no buttons (the current
            # version, with its buttons, is in a newer message).
            card = superseded_card(
                current, self.summary(current), calendar=self._calendar, version=card_round,
                notice=(f"This version was replaced by version {current.round}: "
                        + ("decide on the newer message, or type **approvals**. " if shown is RequestView.DECIDER
                           else "the newer message shows it. ") + _NOTHING_CHANGED))
        elif shown is RequestView.DECIDER and reason is RefusalReason.OUT_OF_DATE:
            card = decider_card(
                current, self.summary(current), acting_for=acting_for, calendar=self._calendar,
                banner=(f"This request was changed and sent again. Here is the current version. {_NOTHING_CHANGED}"
                        if card_round is not None and card_round < current.round else
                        "That button does not say which version of this request it showed. Here is the current "
                        f"version. {_NOTHING_CHANGED}"),
            )
        elif (shown is RequestView.DECIDER and decision is not None
              and reason in (RefusalReason.COMMENT_REQUIRED, RefusalReason.COMMENT_TOO_LONG)):
            error = (f"To {DECISION_TITLES[decision].lower()}, write a "
                     f"{'reason' if decision is ApprovalAction.REJECT else 'comment saying what should change'} "
                     "in the box, then press the button again."
                     if reason is RefusalReason.COMMENT_REQUIRED else "The comment is too long: shorten it.")
            card = decider_card(
                current, self.summary(current),
                refresh_user_ids=await self._teams_ids(session, [action.actor.aad_object_id]),
                acting_for=acting_for, error=error, comment=comment, calendar=self._calendar,
            )
        else:
            card = self._view_card(current, shown, action.actor, notice=notice, acting_for=acting_for)
        await self._record_view_in(session, action.actor, current, shown, action.verb)
        return ActionResult(card=card)

    async def refresh(self, action: CardAction) -> ActionResult:
        """The card as this user may see it (verb `approval_refresh`: the Refresh button, and Teams' automatic
        refresh for the users a card's ``refresh.userIds`` lists).

        The requester sees their request, a decider the buttons while it waits, SLT their view for the kinds they
        may see (`domain.approvals.view_of`); anyone else is refused with nothing of the request, audited. Read in
        one reader; a refusal, or a view of pupils' names, is then written in one unit of work.
        """
        request_id = button_payload(action, RequestButton).request_id
        now = self._clock()
        roles = (await self._directory.roles_of(action.actor.aad_object_id)).roles
        routing = await self._routing_within_budget(now) if roles & {Role.HEAD_TEACHER, Role.DEPUTY} else None
        shown: RequestView | None = None
        delegation: Delegation | None = None
        ids: list[str] = []
        async with self._db.sessions() as session:
            request = await store.get_request(session, request_id) if request_id is not None else None
            if request is not None:
                request = await store.changes_of_round(session, await marked_if_held(session, request))
            if request is not None and request.kind in self._kinds:
                authority, delegation = await self._authority_for(session, action.actor, roles, now)
                shown = view_of(request, action.actor.aad_object_id, authority, slt=Role.SLT in roles)
                if shown is RequestView.DECIDER and request.state is ApprovalState.PENDING and routing is not None:
                    ids = await self._teams_ids(session, routing.deciders_of(request))
        if request is None or request.kind not in self._kinds:
            await self._audit(action.actor, request_id, RefusalReason.NO_SUCH_REQUEST, {"action": "refresh"},
                              verb=action.verb)
            return ActionResult(message="I can't find that request.")
        if shown is None:
            await self._audit(action.actor, request.id, RefusalReason.NOT_ALLOWED_TO_SEE, {"action": "refresh"},
                              verb=action.verb, request=request)
            return ActionResult(card=refused_view_card(
                "You can't see this request. Only the person who sent it, the Head Teacher (or a deputy deciding for "
                "them) and SLT can see it."))
        if view_is_audited(request, shown):
            async with self._db.transaction() as session:
                await self._record_view_in(session, action.actor, request, shown, action.verb)
        return ActionResult(card=self._view_card(request, shown, action.actor, refresh_ids=ids,
                                                 acting_for=delegation.head_name if delegation else None))

    async def withdraw(self, action: CardAction) -> ActionResult:
        """The requester withdraws a request that is waiting (verb `approval_withdraw`)."""
        button = button_payload(action, RequestButton)
        now = self._clock()
        async with self._db.transaction() as session:
            loaded = await self.load_request_in(session, action, "withdraw", button.request_id)
            if isinstance(loaded, ActionResult):
                return loaded
            request = loaded
            try:
                transition = check_action(
                    request, ApprovalAction.WITHDRAW, actor_aad_object_id=action.actor.aad_object_id,
                    actor_name=action.actor.name, authority=Authority(head_teachers={}), card_round=button.round)
                after, event_id = await store.apply(session, request, transition, now=now)
            except ApprovalRefused as refusal:  # the requester's own view: no roles needed
                return await self._refused(session, action, refusal, request, Authority(head_teachers={}), None, "",
                                           what="withdraw", card_round=button.round)
            await self._kinds[after.kind].on_transition(session, after, transition, now)
            answer = status_card(after, self.summary(after), for_requester=True,
                                 notice="Withdrawn. The Head Teacher's card shows it.", calendar=self._calendar)
            await self._update_copies(session, after, f"event{event_id}", answered=(action.card_activity_id, answer))
        return ActionResult(card=answer)

    async def edit(self, action: CardAction) -> ActionResult:
        """The requester opens the form to change a request sent back for changes (verb `approval_edit`): the
        checks and any refusal in one unit of work, then the kind's form (which reads what it shows after it)."""
        button = button_payload(action, RequestButton)
        async with self._db.transaction() as session:
            loaded = await self.load_request_in(session, action, "edit", button.request_id)
            if isinstance(loaded, ActionResult):
                return loaded
            request = loaded
            if action.actor.aad_object_id.lower() != request.requester_aad_object_id.lower():
                await self._audit_in(session, action.actor, request.id, RefusalReason.NOT_THE_REQUESTER,
                                     {"action": "edit"}, verb=action.verb, request=request)
                return ActionResult(message=f"Only the person who sent a request can change it. {_NOTHING_CHANGED}")
            if request.state is not ApprovalState.CHANGES_REQUESTED:
                await self._audit_in(session, action.actor, request.id, RefusalReason.NOT_ALLOWED_NOW,
                                     {"action": "edit"}, verb=action.verb, request=request)
                return ActionResult(card=status_card(request, self.summary(request), for_requester=True,
                                                     notice=f"This request is {STATE_TITLES[request.state].lower()}: "
                                                            "it can only be changed after changes were asked for.",
                                                     calendar=self._calendar))
        return await self._kinds[request.kind].edit(action, request)

    # --- commands -------------------------------------------------------------------------------------

    async def my_requests(self, command: CommandRequest) -> CommandReply:
        async with self._db.sessions() as session:
            requests = await store.requests_of(session, command.actor.aad_object_id)
            draft = await store.get_draft(session, command.actor.aad_object_id)
        rows = [(request, self.summary(request)) for request in requests if request.kind in self._kinds]
        return CommandReply(cards=[my_requests_card(rows, draft_saved=draft.updated_at if draft else None,
                                                    calendar=self._calendar)])

    async def pending_for_decider(self, command: CommandRequest) -> CommandReply:
        """`approvals`: the requests waiting for this decider, each with its buttons (never their own, nor, acting
        as deputy, the Head Teacher's they act for).

        The cards go to the decider's chat through the outbox, each stored as a copy of its request's card in the
        unit of work that sends it (as the card routed to them is): a decision made elsewhere (on another copy, by a
        deputy, the requester withdrawing or a change asked for) then updates these too, so their buttons never
        outlive the request's state. The line saying how many wait goes first, through the outbox as well, so it
        arrives before the cards. Read in one reader; then one unit of work sends them, with the pupils' names shown
        audited (a refusal is written in a unit of work of its own).
        """
        now = self._clock()
        actor = command.actor
        lookup = await self._directory.roles_of(actor.aad_object_id)  # the check's, and who the sender decides for
        if (refused := await self._gate.refused(APPROVALS_COMMAND, APPROVALS, actor, lookup=lookup)) is not None:
            return CommandReply(texts=[refused])
        async with self._db.sessions() as session:
            authority, delegation = await self._authority_for(session, actor, lookup.roles, now)
            decider = authority.may_decide(actor.aad_object_id)
            waiting = decider and any(authority.may_decide_request(actor.aad_object_id, r)
                                      for r in await self._pending(session))
        if not decider:  # a deputy with no delegation running: the declaration admits them, the delegation does not
            await self._trail.record(audit.refusal(actor, APPROVALS_COMMAND, RecordType.NONE, None,
                                                   RefusalReason.NOT_A_DECIDER.value))
            return CommandReply(texts=[_ONLY_DECIDERS])
        if not waiting:
            return CommandReply(texts=["Nothing is waiting for a decision."])
        acting_for = delegation.head_name if delegation else None
        async with self._db.transaction() as session:
            # Read again, and held, in the unit of work that sends them: a request decided meanwhile is not sent with
            # buttons, and a decision made meanwhile waits for this and then updates the copies it sends.
            pending = [r for r in await self._pending(session, hold=True)
                       if authority.may_decide_request(actor.aad_object_id, r)]
            if not pending:
                return CommandReply(texts=["Nothing is waiting for a decision."])
            shown = [await store.changes_of_round(session, request) for request in pending[:_APPROVALS_SHOWN]]
            for request in shown:
                await self._record_view_in(session, actor, request, RequestView.DECIDER, "approvals")
            ids = await self._teams_ids(session, [actor.aad_object_id])
            cards = [decider_card(r, self.summary(r), refresh_user_ids=ids, acting_for=acting_for,
                                  calendar=self._calendar) for r in shown]
            heading = _waiting_line(len(pending))
            chat = await conversations.personal_chat_of(session, actor.aad_object_id)
            if chat is None or chat.stale:  # not reachable by a message of the bot's own: answered in the turn
                log.warning("decider's chat unknown: the approvals cards are not tracked copies")
                return CommandReply(texts=[heading], cards=cards)
            await enqueue(session, OutboxMessage.personal(chat.reference, {"type": "message", "text": heading}))
            for request, card in zip(shown, cards, strict=True):
                await _send_decider_copy(session, request, chat.reference, actor.aad_object_id, card)
        log.info("approvals sent as tracked copies", extra={"count": len(shown)})
        return CommandReply()

    async def delegate(self, command: CommandRequest) -> CommandReply:
        """`delegate to <deputy> until <date>` (the Head Teacher only)."""
        actor = command.actor
        if (refused := await self._gate.refused(DELEGATE_COMMAND, DELEGATE, actor)) is not None:
            return CommandReply(texts=[refused])
        now = self._clock()
        try:
            wanted = parse_delegation(command.argument, self._calendar.school_date(now))
        except DelegationError as error:
            return CommandReply(texts=[str(error)])
        try:
            deputies = await self._directory.holders_of(Role.DEPUTY)
        except DirectoryUnavailableError:
            return CommandReply(texts=["I can't reach the school's directory to check who the deputies are just now. "
                                       "Please try again in a few minutes."])
        deputy, problem = _match_person(wanted.deputy_text, deputies)
        if deputy is None:
            return CommandReply(texts=[problem])
        if deputy.aad_object_id.lower() == actor.aad_object_id.lower():
            return CommandReply(texts=["You can't delegate to yourself."])
        starts_at, ends_at = delegation_window(wanted.until, now, self._calendar)
        before = await self._routing_within_budget(now)  # the directory, before the unit of work
        routed = 0
        async with self._db.transaction() as session:
            delegation, replaced = await store.create_delegation(
                session, head_aad=actor.aad_object_id, head_name=actor.name, deputy_aad=deputy.aad_object_id,
                deputy_name=deputy.name, starts_at=starts_at, ends_at=ends_at, now=now,
            )
            if replaced is not None:
                await store.claim_summary(session, replaced.id, now)  # the new delegation carries on from it
            pending = await self._pending(session, hold=True)  # routed to the deputy below
            chat = await conversations.personal_chat_of(session, deputy.aad_object_id)
            if chat is not None:
                await enqueue(session, OutboxMessage.personal(
                    chat.reference, card_message(delegation_notice_card(delegation, calendar=self._calendar),
                                                 "You can decide approvals for the Head Teacher"),
                    dedupe_key=f"delegation:{delegation.id}:notice",
                ))
            if before is not None:  # else the reminders worker routes them
                routed = await self._route_all(session, pending, before.with_delegation(delegation, now))
        texts = []
        if chat is None:
            texts.append(f"{deputy.name} has not opened the bot yet: requests will reach them as soon as they do.")
        log.info("approvals delegated", extra={"delegation": delegation.id, "routed": routed})
        return CommandReply(cards=[delegation_card(delegation, pending=len(pending), replaced=replaced,
                                                   calendar=self._calendar)], texts=texts)

    async def end_delegation(self, command: CommandRequest) -> CommandReply:
        """`end delegation`: the Head Teacher is back; tells them what was decided meanwhile."""
        actor = command.actor
        if (refused := await self._gate.refused(END_DELEGATION_COMMAND, END_DELEGATION, actor)) is not None:
            return CommandReply(texts=[refused])
        now = self._clock()
        async with self._db.transaction() as session:
            ended = await store.end_delegation(session, actor.aad_object_id, now=now)
            if ended is None:
                return CommandReply(texts=["You have no delegation running."])
            await store.claim_summary(session, ended.id, now)
            card = await self._summary_card(session, ended)
        return CommandReply(texts=[f"Delegation to {ended.deputy_name} ended. Requests come to you again."],
                            cards=[card])

    async def _summary_card(self, session: AsyncSession, delegation: Delegation) -> AdaptiveCard:
        decided = await store.decided_by_deputy_between(
            session, delegation.deputy_aad_object_id, delegation.starts_at, delegation.effective_end)
        pending = await self._pending(session)
        return delegation_summary_card(delegation, [(r, self.summary(r)) for r in decided if r.kind in self._kinds],
                                       still_pending=len(pending), calendar=self._calendar)

    # --- background work (bot/reminders.py runs these) ------------------------------------------------
    # Each reads the directory first, then does its writing in one unit of work (none when nothing is due).

    async def _pending(self, session: AsyncSession, *, hold: bool = False) -> list[ApprovalRecord]:
        """The requests of the desk's kinds waiting for a decision; with ``hold``, held until ``session``'s transaction
        ends (`store.approvals.pending_requests`): for a unit of work that sends their cards."""
        return [r for r in await store.pending_requests(session, hold=hold) if r.kind in self._kinds]

    async def _route_all(self, session: AsyncSession, requests: Sequence[ApprovalRecord], routing: Routing) -> int:
        """Send each request's card to every current decider who does not have it yet; how many were sent."""
        sent_count = 0
        for request in requests:
            sent, _ = await self._route(session, request, routing.recipients(request), routing)
            sent_count += len(sent)
        return sent_count

    async def _current_routing(self, now: datetime, what: str) -> Routing | None:
        """Who decides now; None when the directory is down (``what`` names the work put off, for the log)."""
        try:
            return await self.routing(now)
        except DirectoryUnavailableError:
            log.warning("directory unavailable: %s this time", what)
            return None

    async def route_pending(self, now: datetime | None = None) -> int:
        """Send each pending request's card to every current decider who does not have it yet."""
        now = now or self._clock()
        routing = await self._current_routing(now, "pending requests not routed")
        if routing is None:
            return 0
        async with self._db.transaction() as session:
            return await self._route_all(session, await self._pending(session, hold=True), routing)

    async def send_reminders(self, now: datetime | None = None, *, school_days: int = 2) -> int:
        """Remind the deciders of each request pending longer than ``school_days`` school days, once a day."""
        now = now or self._clock()
        routing = await self._current_routing(now, "reminders not sent")
        if routing is None:
            return 0
        async with self._db.sessions() as session:
            due = [request for request in await self._pending(session)
                   if request.pending_since is not None and reminder_due(
                       request.pending_since, now, school_days=school_days,
                       last_reminded_on=await store.last_reminded_on(session, request.id), calendar=self._calendar)]
        if not due:
            return 0
        today = self._calendar.school_date(now)
        reminded = 0
        async with self._db.transaction() as session:
            for request in due:
                if not await store.claim_reminder(session, request, today):
                    continue  # reminded meanwhile, or no longer pending
                waited = self._calendar.school_days_between(request.pending_since or now, now)
                sent, missing = await self._route(
                    session, request, routing.recipients(request), routing,
                    key_suffix=f":reminder:{today.isoformat()}",
                    banner=f"Reminder: this request has waited {waited} school day{'s' if waited != 1 else ''} "
                           "for a decision.",
                )
                await store.record_reminder(session, request, now=now, recipients=sent)
                reminded += 1
                if missing:
                    log.warning("reminder not deliverable to some deciders (never opened the bot)",
                                extra={"request": request.reference, "missing": len(missing)})
        return reminded

    async def summarise_ended_delegations(self, now: datetime | None = None) -> int:
        """Tell each Head Teacher whose delegation is over what was decided while they were away."""
        now = now or self._clock()
        async with self._db.sessions() as session:
            ended = await store.delegations_to_summarise(session, now)
        if not ended:
            return 0
        sent = 0
        async with self._db.transaction() as session:
            for delegation in ended:
                chat = await conversations.personal_chat_of(session, delegation.head_aad_object_id)
                if chat is None:
                    continue  # told once they open the bot
                if not await store.claim_summary(session, delegation.id, now):
                    continue
                card = await self._summary_card(session, delegation)
                await enqueue(session, OutboxMessage.personal(
                    chat.reference, card_message(card, "Approvals decided while you were away"),
                    dedupe_key=f"delegation:{delegation.id}:summary",
                ))
                sent += 1
        return sent


def _waiting_line(count: int) -> str:
    """The line before the `approvals` cards: how many wait, and that only the oldest are shown when there are more."""
    if count > _APPROVALS_SHOWN:
        return (f"{count} requests waiting. Here are the oldest {_APPROVALS_SHOWN}: decide these first, then type "
                "**approvals** for the rest.")
    return f"{count} request{'s' if count != 1 else ''} waiting:"


def _already(request: ApprovalRecord, calendar: SchoolCalendar) -> str:
    """What the late one is told: who acted first, and when."""
    if request.state in (ApprovalState.APPROVED, ApprovalState.REJECTED, ApprovalState.CHANGES_REQUESTED):
        by = request.decided_by_name or "someone"
        acting = " (acting for the Head Teacher)" if request.decided_as is Capacity.ACTING_DEPUTY else ""
        return (f"Already {STATE_TITLES[request.state].lower()} by {by}{acting} on "
                f"{when(request.decided_at, calendar)}. {_NOTHING_CHANGED}")
    if request.state is ApprovalState.WITHDRAWN:
        return f"{request.requester_name} withdrew this request. {_NOTHING_CHANGED}"
    return f"This request is {STATE_TITLES[request.state].lower()}. {_NOTHING_CHANGED}"


_Payload = TypeVar("_Payload", bound=BaseModel)


def button_payload(action: CardAction, model: type[_Payload]) -> _Payload:
    """The verb's payload as the router validated it (``action.payload``), or validated here for a caller that
    did not come through the router.

    Raises:
        ValidationError: the card data does not fit ``model`` (the router answers this before a handler runs).
    """
    if isinstance(action.payload, model):
        return action.payload
    return model.model_validate(action.data)


def request_id_of(action: CardAction) -> int | None:
    """The request a button names (None: none). A kind's own button whose payload is another model is read as a
    ``RequestButton`` too: its data names the request the same way."""
    if isinstance(action.payload, RequestButton):
        return action.payload.request_id
    try:
        return RequestButton.model_validate(action.data).request_id
    except ValidationError:
        return None


def _match_person(typed: str, people: Sequence[Person]) -> tuple[Person | None, str]:
    """The deputy a typed name means: the whole name, else a unique first name or part of a name."""
    wanted = re.sub(r"\s+", " ", typed).strip().lower()
    exact = [p for p in people if p.name.lower() == wanted]
    candidates = exact or [p for p in people if wanted in p.name.lower()
                           or p.name.lower().split(" ")[0] == wanted]
    names = ", ".join(p.name for p in people) or "nobody"
    if len(candidates) == 1:
        return candidates[0], ""
    if not candidates:
        return None, (f"{typed} is not a deputy in the school's directory. Approvals can be delegated to: "
                      f"{names}.")
    return None, f"{typed} could mean {', '.join(p.name for p in candidates)}: type the full name."


