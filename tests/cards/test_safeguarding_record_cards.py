"""The safeguarding record's cards: valid for Teams, hostile text shown as typed, the largest details card still fits
in a Teams message (the record's long texts then go to the PDF), the form asks facts and opinion apart."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from cards.incidents import details_card, details_form_card
from cards.safeguarding_record import export_activity, record_actions, record_inputs
from domain.incidents import ROUTING, Agency, Category, Status
from domain.safeguarding_record import LinkedPupil, RecordExtras, Referral, ReferralOutcome, Statement, Transfer
from tests.cards.test_incidents_cards import DRAFT, EVIL, LONDON, NOW, TEAMS_CARD_LIMIT, report
from tests.support.cardcheck import assert_valid_cards


def extras(text: str = EVIL, *, pupils: int = 2, referrals: int = 1) -> RecordExtras:
    return RecordExtras(
        statement=Statement(text, text), pupils=tuple(LinkedPupil(f"Pupil {n} {EVIL}"[:100], NOW, "Sam")
                                                      for n in range(pupils)),
        transfer=Transfer("CPOMS", f"CP-1 {EVIL}"[:100], f"Tom {EVIL}", NOW),
        referrals=tuple(Referral(n, Agency.CHILDRENS_SOCIAL_CARE, date(2026, 11, 23), f"MASH-{n}", text, "Tom Reed",
                                 NOW, (ReferralOutcome(NOW, "Tom Reed", text),)) for n in range(1, referrals + 1)),
    )


def message(card: dict) -> int:
    return len(json.dumps({"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}).encode("utf-8"))


def test_the_record_cards_are_valid_for_teams() -> None:
    cards = [details_card(replace(report(Category.PUPIL_SAFETY, status=status), record=extras()), calendar=LONDON)
             for status in Status]
    cards.append(details_form_card(DRAFT, ROUTING[Category.PUPIL_SAFETY], False, None, today=NOW.date(),
                                   screenshot_minutes=30))
    assert_valid_cards([card.to_dict() for card in cards])


def test_the_form_asks_facts_and_opinion_apart_and_for_the_childs_exact_words() -> None:
    labels = {element.id: (element.label, element.placeholder) for element in record_inputs()}  # type: ignore[union-attr]
    assert labels["child_words"][0] == "The child's own words, if a child told you (optional)"
    assert "exactly what the child said" in (labels["child_words"][1] or "")
    assert labels["opinion"][0] == "Your view or concerns (kept apart from the facts above)"
    assert labels["pupils"][0] == "Pupils this is about (one per line, several allowed)"
    form = json.dumps(details_form_card(DRAFT, ROUTING[Category.PUPIL_SAFETY], False, None, today=NOW.date(),
                                       screenshot_minutes=30).to_dict())
    assert "The facts: what you saw or were told" in form


def test_hostile_text_in_the_record_is_shown_as_typed() -> None:
    card = json.dumps(details_card(replace(report(Category.PUPIL_SAFETY), record=extras()), calendar=LONDON).to_dict())
    assert "https://evil.example" not in card.replace("https://evil\\\\.example", "")  # never a live link
    assert "\\\\[click me\\\\]" in card


def test_the_largest_details_card_with_the_record_still_fits_in_a_teams_message() -> None:
    hostile = "[x](y) *" * 250  # 2000 characters, all escaped
    longest = replace(report(text="[x](y) *" * 375, chronology=40, why="_" * 1500),
                      record=extras(hostile, pupils=30, referrals=5))
    card = details_card(longest, banner="Escalated", calendar=LONDON).to_dict()
    assert message(card) < TEAMS_CARD_LIMIT
    assert "Export PDF" in json.dumps(card) and "the child's own words" in json.dumps(card)
    usual = details_card(replace(report(Category.PUPIL_SAFETY), record=extras("He said sorry.")),
                         calendar=LONDON).to_dict()
    assert "He said sorry." in json.dumps(usual)  # a usual record is shown in full


def test_a_closed_report_offers_the_outcome_a_pupil_export_and_transfer_but_no_new_decision() -> None:
    def titles(status: Status, with_referrals: bool) -> list[str]:
        found = extras(referrals=1 if with_referrals else 0)
        return [a["title"] for a in record_actions(7, status, found).to_dict()["actions"]]

    assert titles(Status.OPEN, False) == ["Record a decision", "Add a pupil", "Export PDF", "Mark transferred"]
    assert titles(Status.IN_PROGRESS, True) == ["Record a decision", "Referral outcome", "Add a pupil", "Export PDF",
                                                "Mark transferred"]
    assert titles(Status.CLOSED, True) == ["Referral outcome", "Add a pupil", "Export PDF", "Mark transferred"]


def test_the_file_card_names_the_export_and_nothing_of_the_report() -> None:
    activity = export_activity("INC-2026-0007-safeguarding-record.pdf", 1234, "abc")
    [card] = activity["attachments"]
    assert card["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
    assert card["content"]["acceptContext"] == card["content"]["declineContext"] == {"record_export": "abc"}
    assert card["content"]["sizeInBytes"] == 1234
