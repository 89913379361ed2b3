"""The retention schedule: how long each kind of record the bot keeps is kept, what then happens, and why.

Every kind of record the bot stores has one rule here: its period, the moment the clock starts, what the
retention job (``services/retention.py``) does when the period has run (delete, anonymise, or flag it for a
person's review), and the source of the default. Where the IRMS Information Management Toolkit for Schools or
Keeping Children Safe in Education (KCSIE) sets a period, the default is theirs and any shorter value the
school configures is refused at start-up; elsewhere the period is **the school's choice** and the default is
a conservative one, said so in ``source``. ``docs/privacy.md`` prints the same table.

Child-protection concerns are kept until the child's date of birth + 25 years, then reviewed (IRMS). The bot
does not know dates of birth, so such reports are never deleted by it: once closed they are flagged for the
DSL to transfer to the child's child protection file and review there. Allegations about staff are kept until
the person's normal pension age or 10 years from the allegation, whichever is longer (KCSIE); the bot knows
neither age, so after 10 years they are flagged for review, never deleted.

Legal holds (``LegalHoldTarget``) keep a record, or everything naming a person, out of the job's reach until
the hold is released.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from domain.incidents import Category


class RetentionScheduleError(ValueError):
    """The configured schedule cannot be used; the message names the kind and what to change."""


class RecordKind(StrEnum):
    """Each kind of record the bot keeps (the schedule has exactly one rule per kind)."""

    INCIDENT_SAFEGUARDING = "incident_safeguarding"
    INCIDENT_ALLEGATION = "incident_allegation"
    INCIDENT_DATA_BREACH = "incident_data_breach"
    INCIDENT_GENERAL = "incident_general"
    INCIDENT_GOOD_NEWS = "incident_good_news"
    INCIDENT_TRANSFERRED = "incident_transferred"
    INCIDENT_RECORD_PARTS = "incident_record_parts"
    INCIDENT_CHRONOLOGY = "incident_chronology"
    INCIDENT_SCREENSHOTS = "incident_screenshots"
    INCIDENT_MEDIA_ENQUIRIES = "incident_media_enquiries"
    PHOTO_CHECK_LOG = "photo_check_log"
    CONSENT_REGISTER_VERSIONS = "consent_register_versions"
    DO_NOT_PHOTOGRAPH_REQUESTS = "do_not_photograph_requests"
    ACCOUNT_REQUESTS = "account_requests"
    PHOTO_EXCEPTION_REQUESTS = "photo_exception_requests"
    APPROVAL_HISTORY = "approval_history"
    ACCOUNT_REGISTER = "account_register"
    DELEGATIONS = "delegations"
    ACCOUNT_DRAFTS = "account_drafts"
    AUDIT_TRAIL = "audit_trail"
    CONVERSATION_STATE = "conversation_state"
    CONVERSATION_REFERENCES = "conversation_references"
    CARD_COPIES = "card_copies"
    OUTBOX_CONTENT = "outbox_content"
    ACTIVITY_LEDGER = "activity_ledger"
    LEGAL_HOLDS = "legal_holds"
    TOMBSTONES = "tombstones"
    SUBJECT_ACCESS_EXPORTS = "subject_access_exports"
    GOVERNORS_REPORTS = "governors_reports"
    CLOSED_ACCOUNTS = "closed_accounts"
    DATA_RIGHTS_REQUESTS = "data_rights_requests"
    POLICY_ACKNOWLEDGEMENTS = "policy_acknowledgements"
    TRAINING_RECORDS = "training_records"
    POLICY_NOTICES = "policy_notices"


class Disposal(StrEnum):
    """What happens when a record's period has run."""

    DELETE = "delete"  # removed; a tombstone says what was removed and why
    ANONYMISE = "anonymise"  # names and free text removed, category/dates/status kept for counts
    FLAG = "flag"  # never removed by the bot: flagged for a person's transfer and review
    WITH_RECORD = "with_record"  # removed together with the record it belongs to
    KEEP = "keep"  # not removed by the bot (no personal data, or people decide)


