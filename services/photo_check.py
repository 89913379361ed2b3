"""Can I post this photo? (issue 7): the consent check in Teams.

``register_consent(router, ...)`` wires:

- the flow ``Flow.CHECK_PHOTO`` (typed ``can I post this photo?`` or the help card): the question card, with
  the school's approved accounts from the account register as destinations;
- ``photo_check_submit``: the check on the current register (``ConsentStore.check_photo``, which logs who
  checked which pupils for which purpose, never the photo); names matching several pupils, or none, get the
  choice card first;
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
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings, SettingsError
from cards.approvals import RequestSummary, status_card
from cards.base import AdaptiveCard
from cards.consent import (
    CIRCUMSTANCES_INPUT,
    MAX_CIRCUMSTANCES,
    PHOTO_CHECK_CHOOSE_VERB,
    PHOTO_CHECK_SUBMIT_VERB,
    REQUEST_DEVICE_EXCEPTION_VERB,
    AuthorisedException,
    DeviceExceptionCase,
    DeviceExceptionSubmit,
    PhotoCheckSubmit,
    PupilChoiceSubmit,
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
from domain.calendar import SchoolCalendar
from domain.consent import (
    DEFAULT_CONFIG,
    Q_PERSONAL_PHONES,
    ConsentPolicyConfig,
    ConsentPurposesFile,
    DestinationKind,
    Verdict,
    with_choices,
)
from services.approvals import ApprovalDesk, Clock, Submitted, card_message, subject_of
from services.requests import CardAction, CommandRequest
from store import approvals as approvals_store
from store.approvals import registered_account_names
from store.base import utcnow
from store.consent_store import ConsentStore
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

_ORIGINAL_FIELDS = (
    "destination", "pupils", "device", "media", "appropriatelyDressed", "nobodyRidiculed",
    "notInToiletOrChangingArea",
)
_NOTHING_SENT = "Nothing was sent to the Head Teacher."
_NOTHING_CHANGED = "Nothing was changed."
_FORM_ID = re.compile(r"[0-9a-f]{32}")

ExceptionLookup = Callable[[Verdict], Awaitable[bool]]


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

    async def find(self, actor_aad: str, verdict: Verdict, now: datetime) -> ApprovalRecord | None:
        """The newest approved exception of this member of staff that covers the verdict's photo."""
        since = now - timedelta(days=self.days + 2)  # a coarse bound; `in_force` decides in school time
        async with self._db.sessions() as session:
            approved = await approvals_store.approved_since(session, self.kind, actor_aad, since)
        return next((request for request in approved if self.covers(request, actor_aad, verdict, now)), None)

    def lookup(self, actor: Actor, found: list[ApprovalRecord], only: ApprovalRecord | None = None) -> ExceptionLookup:
        """The callback `ConsentStore.check_photo` asks when the device is the one reason for no.

        What it finds is appended to ``found`` (for the card). With ``only``, just that request is considered.
        """

        async def authorised(verdict: Verdict) -> bool:
            now = self.now()
            if only is not None:
                request = only if self.covers(only, actor.aad_object_id, verdict, now) else None
            else:
                request = await self.find(actor.aad_object_id, verdict, now)
            if request is not None:
                found.append(request)
            return request is not None

        return authorised

    def authorisation(self, verdict: Verdict, found: list[ApprovalRecord]) -> AuthorisedException | None:
        """What the verdict card says about the exception it was decided with."""
        if not verdict.device_exception_used or not found:
            return None
        request = found[-1]
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


