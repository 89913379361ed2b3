"""Read what a person sees on a card: every TextBlock's text, in order; or every element of a type."""

from __future__ import annotations

from typing import Any


def card_nodes(card: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    """Every element or action of a card whose ``type`` is ``type_`` (nested containers and show-cards
    included), in document order. A ``type_`` ending in "." is a prefix: "Input." is every input."""
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            kind = str(node.get("type", ""))
            if kind == type_ or (type_.endswith(".") and kind.startswith(type_)):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def input_values(card: dict[str, Any]) -> dict[str, Any]:
    """Each input of a card by id, with the value it starts with (what Teams sends back if nobody touches it)."""
    return {node["id"]: node.get("value") for node in card_nodes(card, "Input.") if "id" in node}


def card_texts(card: dict[str, Any]) -> str:
    """All TextBlock texts of a card (nested containers and show-cards included), one per line."""
    return "\n".join(node["text"] for node in card_nodes(card, "TextBlock"))
