"""End to end in the Agents Playground (issue 17): staff know the policy.

The bot runs with the school's own policy (found as tests/support/school_policy.py says; the test skips and says
why when it is not here). Sam opens the bot: beside the welcome come the policy's key points, each quoted from the
policy, and "I have read the policy"; he confirms. The Head Teacher types ``policy status``: how many have read the
current version and who has not. She records Lee Carter's social media training; Sam proposes an account run by Lee
Carter and Priya Shah, and the Head Teacher's card shows each runner's acknowledgement and training from the school's
records ("no training recorded" for Priya). Each card is also measured at a phone's width.

Screenshots: docs/screenshots/policy-ack.png, policy-status.png, account-runner-training.png.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.playground import PHONE, REPO_ROOT, E2EStack, PlaygroundSession, as_on_a_phone, fits
from tests.e2e.test_accounts_phone_e2e import choose_runner
from tests.support.school_policy import missing_reason, school_policy_path

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
FORM_TITLE = "Propose a school social media account"
ACCOUNT_NAME = "Holy Trinity Eco Club"
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

    # 3. Training recorded by the Head (SLT too); the business case shows it for each runner.
    head_teacher.send("training Lee Carter 20/11/2026 Online safety: social media for staff")
    head_teacher.wait_for_text("Training recorded for Lee Carter")

    staff.send("new account")
    form = staff.card(FORM_TITLE)
    staff.fill_card_input("Platform", "Facebook", card=form)
    staff.fill_card_input("Proposed account name", ACCOUNT_NAME, card=form)
    staff.fill_card_input("Aim of the account", "Share the eco club's projects with families", card=form)
    staff.fill_card_input("Intended audience", "Parents and carers", card=form)
    staff.fill_card_input("How it will be promoted", "Newsletter", card=form)
    staff.fill_card_input("Open or private", "Private / closed (approved members only)", card=form)
    choose_runner(staff, form, 1, "Lee Carter")
    staff.fill_card_input("Runner 1: policy and training", "Has read the policy and been trained", card=form)
    choose_runner(staff, form, 2, "Priya Shah")
    staff.fill_card_input("Runner 2: policy and training", "Has read the policy and been trained", card=form)
    staff.fill_card_input("Monitoring plan (term time)", "Lee checks it every school day", card=form)
    staff.fill_card_input("Monitoring during school holidays", "None", card=form)
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
        head_teacher.click_card_button("Show details", card=request, expect_activity=False)
        request.get_by_text(re.compile("Lee Carter: policy not yet acknowledged")).first.wait_for(timeout=10_000)
        details = request.inner_text()
        assert "training 20 Nov 2026 (Online safety: social media for staff)" in details, details
        assert "Priya Shah: policy not yet acknowledged; no training recorded" in details, details
        sizes = as_on_a_phone(request)
        assert fits(sizes), sizes
        head_teacher.screenshot(SCREENSHOTS / "account-runner-training.png", of=request)
    finally:
        head_teacher.page.set_viewport_size({"width": 1280, "height": 900})

    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []
