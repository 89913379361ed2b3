"""New school social media accounts: the business case, its checks, and the account register's rules.

Policy, "Process for creating new accounts": anyone wishing to create an account "must present a business
case to the Head Teacher which covers the following points: the aim of the account; the intended audience;
how the account will be promoted; who will run the account (at least two staff members should be named);
will the account be open or private/closed." "The SLT must be satisfied that anyone running a social media
account on behalf of the school has read and understood this policy and received appropriate training."
"Monitoring": accounts "must be monitored regularly and frequently (including during holidays)."
"Roles & Responsibilities, Administrator / Moderator": "Store account details, including passwords
securely" and "Control the process for managing an account after the lead staff member has left the
organisation (closing or transferring)."

So the business case here has exactly those points, plus the platform and proposed name (to put the
account in the register), and a monitoring plan with holiday cover. Whether each runner has read the policy
and been trained is never asked on the form (issue 17): it comes from the school's records (their acknowledgement of
the current policy, the training SLT recorded), looked up on the server when the case is sent (`with_records`). A
runner with no training recorded is "training to follow": the Head Teacher confirms, and SLT are reminded. The bot
never asks for or keeps passwords: a field that looks like one is refused.

Pure: no Bot Framework, no database. `validate_form` takes the raw values of the card and the people the
runner ids resolve to (looked up by the caller), and returns a case or what to fix, per field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from domain.roles import Person


@dataclass(frozen=True)
class PolicyQuote:
    section: str
    text: str  # verbatim from the school's policy


Q_BUSINESS_CASE = PolicyQuote(
    "Process for creating new accounts",
    "Anyone wishing to create such an account must present a business case to the Head Teacher",
)
Q_TWO_STAFF = PolicyQuote(
    "Process for creating new accounts", "Who will run the account (at least two staff members should be named);"
)
Q_TRAINING = PolicyQuote(
    "Process for creating new accounts",
    "the SLT must be satisfied that anyone running a social media account on behalf of the school has read and "
    "understood this policy and received appropriate training.",
)
Q_DECISION = PolicyQuote(
    "Process for creating new accounts",
    "Following consideration by the Head Teacher and SLT, an application will be approved or rejected.",
)
Q_HEAD_APPROVES = PolicyQuote(
    "Roles & Responsibilities (SLT)",
    "All Social Media accounts must be approved by the Head Teacher in advance of any educational work being "
    "undertaken.",
)
Q_MONITORING = PolicyQuote(
    "Monitoring",
    "The school's social media accounts must be monitored regularly and frequently (including during holidays).",
)
Q_PASSWORDS = PolicyQuote("Roles & Responsibilities (Administrator / Moderator)",
                          "Store account details, including passwords securely")
Q_HANDOVER = PolicyQuote(
    "Roles & Responsibilities (Administrator / Moderator)",
    "Control the process for managing an account after the lead staff member has left the organisation "
    "(closing or transferring).",
)

RUNNER_RECORDS_TITLE = "policy and training (school records when sent)"
MIN_RUNNERS = 2  # "at least two staff members should be named"
MAX_RUNNERS = 4  # runner slots on the form; more can be added to the register by SLT later


class Platform(StrEnum):
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    X = "x"
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"
    LINKEDIN = "linkedin"
    WHATSAPP = "whatsapp"
    OTHER = "other"


PLATFORM_TITLES: Mapping[Platform, str] = {
    Platform.FACEBOOK: "Facebook",
    Platform.INSTAGRAM: "Instagram",
    Platform.X: "X (Twitter)",
    Platform.YOUTUBE: "YouTube",
    Platform.TIKTOK: "TikTok",
    Platform.LINKEDIN: "LinkedIn",
    Platform.WHATSAPP: "WhatsApp",
    Platform.OTHER: "Another platform",
}


class Visibility(StrEnum):
    OPEN = "open"
    PRIVATE = "private"


VISIBILITY_TITLES: Mapping[Visibility, str] = {
    Visibility.OPEN: "Open (anyone can see it)",
    Visibility.PRIVATE: "Private / closed (approved members only)",
}


class Training(StrEnum):
    """An administrator's training as the register keeps it; also the applicant's own answer in business cases sent
    before training was taken from the school's records (those still load and show, marked as the applicant's word).
    """

    CONFIRMED = "confirmed"  # trained (from the records; in an older case, the applicant said so)
    REQUESTED = "requested"  # training to follow (no training recorded; in an older case, the applicant asked)


# How a business case sent before issue 17's records shows the applicant's own answer.
LEGACY_TRAINING_TITLES: Mapping[Training, str] = {
    Training.CONFIRMED: "the applicant said they have read the policy and been trained",
    Training.REQUESTED: "the applicant asked for training",
}


@dataclass(frozen=True)
class RunnerRecord:
    """A runner's standing in the school's records when the case is sent (issue 17).

    Attributes:
        acknowledged_on: when they confirmed reading the current version of the policy (None: not yet).
        trained_on, course: their latest social media training SLT recorded (None: none recorded).
    """

    acknowledged_on: date | None = None
    trained_on: date | None = None
    course: str | None = None


class FormField(StrEnum):
    """The ids of the form's inputs (the card and the checks share them)."""

    PLATFORM = "platform"
    PLATFORM_OTHER = "platform_other"
    ACCOUNT_NAME = "account_name"
    AIM = "aim"
    AUDIENCE = "audience"
    PROMOTION = "promotion"
    VISIBILITY = "visibility"
    MONITORING_PLAN = "monitoring_plan"
    HOLIDAY_MONITORING = "holiday_monitoring"
    RUNNERS = "runners"  # errors about the runners as a whole (too few, the same person twice)