_PERIOD = re.compile(r"^\s*(\d+)\s*(d|day|days|m|month|months|y|year|years)\s*$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Period:
    """A retention period in calendar years, months or days (``6y``, ``18m``, ``90d``)."""

    amount: int
    unit: str  # "d", "m" or "y"

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read ``"6y"``, ``"18 months"``, ``"90d"``.

        Raises:
            ValueError: not a whole number of days, months or years (a negative number is not one).
        """
        match = _PERIOD.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a period: write a whole number of days, months or years, "
                             "e.g. 90d, 18m or 6y")
        return cls(int(match.group(1)), match.group(2)[0].lower())

    def after(self, start: datetime) -> datetime:
        """The moment this period after ``start`` ends (calendar months and years; 29 Feb → 28 Feb)."""
        if self.unit == "d":
            return start + timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "y" else 1)
        year, month = divmod(start.month - 1 + months, 12)
        year += start.year
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        return start.replace(year=year, month=month + 1, day=day)

    def before(self, moment: datetime) -> datetime:
        """The start a record must have for this period to have run by ``moment`` (the run's cut-off)."""
        if self.unit == "d":
            return moment - timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "y" else 1)
        year, month = divmod(moment.month - 1 - months, 12)
        year += moment.year
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day)

    def at_least(self, other: Period) -> bool:
        """Whether this period is as long as ``other`` from any start (compared from a leap day, the worst case)."""
        start = datetime(2024, 2, 29)
        return self.after(start) >= other.after(start)

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        word = {"d": "day", "m": "month", "y": "year"}[self.unit]
        return f"{self.amount} {word}{'' if self.amount == 1 else 's'}"


@dataclass(frozen=True)
class RetentionRule:
    """One kind's rule.

    Attributes:
        period: how long after ``starts`` the disposal happens; None for kinds that follow another record or
            are kept (``WITH_RECORD``, ``KEEP``).
        starts: in words, the moment the clock starts ("the report is closed").
        source: where the default comes from: the IRMS toolkit, KCSIE, or "the school's choice" and why.
        minimum: a period set by law or statutory guidance; a shorter configured value stops the bot.
        zero_allowed: whether 0 is a sensible value (flag at once), or would remove records as they are made.
    """

    kind: RecordKind
    title: str
    disposal: Disposal
    period: Period | None
    starts: str
    source: str
    minimum: Period | None = None
    zero_allowed: bool = False
    follows: RecordKind | None = None

    def cutoff(self, now: datetime) -> datetime | None:
        """Records whose clock started at or before this have passed their period (None: the bot never acts)."""
        if self.period is None or self.disposal in (Disposal.WITH_RECORD, Disposal.KEEP):
            return None
        return self.period.before(now)


_SCHOOLS_CHOICE = "The school's choice (no statutory period or IRMS recommendation covers it)"

DEFAULT_RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        RecordKind.INCIDENT_SAFEGUARDING, "Incident reports about a child's safety (safeguarding: online bullying "
        "of a pupil, extremism / Prevent, an inappropriate image of a pupil, a pupil's safety)",
        Disposal.FLAG, Period(30, "d"), "the report is closed",
        "IRMS Information Management Toolkit for Schools: child protection information is kept until the child's "
        "date of birth + 25 years, then reviewed; KCSIE: the child protection file moves with the child. The bot "
        "does not know dates of birth, so it never deletes these: 30 days after closure (the school's choice) it "
        "flags each for the DSL to transfer to the child's file and review.",
        zero_allowed=True,
    ),
    RetentionRule(
        RecordKind.INCIDENT_ALLEGATION, "Incident reports that are allegations about staff (including contact "
        "with pupils on social media and reports about the Head Teacher)",
        Disposal.FLAG, Period(10, "y"), "the report is received",
        "KCSIE (Part 4, allegations against staff): kept until the person's normal pension age or 10 years from "
        "the allegation, whichever is longer. The bot does not know ages: after 10 years it flags the report for "
        "review, never deletes it. Shorter than 10 years is refused.",
        minimum=Period(10, "y"),
    ),
    RetentionRule(
        RecordKind.INCIDENT_DATA_BREACH, "Incident reports of a personal-data breach",
        Disposal.ANONYMISE, Period(6, "y"), "the report is closed",
        "UK GDPR Article 33(5) requires the breach to be documented but sets no period: the school's choice. "
        "6 years matches the time limit for most civil claims (Limitation Act 1980). Category, dates and status "
        "are kept for the breach log's counts.",
    ),
    RetentionRule(
        RecordKind.INCIDENT_GENERAL, "Other incident reports (offensive content, bullying of staff, negative "
        "comments, copyright, other)",
        Disposal.ANONYMISE, Period(6, "y"), "the report is closed",
        f"{_SCHOOLS_CHOICE}; 6 years matches the time limit for most civil claims (Limitation Act 1980). Category, "
        "dates and status are kept for reports.",
    ),
    RetentionRule(
        RecordKind.INCIDENT_GOOD_NEWS, "Praise and media enquiries",
        Disposal.ANONYMISE, Period(1, "y"), "the report is closed",
        f"{_SCHOOLS_CHOICE}; a year covers the school's annual review of its accounts.",
    ),
    RetentionRule(
        RecordKind.INCIDENT_TRANSFERRED, "Incident reports the DSL (or another handler) has put into the school's "
        "safeguarding system (CPOMS, MyConcern ...) and marked transferred",
        Disposal.ANONYMISE, Period(1, "y"), "the report is closed and marked transferred",
        f"{_SCHOOLS_CHOICE}; KCSIE: the child protection file is the lasting record and moves with the child, so the "
        "bot's copy is a duplicate once transferred; a year answers questions about what was transferred. Until then "
        "the report is never flagged again. Category, dates and status are kept for counts.",
    ),
    RetentionRule(
        RecordKind.INCIDENT_RECORD_PARTS, "A report's safeguarding record: the child's own words, the reporter's view, "
        "the pupils it names",
        Disposal.WITH_RECORD, None, "its report is anonymised",
        "Follows its report (KCSIE record keeping): kept verbatim and append-only while the report is kept, flagged, "
        "transferred or held; removed when the report is anonymised.",
        follows=RecordKind.INCIDENT_GENERAL,
    ),
    RetentionRule(
        RecordKind.INCIDENT_CHRONOLOGY, "An incident's chronology (who did what, notes)",
        Disposal.WITH_RECORD, None, "its report is anonymised",
        "Follows its report: the chronology holds names and notes, so it goes when the report is anonymised and "
        "stays (append-only) while the report is kept, flagged or held.",
        follows=RecordKind.INCIDENT_GENERAL,
    ),
    RetentionRule(
        RecordKind.INCIDENT_MEDIA_ENQUIRIES, "A media enquiry's own fields (who asked, their organisation and "
        "contact details, their deadline, what it was about)",
        Disposal.WITH_RECORD, None, "its report is anonymised",
        "Follows its report (praise and media enquiries): the enquirer's name and contact details are personal "
        "data, removed when the report is anonymised and kept while it is held.",
        follows=RecordKind.INCIDENT_GOOD_NEWS,
    ),
    RetentionRule(
        RecordKind.INCIDENT_SCREENSHOTS, "Screenshots attached to incident reports (not safeguarding ones)",
        Disposal.DELETE, Period(1, "y"), "the report is closed",
        f"{_SCHOOLS_CHOICE}; the policy asks that compromising pictures are deleted, so screenshots go sooner than "
        "the report. Screenshots of safeguarding reports and allegations stay with the flagged report.",
        zero_allowed=True,
    ),
    RetentionRule(
        RecordKind.PHOTO_CHECK_LOG, "The photo-consent check log (who checked which pupils for which purpose)",
        Disposal.DELETE, Period(1, "y"), "the check is made",
        f"{_SCHOOLS_CHOICE}; a year answers a complaint about a photo posted this school year.",
    ),
    RetentionRule(
        RecordKind.CONSENT_REGISTER_VERSIONS, "Superseded versions of the photo-consent register (their pupils)",
        Disposal.DELETE, Period(1, "y"), "the version is imported",
        "IRMS Information Management Toolkit for Schools keeps consent records with the pupil's record at the "
        "school; a superseded copy in the bot is the school's choice: a year of versions to go back to. The "
        "version's date, count and importer are kept; its pupils go. The current version is never removed.",
    ),
    RetentionRule(
        RecordKind.DO_NOT_PHOTOGRAPH_REQUESTS, "Do-not-photograph requests once carried into the MIS and closed",
        Disposal.DELETE, Period(1, "y"), "the request is closed",
        f"{_SCHOOLS_CHOICE}; the MIS holds the lasting record once the data admin has closed the request.",
    ),
    RetentionRule(
        RecordKind.ACCOUNT_REQUESTS, "Requests for a new school social media account (rejected or withdrawn; an "
        "approved one stays while its account is in the register)",
        Disposal.DELETE, Period(6, "y"), "the request is decided or withdrawn",
        f"{_SCHOOLS_CHOICE}; 6 years matches the time limit for most civil claims (Limitation Act 1980).",
    ),
    RetentionRule(
        RecordKind.PHOTO_EXCEPTION_REQUESTS, "Requests to post a photo taken on a personal device (name pupils)",
        Disposal.DELETE, Period(1, "y"), "the request is decided or withdrawn",
        f"{_SCHOOLS_CHOICE}; the exception applies for days, a year answers a complaint about the photo.",
    ),
    RetentionRule(
        RecordKind.APPROVAL_HISTORY, "Approval history (every decision and refused attempt on a request)",
        Disposal.WITH_RECORD, None, "its request is removed",
        "Follows its request (append-only while the request is kept). Refused attempts naming no request follow "
        "the audit trail's period.",
        follows=RecordKind.ACCOUNT_REQUESTS,
    ),
    RetentionRule(
        RecordKind.ACCOUNT_REGISTER, "The register of the school's social media accounts and their administrators",
        Disposal.KEEP, None, "the account is open",
        "Kept while the account is open (policy: Administrator / Moderator hand-over); once the Head Teacher or SLT "
        "mark it closed or transferred it follows closed_accounts. The school's choice.",
    ),
    RetentionRule(
        RecordKind.CLOSED_ACCOUNTS, "Closed or transferred accounts in the register (with their administrators and "
        "the closure's reason)",
        Disposal.DELETE, Period(6, "y"), "the account is closed or transferred",
        f"{_SCHOOLS_CHOICE}; 6 years matches the time limit for most civil claims (Limitation Act 1980). Its "
        "approved request then follows account_requests.",
    ),
    RetentionRule(
        RecordKind.DELEGATIONS, "The Head Teacher's delegations to a deputy",
        Disposal.DELETE, Period(1, "y"), "the delegation ends",
        f"{_SCHOOLS_CHOICE}; decisions made under it keep their own history.",
    ),
    RetentionRule(
        RecordKind.ACCOUNT_DRAFTS, "Unfinished account proposals (drafts)",
        Disposal.DELETE, Period(90, "d"), "the draft was last changed",
        f"{_SCHOOLS_CHOICE}; a draft left for a term is abandoned.",
    ),
    RetentionRule(
        RecordKind.AUDIT_TRAIL, "The audit trail (refusals, views and exports of restricted detail, holds)",
        Disposal.DELETE, Period(2, "y"), "the entry is written",
        f"{_SCHOOLS_CHOICE}; two school years of who saw or tried what. Entries about a held record or person "
        "are kept.",
    ),
    RetentionRule(
        RecordKind.CONVERSATION_STATE, "Conversation state (a dialog in progress, drafts of forms)",
        Disposal.DELETE, Period(90, "d"), "the conversation's state last changed",
        f"{_SCHOOLS_CHOICE}; a dialog untouched for a term is abandoned.",
    ),
    RetentionRule(
        RecordKind.CONVERSATION_REFERENCES, "Where the bot can reach a person (personal chats' references) once "
        "Teams says the chat is gone (the person left or removed the app)",
        Disposal.DELETE, Period(90, "d"), "the chat was last used (and Teams has said it is gone)",
        f"{_SCHOOLS_CHOICE}. A chat Teams still delivers to is kept while the person is at the school: the bot "
        "needs it to reach them (a decider may never type a word). Channel references are kept while in use.",
    ),
    RetentionRule(
        RecordKind.CARD_COPIES, "Where each copy of a card was posted (to update it later)",
        Disposal.WITH_RECORD, None, "its report or request is removed",
        "Follows its report or request.",
        follows=RecordKind.INCIDENT_GENERAL,
    ),
    RetentionRule(
        RecordKind.OUTBOX_CONTENT, "Messages the bot sent or could not send (their content)",
        Disposal.DELETE, Period(30, "d"), "the message was delivered or given up",
        f"{_SCHOOLS_CHOICE}; delivered content is already cleared on delivery; undelivered content goes after a "
        "month. Rows a card copy still points at keep their delivery ids, without content.",
        zero_allowed=True,
    ),
    RetentionRule(
        RecordKind.ACTIVITY_LEDGER, "The duplicate-activity ledger (ids of activities handled, their answers)",
        Disposal.DELETE, Period(2, "d"), "the activity is received",
        f"{_SCHOOLS_CHOICE}; Teams retries within minutes.",
    ),
    RetentionRule(
        RecordKind.LEGAL_HOLDS, "Legal holds once released (who placed them, on what, why)",
        Disposal.DELETE, Period(6, "y"), "the hold is released",
        f"{_SCHOOLS_CHOICE}; 6 years matches the time limit for most civil claims (Limitation Act 1980).",
    ),
    RetentionRule(
        RecordKind.SUBJECT_ACCESS_EXPORTS, "Subject access exports waiting for the DPO to accept the file",
        Disposal.DELETE, Period(1, "d"), "the export is prepared",
        f"{_SCHOOLS_CHOICE}; the file is the DPO's once delivered (kept in their OneDrive, not here); an export "
        "not accepted within a day is removed (the bot also refuses it after 24 hours).",
        zero_allowed=True,
    ),
    RetentionRule(
        RecordKind.DATA_RIGHTS_REQUESTS, "Erasure and rectification requests the DPO carried out (reference, the "
        "DPO's reason, what was done in counts; the person's names only until it is done)",
        Disposal.DELETE, Period(6, "y"), "the erasure or correction is done",
        f"{_SCHOOLS_CHOICE}; UK GDPR Art. 5(2) asks the school to show it acted on the request; 6 years matches the "
        "time limit for most civil claims (Limitation Act 1980). One not confirmed within a day is removed.",
    ),
    RetentionRule(
        RecordKind.GOVERNORS_REPORTS, "Termly reports to the governing body (figures only, no personal data; the "
        "PDF and its figures)",
        Disposal.KEEP, None, "the report is made",
        "IRMS Information Management Toolkit for Schools (governing body): reports presented to the governing body "
        "are kept for as long as the minutes they belong to, and the principal set of minutes permanently. They "
        "hold no personal data, so the bot never removes them; the governing body decides.",
    ),
    RetentionRule(
        RecordKind.POLICY_ACKNOWLEDGEMENTS, "Staff's confirmations that they have read a version of the policy (who, "
        "which version, when)",
        Disposal.KEEP, None, "the member of staff confirms reading it",
        f"{_SCHOOLS_CHOICE}; conservatively kept while the person is at the school: the SLT \u201cmust be satisfied "
        "that anyone running a social media account on behalf of the school has read and understood this policy\u201d "
        "(Process for creating new accounts). The bot never removes them: the school decides (erase does not cover "
        "them yet).",
    ),
    RetentionRule(
        RecordKind.TRAINING_RECORDS, "Social media training SLT recorded (who, when, what, who recorded it)",
        Disposal.KEEP, None, "the training is recorded",
        f"{_SCHOOLS_CHOICE}; conservatively kept while the person is at the school, as evidence that runners of "
        "school accounts \u201creceived appropriate training\u201d (Process for creating new accounts). The bot never "
        "removes them; the school may set a period after a person leaves (e.g. 6 years, Limitation Act 1980).",
    ),
    RetentionRule(
        RecordKind.POLICY_NOTICES, "What the bot offered or sent once about the policy (key points offered, reminders, "
        "training follow-ups, the review reminder: the person, the day, how many times)",
        Disposal.KEEP, None, "the notice is first sent",
        f"{_SCHOOLS_CHOICE}; a few rows per person and version of the policy, needed so nobody is reminded twice. "
        "The bot never removes them: the school decides (erase does not cover them yet).",
    ),
    RetentionRule(
        RecordKind.TOMBSTONES, "Tombstones (reference, kind, dates and why a record was removed; no names)",
        Disposal.KEEP, None, "the record is removed",
        "The school's choice: they hold no personal data and prove what the schedule removed.",
    ),
)


