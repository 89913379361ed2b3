"""Who is acting: the person of the authenticated activity, never anyone a card or message names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The person acting, from the authenticated activity's ``from`` (never from card data)."""

    aad_object_id: str
    name: str
    teams_user_id: str
    conversation_id: str | None = None
    conversation_kind: str | None = None  # personal | channel | groupChat

    @property
    def in_personal_chat(self) -> bool:
        return (self.conversation_kind or "personal") == "personal"
