"""End to end in the Agents Playground (issue 15, gap 3): a record KCSIE would accept.

Sam Teacher (staff) reports a concern about a pupil's safety with the child's own words, his view kept apart from
the facts, and two pupils. Anna Smith (Head Teacher; she handles this category with the DSL, who has never opened
Policy Bot here) gets the urgent details card: the child's words in quotes, the view, the pupils. She records a
referral to children's social care with its reference, exports the record as a PDF (Teams' file consent card
arrives in her chat; the Playground shows the card but has no OneDrive to upload to, so the upload itself is tested in
tests/services/test_safeguarding_record.py) and marks it transferred to CPOMS.

Screenshots: docs/screenshots/incident-record-form.png, incident-record-details.png, incident-record-details-phone.png,
incident-record-pupil-added.png, incident-record-referral.png, incident-record-file-consent.png,
incident-record-transferred.png.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.playground import REPO_ROOT, E2EStack, PlaygroundSession, as_on_a_phone

if TYPE_CHECKING:
    pass

pytestmark = [pytest.mark.playground]

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
DELIVERY_TIMEOUT_S = 30.0
FACTS = "At 08:40 a Year 5 pupil showed me TikTok messages from an adult asking to meet her after school."
CHILD_WORDS = "He said I was his special friend and not to tell my mum."
VIEW = "I think she is frightened of getting into trouble; she asked me not to tell anyone."


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }



def test_the_dsl_records_a_referral_and_exports_the_record(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    head_teacher.open_personal_chat()  # Anna has a chat with the bot: the urgent card can reach her
    staff.open_personal_chat()
    staff.send("report")
    staff.click_card_button("No", card=staff.card("is anyone at immediate risk of harm?"))
    staff.click_card_button("A pupil", card=staff.card("Who or what is it about?"))
    staff.click_card_button("They may be at risk of harm", card=staff.card("What has happened to the pupil?"))
    form = staff.card("Guidance:")
    staff.fill_card_input("What happened?", FACTS, card=form)
    staff.fill_card_input("The child's own words, if a child told you (optional)", CHILD_WORDS, card=form)
    staff.fill_card_input("Your view or concerns (kept apart from the facts above)", VIEW, card=form)
    staff.fill_card_input("Pupils this is about (one per line, several allowed)", "Amy Lee\nBen Cole", card=form)
    staff.screenshot(SCREENSHOTS / "incident-record-form.png", of=form)
    staff.click_card_button("Send report", card=form)
    staff.card("Report received: INC-2026-0001")

    head_teacher.open_personal_chat()
    details = head_teacher.card("INC-2026-0001: Concern about a pupil's safety", timeout=DELIVERY_TIMEOUT_S)
    text = details.inner_text()
    assert FACTS in text and f"“{CHILD_WORDS}”" in text and VIEW in text
    assert "Pupils (2)" in text and "Amy Lee" in text and "Ben Cole" in text
    head_teacher.screenshot(SCREENSHOTS / "incident-record-details.png", of=details)
    try:
        sizes = as_on_a_phone(details)
        assert sizes["scrollWidth"] <= sizes["clientWidth"] and sizes["partsOutside"] == 0, sizes
        head_teacher.screenshot(SCREENSHOTS / "incident-record-details-phone.png", of=details)
    finally:
        details.evaluate("el => { el.style.width = ''; el.style.maxWidth = ''; el.style.minWidth = ''; }")

    # A third pupil the report turns out to concern: appended, the two the reporter named stay.
    head_teacher.click_card_button("Add a pupil", card=details, expect_activity=False)
    head_teacher.fill_card_input("Pupil's first name and surname (added; nobody is replaced)", "Cara Dunn",
                                 card=details)
    head_teacher.click_card_button("Add pupil", card=details)
    details = head_teacher.card("Pupils (3)")
    assert "Amy Lee" in details.inner_text() and "Cara Dunn" in details.inner_text()
    assert "Added a pupil to the record: Cara Dunn" in details.inner_text()
    head_teacher.screenshot(SCREENSHOTS / "incident-record-pupil-added.png", of=details)

    # A referral to children's social care, with its reason and reference (the date: today).
    head_teacher.click_card_button("Escalate", card=details, expect_activity=False)
    head_teacher.fill_card_input("Escalated or referred to", "Children's social care / MASH", card=details)
    head_teacher.fill_card_input("Why (the reason for this decision)", "An adult is grooming a pupil.", card=details)
    head_teacher.fill_card_input("Their reference number (if any)", "MASH-2026-118", card=details)
    head_teacher.click_card_button("Record escalation", card=details)
    referred = head_teacher.card("Referrals (1)")
    assert "Children's social care / MASH" in referred.inner_text() and "MASH" in referred.inner_text()
    assert "Outcome: not recorded yet" in referred.inner_text()
    head_teacher.screenshot(SCREENSHOTS / "incident-record-referral.png", of=referred)

    # The PDF: Teams' file consent card arrives in her chat (through the outbox).
    head_teacher.click_card_button("Export PDF", card=referred)
    consent = head_teacher.pane.get_by_text("INC-2026-0001-safeguarding-record.pdf").last
    consent.wait_for(state="visible", timeout=DELIVERY_TIMEOUT_S * 1000)
    head_teacher.screenshot(SCREENSHOTS / "incident-record-file-consent.png")

    # Put into CPOMS: marked transferred, shown on the report.
    card = head_teacher.card("Referrals (1)")
    head_teacher.click_card_button("Mark transferred", card=card, expect_activity=False)
    head_teacher.fill_card_input("Put into", "CPOMS", card=card)
    head_teacher.fill_card_input("Its reference", "CP-2026-0042", card=card)
    head_teacher.click_card_button("Record transfer", card=card)
    moved = head_teacher.card("Transferred to CPOMS")
    assert "CP-2026-0042" in moved.inner_text() and "Transferred to CPOMS" in moved.inner_text()
    head_teacher.screenshot(SCREENSHOTS / "incident-record-transferred.png", of=moved)
    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []
