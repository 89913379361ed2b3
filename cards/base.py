"""Typed Adaptive Card elements (schema 1.5, the highest Teams renders).

One function per card elsewhere in `cards/` builds a tree of these models; `card.to_dict()` gives the
JSON Teams receives. User text goes in as data (never by substitution into JSON text) and through
`escape_markdown` first, because Teams renders every TextBlock as Markdown.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"  # the highest version Teams renders; Action.Execute needs 1.4+

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]()#+\-!>|~<])")


def escape_markdown(text: str) -> str:
    """Make user text inert in a TextBlock: no links, emphasis, headings or lists.

    Each Markdown control character gets a backslash. The text still reads the same to a person.
    """
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


class CardModel(BaseModel):
    """Base of every card element: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --- Elements -----------------------------------------------------------------------------------


class TextBlock(CardModel):
    type: Literal["TextBlock"] = "TextBlock"
    text: str
    wrap: bool = True
    size: Literal["Small", "Default", "Medium", "Large", "ExtraLarge"] | None = None
    weight: Literal["Lighter", "Default", "Bolder"] | None = None
    color: Literal["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"] | None = None
    is_subtle: bool | None = None
    spacing: Literal["None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"] | None = None
    separator: bool | None = None
    style: Literal["default", "heading"] | None = None
    id: str | None = None
    is_visible: bool | None = None


class Fact(CardModel):
    title: str
    value: str


class FactSet(CardModel):
    type: Literal["FactSet"] = "FactSet"
    facts: list[Fact]
    spacing: str | None = None
    separator: bool | None = None


class Image(CardModel):
    type: Literal["Image"] = "Image"
    url: str
    alt_text: str
    size: Literal["Auto", "Stretch", "Small", "Medium", "Large"] | None = None


class Choice(CardModel):
    title: str
    value: str


class InputText(CardModel):
    type: Literal["Input.Text"] = "Input.Text"
    id: str
    label: str | None = None
    placeholder: str | None = None
    value: str | None = None
    is_multiline: bool | None = None
    max_length: int | None = None
    is_required: bool | None = None
    error_message: str | None = None
    regex: str | None = None
    style: Literal["text", "tel", "url", "email", "password"] | None = None


class InputChoiceSet(CardModel):
    type: Literal["Input.ChoiceSet"] = "Input.ChoiceSet"
    id: str
    choices: list[Choice]
    label: str | None = None
    value: str | None = None
    style: Literal["compact", "expanded", "filtered"] | None = None
    is_multi_select: bool | None = None
    is_required: bool | None = None
    error_message: str | None = None
    placeholder: str | None = None
    choices_data: dict[str, Any] | None = Field(default=None, alias="choices.data")


class InputToggle(CardModel):
    type: Literal["Input.Toggle"] = "Input.Toggle"
    id: str
    title: str
    label: str | None = None
    value: str | None = None
    value_on: str = "true"
    value_off: str = "false"
    is_required: bool | None = None
    error_message: str | None = None


class InputDate(CardModel):
    type: Literal["Input.Date"] = "Input.Date"
    id: str
    label: str | None = None
    value: str | None = None
    is_required: bool | None = None
    error_message: str | None = None


# --- Actions ------------------------------------------------------------------------------------


class ActionSubmit(CardModel):
    type: Literal["Action.Submit"] = "Action.Submit"
    title: str
    data: dict[str, Any] | None = None
    style: Literal["default", "positive", "destructive"] | None = None
    associated_inputs: Literal["auto", "none"] | None = None
    id: str | None = None


class ActionExecute(CardModel):
    """A Universal Action: Teams sends an `adaptiveCard/action` invoke with `verb` and `data`."""

    type: Literal["Action.Execute"] = "Action.Execute"
    title: str
    verb: str
    data: dict[str, Any] | None = None
    style: Literal["default", "positive", "destructive"] | None = None
    associated_inputs: Literal["auto", "none"] | None = None
    fallback: ActionSubmit | None = None
    id: str | None = None


class ActionOpenUrl(CardModel):
    type: Literal["Action.OpenUrl"] = "Action.OpenUrl"
    title: str
    url: str


class ActionShowCard(CardModel):
    type: Literal["Action.ShowCard"] = "Action.ShowCard"
    title: str
    card: AdaptiveCard


Action = Annotated[
    Union[ActionSubmit, ActionExecute, ActionOpenUrl, ActionShowCard], Field(discriminator="type")
]


class ActionSet(CardModel):
    type: Literal["ActionSet"] = "ActionSet"
    actions: list[Action]
    spacing: str | None = None


class Column(CardModel):
    type: Literal["Column"] = "Column"
    items: list[Element]
    width: str | None = None


class ColumnSet(CardModel):
    type: Literal["ColumnSet"] = "ColumnSet"
    columns: list[Column]
    spacing: str | None = None
    separator: bool | None = None


class Container(CardModel):
    type: Literal["Container"] = "Container"
    items: list[Element]
    style: Literal["default", "emphasis", "good", "attention", "warning", "accent"] | None = None
    spacing: str | None = None
    separator: bool | None = None
    id: str | None = None
    is_visible: bool | None = None
    bleed: bool | None = None


Element = Annotated[
    Union[
        TextBlock,
        FactSet,
        Image,
        InputText,
        InputChoiceSet,
        InputToggle,
        InputDate,
        ActionSet,
        ColumnSet,
        Container,
    ],
    Field(discriminator="type"),
]


class Refresh(CardModel):
    """Teams re-asks the bot for the card for these users (Teams ids `29:...`, at most 60)."""

    action: ActionExecute
    user_ids: list[str] | None = None


class AdaptiveCard(CardModel):
    type: Literal["AdaptiveCard"] = "AdaptiveCard"
    schema_: str = Field(default=CARD_SCHEMA_URL, alias="$schema")
    version: str = CARD_VERSION
    body: list[Element]
    actions: list[Action] | None = None
    refresh: Refresh | None = None
    fallback_text: str | None = None
    msteams: dict[str, Any] | None = None

    def attachment(self) -> dict[str, Any]:
        """The card as a Bot Framework attachment dict."""
        return {"contentType": CARD_CONTENT_TYPE, "content": self.to_dict()}


ActionShowCard.model_rebuild()
Column.model_rebuild()
Container.model_rebuild()
AdaptiveCard.model_rebuild()

MAX_REFRESH_USERS = 60  # Teams ignores refresh.userIds beyond this many


def parse_card(data: dict[str, Any]) -> AdaptiveCard:
    """Parse card JSON back into the typed model (round-trip check)."""
    return AdaptiveCard.model_validate(data)
