"""Who may do what: the roles the policy names, and the directory that says who holds them.

Roles are always resolved on the server from the authenticated Entra object id of the acting user;
nothing a card or message claims is believed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    STAFF = "staff"  # any member of the allowed tenant
    HEAD_TEACHER = "head_teacher"
    DEPUTY = "deputy"  # may act for the Head Teacher while a delegation is active
    SLT = "slt"
    DSL = "dsl"  # designated safeguarding lead
    DEPUTY_DSL = "deputy_dsl"  # deputy designated safeguarding lead (KCSIE: cover whenever the DSL is not available)
    DPO = "dpo"  # data protection officer
    DATA_ADMIN = "data_admin"  # keeps the photo-consent register
    CHAIR_OF_GOVERNORS = "chair_of_governors"


ROLE_TITLES: dict[Role, str] = {
    Role.STAFF: "Staff",
    Role.HEAD_TEACHER: "Head Teacher",
    Role.DEPUTY: "Deputy Head Teacher",
    Role.SLT: "Senior Leadership Team",
    Role.DSL: "Designated Safeguarding Lead",
    Role.DEPUTY_DSL: "Deputy Designated Safeguarding Lead",
    Role.DPO: "Data Protection Officer",
    Role.DATA_ADMIN: "Data administrator (consent register)",
    Role.CHAIR_OF_GOVERNORS: "Chair of Governors",
}


@dataclass(frozen=True)
class Person:
    """A member of the school as the directory knows them."""

    aad_object_id: str
    name: str


@dataclass(frozen=True)
class RoleLookup:
    """The roles of one person, and whether they came from a fresh source or a fallback."""

    roles: frozenset[Role]
    source: str  # e.g. "config", "graph", "graph (cached, Graph unreachable)"
    degraded: bool = False


class RoleDirectory(Protocol):
    """Resolves roles and role holders. Implementations: configuration file, Microsoft Graph."""

    async def roles_of(self, aad_object_id: str) -> RoleLookup:
        """The roles of a person. Every member of the allowed tenant has at least STAFF."""
        ...

    async def holders_of(self, role: Role) -> list[Person]:
        """Everyone holding a role (for routing cards to them)."""
        ...

    async def is_in_directory(self, aad_object_id: str) -> bool:
        """Whether the person is still a member of the school (for the account hand-over check)."""
        ...

    def describe(self) -> str:
        """A short, non-secret description of the source for `status`."""
        ...


class DirectoryUnavailableError(Exception):
    """The directory could not answer and knows nothing earlier to fall back on.

    Raised by `RoleDirectory.holders_of` and `RoleDirectory.is_in_directory` (never by `roles_of`, which
    falls back to STAFF only). A caller routing a message should try again later, for example by leaving
    its outbox entry pending, rather than guess who holds a role.
    """
