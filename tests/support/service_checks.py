"""What the tests that a use case is the authority wherever it is called from share (``test_service_checks*``).

A use case that checks its callers declares who may use it once (an ``Access``), the router registers that same
declaration, and the use case checks it again through ``services.audit.Gate``. Each test module lists its declarations
and how to call each use case directly and through the router; the cases come from the declarations (``cases``), and
``assert_refused_once`` checks one: the use case called directly refuses with the router's words, writes one line to
the audit trail and changes nothing; through the router the same sender is refused before the use case runs, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from cards.replies import ActionResult, CommandReply
from dialogs.router import Router
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.access import Access, RefusalReason
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.roles import Role, RoleLookup
from services.audit import DIRECTORY_DOWN
from services.requests import ChannelInfo, CommandRequest
from store import audit as trail_store
from store.audit import AuditRow
from store.base import Base
from store.db import Database

Reply = CommandReply | ActionResult | None

# One person per role (Role.STAFF: a member of staff with no other role).
PEOPLE: dict[Role, DirectoryEntry] = {
    role: DirectoryEntry(f"00000000-0000-0000-0000-0000000{index:05d}", f"{role.value} holder",
                         frozenset() if role is Role.STAFF else frozenset({role}))
    for index, role in enumerate(Role, 1)
}


def actor(role: Role, where: str = "personal") -> Actor:
    """The holder of ``role`` (from ``PEOPLE``), writing in a ``where`` conversation (personal, channel...)."""
    person = PEOPLE[role]
    return Actor(person.aad_object_id, person.name, f"29:{role.value}", f"a:{role.value}", where)


class LastKnownRoles(StaticRoleDirectory):
    """The directory when Graph cannot be reached: everyone is known as staff, no other role can be confirmed."""

    async def roles_of(self, aad_object_id: str) -> RoleLookup:
        return RoleLookup(frozenset({Role.STAFF}), "graph (last known, Graph unreachable)", degraded=True)


def directory_down() -> LastKnownRoles:
    """``PEOPLE`` in a directory that cannot confirm anyone's roles just now."""
    return LastKnownRoles(PEOPLE.values(), description="test")


def said(reply: Reply) -> str:
    """What a reply says in words (a command's texts, an action's message)."""
    if isinstance(reply, ActionResult):
        return reply.message or ""
    assert reply is not None
    return " ".join(reply.texts)


@dataclass(frozen=True)
class Case:
    name: str
    role: Role
    where: str
    reason: RefusalReason

    @property
    def id(self) -> str:
        return f"{self.name}-{self.role.value}-{self.where}"


def cases(declared: Mapping[str, Access]) -> list[Case]:
    """Every role a declaration does not admit (in the personal chat), and an admitted one from a channel."""
    found: list[Case] = []
    for name, access in declared.items():
        if not access.any_staff:
            found += [Case(name, role, "personal", RefusalReason.ROLE) for role in Role if role not in access.roles]
        if access.personal_only:
            admitted = next(role for role in Role if access.any_staff or role in access.roles)
            found.append(Case(name, admitted, "channel", RefusalReason.NOT_PERSONAL_CHAT))
    return found


def cases_by_name(declared: Mapping[str, Access]) -> dict[str, list[Case]]:
    """``cases`` grouped by the route they try (routes any member of staff may use anywhere have none). A test runs a
    route's cases one after another in one world: a refusal changes nothing, so each starts from the same records,
    and one database per route instead of one per case keeps the suite quick."""
    grouped: dict[str, list[Case]] = {}
    for case in cases(declared):
        grouped.setdefault(case.name, []).append(case)
    return grouped


def assert_router_holds(router: Router, declared: Mapping[str, Access], *, nothing_else: bool = False) -> None:
    """The router holds the very declaration each use case checks (one place decides), and every declaration has
    cases to try; ``nothing_else``: the router declares no other way in (it was built with these routes only)."""
    routed_by = {d.name: d.access for d in router.declarations()}
    if nothing_else:
        assert set(routed_by) == set(declared)
    for name, access in declared.items():
        assert routed_by[name] is access, name
    assert set(cases_by_name(declared)) == set(declared)


async def routed_command(router: Router, text: str, who: Actor, channel: ChannelInfo | None = None) -> Reply:
    """``text`` typed by ``who``, through the router (its check first, then the use case)."""
    matched = router.match_command(text)
    assert matched is not None, text
    handler, argument = matched
    return await handler(CommandRequest(text, argument, who, channel=channel))


async def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the audit trail's."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with database.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name == AuditRow.__tablename__:
                continue
            query = select(*table.columns).order_by(*(table.primary_key.columns or table.columns))
            found[table.name] = [tuple(row) for row in (await session.execute(query)).all()]
    return found


async def last_entry(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.max(AuditRow.id))) or 0)


async def entries_after(database: Database, after: int) -> list[Any]:
    async with database.sessions() as session:
        return [e for e in await trail_store.recent(session, limit=20) if e.id is not None and e.id > after]


async def assert_refused_once(
    database: Database, case: Case, access: Access, *, direct: Callable[[Actor], Awaitable[Reply]],
    routed: Callable[[Actor], Awaitable[Reply]], record_ref: str | None = None,
) -> None:
    """``case``'s sender is refused by the use case called directly (the router's words, one audit line, nothing
    changed), and through the router once, before the use case runs.

    Args:
        direct: calls the use case itself, as the edge, a worker or a future route would (no router in front).
        routed: sends the same request through the router.
        record_ref: the record the trail should name.
    """
    who = actor(case.role, case.where)
    before, last = await snapshot(database), await last_entry(database)

    answer = said(await direct(who))

    assert answer == access.refused_text(case.reason), case.id
    assert await snapshot(database) == before, case.id
    [entry] = await entries_after(database, last)
    assert (entry.actor_aad, entry.action, entry.outcome, entry.reason, entry.record_type) == (
        who.aad_object_id, case.name, AuditOutcome.REFUSED, case.reason.value, access.record), case.id
    assert entry.record_ref == record_ref, case.id

    # Through the router: refused before the use case runs, so the trail has one line for it, not two.
    last = await last_entry(database)
    assert said(await routed(who)) == answer, case.id
    [again] = await entries_after(database, last)
    assert (again.action, again.reason, again.record_ref) == (entry.action, entry.reason, entry.record_ref), case.id
    assert await snapshot(database) == before, case.id


async def assert_directory_down(database: Database, name: str, who: Actor,
                                direct: Callable[[Actor], Awaitable[Reply]]) -> Any:
    """``who`` holds the role, but the directory cannot confirm it: the use case called directly says the directory
    is down (not that the role is not held), changes nothing and writes one refusal marked as degraded, which it
    returns for further checks."""
    before, last = await snapshot(database), await last_entry(database)

    assert said(await direct(who)) == DIRECTORY_DOWN, name

    assert await snapshot(database) == before, name
    [entry] = await entries_after(database, last)
    assert (entry.action, entry.outcome, entry.reason, entry.actor_aad) == (
        name, AuditOutcome.REFUSED, RefusalReason.ROLE.value, who.aad_object_id)
    assert entry.detail.get("directory") == "degraded"
    return entry
