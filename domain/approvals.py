"""Approvals: a request that the Head Teacher (or an acting deputy) decides, as a pure state machine.

Used first for new social media accounts ("Process for creating new accounts": a business case presented
to the Head Teacher; "All Social Media accounts must be approved by the Head Teacher in advance of any
educational work being undertaken"), and later for personal-device photo exceptions ("Use of images":
personal phones only "if it is authorised by the Head Teacher"). Each kind has its own payload; the
mechanism here is the same for every kind.

States and the moves between them (anything else is refused)::

    pending ──approve (decider)──────────> approved            (final)
    pending ──reject (decider, reason)───> rejected            (final)
    pending ──request changes (decider,──> changes requested
              comment)
    changes requested ──resubmit (requester)──> pending        (a new round)
    pending / changes requested ──withdraw (requester)──> withdrawn (final)

A *round* is one submission or resubmission. Each round gets at most one decider action, and a request
gets at most one final decision. The store applies a transition with a conditional update on the state
and round it was checked against, so a double click, Teams' retry or two deciders at once give exactly one
decision; the late one is told who decided.

Who may decide (the policy names the Head Teacher; that a deputy may act during the Head's absence is the
school's choice, recorded as a delegation): the Head Teacher, or a deputy while a delegation to them is
active. Nobody decides their own request, nor, acting under a delegation, a request made by the Head Teacher
they act for: the authority is the Head's, so it cannot approve the Head's own request. The policy is silent
on who decides a request the Head Teacher makes; the bot invents no rule, so such a request is routed to
nobody and waits (the answer says so and points to SLT).

Who may see a request, and which view (`view_of`): its requester (everything they sent, the state, the
decision), whoever may decide it (everything, with the buttons while it waits), and SLT for the kinds they
consider (`SLT_KINDS`: the kind's SLT facts and the state, never a pupil's name nor the decider's comment).
Anyone else sees nothing.

Every decider action names the round the card showed; an action that names none is out of date.

Nothing here imports Bot Framework; times are timezone-aware UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.calendar import SchoolCalendar

MAX_COMMENT_LENGTH = 1000  # a reason or comment on a decision
MAX_DELEGATION_DAYS = 120  # a delegation longer than about a term is a change of Head, not an absence


class ApprovalKind(StrEnum):
    """What is being approved. Each kind has its own payload model (see `domain.accounts`)."""

    NEW_ACCOUNT = "new_account"
    PERSONAL_DEVICE_PHOTO = "personal_device_photo"


KIND_PREFIXES: Mapping[ApprovalKind, str] = {
    ApprovalKind.NEW_ACCOUNT: "ACC",
    ApprovalKind.PERSONAL_DEVICE_PHOTO: "PHO",
}

KIND_TITLES: Mapping[ApprovalKind, str] = {
    ApprovalKind.NEW_ACCOUNT: "New school social media account",
    ApprovalKind.PERSONAL_DEVICE_PHOTO: "Photo on a personal device",
}

SLT_KINDS = frozenset({ApprovalKind.NEW_ACCOUNT, ApprovalKind.PERSONAL_DEVICE_PHOTO})
"""The kinds SLT may see (their SLT view). New accounts: "Following consideration by the Head Teacher and SLT, an
application will be approved or rejected". Personal-device exceptions: the policy gives SLT no part; the bot posts
that one exists (where, how many pupils, who asked, never a name) to the SLT channel, and SLT see no more than that."""

KINDS_WITH_PUPIL_NAMES = frozenset({ApprovalKind.PERSONAL_DEVICE_PHOTO})
"""Kinds whose full view names pupils: each time it is shown to someone other than its requester is audited."""


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    WITHDRAWN = "withdrawn"


FINAL_STATES = frozenset({ApprovalState.APPROVED, ApprovalState.REJECTED, ApprovalState.WITHDRAWN})

STATE_TITLES: Mapping[ApprovalState, str] = {
    ApprovalState.PENDING: "Waiting for a decision",
    ApprovalState.APPROVED: "Approved",
    ApprovalState.REJECTED: "Rejected",
    ApprovalState.CHANGES_REQUESTED: "Changes requested",
    ApprovalState.WITHDRAWN: "Withdrawn",
}


class ApprovalAction(StrEnum):
    """What a person can do to a request."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    RESUBMIT = "resubmit"
    WITHDRAW = "withdraw"


DECIDER_ACTIONS = frozenset({ApprovalAction.APPROVE, ApprovalAction.REJECT, ApprovalAction.REQUEST_CHANGES})
REQUESTER_ACTIONS = frozenset({ApprovalAction.RESUBMIT, ApprovalAction.WITHDRAW})

