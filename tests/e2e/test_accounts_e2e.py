"""End to end in the Agents Playground: a member of staff proposes an account, the Head Teacher approves it
inline in a second Playground, the card shows the decision, the requester is told, `accounts` lists it.

The form asks nothing about the runners' training (issue 17): the Head Teacher records Sam's social media training
first, and her card shows each runner's standing from the school's records (Sam's training date; "no training
recorded" for Anna). Approving asks her to confirm "training to follow" for Anna.

Screenshots of the form, the request card before and after the decision, the confirmation, the requester's message
and the register are saved in docs/screenshots/account-*.png. The bot runs as a process, as in production
(`python -m bot`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.playground import REPO_ROOT, E2EStack, PlaygroundSession, choose_runner, fill_business_case

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
FORM_TITLE = "Propose a school social media account"
ACCOUNT_NAME = "Holy Trinity Year 6"
COURSE = "Online safety: social media for staff"


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }


# --- the test ---------------------------------------------------------------------------------------------


def fill_case(staff: PlaygroundSession, form: Locator, *, second_runner: str | None) -> None:
    fill_business_case(staff, form, name=ACCOUNT_NAME, aim="Share Year 6 learning with families",
                       audience="Parents and carers of Year 6", promoted="Newsletter and letters home",
                       runners=["Sam Teacher", second_runner] if second_runner else ["Sam Teacher"],
                       monitoring="Sam checks it every school day at 4pm",
                       holidays="Anna checks it every Monday and Thursday")


def test_staff_proposes_an_account_and_the_head_teacher_approves_it_inline(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    # The Head Teacher has the bot in her personal chat (her Playground installs it).
    head_teacher.open_personal_chat()
    head_teacher.wait_for_activity("installationUpdate", to_bot=True)
    head_teacher.send(f"training Sam Teacher 20/11/2026 {COURSE}")  # SLT and the Head record training
    head_teacher.wait_for_text("Training recorded for Sam Teacher")
    staff.open_personal_chat()

    staff.send("new account")
    form = staff.card(FORM_TITLE)
    assert form.get_by_text("Never type a password here", exact=False).count() == 1
    text = form.inner_text()
    assert "taken from the school's records, not asked here" in text and "Runner 1: policy and training" not in text
    staff.screenshot(SCREENSHOTS / "account-form.png", of=form)

    # One runner only: the card comes back with what to fix, and what was typed is kept.
    fill_case(staff, form, second_runner=None)
    clicked = staff.click_card_button("Send to the Head Teacher", card=form)
    assert clicked is not None and clicked.name == "invoke", clicked
    staff.wait_for_text("Please fix 1 thing below")
    form = staff.card(FORM_TITLE)
    assert form.get_by_label("Proposed account name").input_value() == ACCOUNT_NAME
    assert form.get_by_text("Chosen: Sam Teacher", exact=True).count() == 1
    staff.screenshot(SCREENSHOTS / "account-form-to-fix.png", of=form)

    choose_runner(staff, form, 2, "Anna Smith")
    staff.click_card_button("Send to the Head Teacher", card=form)
    staff.wait_for_text("Sent to Anna Smith for a decision")

    # The Head Teacher's card arrives through the outbox, with the buttons.
    request = head_teacher.card(ACCOUNT_NAME, timeout=30)
    for name in ("Approve", "Reject", "Ask for changes"):
        assert request.get_by_role("button", name=name, exact=True).is_visible(), name
    text = request.inner_text()  # the short summary: each runner's standing from the school's records
    assert "Sam Teacher (runner): has not confirmed reading the current policy; trained on 20 Nov 2026\n" in text, text
    assert "Anna Smith (runner): has not confirmed reading the current policy; no training recorded" in text, text
    head_teacher.screenshot(SCREENSHOTS / "account-request-card.png", of=request)

    clicked = head_teacher.click_card_button("Approve", card=request)
    assert clicked is not None and clicked.name == "invoke" and clicked.ok, clicked
    confirm = head_teacher.card("No social media training is recorded for Anna Smith")
    assert confirm.get_by_role("button", name="Approve anyway: training to follow", exact=True).is_visible()
    head_teacher.screenshot(SCREENSHOTS / "account-approve-anyway.png", of=confirm)
    mark = head_teacher.mark()
    clicked = head_teacher.click_card_button("Approve anyway: training to follow", card=confirm)
    assert clicked is not None and clicked.name == "invoke" and clicked.ok, clicked
    head_teacher.wait_for_text("Status: Approved")
    decided = head_teacher.card("Status: Approved")
    assert decided.get_by_role("button", name="Approve", exact=True).count() == 0
    # The outbox then updates every stored copy of the card (here: hers) to the decision. The Playground logs
    # an update (PUT) as "message 200"; a new message is "message 201".
    update = head_teacher.wait_for_activity(
        "message", to_bot=False, since=mark, timeout=30, conversation=head_teacher.identity.personal_chat_id,
        where=lambda entry: entry.status == 200, description="the update of her copy of the card",
    )
    assert "Status: Approved" in str(update.request)
    head_teacher.screenshot(SCREENSHOTS / "account-request-decided.png", of=decided)

    # The requester is told in their chat; the account is in the register.
    told = staff.card("was approved", timeout=30)
    assert told.get_by_text("Sam Teacher, Anna Smith", exact=False).count() >= 1
    assert told.get_by_text("Approved with training to follow for Anna Smith", exact=False).count() == 1
    staff.screenshot(SCREENSHOTS / "account-requester-told.png", of=told)
    staff.send("accounts")
    register = staff.card("School social media accounts")
    assert register.get_by_text(f"Facebook: {ACCOUNT_NAME}", exact=False).count() == 1
    staff.screenshot(SCREENSHOTS / "account-register.png", of=register)

    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []
