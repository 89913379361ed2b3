"""Roles from a JSON file: for small schools without Entra groups, and for local development.

The file lists the people who hold a role (and, if the school likes, everyone else)::

    {
      "description": "Holy Trinity roles, updated by the school office",
      "people": [
        {"aadObjectId": "00000000-0000-0000-0000-000000000201", "name": "Anna Smith",
         "roles": ["head_teacher", "slt"]},
        {"aadObjectId": "00000000-0000-0000-0000-000000000202", "name": "Priya Shah",
         "roles": ["slt", "deputy"], "note": "Deputy Head"},
        {"aadObjectId": "00000000-0000-0000-0000-000000000105", "name": "Ruth Old", "left": true}
      ]
    }

- `aadObjectId`: the person's Entra object id (a GUID; Teams sends it as `from.aadObjectId`).
- `name`: how the bot names them on cards.
- `roles`: any of `staff`, `head_teacher`, `deputy`, `slt`, `dsl`, `deputy_dsl`, `dpo`, `data_admin`,
  `chair_of_governors` (default none). Every member of the school's tenant is `staff` whether listed or not,
  so `staff` may be left out. No role implies another: a Head Teacher who sits on SLT lists both.
- `left` (default false): the person has left the school. They hold no roles (listing any is an error),
  and `is_in_directory` answers False for them, so accounts they administered are flagged for hand-over.
- `note` and the top-level `description`: free text for whoever maintains the file.

Anything else (a misspelt key, an unknown role, a repeated object id) stops the bot at start-up with a
message naming the file and the entry.

A configuration file cannot see the tenant. Someone it does not list is assumed to still be at the school
(`is_in_directory` answers True) and holds only `staff`; mark leavers with `"left": true`, or use Graph.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from directory import DirectoryConfigError
from domain.roles import Person, Role, RoleLookup

log = logging.getLogger(__name__)

_SOURCE = "config"
_ROLE_NAMES = frozenset(role.value for role in Role)
_KNOWN_ROLES = ", ".join(role.value for role in Role)


class RolesFileError(DirectoryConfigError):
    """The roles file is missing, is not JSON, or has an entry the bot cannot use."""


@dataclass(frozen=True)
class DirectoryEntry:
    """One person as a configuration file lists them."""

    aad_object_id: str
    name: str
    roles: frozenset[Role] = frozenset()
    left: bool = False

    @property
    def person(self) -> Person:
        return Person(aad_object_id=self.aad_object_id, name=self.name)


class StaticRoleDirectory:
    """A `RoleDirectory` over a fixed list of people, usually read from a JSON file (see the module docstring)."""

    lists_everyone = False  # a file lists only whom the school wrote in it (domain.accounts.StaffDirectory)

    def __init__(self, entries: Iterable[DirectoryEntry], *, description: str) -> None:
        """Args:
        entries: the people listed; object ids are compared without regard to case.
        description: what `describe` reports, e.g. "configuration file roles.json (7 people)".

        Raises:
            ValueError: if an object id is listed twice.
        """
        self._entries: dict[str, DirectoryEntry] = {}
        for entry in entries:
            key = _key(entry.aad_object_id)
            if key in self._entries:
                raise ValueError(f"{entry.aad_object_id} is listed twice")
            self._entries[key] = entry
        self._description = description

    @classmethod
    def from_file(cls, path: Path) -> StaticRoleDirectory:
        """Read and check a roles file.

        Raises:
            RolesFileError: naming the file and, where there is one, the entry at fault.
        """
        entries = load_roles_file(path)
        listed = sum(1 for entry in entries if not entry.left)
        people = "person" if listed == 1 else "people"
        return cls(entries, description=f"configuration file {path.name} ({listed} {people} listed)")

    @classmethod
    def everyone_is_staff(cls, reason: str) -> StaticRoleDirectory:
        """A directory listing nobody: every user is staff and nobody holds any other role."""
        return cls([], description=f"{reason}: everyone is staff, nobody holds another role")

    async def roles_of(self, aad_object_id: str) -> RoleLookup:
        entry = self._entries.get(_key(aad_object_id))
        roles = {Role.STAFF}
        if entry is not None and not entry.left:
            roles |= entry.roles
        return RoleLookup(roles=frozenset(roles), source=_SOURCE)

    async def holders_of(self, role: Role) -> list[Person]:
        """The listed people holding `role`, in file order.

        Raises:
            ValueError: for `Role.STAFF`, which every member of the tenant holds, listed or not.
        """
        if role is Role.STAFF:
            raise ValueError("Everyone in the tenant is staff; holders_of() answers only for the other roles")
        return [entry.person for entry in self._entries.values() if role in entry.roles and not entry.left]

    async def is_in_directory(self, aad_object_id: str) -> bool:
        """False only for people the file marks as having left (the file cannot see the tenant)."""
        entry = self._entries.get(_key(aad_object_id))
        return entry is None or not entry.left

    async def staff_member(self, aad_object_id: str) -> Person | None:
        """The listed member of staff with this Entra object id, or None: not listed, or has left (a
        configuration file names the staff it knows; someone it does not list cannot be named on a form)."""
        entry = self._entries.get(_key(aad_object_id))
        return entry.person if entry is not None and not entry.left else None

    async def search_staff(self, text: str, *, limit: int = 10) -> list[Person]:
        """The listed staff (not leavers) whose name contains ``text`` (any case), those starting with it first;
        everyone listed for an empty ``text`` (a file is small: the runner slots offer them all)."""
        wanted = " ".join(text.split()).lower()
        found = [entry.person for entry in self._entries.values() if not entry.left and wanted in entry.name.lower()]
        found.sort(key=lambda p: (not p.name.lower().startswith(wanted), p.name.lower()))
        return found[:limit]

    def describe(self) -> str:
        return self._description

    async def aclose(self) -> None:
        """Nothing to release."""


def load_roles_file(path: Path) -> list[DirectoryEntry]:
    """Parse and check a roles file (format in the module docstring).

    Raises:
        RolesFileError: naming the file and the entry at fault.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RolesFileError(
            f"Cannot read the roles file {path} ({error.strerror or type(error).__name__}). "
            "Set POLICYBOT_ROLES_FILE to a readable JSON file (see directory/static.py for the format)."
        ) from error
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise RolesFileError(
            f"The roles file {path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from error
    try:
        parsed = _RolesFile.model_validate(raw)
    except ValidationError as error:
        problems = "\n".join(f"  - {_where(raw, problem['loc'])}: {_message(problem)}" for problem in error.errors())
        raise RolesFileError(f"The roles file {path} has entries the bot cannot use:\n{problems}") from error
    return [
        DirectoryEntry(
            aad_object_id=str(person.aad_object_id),
            name=person.name,
            roles=frozenset(person.roles),
            left=person.left,
        )
        for person in parsed.people
    ]


# --- the file's schema ------------------------------------------------------------------------------


class _FileModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)


