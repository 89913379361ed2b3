"""``dashboard``: one card of the figures (``domain/dashboard.py`` sections), each drawn as a Teams chart
(``Chart.VerticalBar``, ``Chart.Donut``, ``Chart.Line``) with the same figures as a plain table for clients that
cannot draw charts (the chart's ``fallback``), and a period chooser. Every count has passed the small-number rule;
a hidden count is never drawn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from cards.base import (
    ActionExecute,
    ActionSet,
    ActionSubmit,
    AdaptiveCard,
    BarDatum,
    ChartDonut,
    ChartLine,
    ChartVerticalBar,
    Container,
    DonutDatum,
    Element,
    Fact,
    FactSet,
    LinePoint,
    LineSeries,
    Table,
    TableCell,
    TableColumn,
    TableRow,
    TextBlock,
)
from cards.subject_access import FILE_CONSENT_CONTENT_TYPE
from domain.dashboard import FEWER, PERIOD_TITLES, SUPPRESSION_NOTE, Chart, ChartKind, PeriodChoice, Section

PERIOD_VERB = "dashboard_period"


class PeriodPayload(BaseModel):
    """The period chooser's button: which period to show."""

    model_config = ConfigDict(extra="ignore")

    period: PeriodChoice


def table(rows: Sequence[tuple[str, str]], header: tuple[str, str] = ("", "Count")) -> Table:
    """Two columns (what, how many): the chart's fallback, narrow enough for a phone."""
    def row(left: str, right: str, bold: bool = False) -> TableRow:
        weight = "Bolder" if bold else None
        return TableRow(cells=[TableCell(items=[TextBlock(text=left, wrap=True, weight=weight)]),
                               TableCell(items=[TextBlock(text=right, wrap=True, weight=weight)])])

    return Table(columns=[TableColumn(width=3), TableColumn(width=2)], first_row_as_header=True,
                 rows=[row(*header, bold=True), *(row(a, b) for a, b in rows)])


def chart_element(chart: Chart, fallback: Table) -> Element:
    if chart.kind is ChartKind.DONUT:
        return ChartDonut(title=chart.title, color_set="categorical", fallback=fallback,
                          data=[DonutDatum(legend=f"{label}: {value}", value=value) for label, value in chart.points])
    if chart.kind is ChartKind.LINE:
        return ChartLine(title=chart.title, x_axis_title=chart.x_title or None, y_axis_title=chart.y_title or None,
                         color_set="categorical", fallback=fallback,
                         data=[LineSeries(legend=legend, values=[LinePoint(x=x, y=y) for x, y in points])
                               for legend, points in (chart.series or (("Reports", chart.points),))])
    return ChartVerticalBar(title=chart.title, x_axis_title=chart.x_title or None,
                            y_axis_title=chart.y_title or None, color_set="categorical", show_bar_values=True,
                            fallback=fallback, data=[BarDatum(x=label, y=value) for label, value in chart.points])


def _section(section: Section) -> Container:
    """The section's title, its chart (falling back to the table of the same figures), the figures no chart draws."""
    items: list[Element] = [TextBlock(text=section.title, weight="Bolder", size="Medium", wrap=True)]
    header = ("Month", "Reports") if section.title == "Reports by month" else ("", "Count")
    if section.chart is not None and section.chart.points:
        items.append(chart_element(section.chart, table(section.rows, header)))
        if section.chart.hidden_labels:
            items.append(TextBlock(text="Not drawn (" + FEWER + "): " + ", ".join(section.chart.hidden_labels) + ".",
                                   is_subtle=True, size="Small", wrap=True))
    elif section.rows:
        items.append(FactSet(facts=[Fact(title=a, value=b) for a, b in section.rows]))
    if section.facts:
        items.append(FactSet(facts=[Fact(title=a, value=b) for a, b in section.facts]))
    if section.note:
        items.append(TextBlock(text=section.note, is_subtle=True, size="Small", wrap=True))
    return Container(items=items, separator=True, spacing="Medium")


def _chooser(current: PeriodChoice) -> ActionSet:
    actions = []
    for choice in PeriodChoice:
        title = PERIOD_TITLES[choice] + (" (shown)" if choice is current else "")
        data = {"period": choice.value}
        actions.append(ActionExecute(title=title, verb=PERIOD_VERB, data=data,
                                     fallback=ActionSubmit(title=title, data={**data, "verb": PERIOD_VERB})))
    return ActionSet(actions=actions)


def dashboard_card(sections: Sequence[Section], *, choice: PeriodChoice, period_title: str, as_of: str,
                   viewer_note: str) -> AdaptiveCard:
    body: list[Element] = [
        TextBlock(text="Dashboard", size="Large", weight="Bolder", style="heading", wrap=True),
        TextBlock(text=f"{PERIOD_TITLES[choice]}: {period_title}, to {as_of}", wrap=True),
        _chooser(choice),
        TextBlock(text=viewer_note, is_subtle=True, size="Small", wrap=True),
    ]
    body += [_section(section) for section in sections]
    body.append(TextBlock(text=SUPPRESSION_NOTE, is_subtle=True, size="Small", wrap=True, separator=True))
    return AdaptiveCard(fallback_text=f"Dashboard: {period_title}", body=body)


def governors_consent_card(file_name: str, size: int, report_id: int) -> dict[str, Any]:
    """Teams' file consent card for the governors' report; the report's id comes back in the invoke's context."""
    context = {"governors_report": report_id}
    return {
        "contentType": FILE_CONSENT_CONTENT_TYPE,
        "name": file_name,
        "content": {
            "description": "The termly report to governors (PDF): figures only, no personal data.",
            "sizeInBytes": size,
            "acceptContext": context,
            "declineContext": context,
        },
    }
