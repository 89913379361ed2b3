"""The audit trail's vocabulary: what was attempted or seen, on which record, by whom, and the outcome.

One trail for the whole bot (``store/audit.py``): every refusal of a verb or command, and every view of
restricted detail (an incident's details, a pupil's consent record, a request with pupil names, an export).
It is append-only: nothing updates an entry; only the retention schedule may remove old ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class AuditOutcome(StrEnum):
    REFUSED = "refused"  # the attempt changed nothing and showed nothing
    VIEWED = "viewed"  # restricted detail was shown to someone allowed to see it
    EXPORTED = "exported"  # restricted detail left the bot as a file
    RECORDED = "recorded"  # a protective change was made (a legal hold placed or released)


class RecordType(StrEnum):
    """Which kind of record an entry is about (``none`` when the attempt named no record)."""

    NONE = "none"
    APPROVAL_REQUEST = "approval_request"
    INCIDENT = "incident"
    CONSENT_RECORD = "consent_record"
    CONSENT_REGISTER = "consent_register"
    ACCOUNT = "account"
    DELEGATION = "delegation"
    AUDIT_TRAIL = "audit_trail"
    SETTINGS = "settings"
    LEGAL_HOLD = "legal_hold"
    RETENTION = "retention"
    SUBJECT_ACCESS = "subject_access"


@dataclass(frozen=True)
class AuditEntry:
    """One line of the trail.

    Attributes:
        action: the verb or command attempted (``approval_refresh``, ``status``, ``incident_take_lead`` ...).
        record_ref: the record's reference as people know it (``INC-2026-0004``, ``ACC-2026-0002``) or its
            id when it has none; None when the attempt named no record.
        reason: why it was refused (a stable code such as ``not_allowed``, ``not_found``), or for a view what
            was shown (``pupil_names``, ``details``).
        detail: small, non-sensitive context (the view, the role held); never free text typed by a person.
    """

    actor_aad: str | None
    actor_name: str | None
    action: str
    record_type: RecordType
    record_ref: str | None
    outcome: AuditOutcome
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # set when recorded
    id: int | None = None  # set when recorded