def runner_field(slot: int) -> str:
    return f"runner_{slot}"


TEXT_LIMITS: Mapping[FormField, int] = {
    FormField.PLATFORM_OTHER: 50,
    FormField.ACCOUNT_NAME: 100,
    FormField.AIM: 1000,
    FormField.AUDIENCE: 500,
    FormField.PROMOTION: 500,
    FormField.MONITORING_PLAN: 1000,
    FormField.HOLIDAY_MONITORING: 500,
}

FIELD_TITLES: Mapping[FormField, str] = {
    FormField.PLATFORM: "Platform",
    FormField.PLATFORM_OTHER: "Which platform",
    FormField.ACCOUNT_NAME: "Proposed account name",
    FormField.AIM: "Aim of the account",
    FormField.AUDIENCE: "Intended audience",
    FormField.PROMOTION: "How it will be promoted",
    FormField.VISIBILITY: "Open or private",
    FormField.MONITORING_PLAN: "Monitoring plan (term time)",
    FormField.HOLIDAY_MONITORING: "Monitoring during school holidays",
    FormField.RUNNERS: "Who will run it",
}

_REQUIRED_TEXT = (
    FormField.ACCOUNT_NAME, FormField.AIM, FormField.AUDIENCE, FormField.PROMOTION,
    FormField.MONITORING_PLAN, FormField.HOLIDAY_MONITORING,
)
_SECRET_WORDS = r"\b(password|passwd|passcode|pass word|pwd|pin code|pin|login details|login)\b"
_SECRET = re.compile(
    _SECRET_WORDS + r"\s*(?:[:=\-]\s*\S|is\s+(?![a-z]+\b)\S)",  # "password: x", or "password is Y6rocks!"
    re.IGNORECASE,
)
_PASSWORD_MESSAGE = (
    "This looks like a password or login: please take it out. The bot never asks for or stores passwords; "
    "the account's administrators keep them securely, as the policy says."
)
# Issue 19 (2): answers that rule monitoring out, which the policy does not allow (Q_MONITORING): "None", "n/a",
# "not monitored", "term time only", "we don't check it in the holidays"...
_NO_MONITORING = re.compile(
    r"^\W*(none|no|nope|nil|nothing|n/?a|nobody|no one|no-one|not applicable|not needed|not required|never|-+)\W*$"
    r"|^\W*(nobody|no one|no-one|none)\b"
    r"|\b(no monitoring|not (be )?monitored|won'?t be (monitored|checked)|will not be (monitored|checked)"
    r"|closed (over|during|in) the holidays|term[- ]time only|only in term"
    r"|not (checked|monitored) (in|during|over) the holidays"
    r"|(don'?t|do not|won'?t|will not) (check|monitor|look at) it)\b",
    re.IGNORECASE,
)