# (from state, action) -> to state. The whole state machine.
TRANSITIONS: Mapping[tuple[ApprovalState, ApprovalAction], ApprovalState] = {
    (ApprovalState.PENDING, ApprovalAction.APPROVE): ApprovalState.APPROVED,
    (ApprovalState.PENDING, ApprovalAction.REJECT): ApprovalState.REJECTED,
    (ApprovalState.PENDING, ApprovalAction.REQUEST_CHANGES): ApprovalState.CHANGES_REQUESTED,
    (ApprovalState.PENDING, ApprovalAction.WITHDRAW): ApprovalState.WITHDRAWN,
    (ApprovalState.CHANGES_REQUESTED, ApprovalAction.RESUBMIT): ApprovalState.PENDING,
    (ApprovalState.CHANGES_REQUESTED, ApprovalAction.WITHDRAW): ApprovalState.WITHDRAWN,
}

COMMENT_REQUIRED = frozenset({ApprovalAction.REJECT, ApprovalAction.REQUEST_CHANGES})


class HistoryEvent(StrEnum):
    """An entry of a request's append-only history: each transition, and each refused or noted attempt."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    RESUBMITTED = "resubmitted"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"  # an attempt that changed nothing (who, why)
    REMINDED = "reminded"  # a reminder went to the deciders


ACTION_EVENTS: Mapping[ApprovalAction, HistoryEvent] = {
    ApprovalAction.APPROVE: HistoryEvent.APPROVED,
    ApprovalAction.REJECT: HistoryEvent.REJECTED,
    ApprovalAction.REQUEST_CHANGES: HistoryEvent.CHANGES_REQUESTED,
    ApprovalAction.RESUBMIT: HistoryEvent.RESUBMITTED,
    ApprovalAction.WITHDRAW: HistoryEvent.WITHDRAWN,
}


# --- refusals ------------------------------------------------------------------------------------------


class RefusalReason(StrEnum):
    NO_SUCH_REQUEST = "no_such_request"
    NOT_A_DECIDER = "not_a_decider"
    OWN_REQUEST = "own_request"
    NOT_THE_REQUESTER = "not_the_requester"
    NOT_PENDING = "not_pending"  # decided, withdrawn, or waiting for changes: the late one is told who
    OUT_OF_DATE = "out_of_date"  # the card shows an earlier round of a resubmitted request
    WRONG_CARD = "wrong_card"  # the button's data names another request than the card it sits on
    NOT_ALLOWED_NOW = "not_allowed_now"  # e.g. resubmit while still pending
    COMMENT_REQUIRED = "comment_required"
    COMMENT_TOO_LONG = "comment_too_long"
    ACTING_FOR_REQUESTER = "acting_for_requester"  # a deputy, acting for the Head, on the Head's own request
    NOT_ALLOWED_TO_SEE = "not_allowed_to_see"  # neither the requester, a decider of it, nor SLT for its kind


AUDITED_REFUSALS = frozenset(RefusalReason) - {RefusalReason.COMMENT_REQUIRED, RefusalReason.COMMENT_TOO_LONG}
"""Refusals written to the request's history (authorisation and state); input mistakes are not."""