class _ListedPerson(_FileModel):
    aad_object_id: UUID
    name: str = Field(min_length=1)
    roles: list[Role] = Field(default_factory=list)
    left: bool = False
    note: str = ""

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name is blank")
        return value.strip()

    @field_validator("roles", mode="before")
    @classmethod
    def _known_roles(cls, value: object) -> object:
        if isinstance(value, list):
            for name in value:
                if isinstance(name, str) and name not in _ROLE_NAMES:
                    raise ValueError(f"unknown role {name!r} (known roles: {_KNOWN_ROLES})")
        return value

    @model_validator(mode="after")
    def _leavers_hold_no_roles(self) -> _ListedPerson:
        if self.left and set(self.roles) - {Role.STAFF}:
            raise ValueError('marked as left but still holds roles: remove the roles or the "left" flag')
        return self


class _RolesFile(_FileModel):
    description: str = ""
    people: list[_ListedPerson]

    @model_validator(mode="after")
    def _each_person_once(self) -> _RolesFile:
        seen: dict[UUID, str] = {}
        for person in self.people:
            if person.aad_object_id in seen:
                raise ValueError(
                    f"aadObjectId {person.aad_object_id} is listed twice ({seen[person.aad_object_id]} "
                    f"and {person.name}); list each person once with all their roles"
                )
            seen[person.aad_object_id] = person.name
        return self


def _where(raw: object, loc: Sequence[int | str]) -> str:
    """Name the place of a problem, e.g. `people[3] (Tom Reed).roles`, from the raw JSON."""
    if not loc:
        return "the file"
    parts: list[str] = []
    node: object = raw
    for step in loc:
        if isinstance(step, int):
            parts.append(f"[{step}]")
            node = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            if isinstance(node, dict) and len(parts) == 2 and parts[0] == "people":
                label = node.get("name") or node.get("aadObjectId")
                if isinstance(label, str) and label.strip():
                    parts.append(f" ({label.strip()})")
        else:
            parts.append(step if not parts else f".{step}")
            node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts)


def _message(problem: Any) -> str:
    """Pydantic's message, without its "Value error, " prefix, and with the value it refused."""
    message = str(problem["msg"]).removeprefix("Value error, ")
    value = problem.get("input")
    if problem["type"] not in ("value_error", "missing") and isinstance(value, str | int | float | bool):
        message += f" (got {value!r})"
    return message


def _key(aad_object_id: str) -> str:
    return aad_object_id.strip().lower()
