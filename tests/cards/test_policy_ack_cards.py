"""The cards of "staff know the policy" (issue 17) are valid for Teams, one column (no fixed widths), and keep text
from the policy, the directory or a typed course as text; the buttons send only what their payload models accept."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from cards.acknowledgement import (
    AcknowledgePayload,
    acknowledged_card,
    key_points_card,
    outdated_card,
    review_due_card,
    status_card,
)
from cards.training import (
    TrainingPayload,
    training_followup_card,
    training_form_card,
    training_recorded_card,
    untrained_confirm_card,
)
from domain.acknowledgement import KeyPoint, PolicyEdition
from domain.training import TrainingRecord
from tests.support.cardcheck import assert_valid_cards

INJECTED = "**urgent** [click](https://evil.example) <b>x</b>"
EDITION = PolicyEdition("abc123def456", "Social Media Policy",
                        (KeyPoint("Monitoring", "Accounts must be monitored (including during holidays)."),
                         KeyPoint("Staff", INJECTED)))
RECORD = TrainingRecord("00000000-0000-0000-0000-000000000102", INJECTED, date(2026, 11, 20), INJECTED, "Sol Senior",
                        datetime(2026, 11, 24, 10, tzinfo=UTC))


def every_card() -> list[object]:
    return [
        key_points_card(EDITION), key_points_card(EDITION, changed=True), key_points_card(EDITION, reminder=True),
        key_points_card(PolicyEdition("abc", "Sample", EDITION.key_points, is_sample=True)),
        acknowledged_card(EDITION, INJECTED, "Tue 24 Nov 2026, 10:00"), outdated_card(EDITION),
        status_card(EDITION, acknowledged=[(INJECTED, "Tue 24 Nov 2026")], waiting=[INJECTED], never_opened=[INJECTED],
                    source="the school's staff list (3)", reminder_days=5, approved_on=date(2021, 2, 4),
                    review_due=None),
        status_card(EDITION, acknowledged=[], waiting=[], never_opened=[], source="x", reminder_days=5,
                    approved_on=None, review_due=None),
        review_due_card(date(2021, 2, 4), date(2023, 2, 4)), review_due_card(None, date(2023, 2, 4)),
        training_form_card([("id-1", INJECTED)], values={"person": "id-1", "course": INJECTED}, problem=INJECTED),
        training_form_card([]), training_recorded_card(RECORD, "Tue 24 Nov 2026", followups_closed=1),
        training_followup_card(INJECTED, "ACC-2026-0001", "Tue 24 Nov 2026"),
        untrained_confirm_card(INJECTED, "ACC-2026-0001", 7, 1, [INJECTED], INJECTED),
    ]


def test_every_card_is_valid_for_teams() -> None:
    assert_valid_cards(every_card())  # type: ignore[arg-type]


def _texts(node: object) -> list[str]:
    """Every TextBlock's markdown (an input's value is text already, never rendered as markdown)."""
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "TextBlock" else []
        return own + [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def test_no_card_has_columns_or_fixed_widths_and_typed_text_stays_text() -> None:
    for card in every_card():
        wire = card.to_dict()  # type: ignore[attr-defined]
        assert "ColumnSet" not in str(wire) and "width" not in str(wire)
        for text in _texts(wire):
            assert "[click](https://evil.example)" not in text and "**urgent**" not in text, text


@pytest.mark.parametrize("data", [{"version": ""}, {"version": "x" * 40}, {"version": "../etc"}, {"version": 3},
                                  {}])
def test_the_acknowledge_button_accepts_only_a_version(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AcknowledgePayload.model_validate(data)


def test_the_training_form_refuses_oversized_values() -> None:
    with pytest.raises(ValidationError):
        TrainingPayload.model_validate({"person": "x" * 201})
    assert TrainingPayload.model_validate({"extra": 1}).person == ""
