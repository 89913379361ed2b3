"""Typed Adaptive Card elements (schema 1.5, the highest Teams renders).

One function per card elsewhere in `cards/` builds a tree of these models; `card.to_dict()` gives the
JSON Teams receives. User text goes in as data (never by substitution into JSON text) and through
`escape_markdown` first (`cards/text.py`: hidden characters made visible, links broken, Markdown escaped), because
Teams renders every TextBlock and Fact as Markdown and links bare web addresses.

The models hold the same line for the bot's own text, so a card that forgets cannot show a live address or a
hidden character: every Markdown field (`MarkdownText`: TextBlock text, Fact title and value) and every plain text
field shown to a person (`PlainText`: choices, labels, button titles, alt text, the fallback text, on one line;
`PlainLines`: placeholders) is made inert when the model is built, and an input's value (`InputValue`) has its
hidden characters made visible.
The one live link a card may hold is an `Action.OpenUrl`, and only to an http or https address (`live_link`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# escape_markdown: the one function user text goes through before it enters a card (cards/text.py).
from cards.text import escape_markdown as escape_markdown
from cards.text import inert_markdown, inert_plain, live_link, visible_controls

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"  # the highest version Teams renders; Action.Execute needs 1.4+


def _only_live_link(url: str) -> str:
    if live_link(url) != url:
        raise ValueError("an Action.OpenUrl opens only an http or https address with nothing hidden in it")
    return url


def _inert_plain_line(text: str) -> str:
    return inert_plain(text, one_line=True)


MarkdownText = Annotated[str, AfterValidator(inert_markdown)]
PlainText = Annotated[str, AfterValidator(_inert_plain_line)]  # one line: a choice, label, button, fallback text
PlainLines = Annotated[str, AfterValidator(inert_plain)]  # a placeholder may show several lines
InputValue = Annotated[str, AfterValidator(visible_controls)]
LinkUrl = Annotated[str, AfterValidator(_only_live_link)]


class CardModel(BaseModel):
    """Base of every card element: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --- Elements -----------------------------------------------------------------------------------


# Text colours that meet WCAG AA contrast (4.5:1) in Teams' light, dark and high-contrast themes, against every
# container style, measured on Teams' own host config (tests/cards/test_contrast.py,
# tests/data/teams_host_colours.json):
# "Good" (#92c353) on white is 2.1:1, "Warning" (#f8d22a) 1.5:1, "Attention" on the dark theme's grey 3.2:1, "Accent"
# and "Attention" on the coloured containers of the dark theme below 3:1; only the default colour passes everywhere.
# A colour a card asks for is therefore drawn as the default: a card says what it means in words and marks
# (✔ ✖ ⚠️), never in colour alone (WCAG 1.4.1), and a coloured container may still frame it.
AA_TEXT_COLOURS = frozenset({"Default"})
TextColour = Literal["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"]


def _aa_text_colour(colour: TextColour | None) -> TextColour | None:
    return colour if colour in AA_TEXT_COLOURS else None


class TextBlock(CardModel):
    type: Literal["TextBlock"] = "TextBlock"
    text: MarkdownText
    wrap: bool = True
    size: Literal["Small", "Default", "Medium", "Large", "ExtraLarge"] | None = None
    weight: Literal["Lighter", "Default", "Bolder"] | None = None
    color: Annotated[TextColour | None, AfterValidator(_aa_text_colour)] = None  # see AA_TEXT_COLOURS
    is_subtle: bool | None = None
    spacing: Literal["None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"] | None = None
    separator: bool | None = None
    style: Literal["default", "heading"] | None = None
    id: str | None = None
    is_visible: bool | None = None


class Fact(CardModel):
    title: MarkdownText
    value: MarkdownText


class FactSet(CardModel):
    type: Literal["FactSet"] = "FactSet"
    facts: list[Fact]
    spacing: str | None = None
    separator: bool | None = None


class Image(CardModel):
    type: Literal["Image"] = "Image"
    url: str
    alt_text: PlainText
    size: Literal["Auto", "Stretch", "Small", "Medium", "Large"] | None = None


class Choice(CardModel):
    title: PlainText
    value: str


class InputText(CardModel):
    type: Literal["Input.Text"] = "Input.Text"
    id: str
    label: PlainText | None = None
    placeholder: PlainLines | None = None
    value: InputValue | None = None
    is_multiline: bool | None = None
    max_length: int | None = None
    is_required: bool | None = None
    error_message: PlainText | None = None
    regex: str | None = None
    style: Literal["text", "tel", "url", "email", "password"] | None = None


class InputChoiceSet(CardModel):
    type: Literal["Input.ChoiceSet"] = "Input.ChoiceSet"
    id: str
    choices: list[Choice]
    label: PlainText | None = None
    value: str | None = None
    style: Literal["compact", "expanded", "filtered"] | None = None
    is_multi_select: bool | None = None
    is_required: bool | None = None
    error_message: PlainText | None = None
    placeholder: PlainText | None = None
    choices_data: dict[str, Any] | None = Field(default=None, alias="choices.data")


