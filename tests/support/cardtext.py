"""Read what a person sees on a card: every TextBlock's text, in order; or every element of a type."""

from __future__ import annotations

from typing import Any


def card_nodes(card: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    """Every element or action of a card whose ``type`` is ``type_`` (nested containers and show-cards
    included), in document order."""
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == type_:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def card_texts(card: dict[str, Any]) -> str:
    """All TextBlock texts of a card (nested containers and show-cards included), one per line."""
    return "\n".join(node["text"] for node in card_nodes(card, "TextBlock"))
