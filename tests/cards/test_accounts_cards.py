"""Every card of accounts and approvals is valid for Teams, and shows what each audience may see."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cards.accounts import (
    ACCOUNT_SUBMIT_VERB,
    NO_PASSWORDS,
    NOT_ON_STAFF_LIST,
    STAFF_SEARCH,
    account_form_card,
    account_register_card,
    account_summary,
    form_closed_card,
    handover_alert_card,
)
from cards.approvals import (
    APPROVAL_DECIDE_VERB,
    APPROVAL_REFRESH_VERB,
    decider_card,
    delegation_card,
    delegation_notice_card,
    delegation_summary_card,
    my_requests_card,
    outcome_card,
    slt_card,
    status_card,
)
from cards.base import MAX_REFRESH_USERS
from domain.accounts import (
    Administrator,
    RegisteredAccount,
    StaffMember,
    Training,
    Visibility,
    check_handover,
    runner_field,
    validate_form,
)
from domain.approvals import ApprovalKind, ApprovalRecord, ApprovalState, Capacity, Delegation
from domain.calendar import SchoolCalendar
from tests.support.approvals import ANNA, LEE, PRIYA, SAM, card_text, case_values
from tests.support.cardcheck import assert_valid_cards

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LONDON = SchoolCalendar()
PEOPLE = [(SAM.aad, SAM.name), (LEE.aad, LEE.name), (ANNA.aad, ANNA.name)]
STAFF = {SAM.aad: StaffMember(SAM.aad, SAM.name), LEE.aad: StaffMember(LEE.aad, LEE.name)}
CASE = validate_form(case_values(account_name="Year 6 *news* [click](http://evil.example)"), STAFF).case
assert CASE is not None
SUMMARY = account_summary(CASE)
REQUEST = ApprovalRecord(
    id=7, reference="ACC-2026-0007", kind=ApprovalKind.NEW_ACCOUNT, state=ApprovalState.PENDING, round=1,
    requester_aad_object_id=SAM.aad, requester_name=SAM.name, payload=CASE.model_dump(mode="json"),
    created_at=NOW, pending_since=NOW,
)
APPROVED = replace(REQUEST, state=ApprovalState.APPROVED, decided_at=NOW, decided_by_aad_object_id=PRIYA.aad,
                   decided_by_name=PRIYA.name, decided_as=Capacity.ACTING_DEPUTY, decision_comment="Lovely idea")
REJECTED = replace(REQUEST, state=ApprovalState.REJECTED, decided_at=NOW, decided_by_name=ANNA.name,
                   decision_comment="Sam's phone number is 0123")
CHANGES = replace(REQUEST, state=ApprovalState.CHANGES_REQUESTED, decided_at=NOW, decided_by_name=ANNA.name,
                  decision_comment="Who covers August?")
DELEGATION = Delegation(3, ANNA.aad, ANNA.name, PRIYA.aad, PRIYA.name, NOW, NOW + timedelta(days=3))
ACCOUNT = RegisteredAccount(
    id=1, platform="Facebook", account_name="Year 6", audience="Parents", visibility=Visibility.PRIVATE,
    approval_reference="ACC-2026-0007", approved_at=NOW, approved_by_name=ANNA.name,
    administrators=(Administrator(SAM.aad, SAM.name, Training.CONFIRMED),
                    Administrator(LEE.aad, LEE.name, Training.REQUESTED)),
)


def every_card() -> list[dict[str, Any]]:
    errors = validate_form({runner_field(1): SAM.aad, runner_field(2): SAM.aad, "aim": "x" * 2000}, STAFF).errors
    return [c.to_dict() for c in [
        account_form_card({}, PEOPLE, form_id="a" * 32, calendar=LONDON),
        account_form_card(case_values(), PEOPLE, errors=errors, notice="Draft saved", draft_saved_at=NOW,
                          calendar=LONDON),
        account_form_card(case_values(), PEOPLE, changing=(7, "ACC-2026-0007", "Who covers August?"), calendar=LONDON),
        form_closed_card("Draft discarded."),
        decider_card(REQUEST, SUMMARY, refresh_user_ids=[ANNA.teams_id, PRIYA.teams_id], calendar=LONDON),
        decider_card(REQUEST, SUMMARY, acting_for=ANNA.name, banner="Reminder: waited 2 school days",
                     error="Write a reason", comment="half", calendar=LONDON),
        *[status_card(r, SUMMARY, for_requester=True, notice="Sent", refresh_user_ids=[SAM.teams_id], calendar=LONDON)
          for r in (REQUEST, APPROVED, REJECTED, CHANGES)],
        *[slt_card(r, SUMMARY, calendar=LONDON) for r in (REQUEST, APPROVED, REJECTED)],
        *[outcome_card(r, SUMMARY, ["Type accounts"], calendar=LONDON) for r in (APPROVED, REJECTED, CHANGES)],
        my_requests_card([(REQUEST, SUMMARY), (APPROVED, SUMMARY)], draft_saved=NOW, calendar=LONDON),
        my_requests_card([], draft_saved=None, calendar=LONDON),
        delegation_card(DELEGATION, pending=2, calendar=LONDON), delegation_notice_card(DELEGATION, calendar=LONDON),
        delegation_summary_card(DELEGATION, [(APPROVED, SUMMARY)], still_pending=1, calendar=LONDON),
        delegation_summary_card(DELEGATION, [], still_pending=0, calendar=LONDON),
        account_register_card([check_handover(ACCOUNT, [SAM.aad])], show_handover=True, calendar=LONDON),
        account_register_card([check_handover(ACCOUNT, None)], show_handover=True, calendar=LONDON),
        account_register_card([], show_handover=False, calendar=LONDON),
        handover_alert_card(check_handover(ACCOUNT, [SAM.aad])),
    ]]


def test_every_card_is_valid_for_teams() -> None:
    assert_valid_cards(every_card())


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


def _inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in _walk(card) if str(n.get("type", "")).startswith("Input.")}


def _actions(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["title"]: a for a in card.get("actions") or []}


def test_runners_are_picked_with_the_bots_staff_typeahead_and_the_staff_it_can_name_as_choices() -> None:
    card = account_form_card({runner_field(1): "11111111-2222-3333-4444-555555555555"}, PEOPLE,
                             calendar=LONDON).to_dict()
    runner = _inputs(card)[runner_field(1)]
    empty = _inputs(card)[runner_field(2)]  # an empty slot searches the staff list as the person types
    assert empty["choices.data"] == STAFF_SEARCH == {"type": "Data.Query", "dataset": "policybot.staff", "count": 10}
    assert runner["style"] == empty["style"] == "filtered"
    assert "choices.data" not in runner  # a slot holding someone shows their name from the choices
    assert [c["title"] for c in runner["choices"]][:3] == ["Anna Smith", "Lee Carter", "Sam Teacher"]
    assert runner["value"] == "11111111-2222-3333-4444-555555555555"  # kept in its slot, said to be unknown
    assert {"title": NOT_ON_STAFF_LIST, "value": "11111111-2222-3333-4444-555555555555"} in runner["choices"]
    assert "Chosen in Teams" not in json.dumps(card)
    for slot in (1, 2, 3, 4):
        assert runner_field(slot) in _inputs(card)


def test_the_form_has_no_training_question_and_says_the_records_decide() -> None:
    card = account_form_card(case_values(runner_1_training="confirmed"), PEOPLE, calendar=LONDON).to_dict()
    inputs = _inputs(card)
    assert not [name for name in inputs if "training" in name]  # no self-declared radio, whatever a value says
    assert not [n for n in _walk(card) if "policy and training" in str(n.get("label", ""))]
    assert set(inputs) == {"platform", "platform_other", "account_name", "aim", "audience", "promotion",
                           "visibility", "monitoring_plan", "holiday_monitoring",
                           *[runner_field(slot) for slot in (1, 2, 3, 4)]}
    text = card_text(card)
    assert "Reading the policy and training are taken from the school's records, not asked here: SLT record " \
           "training by typing \u201ctraining <person> <date> <what>\u201d." in text
    assert "has read and understood this policy and received appropriate training." in text  # Q_TRAINING, quoted


def test_each_runner_slot_says_by_name_who_is_chosen_in_it_and_keeps_them_when_the_card_comes_back() -> None:
    values = {runner_field(1): PRIYA.aad, runner_field(2): LEE.aad, runner_field(3): SAM.aad}
    people = [(PRIYA.aad, PRIYA.name), (LEE.aad, LEE.name), (SAM.aad, SAM.name)]
    for _ in range(3):  # the card comes back (a check failed, a draft saved) again and again
        card = account_form_card(values, people, calendar=LONDON).to_dict()
        body = card["body"]
        chosen = {}
        for index, node in enumerate(body):
            if node.get("type") == "Input.ChoiceSet" and node["id"].startswith("runner_"):
                line = body[index + 1]
                chosen[node["id"]] = (node.get("value"), line["text"] if line.get("type") == "TextBlock" else None)
        assert chosen == {runner_field(1): (PRIYA.aad, "Chosen: Priya Shah"),
                          runner_field(2): (LEE.aad, "Chosen: Lee Carter"),
                          runner_field(3): (SAM.aad, "Chosen: Sam Teacher"),
                          runner_field(4): (None, None)}
        values = {n["id"]: n["value"] for n in _walk(card) if n.get("type") == "Input.ChoiceSet"
                  and n["id"].startswith("runner_") and n.get("value")}


def test_the_form_says_it_never_wants_a_password_and_has_no_place_for_one() -> None:
    card = account_form_card(case_values(), PEOPLE, calendar=LONDON).to_dict()
    assert NO_PASSWORDS in json.dumps(card)
    assert not [i for i in _inputs(card).values() if i.get("style") == "password" or "pass" in i["id"]]


def test_a_failed_check_comes_back_with_the_values_kept_and_what_to_fix() -> None:
    typed = case_values(aim="x" * 1001)
    errors = validate_form(typed, STAFF).errors
    card = account_form_card(typed, PEOPLE, errors=errors, form_id="b" * 32, calendar=LONDON).to_dict()
    inputs = _inputs(card)
    assert inputs["aim"]["value"] == "x" * 1001 and inputs["account_name"]["value"] == "Holy Trinity Year 6"
    texts = [n["text"] for n in _walk(card) if n.get("type") == "TextBlock"]
    assert "Please fix 1 thing below, then send again." in texts
    assert "Too long: 1001 characters, at most 1000." in texts
    send = _actions(card)["Send to the Head Teacher"]
    assert send["type"] == "Action.Execute" and send["verb"] == ACCOUNT_SUBMIT_VERB
    assert send["data"] == {"form_id": "b" * 32}
    assert send["fallback"] == {"type": "Action.Submit", "title": "Send to the Head Teacher",
                                "data": {"verb": ACCOUNT_SUBMIT_VERB, "form_id": "b" * 32}, "style": "positive"}


def test_the_deciders_card_has_three_buttons_with_fallbacks_and_refreshes_for_deciders_only() -> None:
    ids = [f"29:user-{n}" for n in range(70)]
    card = decider_card(REQUEST, SUMMARY, refresh_user_ids=ids, calendar=LONDON).to_dict()
    actions = _actions(card)
    assert list(actions) == ["Approve", "Reject", "Ask for changes", "Show details"]
    assert actions.pop("Show details")["type"] == "Action.ShowCard"
    for action in actions.values():
        assert action["verb"] == APPROVAL_DECIDE_VERB and action["data"]["request_id"] == 7
        assert action["data"]["round"] == 1
        assert action["fallback"]["data"] == {"verb": APPROVAL_DECIDE_VERB, **action["data"]}
    assert card["refresh"]["action"]["verb"] == APPROVAL_REFRESH_VERB
    assert card["refresh"]["userIds"] == ids[:MAX_REFRESH_USERS]
    assert "comment" in _inputs(card)


def test_user_text_cannot_inject_markdown() -> None:
    text = json.dumps(decider_card(REQUEST, SUMMARY, calendar=LONDON).to_dict())
    assert "Year 6 \\\\*news\\\\* \\\\[click\\\\]\\\\(http\\\\[:\\\\]//evil\\\\[.\\\\]example\\\\)" in text
    assert "[click](http" not in text


def test_others_see_the_status_without_decision_buttons() -> None:
    for request in (REQUEST, APPROVED):
        card = status_card(request, SUMMARY, calendar=LONDON).to_dict()
        assert [a["type"] for a in card["actions"]] == ["Action.ShowCard"]  # the details only
    decided = json.dumps(status_card(APPROVED, SUMMARY, calendar=LONDON).to_dict())
    assert "Approved" in decided and "Priya Shah (acting for the Head Teacher)" in decided
    mine = status_card(REQUEST, SUMMARY, for_requester=True, calendar=LONDON).to_dict()
    assert list(_actions(mine)) == ["Withdraw", "Show details"]
    assert list(_actions(status_card(CHANGES, SUMMARY, for_requester=True, calendar=LONDON).to_dict())) == [
        "Change and resend", "Withdraw", "Show details"]


def test_the_slt_channel_sees_the_account_and_the_runners_only() -> None:
    for request in (REQUEST, REJECTED):
        text = json.dumps(slt_card(request, SUMMARY, calendar=LONDON).to_dict())
        assert "Sam Teacher, Lee Carter" in text  # the runners
        assert "Asked by" not in text and "Anna Smith" not in text  # no requester or decider line
        assert "phone number" not in text  # no decision comment
        assert "Share Year 6 learning" not in text  # the aim stays with the Head Teacher
    assert "Rejected" in json.dumps(slt_card(REJECTED, SUMMARY, calendar=LONDON).to_dict())


def test_the_register_flags_a_hand_over_only_to_those_who_see_it() -> None:
    check = check_handover(ACCOUNT, [SAM.aad])
    flagged = json.dumps(account_register_card([check], show_handover=True, calendar=LONDON).to_dict())
    plain = json.dumps(account_register_card([check], show_handover=False, calendar=LONDON).to_dict())
    assert "Needs a hand-over" in flagged and "Lee Carter" in flagged
    assert "hand-over" not in plain and "Lee Carter (training to follow)" in plain
