"""The account register's closures: an account closed or transferred (``account_closures``, migration
``0014_erasure``; the model lives beside the register's in ``store/approvals.py``).

Functions take the caller's session.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts import AccountClosure, RegisteredAccount
from store.approvals import AccountAdministratorRow, AccountClosureRow, AccountRow, registered_accounts


def _closure(row: AccountClosureRow) -> AccountClosure:
    return AccountClosure(how=row.how, transferred_to=row.transferred_to, reason=row.reason, closed_on=row.closed_on,
                          recorded_by_name=row.recorded_by_name)


async def closures(session: AsyncSession) -> dict[int, AccountClosure]:
    return {row.account_id: _closure(row) for row in await session.scalars(select(AccountClosureRow))}


async def accounts_with_closures(session: AsyncSession) -> list[RegisteredAccount]:
    """The register, each account with its closure (if any)."""
    ended = await closures(session)
    return [replace(account, closure=ended.get(account.id)) for account in await registered_accounts(session)]


async def close(session: AsyncSession, account_id: int, *, how: str, transferred_to: str | None, reason: str,
                closed_on: date, by_aad: str, by_name: str, now: datetime) -> bool:
    """Record the closure once: False when the account was already closed or transferred (nothing changed)."""
    if await session.get(AccountClosureRow, account_id) is not None:
        return False
    session.add(AccountClosureRow(account_id=account_id, how=how, transferred_to=transferred_to, reason=reason,
                                  closed_on=closed_on, recorded_by_aad=by_aad, recorded_by_name=by_name[:256],
                                  recorded_at=now))
    await session.flush()
    return True


async def delete_closed(session: AsyncSession, account_ids: list[int]) -> None:
    """Remove closed accounts from the register (the retention run): administrators, closure, account."""
    await session.execute(delete(AccountAdministratorRow).where(AccountAdministratorRow.account_id.in_(account_ids)))
    await session.execute(delete(AccountClosureRow).where(AccountClosureRow.account_id.in_(account_ids)))
    await session.execute(delete(AccountRow).where(AccountRow.id.in_(account_ids)))