@dataclass(frozen=True)
class RetentionSchedule:
    """The rules in force: the defaults with the school's overrides applied and checked."""

    rules: Mapping[RecordKind, RetentionRule]

    def rule(self, kind: RecordKind) -> RetentionRule:
        return self.rules[kind]

    def listed(self) -> list[RetentionRule]:
        """Every rule, in the schedule's order."""
        return list(self.rules.values())


def build_schedule(overrides: Mapping[str, str] | None = None) -> RetentionSchedule:
    """The defaults, with ``overrides`` (kind → period text, e.g. ``{"audit_trail": "3y"}``) applied.

    Raises:
        RetentionScheduleError: an unknown kind, a period that cannot be read, zero where records would go as
            they are made, a period for a kind that follows another or is kept, or shorter than the law's minimum.
    """
    rules = {rule.kind: rule for rule in DEFAULT_RULES}
    for name, text in (overrides or {}).items():
        try:
            kind = RecordKind(str(name).strip().lower())
        except ValueError:
            known = ", ".join(k.value for k in RecordKind)
            raise RetentionScheduleError(f"{name!r} is not a kind of record the bot keeps. Kinds: {known}.") from None
        rule = rules[kind]
        if rule.period is None:
            raise RetentionScheduleError(
                f"{kind.value}: has no period of its own ({rule.source}). Remove it from the schedule."
            )
        try:
            period = Period.parse(str(text))
        except ValueError as problem:
            raise RetentionScheduleError(f"{kind.value}: {problem}") from None
        if period.is_zero and not rule.zero_allowed:
            raise RetentionScheduleError(
                f"{kind.value}: 0 would remove each record as soon as it is made. Give a period of at least a day."
            )
        if rule.minimum is not None and not period.at_least(rule.minimum):
            raise RetentionScheduleError(
                f"{kind.value}: {period} is shorter than the {rule.minimum} the law requires ({rule.source})"
            )
        rules[kind] = replace(rule, period=period)
    return RetentionSchedule(rules)


