"""Cards of the retention schedule: the DPO's preview and run report, the DSL's review notice, legal holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cards.base import AdaptiveCard, Container, Element, Fact, FactSet, TextBlock, escape_markdown
from domain.calendar import SchoolCalendar
from domain.retention import (
    DEFAULT_RULES,
    Disposal,
    LegalHold,
    PlannedItem,
    RecordKind,
    RetentionPlan,
    RetentionSchedule,
)

_MAX_REFERENCES_SHOWN = 12  # per kind; the rest are counted
_TITLES = {rule.kind: rule.title for rule in DEFAULT_RULES}
_VERBS = {Disposal.DELETE: "delete", Disposal.ANONYMISE: "anonymise", Disposal.FLAG: "flag for review"}
_DONE = {Disposal.DELETE: "Deleted", Disposal.ANONYMISE: "Anonymised", Disposal.FLAG: "Flagged for review"}

HOLD_MARKER = "On legal hold: nothing in this record is removed until the hold is released."


def hold_marker() -> Container:
    """The marker every view of a held record shows (incident and approval detail cards)."""
    return Container(style="warning", items=[TextBlock(text=f"**{HOLD_MARKER}**", wrap=True, size="Small")])


def _day(moment: datetime | None, calendar: SchoolCalendar) -> str:
    return "" if moment is None else calendar.local(moment).strftime("%d %b %Y")


def _lines(items: Sequence[PlannedItem], calendar: SchoolCalendar) -> list[Element]:
    body: list[Element] = []
    by_kind: dict[tuple[RecordKind, Disposal], list[PlannedItem]] = {}
    for item in items:
        by_kind.setdefault((item.kind, item.disposal), []).append(item)
    for (kind, disposal), group in by_kind.items():
        count = sum(item.count for item in group)
        body.append(TextBlock(text=f"**{escape_markdown(_TITLES[kind])}**: {_VERBS[disposal]} {count}", wrap=True,
                              spacing="Medium"))
        refs = [f"{item.reference} ({_day(item.last_at, calendar)})" for item in group if item.reference]
        if refs:
            shown = refs[:_MAX_REFERENCES_SHOWN]
            more = f" and {len(refs) - len(shown)} more" if len(refs) > len(shown) else ""
            body.append(TextBlock(text=escape_markdown(", ".join(shown)) + more, wrap=True, size="Small",
                                  is_subtle=True, spacing="None"))
    return body


def _held(plan: RetentionPlan) -> list[Element]:
    if not plan.held:
        return []
    refs = sorted({item.reference for item in plan.held if item.reference})
    rows = sum(item.count for item in plan.held if not item.reference)
    text = ", ".join(refs[:_MAX_REFERENCES_SHOWN])
    if rows:
        text = (text + "; " if text else "") + f"{rows} other entries about a held record or person"
    return [TextBlock(text=f"**Kept because of a legal hold**: {escape_markdown(text)}", wrap=True,
                      spacing="Medium")]


def _counts(plan: RetentionPlan) -> FactSet:
    counts = plan.counts()
    return FactSet(facts=[
        Fact(title="Delete", value=str(counts["delete"])),
        Fact(title="Anonymise", value=str(counts["anonymise"])),
        Fact(title="Flag for review", value=str(counts["flag"])),
        Fact(title="Kept (legal hold)", value=str(counts["held"])),
    ])


def preview_card(plan: RetentionPlan, *, calendar: SchoolCalendar) -> AdaptiveCard:
    """``retention preview``: what the next run will do, kind by kind, with the references."""
    body: list[Element] = [
        TextBlock(text="Retention: what the next run will do", weight="Bolder", size="Medium", wrap=True),
        _counts(plan),
    ]
    if plan.is_empty:
        body.append(TextBlock(text="Nothing has passed its retention period.", wrap=True))
    body += _lines(plan.items, calendar)
    body += _held(plan)
    if plan.more_to_do:
        body.append(TextBlock(text="More records are due than one run takes: the following runs continue.",
                              wrap=True, is_subtle=True))
    body.append(TextBlock(
        text="Deleted and anonymised records leave a tombstone (reference, kind, dates, why). Safeguarding reports "
        "and allegations are never deleted by the bot: they are flagged for review. Records on legal hold are kept.",
        wrap=True, size="Small", is_subtle=True, spacing="Medium"))
    return AdaptiveCard(fallback_text="Retention preview", body=body)


def run_report_card(plan: RetentionPlan, *, run_id: int, when: datetime, calendar: SchoolCalendar) -> AdaptiveCard:
    """What a run did, for the DPO's personal chat."""
    counts = plan.counts()
    body: list[Element] = [
        TextBlock(text=f"Retention run {run_id}: done", weight="Bolder", size="Medium", wrap=True),
        TextBlock(text=f"{calendar.local(when).strftime('%a %d %b %Y %H:%M')}", is_subtle=True, spacing="None"),
        FactSet(facts=[
            Fact(title=_DONE[Disposal.DELETE], value=str(counts["delete"])),
            Fact(title=_DONE[Disposal.ANONYMISE], value=str(counts["anonymise"])),
            Fact(title=_DONE[Disposal.FLAG], value=str(counts["flag"])),
            Fact(title="Kept (legal hold)", value=str(counts["held"])),
        ]),
    ]
    body += _lines(plan.items, calendar)
    body += _held(plan)
    return AdaptiveCard(fallback_text=f"Retention run {run_id}", body=body)


def review_card(items: Sequence[PlannedItem], *, calendar: SchoolCalendar) -> AdaptiveCard:
    """To the DSL (or whoever handles the category): reports flagged for transfer and review, never deleted."""
    body: list[Element] = [
        TextBlock(text="Records to transfer and review", weight="Bolder", size="Medium", wrap=True),
        TextBlock(text="These reports have reached the point where the retention schedule would act, but the law "
                  "keeps them: safeguarding concerns until the child's date of birth + 25 years (IRMS toolkit), "
                  "allegations about staff until pension age or 10 years, whichever is longer (KCSIE). Please "
                  "transfer each to the child's child protection file or the allegations record and review it. "
                  "The bot will not delete them.", wrap=True),
        FactSet(facts=[Fact(title=item.reference or "", value=f"{_TITLES[item.kind]} · closed "
                            f"{_day(item.last_at, calendar)}") for item in items]),
    ]
    return AdaptiveCard(fallback_text="Records to transfer and review", body=body)


def holds_card(holds: Sequence[LegalHold], *, calendar: SchoolCalendar) -> AdaptiveCard:
    """``legal holds``: every hold in force."""
    body: list[Element] = [TextBlock(text="Legal holds in force", weight="Bolder", size="Medium")]
    if not holds:
        body.append(TextBlock(text="None.", wrap=True))
    for hold in holds:
        body.append(FactSet(facts=[
            Fact(title="On", value=escape_markdown(hold.label, one_line=True)
                 + ("" if hold.kind.value != "person" else " (person)")),
            Fact(title="Why", value=escape_markdown(hold.reason)),
            Fact(title="Placed",
                 value=f"{escape_markdown(hold.placed_by_name, one_line=True)}, {_day(hold.placed_at, calendar)}"),
        ]))
    return AdaptiveCard(fallback_text="Legal holds", body=body)


def schedule_lines(schedule: RetentionSchedule) -> list[tuple[str, str]]:
    """(kind, period and action) for every rule: the schedule as the preview's footnote or docs show it."""
    return [(rule.kind.value, f"{rule.period or '-'} after {rule.starts}: {rule.disposal.value}")
            for rule in schedule.listed()]
