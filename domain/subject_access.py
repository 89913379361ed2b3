"""Subject access (UK GDPR Art. 15): who a request is about, which records name them, and who else they name.

A person is found in a record by their Entra object id (any field, case-insensitive, whole id), by a pupil id
in the consent register's pupil-id fields, or by one of their names in any text: names are compared after
folding case and accents (``Zoë`` matches ``zoe``), as whole words, with any run of spaces between the parts.
The names come from the directory (the role holders, the static staff file), the consent register (a pupil's
first or preferred first name + surname) and the personal chats the bot knows, not only from what was typed.

Other people's data in a record the export includes is listed for the DPO's redaction review: every other
Entra object id, and every other known name found in the record's text (``third_parties``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

EXPORT_LIFETIME = timedelta(hours=24)  # an export not accepted by then is removed (the retention run, too)
MIN_NAME_LENGTH = 3  # a shorter name would match inside unrelated records

_GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
PUPIL_ID_FIELDS = frozenset({"pupil_id", "pupil_ids"})


class SubjectAccessError(ValueError):
    """What was typed cannot start a subject access export; the message says why."""


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` (letters keep their positions' order, marks removed)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One whole-word pattern for ``names`` (folded), longest first; None when there is no usable name."""
    usable = sorted({" ".join(fold(n).split()) for n in names if len(" ".join(n.split())) >= MIN_NAME_LENGTH},
                    key=len, reverse=True)
    if not usable:
        return None
    parts = "|".join(words_pattern(name) for name in usable)
    return re.compile(rf"(?<!\w)(?:{parts})(?!\w)")


def words_pattern(text: str) -> str:
    """``text``'s words, escaped, with any run of white space between them."""
    return r"\s+".join(re.escape(word) for word in text.split())


def object_ids_in(text: str) -> set[str]:
    return {match.lower() for match in _GUID.findall(text)}


@dataclass(frozen=True)
class Subject:
    """Who the request is about: every name, Entra object id and pupil id they are known by."""

    label: str
    aad_ids: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    pupil_ids: frozenset[str] = frozenset()
    _names: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "aad_ids", frozenset(a.lower() for a in self.aad_ids))
        object.__setattr__(self, "_names", name_pattern(self.names))

    @property
    def found(self) -> bool:
        return bool(self.aad_ids or self.pupil_ids or self._names is not None)

    def appears_in(self, fields: Mapping[str, Any]) -> bool:
        """Whether a record (its fields by name) names this person."""
        for name, value in fields.items():
            if value is None:
                continue
            if name in PUPIL_ID_FIELDS and self.pupil_ids:
                values = value if isinstance(value, list) else [value]
                if any(str(v) in self.pupil_ids for v in values):
                    return True
            text = flatten(value)
            if self.aad_ids and not self.aad_ids.isdisjoint(object_ids_in(text)):
                return True
            if self._names is not None and self._names.search(fold(text)):
                return True
        return False


def flatten(value: Any) -> str:
    """A field's text: JSON values joined (keys too: a payload's keys are not personal data, values may be)."""
    if isinstance(value, Mapping):
        return " \n".join(f"{k}: {flatten(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " \n".join(flatten(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class KnownPerson:
    """Someone the bot could name: for the redaction review of another person's export."""

    name: str
    aad_id: str | None = None
    pupil_id: str | None = None


@dataclass(frozen=True)
class ThirdParty:
    """Another person's data found in an exported record."""

    kind: str  # "name" | "aad_id" | "pupil_id"
    value: str
    field: str


def third_parties(fields: Mapping[str, Any], subject: Subject, others: Iterable[KnownPerson]) -> list[ThirdParty]:
    """Every other person's name, Entra object id or pupil id in a record's fields (sorted, distinct)."""
    found: set[ThirdParty] = set()
    other_names = [p for p in others if not (p.aad_id and p.aad_id.lower() in subject.aad_ids)
                   and not (p.pupil_id and p.pupil_id in subject.pupil_ids)]
    patterns = [(p.name, name_pattern([p.name])) for p in other_names]
    subject_names = {" ".join(fold(n).split()) for n in subject.names}
    for name, value in fields.items():
        if value is None:
            continue
        text = flatten(value)
        for aad in object_ids_in(text) - subject.aad_ids:
            found.add(ThirdParty("aad_id", aad, name))
        if name in PUPIL_ID_FIELDS:
            values = value if isinstance(value, list) else [value]
            for pupil in values:
                if str(pupil) not in subject.pupil_ids:
                    found.add(ThirdParty("pupil_id", str(pupil), name))
        folded = fold(text)
        for person_name, pattern in patterns:
            if pattern is not None and " ".join(fold(person_name).split()) not in subject_names \
                    and pattern.search(folded):
                found.add(ThirdParty("name", person_name, name))
    return sorted(found, key=lambda t: (t.field, t.kind, t.value))


@dataclass(frozen=True)
class FoundRecord:
    """One record the person appears in: its table, its key, a reference people know, and its fields."""

    table: str
    key: str
    reference: str | None
    fields: Mapping[str, Any]
    third_parties: tuple[ThirdParty, ...] = ()

    @property
    def label(self) -> str:
        return self.reference or f"{self.table} {self.key}"


def _same_name(a: str, b: str) -> bool:
    return " ".join(fold(a).split()) == " ".join(fold(b).split())


def subject_named(typed: str, known: Iterable[KnownPerson], *, typed_is_id: bool) -> Subject:
    """Everyone ``typed`` names among ``known`` (a name: every known person of that name, and the name itself for
    text; an Entra object id or a pupil id: that person), with every name they are known by. Erasure and
    rectification find their person this way, as ``subject access`` does."""
    people = list(known)
    lowered = typed.lower()
    matches = [p for p in people if (p.aad_id and p.aad_id.lower() == lowered) or p.pupil_id == typed
               or _same_name(p.name, typed)]
    aad_ids = {p.aad_id.lower() for p in matches if p.aad_id}
    if typed_is_id:
        aad_ids.add(lowered)
    pupil_ids = {p.pupil_id for p in matches if p.pupil_id}
    names = {p.name for p in people if (p.aad_id and p.aad_id.lower() in aad_ids)
             or (p.pupil_id and p.pupil_id in pupil_ids)}
    if not typed_is_id:
        names.add(typed)
    label = next((p.name for p in matches), typed)
    return Subject(label, frozenset(aad_ids), frozenset(names), frozenset(pupil_ids))
