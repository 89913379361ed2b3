"""Closing or transferring a school account in the register.

Policy, "Roles & Responsibilities (Administrator / Moderator)": "Control the process for managing an account after
the lead staff member has left the organisation (closing or transferring)." The policy gives the *process* to the
account's administrators and the account's *approval* to the Head Teacher and SLT ("Approval of Social Media account
creation"; "All Social Media accounts must be approved by the Head Teacher"); it does not say who records a closure.
The register is the Head Teacher's and SLT's record of what they approved, so they record its end: the Head Teacher
and SLT may mark an account closed, or transferred (to whom), with a reason and the date. SLT should confirm this
(docs/policy-map.md).

A closed or transferred account stays in the register, shown as such, and is no longer offered anywhere an open
account is (the photo check's "a school account"); the retention schedule's ``closed_accounts`` removes it (with
its administrators and closure) 6 years after it closed.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from domain.accounts import PolicyQuote, RegisteredAccount

Q_CLOSING = PolicyQuote(
    "Roles & Responsibilities (Administrator / Moderator)",
    "Control the process for managing an account after the lead staff member has left the organisation "
    "(closing or transferring).",
)

_BECAUSE = re.compile(r"\s+because\s+", re.IGNORECASE)
_TO = re.compile(r"\s+to\s+", re.IGNORECASE)
_ON = re.compile(r"\s+on\s+(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})\s*$", re.IGNORECASE)
_REFERENCE = re.compile(r"^[A-Z]{3}-\d{4}-\d{4,}$", re.IGNORECASE)
REASON_MAX = 500
NAME_MAX = 256


class Ending(StrEnum):
    CLOSED = "closed"
    TRANSFERRED = "transferred"


class ClosureCommandError(ValueError):
    """What was typed is not a closure; the message says how to type it."""


@dataclass(frozen=True)
class ClosureRequest:
    """``close account <account> [on <date>] because <reason>`` or
    ``transfer account <account> to <whom> [on <date>] because <reason>``, as typed."""

    how: Ending
    account: str  # the account's name, or its approval's reference (ACC-2026-0002)
    reason: str
    closed_on: date | None  # None: today
    transferred_to: str | None = None


def _usage(how: Ending) -> str:
    if how is Ending.CLOSED:
        return ("Type **close account** + the account's name (or its reference, e.g. ACC-2026-0002) + **because** + "
                "the reason, e.g. *close account Year 6 Facebook because the class page is no longer used*. Add "
                "*on 01/09/2026* before **because** if it closed on another day.")
    return ("Type **transfer account** + the account's name (or reference) + **to** + who now runs it + **because** "
            "+ the reason, e.g. *transfer account PTA Facebook to the PTA committee because the PTA runs it now*.")


def parse_closure(how: Ending, argument: str, *, today: date) -> ClosureRequest:
    """Read what followed ``close account`` / ``transfer account``.

    Raises:
        ClosureCommandError: no account, no reason, no "to" for a transfer, a date that cannot be read or is in the
            future.
    """
    parts = _BECAUSE.split(argument.strip(), maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise ClosureCommandError(_usage(how))
    target, reason = parts[0].strip(), " ".join(parts[1].split())[:REASON_MAX]
    closed_on: date | None = None
    on = _ON.search(target)
    if on is not None:
        closed_on = _date(on.group(1))
        if closed_on is None:
            raise ClosureCommandError(f"I can't read the date {on.group(1)}: write it as DD/MM/YYYY.")
        if closed_on > today:
            raise ClosureCommandError("The date is in the future: record the closure once it has happened.")
        target = target[:on.start()].strip()
    transferred_to: str | None = None
    if how is Ending.TRANSFERRED:
        split = _TO.split(target, maxsplit=1)
        if len(split) != 2 or not split[0].strip() or not split[1].strip():
            raise ClosureCommandError(_usage(how))
        target, transferred_to = split[0].strip(), " ".join(split[1].split())[:NAME_MAX]
    if not target:
        raise ClosureCommandError(_usage(how))
    return ClosureRequest(how, " ".join(target.split()), reason, closed_on, transferred_to)


def _date(text: str) -> date | None:
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def find_account(accounts: Sequence[RegisteredAccount], typed: str) -> list[RegisteredAccount]:
    """The accounts ``typed`` names: by approval reference, else by name (any case; with or without the platform)."""
    wanted = " ".join(typed.split()).lower()
    if _REFERENCE.match(wanted):
        return [a for a in accounts if a.approval_reference.lower() == wanted]
    exact = [a for a in accounts if a.account_name.lower() == wanted
             or f"{a.platform} {a.account_name}".lower() == wanted
             or f"{a.account_name} {a.platform}".lower() == wanted]
    return exact
