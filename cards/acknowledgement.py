"""Cards for "staff know the policy" (issue 17): the key points offered, the acknowledgement, ``policy status``, the
gentle reminder and the Head Teacher's review reminder.

Every quote is the policy's own sentence (``domain/acknowledgement.py``), escaped like every other text: nothing a
policy file holds can add a link or formatting. One column, no fixed widths: a 390 px phone shows it whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from cards.base import (
    ActionExecute,
    ActionShowCard,
    ActionSubmit,
    AdaptiveCard,
    Element,
    TextBlock,
    escape_markdown,
)
from cards.policy_help import SAMPLE_WARNING
from domain.acknowledgement import PolicyEdition

_BOLD = re.compile(r"\*\*(.+?)\*\*")
ACKNOWLEDGE_VERB: Final = "policy_acknowledge"
ACKNOWLEDGE_TITLE: Final = "I have read the policy"
_KNOW_IT: Final = ("The policy asks every member of staff to \u201cKnow the contents of\u201d it. Its key points, "
                   "quoted from the policy:")
_NEVER_BLOCKS: Final = ("Nothing waits for this: you can report an incident, check a photo or ask a question at any "
                        "time. The whole policy: ask me about anything in it, or ask SLT.")


class AcknowledgePayload(BaseModel):
    """What the button sends: which version was read (the server checks it is the current one)."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")


def _button(edition: PolicyEdition) -> ActionExecute:
    data = {"version": edition.version}
    return ActionExecute(title=ACKNOWLEDGE_TITLE, verb=ACKNOWLEDGE_VERB, data=data, style="positive",
                         fallback=ActionSubmit(title=ACKNOWLEDGE_TITLE, data={"verb": ACKNOWLEDGE_VERB, **data}))


def _points(edition: PolicyEdition) -> list[Element]:
    body: list[Element] = []
    for point in edition.key_points:
        body.append(TextBlock(text=escape_markdown(point.section), weight="Bolder", size="Small", spacing="Medium"))
        # The policy's own words; its bold markers (**N.B.**) are formatting, not words: shown without them.
        words = _BOLD.sub(r"\1", point.text)
        body.append(TextBlock(text=escape_markdown("\u201c" + words + "\u201d"), spacing="None"))
    return body


def key_points_card(edition: PolicyEdition, *, changed: bool = False, reminder: bool = False) -> AdaptiveCard:
    """The policy's key points and the button to confirm reading it (one column: a phone shows it whole)."""
    if reminder:
        title = "A gentle reminder: please read the Social Media Policy"
    elif changed:
        title = "The Social Media Policy has changed: please read it again"
    else:
        title = "Please read the school's Social Media Policy"
    body: list[Element] = []
    if edition.is_sample:
        body.append(TextBlock(text=escape_markdown(SAMPLE_WARNING), weight="Bolder"))
    body += [TextBlock(text=escape_markdown(title), weight="Bolder", size="Medium", style="heading"),
             TextBlock(text=escape_markdown(_KNOW_IT))]
    body += _points(edition)
    body.append(TextBlock(text=escape_markdown(_NEVER_BLOCKS), is_subtle=True, size="Small", spacing="Medium"))
    actions: list[ActionExecute | ActionShowCard] = [_button(edition)]
    return AdaptiveCard(body=body, actions=list(actions), fallback_text=title)


def acknowledged_card(edition: PolicyEdition, name: str, when: str, *, already: bool = False) -> AdaptiveCard:
    title = "Thank you: you have read the policy" if not already else "You had already confirmed reading the policy"
    return AdaptiveCard(
        body=[TextBlock(text=escape_markdown("✔ " + title), weight="Bolder", size="Medium"),
              TextBlock(text=escape_markdown(f"{name}, {when}. Recorded for the school (version {edition.version})."
                                             )),
              TextBlock(text=escape_markdown(_NEVER_BLOCKS), is_subtle=True, size="Small")],
        fallback_text=title,
    )


