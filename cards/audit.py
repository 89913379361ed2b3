"""The audit trail in Teams: ``audit <reference or person>``, for the DPO and the Head Teacher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cards.base import AdaptiveCard, Element, Fact, FactSet, TextBlock, escape_markdown
from domain.audit import AuditOutcome, RecordType
from domain.calendar import SchoolCalendar

OUTCOME_TITLES: dict[AuditOutcome, str] = {
    AuditOutcome.REFUSED: "refused",
    AuditOutcome.VIEWED: "viewed",
    AuditOutcome.EXPORTED: "exported",
}

RECORD_TITLES: dict[RecordType, str] = {
    RecordType.NONE: "",
    RecordType.APPROVAL_REQUEST: "request",
    RecordType.INCIDENT: "report",
    RecordType.CONSENT_RECORD: "pupil's consent record",
    RecordType.CONSENT_REGISTER: "consent register",
    RecordType.ACCOUNT: "account",
    RecordType.DELEGATION: "delegation",
    RecordType.AUDIT_TRAIL: "audit trail",
    RecordType.SETTINGS: "settings",
}


@dataclass(frozen=True)
class AuditLine:
    """One entry as the card shows it: the record by the reference people know, when the bot can say it."""

    at: datetime
    who: str  # the actor's name, else their Entra object id, else "unknown sender"
    action: str
    outcome: AuditOutcome
    record_type: RecordType
    record: str | None  # reference or id
    reason: str | None


def _words(code: str) -> str:
    return code.replace("_", " ")


def _line(entry: AuditLine) -> str:
    what = f"{OUTCOME_TITLES.get(entry.outcome, _words(entry.outcome.value))} {_words(entry.action)}"
    if entry.record is not None:
        kind = RECORD_TITLES.get(entry.record_type, _words(entry.record_type.value))
        what += f" ({kind} {entry.record})" if kind else f" ({entry.record})"
    if entry.reason:
        what += f": {_words(entry.reason)}"
    return f"{entry.who}, {what}"


def audit_trail_card(subject: str, entries: Sequence[AuditLine], *, calendar: SchoolCalendar,
                     limit: int) -> AdaptiveCard:
    """The most recent entries about a record or by a person, newest first.

    Args:
        subject: what was asked for, as the card names it (a reference, or a person's name).
        limit: how many entries are shown at most (the card says when there may be more).
    """
    body: list[Element] = [
        TextBlock(text=f"Audit trail: {escape_markdown(subject, one_line=True)}", weight="Bolder", size="Medium"),
    ]
    if not entries:
        body.append(TextBlock(text="Nothing is recorded about this: no refusals and no views of restricted detail.",
                              is_subtle=True))
        return AdaptiveCard(fallback_text="Audit trail", body=body)
    more = " (the most recent; there may be older ones)" if len(entries) >= limit else ""
    body.append(TextBlock(text=f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, newest first{more}. "
                               "Refusals changed nothing; views showed restricted detail to someone allowed to see it.",
                          is_subtle=True))
    body.append(FactSet(facts=[
        Fact(title=calendar.card_time(entry.at), value=escape_markdown(_line(entry), one_line=True))
        for entry in entries
    ]))
    body.append(TextBlock(text="This look at the trail is recorded in it too.", is_subtle=True, size="Small"))
    return AdaptiveCard(fallback_text="Audit trail", body=body)