def monitoring_problem(field: str, text: str) -> str | None:
    """What the policy says against a monitoring answer that rules monitoring out (None: it does not)."""
    if not _NO_MONITORING.search(" ".join(text.split())):
        return None
    when = "during the school holidays" if field == FormField.HOLIDAY_MONITORING else "in term time"
    return (f"The policy says: \u201c{Q_MONITORING.text}\u201d Say who will check the account {when}, and how "
            "often.")


# --- the business case -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _day(day: date) -> str:
    return day.strftime("%-d %b %Y")


class Runner(_Model):
    """A named member of staff who will run the account (an administrator in the register).

    Attributes:
        training: only in a case sent before issue 17: the applicant's own answer (kept so it loads and shows).
        records_read: the school's records were looked up for this runner when the case was sent; then
            ``policy_acknowledged_on``, ``trained_on`` and ``training_course`` are what they said.
    """

    aad_object_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=256)
    training: Training | None = None
    records_read: bool = False
    policy_acknowledged_on: date | None = None
    trained_on: date | None = None
    training_course: str | None = Field(default=None, max_length=200)

    @property
    def needs_training(self) -> bool:
        """No training recorded when the case was sent (an older case: the applicant asked for training)."""
        if self.records_read:
            return self.trained_on is None
        return self.training is not Training.CONFIRMED

    @property
    def register_training(self) -> Training:
        """What the account register keeps for this administrator."""
        return Training.REQUESTED if self.needs_training else Training.CONFIRMED

    def standing_text(self, *, short: bool = False) -> str:
        """``read the policy on 24 Nov 2026; trained on 12 Nov 2026 (Online safety)``, from the school's records
        (an older case: the applicant's word, said so); ``short`` leaves out what the training was (one line)."""
        if not self.records_read:
            return LEGACY_TRAINING_TITLES[self.training] if self.training else "not known"
        read = (f"read the policy on {_day(self.policy_acknowledged_on)}" if self.policy_acknowledged_on
                else "has not confirmed reading the current policy")
        trained = "no training recorded"
        if self.trained_on:
            trained = f"trained on {_day(self.trained_on)}" + ("" if short else f" ({self.training_course})")
        return f"{read}; {trained}"

    def standing(self) -> str:
        """``Lee Carter: read the policy on 24 Nov 2026; trained on 12 Nov 2026 (Online safety)``."""
        return f"{self.name}: {self.standing_text()}"

    def with_record(self, record: RunnerRecord | None) -> Runner:
        """This runner with their standing from the school's records (None: nothing recorded); any answer the form
        carried is dropped: the records decide."""
        record = record or RunnerRecord()
        return self.model_copy(update={
            "training": None, "records_read": True, "policy_acknowledged_on": record.acknowledged_on,
            "trained_on": record.trained_on if record.trained_on else None,
            "training_course": (record.course or "")[:200] if record.trained_on else None,
        })


