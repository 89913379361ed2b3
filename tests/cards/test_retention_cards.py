"""The retention cards are valid for Teams, and what people typed (a hold's reason) stays text."""

from __future__ import annotations

from datetime import UTC, datetime

from cards.retention import HOLD_MARKER, hold_marker, holds_card, preview_card, review_card, run_report_card
from domain.calendar import SchoolCalendar, parse_clock_time, parse_timezone, parse_weekdays
from domain.retention import Disposal, HoldKind, KeptItem, LegalHold, PlannedItem, RecordKind, RetentionPlan
from tests.support.cardcheck import assert_valid_card
from tests.support.incidents_world import shown_text

NOW = datetime(2033, 1, 10, 10, 0, tzinfo=UTC)
CALENDAR = SchoolCalendar(zone=parse_timezone("Europe/London"), day_starts=parse_clock_time("08:00"),
                          day_ends=parse_clock_time("17:00"), weekdays=parse_weekdays("mon,tue,wed,thu,fri"))
PLAN = RetentionPlan(
    items=(
        PlannedItem(RecordKind.INCIDENT_GENERAL, Disposal.ANONYMISE, (1,), "INC-2026-0001", NOW, NOW,
                    "negative_comment", "closed"),
        PlannedItem(RecordKind.INCIDENT_SAFEGUARDING, Disposal.FLAG, (2,), "INC-2026-0002", NOW, NOW,
                    "pupil_safety", "closed"),
        PlannedItem(RecordKind.AUDIT_TRAIL, Disposal.DELETE, (5, 6, 7), None, NOW, NOW),
    ),
    held=(KeptItem(RecordKind.INCIDENT_GENERAL, "INC-2026-0003"), KeptItem(RecordKind.AUDIT_TRAIL, None, 2)),
)


def test_every_retention_card_is_valid_for_teams() -> None:
    hold = LegalHold(1, HoldKind.PERSON, "", "Alex Brown", "[click](https://evil.example) **now**", "Jo Bell", NOW)
    for card in (preview_card(PLAN, calendar=CALENDAR), run_report_card(PLAN, run_id=3, when=NOW, calendar=CALENDAR),
                 review_card(PLAN.of(Disposal.FLAG), calendar=CALENDAR), holds_card([hold], calendar=CALENDAR),
                 holds_card([], calendar=CALENDAR)):
        assert_valid_card(card)
    shown = shown_text(holds_card([hold], calendar=CALENDAR).to_dict())
    assert "\\[click\\]" in shown and "\\*\\*now\\*\\*" in shown  # the reason is shown as typed, inert


def test_the_preview_counts_each_action_and_names_what_a_hold_keeps() -> None:
    shown = shown_text(preview_card(PLAN, calendar=CALENDAR).to_dict()).replace("\\", "")
    for line in ("Delete\n3", "Anonymise\n1", "Flag for review\n1", "Kept (legal hold)\n3"):
        assert line in shown
    assert "INC-2026-0001 (10 Jan 2033)" in shown and "INC-2026-0003; 2 other entries" in shown
    assert HOLD_MARKER in shown_text({"body": [hold_marker().to_dict()]})