class InputToggle(CardModel):
    type: Literal["Input.Toggle"] = "Input.Toggle"
    id: str
    title: PlainText
    label: PlainText | None = None
    value: str | None = None
    value_on: str = "true"
    value_off: str = "false"
    is_required: bool | None = None
    error_message: PlainText | None = None


class InputDate(CardModel):
    type: Literal["Input.Date"] = "Input.Date"
    id: str
    label: PlainText | None = None
    value: str | None = None
    is_required: bool | None = None
    error_message: PlainText | None = None


# --- Actions ------------------------------------------------------------------------------------


class ActionSubmit(CardModel):
    type: Literal["Action.Submit"] = "Action.Submit"
    title: PlainText
    data: dict[str, Any] | None = None
    style: Literal["default", "positive", "destructive"] | None = None
    associated_inputs: Literal["auto", "none"] | None = None
    id: str | None = None


class ActionExecute(CardModel):
    """A Universal Action: Teams sends an `adaptiveCard/action` invoke with `verb` and `data`."""

    type: Literal["Action.Execute"] = "Action.Execute"
    title: PlainText
    verb: str
    data: dict[str, Any] | None = None
    style: Literal["default", "positive", "destructive"] | None = None
    associated_inputs: Literal["auto", "none"] | None = None
    fallback: ActionSubmit | None = None
    id: str | None = None

    @classmethod
    def with_fallback(cls, title: str, verb: str, data: Mapping[str, Any], *,
                      style: str | None = None, associated_inputs: str | None = None) -> ActionExecute:
        """The button every card uses: a Universal Action with the same Action.Submit (carrying the verb in its data)
        for clients without Universal Actions."""
        return cls(title=title, verb=verb, data=dict(data), style=style, associated_inputs=associated_inputs,
                   fallback=ActionSubmit(title=title, data={"verb": verb, **data}, style=style,
                                         associated_inputs=associated_inputs))


class ActionOpenUrl(CardModel):
    type: Literal["Action.OpenUrl"] = "Action.OpenUrl"
    title: PlainText
    url: LinkUrl


class ActionShowCard(CardModel):
    type: Literal["Action.ShowCard"] = "Action.ShowCard"
    title: PlainText
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


class TableCell(CardModel):
    type: Literal["TableCell"] = "TableCell"
    items: list[Element]


class TableRow(CardModel):
    type: Literal["TableRow"] = "TableRow"
    cells: list[TableCell]
    style: Literal["default", "emphasis", "accent"] | None = None


class TableColumn(CardModel):
    width: int


class Table(CardModel):
    """A table (card 1.5): the plain fallback of every chart, and what a client without charts shows."""

    type: Literal["Table"] = "Table"
    columns: list[TableColumn]
    rows: list[TableRow]
    first_row_as_header: bool | None = None
    show_grid_lines: bool | None = None
    spacing: str | None = None


# --- Charts (Teams: Chart.VerticalBar, Chart.Donut, Chart.Line). A client that cannot draw them shows the fallback,
# which is required here: the table of the same figures. -----------------------------------------------------------


class BarDatum(CardModel):
    x: PlainText
    y: int


class ChartVerticalBar(CardModel):
    type: Literal["Chart.VerticalBar"] = "Chart.VerticalBar"
    title: PlainText | None = None
    x_axis_title: PlainText | None = None
    y_axis_title: PlainText | None = None
    color_set: Literal["categorical", "sequential", "diverging"] | None = None
    show_bar_values: bool | None = None
    data: list[BarDatum]
    fallback: Table


class DonutDatum(CardModel):
    legend: PlainText
    value: int


class ChartDonut(CardModel):
    type: Literal["Chart.Donut"] = "Chart.Donut"
    title: PlainText | None = None
    color_set: Literal["categorical", "sequential", "diverging"] | None = None
    data: list[DonutDatum]
    fallback: Table


class LinePoint(CardModel):
    x: PlainText
    y: int


class LineSeries(CardModel):
    legend: PlainText
    values: list[LinePoint]


class ChartLine(CardModel):
    type: Literal["Chart.Line"] = "Chart.Line"
    title: PlainText | None = None
    x_axis_title: PlainText | None = None
    y_axis_title: PlainText | None = None
    color_set: Literal["categorical", "sequential", "diverging"] | None = None
    data: list[LineSeries]
    fallback: Table


CHART_TYPES = frozenset({"Chart.VerticalBar", "Chart.Donut", "Chart.Line"})

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
        Table,
        ChartVerticalBar,
        ChartDonut,
        ChartLine,
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
    fallback_text: PlainText | None = None
    msteams: dict[str, Any] | None = None

    def attachment(self) -> dict[str, Any]:
        """The card as a Bot Framework attachment dict."""
        return {"contentType": CARD_CONTENT_TYPE, "content": self.to_dict()}


ActionShowCard.model_rebuild()
Column.model_rebuild()
Container.model_rebuild()
TableCell.model_rebuild()
AdaptiveCard.model_rebuild()

MAX_REFRESH_USERS = 60  # Teams ignores refresh.userIds beyond this many


def parse_card(data: dict[str, Any]) -> AdaptiveCard:
    """Parse card JSON back into the typed model (round-trip check)."""
    return AdaptiveCard.model_validate(data)