class AccountCase(_Model):
    """The business case the Head Teacher decides on (the approval payload of kind `new_account`)."""

    platform: Platform
    platform_other: str | None = None
    account_name: str
    aim: str
    audience: str
    promotion: str
    runners: tuple[Runner, ...] = Field(min_length=MIN_RUNNERS, max_length=MAX_RUNNERS)
    visibility: Visibility
    monitoring_plan: str
    holiday_monitoring: str

    @property
    def platform_title(self) -> str:
        if self.platform is Platform.OTHER and self.platform_other:
            return self.platform_other
        return PLATFORM_TITLES[self.platform]

    @property
    def runner_names(self) -> list[str]:
        return [runner.name for runner in self.runners]

    @property
    def needs_training(self) -> list[Runner]:
        """The runners with no training recorded when the case was sent (an older case: training requested)."""
        return [runner for runner in self.runners if runner.needs_training]

    @property
    def from_records(self) -> bool:
        """Each runner's standing came from the school's records (False: a case sent before issue 17)."""
        return all(runner.records_read for runner in self.runners)

    def with_records(self, records: Mapping[str, RunnerRecord]) -> AccountCase:
        """The case with each runner's standing from the school's records (keyed by lower-case Entra id)."""
        return self.model_copy(update={"runners": tuple(
            runner.with_record(records.get(runner.aad_object_id.lower())) for runner in self.runners)})

    def to_form(self) -> dict[str, str]:
        """The case as the form's input values (to edit it after changes were requested)."""
        values = {
            FormField.PLATFORM.value: self.platform.value,
            FormField.PLATFORM_OTHER.value: self.platform_other or "",
            FormField.ACCOUNT_NAME.value: self.account_name,
            FormField.AIM.value: self.aim,
            FormField.AUDIENCE.value: self.audience,
            FormField.PROMOTION.value: self.promotion,
            FormField.VISIBILITY.value: self.visibility.value,
            FormField.MONITORING_PLAN.value: self.monitoring_plan,
            FormField.HOLIDAY_MONITORING.value: self.holiday_monitoring,
        }
        for slot, runner in enumerate(self.runners, start=1):
            values[runner_field(slot)] = runner.aad_object_id
        return values

    def facts(self) -> list[tuple[str, str]]:
        """The whole case, label → value, for the Head Teacher's card."""
        return [
            ("Platform", self.platform_title),
            (FIELD_TITLES[FormField.ACCOUNT_NAME], self.account_name),
            (FIELD_TITLES[FormField.AIM], self.aim),
            (FIELD_TITLES[FormField.AUDIENCE], self.audience),
            (FIELD_TITLES[FormField.PROMOTION], self.promotion),
            (FIELD_TITLES[FormField.RUNNERS], ", ".join(self.runner_names)),
            ("Open or private", VISIBILITY_TITLES[self.visibility]),
            (FIELD_TITLES[FormField.MONITORING_PLAN], self.monitoring_plan),
            (FIELD_TITLES[FormField.HOLIDAY_MONITORING], self.holiday_monitoring),
            *[(f"{runner.name}: {RUNNER_RECORDS_TITLE if runner.records_read else 'policy and training'}",
               runner.standing_text()) for runner in self.runners],
        ]

    def slt_facts(self) -> list[tuple[str, str]]:
        """What the SLT channel sees: the account, and of people only the runners' names."""
        return [
            ("Platform", self.platform_title),
            (FIELD_TITLES[FormField.ACCOUNT_NAME], self.account_name),
            (FIELD_TITLES[FormField.AUDIENCE], self.audience),
            ("Open or private", VISIBILITY_TITLES[self.visibility]),
            (FIELD_TITLES[FormField.RUNNERS], ", ".join(self.runner_names)),
        ]

    def title(self) -> str:
        return f"{self.platform_title}: {self.account_name}"


CHANGE_NAMES: Mapping[str, str] = {
    "platform": "platform", "platform_other": "platform", "account_name": "account name", "aim": "aim",
    "audience": "audience", "promotion": "promotion", "visibility": "open or private", "runners": "runners",
    "monitoring_plan": "monitoring plan", "holiday_monitoring": "holiday monitoring",
}


def changed_fields(before: AccountCase, after: AccountCase) -> list[str]:
    """What a resubmitted business case changed since the version before, in the form's words and order
    (e.g. ``["aim", "runners"]``). Runners change when a different person is named; their standing in the records
    (looked up again when the case is sent) is not something the applicant changed."""
    changed: list[str] = []
    for name in AccountCase.model_fields:
        said = CHANGE_NAMES.get(name, name.replace("_", " "))
        if name == "runners":
            differs = _who(before.runners) != _who(after.runners)
        else:
            differs = getattr(before, name) != getattr(after, name)
        if differs and said not in changed:
            changed.append(said)
    return changed


def _who(runners: Sequence[Runner]) -> list[tuple[str, str]]:
    return [(runner.aad_object_id.lower(), runner.name) for runner in runners]


