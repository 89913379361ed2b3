"""Closing or transferring a school account in the register: ``close account`` and ``transfer account``
(the Head Teacher and SLT; ``domain/account_register.py`` says why them).

One unit of work records the closure (once: a second one is told the account is already closed and changes
nothing) and the audit entry (``close_account`` / ``transfer_account``, ``recorded``: the account's approval
reference; the typed reason stays with the closure). A closed account is shown as closed in ``accounts``, is no
longer offered in the photo check, gets no hand-over alerts, and the retention schedule's ``closed_accounts``
removes it 6 years after it closed.

Who may record an account's end is declared here once (``ACCESS``, the same declaration for both commands): the router
checks it before the service runs, and the service checks it again (it is the authority wherever it is called from),
each refusal in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cards.replies import CommandReply
from domain.access import Access, only
from domain.account_register import ClosureCommandError, Ending, find_account, parse_closure
from domain.actors import Actor
from domain.audit import AuditEntry, AuditOutcome, RecordType
from domain.calendar import SchoolCalendar
from domain.roles import Role, RoleDirectory
from services.audit import AuditTrail, Gate
from store import account_register as store
from store.base import utcnow
from store.db import Database

CLOSE_ACCOUNT = "close_account"
TRANSFER_ACCOUNT = "transfer_account"
_ACTIONS = {Ending.CLOSED: CLOSE_ACCOUNT, Ending.TRANSFERRED: TRANSFER_ACCOUNT}
# Those who approve accounts record their end (domain/account_register.py says why), in the personal chat.
RECORDING: Access = only(
    Role.HEAD_TEACHER, Role.SLT, personal_only=True, record=RecordType.ACCOUNT,
    refusal="Only the Head Teacher and SLT can close or transfer a school account in the register. Nothing was "
            "changed.")
ACCESS: dict[str, Access] = {CLOSE_ACCOUNT: RECORDING, TRANSFER_ACCOUNT: RECORDING}


class AccountRegister:
    def __init__(self, database: Database, directory: RoleDirectory, *, audit: AuditTrail,
                 calendar: SchoolCalendar, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._audit = audit
        self._gate = Gate(directory, audit)
        self._calendar = calendar
        self._clock = clock

    async def end(self, actor: Actor, how: Ending, argument: str) -> CommandReply:
        action = _ACTIONS[how]
        refused = await self._gate.refused(action, ACCESS[action], actor)
        if refused is not None:
            return CommandReply(texts=[refused])
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
