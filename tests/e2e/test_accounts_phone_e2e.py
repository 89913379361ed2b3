"""End to end in the Agents Playground (issue 19): runners who have never opened the bot, the Head Teacher's card
on a phone, and old cards that follow the request.

Sam proposes an account naming Lee Carter and Priya Shah, neither of whom has opened the bot: each runner slot is
a typeahead over the school's staff list, says who is chosen in it by name, and keeps its person when the card
comes back with something to fix. The Head Teacher reads the request in a 390 px wide view (a phone): the summary
and the buttons come first, nothing is wider than the screen. She asks for changes: Sam's first card stops saying
"Waiting for a decision" and loses its Withdraw button; Sam changes the aim and sends it again: every copy of the
first version says "Replaced by version 2" with no buttons, and the new version says what changed. Request numbers
count per kind (the first account request is ACC-…-0001).

Screenshots: docs/screenshots/account-runners-chosen.png, account-request-phone.png, account-card-superseded.png.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.e2e.playground import (
    PHONE,
    REPO_ROOT,
    E2EStack,
    PlaygroundSession,
    as_on_a_phone,
    fill_business_case,
    fits,
    runner_input,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
FORM_TITLE = "Propose a school social media account"
ACCOUNT_NAME = "Holy Trinity Choir"
CARD = ".ac-adaptiveCard"


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }


def chosen_under(form: Locator, slot: int) -> str:
    """The "Chosen: …" line right under a runner slot."""
    label = form.locator(f"xpath=.//label[normalize-space(.)='Runner {slot}']")
    line = label.locator("xpath=../following-sibling::*[1]")
    return line.inner_text().strip()


def test_runners_from_the_staff_list_a_phone_sized_decision_and_old_cards_that_follow_the_request(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    head_teacher.open_personal_chat()
    head_teacher.wait_for_activity("installationUpdate", to_bot=True)
    staff.open_personal_chat()

    # 1. Runners who have never opened the bot, chosen by name; a slot keeps its person when the card comes back.
    staff.send("new account")
    form = staff.card(FORM_TITLE)
    fill_business_case(staff, form, name=ACCOUNT_NAME, aim="Share the choir's concerts with families",
                       audience="Parents and carers of choir members", runners=["Lee Carter", "Priya Shah"],
                       monitoring="Lee checks it every school day")
    assert "Runner 1: policy and training" not in form.inner_text()  # the records decide, the form does not ask
    staff.click_card_button("Send to the Head Teacher", card=form)  # the holiday cover is missing
    staff.wait_for_text("Please fix 1 thing below")
    form = staff.card("Please fix 1 thing below")
    assert "I don't know this person yet" not in form.inner_text()
    assert chosen_under(form, 1) == "Chosen: Lee Carter" and chosen_under(form, 2) == "Chosen: Priya Shah"
    assert runner_input(form, 1).input_value() == "Lee Carter" and runner_input(form, 2).input_value() == "Priya Shah"
    staff.screenshot(SCREENSHOTS / "account-runners-chosen.png", of=form)

    staff.fill_card_input("Monitoring during school holidays", "Priya checks it every Monday", card=form)
    staff.click_card_button("Send to the Head Teacher", card=form)
    staff.wait_for_text("Sent to Anna Smith for a decision")
    first = staff.card("Sent to Anna Smith for a decision")
    reference = re.search(r"ACC-\d{4}-\d{4}", first.inner_text())
    assert reference is not None and reference.group().endswith("-0001")  # each kind counts on its own

    # 3. The Head Teacher's card on a phone: the decision and a short summary first, nothing wider than the screen.
    head_teacher.page.set_viewport_size(PHONE)
    try:
        request = head_teacher.card(ACCOUNT_NAME, timeout=30)
        request.scroll_into_view_if_needed()
        for name in ("Approve", "Reject", "Ask for changes"):
            assert request.get_by_role("button", name=name, exact=True).is_visible(), name
        text = request.inner_text()
        for line in ("Platform: Facebook", f"Account: {ACCOUNT_NAME}", "Purpose: Share the choir",
                     "Lee Carter (runner): has not confirmed reading the current policy; no training recorded",
                     "Priya Shah (runner): has not confirmed reading the current policy; no training recorded"):
            assert line in text, line
        assert "Monitoring during school holidays" not in text  # the details open on request
        sizes = as_on_a_phone(request)
        assert fits(sizes), sizes
        head_teacher.screenshot(SCREENSHOTS / "account-request-phone.png", of=request)
        head_teacher.click_card_button("Show details", card=request, expect_activity=False)
        assert request.get_by_text("Monitoring during school holidays", exact=True).first.is_visible()
        sizes = as_on_a_phone(request)
        assert fits(sizes), sizes
        head_teacher.screenshot(SCREENSHOTS / "account-request-phone-details.png", of=request)

        # 2. Old cards follow the request: she asks for changes.
        request = head_teacher.pane.locator(CARD).filter(has_text="Reason or comment").last  # not the details' card
        head_teacher.fill_card_input("Reason or comment (needed to reject or to ask for changes)",
                                     "Please say who covers the summer holidays", card=request)
        head_teacher.click_card_button("Ask for changes", card=request)
        head_teacher.wait_for_text("Status: Changes requested")  # her answer, then her copy updated the same
    finally:
        head_teacher.page.set_viewport_size({"width": 1280, "height": 900})

    told = staff.card("needs some changes", timeout=30)
    staff.wait_for_text(re.compile("Status: Changes requested"), timeout=30)
    first = staff.pane.locator(CARD).filter(has_text="Asked by Sam Teacher").first  # the form's message
    first.get_by_text("Status: Changes requested").wait_for(timeout=30_000)  # updated in place
    assert "Waiting for a decision" not in first.inner_text()
    staff.screenshot(SCREENSHOTS / "account-requester-card-followed.png", of=first)
    staff.click_card_button("Change and resend", card=told)
    form = staff.card("Change request " + reference.group())
    staff.fill_card_input("Monitoring during school holidays", "Priya checks it every Monday; Lee in August",
                          card=form)
    staff.click_card_button("Resend to the Head Teacher", card=form)
    staff.wait_for_text("Sent again (version 2)")

    # Every copy of version 1 says it was replaced, with no buttons; version 2 says what changed.
    new = head_teacher.card("Changed since version 1: holiday monitoring", timeout=30)
    assert new.get_by_role("button", name="Approve", exact=True).is_visible()
    old = head_teacher.pane.locator(CARD).filter(has_text="Replaced by version 2")
    old.first.wait_for(timeout=30_000)
    assert old.first.get_by_role("button", name="Approve", exact=True).count() == 0
    head_teacher.screenshot(SCREENSHOTS / "account-card-superseded.png", of=old.first)
    mine = staff.pane.locator(CARD).filter(has_text="Replaced by version 2")
    mine.first.wait_for(timeout=30_000)
    assert mine.first.get_by_role("button", name="Withdraw", exact=True).count() == 0

    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []
