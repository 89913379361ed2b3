"""Read what a person sees on a card: every TextBlock's text, in order."""

from __future__ import annotations


def card_texts(card: dict) -> str:
    """All TextBlock texts of a card (nested containers and show-cards included), one per line."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return "\n".join(found)