# --- incidents: which rule a report follows ----------------------------------------------------------------

INCIDENT_KINDS: Mapping[Category, RecordKind] = {
    Category.BULLYING_PUPIL: RecordKind.INCIDENT_SAFEGUARDING,
    Category.EXTREMISM: RecordKind.INCIDENT_SAFEGUARDING,
    Category.INAPPROPRIATE_IMAGE: RecordKind.INCIDENT_SAFEGUARDING,
    Category.PUPIL_SAFETY: RecordKind.INCIDENT_SAFEGUARDING,
    Category.STAFF_PUPIL_CONTACT: RecordKind.INCIDENT_ALLEGATION,
    Category.ALLEGATION_ABOUT_STAFF: RecordKind.INCIDENT_ALLEGATION,
    Category.ABOUT_HEAD_TEACHER: RecordKind.INCIDENT_ALLEGATION,
    Category.DATA_BREACH: RecordKind.INCIDENT_DATA_BREACH,
    Category.PRAISE: RecordKind.INCIDENT_GOOD_NEWS,
    Category.MEDIA_ENQUIRY: RecordKind.INCIDENT_GOOD_NEWS,
    Category.OFFENSIVE_CONTENT: RecordKind.INCIDENT_GENERAL,
    Category.BULLYING_STAFF: RecordKind.INCIDENT_GENERAL,
    Category.NEGATIVE_COMMENT: RecordKind.INCIDENT_GENERAL,
    Category.COPYRIGHT: RecordKind.INCIDENT_GENERAL,
    Category.OTHER: RecordKind.INCIDENT_GENERAL,
}


