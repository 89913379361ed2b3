"""The safeguarding record of a report, as Keeping Children Safe in Education (KCSIE) asks for it.

KCSIE Part 1 (record keeping): "All concerns, discussions and decisions made, and the reasons for those decisions,
should be recorded in writing"; Part 2 and Annex C: records should be clear and accurate, separate fact from opinion,
and the child protection file moves with the child. The school's Social Media Policy says nothing of how a report is
recorded (it names the DSL under "Roles & Responsibilities" and points to the Child Protection & Safeguarding
Policy): the rules below come from KCSIE.

Plain Python: what the record holds and the rules on changing it.

- **The reporter's account is kept verbatim** (``what_happened``, the child's own words, the reporter's view): never
  edited after it is sent; later additions are notes. The database refuses any UPDATE of them (migration
  ``0012_kcsie_record``), except the retention schedule's anonymisation inside its own unlocked transaction.
- **Every decision has its reason**: a decision, an escalation or referral, and closing, "no further action"
  included (``require_reason``).
- **Referrals** (an escalation to an outside agency: children's social care / MASH, the LADO, the police,
  Prevent / Channel, Early Help, the ICO) with the date made and the agency's reference; their **outcomes** are
  appended later and never overwrite anything (``referrals`` reads them back from the chronology).
- **Pupils are added, never replaced**: a pupil the report turns out to concern is appended later by whoever may add
  notes to it (``pupil_to_add``), with who and when; nobody's name is changed or removed.
- **Transfer**: the record exported (a PDF) and put into the school's safeguarding system (CPOMS, MyConcern ...),
  with that system's reference (``Transfer``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from domain.incidents import AGENCY_TITLES, MAX_PUPIL_NAME, MAX_PUPILS, Agency, EventKind, IncidentError

MAX_DECISION = 300
MAX_REASON = 1500
MAX_REFERRAL_OUTCOME = 1500
MAX_SYSTEM = 60
MAX_SYSTEM_REFERENCE = 100
SAFEGUARDING_SYSTEMS: tuple[str, ...] = ("CPOMS", "MyConcern", "Safeguard (Edukey)", "The school's paper file")

KCSIE_RECORD_KEEPING = ("KCSIE Part 1: \"All concerns, discussions and decisions made, and the reasons for those "
                        "decisions, should be recorded in writing.\"")


class RecordError(IncidentError):
    """A change to the record the rules refuse; ``str()`` is fit to show the person who asked."""


def require_reason(reason: str, decision: str) -> str:
    """The reason given for ``decision``, tidied.

    Raises:
        RecordError: no reason was given (KCSIE: decisions are recorded with their reasons, "no further action" too).
    """
    text = (reason or "").replace("\r\n", "\n").strip()
    if not text:
        raise RecordError(f"Give the reason for {decision}: every decision is recorded with its reason (KCSIE). "
                          "Nothing was changed.")
    return text


def pupil_to_add(name: str, linked: Iterable[str]) -> str:
    """The name of a pupil to append to a report's record (spaces tidied).

    Raises:
        RecordError: no name, a name too long, a pupil already linked (case and spaces aside), or the record already
            names as many pupils as a report may.
    """
    tidy = " ".join((name or "").split())
    if not tidy:
        raise RecordError("Give the pupil's name. Nothing was changed.")
    if len(tidy) > MAX_PUPIL_NAME:
        raise RecordError(f"A pupil's name is at most {MAX_PUPIL_NAME} characters. Nothing was changed.")
    names = {" ".join(other.split()).lower(): other for other in linked}
    if tidy.lower() in names:
        raise RecordError(f"{names[tidy.lower()]} is already on this report's record. Nothing was changed.")
    if len(names) >= MAX_PUPILS:
        raise RecordError(f"This report already names {MAX_PUPILS} pupils, the most one report may. Nothing was "
                          "changed.")
    return tidy


def referral_date(value: str | date | None, today: date) -> date:
    """The day a referral was made: as given (never in the future), or today.

    Raises:
        RecordError: not a date, or after today.
    """
    if value in (None, ""):
        return today
    try:
        made = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    except ValueError:
        raise RecordError("The referral date is not a date. Nothing was changed.") from None
    if made > today:
        raise RecordError(f"The referral date ({made:%a %d %b %Y}) is in the future. Nothing was changed.")
    return made


class Entry(Protocol):
    """A chronology entry as the store gives it back (``store.incidents.Event``)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor_name(self) -> str: ...
    @property
    def why(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ReferralOutcome:
    at: datetime
    by: str
    outcome: str


@dataclass(frozen=True)
class Referral:
    """A referral or escalation to an outside agency, with every outcome recorded after it (oldest first)."""

    entry_id: int
    agency: Agency | None
    made_on: date | None
    reference: str
    reason: str
    by: str
    at: datetime
    outcomes: tuple[ReferralOutcome, ...] = ()

    @property
    def agency_title(self) -> str:
        return AGENCY_TITLES[self.agency] if self.agency else "An outside agency"

    @property
    def label(self) -> str:
        made = self.made_on.strftime("%d %b %Y") if self.made_on else self.at.strftime("%d %b %Y")
        return f"{self.agency_title}, {made}" + (f" (ref {self.reference})" if self.reference else "")


def _agency(value: object) -> Agency | None:
    try:
        return Agency(str(value))
    except ValueError:
        return None


def _made_on(data: Mapping[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(data["made_on"]))
    except (KeyError, ValueError):
        return None


def referrals(entries: Iterable[Entry]) -> list[Referral]:
    """The report's referrals (its ESCALATED entries) with the outcomes appended to each, in the order made."""
    found: dict[int, Referral] = {}
    outcomes: dict[int, list[ReferralOutcome]] = {}
    for entry in entries:
        if entry.kind is EventKind.ESCALATED:
            found[entry.id] = Referral(
                entry_id=entry.id, agency=_agency(entry.data.get("agency")), made_on=_made_on(entry.data),
                reference=str(entry.data.get("external_reference") or ""), reason=entry.why or "",
                by=entry.actor_name, at=entry.at)
        elif entry.kind is EventKind.REFERRAL_OUTCOME:
            referral_id = entry.data.get("referral")
            if isinstance(referral_id, int):
                outcomes.setdefault(referral_id, []).append(ReferralOutcome(entry.at, entry.actor_name,
                                                                            entry.why or ""))
    return [Referral(**{**r.__dict__, "outcomes": tuple(outcomes.get(r.entry_id, ()))}) for r in found.values()]


@dataclass(frozen=True)
class Transfer:
    """The record put into the school's safeguarding system."""

    system: str
    reference: str
    by: str
    at: datetime

    @property
    def label(self) -> str:
        return f"{self.system}, reference {self.reference}" if self.reference else self.system


def transfers(entries: Iterable[Entry]) -> list[Transfer]:
    """Every transfer recorded (the last is the one in force), oldest first."""
    return [Transfer(str(e.data.get("system") or ""), str(e.data.get("reference") or ""), e.actor_name, e.at)
            for e in entries if e.kind is EventKind.TRANSFERRED]


@dataclass(frozen=True)
class Statement:
    """What the reporter said besides the facts: the child's own words (verbatim) and their own view."""

    child_words: str = ""
    opinion: str = ""


@dataclass(frozen=True)
class LinkedPupil:
    name: str
    added_at: datetime
    added_by: str


@dataclass(frozen=True)
class RecordExtras:
    """The safeguarding record's parts kept beside a report (``store/safeguarding_record.py``)."""

    statement: Statement = field(default_factory=Statement)
    pupils: tuple[LinkedPupil, ...] = ()
    transfer: Transfer | None = None
    referrals: tuple[Referral, ...] = ()
