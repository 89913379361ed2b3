"""End to end in the Agents Playground (issue 15, gaps 1 and 2): urgent means now, and nobody receives a report
about themselves.

Three Playgrounds run against one bot: Sam Teacher (staff), Anna Smith (Head Teacher, SLT) and Grace Hall (Chair
of Governors, ``playground/chair``). Tom Reed, the DSL, has never opened Policy Bot: Teams cannot reach him.

1. An urgent report (a pupil at risk) with the DSL unreachable reaches the Head Teacher at once; the reporter is told
   exactly who was alerted and whom to tell in person; the SLT channel's notice says "Urgent" and nothing else. The
   bot's clock cannot be set to night here, so this runs in the daytime: the routing is the same at any hour (the
   chain's clock counts real minutes, day or night; the night-time and weekend cases are
   tests/services/test_incident_routing.py's ``out_of_hours`` tests).
2. A report that names the Head Teacher in what happened: the bot asks whether it is about her before sending; "yes"
   sends it to the Chair of Governors only: nothing reaches the Head Teacher or the channel.

Screenshots: docs/screenshots/incident-urgent-receipt.png, incident-urgent-receipt-phone.png,
incident-urgent-head-alerted.png, incident-urgent-channel.png, incident-about-head-question.png,
incident-about-head-receipt.png, incident-about-head-chair.png.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.playground import REPO_ROOT, E2EStack, PlaygroundSession, as_on_a_phone, fits

if TYPE_CHECKING:
    pass

pytestmark = [pytest.mark.playground]

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
SLT_CHANNEL = "SLT Incidents"
SLT_CHANNEL_ID = "19:slt-incidents@thread.tacv2"
DELIVERY_TIMEOUT_S = 30.0
AT_RISK = "A Year 6 pupil posted on Instagram that they want to end it all. Posted at 01:40."
ABOUT_HEAD = "Mrs Anna Smith, the Head, is following two Year 5 pupils on Instagram from a personal account."


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
        "POLICYBOT_SAFEGUARDING_PHONE_DSL": "01632 960001",
        "POLICYBOT_SAFEGUARDING_PHONE_OUT_OF_HOURS": "01632 960999",
    }




@pytest.fixture(scope="module")
def chair(e2e_stack: E2EStack) -> PlaygroundSession:
    """Grace Hall, the Chair of Governors (playground/chair)."""
    return e2e_stack.session("chair")


def test_slt_choose_their_channel_and_the_head_and_chair_open_the_bot(
    head_teacher: PlaygroundSession, chair: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    head_teacher.open_personal_chat()
    chair.open_personal_chat()
    head_teacher.open_channel(SLT_CHANNEL)
    head_teacher.wait_for_activity("installationUpdate", to_bot=True, conversation=SLT_CHANNEL_ID)
    head_teacher.post_in_channel_mentioning_bot("use this channel for incidents")
    head_teacher.wait_for_text("incident reports will be posted in this channel")
    assert e2e_stack.bot.errors() == []


def test_an_urgent_report_with_the_dsl_unreachable_reaches_the_head_at_once(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    staff.open_personal_chat()
    staff.send("report")
    staff.click_card_button("Yes, someone is at risk", card=staff.card("is anyone at immediate risk of harm?"))
    steps = staff.card("Act now")
    staff.fill_card_input("Have you told the DSL verbally?", "I tried but could not reach the DSL", card=steps)
    staff.click_card_button("Continue the report", card=steps)
    staff.click_card_button("A pupil", card=staff.card("Who or what is it about?"))
    staff.click_card_button("They may be at risk of harm", card=staff.card("What has happened to the pupil?"))
    form = staff.card("Guidance:")
    staff.fill_card_input("What happened?", AT_RISK, card=form)
    staff.click_card_button("Send report", card=form)

    receipt = staff.card("Report received: INC-2026-0001")
    shown = receipt.inner_text()
    assert "Alerted now, with the full details: Head Teacher (Anna Smith)" in shown
    assert "Please also tell them in person or by phone: Designated Safeguarding Lead (Tom Reed)" in shown
    assert "real time, day or night" in shown and "urgent restricted report" in shown
    staff.screenshot(SCREENSHOTS / "incident-urgent-receipt.png", of=receipt)
    try:  # the card at a phone's width (narrowed in place: the picture is not cut by the page's own width)
        sizes = as_on_a_phone(receipt)
        assert fits(sizes), sizes
        staff.screenshot(SCREENSHOTS / "incident-urgent-receipt-phone.png", of=receipt)
    finally:
        receipt.evaluate("el => { el.style.width = ''; el.style.maxWidth = ''; el.style.minWidth = ''; }")

    head_teacher.open_personal_chat()
    alert = head_teacher.card("INC-2026-0001: Concern about a pupil's safety", timeout=DELIVERY_TIMEOUT_S)
    assert "want to end it all" in alert.inner_text() and "Restricted" in alert.inner_text()
    head_teacher.screenshot(SCREENSHOTS / "incident-urgent-head-alerted.png", of=alert)

    head_teacher.open_channel(SLT_CHANNEL)
    notice = head_teacher.card("Urgent: restricted report INC-2026-0001", timeout=DELIVERY_TIMEOUT_S)
    assert "end it all" not in notice.inner_text() and "pupil" not in notice.inner_text().lower()
    head_teacher.screenshot(SCREENSHOTS / "incident-urgent-channel.png", of=notice)
    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []


def test_a_report_about_the_head_reaches_the_chair_only(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, chair: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    head_mark = head_teacher.mark()
    staff.open_personal_chat()
    staff.send("report")
    staff.click_card_button("No", card=staff.card("is anyone at immediate risk of harm?"))
    staff.click_card_button("A member of staff", card=staff.card("Who or what is it about?"))
    staff.click_card_button("In contact with pupils online", card=staff.card("What is it?"))
    form = staff.card("Guidance:")
    staff.fill_card_input("What happened?", ABOUT_HEAD, card=form)
    staff.click_card_button("Send report", card=form)

    question = staff.card("Before it is sent: who is it about?")
    assert "Anna Smith" in question.inner_text()
    staff.fill_card_input("Is this report about Anna Smith?", "Yes, it is about them", card=question)
    staff.screenshot(SCREENSHOTS / "incident-about-head-question.png", of=question)
    staff.click_card_button("Send report", card=question)

    receipt = staff.card("Report received: INC-2026-0002")
    shown = receipt.inner_text()
    assert "Chair of Governors (Grace Hall)" in shown and "never to the Head Teacher" in shown
    assert "It is not posted in any channel." in shown
    staff.screenshot(SCREENSHOTS / "incident-about-head-receipt.png", of=receipt)

    chair.open_personal_chat()
    details = chair.card("INC-2026-0002: Staff-pupil contact on social media", timeout=DELIVERY_TIMEOUT_S)
    text = details.inner_text()
    assert "following two Year 5 pupils" in text and "Anna Smith (Head Teacher" in text
    chair.screenshot(SCREENSHOTS / "incident-about-head-chair.png", of=details)

    # Nothing about it reached the Head Teacher: not her chat, not the channel.
    head_teacher.open_personal_chat()
    assert head_teacher.count_text("INC-2026-0002") == 0
    head_teacher.open_channel(SLT_CHANNEL)
    assert head_teacher.count_text("INC-2026-0002") == 0
    sent_to_head = [entry for entry in head_teacher.activities[head_mark:] if not entry.to_bot
                    and "INC-2026-0002" in str(entry.request)]
    assert sent_to_head == []
    assert staff.failed_activities() == [] and chair.failed_activities() == []
    assert e2e_stack.bot.errors() == []
