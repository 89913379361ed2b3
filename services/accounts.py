"""Propose a school social media account: the business case form, drafts, the register (use cases).

`build_accounts` builds the shared `ApprovalDesk` (decide, withdraw, refresh, delegation, `my requests`,
`approvals`) and the accounts kind on it; `dialogs/accounts.py` (`register_accounts`) registers:

- flow `propose_account` (the help card's button, `new account`, `propose an account`): the form, resuming
  the person's draft if they have one;
- verbs `account_submit`, `account_save_draft`, `account_discard_draft`, each with an `AccountFormButton`
  payload (`cards/accounts.py`) the router validates first;
- command `accounts`: the account register (SLT and the Head Teacher also see which accounts need a
  hand-over).

Units of work: who the runners are is asked of the directory first, then the personal chats are read in one
reader (`store.conversations.people_with_personal_chats`); each use case then writes in at most one unit of
work (the draft, or the request through the desk). The kind's hook `on_transition` runs inside the desk's
decision, with its session (the account register gains an approved account in the same transaction).

Policy: "Process for creating new accounts", "Roles & Responsibilities" and "Monitoring" (see
`domain/accounts.py`). Where a check fails, the same card comes back with the values kept and what to fix
under each field; the draft is kept.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cards.accounts import (
    AccountFormButton,
    account_form_card,
    account_register_card,
    account_summary,
    form_closed_card,
    handover_alert_card,
)
from cards.approvals import RequestSummary, status_card, when
from cards.base import AdaptiveCard
from cards.replies import ActionResult, CommandReply
from cards.training import untrained_confirm_card
from domain.accounts import (
    MAX_RUNNERS,
    Q_PASSWORDS,
    Q_TRAINING,
    AccountCase,
    HandoverCheck,
    RegisteredAccount,
    Runner,
    RunnerRecord,
    StaffDirectory,
    StaffMember,
    changed_fields,
    check_handover,
    runner_field,
    runner_ids,
    validate_form,
)
from domain.actors import Actor
from domain.approvals import (
    ApprovalKind,
    ApprovalRecord,
    ApprovalRefused,
    ApprovalState,
    RefusalReason,
    Transition,
)
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.roles import DirectoryUnavailableError, Person, Role, RoleDirectory
from services.approvals import ApprovalDesk, Clock, Submitted, button_payload, card_message
from services.audit import AuditTrail
from services.audit import refusal as audit_refusal
from services.requests import CardAction, CommandRequest
from store import account_register as register_store
from store import acknowledgements as policy_notices
from store import approvals as store
from store import conversations
from store import training as training_records
from store.base import utcnow
from store.conversations import ChatPerson, ConversationStore, SchoolSettings
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ROLES_WITH_PEOPLE = tuple(role for role in Role if role is not Role.STAFF)
_LISTED_STAFF = 200  # a staff file's people offered as the runners' static choices (more: type to search)

# Issue 17: each runner's standing in the school's records (acknowledgement of the current policy, latest training),
# by lower-case Entra id; ``services.training.TrainingRecords.records_for`` gives one for the policy in use.
RunnerRecordsLookup = Callable[[list[str]], Awaitable[Mapping[str, RunnerRecord]]]


class AccountsFeature:
    """The `new_account` approval kind and the account register."""

    kind = ApprovalKind.NEW_ACCOUNT

    def __init__(self, desk: ApprovalDesk, database: Database, directory: RoleDirectory,
                 *, runner_records: RunnerRecordsLookup, clock: Clock = utcnow,
                 trail: AuditTrail | None = None) -> None:
        """Args:
        runner_records: the runners' standing in the school's records, looked up whenever a case is sent: what
            the Head Teacher's card shows of each runner's policy reading and training (never the applicant's word).
        """
        self._desk = desk
        self._db = database
        self._directory = directory
        self._runner_records = runner_records
        self._clock = clock
        self._trail = trail or AuditTrail(database, clock=clock)

    # --- KindHandler ----------------------------------------------------------------------------------

    def summary(self, request: ApprovalRecord) -> RequestSummary:
        return account_summary(AccountCase.model_validate(request.payload))

    # --- issue 17: the runners' acknowledgement and training from the school's records -------------------------

    async def _with_records(self, case: AccountCase) -> AccountCase:
        """The case with each runner's standing from the school's records, now (the form's word is never taken)."""
        found = await self._runner_records([runner.aad_object_id for runner in case.runners])
        return case.with_records({aad.lower(): record for aad, record in found.items()})

    async def confirm_approval(self, session: AsyncSession, request: ApprovalRecord, comment: str) -> \
            AdaptiveCard | None:
        """Approving a case whose runners have no training recorded now asks the Head Teacher to confirm (None: all
        trained)."""
        case = AccountCase.model_validate(request.payload)
        untrained = await _untrained(session, case)
        if not untrained:
            return None
        return untrained_confirm_card(case.title(), request.reference, request.id, request.round,
                                      [runner.name for runner in untrained], comment)

    def changes(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
        """What a resubmitted business case changed (the desk's `ChangeSummary`): "aim, runners"."""
        return changed_fields(AccountCase.model_validate(before), AccountCase.model_validate(after))

    async def on_transition(
        self, session: AsyncSession, after: ApprovalRecord, transition: Transition, now: datetime
    ) -> list[str]:
        case = AccountCase.model_validate(after.payload)
        if after.state is ApprovalState.APPROVED:
            await store.add_account(session, after, case, now=now)
            untrained = await _untrained(session, case)
            for runner in untrained:  # issue 17: SLT are followed up until each one's training is recorded
                await policy_notices.open_notice(session, policy_notices.TRAINING_FOLLOWUP, runner.aad_object_id,
                                                 after.reference, now, runner.name)
            steps = [
                f"It is now in the school's account register with its administrators: {', '.join(case.runner_names)}. "
                "Type accounts to see the register.",
                f"The administrators keep its login details safe (the policy: \u201c{Q_PASSWORDS.text}\u201d). "
                "The bot never asks for or stores passwords.",
            ]
            if untrained:
                steps.append("Approved with training to follow for " + ", ".join(r.name for r in untrained)
                             + ": SLT will be reminded until their training is recorded. The policy: "
                             f"\u201c{Q_TRAINING.text}\u201d")
            return steps
        if after.state is ApprovalState.CHANGES_REQUESTED:
            return ["Press Change and resend to edit your business case and send it again, or Withdraw."]
        if after.state is ApprovalState.REJECTED:
            return ["To propose a different account, type new account."]
        return []

    async def edit(self, action: CardAction, request: ApprovalRecord) -> ActionResult:
        """The form filled with the request (or the draft of its change), for the requester to change it."""
        holders = await self._role_holders()  # the directory, before the database
        async with self._db.sessions() as session:
            draft = await store.get_draft(session, action.actor.aad_object_id, request.id)
            chats = await conversations.people_with_personal_chats(session)
        values = dict(draft.values) if draft else AccountCase.model_validate(request.payload).to_form()
        staff = _Staff.of(holders, chats, action.actor)
        return ActionResult(card=account_form_card(
            values, await self._form_people(staff, values), draft_saved_at=draft.updated_at if draft else None,
            changing=(request.id, request.reference, request.decision_comment), form_id=_new_form_id(),
            calendar=self._desk.calendar,
        ))

    # --- the form -------------------------------------------------------------------------------------

    async def start(self, command: CommandRequest) -> CommandReply:
        """`new account`: the form, with the person's draft if they left one."""
        if command.actor.conversation_kind not in (None, "personal"):
            return CommandReply(texts=["Let's do this in a personal chat with me: open the bot's chat and type "
                                       "**new account**."])
        holders = await self._role_holders()
        async with self._db.sessions() as session:
            draft = await store.get_draft(session, command.actor.aad_object_id)
            chats = await conversations.people_with_personal_chats(session)
        texts = []
        if draft is not None:
            texts.append(f"Here is the draft you saved {when(draft.updated_at, self._desk.calendar)}. Carry on, or "
                         "press Discard draft to start again.")
        values = dict(draft.values) if draft else {}
        staff = _Staff.of(holders, chats, command.actor)
        card = account_form_card(values, await self._form_people(staff, values),
                                 draft_saved_at=draft.updated_at if draft else None, form_id=_new_form_id(),
                                 calendar=self._desk.calendar)
        return CommandReply(texts=texts, cards=[card])

    async def submit(self, action: CardAction) -> ActionResult:
        """`account_submit`: check the case; send it, or show what to fix (the draft is kept).

        Who the runners are is read first (directory, one reader); then one unit of work writes: the draft when
        something needs fixing, else the request (the desk's submit or resubmit).
        """
        button = button_payload(action, AccountFormButton)
        values, request_id, actor = dict(button.values), button.request_id, action.actor
        staff, people = await self._people(values, actor)
        check = validate_form(values, people)
        values = _as_chosen(values, people)
        if check.case is None:
            async with self._db.transaction() as session:
                if await self._not_theirs_in(session, action, request_id):
                    return ActionResult(message=_NOT_YOUR_REQUEST)
                await store.save_draft(session, actor.aad_object_id, values, now=self._clock(), for_request=request_id)
                changing = await _changing(session, request_id)
            return ActionResult(card=account_form_card(
                values, self._choices(staff, people), errors=check.errors, changing=changing, form_id=button.form_id,
                calendar=self._desk.calendar,
            ))
        payload = (await self._with_records(check.case)).model_dump(mode="json")

        async def forget_draft(session: AsyncSession, request: ApprovalRecord) -> None:
            await store.delete_draft(session, actor.aad_object_id, request_id)

        def requester_card(submitted: Submitted) -> AdaptiveCard:
            return status_card(
                submitted.request, self.summary(submitted.request), for_requester=True,
                notice=_sent_notice(submitted), refresh_user_ids=[actor.teams_user_id], calendar=self._desk.calendar,
            )

        if request_id is not None:
            try:
                submitted = await self._desk.resubmit(actor, request_id, payload, after_change=forget_draft,
                                                      kind=self.kind, shown_in=action.card_activity_id,
                                                      requester_card=requester_card)
            except ApprovalRefused as refusal:
                return await self._resubmit_refused(refusal, request_id)
        else:
            submitted = await self._desk.submit(self.kind, actor, payload, client_key=button.form_id,
                                                after_create=forget_draft, shown_in=action.card_activity_id,
                                                requester_card=requester_card)
        return ActionResult(card=requester_card(submitted))

    async def _resubmit_refused(self, refusal: ApprovalRefused, request_id: int) -> ActionResult:
        request = refusal.request
        if refusal.reason is RefusalReason.NOT_THE_REQUESTER or request is None:
            return ActionResult(message="Only the person who sent a request can change it. Nothing was changed.")
        return ActionResult(card=status_card(
            request, self.summary(request), for_requester=True,
            notice=f"This request is {request.state.value.replace('_', ' ')} now, so it was not sent again. "
                   "Nothing was changed.", calendar=self._desk.calendar,
        ))

    async def save_draft(self, action: CardAction) -> ActionResult:
        """`account_save_draft`: keep what was typed; `new account` brings it back."""
        button = button_payload(action, AccountFormButton)
        values, request_id = dict(button.values), button.request_id
        staff, people = await self._people(values, action.actor)
        values = _as_chosen(values, people)
        now = self._clock()
        async with self._db.transaction() as session:
            if await self._not_theirs_in(session, action, request_id):
                return ActionResult(message=_NOT_YOUR_REQUEST)
            await store.save_draft(session, action.actor.aad_object_id, values, now=now, for_request=request_id)
            changing = await _changing(session, request_id)
        resume = "press Change and resend again" if request_id is not None else "type **new account**"
        return ActionResult(card=account_form_card(
            values, self._choices(staff, people),
            notice=f"Draft saved {when(now, self._desk.calendar)}. To carry on later, {resume}.",
            changing=changing, form_id=button.form_id, calendar=self._desk.calendar,
        ))

    async def _not_theirs_in(self, session: AsyncSession, action: CardAction, request_id: int | None) -> bool:
        """Whether the form names a request that is not the sender's own account request (its draft would show that
        request's reference and the decider's comment): the refusal is audited in ``session``."""
        if request_id is None:
            return False
        request = await store.get_request(session, request_id)
        if request is not None and request.kind is self.kind and \
                request.requester_aad_object_id.lower() == action.actor.aad_object_id.lower():
            return False
        await self._trail.record_in(session, audit_refusal(
            action.actor, action.verb, RecordType.APPROVAL_REQUEST,
            request.reference if request is not None else request_id,
            "not_the_requester" if request is not None else "no_such_request"))
        return True

    async def discard_draft(self, action: CardAction) -> ActionResult:
        """`account_discard_draft`: forget the draft (of a new proposal, or of a request's change)."""
        request_id = button_payload(action, AccountFormButton).request_id
        async with self._db.transaction() as session:
            await store.delete_draft(session, action.actor.aad_object_id, request_id)
        return ActionResult(card=form_closed_card("Draft discarded. Type new account to start again."))

    # --- people ---------------------------------------------------------------------------------------
    # Asked of the directory before any unit of work; the personal chats read in one reader per use case.

    async def _role_holders(self) -> list[Person]:
        """Everyone holding a role the directory can list now (a role it cannot list is left out), and the staff
        a staff list names (a configuration file lists them; Graph is asked as the person types instead)."""
        holders: list[Person] = []
        for role in _ROLES_WITH_PEOPLE:
            try:
                holders += await self._directory.holders_of(role)
            except DirectoryUnavailableError:
                continue
        if isinstance(self._directory, StaffDirectory):
            try:
                holders += await self._directory.search_staff("", limit=_LISTED_STAFF)
            except DirectoryUnavailableError:
                pass
        return holders

    async def _people(self, values: Mapping[str, str], actor: Actor) -> tuple[_Staff, dict[str, StaffMember]]:
        """The staff the bot can name and who the runners chosen on the form are (directory, one reader,
        directory: no unit of work is open while the directory is asked)."""
        holders = await self._role_holders()
        async with self._db.sessions() as session:
            chats = await conversations.people_with_personal_chats(session)
        staff = _Staff.of(holders, chats, actor)
        return staff, await self._resolve(staff, runner_ids(values))

    async def search_staff(self, text: str, *, limit: int = 10) -> list[Person]:
        """The runner slots' typeahead: staff whose name matches ``text``, from the school's directory (any member
        of staff, not only the people who have opened the bot), and the people the bot knows from their chats.
        Empty when the directory cannot answer and nobody the bot knows matches."""
        wanted = " ".join(text.split())[:64]
        found: dict[str, Person] = {}
        if isinstance(self._directory, StaffDirectory) and wanted:
            try:
                for person in await self._directory.search_staff(wanted, limit=limit):
                    found.setdefault(person.aad_object_id.lower(), person)
            except DirectoryUnavailableError:
                log.warning("directory unavailable: the runner search answers from the people the bot knows")
        if len(found) < limit and wanted:
            async with self._db.sessions() as session:
                chats = await conversations.people_with_personal_chats(session)
            for chat in chats:
                if chat.name and wanted.lower() in chat.name.lower():
                    found.setdefault(chat.aad_object_id.lower(), Person(chat.aad_object_id, chat.name))
        return sorted(found.values(), key=lambda p: (not p.name.lower().startswith(wanted.lower()),
                                                     p.name.lower()))[:limit]

    async def _resolve(self, staff: _Staff, ids: Sequence[str]) -> dict[str, StaffMember]:
        """Who the chosen runner values are, on the server, through the school's directory.

        A value is an Entra object id (Teams' people picker, the bot's own typeahead, the static choices) or a
        Teams user id (the Agents Playground's people picker gives these), the latter known from the person's chat
        with the bot. Where the directory can say who is staff (``StaffDirectory``), it names them: anyone on the
        staff list can run an account, whether or not they have opened the bot, and an id it does not list as staff
        (unknown, a leaver, a guest) is refused, however it was chosen. A directory that cannot say (an older one)
        is asked only whether the person is still there, for someone the bot knows by name. The person sending the
        form is named as Teams names them in this very activity.
        """
        found: dict[str, StaffMember] = {}
        for given in ids:
            aad, known_name = given, staff.names.get(given.lower())
            if known_name is None and given.lower() in staff.by_teams_id:
                aad, chat_name = staff.by_teams_id[given.lower()]
                known_name = staff.names.get(aad.lower()) or chat_name or None
            if not _GUID.match(aad):
                continue  # not a person the bot can identify: the form says they are not on the staff list
            if isinstance(self._directory, StaffDirectory):
                try:
                    person = await self._directory.staff_member(aad)
                except DirectoryUnavailableError:
                    found[given] = StaffMember(aad_object_id=aad, name=known_name or "", checked=known_name is not None)
                    continue
                if person is not None:
                    found[given] = StaffMember(aad_object_id=person.aad_object_id, name=person.name)
                elif known_name is not None and not self._directory.lists_everyone and await self._still_here(aad):
                    # Someone the bot knows (they use it, or hold a role) but a staff file does not list: a
                    # configuration file cannot see the whole tenant (directory/static.py).
                    found[given] = StaffMember(aad_object_id=aad, name=known_name)
                elif known_name is not None and not self._directory.lists_everyone:
                    found[given] = StaffMember(aad_object_id=aad, name=known_name, in_directory=False)
                continue
            if known_name is None:
                continue
            found[given] = StaffMember(aad_object_id=aad, name=known_name, in_directory=await self._still_here(aad))
        return found

    async def _still_here(self, aad: str) -> bool:
        try:
            return await self._directory.is_in_directory(aad)
        except DirectoryUnavailableError:
            return True  # do not refuse a runner on a guess; the register's hand-over check runs later

    async def _form_people(self, staff: _Staff, values: Mapping[str, str]) -> list[tuple[str, str]]:
        return self._choices(staff, await self._resolve(staff, runner_ids(values)))

    @staticmethod
    def _choices(staff: _Staff, chosen: Mapping[str, StaffMember]) -> list[tuple[str, str]]:
        """The runners' static choices, plus each person already chosen under the value the form holds."""
        known = {aad.lower() for aad, _ in staff.choices}
        extra: dict[str, tuple[str, str]] = {}
        for given, person in chosen.items():
            if person.name and person.aad_object_id.lower() not in known:
                extra.setdefault(person.aad_object_id.lower(), (person.aad_object_id, person.name))
            if person.name and given.lower() != person.aad_object_id.lower() and given.lower() not in known:
                extra.setdefault(given.lower(), (given, person.name))  # a value the form may still hold
        return list(staff.choices) + list(extra.values())

    # --- the register ---------------------------------------------------------------------------------

    async def _handover_checks(self, accounts: Sequence[RegisteredAccount]) -> list[HandoverCheck]:
        """Each account's administrators checked against the directory (asked outside any unit of work); a closed
        or transferred account needs no hand-over and is not checked."""
        checks = []
        for account in accounts:
            if not account.is_open:
                checks.append(check_handover(account, [a.aad_object_id for a in account.administrators]))
                continue
            try:
                here = [a.aad_object_id for a in account.administrators
                        if await self._directory.is_in_directory(a.aad_object_id)]
            except DirectoryUnavailableError:
                checks.append(check_handover(account, None))
                continue
            checks.append(check_handover(account, here))
        return checks

    async def list_accounts(self, command: CommandRequest) -> CommandReply:
        """`accounts`: the register; SLT and the Head Teacher also see which accounts need a hand-over."""
        lookup = await self._directory.roles_of(command.actor.aad_object_id)
        show_handover = bool(lookup.roles & {Role.SLT, Role.HEAD_TEACHER})
        async with self._db.sessions() as session:
            accounts = await register_store.accounts_with_closures(session)  # closed ones shown as closed
        if show_handover:
            checks = await self._handover_checks(accounts)
        else:
            checks = [check_handover(a, [admin.aad_object_id for admin in a.administrators]) for a in accounts]
        return CommandReply(cards=[account_register_card(checks, show_handover=show_handover,
                                                         calendar=self._desk.calendar)])

    async def flag_handovers(self) -> int:
        """Post each account that needs a hand-over to the SLT channel, once per set of leavers: one reader, the
        directory, then one unit of work for every post (none when nothing needs one)."""
        async with self._db.sessions() as session:
            channel = await self._desk.slt_channel(session)
            accounts = [a for a in await register_store.accounts_with_closures(session) if a.is_open] \
                if channel is not None else []
        if channel is None:
            return 0
        needing = [check for check in await self._handover_checks(accounts) if check.needs_handover]
        if not needing:
            return 0
        flagged = 0
        async with self._db.transaction() as session:
            for check in needing:
                gone = ",".join(sorted(a.aad_object_id.lower() for a in check.gone))
                key = f"account:{check.account.id}:handover:{gone}"
                if await store.outbox_key_exists(session, key):
                    continue
                await enqueue(session, OutboxMessage.channel_post(
                    channel, card_message(handover_alert_card(check),
                                          f"{check.account.account_name} needs a hand-over"),
                    dedupe_key=key,
                ))
                flagged += 1
        return flagged


@dataclass(frozen=True)
class _Staff:
    """The staff the bot can name, read once per use case: the directory's role holders and everyone who has a
    personal chat with the bot (the runners' choice list where the Teams people picker is missing, e.g. the
    Agents Playground).

    Attributes:
        choices: (Entra object id, name) of each, sorted by name.
        names: Entra object id (lower case) → name, with the person acting named as Teams names them now.
        by_teams_id: Teams user id (lower case) → (Entra object id, name) of everyone with a personal chat.
    """

    choices: tuple[tuple[str, str], ...]
    names: Mapping[str, str]
    by_teams_id: Mapping[str, tuple[str, str]]

    @classmethod
    def of(cls, holders: Sequence[Person], chats: Sequence[ChatPerson], actor: Actor | None) -> _Staff:
        people: dict[str, tuple[str, str]] = {}
        for person in holders:
            people.setdefault(person.aad_object_id.lower(), (person.aad_object_id, person.name))
        by_teams_id: dict[str, tuple[str, str]] = {}
        for chat in chats:  # newest chat first: the name Teams gave most recently wins
            if chat.name:
                people.setdefault(chat.aad_object_id.lower(), (chat.aad_object_id, chat.name))
            if chat.teams_user_id:
                by_teams_id.setdefault(chat.teams_user_id.lower(), (chat.aad_object_id, chat.name or ""))
        choices = tuple(sorted(people.values(), key=lambda p: p[1].lower()))
        names = {aad.lower(): name for aad, name in choices}
        if actor is not None and actor.name:
            names[actor.aad_object_id.lower()] = actor.name
            if actor.teams_user_id:
                by_teams_id[actor.teams_user_id.lower()] = (actor.aad_object_id, actor.name)
        return cls(choices=choices, names=names, by_teams_id=by_teams_id)


def _as_chosen(values: Mapping[str, str], people: Mapping[str, StaffMember]) -> dict[str, str]:
    """The form's values with each runner slot holding the Entra object id of the person chosen in it (a Teams user
    id from the Playground's picker becomes the person's object id), so each slot shows, and keeps, its own
    person when the card comes back."""
    out = dict(values)
    for slot in range(1, MAX_RUNNERS + 1):
        given = out.get(runner_field(slot), "")
        person = people.get(given)
        if person is not None and person.checked:
            out[runner_field(slot)] = person.aad_object_id
    return out


async def _changing(session: AsyncSession, request_id: int | None) -> tuple[int, str, str | None] | None:
    """The request a form changes, as the form names it (id, reference, the decider's comment)."""
    if request_id is None:
        return None
    request = await store.get_request(session, request_id)
    return (request.id, request.reference, request.decision_comment) if request else None


def _sent_notice(submitted: Submitted) -> str:
    if not submitted.new:
        return "You already sent this form: here is the request it made."
    who = ", ".join(submitted.routed_to) or "the Head Teacher"
    sent = "Sent" if submitted.request.round == 1 else f"Sent again (version {submitted.request.round})"
    notice = f"{sent} to {who} for a decision. SLT can see it too. I'll tell you here when it is decided."
    if submitted.waiting_for:
        notice += (f" {', '.join(submitted.waiting_for)} has not opened the bot yet: it will reach them as soon as "
                   "they do.")
    return notice


_NOT_YOUR_REQUEST = ("That form changes a request you did not send, so nothing was saved. Type **new account** to "
                     "propose one, or **my requests** to see yours.")


def _new_form_id() -> str:
    return uuid.uuid4().hex


@dataclass
class AccountsWiring:
    """What `register_accounts` built: the desk (shared by later approval kinds) and the accounts kind."""

    desk: ApprovalDesk
    accounts: AccountsFeature


def build_accounts(
    *,
    database: Database,
    directory: RoleDirectory,
    conversations: ConversationStore,
    school_settings: SchoolSettings,
    settings: Any,
    runner_records: RunnerRecordsLookup,
    calendar: SchoolCalendar | None = None,
    clock: Clock = utcnow,
) -> AccountsWiring:
    """The approval desk with the accounts kind on it (not yet registered with a router).

    Args:
        runner_records: the runners' standing in the school's records (``TrainingRecords.records_for``).
        calendar: the school calendar the app built (``settings.school_calendar()`` when not given).
    """
    desk = ApprovalDesk(database, directory, conversations, school_settings,
                        calendar=calendar or settings.school_calendar(),
                        slt_channel_id=getattr(settings, "slt_channel_id", "") or "", clock=clock)
    accounts = AccountsFeature(desk, database, directory, runner_records=runner_records, clock=clock)
    desk.register_kind(accounts)
    return AccountsWiring(desk=desk, accounts=accounts)


async def _untrained(session: AsyncSession, case: AccountCase) -> list[Runner]:
    """The runners with no social media training recorded (issue 17), now."""
    trained = await training_records.of_people(session, [runner.aad_object_id for runner in case.runners])
    return [runner for runner in case.runners if not trained.get(runner.aad_object_id.lower())]
