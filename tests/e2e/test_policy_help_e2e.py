"""End to end in the Agents Playground (issue 17): a question about a photo of a named pupil, asked in plain words.

The Playground's bot runs on the bundled sample policy (no POLICYBOT_POLICY_PATH), so the answer's first line says it
is the SAMPLE, not the school's policy. The photo check's button comes first, in its own card; then the answer quotes
the consent rule. The answer is read again in a 390 px wide view (a phone).

Screenshots: docs/screenshots/policy-photo-offer.png and policy-answer-sample.png (no phone picture: the Playground
lays a message out at least ~446 px wide whatever the window, so a 390 px picture would cut its frame, not show the
card; the test checks instead that nothing in the card is wider than the card).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.playground import PHONE, REPO_ROOT, E2EStack, PlaygroundSession

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
QUESTION = "is it ok to put a photo of Amira from Year 3 on the school Facebook page?"


def overflow(card: Locator) -> dict[str, float]:
    """The card's own and its widest descendant's overflow, and its right edge."""
    return card.evaluate(  # type: ignore[no-any-return]
        """el => {
            const widest = [el, ...el.querySelectorAll('*')].reduce(
                (most, node) => Math.max(most, node.scrollWidth - node.clientWidth), 0);
            return {scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, widestOverflow: widest,
                    right: el.getBoundingClientRect().right, pageWidth: document.documentElement.clientWidth};
        }"""
    )


def test_a_photo_of_a_named_pupil_offers_the_photo_check_first_and_the_sample_says_so(
    staff: PlaygroundSession, e2e_stack: E2EStack
) -> None:
    staff.open_personal_chat()
    staff.wait_for_activity("installationUpdate", to_bot=True)

    staff.send(QUESTION)
    offer = staff.card("Before a photo of a pupil goes online")
    assert offer.get_by_role("button", name="Check a photo", exact=True).is_visible()
    answer = staff.card("SAMPLE POLICY")
    text = answer.inner_text()
    assert text.index("SAMPLE POLICY") < text.index("What the policy says")  # the warning is the first line
    assert "Use of images" in text
    staff.screenshot(SCREENSHOTS / "policy-photo-offer.png", of=offer)
    staff.screenshot(SCREENSHOTS / "policy-answer-sample.png", of=answer)

    # On a phone: the same question again in a 390 px wide view; the new answer is no wider than the screen.
    staff.page.set_viewport_size(PHONE)
    try:
        staff.send(QUESTION)
        phone_answer = staff.pane.locator(".ac-adaptiveCard").filter(has_text="SAMPLE POLICY").nth(1)
        phone_answer.wait_for(state="visible", timeout=30_000)
        phone_answer.scroll_into_view_if_needed()
        sizes = overflow(phone_answer)
        # Nothing in the card is wider than the card (the Playground itself lays a message out at least ~446 px
        # wide, whatever the window: its frame, not the card, sets that).
        assert sizes["scrollWidth"] <= sizes["clientWidth"] and sizes["widestOverflow"] <= 1, sizes
    finally:
        staff.page.set_viewport_size({"width": 1280, "height": 900})

    staff.click_card_button("Check a photo", card=offer)
    staff.card("Can I post this photo?")  # the photo check opens

    assert staff.failed_activities() == []
    assert e2e_stack.bot.errors() == []
