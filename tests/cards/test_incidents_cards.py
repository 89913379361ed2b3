"""Incident cards: valid for Teams, user text inert, the channel card minimal, within Teams' size limit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from cards.incidents import (
    ChannelFacts,
    FullReport,
    Prefill,
    Routed,
    ScreenshotInfo,
    category_card,
    channel_card,
    closed_notice_card,
    details_card,
    details_form_card,
    emergency_card,
    message_report_card,
    my_reports_card,
    problem_card,
    receipt_card,
    risk_question_card,
    screenshot_card,
)
from domain.calendar import SchoolCalendar
from domain.incidents import (
    ROUTING,
    ActionTaken,
    Category,
    ChronologyEntry,
    DslTold,
    EventKind,
    OutcomeKind,
    Source,
    Status,
    Urgency,
)
from tests.support.cardcheck import assert_valid_cards

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LONDON = SchoolCalendar()
DRAFT = "0123456789abcdef0123456789abcdef"
EVIL = "[click me](https://evil.example) **bold** # heading <at>Anna</at> ![img](https://evil.example/x.png)"
TEAMS_CARD_LIMIT = 28 * 1024  # bytes Teams accepts for a card message


def report(category: Category = Category.OFFENSIVE_CONTENT, *, status: Status = Status.OPEN, text: str = EVIL,
           chronology: int = 3, why: str = "Because.") -> FullReport:
    return FullReport(
        incident_id=7, reference="INC-2026-0007", category=category, urgency=Urgency.URGENT, status=status,
        received_at=NOW, reporter_name=f"Sam {EVIL}", immediate_risk=True, dsl_told=DslTold.NOT_YET,
        what_happened=text, platform="Facebook", link=f"https://x.example/{EVIL}", when_date=date(2026, 11, 23),
        when_detail=EVIL, involved=EVIL, actions_taken=(ActionTaken.BLOCKED, ActionTaken.SCREENSHOT_KEPT),
        source=Source.MESSAGE, source_author=EVIL, lead_name=f"Anna {EVIL}" if status is not Status.OPEN else None,
        closed_at=NOW if status is Status.CLOSED else None,
        outcome_kind=OutcomeKind.RESOLVED if status is Status.CLOSED else None,
        outcome=EVIL if status is Status.CLOSED else None,
        chronology=tuple(
            ChronologyEntry(EventKind.NOTE_ADDED, NOW + timedelta(minutes=n), f"Tom {EVIL}", EVIL, why)
            for n in range(chronology)
        ),
        screenshots=(ScreenshotInfo(1, f"shot{EVIL}.png", "image/png", 120_000),),
    )


def facts(category: Category, status: Status = Status.OPEN, urgency: Urgency = Urgency.STANDARD) -> ChannelFacts:
    return ChannelFacts(7, "INC-2026-0007", category, urgency, NOW, status,
                        lead_name="Anna Smith" if status is not Status.OPEN else None,
                        closed_at=NOW if status is Status.CLOSED else None)


def every_card() -> list[dict]:
    rule = ROUTING[Category.DATA_BREACH]
    cards = [
        risk_question_card(DRAFT),
        emergency_card(DRAFT, ["Tom Reed"]),
        emergency_card(DRAFT, []),
        category_card(DRAFT, True, DslTold.YES, problem="Choose what the report is about."),
        category_card(DRAFT, False, None),
        details_form_card(DRAFT, rule, True, DslTold.YES, today=date(2026, 11, 24), screenshot_minutes=30,
                          prefill=Prefill(EVIL, EVIL, "Facebook", "https://x"), problem="Say what happened."),
        details_form_card(DRAFT, ROUTING[Category.INAPPROPRIATE_IMAGE], False, None, today=date(2026, 11, 24),
                          screenshot_minutes=30),
        receipt_card("INC-2026-0007", rule, Urgency.URGENT, NOW,
                     Routed(("Head Teacher (Anna Smith)",), ("Data Protection Officer (Jo Bell)",), True, True),
                     escalation_minutes=30, screenshot_minutes=30, emergency=True, dsl_names=["Tom Reed"],
                     calendar=LONDON),
        receipt_card("INC-2026-0007", rule, Urgency.STANDARD, NOW, Routed(), escalation_minutes=30,
                     screenshot_minutes=None, duplicate=True, calendar=LONDON),
        my_reports_card([("INC-2026-0007", Category.PRAISE, NOW, Status.OPEN)], calendar=LONDON),
        my_reports_card([], calendar=LONDON),
        closed_notice_card("INC-2026-0007", Category.OTHER),
        screenshot_card("INC-2026-0007", 1, ScreenshotInfo(1, "a.png", "image/png", 70),
                        "data:image/png;base64,iVBORw0KGgo="),
        screenshot_card("INC-2026-0007", 1, ScreenshotInfo(1, "a.png", "image/png", 7_000_000), None),
        message_report_card(DRAFT, author="Lee Carter", text=EVIL, link="https://teams.example/l/message/1",
                            today=date(2026, 11, 24)),
        problem_card("The report was not sent", ["Say what happened."]),
    ]
    for category in Category:
        for status in Status:
            cards.append(details_card(report(category, status=status), banner="Escalated to you", calendar=LONDON))
            if ROUTING[category].channel.value != "none":
                cards.append(channel_card(facts(category, status), calendar=LONDON))
    return [card.to_dict() for card in cards]


def test_every_incident_card_is_valid() -> None:
    assert_valid_cards(every_card())


def _texts(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("text", "value", "title") and isinstance(value, str):
                found.append(value)
            else:
                found += _texts(value)
    elif isinstance(node, list):
        for item in node:
            found += _texts(item)
    return found


def test_user_text_with_markdown_is_inert_in_every_card_that_shows_it() -> None:
    card = details_card(report(status=Status.CLOSED), calendar=LONDON).to_dict()
    shown = "\n".join(_texts(card["body"]))
    assert "https\\[:\\]//evil\\[.\\]example" in shown  # it is shown, as an address that cannot be clicked ...
    assert "[click me](" not in shown and "**bold**" not in shown and "![img]" not in shown  # ... never as markup
    assert r"\[click me\]\(https\[:\]//evil\[.\]example\)" in shown
    assert "<at>" not in shown  # no mention can be forged
    assert r"\# heading" in shown


def test_inputs_keep_the_text_as_typed() -> None:
    """Input values are not Markdown: what the person typed comes back to them unchanged."""
    card = message_report_card(DRAFT, author="Lee", text=EVIL, link="", today=date(2026, 11, 24)).to_dict()
    values = [node.get("value") for node in card["body"] if node.get("id") == "what_happened"]
    assert values == [EVIL]


@pytest.mark.parametrize("category", [c for c in Category if ROUTING[c].channel.value == "minimal"])
def test_the_channel_card_shows_reference_category_urgency_time_status_only(category: Category) -> None:
    card = channel_card(facts(category, Status.IN_PROGRESS, Urgency.URGENT), calendar=LONDON).to_dict()
    fact_titles = [fact["title"] for node in card["body"] if node["type"] == "FactSet" for fact in node["facts"]]
    assert fact_titles == ["Category", "Urgency", "Received", "Status", "Lead"]
    assert "INC-2026-0007" in json.dumps(card)


@pytest.mark.parametrize("category", [Category.EXTREMISM, Category.PUPIL_SAFETY])
def test_a_restricted_report_shows_in_the_channel_only_as_existing(category: Category) -> None:
    card = channel_card(facts(category, urgency=Urgency.URGENT), calendar=LONDON).to_dict()
    text = json.dumps(card)
    assert "A restricted report exists" in text
    assert ROUTING[category].title not in text and "Prevent" not in text
    assert "Urgent: restricted report INC-2026-0007" in text  # issue 15: the notice says urgent, nothing more
    assert [a["title"] for a in card["actions"]] == ["View details"]


@pytest.mark.parametrize("category", [Category.STAFF_PUPIL_CONTACT, Category.ALLEGATION_ABOUT_STAFF,
                                      Category.ABOUT_HEAD_TEACHER])
def test_allegations_have_no_channel_card_at_all(category: Category) -> None:
    with pytest.raises(ValueError):
        channel_card(facts(category), calendar=LONDON)


def test_the_largest_details_card_fits_in_a_teams_message() -> None:
    longest = report(text="[x](y) *" * 375, chronology=40, why="_" * 1500)  # 3000 characters, all escaped
    card = details_card(longest, banner="Escalated", calendar=LONDON).to_dict()
    activity = {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                    "content": card}]}
    assert len(json.dumps(activity).encode("utf-8")) < TEAMS_CARD_LIMIT
    assert "32 earlier entries are kept in the record." in json.dumps(card)  # 8 shown: room for the KCSIE record


def test_handling_buttons_follow_the_status() -> None:
    def titles(status: Status) -> list[str]:
        return [a["title"] for a in details_card(report(status=status), calendar=LONDON).to_dict()["actions"]]

    assert titles(Status.OPEN) == ["Take the lead", "Add a note", "Escalate", "Close"]
    assert titles(Status.IN_PROGRESS) == ["Add a note", "Escalate", "Close"]
    assert titles(Status.CLOSED) == ["Add a note"]


def test_the_data_breach_card_shows_the_ico_deadline() -> None:
    text = json.dumps(details_card(report(Category.DATA_BREACH), calendar=LONDON).to_dict())
    assert "ICO deadline: Fri 27 Nov 2026, 10:00" in text
    assert "ICO deadline" not in json.dumps(details_card(report(Category.COPYRIGHT), calendar=LONDON).to_dict())


def test_emergency_steps_come_first_when_someone_is_at_risk() -> None:
    card = emergency_card(DRAFT, ["Tom Reed"]).to_dict()
    steps = "\n".join(_texts(card["body"][0]))
    assert "999" in steps and "child protection procedure" in steps and "Designated Safeguarding Lead" in steps
    assert "Tom Reed" in steps
    question = card["body"][-1]
    assert question["label"] == "Have you told the DSL verbally?" and question["isRequired"]
