"""The card offered first when a message reads like a report (issue 15, gap 9): the report button, then the policy
answer follows as before."""

from __future__ import annotations

from cards.base import AdaptiveCard, TextBlock
from cards.help import start_flow_action
from domain.flows import Flow


def report_offer_card() -> AdaptiveCard:
    """"It sounds like something has happened": the **Report an incident** button, before anything else."""
    return AdaptiveCard(
        fallback_text="It sounds like you want to report something: type report",
        body=[TextBlock(text="It sounds like something has happened. Report it here: it goes straight to the people "
                             "the policy names.", wrap=True),
              TextBlock(text="If anyone is in immediate danger, call 999 and tell the DSL now.", wrap=True,
                        is_subtle=True)],
        actions=[start_flow_action(Flow.REPORT_INCIDENT, "Report an incident")],
    )