def outdated_card(edition: PolicyEdition) -> AdaptiveCard:
    """The button of an earlier version: the policy changed since; the current key points follow."""
    card = key_points_card(edition, changed=True)
    note = TextBlock(text=escape_markdown("That card showed an earlier version of the policy; nothing was recorded. "
                                          "Here is the current one."), is_subtle=True)
    return card.model_copy(update={"body": [note, *card.body]})


def status_card(edition: PolicyEdition, *, acknowledged: Sequence[tuple[str, str]], waiting: Sequence[str],
                never_opened: Sequence[str], source: str, reminder_days: int,
                approved_on: date | None, review_due: date | None) -> AdaptiveCard:
    """``policy status``: how many of the staff list acknowledged the current version, and who has not."""
    total = len(acknowledged) + len(waiting)
    body: list[Element] = [
        TextBlock(text="Policy status: who has read the current policy", weight="Bolder", size="Medium",
                  style="heading"),
        TextBlock(text=escape_markdown(f"{len(acknowledged)} of {total} staff have confirmed reading the current "
                                       f"version ({edition.version}).")),
    ]
    if edition.is_sample:
        body.insert(0, TextBlock(text=escape_markdown(SAMPLE_WARNING), weight="Bolder"))
        body.append(TextBlock(text=escape_markdown(
            "Staff are not asked to confirm reading a sample: set POLICYBOT_POLICY_PATH to the school's policy.")))
    if waiting:
        body.append(TextBlock(text=escape_markdown(f"Not yet ({len(waiting)}):"), weight="Bolder", spacing="Medium"))
        body.append(TextBlock(text=escape_markdown(", ".join(waiting))))
        body.append(TextBlock(text=escape_markdown(
            f"They get a gentle reminder after {reminder_days} school days, once for this version."), is_subtle=True,
            size="Small"))
    else:
        body.append(TextBlock(text="✔ Everyone on the staff list has confirmed reading it.", spacing="Medium"))
    if never_opened:
        body.append(TextBlock(text=escape_markdown(
            "Never opened the bot, so no reminder can reach them in Teams: " + ", ".join(never_opened)
            + ". Remind them in person."), size="Small"))
    review = ("Approved by the governing body: " + (approved_on.strftime("%-d %B %Y") if approved_on else
                                                     "not recorded (POLICYBOT_POLICY_APPROVED_ON)")
              + ". Review due: " + (review_due.strftime("%-d %B %Y") if review_due else "not recorded") + ".")
    body.append(TextBlock(text=escape_markdown(review), size="Small", spacing="Medium"))
    body.append(TextBlock(text=escape_markdown(f"Staff list: {source}."), is_subtle=True, size="Small"))
    if acknowledged:
        done = AdaptiveCard(body=[TextBlock(text=escape_markdown(f"{name}: {when}")) for name, when in acknowledged])
        return AdaptiveCard(body=body, actions=[ActionShowCard(title=f"Who has read it ({len(acknowledged)})",
                                                               card=done)],
                            fallback_text="Policy status")
    return AdaptiveCard(body=body, fallback_text="Policy status")


def review_due_card(approved_on: date | None, review_due: date) -> AdaptiveCard:
    """To the Head Teacher, once per review date."""
    approved = approved_on.strftime("%-d %B %Y") if approved_on else "a date not recorded"
    title = "The Social Media Policy is due for review"
    return AdaptiveCard(
        body=[TextBlock(text=escape_markdown(title), weight="Bolder", size="Medium", style="heading"),
              TextBlock(text=escape_markdown(
                  f"The governing body approved it on {approved}; its review was due on "
                  f"{review_due.strftime('%-d %B %Y')}.")),
              TextBlock(text=escape_markdown(
                  "Once the governors approve the reviewed policy, set POLICYBOT_POLICY_APPROVED_ON (and "
                  "POLICYBOT_POLICY_REVIEW_DUE) and replace the policy file: staff are then asked to read the new "
                  "version."), size="Small")],
        fallback_text=title,
    )
