"""The erasure, rectification and closed-account cards are valid for Teams; what people typed (a reason, a name)
stays text; the buttons' payloads refuse what did not come from the cards."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from cards.accounts import account_register_card
from cards.erasure import CorrectionForm, EraseConfirm, correct_card, corrected_card, erase_card, erased_card
from domain.accounts import AccountClosure, Administrator, RegisteredAccount, Training, Visibility, check_handover
from domain.calendar import SchoolCalendar
from domain.erasure import KEEP_SAFEGUARDING, Action, Correctable, Decision, ErasurePlan, NameKind
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_nodes, card_texts
from tests.support.incidents_world import shown_text

HOSTILE = "[click](https://evil.example) **now**"
PLAN = ErasurePlan((
    Decision("incidents", "1", "INC-2026-0001", Action.ANONYMISE, "Anonymised in place."),
    Decision("incidents", "2", "INC-2026-0002", Action.KEEP, KEEP_SAFEGUARDING),
    Decision("consent_check_log", "3", None, Action.REDACT, "Redacted."),
    Decision("audit_events", "4", None, Action.KEEP, "Audit trail."),
))
FIELDS = [Correctable("f1", NameKind.STAFF, HOSTILE, ("Approval requests (requester)",), 2, ("a",))]


def test_every_erasure_card_is_valid_for_teams_and_typed_text_stays_text() -> None:
    cards = (erase_card(PLAN, label=HOSTILE, reference="ERA-2026-0001", request_id=1, reason=HOSTILE),
             erase_card(ErasurePlan(), label="Nobody", reference="ERA-2026-0002", request_id=2, reason="x"),
             erased_card(PLAN, label=HOSTILE, reference="ERA-2026-0001"),
             correct_card(FIELDS, label=HOSTILE, reference="COR-2026-0001", request_id=3),
             correct_card([], label="Nobody", reference="COR-2026-0002", request_id=4),
             corrected_card(label=HOSTILE, reference="COR-2026-0001", changed=[("Name as recorded", 2)]))
    for card in cards:
        assert_valid_card(card)
        as_dict = card.to_dict()
        facts = " ".join(f"{f['title']} {f['value']}" for fs in card_nodes(as_dict, "FactSet") for f in fs["facts"])
        assert "https://evil" not in card_texts(as_dict) + facts  # shown as text, its address broken
    [box] = card_nodes(cards[3].to_dict(), "Input.Text")[:1]
    assert box["value"] == HOSTILE  # the box holds the name as recorded, to be corrected (an input is never a link)
    shown = shown_text(cards[0].to_dict()).replace("\\", "")
    for expected in ("Anonymise: Incident reports", "Keep: Incident reports", "KCSIE", "INC-2026-0002",
                     "Redact: Photo check log"):
        assert expected in shown
    assert "Erase as shown" in str(cards[0].to_dict()) and "Erase as shown" not in str(cards[1].to_dict())


def test_the_buttons_payloads_refuse_what_the_cards_do_not_send() -> None:
    assert EraseConfirm.model_validate({"request_id": "7", "extra": 1}).request_id == 7
    form = CorrectionForm.model_validate({"request_id": 3, "reason": "typo", "f1": "Sam", "f2": "Lee", "x": "y"})
    assert form.values == {"f1": "Sam", "f2": "Lee"}
    for bad in ({"request_id": 0}, {"request_id": "one"}, {}):
        with pytest.raises(ValidationError):
            EraseConfirm.model_validate(bad)
    for bad in ({"request_id": 3, "f1": ["a"]}, {"request_id": 3, "f1": "x" * 500},
                {"request_id": 3, "reason": "r" * 600}):
        with pytest.raises(ValidationError):
            CorrectionForm.model_validate(bad)


def test_the_register_shows_a_closed_account_apart_with_its_reason_as_text() -> None:
    admins = (Administrator("a", "Sam Teacher", Training.CONFIRMED),)
    closed = RegisteredAccount(1, "Facebook", "Year 6", "Parents", Visibility.PRIVATE, "ACC-2026-0001",
                               datetime(2026, 1, 5, tzinfo=UTC), "Anna Smith", admins,
                               AccountClosure("transferred", "the PTA", HOSTILE, date(2026, 11, 1), "Anna Smith"))
    card = account_register_card([check_handover(closed, [])], show_handover=True, calendar=SchoolCalendar())
    assert_valid_card(card)
    shown = shown_text(card.to_dict())
    assert "Closed or transferred" in shown and "Transferred to the PTA" in shown and "01 Nov 2026" in shown
    assert "need" not in shown  # a closed account needs no hand-over
    assert "https://evil" not in shown