# --- checking the form -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffMember:
    """A person a runner id resolves to (from the directory and the people the bot knows).

    Attributes:
        in_directory: still at the school (False: the directory says they have left).
        checked: the directory answered (False: it could not be asked just now, and the bot knows no name).
    """

    aad_object_id: str
    name: str
    in_directory: bool = True
    checked: bool = True


@runtime_checkable
class StaffDirectory(Protocol):
    """What the runner slots ask of the school's directory (``directory.static``, ``directory.graph``): anyone on
    the staff list can be named, not only the people who have opened the bot.

    Attributes:
        lists_everyone: the directory sees the whole tenant (Graph), so someone it does not name as staff is not
            staff; a configuration file lists only whom the school wrote in it.
    """

    lists_everyone: bool

    async def staff_member(self, aad_object_id: str) -> Person | None:
        """The member of staff with this Entra object id (with the name the directory gives them), or None: not
        on the school's staff list (unknown, left, a guest).

        Raises:
            DirectoryUnavailableError: the directory cannot answer now.
        """
        ...

    async def search_staff(self, text: str, *, limit: int = 10) -> list[Person]:
        """Staff whose name matches ``text`` (the runner slot's typeahead).

        Raises:
            DirectoryUnavailableError: the directory cannot answer now.
        """
        ...


NOT_STAFF_MESSAGE = ("This person is not on the school's staff list, so they can't be named to run a school account: "
                     "choose a member of staff.")
DIRECTORY_DOWN_MESSAGE = ("I can't check this person against the school's staff list just now: try again in a few "
                          "minutes, or choose someone else.")


@dataclass(frozen=True)
class FormCheck:
    """The result of checking a form: a case, or what to fix (input id → message)."""

    case: AccountCase | None
    errors: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return self.case is not None


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def runner_ids(values: Mapping[str, Any]) -> list[str]:
    """The runner ids chosen on the form, in slot order (blank slots left out)."""
    return [_text(values, runner_field(slot)) for slot in range(1, MAX_RUNNERS + 1)
            if _text(values, runner_field(slot))]


def validate_form(values: Mapping[str, Any], people: Mapping[str, StaffMember]) -> FormCheck:
    """Check the business case as typed on the form.

    Args:
        values: the card's input values (ids from `FormField`, `runner_field`); anything else (an old form's
            training answer, say) is ignored: the runners' standing comes from the records (`with_records`).
        people: what each chosen runner value (an Entra object id, or a Teams user id) resolves to; a value
            missing here is someone the bot cannot identify.

    Returns:
        A case when nothing needs fixing; otherwise every problem at once, per input, in plain words.
    """
    errors: dict[str, str] = {}
    platform_text = _text(values, FormField.PLATFORM)
    platform: Platform | None = None
    try:
        platform = Platform(platform_text)
    except ValueError:
        errors[FormField.PLATFORM] = "Choose the platform."
    platform_other = _text(values, FormField.PLATFORM_OTHER) or None
    if platform is Platform.OTHER and not platform_other:
        errors[FormField.PLATFORM_OTHER] = "Say which platform."
    for name in _REQUIRED_TEXT:
        if not _text(values, name):
            errors[name] = f"Fill in: {FIELD_TITLES[name].lower()}."
    for name in (FormField.MONITORING_PLAN, FormField.HOLIDAY_MONITORING):
        ruled_out = monitoring_problem(name, _text(values, name))
        if ruled_out:
            errors[name] = ruled_out
    for name, limit in TEXT_LIMITS.items():
        text = _text(values, name)
        if len(text) > limit:
            errors[name] = f"Too long: {len(text)} characters, at most {limit}."
        elif text and _SECRET.search(text):
            errors[name] = _PASSWORD_MESSAGE
    visibility: Visibility | None = None
    try:
        visibility = Visibility(_text(values, FormField.VISIBILITY))
    except ValueError:
        errors[FormField.VISIBILITY] = "Choose open or private."

    runners: list[Runner] = []
    seen: dict[str, int] = {}
    repeated = False
    for slot in range(1, MAX_RUNNERS + 1):
        chosen = _text(values, runner_field(slot))
        if not chosen:
            continue
        person = people.get(chosen) or next((p for k, p in people.items() if k.lower() == chosen.lower()), None)
        key = person.aad_object_id.lower() if person else chosen.lower()  # one person, however they were chosen
        if key in seen:
            repeated = True
            errors[runner_field(slot)] = (
                f"The same person is already runner {seen[key]}: the policy asks for at least two different "
                "members of staff."
            )
            continue
        seen[key] = slot
        if person is None:
            errors[runner_field(slot)] = NOT_STAFF_MESSAGE
            continue
        if not person.checked:
            errors[runner_field(slot)] = DIRECTORY_DOWN_MESSAGE
            continue
        if not person.in_directory:
            errors[runner_field(slot)] = f"{person.name} is no longer in the school's directory: choose someone else."
            continue
        runners.append(Runner(aad_object_id=person.aad_object_id, name=person.name))
    if len(seen) < MIN_RUNNERS and not repeated:
        errors[FormField.RUNNERS] = (
            f"Name at least {MIN_RUNNERS} different members of staff who will run the account "
            f"(the policy: \u201c{Q_TWO_STAFF.text}\u201d)."
        )
    if errors or platform is None or visibility is None:
        return FormCheck(case=None, errors={str(name): message for name, message in errors.items()})
    return FormCheck(
        case=AccountCase(
            platform=platform,
            platform_other=platform_other if platform is Platform.OTHER else None,
            account_name=_text(values, FormField.ACCOUNT_NAME),
            aim=_text(values, FormField.AIM),
            audience=_text(values, FormField.AUDIENCE),
            promotion=_text(values, FormField.PROMOTION),
            runners=tuple(runners),
            visibility=visibility,
            monitoring_plan=_text(values, FormField.MONITORING_PLAN),
            holiday_monitoring=_text(values, FormField.HOLIDAY_MONITORING),
        ),
        errors={},
    )


