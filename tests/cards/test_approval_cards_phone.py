"""The approval cards on a phone (issue 19): the decision and a short summary first, the details on request, nothing
that squeezes values into two columns or is wider than the screen; a replaced version says so with no buttons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from cards.accounts import account_summary
from cards.approvals import DETAILS_TITLE, SHORT_LINE, decider_card, status_card, superseded_card
from domain.accounts import AccountCase, RunnerRecord, StaffMember, validate_form
from domain.approvals import ApprovalKind, ApprovalRecord, ApprovalState
from domain.calendar import SchoolCalendar
from tests.support.approvals import LEE, SAM, card_text, case_values
from tests.support.cardcheck import assert_valid_cards

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LONDON = SchoolCalendar()
LONG_AIM = ("Share the choir's concerts, rehearsals and trips with the families of every child in the choir, "
            "and invite the wider parish to the Christmas carol service. " * 8)[:1000]
STAFF = {p.aad: StaffMember(p.aad, p.name) for p in (SAM, LEE)}
FORM = validate_form(case_values(aim=LONG_AIM), STAFF).case
assert FORM is not None
CASE = FORM.with_records({SAM.aad.lower(): RunnerRecord(date(2026, 11, 20), date(2026, 11, 12), "Online safety")})
SUMMARY = account_summary(CASE)
REQUEST = ApprovalRecord(
    id=9, reference="ACC-2026-0009", kind=ApprovalKind.NEW_ACCOUNT, state=ApprovalState.PENDING, round=1,
    requester_aad_object_id=SAM.aad, requester_name=SAM.name, payload=CASE.model_dump(mode="json"),
    created_at=NOW, pending_since=NOW,
)
MOST_BEFORE_THE_BUTTONS = 8  # the issue counted eleven rows before the buttons


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


def test_the_decision_and_a_short_summary_come_first_and_the_details_open_on_request() -> None:
    card = decider_card(REQUEST, SUMMARY, calendar=LONDON, banner="Reminder: waited 3 school days").to_dict()
    assert len(card["body"]) <= MOST_BEFORE_THE_BUTTONS
    assert [a["title"] for a in card["actions"]] == ["Approve", "Reject", "Ask for changes", DETAILS_TITLE]
    short = card_text({"body": card["body"]})
    for line in ("Asked by Sam Teacher", "Platform:", "Facebook", "Account:", "Holy Trinity Year 6", "Purpose:",
                 "Sam Teacher (runner):", "read the policy on 20 Nov 2026; trained on 12 Nov 2026",
                 "Lee Carter (runner):", "has not confirmed reading the current policy; no training recorded"):
        assert line in short, line
    purpose = next(n["text"] for n in walk(card["body"]) if str(n.get("text", "")).startswith("**Purpose:**"))
    assert len(purpose) <= len("**Purpose:** ") + SHORT_LINE and "\n" not in purpose  # one line of the aim
    assert "Monitoring during school holidays" not in short  # in the details
    details = card["actions"][-1]
    assert details["type"] == "Action.ShowCard"
    opened = card_text(details["card"])
    for title, _ in SUMMARY.facts:
        assert title in opened, title
    assert LONG_AIM.strip()[:200] in opened.replace("\\", "")
    assert "No social media training recorded for Lee Carter when this was sent" in opened
    assert "(Online safety)" not in short and "trained on 12 Nov 2026 (Online safety)" in opened  # what: details
    assert_valid_cards([card])


def test_a_case_sent_before_the_records_were_used_still_shows_on_the_phone_card() -> None:
    stored = {**FORM.model_dump(mode="json"),
              "runners": [{"aad_object_id": SAM.aad, "name": SAM.name, "training": "confirmed"},
                          {"aad_object_id": LEE.aad, "name": LEE.name, "training": "requested"}]}
    old = replace(REQUEST, payload=stored)
    card = decider_card(old, account_summary(AccountCase.model_validate(old.payload)), calendar=LONDON).to_dict()
    text = card_text(card)
    assert "**Sam Teacher (runner):** the applicant said they have read the policy and been trained" in text
    assert "the applicant asked for training" in text and "Training requested for Lee Carter" in text
    assert_valid_cards([card])


def test_nothing_squeezes_values_into_columns_or_has_a_fixed_width() -> None:
    changed = replace(REQUEST, round=2, changed=("aim", "runners"))
    cards = {
        "decider": decider_card(changed, SUMMARY, calendar=LONDON),
        "requester": status_card(changed, SUMMARY, for_requester=True, calendar=LONDON),
        "status": status_card(replace(changed, state=ApprovalState.APPROVED, decided_at=NOW,
                                      decided_by_name="Anna Smith"), SUMMARY, calendar=LONDON),
        "replaced": superseded_card(changed, SUMMARY, calendar=LONDON, version=1),
    }
    for name, card in cards.items():
        nodes = walk(card.to_dict())
        assert not [n for n in nodes if n.get("type") in ("ColumnSet", "Column", "FactSet")], name
        assert not [n for n in nodes if "width" in n or "minWidth" in n or "pixelWidth" in str(n)], name
        assert all(n.get("wrap", True) for n in nodes if n.get("type") == "TextBlock"), name
        assert not [n for n in nodes if n.get("type") == "Image"], name
    assert "Changed since version 1: aim, runners" in card_text(cards["decider"].to_dict())
    assert "Changed since version 1: aim, runners" in card_text(cards["requester"].to_dict())
    assert_valid_cards([card.to_dict() for card in cards.values()])


def test_a_replaced_version_says_so_and_offers_nothing_to_press() -> None:
    now = replace(REQUEST, round=3, state=ApprovalState.APPROVED)
    card = superseded_card(now, SUMMARY, calendar=LONDON, version=1).to_dict()
    text = card_text(card)
    assert "Replaced by version 3" in text and "Status now: Approved" in text and "version 1" in text
    assert not card.get("actions") and not card.get("refresh")
