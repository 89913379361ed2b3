"""Closing or transferring a school account in the register: ``close account`` and ``transfer account``
(the Head Teacher and SLT; ``domain/account_register.py`` says why them).

One unit of work records the closure (once: a second one is told the account is already closed and changes
nothing) and the audit entry (``close_account`` / ``transfer_account``, ``recorded``: the account's approval
reference; the typed reason stays with the closure). A closed account is shown as closed in ``accounts``, is no
longer offered in the photo check, gets no hand-over alerts, and the retention schedule's ``closed_accounts``
removes it 6 years after it closed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cards.replies import CommandReply
from domain.account_register import ClosureCommandError, Ending, find_account, parse_closure
from domain.actors import Actor
from domain.audit import AuditEntry, AuditOutcome, RecordType
from domain.calendar import SchoolCalendar
from domain.roles import Role, RoleDirectory
from services.audit import AuditTrail, refusal
from store import account_register as store
from store.base import utcnow
from store.db import Database

RECORDERS = frozenset({Role.HEAD_TEACHER, Role.SLT})
_ACTIONS = {Ending.CLOSED: "close_account", Ending.TRANSFERRED: "transfer_account"}


class AccountRegister:
    def __init__(self, database: Database, directory: RoleDirectory, *, audit: AuditTrail,
                 calendar: SchoolCalendar, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._directory = directory
        self._audit = audit
        self._calendar = calendar
        self._clock = clock

    async def end(self, actor: Actor, how: Ending, argument: str) -> CommandReply:
        action = _ACTIONS[how]
        roles = (await self._directory.roles_of(actor.aad_object_id)).roles
        if not roles & RECORDERS:
            await self._audit.record(refusal(actor, action, RecordType.ACCOUNT, None, "not_allowed",
                                             {"roles": sorted(r.value for r in roles)}))
            return CommandReply(texts=["Only the Head Teacher and SLT can close or transfer a school account in the "
                                       "register. Nothing was changed."])
        now = self._clock()
        today = self._calendar.local(now).date()
        try:
            wanted = parse_closure(how, argument, today=today)
        except ClosureCommandError as problem:
            return CommandReply(texts=[str(problem)])
        async with self._db.transaction() as session:
            found = find_account(await store.accounts_with_closures(session), wanted.account)
            if not found:
                return CommandReply(texts=[f"The register has no account called {wanted.account}. Type **accounts** "
                                           "to see the names, or give its reference (e.g. ACC-2026-0002)."])
            if len(found) > 1:
                refs = ", ".join(a.approval_reference for a in found)
                return CommandReply(texts=[f"More than one account is called {wanted.account} ({refs}): give its "
                                           "reference instead. Nothing was changed."])
            account = found[0]
            if account.closure is not None:
                return CommandReply(texts=[f"**{account.platform}: {account.account_name}** is already "
                                           f"{account.closure.how} (recorded by {account.closure.recorded_by_name}). "
                                           "Nothing was changed."])
            closed_on = wanted.closed_on or today
            recorded = await store.close(session, account.id, how=how.value, transferred_to=wanted.transferred_to,
                                         reason=wanted.reason, closed_on=closed_on, by_aad=actor.aad_object_id,
                                         by_name=actor.name, now=now)
            if not recorded:
                return CommandReply(texts=["That account was closed a moment ago. Nothing was changed."])
            await self._audit.record_in(session, AuditEntry(
                actor_aad=actor.aad_object_id, actor_name=actor.name, action=action, record_type=RecordType.ACCOUNT,
                record_ref=account.approval_reference, outcome=AuditOutcome.RECORDED, reason=how.value,
                detail={"account_id": account.id, "closed_on": closed_on.isoformat()}))
        what = "closed" if how is Ending.CLOSED else f"transferred to {wanted.transferred_to}"
        return CommandReply(texts=[
            f"**{account.platform}: {account.account_name}** is marked {what} in the register "
            f"({closed_on:%d %b %Y}). It is no longer offered as a school account in photo checks, and the register "
            "keeps it, shown as " + how.value + ", for 6 years (retention: closed_accounts). Type **accounts** to see "
            "the register."])