class ApprovalRefused(Exception):
    """An action that must change nothing, with the reason and, where it helps, the request as it stands."""

    def __init__(self, reason: RefusalReason, detail: str = "", request: ApprovalRecord | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.request = request
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


# --- who may decide ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delegation:
    """The Head Teacher's authority to decide, lent to a deputy from ``starts_at`` until ``ends_at``."""

    id: int
    head_aad_object_id: str
    head_name: str
    deputy_aad_object_id: str
    deputy_name: str
    starts_at: datetime
    ends_at: datetime  # exclusive: the start of the day after the "until" date, school time
    ended_at: datetime | None = None  # ended early by the Head Teacher
    summary_sent_at: datetime | None = None

    @property
    def effective_end(self) -> datetime:
        return min(self.ends_at, self.ended_at) if self.ended_at else self.ends_at

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.effective_end

    def until_date(self, calendar: SchoolCalendar) -> date:
        """The last day of the delegation, as the Head Teacher typed it (a school date)."""
        return (calendar.local(self.ends_at) - timedelta(days=1)).date()


class Capacity(StrEnum):
    HEAD_TEACHER = "head_teacher"
    ACTING_DEPUTY = "acting_deputy"


@dataclass(frozen=True)
class Authority:
    """Who may decide approvals at one moment: built on the server from roles and delegations.

    Attributes:
        head_teachers: Entra object id → name of each Head Teacher in the directory.
        acting_deputies: deputies with an active delegation who still hold the deputy role (id → name).
        acting_for: deputy's Entra object id → the Head Teachers whose delegation they act under (ids); see
            `acting_for_map`.
    """

    head_teachers: Mapping[str, str]
    acting_deputies: Mapping[str, str] = field(default_factory=dict)
    acting_for: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def capacity_of(self, aad_object_id: str) -> Capacity | None:
        key = aad_object_id.lower()
        if key in {k.lower() for k in self.head_teachers}:
            return Capacity.HEAD_TEACHER
        if key in {k.lower() for k in self.acting_deputies}:
            return Capacity.ACTING_DEPUTY
        return None

    def may_decide(self, aad_object_id: str) -> bool:
        return self.capacity_of(aad_object_id) is not None

    def principals_of(self, aad_object_id: str) -> frozenset[str]:
        """The Head Teachers (ids, lower case) this person decides for under a delegation."""
        return self.acting_for.get(aad_object_id.lower(), frozenset())

    def conflict(self, aad_object_id: str, request: ApprovalRecord) -> RefusalReason | None:
        """Why this person may not decide this very request although they may decide (None: they may): it is
        their own, or, acting as deputy, the Head Teacher's they act for."""
        requester = request.requester_aad_object_id.lower()
        if aad_object_id.lower() == requester:
            return RefusalReason.OWN_REQUEST
        if self.capacity_of(aad_object_id) is Capacity.ACTING_DEPUTY and requester in self.principals_of(
                aad_object_id):
            return RefusalReason.ACTING_FOR_REQUESTER
        return None

    def may_decide_request(self, aad_object_id: str, request: ApprovalRecord) -> bool:
        """Whether this person may decide this request: a decider, and no conflict with it."""
        return self.may_decide(aad_object_id) and self.conflict(aad_object_id, request) is None

    @property
    def deciders(self) -> dict[str, str]:
        """Everyone who may decide now (id → name): the Head Teacher(s) and any acting deputy."""
        return {**self.head_teachers, **self.acting_deputies}

    @property
    def routed_to(self) -> dict[str, str]:
        """Who new and pending requests go to: the acting deputy during a delegation, else the Head Teacher."""
        return dict(self.acting_deputies) if self.acting_deputies else dict(self.head_teachers)


def acting_for_map(delegations: Iterable[Delegation]) -> dict[str, frozenset[str]]:
    """Each deputy (id, lower case) → the Head Teachers (ids, lower case) whose delegations they hold."""
    heads: dict[str, set[str]] = {}
    for delegation in delegations:
        heads.setdefault(delegation.deputy_aad_object_id.lower(), set()).add(delegation.head_aad_object_id.lower())
    return {deputy: frozenset(ids) for deputy, ids in heads.items()}


# --- a request and its transitions ---------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalRecord:
    """A request as it stands (what the rules and the cards need)."""

    id: int
    reference: str
    kind: ApprovalKind
    state: ApprovalState
    round: int
    requester_aad_object_id: str
    requester_name: str
    payload: Mapping[str, Any]
    created_at: datetime
    pending_since: datetime | None
    decided_at: datetime | None = None
    decided_by_aad_object_id: str | None = None
    decided_by_name: str | None = None
    decision_comment: str | None = None
    decided_as: Capacity | None = None
    legal_hold: bool = False  # under a legal hold (set where a view loads it: services/approvals.py)
    changed: tuple[str, ...] = ()  # what this round changed since the one before (a resubmission), in plain words

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Transition:
    """One allowed move, checked against a request's state and round."""

    action: ApprovalAction
    from_state: ApprovalState
    to_state: ApprovalState
    round: int  # the round the action was checked against (resubmit opens round + 1)
    actor_aad_object_id: str
    actor_name: str
    comment: str | None = None
    capacity: Capacity | None = None  # for decider actions: as Head Teacher or as acting deputy

    @property
    def event(self) -> HistoryEvent:
        return ACTION_EVENTS[self.action]

    @property
    def is_decision(self) -> bool:
        return self.action in DECIDER_ACTIONS


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def check_action(
    request: ApprovalRecord,
    action: ApprovalAction,
    *,
    actor_aad_object_id: str,
    actor_name: str,
    authority: Authority,
    comment: str | None = None,
    card_round: int | None = None,
) -> Transition:
    """The transition ``action`` by this actor makes, or why it is refused.

    Args:
        card_round: the round the actor's card showed. A decider action must name it: one that names none, or
            an earlier round of a request that was changed and sent again, is refused as out of date.

    Raises:
        ApprovalRefused: not allowed (who, state, round, missing or over-long comment).
    """
    comment = (comment or "").strip() or None
    if action in DECIDER_ACTIONS:
        capacity = authority.capacity_of(actor_aad_object_id)
        if capacity is None:
            raise ApprovalRefused(RefusalReason.NOT_A_DECIDER, request=request)
        conflict = authority.conflict(actor_aad_object_id, request)
        if conflict is not None:
            raise ApprovalRefused(conflict, request=request)
    else:
        capacity = None
        if not _same(actor_aad_object_id, request.requester_aad_object_id):
            raise ApprovalRefused(RefusalReason.NOT_THE_REQUESTER, request=request)
    to_state = TRANSITIONS.get((request.state, action))
    if to_state is None:
        if request.is_final or (action in DECIDER_ACTIONS and request.state is ApprovalState.CHANGES_REQUESTED):
            raise ApprovalRefused(RefusalReason.NOT_PENDING, request=request)
        raise ApprovalRefused(RefusalReason.NOT_ALLOWED_NOW, request=request)
    if (action in DECIDER_ACTIONS or card_round is not None) and card_round != request.round:
        raise ApprovalRefused(RefusalReason.OUT_OF_DATE, request=request)  # a decision naming no round included
    if action in COMMENT_REQUIRED and not comment:
        raise ApprovalRefused(RefusalReason.COMMENT_REQUIRED, request=request)
    if comment and len(comment) > MAX_COMMENT_LENGTH:
        raise ApprovalRefused(RefusalReason.COMMENT_TOO_LONG, request=request)
    return Transition(
        action=action, from_state=request.state, to_state=to_state, round=request.round,
        actor_aad_object_id=actor_aad_object_id, actor_name=actor_name, comment=comment, capacity=capacity,
    )


# --- who sees what ------------------------------------------------------------------------------------


class RequestView(StrEnum):
    """What one person may see of a request."""

    REQUESTER = "requester"  # everything they sent, the state and the decision; Withdraw / Change and resend
    DECIDER = "decider"  # everything, with the decision buttons while it waits
    SLT = "slt"  # the kind's SLT facts and the state: no pupil's name, no decider's name or comment


def view_of(request: ApprovalRecord, aad_object_id: str, authority: Authority, *, slt: bool) -> RequestView | None:
    """The view this person may have of ``request``, or None: they may see nothing of it.

    Args:
        authority: what this person may decide (built on the server from their roles and delegations).
        slt: whether they hold the SLT role (read from the directory, never from the card).
    """
    if _same(aad_object_id, request.requester_aad_object_id):
        return RequestView.REQUESTER
    if authority.may_decide_request(aad_object_id, request):
        return RequestView.DECIDER
    if slt and request.kind in SLT_KINDS:
        return RequestView.SLT
    return None


def view_is_audited(request: ApprovalRecord, view: RequestView | None) -> bool:
    """Whether showing ``request`` in ``view`` is written to the audit trail: its pupils' names shown to someone
    other than the requester, who gave them (the requester's own card refreshes each time Teams shows it: an entry
    for each would bury the views that matter)."""
    return request.kind in KINDS_WITH_PUPIL_NAMES and view is RequestView.DECIDER


def apply_transition(request: ApprovalRecord, transition: Transition, now: datetime) -> ApprovalRecord:
    """The request after ``transition`` (which must have been checked against this very state and round).

    Raises:
        ApprovalRefused: NOT_PENDING when the request moved on since the check (someone else acted first).
    """
    if request.state is not transition.from_state or request.round != transition.round:
        raise ApprovalRefused(RefusalReason.NOT_PENDING, request=request)
    if transition.action is ApprovalAction.RESUBMIT:
        return replace(
            request, state=ApprovalState.PENDING, round=request.round + 1, pending_since=now, decided_at=None,
            decided_by_aad_object_id=None, decided_by_name=None, decision_comment=None, decided_as=None,
        )
    if transition.is_decision:
        return replace(
            request, state=transition.to_state, decided_at=now,
            decided_by_aad_object_id=transition.actor_aad_object_id, decided_by_name=transition.actor_name,
            decision_comment=transition.comment, decided_as=transition.capacity,
        )
    return replace(request, state=transition.to_state)


# --- delegation ----------------------------------------------------------------------------------------


class DelegationError(ValueError):
    """A `delegate to ... until ...` the bot cannot act on; the message says what to type."""


_MONTHS = {
    name: number
    for number, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for name in names
}
_WEEKDAYS = {name: index for index, names in enumerate(
    [("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"), ("thu", "thur", "thurs", "thursday"),
     ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday")]) for name in names}
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_DATE_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "iso"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$"), "dmy"),
    (re.compile(rf"^{_ORDINAL}\s+([a-z]+)\.?(?:\s+(\d{{4}}))?$"), "d_month"),
    (re.compile(rf"^([a-z]+)\.?\s+{_ORDINAL}(?:,?\s+(\d{{4}}))?$"), "month_d"),
)
_DELEGATE = re.compile(r"^(?P<who>.+?)\s+until\s+(?P<until>.+?)\s*$", re.IGNORECASE)


def long_date(day: date) -> str:
    """E.g. "Friday 5 December 2026"."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def _safe_date(year: int, month: int, day: int, typed: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DelegationError(f"{typed!r} is not a date I can read.") from None


def parse_until(text: str, today: date) -> date:
    """A last day as a person types it: ``2026-12-05``, ``5/12/2026``, ``5 Dec``, ``December 5th``,
    ``Friday`` (the next one, today included), ``tomorrow``. A day and month without a year is the next
    such day from today.

    Raises:
        DelegationError: the text is not a date in one of these forms.
    """
    typed = text.strip()
    cleaned = re.sub(r"\s+", " ", typed.lower().rstrip(".")).removeprefix("the ")
    if cleaned in ("today",):
        return today
    if cleaned == "tomorrow":
        return today + timedelta(days=1)
    weekday = _WEEKDAYS.get(cleaned.removeprefix("next ").removeprefix("this "))
    if weekday is not None:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    for pattern, form in _DATE_FORMS:
        match = pattern.match(cleaned)
        if not match:
            continue
        if form == "iso":
            return _safe_date(int(match[1]), int(match[2]), int(match[3]), typed)
        if form == "dmy":
            day, month, year = int(match[1]), int(match[2]), match[3]
        else:
            day_text, month_text = (match[1], match[2]) if form == "d_month" else (match[2], match[1])
            month_number = _MONTHS.get(month_text)
            if month_number is None:
                raise DelegationError(f"{typed!r} is not a date I can read (which month?).")
            day, month, year = int(day_text), month_number, match[3]
        if year is not None:
            full_year = int(year) + (2000 if len(year) == 2 else 0)
            return _safe_date(full_year, month, day, typed)
        candidate = _safe_date(today.year, month, day, typed)
        return candidate if candidate >= today else _safe_date(today.year + 1, month, day, typed)
    raise DelegationError(
        f"{typed!r} is not a date I can read. Try a date like 5 December, 5/12/2026 or 2026-12-05, or a day "
        "like Friday."
    )


@dataclass(frozen=True)
class DelegationRequest:
    deputy_text: str  # the name as typed, matched against the deputies in the directory by the caller
    until: date


def parse_delegation(argument: str, today: date) -> DelegationRequest:
    """Read ``<deputy> until <date>`` (the words after `delegate to`).

    Raises:
        DelegationError: no "until", no name, an unreadable date, a date in the past or too far ahead.
    """
    match = _DELEGATE.match(argument.strip())
    if not match or not match["who"].strip():
        raise DelegationError(
            "Type it as **delegate to** a deputy's name **until** the last day you are away, for example: "
            "delegate to Priya Shah until Friday."
        )
    until = parse_until(match["until"], today)
    if until < today:
        raise DelegationError(f"{long_date(until)} has passed: give the last day you will be away.")
    if (until - today).days > MAX_DELEGATION_DAYS:
        raise DelegationError(
            f"A delegation can last at most {MAX_DELEGATION_DAYS} days. For a longer absence, ask the "
            "governors to change who holds the Head Teacher role in the directory."
        )
    return DelegationRequest(deputy_text=match["who"].strip(), until=until)


def delegation_window(until: date, now: datetime, calendar: SchoolCalendar) -> tuple[datetime, datetime]:
    """From now until the end of ``until`` (a school date), in UTC."""
    return now, calendar.start_of(until + timedelta(days=1))


# --- reminders -----------------------------------------------------------------------------------------
#
# School days and hours are the school calendar's (`domain.calendar`): by default Monday to Friday, from
# 08:00. Term dates and bank holidays are NOT modelled, so a reminder can arrive during a school holiday; the
# school can pause it by deciding or by delegating.


def reminder_due(
    pending_since: datetime, now: datetime, *, school_days: int, last_reminded_on: date | None,
    calendar: SchoolCalendar,
) -> bool:
    """A pending request is overdue after ``school_days`` school days; remind once a school day, from the start
    of school hours (08:00 by default).

    Args:
        last_reminded_on: the school date of the last reminder, if any.
    """
    if not calendar.school_day_started(now):
        return False
    if now < calendar.add_school_days(pending_since, school_days):
        return False
    return last_reminded_on is None or last_reminded_on < calendar.school_date(now)
