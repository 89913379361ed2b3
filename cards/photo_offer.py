"""The card offered first when a question is really about a photo of a pupil (issue 17): the **Check a photo**
button, then the policy's answer (the consent rule) follows, as the report offer does for reports."""

from __future__ import annotations

from cards.base import AdaptiveCard, TextBlock
from cards.help import start_flow_action
from domain.flows import Flow


def photo_offer_card() -> AdaptiveCard:
    """"Check the photo first": the button that checks every pupil's consent, before the policy's words."""
    return AdaptiveCard(
        fallback_text="Before posting a photo of a pupil, check their consent: type check photo",
        body=[TextBlock(text="Before a photo of a pupil goes online, check it here: the bot looks up the parental "
                             "consent of every pupil in it, as the policy asks.", wrap=True),
              TextBlock(text="What the policy says about photos follows.", wrap=True, is_subtle=True)],
        actions=[start_flow_action(Flow.CHECK_PHOTO, "Check a photo")],
    )
