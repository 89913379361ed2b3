"""End to end in the Agents Playground (issue 19, item 3): the cards `approvals` sends follow the request.

Sam proposes an account; the Head Teacher has its card routed to her, then types `approvals` and gets a second copy
with the buttons. Sam withdraws the request from his own card: the Head's `approvals` copy is replaced in place with
"Status: Withdrawn" and offers no button any more, like the routed copy.

Screenshots: docs/screenshots/approvals-command-card.png (the copy `approvals` sent, live),
approvals-command-card-withdrawn.png (the same message after Sam withdrew).
"""

from __future__ import annotations

import pytest

from tests.e2e.playground import PHONE, REPO_ROOT, PlaygroundSession, as_on_a_phone, fill_business_case, fits

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
FORM_TITLE = "Propose a school social media account"
ACCOUNT_NAME = "Holy Trinity Chess Club"
CARD = ".ac-adaptiveCard"
DECIDER_BUTTONS = ("Approve", "Reject", "Ask for changes")


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }


def test_the_card_approvals_sent_the_head_teacher_follows_a_withdrawal(
    staff: PlaygroundSession, head_teacher: PlaygroundSession
) -> None:
    head_teacher.open_personal_chat()
    head_teacher.wait_for_activity("installationUpdate", to_bot=True)
    staff.open_personal_chat()

    staff.send("new account")
    form = staff.card(FORM_TITLE)
    fill_business_case(staff, form, name=ACCOUNT_NAME, aim="Share the chess club's tournaments with families",
                       audience="Parents and carers of club members", runners=["Lee Carter", "Priya Shah"],
                       monitoring="Lee checks it every school day", holidays="Priya checks it every Monday")
    staff.click_card_button("Send to the Head Teacher", card=form)
    mine = staff.card("Sent to Anna Smith for a decision")

    head_teacher.card(ACCOUNT_NAME, timeout=30)  # the card routed to her
    head_teacher.send("approvals")
    head_teacher.wait_for_text("1 request waiting:", timeout=30)
    copies = head_teacher.pane.locator(CARD).filter(has_text=ACCOUNT_NAME)
    head_teacher.wait_for_text(ACCOUNT_NAME, min_count=2, timeout=30)
    listed = copies.last  # the copy `approvals` sent, after the line saying how many wait
    for name in DECIDER_BUTTONS:
        assert listed.get_by_role("button", name=name, exact=True).is_visible(), name
    head_teacher.screenshot(SCREENSHOTS / "approvals-command-card.png", of=listed)

    staff.click_card_button("Withdraw", card=mine)
    staff.wait_for_text("Withdrawn. The Head Teacher's card shows it.")

    listed.get_by_text("Status: Withdrawn").wait_for(timeout=30_000)  # replaced in place, through the outbox
    for copy in (listed, copies.first):  # the `approvals` copy and the routed one alike
        copy.get_by_text("Status: Withdrawn").wait_for(timeout=30_000)
        for name in DECIDER_BUTTONS:
            assert copy.get_by_role("button", name=name, exact=True).count() == 0, name
    assert copies.count() == 2  # updated, not sent again
    head_teacher.screenshot(SCREENSHOTS / "approvals-command-card-withdrawn.png", of=listed)
    head_teacher.page.set_viewport_size(PHONE)
    try:
        sizes = as_on_a_phone(listed)
        assert fits(sizes), sizes
    finally:
        head_teacher.page.set_viewport_size({"width": 1280, "height": 900})
