"""End to end in the Agents Playground (issue 15, gaps 4, 7, 8, 9): plain words offer the report button first; the
plain questions end on one category; a media enquiry goes on its own short form to SLT's channel ("media enquiry,
deadline X") and to the Head Teacher personally; `open reports` for the Head Teacher and for SLT.

Three Playgrounds against one bot: Sam Teacher (staff), Anna Smith (Head Teacher, SLT) and Priya Shah (SLT, Deputy
Head: playground/slt). Each card is photographed for docs/screenshots/ and again at a phone's width (390 px, under
test-results/e2e/phone/).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator

from tests.e2e.playground import REPO_ROOT, E2EStack, PlaygroundSession

pytestmark = [pytest.mark.playground]

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
PHONE_SHOTS = REPO_ROOT / "test-results" / "e2e" / "phone"
PHONE_CARD_PX = 390 - 2 * 12  # a 390 px phone less Teams' margins
SLT_CHANNEL = "SLT Incidents"
SLT_CHANNEL_ID = "19:slt-incidents@thread.tacv2"
DELIVERY_TIMEOUT_S = 30.0
NASTY_POST = "There's a nasty post about Mr Carter on the parents facebook group"
JOURNALIST = "Jane Whitfield"
ABUSE_FIELDS = ("What have you already done?", "Blocked the user", "Deleted the post", "Where? (platform)",
                "Screenshots:")


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }


def today() -> str:
    return datetime.now(ZoneInfo("Europe/London")).date().isoformat()


def photograph(session: PlaygroundSession, name: str, card: Locator) -> None:
    """The card for the docs, then the same card as wide as on a phone to look at: the Playground's message column
    does not shrink below ~480 px, so the card itself is held to a 390 px screen less Teams' margins."""
    session.screenshot(SCREENSHOTS / name, of=card)
    style = session.page.add_style_tag(content=f".ac-adaptiveCard {{ width: {PHONE_CARD_PX}px !important; "
                                               f"max-width: {PHONE_CARD_PX}px !important; }}")
    try:
        session.screenshot(PHONE_SHOTS / name, of=card)
    finally:
        style.evaluate("node => node.remove()")


def test_slt_choose_their_channel(head_teacher: PlaygroundSession, e2e_stack: E2EStack) -> None:
    head_teacher.open_personal_chat()  # Anna has a personal chat with the bot (the enquiry can reach her)
    head_teacher.open_channel(SLT_CHANNEL)
    head_teacher.wait_for_activity("installationUpdate", to_bot=True, conversation=SLT_CHANNEL_ID)
    head_teacher.post_in_channel_mentioning_bot("use this channel for incidents")
    head_teacher.wait_for_text("incident reports will be posted in this channel")
    assert e2e_stack.bot.errors() == []


def test_plain_words_get_the_report_button_first(staff: PlaygroundSession, e2e_stack: E2EStack) -> None:
    staff.open_personal_chat()
    staff.send(NASTY_POST)
    offer = staff.card("It sounds like something has happened")
    photograph(staff, "incident-report-offer.png", offer)
    staff.click_card_button("Report an incident", card=offer)
    staff.card("is anyone at immediate risk of harm?")
    assert e2e_stack.bot.errors() == []


def test_the_plain_questions_end_on_one_category(staff: PlaygroundSession, e2e_stack: E2EStack) -> None:
    staff.open_personal_chat()
    first = staff.card("is anyone at immediate risk of harm?")
    staff.click_card_button("No", card=first)  # the risk question first, untouched

    chooser = staff.card("Who or what is it about?")
    for answer in ("A pupil", "A member of staff", "The school", "A journalist or the media", "Personal data",
                   "Something else"):
        assert chooser.get_by_role("button", name=answer, exact=True).count() == 1
    photograph(staff, "incident-chooser.png", chooser)

    staff.click_card_button("A member of staff", card=chooser)
    second = staff.card("What is it?")
    assert "a parent's nasty post about a teacher" in second.inner_text()
    photograph(staff, "incident-chooser-staff.png", second)
    staff.click_card_button("A post attacking them", card=second)
    form = staff.card("Report: Abuse or harassment of a member of staff online")
    assert "the Head Teacher is told" in form.inner_text()

    staff.click_card_button("Choose another category", card=form)
    staff.click_card_button("A journalist or the media", card=staff.card("Who or what is it about?"))
    media = staff.card("Report: Media enquiry (press, radio, TV)")
    text = media.inner_text()
    assert "Do not respond to the enquiry yourself: SLT will." in text
    assert "staff must inform SLT and not respond directly" in text
    for field in ABUSE_FIELDS:
        assert field not in text, field
    assert staff.failed_activities() == [] and e2e_stack.bot.errors() == []


def test_a_media_enquiry_reaches_slt_and_the_head_teacher(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    staff.open_personal_chat()
    form = staff.card("Report: Media enquiry (press, radio, TV)")
    staff.fill_card_input("Who is asking? (their name)", JOURNALIST, card=form)
    staff.fill_card_input("Their organisation (newspaper, radio, TV, website)", "Maidenhead Advertiser", card=form)
    staff.fill_card_input("How to reach them (phone or email)", "01632 960123", card=form)
    staff.fill_card_input("Their deadline: date", today(), card=form)  # may be today
    staff.fill_card_input("Their deadline: time, if they gave one (e.g. 17:00)", "17:00", card=form)
    staff.fill_card_input("What is it about? (what they asked, about which post)",
                          "Asked for a comment on the parents' Facebook post about Mr Carter", card=form)
    photograph(staff, "incident-media-enquiry-form.png", form)
    staff.click_card_button("Send to SLT", card=form)
    receipt = staff.card("Report received: INC-")
    assert "Do not respond to the enquiry yourself" in receipt.inner_text()
    assert "Anna Smith" in receipt.inner_text()  # the Head Teacher, personally

    head_teacher.open_personal_chat()
    details = head_teacher.card("Media enquiry (press, radio, TV)", timeout=DELIVERY_TIMEOUT_S)
    shown = details.inner_text()
    for expected in (JOURNALIST, "Maidenhead Advertiser", "01632 960123", "17:00", "Mr Carter"):
        assert expected in shown, expected
    for field in ("Already done", "Who is involved", "Platform"):
        assert field not in shown, field
    photograph(head_teacher, "incident-media-enquiry-head.png", details)

    head_teacher.open_channel(SLT_CHANNEL)
    notice = head_teacher.card("Media enquiry (press, radio, TV)", timeout=DELIVERY_TIMEOUT_S)
    notice_text = notice.inner_text()
    assert "Deadline" in notice_text and "17:00" in notice_text
    for detail in (JOURNALIST, "Advertiser", "01632", "Carter", "Sam Teacher"):
        assert detail not in notice_text, detail
    photograph(head_teacher, "incident-media-enquiry-channel.png", notice)
    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []


def test_open_reports_for_the_head_teacher_and_for_slt(head_teacher: PlaygroundSession,
                                                       e2e_stack: E2EStack) -> None:
    head_teacher.open_personal_chat()
    head_teacher.send("open reports")
    listing = head_teacher.card("Open reports")
    text = listing.inner_text()
    assert "Media enquiry (press, radio, TV)" in text and "Deadline" in text and "17:00" in text
    assert JOURNALIST not in text
    photograph(head_teacher, "incident-open-reports.png", listing)

    priya = e2e_stack.session("slt")
    priya.open_personal_chat()
    priya.send("open reports")
    theirs = priya.card("Open reports")
    assert "Media enquiry (press, radio, TV)" in theirs.inner_text() and JOURNALIST not in theirs.inner_text()
    photograph(priya, "incident-open-reports-slt.png", theirs)
    priya.click_card_button("View details", card=theirs)
    assert JOURNALIST in priya.card("Who is asking").inner_text()
    assert priya.failed_activities() == [] and e2e_stack.bot.errors() == []

