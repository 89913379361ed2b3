"""A media enquiry (issue 15, gap 7): its own short form, never the abuse form.

The policy's rule, quoted verbatim on the form and on the receipt (``POLICY_QUOTE``, section Behaviour): staff who
receive a media enquiry inform SLT and do not respond directly. So the form asks only what SLT need to answer it:
who is asking, their organisation, how to reach them, their deadline and what it is about. Nothing about blocking,
deleting or screenshots: those are for abuse.

The enquirer's name and contact details are personal data (UK GDPR): kept in their own table with the report
(``store/media_enquiries.py``), shown only to the people who handle the report, gathered by a subject access export,
and removed with the report (``domain/retention.py``, ``incident_media_enquiries``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time

from domain.incidents import MAX_WHAT_HAPPENED, IncidentError

POLICY_SECTION = "Behaviour"
POLICY_QUOTE = ("If a media enquiry is received about posts made using social media staff must inform SLT and not "
                "respond directly.")
INSTRUCTION = "Do not respond to the enquiry yourself: SLT will."  # the category's guidance, word for word

MAX_ENQUIRER = 200
MAX_ORGANISATION = 200
MAX_CONTACT = 200
MAX_ABOUT = MAX_WHAT_HAPPENED

FIELDS = ("enquirer", "organisation", "contact", "deadline_date", "deadline_time", "about")
_LIMITS = {"enquirer": MAX_ENQUIRER, "organisation": MAX_ORGANISATION, "contact": MAX_CONTACT, "about": MAX_ABOUT}
_LABELS = {"enquirer": "Who is asking", "organisation": "Their organisation", "contact": "How to reach them",
           "about": "What it is about"}

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PHONE = re.compile(r"\+?[\d(][\d\s().-]{5,}\d")
_MIN_PHONE_DIGITS = 6
_TIME = re.compile(r"^(\d{1,2})(?:[:.]([0-5]\d))?(?::[0-5]\d)?\s*(am|pm|a\.m\.|p\.m\.)?$", re.IGNORECASE)


class MediaEnquiryProblem(IncidentError):
    """What is missing or wrong in a media enquiry form: ``str()`` says it to the reporter; ``field`` names the
    input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class MediaEnquiry:
    """A media enquiry as the reporter gave it, checked. The deadline is in the school's time zone as they typed it."""

    enquirer: str
    organisation: str
    contact: str
    deadline_date: date | None
    deadline_time: time | None
    about: str

    def deadline_text(self) -> str:
        """``Tue 24 Nov 2026, 17:00`` (or the date alone), or "None given"."""
        return deadline_text(self.deadline_date, self.deadline_time)


def deadline_text(day: date | None, at: time | None) -> str:
    if day is None:
        return "None given"
    text = day.strftime("%a %d %b %Y")
    return f"{text}, {at.strftime('%H:%M')}" if at is not None else text


def _clean(value: object) -> str:
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


def _looks_like_contact(text: str) -> bool:
    """A phone number (six digits or more) or an email address somewhere in the text: loose on purpose (people write
    "ring the newsdesk on 01632 960 123 after 2pm"); kept as text, never dialled or mailed by the bot."""
    if _EMAIL.search(text):
        return True
    return any(sum(ch.isdigit() for ch in match.group()) >= _MIN_PHONE_DIGITS for match in _PHONE.finditer(text))


def _read_time(text: str) -> time | None:
    """"17:00", "17.30", "5pm", "5:30 pm"; None when it is not a time of day."""
    match = _TIME.match(text.strip())
    if match is None:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    elif match.group(2) is None or hour > 23:
        return None  # a bare number is not a time
    return time(hour, minute)


def read_media_enquiry(fields: Mapping[str, object], today: date) -> MediaEnquiry:
    """The enquiry from the form's inputs, checked.

    Who is asking and what it is about are needed; contact details, when given, must hold a phone number or an email
    address; the deadline may be today, never a day already past (a time alone is today's).

    Raises:
        MediaEnquiryProblem: the first problem, saying what to do.
    """
    values = {name: _clean(fields.get(name)) for name in FIELDS}
    for name, limit in _LIMITS.items():
        if len(values[name]) > limit:
            raise MediaEnquiryProblem(name, f"{_LABELS[name]} is too long: at most {limit} characters, "
                                            f"{len(values[name])} given. Shorten it and send again.")
    if not values["enquirer"]:
        raise MediaEnquiryProblem("enquirer", "Say who is asking (their name, or how they introduced themselves).")
    if not values["about"]:
        raise MediaEnquiryProblem("about", "Say what the enquiry is about: what they asked, about which post.")
    if values["contact"] and not _looks_like_contact(values["contact"]):
        raise MediaEnquiryProblem("contact", "Give a phone number or an email address to reach them (or leave it "
                                             "empty).")
    deadline_day: date | None = None
    if values["deadline_date"]:
        try:
            deadline_day = date.fromisoformat(values["deadline_date"][:10])
        except ValueError:
            raise MediaEnquiryProblem("deadline_date", "The deadline's date is not a date.") from None
        if deadline_day < today:
            raise MediaEnquiryProblem("deadline_date", f"The deadline you gave ({deadline_day.strftime('%a %d %b %Y')})"
                                                       f" has passed: today is {today.strftime('%a %d %b %Y')}. Give "
                                                       "the date they asked for (it may be today), or leave it empty.")
    deadline_at: time | None = None
    if values["deadline_time"]:
        deadline_at = _read_time(values["deadline_time"])
        if deadline_at is None:
            raise MediaEnquiryProblem("deadline_time", "The deadline's time is not a time (e.g. 17:00 or 5pm).")
        deadline_day = deadline_day or today
    return MediaEnquiry(values["enquirer"], values["organisation"], values["contact"], deadline_day, deadline_at,
                        values["about"])