def form_values(data: Mapping[str, Any]) -> dict[str, str]:
    """Only the form's own inputs from a card payload, as strings (what a draft keeps)."""
    names = [field.value for field in FormField if field is not FormField.RUNNERS]
    names += [runner_field(slot) for slot in range(1, MAX_RUNNERS + 1)]
    return {name: str(data[name]) for name in names if isinstance(data.get(name), (str, int)) and str(data[name])}


# --- the account register --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Administrator:
    aad_object_id: str
    name: str
    training: Training


@dataclass(frozen=True)
class RegisteredAccount:
    """An approved school account as the register keeps it (no passwords, ever)."""

    id: int
    platform: str  # the platform's title
    account_name: str
    audience: str
    visibility: Visibility
    approval_reference: str
    approved_at: Any
    approved_by_name: str
    administrators: tuple[Administrator, ...]
    closure: AccountClosure | None = None  # closed or transferred (domain/account_register.py): no longer in use

    @property
    def is_open(self) -> bool:
        return self.closure is None


@dataclass(frozen=True)
class AccountClosure:
    """How an account left the school's use (policy, Administrator / Moderator: "closing or transferring")."""

    how: str  # "closed" | "transferred"
    transferred_to: str | None
    reason: str
    closed_on: Any  # a date
    recorded_by_name: str


@dataclass(frozen=True)
class HandoverCheck:
    """Which administrators of an account are still at the school, and whether it needs a hand-over."""

    account: RegisteredAccount
    present: tuple[Administrator, ...]
    gone: tuple[Administrator, ...]
    unknown: bool = False  # the directory could not answer: nothing is flagged on a guess

    @property
    def needs_handover(self) -> bool:
        """Fewer than two administrators still in the directory (the policy's two named staff)."""
        return not self.unknown and len(self.present) < MIN_RUNNERS


def check_handover(account: RegisteredAccount, still_here: Iterable[str] | None) -> HandoverCheck:
    """Args:
    still_here: the administrators' ids the directory still lists, or None when it could not answer.
    """
    if still_here is None:
        return HandoverCheck(account, present=(), gone=(), unknown=True)
    here = {aad.lower() for aad in still_here}
    present = tuple(a for a in account.administrators if a.aad_object_id.lower() in here)
    gone = tuple(a for a in account.administrators if a.aad_object_id.lower() not in here)
    return HandoverCheck(account, present=present, gone=gone)