def incident_kind(category: Category) -> RecordKind:
    return INCIDENT_KINDS[category]


def keeps_screenshots(category: Category) -> bool:
    """Screenshots of flagged reports (safeguarding, allegations) stay with the report for the DSL's review."""
    return incident_kind(category) in (RecordKind.INCIDENT_SAFEGUARDING, RecordKind.INCIDENT_ALLEGATION)


# --- legal holds ----------------------------------------------------------------------------------------------


class HoldKind(StrEnum):
    INCIDENT = "incident"  # one report, by its reference (INC-2026-0004)
    APPROVAL = "approval"  # one request, by its reference (ACC-2026-0002, PHO-...)
    PERSON = "person"  # everything naming a person (by Entra object id, and by name in free text)


_INCIDENT_REF = re.compile(r"^INC-\d{4}-\d{4,}$", re.IGNORECASE)
_APPROVAL_REF = re.compile(r"^[A-Z]{3}-\d{4}-\d{4,}$", re.IGNORECASE)
_BECAUSE = re.compile(r"\s+because\s+", re.IGNORECASE)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_MIN_NAME_LENGTH = 3  # a shorter name would match inside unrelated words
_REASON_MAX = 500


class HoldCommandError(ValueError):
    """What was typed is not a hold; the message says how to type it."""


@dataclass(frozen=True)
class HoldRequest:
    """``legal hold <what> because <reason>`` as typed, before the person (if any) is looked up."""

    kind: HoldKind
    target: str  # the reference (upper case) or the person as typed
    reason: str


def target_kind(target: str) -> HoldKind:
    """What a typed target names: a report's reference, a request's reference, or a person."""
    text = target.strip()
    if _INCIDENT_REF.match(text):
        return HoldKind.INCIDENT
    if _APPROVAL_REF.match(text):
        return HoldKind.APPROVAL
    return HoldKind.PERSON


def parse_hold(argument: str) -> HoldRequest:
    """Read ``<reference or person> because <reason>``.

    Raises:
        HoldCommandError: no ``because``, no target, no reason, or a name too short to find anyone by.
    """
    parts = _BECAUSE.split(argument.strip(), maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise HoldCommandError(
            "Type **legal hold** + a report's or request's reference, or a person, + **because** + the reason, "
            "e.g. *legal hold INC-2026-0004 because the LADO is investigating*."
        )
    target, reason = parts[0].strip(), parts[1].strip()[:_REASON_MAX]
    kind = target_kind(target)
    if kind is HoldKind.PERSON and len(target) < _MIN_NAME_LENGTH:
        raise HoldCommandError("Give the person's full name (or their Entra object id).")
    return HoldRequest(kind, target.upper() if kind is not HoldKind.PERSON else target, reason)


def hold_reference(hold_id: int) -> str:
    """How the audit trail's entry about a hold is matched while the hold is in force."""
    return f"HOLD-{hold_id}"


def looks_like_object_id(text: str) -> bool:
    return bool(_GUID.match(text.strip()))


@dataclass(frozen=True)
class LegalHold:
    """A hold in force (or released)."""

    id: int
    kind: HoldKind
    target: str  # reference, or the person's Entra object id ("" when held by name only)
    person_name: str | None
    reason: str
    placed_by_name: str
    placed_at: datetime
    released_at: datetime | None = None

    @property
    def label(self) -> str:
        if self.kind is HoldKind.PERSON:
            return self.person_name or self.target
        return self.target


@dataclass(frozen=True)
class Holds:
    """Every hold in force: answers whether a record is held."""

    holds: tuple[LegalHold, ...] = ()
    references: frozenset[str] = field(init=False)
    people_ids: frozenset[str] = field(init=False)
    people_names: tuple[str, ...] = field(init=False)
    _names: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        active = [h for h in self.holds if h.released_at is None]
        object.__setattr__(self, "references", frozenset(
            [h.target.upper() for h in active if h.kind is not HoldKind.PERSON]
            + [hold_reference(h.id) for h in active]))  # the audit trail's entries about a hold in force
        object.__setattr__(self, "people_ids", frozenset(h.target.lower() for h in active
                                                         if h.kind is HoldKind.PERSON and h.target))
        object.__setattr__(self, "people_names", tuple(h.person_name.lower() for h in active
                                                       if h.kind is HoldKind.PERSON and h.person_name))
        names = "|".join(re.escape(" ".join(name.split())).replace(r"\ ", r"\s+") for name in self.people_names)
        object.__setattr__(self, "_names", re.compile(rf"\b(?:{names})\b", re.IGNORECASE) if names else None)

    def covers(self, reference: str | None, people: Iterable[str | None] = (),
               texts: Iterable[str | None] = ()) -> bool:
        """Whether a record is held: by its reference, a person it names by id, or a held name in its text."""
        if reference and reference.upper() in self.references:
            return True
        if any(p and p.lower() in self.people_ids for p in people):
            return True
        if self._names is not None:
            return any(self._names.search(text) for text in texts if text)
        return False


# --- what a run does: the plan (the preview shows it; the run applies it) ------------------------------------


@dataclass(frozen=True)
class PlannedItem:
    """One record (or, for high-volume kinds, a batch of rows) the next run removes, anonymises or flags."""

    kind: RecordKind
    disposal: Disposal
    ids: tuple[int | str, ...]
    reference: str | None  # None: a batch of rows of a high-volume kind
    first_at: datetime | None
    last_at: datetime | None
    category: str | None = None
    status: str | None = None

    @property
    def count(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class KeptItem:
    """A record past its period that the run leaves alone because of a legal hold."""

    kind: RecordKind
    reference: str | None
    count: int = 1


@dataclass(frozen=True)
class RetentionPlan:
    """What the next run will do, computed from the schedule, the holds and the flags in force."""

    items: tuple[PlannedItem, ...] = ()
    held: tuple[KeptItem, ...] = ()
    more_to_do: bool = False  # a kind had more than one batch: the next run follows soon

    @property
    def is_empty(self) -> bool:
        return not self.items

    def of(self, disposal: Disposal) -> list[PlannedItem]:
        return [item for item in self.items if item.disposal is disposal]

    def counts(self) -> dict[str, int]:
        """Records per disposal (``delete``, ``anonymise``, ``flag``) and ``held``, for the DPO's card and logs."""
        totals = {d.value: 0 for d in (Disposal.DELETE, Disposal.ANONYMISE, Disposal.FLAG)}
        for item in self.items:
            totals[item.disposal.value] += item.count
        totals["held"] = sum(item.count for item in self.held)
        return totals

    def comparable(self) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
        """The plan as plain values (to compare a preview with the run that followed it)."""
        return sorted((i.kind.value, i.disposal.value, i.reference, tuple(sorted(map(str, i.ids))))
                      for i in self.items)
