"""Staff know the policy (issue 17): its version, its key points, and when to offer them or remind.

The policy asks every member of staff to "Know the contents of and ensure that any use of social media is carried out
in line with this and other relevant policies" (Roles & Responsibilities, Staff). The bot offers the policy's key
points and asks each member of staff to confirm they have read it: when they first use the bot, and again whenever the
school's policy file changes.

- **Version**: a hash of the policy's text, so any change to the file asks everyone again (nothing to configure).
- **Key points**: generated from the policy's own sections, never written here: from each section addressed to staff
  (not pupils' or parents' sections, not the sample's banner), the first sentence that states a duty ("must", "should",
  "under no circumstances", "not permitted", "know the contents"), quoted verbatim with its section's name. A policy
  with no such sentence offers its first sentences instead, still verbatim.
- **Never a gate**: the offer is an extra card beside an answer; nothing waits for the acknowledgement.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

from domain.policy_help import PolicyDocument

MAX_KEY_POINTS = 10
_DUTY = re.compile(r"\b(must|under no circumstances|not permitted|know the contents|never)\b", re.IGNORECASE)
_ADVICE = re.compile(r"\b(should|do not|don't)\b", re.IGNORECASE)
# Sections written for others than staff (the policy's own headings for pupils, parents, letters to parents).
_NOT_FOR_STAFF = re.compile(r"pupil|student|parent|carer|appendix 2|appendix 3|communication to|related policies",
                            re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[A-Z\u201c\"*])|\n+")
_MAX_POINT_CHARS = 400
VERSION_CHARS = 12


@dataclass(frozen=True)
class KeyPoint:
    """One sentence of the policy, verbatim, and the section it comes from."""

    section: str
    text: str


@dataclass(frozen=True)
class PolicyEdition:
    """The policy staff are asked to acknowledge: its version and key points."""

    version: str
    title: str
    key_points: tuple[KeyPoint, ...]
    is_sample: bool = False


def policy_version(text: str) -> str:
    """A short, stable name for this text of the policy (any change of wording is a new version)."""
    normalised = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:VERSION_CHARS]


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def _for_staff(path: tuple[str, ...], text: str) -> bool:
    return not any(_NOT_FOR_STAFF.search(part) for part in path) and not text.lstrip().startswith(">")


def _first_sentence(document: PolicyDocument, path: tuple[str, ...], texts: list[str],
                    pattern: re.Pattern[str], taken: set[str]) -> str | None:
    for text in texts:
        if not _for_staff(path, text):
            continue
        for sentence in _sentences(text):
            if len(sentence) <= _MAX_POINT_CHARS and sentence in document.text and pattern.search(sentence) \
                    and sentence not in taken:
                return sentence
    return None


def key_points(document: PolicyDocument, *, limit: int = MAX_KEY_POINTS) -> tuple[KeyPoint, ...]:
    """The policy's key points for staff, each a verbatim sentence of the policy, at most one per section, in the
    policy's order: a duty ("must", "under no circumstances", ...) from each section that states one, then, if
    fewer than ``limit``, advice ("should", "do not") from the other sections."""
    chosen: dict[int, KeyPoint] = {}
    for pattern in (_DUTY, _ADVICE):
        for number, section in enumerate(document.sections):
            if len(chosen) >= limit:
                break
            if number in chosen:
                continue
            sentence = _first_sentence(document, section.path, [p.text for p in section.passages], pattern,
                                       {point.text for point in chosen.values()})
            if sentence is not None:
                chosen[number] = KeyPoint(section.name, sentence)
    return tuple(chosen[number] for number in sorted(chosen))


def edition_of(document: PolicyDocument) -> PolicyEdition:
    return PolicyEdition(version=policy_version(document.text), title=document.title or "Social Media Policy",
                         key_points=key_points(document), is_sample=document.is_sample)


def should_offer(*, acknowledged: bool, last_offered_on: date | None, today: date) -> bool:
    """Offer the key points to someone who has not acknowledged this version, at most once a school day."""
    return not acknowledged and last_offered_on != today
