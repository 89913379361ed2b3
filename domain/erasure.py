"""Erasure (UK GDPR Art. 17) and rectification (Art. 16) where the law allows: what the DPO's ``erase`` does to
each record naming a person, and why; what ``correct`` may change.

The records come from the same search as subject access (``store/subject_access.py`` + ``domain/subject_access.py``),
so whatever a subject access export would show is decided here, one record at a time:

- **delete** where nothing needs the row (a draft, a dialog's state, a closed do-not-photograph request, an older
  copy of the consent register, a decided request and its history, a check in the log);
- **anonymise in place** where counts must survive (an incident report that is not a safeguarding one: the same
  anonymisation as the retention schedule's, leaving a tombstone);
- **redact** a pupil's id from a photo check that also names other pupils (the check stays for them);
- **keep**, saying why, where the law or the policy needs the record (Art. 17(3)): safeguarding reports and
  allegations (KCSIE; IRMS toolkit; Art. 17(3)(b) legal obligation), personal-data breach reports (Art. 33(5)),
  the audit trail (Art. 5(2) accountability, Art. 32 security), legal holds and everything they cover
  (Art. 17(3)(e) legal claims), what is still being handled (an open report, a pending request, an open account's
  administrators, an open do-not-photograph request, a message not yet delivered: Art. 17(1)(a), still needed).

Any table this module does not know (a table added later) is kept, and the card says so: nothing is removed that
nobody has decided about.

Rectification (``correct``): the names the bot recorded beside a person's Entra object id (a requester's, a
decider's, an administrator's, a reporter's or lead's on reports that are not safeguarding ones, a deputy's, a
chat's) and a pupil's names in the consent register. The history tables (the chronology, the approval history, the
audit trail) record who acted under the name they had then; they are not rewritten (their triggers refuse it).

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.approvals import ApprovalKind, ApprovalState
from domain.incidents import Category, Status
from domain.retention import Holds, RecordKind, incident_kind
from domain.subject_access import FoundRecord, Subject, flatten

REQUEST_LIFETIME = timedelta(hours=24)  # an erase or correct card not confirmed by then is refused and removed
REASON_MAX = 500
_BECAUSE = re.compile(r"\s+because\s+", re.IGNORECASE)


class Action(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"
    REDACT = "redact"  # the person's id taken out of a row that stays for others
    KEEP = "keep"


ACTING = (Action.DELETE, Action.ANONYMISE, Action.REDACT)

# Why a record stays: each names the law or guidance (docs/privacy.md, "Erasure and rectification").
KEEP_SAFEGUARDING = ("Safeguarding record: kept as KCSIE and the IRMS toolkit require (a child protection concern "
                     "until the child's date of birth + 25 years; an allegation until pension age or 10 years). "
                     "UK GDPR Art. 17(3)(b): a legal obligation.")
KEEP_BREACH = ("Personal-data breach report: UK GDPR Art. 33(5) requires breaches to be documented; "
               "Art. 17(3)(b).")
KEEP_OPEN_REPORT = "Report still being handled: erase once it is closed (Art. 17(1)(a): still needed)."
KEEP_PENDING = "Request still being decided (Art. 17(1)(a): still needed); erase once decided."
KEEP_IN_REGISTER = ("The approval of an account still open in the register (policy: accounts are approved by the "
                    "Head Teacher); it goes with the account once closed (retention: closed_accounts).")
KEEP_ADMINISTRATOR = ("Administrator of an open school account (policy: at least two named staff run each "
                      "account): name another administrator or close the account, then erase.")
KEEP_REGISTER_APPROVAL = "The register's record of who approved a school account (policy: Head Teacher approval)."
KEEP_AUDIT = ("Audit trail: who saw or tried to see restricted records. UK GDPR Art. 5(2) accountability and "
              "Art. 32 security of processing; removed by the retention schedule (audit_trail).")
KEEP_HOLD = "On legal hold: never touched while the hold is in force (UK GDPR Art. 17(3)(e): legal claims)."
KEEP_HOLD_RECORD = "A legal hold itself (UK GDPR Art. 17(3)(e): legal claims)."
KEEP_DO_NOT_PUBLISH = ("A do-not-publish flag in the consent register: it protects the pupil (it may reflect a "
                       "safeguarding matter, KCSIE); correct it in the MIS.")
KEEP_DO_NOT_PHOTOGRAPH = "An open request not to be photographed: erasing it would stop protecting them."
KEEP_DELEGATION = "A delegation in force: the deputy decides under it now."
KEEP_IMPORT = "Who imported a version of the consent register (UK GDPR Art. 5(2) accountability)."
KEEP_UNDELIVERED = "A message not yet delivered; its content is cleared once delivered (outbox_content)."
KEEP_REVIEW = ("A report's flag for review or its transfer to the safeguarding file (KCSIE record keeping; "
               "Art. 17(3)(b)).")
KEEP_RIGHTS_RECORD = ("The record of an earlier erasure or correction: the school shows it acted on the request "
                      "(UK GDPR Art. 5(2)); the person's names in it are removed once it is done.")
KEEP_UNKNOWN = "Not covered by erasure in the bot yet: ask whoever runs the bot's database, or keep it."
KEEP_FOLLOWS = "Kept with its record: "

_DELETED = "Deleted at the person's request (UK GDPR Art. 17)."
_ANONYMISED = ("Anonymised in place (names, free text, chronology and screenshots removed; category, dates and "
               "status kept for the school's counts), leaving a tombstone.")
_REDACTED = "The pupil's id is taken out of the check; the check stays for the other pupils in it."
_WITH_REQUEST = "Deleted with its request (history, drafts), leaving a tombstone."
_WITH_REPORT = "Removed with its report's anonymisation."
_PUPIL = ("Removed from this version of the consent register with its consents. Also erase it in the MIS, or the "
          "next import brings it back.")

TABLE_TITLES: Mapping[str, str] = {
    "incidents": "Incident reports",
    "incident_events": "Reports' chronology",
    "incident_attachments": "Screenshots",
    "approval_requests": "Approval requests",
    "approval_events": "Approval history",
    "approval_delegations": "Delegations",
    "account_drafts": "Account proposal drafts",
    "account_register": "Account register",
    "account_administrators": "Account administrators",
    "consent_register_versions": "Consent register versions",
    "consent_pupils": "Consent register (pupils)",
    "consent_pupil_consents": "Consent register (consents)",
    "consent_do_not_photograph": "Do-not-photograph requests",
    "consent_check_log": "Photo check log",
    "audit_events": "Audit trail",
    "legal_holds": "Legal holds",
    "conversation_refs": "The bot's chats with them",
    "bot_state": "Conversations in progress",
    "outbox": "Messages sent",
    "incident_subjects": "Who reports are about",
    "incident_statements": "Reports' safeguarding record",
    "incident_pupils": "Pupils named in reports",
    "incident_media_enquiries": "Media enquiries",
    "retention_reviews": "Reports flagged or transferred",
    "data_rights_requests": "Erasure and correction requests",
}

TOMBSTONE_KINDS: Mapping[str, RecordKind] = {
    "approval_delegations": RecordKind.DELEGATIONS,
    "account_drafts": RecordKind.ACCOUNT_DRAFTS,
    "account_administrators": RecordKind.CLOSED_ACCOUNTS,
    "consent_pupils": RecordKind.CONSENT_REGISTER_VERSIONS,
    "consent_do_not_photograph": RecordKind.DO_NOT_PHOTOGRAPH_REQUESTS,
    "consent_check_log": RecordKind.PHOTO_CHECK_LOG,
    "conversation_refs": RecordKind.CONVERSATION_REFERENCES,
    "bot_state": RecordKind.CONVERSATION_STATE,
    "outbox": RecordKind.OUTBOX_CONTENT,
}


class ErasureCommandError(ValueError):
    """What was typed is not an erasure; the message says how to type it."""


def parse_erase(argument: str) -> tuple[str, str]:
    """``<person> because <reason>``: the person as typed and the reason.

    Raises:
        ErasureCommandError: no ``because``, no person, or no reason.
    """
    parts = _BECAUSE.split(argument.strip(), maxsplit=1)
    if len(parts) != 2 or len(parts[0].strip()) < 3 or not parts[1].strip():
        raise ErasureCommandError(
            "Type **erase** + the person's full name (a pupil's as in the consent register) or their Entra object "
            "id + **because** + the reason, e.g. *erase Jo Bloggs because she asked on 3 December (Art. 17)*.")
    return " ".join(parts[0].split()), " ".join(parts[1].split())[:REASON_MAX]


@dataclass(frozen=True)
class IncidentInfo:
    reference: str
    category: Category
    status: Status


@dataclass(frozen=True)
class RequestInfo:
    reference: str
    kind: ApprovalKind
    state: ApprovalState
    in_register: bool  # an approved account request whose account is in the register and open


@dataclass(frozen=True)
class ErasureContext:
    """What the decision needs to know beyond the records themselves (read by the store in the same session)."""

    incidents: Mapping[int, IncidentInfo]
    requests: Mapping[int, RequestInfo]
    open_accounts: frozenset[int]
    holds: Holds
    now: datetime


@dataclass(frozen=True)
class Decision:
    """What happens to one record, and why."""

    table: str
    key: str
    reference: str | None  # the record's (or its parent's) reference
    action: Action
    why: str
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def title(self) -> str:
        return TABLE_TITLES.get(self.table, self.table)


@dataclass(frozen=True)
class ErasurePlan:
    decisions: tuple[Decision, ...] = ()

    def acting(self) -> list[Decision]:
        return [d for d in self.decisions if d.action in ACTING]

    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.action is Action.KEEP]

    def counts(self) -> dict[str, int]:
        totals = {a.value: 0 for a in Action}
        for decision in self.decisions:
            totals[decision.action.value] += 1
        return totals

    def groups(self) -> list[tuple[str, Action, str, list[Decision]]]:
        """(title, action, why, the records) in the order the card shows them: what goes first, then what stays."""
        grouped: dict[tuple[str, Action, str], list[Decision]] = {}
        for decision in self.decisions:
            grouped.setdefault((decision.title, decision.action, decision.why), []).append(decision)
        order = {Action.ANONYMISE: 0, Action.DELETE: 1, Action.REDACT: 2, Action.KEEP: 3}
        return [(title, action, why, found) for (title, action, why), found
                in sorted(grouped.items(), key=lambda item: (order[item[0][1]], item[0][0]))]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _held(holds: Holds, reference: str | None, fields: Mapping[str, Any]) -> bool:
    values = [flatten(v) for v in fields.values() if v is not None]
    return holds.covers(reference, values, values)


def _incident(info: IncidentInfo | None) -> tuple[Action, str]:
    if info is None:
        return Action.KEEP, KEEP_UNKNOWN
    kind = incident_kind(info.category)
    if kind in (RecordKind.INCIDENT_SAFEGUARDING, RecordKind.INCIDENT_ALLEGATION):
        return Action.KEEP, KEEP_SAFEGUARDING
    if kind is RecordKind.INCIDENT_DATA_BREACH:
        return Action.KEEP, KEEP_BREACH
    if info.status is not Status.CLOSED:
        return Action.KEEP, KEEP_OPEN_REPORT
    return Action.ANONYMISE, _ANONYMISED


def _request(info: RequestInfo | None) -> tuple[Action, str]:
    if info is None:
        return Action.KEEP, KEEP_UNKNOWN
    if info.state in (ApprovalState.PENDING, ApprovalState.CHANGES_REQUESTED):
        return Action.KEEP, KEEP_PENDING
    if info.in_register:
        return Action.KEEP, KEEP_IN_REGISTER
    return Action.DELETE, _WITH_REQUEST


def _followed(action: Action, why: str, parent: str | None, removed: str) -> tuple[Action, str]:
    if action is Action.KEEP:
        return Action.KEEP, KEEP_FOLLOWS + (parent or "its record") + ". " + why
    return Action.DELETE, removed


def plan_erasure(subject: Subject, records: Sequence[FoundRecord], context: ErasureContext) -> ErasurePlan:
    """What ``erase`` does to each record naming ``subject`` (``records``: the subject access search's)."""
    pupils_kept: set[tuple[str, str]] = set()
    for record in records:  # a pupil's consents follow their register row
        if record.table == "consent_pupils" and record.fields.get("do_not_publish"):
            pupils_kept.add((str(record.fields.get("version_id")), str(record.fields.get("pupil_id"))))
    decisions: list[Decision] = []
    for record in records:
        f = record.fields
        reference = record.reference
        table = record.table
        action: Action
        why: str
        if table == "incidents":
            info = context.incidents.get(_int(f.get("id")) or -1)
            action, why = _incident(info)
        elif "incident_id" in f:  # a report's chronology, screenshots, subjects, record, media enquiry ...
            info = context.incidents.get(_int(f.get("incident_id")) or -1)
            reference = info.reference if info else None
            action, why = _followed(*_incident(info), reference, _WITH_REPORT)
        elif table == "approval_requests":
            action, why = _request(context.requests.get(_int(f.get("id")) or -1))
        elif table == "approval_events":
            request_id = _int(f.get("request_id"))
            if request_id is None:
                action, why = Action.KEEP, KEEP_AUDIT
            else:
                info_r = context.requests.get(request_id)
                reference = info_r.reference if info_r else None
                action, why = _followed(*_request(info_r), reference, _WITH_REQUEST)
        elif table == "approval_delegations":
            ends = f.get("ended_at") or f.get("ends_at")
            in_force = not isinstance(ends, datetime) or ends > context.now
            action, why = (Action.KEEP, KEEP_DELEGATION) if in_force else (Action.DELETE, _DELETED)
        elif table in ("account_drafts", "conversation_refs", "bot_state"):
            action, why = Action.DELETE, _DELETED
        elif table == "account_register":
            action, why = Action.KEEP, KEEP_REGISTER_APPROVAL
        elif table == "account_administrators":
            if _int(f.get("account_id")) in context.open_accounts:
                action, why = Action.KEEP, KEEP_ADMINISTRATOR
            else:
                action, why = Action.DELETE, _DELETED
        elif table == "consent_register_versions":
            action, why = Action.KEEP, KEEP_IMPORT
        elif table == "consent_pupils":
            action, why = (Action.KEEP, KEEP_DO_NOT_PUBLISH) if f.get("do_not_publish") else (Action.DELETE, _PUPIL)
        elif table == "consent_pupil_consents":
            kept = (str(f.get("version_id")), str(f.get("pupil_id"))) in pupils_kept
            action, why = (Action.KEEP, KEEP_DO_NOT_PUBLISH) if kept else (Action.DELETE, _PUPIL)
        elif table == "consent_do_not_photograph":
            action, why = (Action.KEEP, KEEP_DO_NOT_PHOTOGRAPH) if f.get("cleared_at") is None \
                else (Action.DELETE, _DELETED)
        elif table == "consent_check_log":
            action, why = _check(subject, f)
        elif table == "audit_events":
            action, why = Action.KEEP, KEEP_AUDIT
        elif table == "legal_holds":
            action, why = Action.KEEP, KEEP_HOLD_RECORD
        elif table == "retention_reviews":
            action, why = Action.KEEP, KEEP_REVIEW
        elif table == "data_rights_requests":
            action, why = Action.KEEP, KEEP_RIGHTS_RECORD
        elif table in ("policy_acknowledgements", "policy_notices", "training_records"):
            action, why = _own_row(subject, f)
        elif table == "outbox":
            finished = f.get("status") in ("delivered", "stale", "failed")
            action, why = (Action.DELETE, _DELETED) if finished else (Action.KEEP, KEEP_UNDELIVERED)
        else:
            action, why = Action.KEEP, KEEP_UNKNOWN
        if action is not Action.KEEP and _held(context.holds, reference, f):
            action, why = Action.KEEP, KEEP_HOLD
        decisions.append(Decision(table, record.key, reference, action, why, f))
    return ErasurePlan(tuple(decisions))


KEEP_RECORDED_BY = ("Someone else's record: it names the person only as who recorded it, as the history tables do "
                    "(UK GDPR Art. 5(2) accountability).")


def _own_row(subject: Subject, fields: Mapping[str, Any]) -> tuple[Action, str]:
    """A policy acknowledgement, a notice (offer, reminder, follow-up) or a training record: deleted when it is the
    person's own; kept when it names them only as whoever recorded it (someone else's training)."""
    if subject.appears_in({"aad_object_id": fields.get("aad_object_id"), "name": fields.get("name")}):
        return Action.DELETE, _DELETED
    return Action.KEEP, KEEP_RECORDED_BY


def _check(subject: Subject, fields: Mapping[str, Any]) -> tuple[Action, str]:
    """A photo check: deleted if the person made it or is its only pupil; else their pupil id is redacted."""
    pupils = [str(p) for p in fields.get("pupil_ids") or []]
    others = [p for p in pupils if p not in subject.pupil_ids]
    by_them = str(fields.get("checked_by") or "").lower() in subject.aad_ids
    if by_them or not others or len(others) == len(pupils):
        return Action.DELETE, _DELETED
    return Action.REDACT, _REDACTED


def remaining_pupils(subject: Subject, pupil_ids: Iterable[str]) -> list[str]:
    """A check's pupil ids without the subject's."""
    return [p for p in pupil_ids if p not in subject.pupil_ids]


def tombstone_kind(decision: Decision, context: ErasureContext) -> RecordKind | None:
    """The schedule's kind a decision's tombstone is filed under (None: it leaves none of its own)."""
    if decision.table == "incidents":
        info = context.incidents.get(_int(decision.fields.get("id")) or -1)
        return incident_kind(info.category) if info else None
    if decision.table == "approval_requests":
        info_r = context.requests.get(_int(decision.fields.get("id")) or -1)
        if info_r is None:
            return None
        return RecordKind.ACCOUNT_REQUESTS if info_r.kind is ApprovalKind.NEW_ACCOUNT \
            else RecordKind.PHOTO_EXCEPTION_REQUESTS
    return TOMBSTONE_KINDS.get(decision.table)


# --- rectification ------------------------------------------------------------------------------------------


class NameKind(StrEnum):
    STAFF = "staff"  # a name recorded beside the person's Entra object id
    PUPIL_FIRST = "first_name"
    PUPIL_PREFERRED = "preferred_first_name"
    PUPIL_SURNAME = "surname"


NAME_TITLES: Mapping[NameKind, str] = {
    NameKind.STAFF: "Name as recorded",
    NameKind.PUPIL_FIRST: "Pupil's first name",
    NameKind.PUPIL_PREFERRED: "Pupil's preferred first name",
    NameKind.PUPIL_SURNAME: "Pupil's surname",
}
NAME_MAX = 100  # the consent register's name columns; staff names are cut to it too
NOT_CORRECTED = ("Not corrected here: what people wrote in reports and notes (ask the report's lead to add a "
                 "note), safeguarding reports and allegations (the DSL or the Head Teacher correct the safeguarding "
                 "file), and the history tables and audit trail, which record who acted under the name they had "
                 "then (append-only).")


@dataclass(frozen=True)
class Correctable:
    """One value ``correct`` offers to change, everywhere it is recorded for this person."""

    field_id: str  # the form's input id (f1, f2 ...)
    kind: NameKind
    value: str
    where: tuple[str, ...]  # table titles
    count: int
    ids: tuple[str, ...]  # the Entra object ids (staff) or pupil ids the value is recorded for

    def plain(self) -> dict[str, Any]:
        return {"field_id": self.field_id, "kind": self.kind.value, "value": self.value, "where": list(self.where),
                "count": self.count, "ids": list(self.ids)}

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> Correctable:
        return cls(str(data["field_id"]), NameKind(data["kind"]), str(data["value"]),
                   tuple(str(w) for w in data.get("where", [])), int(data.get("count", 0)),
                   tuple(str(i) for i in data.get("ids", [])))


def clean_name(text: str) -> str:
    """A typed name on one line, trimmed, at most ``NAME_MAX`` characters."""
    return " ".join(str(text).split())[:NAME_MAX]