class PhotoChecks:
    def __init__(self, database: Database, store: ConsentStore, *, desk: ApprovalDesk | None = None,
                 exceptions: DeviceExceptions | None = None) -> None:
        self._database = database
        self.store = store
        self._desk = desk
        self.exceptions = exceptions

    async def _accounts(self) -> list[str]:
        async with self._database.sessions() as session:
            return await registered_account_names(session)

    def _recorded(self) -> frozenset[DestinationKind]:
        """The destinations the school records consent for (the others are not offered)."""
        return frozenset(self.store.config.destination_purposes)

    async def start(self, request: CommandRequest) -> CommandReply:
        return CommandReply(cards=[photo_check_question_card(await self._accounts(),
                                                             destinations_recorded=self._recorded())])

    async def _check(self, request: Any, actor: Actor, accounts: list[str],
                     only: ApprovalRecord | None = None) -> tuple[Verdict, AuthorisedException | None]:
        """The check on the current register, with the actor's authorised exception if one covers it."""
        found: list[ApprovalRecord] = []
        lookup = self.exceptions.lookup(actor, found, only) if self.exceptions is not None else None
        verdict = await self.store.check_photo(request, checked_by=actor.aad_object_id, school_accounts=accounts,
                                               exception_authorised=lookup)
        return verdict, self.exceptions.authorisation(verdict, found) if self.exceptions is not None else None

    async def submit(self, action: CardAction) -> ActionResult:
        accounts = await self._accounts()
        try:
            submitted = PhotoCheckSubmit.model_validate({**action.data, "verb": PHOTO_CHECK_SUBMIT_VERB})
            request = submitted.to_request()
        except ValidationError:
            return ActionResult(
                card=photo_check_question_card(
                    accounts,
                    destinations_recorded=self._recorded(),
                    pupils_text=str(action.data.get("pupils") or "")[:2000],
                    problem="Please choose where it will go and which device took it, and type the name of "
                    "every pupil in it (one per line, or separated by commas).",
                )
            )
        verdict, exception = await self._check(request, action.actor, accounts)
        return ActionResult(card=self._answer_card(verdict, action.data, exception))

    async def choose(self, action: CardAction) -> ActionResult:
        accounts = await self._accounts()
        try:
            original = PhotoCheckSubmit.model_validate({**action.data, "verb": PHOTO_CHECK_SUBMIT_VERB})
            choices = PupilChoiceSubmit.model_validate({**action.data, "verb": PHOTO_CHECK_CHOOSE_VERB}).choices()
            request = original.to_request()
        except ValidationError:
            return ActionResult(message="That card is out of date. Type **can I post this photo?** to start again.")
        request = request.model_copy(update={"pupils": with_choices(request.pupils, choices)})
        verdict, exception = await self._check(request, action.actor, accounts)
        return ActionResult(card=self._answer_card(verdict, action.data, exception))

    @staticmethod
    def _answer_card(verdict: Verdict, submitted: dict[str, Any],
                     exception: AuthorisedException | None = None) -> AdaptiveCard:
        if not verdict.needs_pupil_choice:
            return verdict_card(verdict, exception=exception)
        card = pupil_choice_card(verdict)
        original = {key: submitted[key] for key in _ORIGINAL_FIELDS if key in submitted}
        for button in card.actions or []:
            data = getattr(button, "data", None)
            if isinstance(data, dict):
                data.update(original)
        return card

    # --- the personal-device exception ----------------------------------------------------------------

    async def request_exception(self, action: CardAction) -> ActionResult:
        """`request_device_exception`: check the photo again, then ask the Head Teacher (one request per form)."""
        if self._desk is None or self.exceptions is None:
            return ActionResult(message=f"Exceptions can't be requested here. {_NOTHING_SENT} Ask SLT.")
        try:
            submitted = DeviceExceptionSubmit.model_validate({**action.data, "verb": REQUEST_DEVICE_EXCEPTION_VERB})
            request = submitted.to_request()
        except ValidationError:
            return ActionResult(message=f"That card is out of date. {_NOTHING_SENT} Type **can I post this photo?** "
                                        "to check the photo again.")
        form_id = submitted.form_id if _FORM_ID.fullmatch(submitted.form_id) else ""
        verdict, exception = await self._check(request, action.actor, await self._accounts())
        if verdict.allowed:
            return ActionResult(card=verdict_card(verdict, exception=exception, notice=(
                f"The Head Teacher has already authorised the personal device for this photo. {_NOTHING_SENT}")))
        if not verdict.can_request_device_exception:
            return ActionResult(card=verdict_card(verdict, notice=(
                "I checked the photo again on the current consent register and account register: an exception for "
                f"the personal device would not make the answer yes, so {_NOTHING_SENT[0].lower()}"
                f"{_NOTHING_SENT[1:]} The reasons are below. Once they are sorted out, type can I post this photo? "
                "to check it again.")))
        circumstances = str(action.data.get(CIRCUMSTANCES_INPUT) or "").strip()
        problem = None
        if not circumstances:
            problem = ("Write what the exceptional circumstances are and why a personal device was used, then press "
                       f"Send to the Head Teacher again. {_NOTHING_SENT}")
        elif len(circumstances) > MAX_CIRCUMSTANCES:
            problem = (f"The exceptional circumstances can be at most {MAX_CIRCUMSTANCES:,} characters: shorten them, "
                       f"then press Send to the Head Teacher again. {_NOTHING_SENT}")
        if problem is not None:
            return ActionResult(card=verdict_card(verdict, notice=problem, form_id=form_id or None))
        case = DeviceExceptionCase.from_verdict(verdict, circumstances)
        client_key = "pho-" + (form_id or hashlib.sha256(
            json.dumps(action.data, sort_keys=True, default=str).encode()).hexdigest()[:32])
        sent = await self._desk.submit(ApprovalKind.PERSONAL_DEVICE_PHOTO, action.actor,
                                       case.model_dump(mode="json"), client_key=client_key)
        return ActionResult(card=status_card(
            sent.request, self.exceptions.summary(sent.request), for_requester=True, notice=_sent_notice(sent),
            refresh_user_ids=[action.actor.teams_user_id], calendar=self._desk.calendar,
        ))

    async def _own_request(self, action: CardAction, what: str) -> ApprovalRecord | str:
        """The exception request a button names, if it is the actor's own (else what to tell them)."""
        loaded = await self._desk.load_request(action, what) if self._desk is not None else None
        if not isinstance(loaded, ApprovalRecord) or loaded.kind is not ApprovalKind.PERSONAL_DEVICE_PHOTO:
            log.warning("photo exception button names no exception request")
            return ("I can't find that exception request. Type **my requests** to see yours, or **can I post this "
                    "photo?** to check a photo.")
        if loaded.requester_aad_object_id.lower() != action.actor.aad_object_id.lower():
            log.warning("photo exception of someone else used", extra={"request": loaded.reference})
            return ("That exception was asked for by someone else: it does not apply to you or your photos. Type "
                    "**can I post this photo?** to check yours.")
        return loaded

    async def recheck(self, action: CardAction) -> ActionResult:
        """`photo_check_exception_recheck`: the approved photo, checked again on the current register."""
        if self.exceptions is None:
            return ActionResult(message="Type **can I post this photo?** to check the photo.")
        loaded = await self._own_request(action, "exception recheck")
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
        verdict, exception = await self._check(case.to_request(), action.actor, await self._accounts(), only=request)
        return ActionResult(card=verdict_card(verdict, exception=exception))

    async def resubmit(self, action: CardAction) -> ActionResult:
        """`device_exception_resubmit`: changed circumstances, after the photo is checked again."""
        if self._desk is None or self.exceptions is None:
            return ActionResult(message=f"Exceptions can't be changed here. {_NOTHING_CHANGED}")
        loaded = await self._own_request(action, "exception resubmit")
        if isinstance(loaded, str):
            return ActionResult(message=f"{_NOTHING_CHANGED} {loaded}")
        request = loaded
        case = _case_of(request)
        if case is None:
            return ActionResult(message=f"I can't read that request. {_NOTHING_CHANGED} Withdraw it (type **my "
                                        "requests**) and check the photo again.")
        circumstances = str(action.data.get(CIRCUMSTANCES_INPUT) or "").strip()
        problem = None
        if not circumstances:
            problem = "Write what the exceptional circumstances are and why a personal device was used."
        elif len(circumstances) > MAX_CIRCUMSTANCES:
            problem = f"The exceptional circumstances can be at most {MAX_CIRCUMSTANCES:,} characters: shorten them."
        if problem is not None:
            return ActionResult(card=device_exception_edit_card(
                request.id, request.reference, request.round, circumstances or case.circumstances,
                request.decision_comment, problem=f"{problem} {_NOTHING_CHANGED}"))
        verdict, _ = await self._check(case.to_request(), action.actor, await self._accounts())
        if not verdict.can_request_device_exception:
            return ActionResult(card=verdict_card(verdict, notice=(
                f"I checked the photo of {request.reference} again: an exception for the personal device would not "
                f"make the answer yes now, so it was not sent again. {_NOTHING_CHANGED} Withdraw it (type my "
                "requests), and check the photo again once the reasons below are sorted out.")))
        try:
            sent = await self._desk.resubmit(action.actor, request.id, DeviceExceptionCase.from_verdict(
                verdict, circumstances).model_dump(mode="json"))
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
