"""The typed requests a dialog hands a use case: the authenticated actor and what they asked for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from domain.actors import Actor


@dataclass(frozen=True)
class CardAction:
    """A button pressed on one of our cards (Action.Execute, or its Action.Submit fallback)."""

    verb: str
    data: dict[str, Any]  # the raw card data (an object; what the router validated ``payload`` from)
    actor: Actor
    activity_id: str | None = None  # the incoming invoke's id
    card_activity_id: str | None = None  # the message holding the card (replyToId)
    via_submit: bool = False  # an Action.Submit fallback (older clients) rather than Action.Execute
    payload: BaseModel | None = None  # the verb's payload model, validated by the router


@dataclass(frozen=True)
class ChannelInfo:
    """The team channel a message came from (read by the edge from the activity's channel data)."""

    channel_id: str
    channel_name: str | None
    team_id: str | None
    conversation_id: str
    service_url: str
    tenant_id: str | None
    team_name: str | None = None  # Teams' channel data names the team (shown in ``status``)


@dataclass(frozen=True)
class CommandRequest:
    """A typed command: the whole text (mentions stripped) and what follows the command's own words."""

    text: str
    argument: str
    actor: Actor
    channel: ChannelInfo | None = None  # set when the command was typed in a team channel
