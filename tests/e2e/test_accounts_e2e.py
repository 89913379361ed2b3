"""End to end in the Agents Playground: a member of staff proposes an account, the Head Teacher approves it
inline in a second Playground, the card shows the decision, the requester is told, `accounts` lists it.

Screenshots of the form, the request card before and after the decision, the requester's message and the
register are saved in docs/screenshots/account-*.png. The bot runs as a process, as in production
(`python -m bot`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.playground import REPO_ROOT, E2EStack, PlaygroundSession

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
FORM_TITLE = "Propose a school social media account"
ACCOUNT_NAME = "Holy Trinity Year 6"


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }


# --- the test ---------------------------------------------------------------------------------------------


def pick_person(session: PlaygroundSession, form: Locator, label: str, name: str) -> None:
    """Choose someone in the runner slot under ``label``, as a person does: type, click the suggestion.

    The slot is a typeahead over the school's staff list (the staff file here); Teams also asks the bot as the person
    types (`application/search`), which the Playground does not do yet: it filters the listed staff.
    """
    picker = form.locator(
        f"xpath=.//label[normalize-space(.)='{label}']/following-sibling::div//input[@role='combobox']"
    )
    picker.click()
    session.page.keyboard.type(name.split(" ")[0])
    session.page.get_by_role("option").filter(has_text=name).first.click()


def fill_case(staff: PlaygroundSession, form: Locator, *, second_runner: str | None) -> None:
    staff.fill_card_input("Platform", "Facebook", card=form)
    staff.fill_card_input("Proposed account name", ACCOUNT_NAME, card=form)
    staff.fill_card_input("Aim of the account", "Share Year 6 learning with families", card=form)
    staff.fill_card_input("Intended audience", "Parents and carers of Year 6", card=form)
    staff.fill_card_input("How it will be promoted", "Newsletter and letters home", card=form)
    staff.fill_card_input("Open or private", "Private / closed (approved members only)", card=form)
    pick_person(staff, form, "Runner 1", "Sam Teacher")
    staff.fill_card_input("Runner 1: policy and training", "Has read the policy and been trained", card=form)
    if second_runner:
        pick_person(staff, form, "Runner 2", second_runner)
        staff.fill_card_input("Runner 2: policy and training", "Needs training: please arrange it", card=form)
    staff.fill_card_input("Monitoring plan (term time)", "Sam checks it every school day at 4pm", card=form)
    staff.fill_card_input("Monitoring during school holidays", "Anna checks it every Monday and Thursday",
                          card=form)


def test_staff_proposes_an_account_and_the_head_teacher_approves_it_inline(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    # The Head Teacher has the bot in her personal chat (her Playground installs it).
    head_teacher.open_personal_chat()
    head_teacher.wait_for_activity("installationUpdate", to_bot=True)
    staff.open_personal_chat()

    staff.send("new account")
    form = staff.card(FORM_TITLE)
    assert form.get_by_text("Never type a password here", exact=False).count() == 1
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

    pick_person(staff, form, "Runner 2", "Anna Smith")
    staff.fill_card_input("Runner 2: policy and training", "Needs training: please arrange it", card=form)
    staff.click_card_button("Send to the Head Teacher", card=form)
    staff.wait_for_text("Sent to Anna Smith for a decision")

    # The Head Teacher's card arrives through the outbox, with the buttons.
    request = head_teacher.card(ACCOUNT_NAME, timeout=30)
    for name in ("Approve", "Reject", "Ask for changes"):
        assert request.get_by_role("button", name=name, exact=True).is_visible(), name
    assert request.get_by_text("requested for Anna Smith", exact=False).count() >= 1  # in the short summary
    head_teacher.screenshot(SCREENSHOTS / "account-request-card.png", of=request)

    mark = head_teacher.mark()
    clicked = head_teacher.click_card_button("Approve", card=request)
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
    staff.screenshot(SCREENSHOTS / "account-requester-told.png", of=told)
    staff.send("accounts")
    register = staff.card("School social media accounts")
    assert register.get_by_text(f"Facebook: {ACCOUNT_NAME}", exact=False).count() == 1
    staff.screenshot(SCREENSHOTS / "account-register.png", of=register)

    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []
