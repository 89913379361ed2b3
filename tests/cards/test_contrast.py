"""Every card meets WCAG AA contrast in Teams' light, dark and high-contrast themes (issue 19, item 9).

Each TextBlock and FactSet of every card the bot sends (the sample of every card builder in
tests/cards/test_text_in_cards.py, and the photo check's and status cards here) is drawn with the colours of Teams'
host config for its colour, subtlety and the container style it sits in (tests/data/teams_host_colours.json, with
the source of each theme), and its contrast with that background is measured with the WCAG 2.x formula: at least
4.5:1, or 3:1 for large text (24 px, or 18.66 px bold: in Teams only ExtraLarge).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cards.base import AdaptiveCard, TextBlock
from cards.consent import photo_check_question_card, pupil_choice_card, verdict_card
from cards.platform import PlatformStatus, status_card, whoami_card
from domain.roles import Role, RoleLookup
from tests.cards.test_consent_cards import NO_MANY, YES
from tests.cards.test_text_in_cards import CARD_KINDS

HOST = json.loads((Path(__file__).parent.parent / "data" / "teams_host_colours.json").read_text(encoding="utf-8"))
THEMES: dict[str, dict[str, Any]] = HOST["themes"]
FONT_SIZES: dict[str, int] = HOST["fontSizes"]
NORMAL, LARGE = 4.5, 3.0  # WCAG 2.x 1.4.3 (AA)
LARGE_PX, LARGE_BOLD_PX = 24.0, 18.66  # 18 pt, or 14 pt bold


def _rgba(colour: str) -> tuple[tuple[float, float, float], float]:
    hex_ = colour.lstrip("#")
    alpha = 1.0
    if len(hex_) == 8:  # #AARRGGBB, as host configs write it
        alpha, hex_ = int(hex_[:2], 16) / 255, hex_[2:]
    return (int(hex_[0:2], 16), int(hex_[2:4], 16), int(hex_[4:6], 16)), alpha


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of a text colour (its alpha blended over the background) with the background."""
    (fg, alpha), (bg, _) = _rgba(foreground), _rgba(background)
    blended = tuple(alpha * f + (1 - alpha) * b for f, b in zip(fg, bg, strict=True))
    lighter, darker = sorted((_luminance(blended), _luminance(bg)), reverse=True)  # type: ignore[arg-type]
    return (lighter + 0.05) / (darker + 0.05)


def _texts(node: Any, style: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(what, text element, container style) for every piece of text a card draws."""
    if isinstance(node, list):
        for item in node:
            yield from _texts(item, style)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "Container" and node.get("style"):
        style = node["style"]
    if kind == "TextBlock":
        yield node["text"][:40], node, style
    if kind == "FactSet":
        for fact in node["facts"]:
            yield fact["title"][:40], {"weight": "Bolder"}, style
            yield fact["value"][:40], {}, style
    if kind == "Action.ShowCard":
        yield from _texts(node["card"].get("body", []), HOST["showCardStyle"])
        yield from _texts(node["card"].get("actions", []), HOST["showCardStyle"])
        return
    for key in ("body", "items", "columns", "actions"):
        yield from _texts(node.get(key), style)


def contrast_problems(card: dict[str, Any]) -> list[str]:
    problems = []
    for theme, host in THEMES.items():
        for what, element, style in _texts(card, "default"):
            colours = host["containerStyles"][style]
            colour = colours["foregroundColors"][str(element.get("color") or "default").lower()]
            foreground = colour["subtle" if element.get("isSubtle") else "default"]
            px = FONT_SIZES[element.get("size") or "Default"]
            bold = element.get("weight") == "Bolder"
            needed = LARGE if px >= LARGE_PX or (bold and px >= LARGE_BOLD_PX) else NORMAL
            ratio = contrast(foreground, colours["backgroundColor"])
            if ratio < needed:
                problems.append(f"{theme}, {style} container: {what!r} ({element.get('color') or 'default'}"
                                f"{', subtle' if element.get('isSubtle') else ''}) is {ratio:.2f}:1, needs {needed}:1")
    return problems


def _more_cards() -> Iterator[tuple[str, AdaptiveCard]]:
    yield "question, no account yet", photo_check_question_card([], problem="Say who is in it.")
    yield "choice, with a notice", pupil_choice_card(NO_MANY, ask="Jo Bell", notice="Still not identified")
    yield "verdict, yes", verdict_card(YES)
    yield "verdict, no", verdict_card(NO_MANY)
    yield "whoami, directory unreachable", whoami_card("Sam", RoleLookup(frozenset({Role.STAFF}), "graph", True))
    yield "status, undelivered", status_card(PlatformStatus("the SLT channel", "the school's staff list", 3, 12, 1, 2))


KINDS: list[tuple[str, Callable[[], Iterator[tuple[str, AdaptiveCard]]]]] = [
    *CARD_KINDS, ("photo check and status, more states", _more_cards),
]


@pytest.mark.parametrize(("kind", "build"), KINDS, ids=[kind for kind, _ in KINDS])
def test_every_card_meets_aa_contrast_in_every_teams_theme(
    kind: str, build: Callable[[], Iterator[tuple[str, AdaptiveCard]]]
) -> None:
    problems = [f"{name}: {problem}" for name, card in build() for problem in contrast_problems(card.to_dict())]
    assert not problems, "\n".join(problems)


def test_the_measure_is_the_wcag_formula_on_teams_colours() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    light = THEMES["light"]["containerStyles"]["default"]
    # What the issue saw: Teams' light green ("Good") on white fails AA; its red ("Attention") passes.
    assert contrast(light["foregroundColors"]["good"]["default"], light["backgroundColor"]) < NORMAL
    assert contrast(light["foregroundColors"]["attention"]["default"], light["backgroundColor"]) > NORMAL
    # A coloured heading as a card would send it, if the models let it through, is caught.
    green_heading = {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "Report received",
                                                       "size": "Medium", "weight": "Bolder", "color": "Good"}]}
    assert any("light, default container: 'Report received' (Good)" in p for p in contrast_problems(green_heading))
    subtle_in_dark = {"type": "AdaptiveCard", "body": [{"type": "Container", "style": "attention", "items": [
        {"type": "TextBlock", "text": "NO", "size": "ExtraLarge", "weight": "Bolder", "color": "Attention"}]}]}
    assert any(p.startswith("dark, attention container: 'NO'") for p in contrast_problems(subtle_in_dark))


@pytest.mark.parametrize("colour", ["Good", "Warning", "Attention", "Accent", "Light", "Dark"])
def test_a_colour_that_fails_in_some_theme_is_drawn_in_the_default_colour(colour: str) -> None:
    block = TextBlock.model_validate({"text": "Status: Approved", "color": colour})
    assert "color" not in block.to_dict()
    assert TextBlock(text="x", color="Default").to_dict()["color"] == "Default"
