"""``audit <reference or person>`` in Teams: the audit trail, for the Data Protection Officer and the Head Teacher
in their personal chat (``services/audit.py`` ``AuditDesk``). Anyone else is refused by the router, and that
refusal is in the trail too."""

from __future__ import annotations

from dialogs.router import Router
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.roles import RoleDirectory
from services.audit import AUDIT_ACCESS, AuditDesk, AuditTrail
from store.db import Database


def register_audit(router: Router, *, database: Database, trail: AuditTrail, directory: RoleDirectory,
                   calendar: SchoolCalendar) -> AuditDesk:
    desk = AuditDesk(database, trail, directory, calendar=calendar)
    router.on_command(command("audit"), desk.show, access=AUDIT_ACCESS)
    return desk


__all__ = ["AUDIT_ACCESS", "register_audit"]
