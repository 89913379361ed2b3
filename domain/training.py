"""Social media training records (issue 17): who was trained, when, on what.

The policy: SLT are responsible for "Facilitating training and guidance on Social Media use"; staff for "Attending
appropriate training"; and "the SLT must be satisfied that anyone running a social media account on behalf of the
school has read and understood this policy and received appropriate training" (Process for creating new accounts).
SLT (and the Head Teacher) record the training; a business case shows each runner's acknowledgement of the policy
and their training from these records, never from the applicant's word.

Typed as ``training <person> <date> <what>``, e.g. ``training Lee Carter 12/11/2026 National Online Safety:
social media for staff``. The date may be ``2026-11-12``, ``12/11/2026``, ``12 Nov 2026``, ``today`` or
``yesterday``; it cannot be in the future.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MAX_COURSE_CHARS = 200
USAGE = ("Type **training** + the person + the date + what the training was, e.g. **training Lee Carter 12/11/2026 "
         "Online safety: social media for staff**, or type **training** alone for a form.")
_MONTHS = {name: number for number, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")), start=1) for name in names}
_DATE = re.compile(
    r"\b(?P<iso>\d{4}-\d{1,2}-\d{1,2})\b"
    r"|\b(?P<dmy>\d{1,2}/\d{1,2}/\d{2,4})\b"
    r"|\b(?P<words>\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?\s+\d{4})\b"
    r"|\b(?P<rel>today|yesterday)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TrainingRecord:
    """One person's training, as SLT recorded it."""

    aad_object_id: str
    name: str
    trained_on: date
    course: str
    recorded_by_name: str
    recorded_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class TypedTraining:
    """``training <person> <date> <what>`` read into its parts (the person still to be found in the directory)."""

    person: str
    trained_on: date
    course: str


class TrainingProblem(ValueError):
    """What is wrong with typed training, in plain words."""


def parse_date(text: str, today: date) -> date:
    """A date as staff type it (see the module docstring).

    Raises:
        TrainingProblem: not a date, or in the future.
    """
    cleaned = text.strip().lower().rstrip(".")
    try:
        if cleaned == "today":
            day = today
        elif cleaned == "yesterday":
            day = today - timedelta(days=1)
        elif re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", cleaned):
            year, month, dom = (int(part) for part in cleaned.split("-"))
            day = date(year, month, dom)
        elif re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2,4}", cleaned):
            dom, month, year = (int(part) for part in cleaned.split("/"))
            day = date(year + 2000 if year < 100 else year, month, dom)
        else:
            words = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9})\.?\s+(\d{4})", cleaned)
            if words is None or words.group(2) not in _MONTHS:
                raise TrainingProblem(f"I couldn't read {text.strip()!r} as a date: try 12/11/2026.")
            day = date(int(words.group(3)), _MONTHS[words.group(2)], int(words.group(1)))
    except ValueError as problem:
        if isinstance(problem, TrainingProblem):
            raise
        raise TrainingProblem(f"{text.strip()!r} is not a date in the calendar: try 12/11/2026.") from problem
    if day > today:
        raise TrainingProblem("The training date is in the future: record training once it has taken place.")
    return day


def check_course(course: str) -> str:
    """The course or topic, one line of plain text.

    Raises:
        TrainingProblem: empty or too long.
    """
    cleaned = " ".join(course.split())
    if not cleaned:
        raise TrainingProblem("Say what the training was (the course or topic).")
    if len(cleaned) > MAX_COURSE_CHARS:
        raise TrainingProblem(f"What the training was is too long: {len(cleaned)} characters, at most "
                              f"{MAX_COURSE_CHARS}.")
    return cleaned


def parse_typed(argument: str, today: date) -> TypedTraining:
    """``<person> <date> <what>`` (the words after ``training``).

    Raises:
        TrainingProblem: a part is missing or the date cannot be read.
    """
    text = " ".join(argument.split())
    found = _DATE.search(text)
    if found is None:
        raise TrainingProblem(USAGE)
    person = text[:found.start()].strip(" ,:-")
    course = text[found.end():].strip(" ,:-")
    if not person:
        raise TrainingProblem("Say who was trained, before the date. " + USAGE)
    return TypedTraining(person=person, trained_on=parse_date(found.group(0), today), course=check_course(course))


def latest(records: Sequence[TrainingRecord]) -> TrainingRecord | None:
    """The most recent training of a person (by its date, then when it was recorded)."""
    return max(records, key=lambda record: (record.trained_on, record.recorded_at), default=None)
