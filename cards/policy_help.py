"""Cards for "ask the policy": the quoted answer, and the "the policy doesn't say" answer.

Every piece of text from the policy or from the member of staff goes through `escape_markdown`, so a
question like "**urgent** [click](https://example.org)" shows as typed and cannot add links or formatting.
"""

from __future__ import annotations

import re
from typing import Final

from cards.base import ActionSubmit, AdaptiveCard, Container, Element, TextBlock, escape_markdown
from domain.policy_help import NotCovered, PolicyAnswer, PolicyQuote, SuggestedFlow

START_FLOW_VERB: Final = "start_flow"
_MAX_QUESTION_SHOWN: Final = 300  # a long message is cut in the echo; the answer used all of it

_FLOW_BUTTON_TITLES: Final[dict[SuggestedFlow, str]] = {
    SuggestedFlow.REPORT_INCIDENT: "Report an incident",
    SuggestedFlow.CHECK_PHOTO: "Check a photo",
    SuggestedFlow.PROPOSE_ACCOUNT: "Propose a school account",
}
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_FOOTNOTE: Final = "Quoted from the school's Social Media Policy. If you are unsure how it applies to you, ask SLT."
# The first line of every answer while the bundled sample is in use: a sample must never pass as the school's.
SAMPLE_WARNING: Final = (
    "⚠️ SAMPLE POLICY, not your school's: this bot is not yet set up with the school's own Social Media "
    "Policy (POLICYBOT_POLICY_PATH). Do not rely on this answer; ask SLT."
)
_SAMPLE_FOOTNOTE: Final = "Quoted from the bundled SAMPLE policy, not the school's own."


def _sample_warning() -> TextBlock:
    return TextBlock(text=escape_markdown(SAMPLE_WARNING), weight="Bolder", wrap=True)


def policy_answer_card(answer: PolicyAnswer | NotCovered) -> AdaptiveCard:
    """The answer to a staff question: quotes with their sections, what to do, and flow buttons."""
    if isinstance(answer, NotCovered):
        return policy_not_covered_card(answer)
    body: list[Element] = [_sample_warning()] if answer.from_sample else []
    body += [
        TextBlock(text="What the policy says", size="Medium", weight="Bolder", style="heading"),
        _question_echo(answer.question),
    ]
    body.extend(_quote_container(quote) for quote in answer.quotes)
    if not _repeats_a_quote(answer):
        body.append(TextBlock(text="What to do", weight="Bolder", spacing="Medium"))
        body.append(TextBlock(text=escape_markdown(answer.what_to_do)))
    footnote = _SAMPLE_FOOTNOTE if answer.from_sample else _FOOTNOTE
    body.append(TextBlock(text=escape_markdown(footnote), size="Small", is_subtle=True, spacing="Medium"))
    actions = [
        ActionSubmit(
            title=_FLOW_BUTTON_TITLES[flow],
            data={"verb": START_FLOW_VERB, "flow": flow.value},
        )
        for flow in answer.flows
    ]
    return AdaptiveCard(
        body=body,
        actions=actions or None,
        fallback_text=_fallback_text(answer),
    )


def policy_not_covered_card(answer: NotCovered) -> AdaptiveCard:
    """The policy does not answer the question: say so plainly and point to SLT; suggest no rule."""
    return AdaptiveCard(
        body=[
            *([_sample_warning()] if answer.from_sample else []),
            TextBlock(text="The policy doesn't say", size="Medium", weight="Bolder", style="heading"),
            _question_echo(answer.question),
            TextBlock(text=escape_markdown(answer.message)),
            TextBlock(
                text="Try asking in other words, for example about posting photos, personal accounts, comments "
                "or school accounts.",
                size="Small",
                is_subtle=True,
            ),
        ],
        fallback_text=(SAMPLE_WARNING + " " if answer.from_sample else "") + answer.message,
    )


def _question_echo(question: str) -> TextBlock:
    shown = " ".join(question.split())
    if len(shown) > _MAX_QUESTION_SHOWN:
        shown = shown[: _MAX_QUESTION_SHOWN - 1] + "…"
    return TextBlock(text=f"You asked: {escape_markdown(shown)}", is_subtle=True, spacing="Small")


def _quote_container(quote: PolicyQuote) -> Container:
    lines = [line.strip() for line in quote.text.split("\n") if line.strip()]
    return Container(
        style="emphasis",
        spacing="Medium",
        items=[
            TextBlock(text=escape_markdown(quote.section, one_line=True), size="Small", weight="Bolder",
                      color="Accent"),
            *(TextBlock(text=escape_markdown(_BOLD.sub(r"\1", line)), spacing="None") for line in lines),
        ],
    )


def _repeats_a_quote(answer: PolicyAnswer) -> bool:
    """A what-to-do line taken verbatim from the first quote adds nothing when it is the whole quote."""
    return answer.what_to_do_source == "quote" and answer.what_to_do.strip() == answer.quotes[0].text.strip()


def _fallback_text(answer: PolicyAnswer) -> str:
    quotes = " ".join(f"{q.section}: “{q.text}”" for q in answer.quotes)
    warning = SAMPLE_WARNING + " " if answer.from_sample else ""
    return f"{warning}{quotes} What to do: {answer.what_to_do}"
