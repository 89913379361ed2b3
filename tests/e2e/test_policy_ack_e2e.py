"""End to end in the Agents Playground (issue 17): staff know the policy.

The bot runs with the school's own policy (found as tests/support/school_policy.py says; the test skips and says
why when it is not here). Sam opens the bot: beside the welcome come the policy's key points, each quoted from the
policy, and "I have read the policy"; he confirms. The Head Teacher types ``policy status``: how many have read the
current version and who has not. She records Sam's social media training; Sam proposes an account run by himself and
Priya Shah (the form asks nothing about their training), and the Head Teacher's card shows each runner's
acknowledgement and training dates from the school's records: Sam read the policy today and was trained on 20 Nov;
Priya has neither. Approving asks her to confirm "training to follow" for Priya. Each card is also measured at a
phone's width.

Screenshots: docs/screenshots/policy-ack.png, policy-status.png, account-runner-training.png (the details),
account-runner-training-summary.png (the short summary), account-approve-anyway-phone.png.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.playground import PHONE, REPO_ROOT, E2EStack, PlaygroundSession, as_on_a_phone, fill_business_case, fits
from tests.support.school_policy import missing_reason, school_policy_path

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
FORM_TITLE = "Propose a school social media account"
ACCOUNT_NAME = "Holy Trinity Eco Club"
COURSE = "Online safety: social media for staff"
POLICY = school_policy_path()


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    if POLICY is None:
        pytest.skip(missing_reason())
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_POLICY_PATH": str(POLICY),
        "POLICYBOT_POLICY_APPROVED_ON": "2021-02-04",
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }


def test_acknowledgement_on_first_use_policy_status_and_the_runners_training(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    # 1. First use: the key points beside the welcome, quoted from the policy; Sam confirms.
    staff.open_personal_chat()
    staff.card("Welcome to Policy Bot")
    offer = staff.card("Please read the school's Social Media Policy")
    text = offer.inner_text()
    assert "All Social Media accounts must be approved by the Head Teacher" in text and "Know the contents of" in text
    sizes = as_on_a_phone(offer)
    assert fits(sizes), sizes
    assert "must be monitored regularly and frequently (including during holidays)" in text
    staff.screenshot(SCREENSHOTS / "policy-ack.png", of=offer)
    staff.click_card_button("I have read the policy", card=offer)
    staff.wait_for_text("Thank you: you have read the policy")

    # 2. The Head Teacher's policy status.
    head_teacher.open_personal_chat()
    head_teacher.wait_for_activity("installationUpdate", to_bot=True)
    head_teacher.send("policy status")
    status = head_teacher.card("Policy status: who has read the current policy")
    shown = status.inner_text()
    assert re.search(r"1 of \d+ staff have confirmed reading the current version", shown), shown
    assert "Not yet" in shown and "Lee Carter" in shown and "4 February 2021" in shown
    sizes = as_on_a_phone(status)
    assert fits(sizes), sizes
    head_teacher.screenshot(SCREENSHOTS / "policy-status.png", of=status)

    # 3. Training recorded by the Head (SLT too); the business case shows it, and the acknowledgement, per runner.
    today = f"{datetime.now(ZoneInfo('Europe/London')):%-d %b %Y}"  # Sam confirmed reading it above
    head_teacher.send(f"training Sam Teacher 20/11/2026 {COURSE}")
    head_teacher.wait_for_text("Training recorded for Sam Teacher")

    staff.send("new account")
    form = staff.card(FORM_TITLE)
    fill_business_case(staff, form, name=ACCOUNT_NAME, aim="Share the eco club's projects with families",
                       audience="Parents and carers", runners=["Sam Teacher", "Priya Shah"],
                       monitoring="Lee checks it every school day", holidays="None")
    assert "taken from the school's records, not asked here" in form.inner_text()
    staff.click_card_button("Send to the Head Teacher", card=form)
    staff.wait_for_text("must be monitored regularly and frequently (including during holidays)")
    form = staff.card("Please fix 1 thing below")
    staff.fill_card_input("Monitoring during school holidays", "Priya checks it every Monday", card=form)
    staff.click_card_button("Send to the Head Teacher", card=form)
    staff.wait_for_text("Sent to Anna Smith for a decision")

    head_teacher.page.set_viewport_size(PHONE)
    try:
        request = head_teacher.card(ACCOUNT_NAME, timeout=30)
        request.scroll_into_view_if_needed()
        summary = request.inner_text()  # first, before the buttons
        sam = f"read the policy on {today}; trained on 20 Nov 2026"
        priya = "has not confirmed reading the current policy; no training recorded"
        assert f"Sam Teacher (runner): {sam}" in summary, summary
        assert f"Priya Shah (runner): {priya}" in summary, summary
        sizes = as_on_a_phone(request)
        assert fits(sizes), sizes
        head_teacher.screenshot(SCREENSHOTS / "account-runner-training-summary.png", of=request)
        head_teacher.click_card_button("Show details", card=request, expect_activity=False)
        request.get_by_text("Sam Teacher: policy and training (school records when sent)").first.wait_for(
            timeout=10_000)
        details = request.inner_text()
        assert f"{sam} ({COURSE})" in details, details
        assert "No social media training recorded for Priya Shah when this was sent" in details, details
        sizes = as_on_a_phone(request)
        assert fits(sizes), sizes
        head_teacher.screenshot(SCREENSHOTS / "account-runner-training.png", of=request)

        # 4. Approving with an untrained runner: the Head confirms "training to follow" (SLT are then reminded).
        request = head_teacher.pane.locator(".ac-adaptiveCard").filter(has_text="Reason or comment").last
        head_teacher.click_card_button("Approve", card=request)
        confirm = head_teacher.card("No social media training is recorded for Priya Shah")
        sizes = as_on_a_phone(confirm)
        assert fits(sizes), sizes
        head_teacher.screenshot(SCREENSHOTS / "account-approve-anyway-phone.png", of=confirm)
        head_teacher.click_card_button("Approve anyway: training to follow", card=confirm)
        head_teacher.wait_for_text("Status: Approved")
    finally:
        head_teacher.page.set_viewport_size({"width": 1280, "height": 900})

    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []
