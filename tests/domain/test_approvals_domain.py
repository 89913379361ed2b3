"""The approval state machine, who may decide, delegation dates and school days (pure domain)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.approvals import (
    DECIDER_ACTIONS,
    FINAL_STATES,
    REQUESTER_ACTIONS,
    TRANSITIONS,
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
    acting_for_map,
    apply_transition,
    check_action,
    delegation_window,
    parse_delegation,
    parse_until,
    reminder_due,
    view_is_audited,
    view_of,
)
from domain.calendar import SchoolCalendar

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
LONDON = SchoolCalendar()  # the default school calendar: Europe/London, Monday to Friday, from 08:00
REQUESTER = "sam"
HEAD = "anna"
DEPUTY = "priya"
OTHER = "lee"
AUTHORITY = Authority(head_teachers={HEAD: "Anna Smith"})
WITH_DEPUTY = Authority(head_teachers={HEAD: "Anna Smith"}, acting_deputies={DEPUTY: "Priya Shah"})
NAMES = {REQUESTER: "Sam Teacher", HEAD: "Anna Smith", DEPUTY: "Priya Shah", OTHER: "Lee Carter"}


def pending(**changes: object) -> ApprovalRecord:
    base = ApprovalRecord(
        id=1, reference="ACC-2026-0001", kind=ApprovalKind.NEW_ACCOUNT, state=ApprovalState.PENDING, round=1,
        requester_aad_object_id=REQUESTER, requester_name="Sam Teacher", payload={}, created_at=NOW,
        pending_since=NOW,
    )
    return ApprovalRecord(**{**base.__dict__, **changes})  # type: ignore[arg-type]


SHOWN = -1  # act(): the card shows the request's current round


def act(request: ApprovalRecord, action: ApprovalAction, actor: str, authority: Authority = AUTHORITY,
        comment: str | None = None, card_round: int | None = SHOWN) -> ApprovalRecord:
    if card_round == SHOWN:
        card_round = request.round if action in DECIDER_ACTIONS else None
    transition = check_action(request, action, actor_aad_object_id=actor, actor_name=NAMES[actor],
                              authority=authority, comment=comment, card_round=card_round)
    return apply_transition(request, transition, NOW)


# --- the state machine ------------------------------------------------------------------------------------


def test_the_head_teacher_approves_a_pending_request() -> None:
    after = act(pending(), ApprovalAction.APPROVE, HEAD)
    assert after.state is ApprovalState.APPROVED
    assert (after.decided_by_name, after.decided_as, after.decided_at) == ("Anna Smith", Capacity.HEAD_TEACHER, NOW)


@pytest.mark.parametrize("action", [ApprovalAction.REJECT, ApprovalAction.REQUEST_CHANGES])
def test_reject_and_ask_for_changes_need_a_comment(action: ApprovalAction) -> None:
    for blank in (None, "", "   "):
        with pytest.raises(ApprovalRefused) as refused:
            act(pending(), action, HEAD, comment=blank)
        assert refused.value.reason is RefusalReason.COMMENT_REQUIRED
    assert act(pending(), action, HEAD, comment="Name a second runner").decision_comment == "Name a second runner"


def test_an_over_long_comment_is_refused() -> None:
    with pytest.raises(ApprovalRefused) as refused:
        act(pending(), ApprovalAction.REJECT, HEAD, comment="x" * 1001)
    assert refused.value.reason is RefusalReason.COMMENT_TOO_LONG


@pytest.mark.parametrize("actor", [OTHER, REQUESTER, DEPUTY])
def test_only_a_decider_decides(actor: str) -> None:
    with pytest.raises(ApprovalRefused) as refused:
        act(pending(), ApprovalAction.APPROVE, actor)
    assert refused.value.reason is RefusalReason.NOT_A_DECIDER


def test_an_acting_deputy_decides_as_acting_deputy() -> None:
    after = act(pending(), ApprovalAction.APPROVE, DEPUTY, WITH_DEPUTY)
    assert after.decided_as is Capacity.ACTING_DEPUTY


def test_nobody_decides_their_own_request() -> None:
    request = pending(requester_aad_object_id=HEAD, requester_name="Anna Smith")
    with pytest.raises(ApprovalRefused) as refused:
        act(request, ApprovalAction.APPROVE, HEAD)
    assert refused.value.reason is RefusalReason.OWN_REQUEST


def _delegation(head: str, deputy: str) -> Delegation:
    return Delegation(id=1, head_aad_object_id=head, head_name=NAMES[head.lower()], deputy_aad_object_id=deputy,
                      deputy_name=NAMES[deputy.lower()], starts_at=NOW, ends_at=NOW + timedelta(days=3))


ACTING_FOR_HEAD = Authority(head_teachers={HEAD: "Anna Smith"}, acting_deputies={DEPUTY: "Priya Shah"},
                            acting_for=acting_for_map([_delegation(HEAD, DEPUTY.upper())]))


def test_a_deputy_acting_for_the_head_cannot_decide_the_heads_own_request() -> None:
    heads_request = pending(requester_aad_object_id=HEAD.upper(), requester_name="Anna Smith")
    for action, comment in ((ApprovalAction.APPROVE, None), (ApprovalAction.REJECT, "no"),
                            (ApprovalAction.REQUEST_CHANGES, "more")):
        with pytest.raises(ApprovalRefused) as refused:
            act(heads_request, action, DEPUTY, ACTING_FOR_HEAD, comment=comment)
        assert refused.value.reason is RefusalReason.ACTING_FOR_REQUESTER
    assert not ACTING_FOR_HEAD.may_decide_request(DEPUTY, heads_request)
    # The same deputy decides anyone else's request, and the Head decides the deputy's.
    assert act(pending(), ApprovalAction.APPROVE, DEPUTY, ACTING_FOR_HEAD).decided_as is Capacity.ACTING_DEPUTY
    deputys_request = pending(requester_aad_object_id=DEPUTY, requester_name="Priya Shah")
    assert act(deputys_request, ApprovalAction.APPROVE, HEAD, ACTING_FOR_HEAD).state is ApprovalState.APPROVED


def test_a_decision_that_names_no_round_is_out_of_date() -> None:
    for action, comment in ((ApprovalAction.APPROVE, None), (ApprovalAction.REJECT, "no"),
                            (ApprovalAction.REQUEST_CHANGES, "more")):
        with pytest.raises(ApprovalRefused) as refused:
            act(pending(), action, HEAD, comment=comment, card_round=None)
        assert refused.value.reason is RefusalReason.OUT_OF_DATE
    with pytest.raises(ApprovalRefused) as refused:  # a round the request has not reached is no better
        act(pending(), ApprovalAction.APPROVE, HEAD, card_round=2)
    assert refused.value.reason is RefusalReason.OUT_OF_DATE
    # The requester's own actions name no round of a decision.
    assert act(pending(), ApprovalAction.WITHDRAW, REQUESTER, card_round=None).state is ApprovalState.WITHDRAWN


@pytest.mark.parametrize(("kind", "person", "slt", "expected"), [
    (ApprovalKind.PERSONAL_DEVICE_PHOTO, REQUESTER, False, RequestView.REQUESTER),
    (ApprovalKind.PERSONAL_DEVICE_PHOTO, HEAD, True, RequestView.DECIDER),
    (ApprovalKind.PERSONAL_DEVICE_PHOTO, DEPUTY, False, RequestView.DECIDER),  # acting for the Head
    (ApprovalKind.PERSONAL_DEVICE_PHOTO, "tom", True, RequestView.SLT),
    (ApprovalKind.PERSONAL_DEVICE_PHOTO, OTHER, False, None),
    (ApprovalKind.NEW_ACCOUNT, "tom", True, RequestView.SLT),
    (ApprovalKind.NEW_ACCOUNT, OTHER, False, None),
])
def test_who_sees_which_view_of_a_request(kind: ApprovalKind, person: str, slt: bool,
                                          expected: RequestView | None) -> None:
    request = pending(kind=kind)
    assert view_of(request, person, ACTING_FOR_HEAD if person == DEPUTY else AUTHORITY, slt=slt) is expected
    assert view_is_audited(request, expected) is (kind is ApprovalKind.PERSONAL_DEVICE_PHOTO
                                                  and expected is RequestView.DECIDER)


def test_the_deputy_acting_for_the_head_sees_her_own_request_only_as_slt_do() -> None:
    heads_request = pending(requester_aad_object_id=HEAD, requester_name="Anna Smith")
    assert view_of(heads_request, HEAD, ACTING_FOR_HEAD, slt=True) is RequestView.REQUESTER
    assert view_of(heads_request, DEPUTY, ACTING_FOR_HEAD, slt=True) is RequestView.SLT
    assert view_of(heads_request, DEPUTY, ACTING_FOR_HEAD, slt=False) is None


@pytest.mark.parametrize("state", sorted(FINAL_STATES | {ApprovalState.CHANGES_REQUESTED}))
def test_a_request_no_longer_pending_cannot_be_decided(state: ApprovalState) -> None:
    with pytest.raises(ApprovalRefused) as refused:
        act(pending(state=state, decided_by_name="Anna Smith"), ApprovalAction.APPROVE, HEAD)
    assert refused.value.reason is RefusalReason.NOT_PENDING
    assert refused.value.request is not None and refused.value.request.decided_by_name == "Anna Smith"


def test_changes_requested_then_resubmitted_opens_a_new_round() -> None:
    sent_back = act(pending(), ApprovalAction.REQUEST_CHANGES, HEAD, comment="Who covers holidays?")
    assert sent_back.state is ApprovalState.CHANGES_REQUESTED
    again = act(sent_back, ApprovalAction.RESUBMIT, REQUESTER)
    assert (again.state, again.round, again.decided_by_name, again.decision_comment) == (
        ApprovalState.PENDING, 2, None, None)
    with pytest.raises(ApprovalRefused) as refused:  # a card of round 1
        act(again, ApprovalAction.APPROVE, HEAD, card_round=1)
    assert refused.value.reason is RefusalReason.OUT_OF_DATE
    assert act(again, ApprovalAction.APPROVE, HEAD, card_round=2).state is ApprovalState.APPROVED


def test_only_the_requester_withdraws_or_resubmits() -> None:
    for action in REQUESTER_ACTIONS:
        with pytest.raises(ApprovalRefused) as refused:
            act(pending(state=ApprovalState.CHANGES_REQUESTED), action, HEAD)
        assert refused.value.reason is RefusalReason.NOT_THE_REQUESTER
    assert act(pending(), ApprovalAction.WITHDRAW, REQUESTER).state is ApprovalState.WITHDRAWN


def test_resubmitting_a_pending_request_is_not_allowed_now() -> None:
    with pytest.raises(ApprovalRefused) as refused:
        act(pending(), ApprovalAction.RESUBMIT, REQUESTER)
    assert refused.value.reason is RefusalReason.NOT_ALLOWED_NOW


def test_two_decisions_checked_against_the_same_state_apply_once() -> None:
    request = pending()
    first = check_action(request, ApprovalAction.APPROVE, actor_aad_object_id=HEAD, actor_name="Anna Smith",
                         authority=WITH_DEPUTY, card_round=1)
    second = check_action(request, ApprovalAction.REJECT, actor_aad_object_id=DEPUTY, actor_name="Priya Shah",
                          authority=WITH_DEPUTY, comment="no", card_round=1)
    after = apply_transition(request, first, NOW)
    with pytest.raises(ApprovalRefused) as refused:
        apply_transition(after, second, NOW)
    assert refused.value.reason is RefusalReason.NOT_PENDING


# --- property: any sequence of actions by anyone ----------------------------------------------------------

ACTORS = [REQUESTER, HEAD, DEPUTY, OTHER]
step = st.tuples(
    st.sampled_from(ACTORS),
    st.sampled_from(list(ApprovalAction)),
    st.sampled_from([None, "", "a reason"]),
    st.booleans(),  # the deputy's delegation is active at this moment
    st.one_of(st.none(), st.integers(min_value=1, max_value=4)),  # the round the actor's card shows
)


@settings(max_examples=400, deadline=None)
@given(st.lists(step, max_size=25))
def test_any_sequence_leaves_at_most_one_decision_and_only_allowed_transitions(
    steps: list[tuple[str, ApprovalAction, str | None, bool, int | None]],
) -> None:
    request = pending()
    final_decisions = 0
    decided_rounds: list[int] = []
    for actor, action, comment, deputy_acting, card_round in steps:
        authority = WITH_DEPUTY if deputy_acting else AUTHORITY
        before = request
        try:
            request = act(request, action, actor, authority, comment, card_round)
        except ApprovalRefused:
            assert request == before  # a refusal changes nothing
            continue
        assert TRANSITIONS[(before.state, action)] is request.state  # only listed transitions
        assert before.state not in FINAL_STATES  # nothing moves a final request
        if action in DECIDER_ACTIONS:
            assert authority.may_decide(actor) and actor != REQUESTER
            assert card_round == before.round  # every decision names the round it was shown
            assert before.round not in decided_rounds  # one decider action per round
            decided_rounds.append(before.round)
            if action in (ApprovalAction.REJECT, ApprovalAction.REQUEST_CHANGES):
                assert request.decision_comment
        else:
            assert actor == REQUESTER
        if request.state in (ApprovalState.APPROVED, ApprovalState.REJECTED):
            final_decisions += 1
        assert request.round == before.round + (action is ApprovalAction.RESUBMIT)
    assert final_decisions <= 1
    if request.state in (ApprovalState.APPROVED, ApprovalState.REJECTED):
        assert request.decided_by_aad_object_id in (HEAD, DEPUTY)


# --- delegation --------------------------------------------------------------------------------------------

TODAY = date(2026, 11, 24)  # Tuesday


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-12-05", date(2026, 12, 5)),
        ("5/12/2026", date(2026, 12, 5)),
        ("5/12", date(2026, 12, 5)),
        ("5 December", date(2026, 12, 5)),
        ("5th Dec", date(2026, 12, 5)),
        ("December 5th", date(2026, 12, 5)),
        ("Friday", date(2026, 11, 27)),
        ("tuesday", date(2026, 11, 24)),
        ("tomorrow", date(2026, 11, 25)),
        ("3 January", date(2027, 1, 3)),  # no year, already past this year: next year
    ],
)
def test_until_dates_as_people_type_them(typed: str, expected: date) -> None:
    assert parse_until(typed, TODAY) == expected


@pytest.mark.parametrize("typed", ["Priya", "Priya until", "until Friday", "Priya until someday",
                                   "Priya until 31/2/2026", "Priya until 1 Jan 2026", "Priya until 2027-12-01"])
def test_delegations_the_bot_cannot_act_on(typed: str) -> None:
    with pytest.raises(DelegationError):
        parse_delegation(typed, TODAY)


def test_a_delegation_lasts_to_the_end_of_its_last_day_school_time() -> None:
    wanted = parse_delegation("Priya Shah until Friday", TODAY)
    assert (wanted.deputy_text, wanted.until) == ("Priya Shah", date(2026, 11, 27))
    starts, ends = delegation_window(wanted.until, NOW, LONDON)
    delegation = Delegation(1, HEAD, "Anna Smith", DEPUTY, "Priya Shah", starts, ends)
    assert ends == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # GMT in November
    assert delegation.active_at(NOW) and delegation.active_at(ends - timedelta(seconds=1))
    assert not delegation.active_at(ends) and delegation.until_date(LONDON) == date(2026, 11, 27)
    ended_early = Delegation(1, HEAD, "Anna Smith", DEPUTY, "Priya Shah", starts, ends, ended_at=NOW + timedelta(1))
    assert not ended_early.active_at(NOW + timedelta(days=2))


def test_a_summer_delegation_ends_at_midnight_british_summer_time() -> None:
    _, ends = delegation_window(date(2026, 7, 10), datetime(2026, 7, 6, 9, tzinfo=UTC), LONDON)
    assert ends == datetime(2026, 7, 10, 23, 0, tzinfo=UTC)


# --- school days and reminders ------------------------------------------------------------------------------


def test_school_days_skip_weekends() -> None:
    friday_3pm = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert LONDON.add_school_days(friday_3pm, 2) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert LONDON.add_school_days(saturday, 2) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # from Monday morning
    assert LONDON.add_school_days(NOW, 0) == NOW


def test_a_reminder_is_due_after_two_school_days_once_a_day_on_school_days() -> None:
    submitted = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # Friday afternoon
    monday = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    tuesday_9am = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    tuesday_4pm = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert not reminder_due(submitted, monday, school_days=2, last_reminded_on=None, calendar=LONDON)
    # not 2 days yet:
    assert not reminder_due(submitted, tuesday_9am, school_days=2, last_reminded_on=None, calendar=LONDON)
    assert reminder_due(submitted, tuesday_4pm, school_days=2, last_reminded_on=None, calendar=LONDON)
    assert not reminder_due(submitted, tuesday_4pm, school_days=2, last_reminded_on=date(2026, 12, 1), calendar=LONDON)
    wednesday_7am = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    wednesday_8am = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert not reminder_due(submitted, wednesday_7am, school_days=2, last_reminded_on=date(2026, 12, 1),
                            calendar=LONDON)
    assert reminder_due(submitted, wednesday_8am, school_days=2, last_reminded_on=date(2026, 12, 1), calendar=LONDON)
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert not reminder_due(submitted, saturday, school_days=2, last_reminded_on=date(2026, 12, 4), calendar=LONDON)
    assert LONDON.school_days_between(submitted, wednesday_8am) == 2
