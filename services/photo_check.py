"""Can I post this photo? (issue 7): the consent check in Teams.

``dialogs.photo_check.register_consent(router, ...)`` wires (each verb with its payload model from
``cards/consent.py``, validated by the router before a handler runs):

- the flow ``Flow.CHECK_PHOTO`` (typed ``can I post this photo?`` or the help card): the question card, with
  the school's approved accounts from the account register as destinations;
- ``photo_check_submit``: the check on the current register (read: the account register, the consent register
  from the store's cache, the member of staff's approved exceptions), then its log entry (who checked which pupils
  for which purpose, never the photo: the one write); names matching several pupils, or none, get the choice card
  first;
- ``photo_check_choose_pupils``: the check again with the chosen pupils pinned. The choice card carries the
  original answers in its button's data, so nothing is kept between the two turns.
- the personal-device exception ("Use of images": "personal phones are not to be used unless there are
  exceptional circumstances and it is authorised by the Head Teacher."), an approval kind on the shared
  `ApprovalDesk` (``DeviceExceptions``, references ``PHO-...``):

  - ``request_device_exception`` (the verdict card's form): the photo is checked again on the current register,
    pupils pinned by id and the destination against the account register; only if the Head Teacher's exception
    would turn the answer into yes is a request sent (one per form, however often it is clicked);
  - ``device_exception_resubmit``: the requester's changed circumstances after the Head Teacher asked for
    changes (checked again the same way);
  - a check (``photo_check_submit``, ``photo_check_choose_pupils``) whose one reason for no is the personal
    device looks for an approved exception of the same member of staff, same destination and media, pupils
    among those approved, decided within ``settings.device_exception_days`` (school calendar days); if there
    is one, the answer is decided again with it and the card names it;
  - ``photo_check_exception_recheck`` (the button sent to the requester on approval): the approved photo
    checked again on the current register with the exception, without retyping.

The SLT channel sees where the photo would go, how many pupils and who asked, never a child's name.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings, SettingsError
from cards.approvals import RequestSummary, status_card
from cards.base import AdaptiveCard
from cards.consent import (
    MAX_CIRCUMSTANCES,
    AuthorisedException,
    DeviceExceptionCase,
    DeviceExceptionResubmit,
    DeviceExceptionSubmit,
    ExceptionButton,
    PhotoCheckChoiceSubmit,
    PhotoCheckSubmit,
    device_exception_approved_card,
    device_exception_edit_card,
    device_exception_summary,
    photo_check_question_card,
    pupil_choice_card,
    verdict_card,
)
from cards.replies import ActionResult, CommandReply
from domain.actors import Actor
from domain.approvals import (
    STATE_TITLES,
    ApprovalKind,
    ApprovalRecord,
    ApprovalRefused,
    ApprovalState,
    Capacity,
    RefusalReason,
    Transition,
)
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.consent import (
    DEFAULT_CONFIG,
    Q_PERSONAL_PHONES,
    ConsentPolicyConfig,
    ConsentPurposesFile,
    DestinationKind,
    PhotoCheckRequest,
    ResolutionStatus,
    Verdict,
    typed_line,
    with_choices,
    with_corrections,
)
from domain.roles import DirectoryUnavailableError, Role, RoleDirectory
from services.approvals import ApprovalDesk, Clock, Submitted, button_payload, card_message, subject_of
from services.audit import AuditTrail
from services.audit import refusal as audit_refusal
from services.requests import CardAction, CommandRequest
from store import approvals as approvals_store
from store.approvals import registered_account_names
from store.base import utcnow
from store.consent_store import ConsentStore
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

_NOTHING_SENT = "Nothing was sent to the Head Teacher."
_NOTHING_CHANGED = "Nothing was changed."
_OFFICE = "the school office"
_MAX_PUPILS = 100  # PhotoCheckRequest.pupils: a photo names at most this many
_FORM_ID = re.compile(r"[0-9a-f]{32}")


def _account_key(name: str | None) -> str:
    return " ".join((name or "").casefold().split())


def _case_of(request: ApprovalRecord) -> DeviceExceptionCase | None:
    try:
        return DeviceExceptionCase.model_validate(request.payload)
    except ValidationError:
        log.warning("unreadable personal-device exception request", extra={"request": request.reference})
        return None


class DeviceExceptions:
    """The approval kind "Photo on a personal device" (a `KindHandler`) and the search for an authorisation.

    Args:
        days: calendar days after the decision (school time) that an authorised exception applies; 0 means
            the day of the decision only (`settings.device_exception_days`).
        calendar: the school calendar (school dates; the desk's, built once from the settings).
    """

    kind = ApprovalKind.PERSONAL_DEVICE_PHOTO

    def __init__(self, database: Database, *, days: int, calendar: SchoolCalendar, clock: Clock = utcnow) -> None:
        self._db = database
        self.days = days
        self.calendar = calendar
        self._clock = clock

    # --- how long an authorisation applies ------------------------------------------------------------

    def _school_date(self, moment: datetime) -> date:
        return self.calendar.school_date(moment)

    def applies_until(self, request: ApprovalRecord) -> date:
        """The last school date on which checks may use this authorisation."""
        return self._school_date(request.decided_at or request.created_at) + timedelta(days=self.days)

    def in_force(self, request: ApprovalRecord, now: datetime) -> bool:
        return (request.kind is self.kind and request.state is ApprovalState.APPROVED
                and request.decided_at is not None and self._school_date(now) <= self.applies_until(request))

    def covers(self, request: ApprovalRecord, actor_aad: str, verdict: Verdict, now: datetime) -> bool:
        """Whether this approved request authorises the personal device for this verdict's photo."""
        if request.requester_aad_object_id.lower() != actor_aad.lower() or not self.in_force(request, now):
            return False
        case = _case_of(request)
        if case is None or not verdict.pupil_ids:
            return False
        destination = verdict.destination
        return (
            case.destination is destination.kind
            and (destination.kind is not DestinationKind.SCHOOL_ACCOUNT
                 or _account_key(case.account_name) == _account_key(destination.account_name))
            and case.media is verdict.media
            and set(verdict.pupil_ids) <= set(case.pupil_ids)
        )

    async def covering_in(self, session: AsyncSession, actor_aad: str, verdict: Verdict, *,
                          only: ApprovalRecord | None = None) -> ApprovalRecord | None:
        """The newest approved exception of this member of staff that covers the verdict's photo (read in the
        check's unit of work). With ``only``, just that request is considered (nothing is read)."""
        now = self.now()
        if only is not None:
            return only if self.covers(only, actor_aad, verdict, now) else None
        since = now - timedelta(days=self.days + 2)  # a coarse bound; `in_force` decides in school time
        approved = await approvals_store.approved_since(session, self.kind, actor_aad, since)
        return next((request for request in approved if self.covers(request, actor_aad, verdict, now)), None)

    def authorisation(self, verdict: Verdict, found: ApprovalRecord | None) -> AuthorisedException | None:
        """What the verdict card says about the exception it was decided with."""
        if not verdict.device_exception_used or found is None:
            return None
        request = found
        by = request.decided_by_name
        if by and request.decided_as is Capacity.ACTING_DEPUTY:
            by = f"{by}, acting for the Head Teacher"
        return AuthorisedException(reference=request.reference,
                                   decided_on=self._school_date(request.decided_at or request.created_at),
                                   decided_by=by)

    def now(self) -> datetime:
        return self._clock()

    # --- KindHandler ----------------------------------------------------------------------------------

    def summary(self, request: ApprovalRecord) -> RequestSummary:
        case = _case_of(request)
        if case is None:
            return RequestSummary(title="A photo taken on a personal device", facts=(("Requested by",
                                  request.requester_name),), slt_facts=(("Requested by", request.requester_name),))
        return device_exception_summary(case, request.requester_name, days=self.days)

    async def on_transition(
        self, session: AsyncSession, after: ApprovalRecord, transition: Transition, now: datetime
    ) -> list[str]:
        quote = f"\u201c{Q_PERSONAL_PHONES.text}\u201d ({Q_PERSONAL_PHONES.section})"
        if after.state is ApprovalState.APPROVED:
            case = _case_of(after)
            if case is None:
                return []
            until = self.applies_until(after)
            # These steps reach the requester only in their chat, where after_requester_told sends the button too.
            where = "on the message with the Check it again now button"
            return [
                f"The Head Teacher authorised the personal device for this {case.media.value} and these pupils, for "
                f"{case.destination_model().label}, for checks until {until:%A} {until.day} {until:%B %Y}.",
                f"Check it again before you post it ({where}, or type can I post this photo? and check it as "
                "before): the answer is yes only if the consent register still allows it.",
            ]
        if after.state is ApprovalState.CHANGES_REQUESTED:
            return ["Press Change and resend to change the exceptional circumstances and send it again, or Withdraw."]
        if after.state is ApprovalState.REJECTED:
            return [f"The answer for this photo stays no. The policy: {quote} If you are unsure what to do with the "
                    "photo, ask SLT."]
        return []

    async def after_requester_told(
        self, session: AsyncSession, after: ApprovalRecord, requester_chat: dict[str, Any]
    ) -> None:
        """On approval, the requester's "Check it again now" message, after the desk's outcome message and in
        the decision's transaction (through the outbox)."""
        case = _case_of(after)
        if after.state is not ApprovalState.APPROVED or case is None:
            return
        card = device_exception_approved_card(after.id, after.reference, case, until=self.applies_until(after))
        await enqueue(session, OutboxMessage.personal(
            requester_chat, card_message(card, f"{after.reference}: the Head Teacher authorised it"),
            dedupe_key=f"{subject_of(after.id)}:exception-recheck",
        ))

    async def edit(self, action: CardAction, request: ApprovalRecord) -> ActionResult:
        case = _case_of(request)
        return ActionResult(card=device_exception_edit_card(
            request.id, request.reference, request.round, case.circumstances if case else "",
            request.decision_comment,
        ))


@dataclass(frozen=True)
class _Checked:
    """A check decided on the register as read: the verdict, and the Head Teacher's exception it was decided with."""

    verdict: Verdict
    exception: AuthorisedException | None


class PhotoChecks:
    """The photo check's use cases.

    Each reads what it needs (the account register, the consent register, the member of staff's approved
    exceptions, the exception request a button names) in reading units of work, then writes in at most one: the
    check's log entry, in the same transaction as the exception request when one is sent or sent again. A refusal
    the approval desk records (a button naming no request) is the one write of its path.
    """

    def __init__(self, database: Database, store: ConsentStore, *, desk: ApprovalDesk | None = None,
                 exceptions: DeviceExceptions | None = None, trail: AuditTrail | None = None,
                 directory: RoleDirectory | None = None) -> None:
        self._database = database
        self._directory = directory  # who keeps the consent register, named on the choice card
        self.store = store
        self._desk = desk
        self.exceptions = exceptions
        self._trail = trail or AuditTrail(database)

    def _recorded(self) -> frozenset[DestinationKind]:
        """The destinations the school records consent for (the others are not offered)."""
        return frozenset(self.store.config.destination_purposes)

    async def _question_card(self, *, pupils_text: str = "", problem: str | None = None) -> AdaptiveCard:
        async with self._database.sessions() as session:
            accounts = await registered_account_names(session)
        return photo_check_question_card(accounts, destinations_recorded=self._recorded(), pupils_text=pupils_text,
                                         problem=problem)

    async def start(self, request: CommandRequest) -> CommandReply:
        return CommandReply(cards=[await self._question_card()])

    # --- the check: read, decide, then log --------------------------------------------------------------

    async def _check_in(self, session: AsyncSession, request: PhotoCheckRequest, actor: Actor, *,
                        only: ApprovalRecord | None = None) -> _Checked:
        """The check on the current register, with the actor's authorised exception if one covers it (only
        ``only``, if given). Reads; writes nothing."""
        accounts = await registered_account_names(session)
        register = await self.store.register_in(session)
        verdict = self.store.decide(register, request, school_accounts=accounts)
        found = None
        if verdict.can_request_device_exception and self.exceptions is not None:
            found = await self.exceptions.covering_in(session, actor.aad_object_id, verdict, only=only)
            if found is not None:
                verdict = self.store.decide(register, request, school_accounts=accounts,
                                            device_exception_authorised=True)
        exception = self.exceptions.authorisation(verdict, found) if self.exceptions is not None else None
        return _Checked(verdict, exception)

    async def _check(self, request: PhotoCheckRequest, actor: Actor, *,
                     only: ApprovalRecord | None = None) -> _Checked:
        async with self._database.sessions() as session:
            return await self._check_in(session, request, actor, only=only)

    async def _log(self, actor: Actor, verdict: Verdict) -> None:
        """The check's log entry: the one write of a check answered on its own."""
        async with self._database.transaction() as session:
            await self.store.log_check_in(session, actor.aad_object_id, verdict)

    async def _check_and_log(self, request: PhotoCheckRequest, actor: Actor, *,
                             only: ApprovalRecord | None = None) -> _Checked:
        checked = await self._check(request, actor, only=only)
        await self._log(actor, checked.verdict)
        return checked

    async def submit(self, action: CardAction) -> ActionResult:
        """`photo_check_submit`: the question card's answers, checked (or the question again if one is missing)."""
        submitted = button_payload(action, PhotoCheckSubmit)
        try:
            request = submitted.to_request()
        except ValidationError:
            return ActionResult(card=await self._question_card(
                pupils_text=submitted.pupils,
                problem="Please choose where it will go and which device took it, and type the name of every pupil "
                        "in it (one per line, or separated by commas).",
            ))
        checked = await self._check_and_log(request, action.actor)
        return ActionResult(card=await self._answer_card(checked, submitted, request))

    async def choose(self, action: CardAction) -> ActionResult:
        """`photo_check_choose_pupils`: the same question, with the pupils chosen on the choice card pinned and the
        names typed again in place of those not found.

        The card that comes back is never the same card unchanged: a name still not found, or "None of these", is
        said so above the names, with whom to ask.
        """
        chosen = button_payload(action, PhotoCheckChoiceSubmit)
        try:
            request = chosen.to_request()
        except ValidationError:
            return ActionResult(message="That card is out of date. Type **can I post this photo?** to start again.")
        corrections = {position: name for position, name in chosen.corrections().items()
                       if position < len(request.pupils)}
        corrected = with_corrections(request.pupils, chosen.choices(), corrections)
        try:  # validated again: names typed again may hold more pupils than a photo can name
            request = PhotoCheckRequest.model_validate({**request.model_dump(), "pupils": [
                p.model_dump() for p in with_choices(corrected.pupils, corrected.choices)]})
        except ValidationError:
            return ActionResult(message=f"A photo can name at most {_MAX_PUPILS} pupils. Type **can I post this "
                                        "photo?** to start again.")
        checked = await self._check_and_log(request, action.actor)
        # Where the names the member of staff acted on are now: typed again, or "None of these".
        retyped = {new for old in corrections for new in corrected.positions.get(old, ())}
        declined = {new for old in chosen.none_of_these() for new in corrected.positions.get(old, ())}
        notice = _still_unresolved(checked.verdict, retyped, declined)
        return ActionResult(card=await self._answer_card(checked, chosen, request, notice=notice))

    async def _answer_card(self, checked: _Checked, question: PhotoCheckSubmit | PhotoCheckChoiceSubmit,
                           request: PhotoCheckRequest, *, notice: str | None = None) -> AdaptiveCard:
        verdict = checked.verdict
        if not verdict.needs_pupil_choice:
            return verdict_card(verdict, exception=checked.exception)
        # The choice card's buttons carry the question, with the names as checked and the pupils chosen so far:
        # nothing is kept between turns.
        carried = {**question.answers(), "pupils": "\n".join(typed_line(typed) for typed in request.pupils)}
        carried.update({f"choice_{index}": typed.pupil_id for index, typed in enumerate(request.pupils)
                        if typed.pupil_id is not None})
        return pupil_choice_card(verdict, carried=carried, ask=await self._register_keepers(), notice=notice)

    async def _register_keepers(self) -> str:
        """Whom to ask about a pupil who is not in the register: the data administrators by name, and the office."""
        if self._directory is None:
            return _OFFICE
        try:
            keepers = await self._directory.holders_of(Role.DATA_ADMIN)
        except DirectoryUnavailableError:
            return _OFFICE
        names = sorted({person.name.strip() for person in keepers if person.name.strip()})
        if not names:
            return _OFFICE
        who = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        return f"{who} (who keeps the consent register) or {_OFFICE}"

    # --- the personal-device exception ----------------------------------------------------------------

    async def request_exception(self, action: CardAction) -> ActionResult:
        """`request_device_exception`: check the photo again, then ask the Head Teacher (one request per form).

        The check's log entry is written with the request (the desk's transaction), or on its own when no request
        is sent.
        """
        if self._desk is None or self.exceptions is None:
            return ActionResult(message=f"Exceptions can't be requested here. {_NOTHING_SENT} Ask SLT.")
        submitted = button_payload(action, DeviceExceptionSubmit)
        try:
            request = submitted.to_request()
        except ValueError:  # no destination or no pupil (pydantic's ValidationError is a ValueError)
            return ActionResult(message=f"That card is out of date. {_NOTHING_SENT} Type **can I post this photo?** "
                                        "to check the photo again.")
        form_id = submitted.form_id if _FORM_ID.fullmatch(submitted.form_id) else ""
        checked = await self._check(request, action.actor)
        verdict = checked.verdict
        if verdict.allowed:
            await self._log(action.actor, verdict)
            return ActionResult(card=verdict_card(verdict, exception=checked.exception, notice=(
                f"The Head Teacher has already authorised the personal device for this photo. {_NOTHING_SENT}")))
        if not verdict.can_request_device_exception:
            await self._log(action.actor, verdict)
            return ActionResult(card=verdict_card(verdict, notice=(
                "I checked the photo again on the current consent register and account register: an exception for "
                f"the personal device would not make the answer yes, so {_NOTHING_SENT[0].lower()}"
                f"{_NOTHING_SENT[1:]} The reasons are below. Once they are sorted out, type can I post this photo? "
                "to check it again.")))
        circumstances = submitted.circumstances.strip()
        problem = None
        if not circumstances:
            problem = ("Write what the exceptional circumstances are and why a personal device was used, then press "
                       f"Send to the Head Teacher again. {_NOTHING_SENT}")
        elif len(circumstances) > MAX_CIRCUMSTANCES:
            problem = (f"The exceptional circumstances can be at most {MAX_CIRCUMSTANCES:,} characters: shorten them, "
                       f"then press Send to the Head Teacher again. {_NOTHING_SENT}")
        if problem is not None:
            await self._log(action.actor, verdict)
            return ActionResult(card=verdict_card(verdict, notice=problem, form_id=form_id or None))
        case = DeviceExceptionCase.from_verdict(verdict, circumstances)
        client_key = "pho-" + (form_id or hashlib.sha256(
            submitted.model_dump_json(exclude={"verb"}).encode()).hexdigest()[:32])

        async def log_the_check(session: AsyncSession, _request: ApprovalRecord) -> None:
            await self.store.log_check_in(session, action.actor.aad_object_id, verdict)

        sent = await self._desk.submit(ApprovalKind.PERSONAL_DEVICE_PHOTO, action.actor,
                                       case.model_dump(mode="json"), client_key=client_key,
                                       after_create=log_the_check)
        if not sent.new:  # the form's earlier request: the desk wrote nothing this time
            await self._log(action.actor, verdict)
        return ActionResult(card=status_card(
            sent.request, self.exceptions.summary(sent.request), for_requester=True, notice=_sent_notice(sent),
            refresh_user_ids=[action.actor.teams_user_id], calendar=self._desk.calendar,
        ))

    async def _read_own_in(self, session: AsyncSession, action: CardAction,
                           request_id: int | None) -> ApprovalRecord | None:
        """The exception request a button names; None when it names none, a request of another kind, or one that
        is not on the card the button is on."""
        if request_id is None:
            return None
        request = await approvals_store.get_request(session, request_id)
        if request is None or request.kind is not ApprovalKind.PERSONAL_DEVICE_PHOTO:
            return None
        if action.card_activity_id:
            subjects = await approvals_store.card_subjects_of_activity(session, action.card_activity_id)
            if subjects and subject_of(request.id) not in subjects:
                return None
        return request

    async def _own_request(self, action: CardAction, request_id: int | None, what: str) -> ApprovalRecord | str:
        """The exception request a button names, if it is the actor's own (else what to tell them).

        Read first; a button naming no request is handed to the approval desk, which records the attempt; one naming
        a request that is not this actor's exception is written to the audit trail (either is that answer's one
        write).
        """
        async with self._database.sessions() as session:
            request = await self._read_own_in(session, action, request_id)
        if request is None:
            recorded = False  # the desk records a button naming no request of its own
            if self._desk is not None:
                answer = await self._desk.load_request(replace(action, data={"request_id": request_id}), what)
                recorded = isinstance(answer, ActionResult)
            if not recorded:  # a request, but not an exception request (or not on this card): refused here
                await self._trail.record(audit_refusal(action.actor, action.verb, RecordType.APPROVAL_REQUEST,
                                                       request_id, "not_an_exception_request", {"what": what}))
            return ("I can't find that exception request. Type **my requests** to see yours, or **can I post this "
                    "photo?** to check a photo.")
        if request.requester_aad_object_id.lower() != action.actor.aad_object_id.lower():
            # Someone else's exception: the refusal is this answer's one write (the request was only read).
            await self._trail.record(audit_refusal(action.actor, action.verb, RecordType.APPROVAL_REQUEST, request.id,
                                                   "not_the_requester", {"what": what}))
            return ("That exception was asked for by someone else: it does not apply to you or your photos. Type "
                    "**can I post this photo?** to check yours.")
        return request

    async def recheck(self, action: CardAction) -> ActionResult:
        """`photo_check_exception_recheck`: the approved photo, checked again on the current register."""
        if self.exceptions is None:
            return ActionResult(message="Type **can I post this photo?** to check the photo.")
        button = button_payload(action, ExceptionButton)
        loaded = await self._own_request(action, button.request_id, "exception recheck")
        if isinstance(loaded, str):
            return ActionResult(message=loaded)
        request = loaded
        now = self.exceptions.now()
        if request.state is not ApprovalState.APPROVED:
            return ActionResult(message=(
                f"Request {request.reference} is {STATE_TITLES[request.state].lower()}: it authorises nothing, so a "
                "photo on a personal device is still a no. Type **my requests** to see it."))
        if not self.exceptions.in_force(request, now):
            until = self.exceptions.applies_until(request)
            return ActionResult(message=(
                f"The exception {request.reference} applied to checks until {until:%A} {until.day} {until:%B %Y}, so "
                "a photo on a personal device is a no again. To ask the Head Teacher again, type **can I post this "
                "photo?** and check it."))
        case = _case_of(request)
        if case is None:
            return ActionResult(message="I can't read that request. Type **can I post this photo?** to check it.")
        checked = await self._check_and_log(case.to_request(), action.actor, only=request)
        return ActionResult(card=verdict_card(checked.verdict, exception=checked.exception))

    async def resubmit(self, action: CardAction) -> ActionResult:
        """`device_exception_resubmit`: changed circumstances, after the photo is checked again.

        The check's log entry is written with the new round (the desk's transaction), or on its own when the
        answer is that it would not help; a resubmission the desk refuses is recorded by the desk alone.
        """
        if self._desk is None or self.exceptions is None:
            return ActionResult(message=f"Exceptions can't be changed here. {_NOTHING_CHANGED}")
        submitted = button_payload(action, DeviceExceptionResubmit)
        loaded = await self._own_request(action, submitted.request_id, "exception resubmit")
        if isinstance(loaded, str):
            return ActionResult(message=f"{_NOTHING_CHANGED} {loaded}")
        request = loaded
        case = _case_of(request)
        if case is None:
            return ActionResult(message=f"I can't read that request. {_NOTHING_CHANGED} Withdraw it (type **my "
                                        "requests**) and check the photo again.")
        circumstances = submitted.circumstances.strip()
        problem = None
        if not circumstances:
            problem = "Write what the exceptional circumstances are and why a personal device was used."
        elif len(circumstances) > MAX_CIRCUMSTANCES:
            problem = f"The exceptional circumstances can be at most {MAX_CIRCUMSTANCES:,} characters: shorten them."
        if problem is not None:
            return ActionResult(card=device_exception_edit_card(
                request.id, request.reference, request.round, circumstances or case.circumstances,
                request.decision_comment, problem=f"{problem} {_NOTHING_CHANGED}"))
        verdict = (await self._check(case.to_request(), action.actor)).verdict
        if not verdict.can_request_device_exception:
            await self._log(action.actor, verdict)
            return ActionResult(card=verdict_card(verdict, notice=(
                f"I checked the photo of {request.reference} again: an exception for the personal device would not "
                f"make the answer yes now, so it was not sent again. {_NOTHING_CHANGED} Withdraw it (type my "
                "requests), and check the photo again once the reasons below are sorted out.")))

        async def log_the_check(session: AsyncSession, _after: ApprovalRecord) -> None:
            await self.store.log_check_in(session, action.actor.aad_object_id, verdict)

        try:
            sent = await self._desk.resubmit(action.actor, request.id, DeviceExceptionCase.from_verdict(
                verdict, circumstances).model_dump(mode="json"), after_change=log_the_check)
        except ApprovalRefused as refusal:
            current = refusal.request or request
            if refusal.reason is RefusalReason.NOT_THE_REQUESTER:
                return ActionResult(message=f"Only the person who sent a request can change it. {_NOTHING_CHANGED}")
            return ActionResult(card=status_card(current, self.exceptions.summary(current), for_requester=True,
                                                 notice=f"This request is {STATE_TITLES[current.state].lower()} now, "
                                                        f"so it was not sent again. {_NOTHING_CHANGED}",
                                                 calendar=self._desk.calendar))
        return ActionResult(card=status_card(
            sent.request, self.exceptions.summary(sent.request), for_requester=True, notice=_sent_notice(sent),
            refresh_user_ids=[action.actor.teams_user_id], calendar=self._desk.calendar,
        ))


def _still_unresolved(verdict: Verdict, retyped: set[int], declined: set[int]) -> str | None:
    """What the choice card says above the names when a name typed again is still not in the register, or "None of
    these" was chosen: the answer stays no until the pupil is identified. (A name typed again that two pupils share
    needs no line: the card now asks which of them.)"""
    names = [pupil.typed.text for pupil in verdict.pupils
             if (pupil.position in retyped and pupil.status is ResolutionStatus.NOT_FOUND)
             or (pupil.position in declined and pupil.status is not ResolutionStatus.MATCHED)]
    if not names:
        return None
    listed = ", ".join(f"\u201c{name}\u201d" for name in names)
    return (f"Still not identified: {listed}. The answer stays NO. Check the spelling with the class list, or ask "
            "whoever keeps the consent register (below).")


def _sent_notice(sent: Submitted) -> str:
    reference = sent.request.reference
    if not sent.new:
        return f"You already sent this request ({reference}): here it is. Nothing new was sent."
    who = ", ".join(sent.routed_to) or "the Head Teacher"
    again = "Sent" if sent.request.round == 1 else f"Sent again (version {sent.request.round})"
    notice = (f"{again} to {who} for a decision, reference {reference}. SLT can see that a request exists, without "
              "the pupils' names. I'll tell you here when it is decided; until then the answer is no: do not post it.")
    if sent.waiting_for:
        notice += f" {', '.join(sent.waiting_for)} has not opened the bot yet: it will reach them as soon as they do."
    return notice


def consent_config_from_settings(settings: Settings) -> ConsentPolicyConfig:
    """The school's consent purposes (``POLICYBOT_CONSENT_PURPOSES_FILE``), or the default ones.

    Raises:
        SettingsError: the file cannot be read or is not a valid purposes file, saying what to fix.
    """
    path = settings.consent_purposes_file
    if path is None:
        return DEFAULT_CONFIG
    try:
        return ConsentPurposesFile.load(path)
    except (OSError, ValueError) as error:
        detail = str(error).splitlines()[0] if isinstance(error, OSError) else _first_problem(error)
        raise SettingsError(
            f"POLICYBOT_CONSENT_PURPOSES_FILE is {path}, which cannot be used ({detail}). It must be JSON with "
            '"purposes" (a list of {"key": "school_website", "title": "the school website"}), '
            '"destination_purposes" (destination → purpose key) and "video_purpose" (a key or null): see the '
            "README, or unset it for the default purposes."
        ) from error


def _first_problem(error: ValueError) -> str:
    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return str(error).splitlines()[0]
