"""Welcome, help and notice cards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cards.base import (
    ActionSubmit,
    AdaptiveCard,
    Column,
    ColumnSet,
    Container,
    Element,
    Fact,
    FactSet,
    TextBlock,
    escape_markdown,
)
from domain.commands import help_lines, role_lines
from domain.flows import FLOW_SUMMARIES, FLOW_TITLES, Flow
from domain.roles import Role

START_FLOW_VERB = "start_flow"

def role_commands(roles: Iterable[Role]) -> list[tuple[str, str]]:
    """The extra commands of these roles (shown under "For your role"), from the one command table."""
    return role_lines(roles)


def start_flow_action(flow: Flow, title: str | None = None) -> ActionSubmit:
    """A button that starts a flow in the personal chat."""
    return ActionSubmit(title=title or FLOW_TITLES[flow], data={"verb": START_FLOW_VERB, "flow": flow.value})


def _flow_rows() -> list[Element]:
    rows: list[Element] = []
    for flow in Flow:
        rows.append(
            ColumnSet(
                spacing="Medium",
                columns=[
                    Column(
                        width="stretch",
                        items=[
                            TextBlock(text=FLOW_TITLES[flow], weight="Bolder"),
                            TextBlock(text=FLOW_SUMMARIES[flow], is_subtle=True, spacing="None"),
                        ],
                    )
                ],
            )
        )
    return rows


def help_card(bot_name: str, school_name: str, for_role: Sequence[tuple[str, str]] = ()) -> AdaptiveCard:
    """What the bot does, with a button into each flow; `for_role`: the sender's extra commands (`role_commands`)."""
    role_rows: list[Element] = []
    if for_role:
        role_rows = [Container(
            separator=True,
            spacing="Medium",
            items=[
                TextBlock(text="For your role", weight="Bolder", size="Small"),
                FactSet(facts=[Fact(title=command, value=meaning) for command, meaning in for_role]),
            ],
        )]
    return AdaptiveCard(
        fallback_text=f"{bot_name}: report an incident, check a photo, propose an account, ask the policy.",
        body=[
            TextBlock(text=f"How {escape_markdown(bot_name, one_line=True)} can help", size="Large", weight="Bolder",
                      style="heading"),
            TextBlock(
                text=f"I help staff at {escape_markdown(school_name, one_line=True)} follow the Social Media Policy.",
                is_subtle=True,
                spacing="None",
            ),
            *_flow_rows(),
            Container(
                separator=True,
                spacing="Medium",
                items=[
                    TextBlock(text="Or type", weight="Bolder", size="Small"),
                    FactSet(facts=[Fact(title=command, value=meaning) for command, meaning in help_lines()]),
                ],
            ),
            *role_rows,
        ],
        actions=[start_flow_action(flow) for flow in Flow],
    )


def welcome_card(bot_name: str, school_name: str) -> AdaptiveCard:
    """Shown once when the bot is installed."""
    card = help_card(bot_name, school_name)
    card.body[0] = TextBlock(
        text=f"Welcome to {escape_markdown(bot_name, one_line=True)}", size="Large", weight="Bolder", style="heading"
    )
    card.body.insert(
        2,
        TextBlock(
            text="Anything you send me is seen only by the people the policy names. "
            "If a child is in immediate danger, follow the child protection procedure and phone 999 first.",
            color="Attention",
            wrap=True,
        ),
    )
    return card


def notice_card(title: str, lines: list[str], *, tone: str = "Default") -> AdaptiveCard:
    """A short message card: a heading and plain lines (all escaped)."""
    color = {"warning": "Warning", "error": "Attention", "good": "Good"}.get(tone.lower())
    return AdaptiveCard(
        fallback_text=title,
        body=[
            TextBlock(text=escape_markdown(title), weight="Bolder", size="Medium", color=color),
            *[TextBlock(text=escape_markdown(line)) for line in lines],
        ],
    )


def coming_soon_card(flow: Flow) -> AdaptiveCard:
    """A flow whose part of the bot is not built yet: say so plainly and what to do meanwhile."""
    return notice_card(
        f"{FLOW_TITLES[flow]}: coming soon",
        [
            "This part of the bot is not ready yet.",
            "Until it is, please speak to a member of the Senior Leadership Team (SLT) directly.",
        ],
    )
