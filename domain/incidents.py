"""Incident reports: categories from the policy, who receives what, urgency, who may do what, the chronology.

Plain Python: no Bot Framework. Every routing rule names the section of the school's Social Media Policy it
puts into practice (``CategoryRule.policy_basis``); where the policy is silent the rule says so, names where
the choice comes from (the project's design, the school's other policies it lists under "Related Policies")
and points staff to SLT.

Rules kept here:

- **Routing.** Each category has a rule (``ROUTING``): the roles that get a personal card with the full
  details (``notify``), the roles that may open the details and act (``handlers``), what the SLT channel
  shows (``channel``: the minimal card, only "a restricted report exists", or nothing at all) and who an
  unacknowledged urgent report is escalated to. The channel card never carries what happened, who is
  involved, the platform, the link or the reporter's name.
- **Authorisation** (``authorise``): roles are the server's (resolved from the authenticated sender), never
  what a card claims. A closed report can still be viewed and noted, nothing else.
- **Chronology.** Every action is an ``EventKind`` entry with who, when, what and why; entries are only ever
  added (the store refuses updates and deletes).
- **Escalation time** counts school time only (the school calendar, ``domain.calendar.SchoolCalendar``:
  by default 08:00-17:00 Monday-Friday, Europe/London).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from html.parser import HTMLParser

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.calendar import SchoolCalendar
from domain.roles import ROLE_TITLES, Role

REFERENCE_PREFIX = "INC"
ICO_REPORTING_WINDOW = timedelta(hours=72)  # UK GDPR Art. 33: a reportable breach, 72 h after becoming aware

# Input limits: long enough for a real account of what happened, short enough for Teams' ~28 KB card limit.
MAX_WHAT_HAPPENED = 3000
MAX_INVOLVED = 1000
MAX_LINK = 500
MAX_PLATFORM = 60
MAX_WHEN_DETAIL = 200
MAX_NOTE = 1500
MAX_SOURCE_AUTHOR = 200
MAX_ABOUT_STAFF = 8  # staff a report is about (domain/incident_routing.py)
MAX_ABOUT_OTHERS = 500
MAX_PERSON_ID = 64


class Category(StrEnum):
    OFFENSIVE_CONTENT = "offensive_content"
    BULLYING_PUPIL = "bullying_pupil"
    BULLYING_STAFF = "bullying_staff"
    NEGATIVE_COMMENT = "negative_comment"
    MEDIA_ENQUIRY = "media_enquiry"
    DATA_BREACH = "data_breach"
    COPYRIGHT = "copyright"
    INAPPROPRIATE_IMAGE = "inappropriate_image"
    EXTREMISM = "extremism"
    PUPIL_SAFETY = "pupil_safety"
    STAFF_PUPIL_CONTACT = "staff_pupil_contact"
    ALLEGATION_ABOUT_STAFF = "allegation_about_staff"
    ABOUT_HEAD_TEACHER = "about_head_teacher"
    PRAISE = "praise"
    OTHER = "other"


class ChannelView(StrEnum):
    """What the SLT incident channel shows of a report."""

    MINIMAL = "minimal"  # reference, category, urgency, time received, status
    RESTRICTED = "restricted"  # only that a restricted report exists (reference and time)
    NONE = "none"  # nothing: the report never appears in a channel


class Urgency(StrEnum):
    URGENT = "urgent"
    STANDARD = "standard"
    GOOD_NEWS = "good_news"


URGENCY_TITLES: dict[Urgency, str] = {
    Urgency.URGENT: "Urgent",
    Urgency.STANDARD: "Standard",
    Urgency.GOOD_NEWS: "Good news",
}


class Status(StrEnum):
    OPEN = "open"  # nobody has taken the lead yet
    IN_PROGRESS = "in_progress"  # someone leads it
    CLOSED = "closed"


STATUS_TITLES: dict[Status, str] = {
    Status.OPEN: "Open: nobody has taken the lead yet",
    Status.IN_PROGRESS: "In progress",
    Status.CLOSED: "Closed",
}


class Agency(StrEnum):
    """Who a report can be escalated or referred to outside the school (the bot records it; people make the
    referral). KCSIE Part 1: the DSL refers to children's social care (in many areas through the MASH), the police,
    Early Help, Prevent / Channel; Part 4: allegations about staff go to the LADO; UK GDPR Art. 33: the ICO."""

    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    POLICE = "police"
    LADO = "lado"
    PREVENT = "prevent"
    EARLY_HELP = "early_help"
    ICO = "ico"


AGENCY_TITLES: dict[Agency, str] = {
    Agency.CHILDRENS_SOCIAL_CARE: "Children's social care / MASH",
    Agency.POLICE: "Police",
    Agency.LADO: "LADO / local authority",
    Agency.PREVENT: "Prevent referral (Channel)",
    Agency.EARLY_HELP: "Early Help",
    Agency.ICO: "ICO (Information Commissioner's Office)",
}


class OutcomeKind(StrEnum):
    RESOLVED = "resolved"
    REFERRED = "referred"
    NO_FURTHER_ACTION = "no_further_action"
    GOOD_NEWS_SHARED = "good_news_shared"


OUTCOME_TITLES: dict[OutcomeKind, str] = {
    OutcomeKind.RESOLVED: "Resolved in school",
    OutcomeKind.REFERRED: "Referred to an outside agency",
    OutcomeKind.NO_FURTHER_ACTION: "No further action",
    OutcomeKind.GOOD_NEWS_SHARED: "Good news shared",
}


class ActionTaken(StrEnum):
    """What the reporter has already done (policy, Handling abuse: block, report or delete; tell the audience)."""

    BLOCKED = "blocked"
    REPORTED_TO_PLATFORM = "reported_to_platform"
    DELETED = "deleted"
    SCREENSHOT_KEPT = "screenshot_kept"
    TOLD_AUDIENCE = "told_audience"


ACTION_TAKEN_TITLES: dict[ActionTaken, str] = {
    ActionTaken.BLOCKED: "Blocked the user",
    ActionTaken.REPORTED_TO_PLATFORM: "Reported it to the platform",
    ActionTaken.DELETED: "Deleted the post or comment",
    ActionTaken.SCREENSHOT_KEPT: "Kept a screenshot",
    ActionTaken.TOLD_AUDIENCE: "Told the audience why action was taken",
}

PLATFORMS: tuple[str, ...] = (
    "Facebook",
    "Instagram",
    "X (Twitter)",
    "TikTok",
    "WhatsApp",
    "YouTube",
    "Snapchat",
    "LinkedIn",
    "An online game (e.g. Minecraft)",
    "School website or blog",
    "Teams or email",
    "Other",
)


class DslTold(StrEnum):
    """The answer to "have you told the DSL verbally?" (asked when someone is at immediate risk)."""

    YES = "yes"
    NOT_YET = "not_yet"
    COULD_NOT_REACH = "could_not_reach"


DSL_TOLD_TITLES: dict[DslTold, str] = {
    DslTold.YES: "Yes, I have told the DSL",
    DslTold.NOT_YET: "Not yet",
    DslTold.COULD_NOT_REACH: "I tried but could not reach the DSL",
}


class Source(StrEnum):
    CHAT = "chat"  # the report form in the personal chat
    MESSAGE = "message"  # "Report to SLT" on a Teams message (message extension)


# --- routing ------------------------------------------------------------------------------------------------


_DEFAULT_ESCALATION = frozenset({Role.HEAD_TEACHER, Role.DSL})  # issue 6: an unacknowledged urgent report


@dataclass(frozen=True)
class CategoryRule:
    """How one category of report is routed and handled.

    Attributes:
        title: what staff see in the list of categories.
        guidance: one line shown as soon as the category is chosen.
        notify: roles that receive a personal card with the full details at once.
        handlers: roles that may open the details and act (take the lead, note, escalate, close).
        channel: what the SLT incident channel shows.
        urgent: a report of this category is urgent whatever the answer to "is anyone at risk?".
        escalate_to: roles an urgent report nobody has taken the lead on is escalated to.
        accepts_screenshots: whether screenshots may be attached (never for images of children).
        ico_clock: show the 72-hour deadline for reporting a personal-data breach to the ICO.
        policy_basis: the policy section(s) and words this rule rests on, or what the policy does not say.
    """

    category: Category
    title: str
    guidance: str
    notify: frozenset[Role]
    handlers: frozenset[Role]
    channel: ChannelView
    policy_basis: str
    urgent: bool = False
    escalate_to: frozenset[Role] = _DEFAULT_ESCALATION
    accepts_screenshots: bool = True
    ico_clock: bool = False

    @property
    def restricted(self) -> bool:
        """Details never go near a channel; only the roles named may see them."""
        return self.channel is not ChannelView.MINIMAL

    @property
    def notify_titles(self) -> str:
        return _titles(self.notify) or "SLT"


def _titles(roles: frozenset[Role]) -> str:
    return " and ".join(ROLE_TITLES[role] for role in Role if role in roles)


_SLT_HANDLERS = frozenset({Role.SLT, Role.HEAD_TEACHER, Role.DSL})

ROUTING: dict[Category, CategoryRule] = {
    rule.category: rule
    for rule in (
        CategoryRule(
            Category.OFFENSIVE_CONTENT,
            "Offensive or abusive content on a school account or about the school",
            "Handle it swiftly and with sensitivity: block, report or delete the user or comment and tell the "
            "audience exactly why. The Head Teacher is told. A post attacking a member of staff is \"Abuse or "
            "harassment of a member of staff online\".",
            notify=frozenset({Role.HEAD_TEACHER}),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            policy_basis="Handling abuse: \"handle offensive comments swiftly and with sensitivity. Please refer "
            "these to the Head Teacher\"; \"block, report or delete ... and should inform the audience exactly why\". "
            "Behaviour: unacceptable conduct \"will be reported as soon as possible to the Head Teacher\".",
        ),
        CategoryRule(
            Category.BULLYING_PUPIL,
            "Online bullying of a pupil",
            "Staff take action when a pupil is being bullied online or is bullying someone else. The Designated "
            "Safeguarding Lead is told.",
            notify=frozenset({Role.DSL}),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            policy_basis="Dealing with incidents of online bullying: staff \"take action if a pupil is being online "
            "bullied or is bullying someone else\". The policy does not say who receives these reports: they go to "
            "the DSL as a safeguarding matter (DESIGN.md; Child Protection & Safeguarding Policy, under Related "
            "Policies). Ask SLT if unsure.",
        ),
        CategoryRule(
            Category.BULLYING_STAFF,
            "Abuse or harassment of a member of staff online",
            "A nasty, offensive or harassing post or message about or to a member of staff, by a parent, a pupil or "
            "anyone outside the staff: the Head Teacher is told, and SLT see that a report was made. If a colleague "
            "is doing it, choose \"Allegation about a member of staff\"; if it is about the Head Teacher, \"A "
            "concern about the Head Teacher\".",
            notify=frozenset({Role.HEAD_TEACHER}),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            policy_basis="Behaviour: \"Unacceptable conduct, (e.g. defamatory, discriminatory, offensive, harassing "
            "content ...) will be ... reported as soon as possible to the Head Teacher\". Parents/Carers: \"Parents/"
            "carers should not post malicious or fictitious comments on social networking sites about any member of "
            "the school community.\" Monitoring posts about the school: report \"any damaging or negative comment "
            "about the school or a member of the school community\" to SLT (the channel card). Handling abuse: abuse "
            "by colleagues \"must be reported to the Head Teacher\".",
        ),
        CategoryRule(
            Category.NEGATIVE_COMMENT,
            "Negative or damaging comment about the school",
            "Criticism of the school itself, not abuse of a person: SLT decide how the school responds. Think before "
            "responding yourself and, when in doubt, get a second opinion. A post attacking a member of staff is "
            "\"Abuse or harassment of a member of staff online\"; about a pupil, choose the pupil's question.",
            notify=frozenset(),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            policy_basis="Monitoring posts about the school: \"report any damaging or negative comment about the "
            "school or a member of the school community on social media to a member of the Senior Leadership "
            "team\". Appendix 1: \"Think before responding to comments and, when in doubt, get a second opinion\".",
        ),
        CategoryRule(
            Category.MEDIA_ENQUIRY,
            "Media enquiry (press, radio, TV)",
            "Do not respond to the enquiry yourself: SLT will.",
            notify=frozenset({Role.HEAD_TEACHER}),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            accepts_screenshots=False,  # its own form (domain/media_enquiry.py): no abuse fields, no screenshots
            policy_basis="Behaviour: \"If a media enquiry is received about posts made using social media staff "
            "must inform SLT and not respond directly.\" The policy names SLT; the Head Teacher, who leads SLT, is "
            "sent the enquiry personally as issue 15 asks (a journalist's deadline may be the same day).",
        ),
        CategoryRule(
            Category.DATA_BREACH,
            "Possible data protection breach",
            "Don't share the data any further. The Data Protection Officer and the Head Teacher are told; a "
            "reportable breach must reach the ICO within 72 hours of the school becoming aware of it.",
            notify=frozenset({Role.DPO, Role.HEAD_TEACHER}),
            handlers=_SLT_HANDLERS | {Role.DPO},
            channel=ChannelView.MINIMAL,
            ico_clock=True,
            policy_basis="Behaviour: \"a breach of data protection, confidentiality ... will be reported as soon as "
            "possible to the Head Teacher\". Legal considerations: GDPR 2018. The policy does not mention the DPO "
            "or the ICO: the 72-hour deadline is UK GDPR Article 33, and the DPO route is DESIGN.md.",
        ),
        CategoryRule(
            Category.COPYRIGHT,
            "Copyright concern",
            "Don't share it further; permission from the copyright holder is needed before sharing. The Head "
            "Teacher is told.",
            notify=frozenset({Role.HEAD_TEACHER}),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            policy_basis="Legal considerations: \"seek permission from the copyright holder before sharing\". "
            "Behaviour: a breach of copyright \"will be reported as soon as possible to the Head Teacher\".",
        ),
        CategoryRule(
            Category.INAPPROPRIATE_IMAGE,
            "Compromising or inappropriate image",
            "If you took it, delete it immediately. Never copy, screenshot or forward an image of a child: "
            "describe it instead. The Head Teacher and the DSL are told.",
            notify=frozenset({Role.HEAD_TEACHER, Role.DSL}),
            handlers=frozenset({Role.HEAD_TEACHER, Role.DSL}),
            channel=ChannelView.MINIMAL,
            accepts_screenshots=False,
            policy_basis="Use of images: \"If a member of staff inadvertently takes a compromising picture which "
            "could be misconstrued or misused, they must delete it immediately\"; pupils \"must not be on any "
            "school list of children whose images must not be published\". The policy does not say who is told: "
            "the Head Teacher (who authorises images) and the DSL (safeguarding), per DESIGN.md.",
        ),
        CategoryRule(
            Category.EXTREMISM,
            "Extremist material or a radicalisation concern (Prevent)",
            "Prevent: tell the DSL now, in person or by phone, as well as here. Don't share or forward the "
            "material.",
            notify=frozenset({Role.DSL}),
            handlers=frozenset({Role.DSL, Role.HEAD_TEACHER}),
            channel=ChannelView.RESTRICTED,
            urgent=True,
            accepts_screenshots=False,
            policy_basis="Prevent Duty: schools have \"due regard to the need to prevent people from being drawn "
            "into terrorism\" and \"must ensure that children are safe from terrorist and extremist material\". "
            "The policy does not name who receives a concern: the DSL at once, per the issue and DESIGN.md.",
        ),
        CategoryRule(
            Category.PUPIL_SAFETY,
            "Concern about a pupil's safety",
            "Follow the school's child protection procedure: the Designated Safeguarding Lead is told at once.",
            notify=frozenset({Role.DSL}),
            handlers=frozenset({Role.DSL, Role.HEAD_TEACHER}),
            channel=ChannelView.RESTRICTED,
            urgent=True,
            policy_basis="Related Policies: Child Protection & Safeguarding Policy and Procedures. This policy's "
            "objectives include safeguarding; it does not name the DSL: the route is the issue and DESIGN.md.",
        ),
        CategoryRule(
            Category.STAFF_PUPIL_CONTACT,
            "Staff-pupil contact on social media",
            "Staff must not follow, friend or engage with current or former pupils online. This goes to the Head "
            "Teacher only and is never posted in a channel.",
            notify=frozenset({Role.HEAD_TEACHER}),
            handlers=frozenset({Role.HEAD_TEACHER}),
            channel=ChannelView.NONE,
            escalate_to=frozenset({Role.HEAD_TEACHER}),
            policy_basis="Personal use (Staff): staff \"must not knowingly 'follow', 'friend' or engage in any way "
            "on Social Media with any minor who is, or was a pupil\". Objectives: alleged misconduct within the "
            "Management of Allegations Policy has \"additional child protection requirements\". Handling abuse: "
            "report to the Head Teacher.",
        ),
        CategoryRule(
            Category.ALLEGATION_ABOUT_STAFF,
            "Allegation about a member of staff",
            "Something a member of staff has done online that may be misconduct (contact with pupils has its own "
            "category). This goes to the Head Teacher only, under the Management of Allegations Policy, and is never "
            "posted in a channel.",
            notify=frozenset({Role.HEAD_TEACHER}),
            handlers=frozenset({Role.HEAD_TEACHER}),
            channel=ChannelView.NONE,
            escalate_to=frozenset({Role.HEAD_TEACHER}),
            policy_basis="Objectives: \"any alleged misconduct which falls within the scope of the Management of "
            "Allegations Policy requires the school to comply with additional child protection requirements\". "
            "Handling abuse: abuse by colleagues \"must be reported to the Head Teacher\".",
        ),
        CategoryRule(
            Category.ABOUT_HEAD_TEACHER,
            "A concern about the Head Teacher",
            "This goes to the Chair of Governors only. The Head Teacher does not see it.",
            notify=frozenset({Role.CHAIR_OF_GOVERNORS}),
            handlers=frozenset({Role.CHAIR_OF_GOVERNORS}),
            channel=ChannelView.NONE,
            escalate_to=frozenset({Role.CHAIR_OF_GOVERNORS}),
            policy_basis="The policy is silent on concerns about the Head Teacher. DESIGN.md: a report about the "
            "Head never goes to the Head; the Chair of Governors (who signs the policy) receives it. Not posted, "
            "even as a notice, in the SLT channel the Head Teacher belongs to.",
        ),
        CategoryRule(
            Category.PRAISE,
            "Praise or a positive comment",
            "Thank you: praise and positive comments are welcome, and are shared with SLT as good news.",
            notify=frozenset(),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            accepts_screenshots=True,
            policy_basis="Monitoring posts about the school: \"Reports of any praise or positive comment are also "
            "welcome.\"",
        ),
        CategoryRule(
            Category.OTHER,
            "Something else",
            "SLT make an initial assessment of every report and involve the right people.",
            notify=frozenset(),
            handlers=_SLT_HANDLERS,
            channel=ChannelView.MINIMAL,
            policy_basis="Roles & Responsibilities (SLT): \"Making an initial assessment when an incident is "
            "reported and involving appropriate staff and external agencies as required.\"",
        ),
    )
}


def rule_for(category: Category) -> CategoryRule:
    return ROUTING[category]


def urgency_for(category: Category, immediate_risk: bool) -> Urgency:
    """Urgent when someone is at immediate risk or the category always is; praise is good news."""
    rule = ROUTING[category]
    if immediate_risk or rule.urgent:
        return Urgency.URGENT
    if category is Category.PRAISE:
        return Urgency.GOOD_NEWS
    return Urgency.STANDARD


def personal_recipients(rule: CategoryRule, *, channel_available: bool) -> frozenset[Role]:
    """Who gets the full details personally. Without an SLT channel, SLT get the channel's share personally."""
    if rule.channel is ChannelView.MINIMAL and not channel_available:
        return rule.notify | {Role.SLT}
    return rule.notify


EMERGENCY_STEPS: tuple[str, ...] = (
    "If anyone is in immediate danger, call 999 now.",
    "Follow the school's child protection procedure (Child Protection & Safeguarding Policy and Procedures).",
    "Contact the Designated Safeguarding Lead now, in person or by phone: don't wait for this report.",
)


# --- authorisation ------------------------------------------------------------------------------------------


class Permission(StrEnum):
    VIEW = "view"
    TAKE_LEAD = "take_lead"
    ADD_NOTE = "add_note"
    ESCALATE = "escalate"
    CLOSE = "close"
    SHOW_ATTACHMENT = "show_attachment"
    # the safeguarding record (KCSIE record keeping: domain/safeguarding_record.py)
    RECORD_DECISION = "record_decision"
    RECORD_REFERRAL_OUTCOME = "record_referral_outcome"
    EXPORT_RECORD = "export_record"
    MARK_TRANSFERRED = "mark_transferred"


PERMISSION_TITLES: dict[Permission, str] = {
    Permission.VIEW: "open the details of",
    Permission.TAKE_LEAD: "take the lead on",
    Permission.ADD_NOTE: "add a note to",
    Permission.ESCALATE: "escalate",
    Permission.CLOSE: "close",
    Permission.SHOW_ATTACHMENT: "see the screenshots of",
    Permission.RECORD_DECISION: "record a decision on",
    Permission.RECORD_REFERRAL_OUTCOME: "record a referral's outcome on",
    Permission.EXPORT_RECORD: "export the record of",
    Permission.MARK_TRANSFERRED: "mark as transferred",
}

# A referral's outcome often arrives after the report is closed; the record is exported and transferred then too.
_ALLOWED_WHEN_CLOSED = frozenset({Permission.VIEW, Permission.ADD_NOTE, Permission.SHOW_ATTACHMENT,
                                  Permission.RECORD_REFERRAL_OUTCOME, Permission.EXPORT_RECORD,
                                  Permission.MARK_TRANSFERRED})


class IncidentError(Exception):
    """A request the rules refuse; ``str()`` is a sentence fit to show the person who asked."""


class NotPermitted(IncidentError):
    pass


class AlreadyClosed(IncidentError):
    pass


class LeadAlreadyTaken(IncidentError):
    def __init__(self, lead_name: str) -> None:
        self.lead_name = lead_name
        super().__init__(f"{lead_name} already leads this report.")


def may(permission: Permission, roles: frozenset[Role], category: Category) -> bool:
    """Whether someone with ``roles`` may do ``permission`` on a report of ``category`` (ignoring its status)."""
    return bool(roles & ROUTING[category].handlers)


def visible_categories(roles: frozenset[Role]) -> frozenset[Category]:
    """The categories whose reports someone with ``roles`` may see (``open reports``): the routing table's handlers,
    so a restricted category only to the roles it names, and a report about the Head Teacher never to the Head."""
    return frozenset(category for category in Category if may(Permission.VIEW, roles, category))


def authorise(permission: Permission, roles: frozenset[Role], category: Category, status: Status) -> None:
    """Refuse what the rules do not allow.

    Raises:
        NotPermitted: the roles do not include one the category names.
        AlreadyClosed: the report is closed and ``permission`` changes it.
    """
    if not may(permission, roles, category):
        raise NotPermitted(
            f"Only the people the policy names for this kind of report can {PERMISSION_TITLES[permission]} it. "
            "Nothing was changed."
        )
    if status is Status.CLOSED and permission not in _ALLOWED_WHEN_CLOSED:
        raise AlreadyClosed("This report is already closed. Nothing was changed.")


# --- the chronology -----------------------------------------------------------------------------------------


class EventKind(StrEnum):
    REPORTED = "reported"
    ROUTED = "routed"  # who was sent the report (and who could not be reached)
    NOT_REACHABLE = "not_reachable"
    VIEWED = "viewed"
    LEAD_TAKEN = "lead_taken"
    NOTE_ADDED = "note_added"
    ESCALATED = "escalated"  # an outside agency, recorded by a handler
    AUTO_ESCALATED = "auto_escalated"  # nobody took the lead in time
    SCREENSHOT_ADDED = "screenshot_added"
    CLOSED = "closed"
    REPORTER_TOLD = "reporter_told"
    # the safeguarding record (domain/safeguarding_record.py)
    DECISION = "decision"  # a decision and its reason (KCSIE: "and the reasons for those decisions")
    REFERRAL_OUTCOME = "referral_outcome"  # appended to a referral (an ESCALATED entry), never overwriting it
    EXPORTED = "exported"  # the record exported as a PDF for the school's safeguarding system
    TRANSFERRED = "transferred"  # put into the school's safeguarding system (CPOMS, MyConcern), with its reference
    PUPIL_ADDED = "pupil_added"  # a pupil appended to the record after it was sent (never replacing one)


SYSTEM_ACTOR = "Policy Bot"


@dataclass(frozen=True)
class ChronologyEntry:
    """One line of a report's chronology: who did what, when, and why."""

    kind: EventKind
    at: datetime
    actor_name: str
    what: str
    why: str | None = None
    actor_aad: str | None = None


# --- references ---------------------------------------------------------------------------------------------

_REFERENCE = re.compile(rf"^{REFERENCE_PREFIX}-(\d{{4}})-(\d{{4,}})$")


def format_reference(year: int, number: int) -> str:
    return f"{REFERENCE_PREFIX}-{year:04d}-{number:04d}"


def parse_reference(text: str) -> tuple[int, int] | None:
    match = _REFERENCE.match(text.strip().upper())
    return (int(match.group(1)), int(match.group(2))) if match else None


def reference_year(received_at: datetime, calendar: SchoolCalendar) -> int:
    """References count per calendar year in the school's time zone."""
    return calendar.school_date(received_at).year


# --- deadlines (the escalation clock counts school time only: ``SchoolCalendar.add_school_minutes``) -----------


def ico_deadline(aware_at: datetime) -> datetime:
    """The latest time to report a reportable personal-data breach to the ICO (UK GDPR Art. 33)."""
    return aware_at + ICO_REPORTING_WINDOW


# --- what a report holds ------------------------------------------------------------------------------------

MAX_CHILD_WORDS = 2000
MAX_OPINION = 1500
MAX_PUPILS = 30
MAX_PUPIL_NAME = 100
MAX_PUPILS_TEXT = MAX_PUPILS * (MAX_PUPIL_NAME + 2)
_PUPIL_SEPARATORS = re.compile(r"[\n;,]+")


def pupil_names(text: str | None) -> list[str]:
    """The pupils a form names: one per line (or separated by commas or semicolons), spaces tidied, each once."""
    names = (" ".join(part.split()) for part in _PUPIL_SEPARATORS.split(text or ""))
    return list(dict.fromkeys(name for name in names if name))


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").strip()


class ReportDetails(BaseModel):
    """What the reporter tells us, checked. Free text stays text: it is escaped wherever it is shown."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    category: Category
    immediate_risk: bool = False
    dsl_told: DslTold | None = None
    what_happened: str = Field(min_length=1, max_length=MAX_WHAT_HAPPENED)
    platform: str = Field(default="", max_length=MAX_PLATFORM)
    link: str = Field(default="", max_length=MAX_LINK)
    when_date: date | None = None
    when_detail: str = Field(default="", max_length=MAX_WHEN_DETAIL)
    involved: str = Field(default="", max_length=MAX_INVOLVED)
    # Who the report is about (issue 15, gap 2; domain/incident_routing.py): staff chosen with the people picker
    # (Entra object ids, or Teams user ids in clients without one), the staff named in the text the reporter said it
    # is not about, and anyone else as typed.
    about_staff: list[str] = Field(default_factory=list, max_length=MAX_ABOUT_STAFF)
    not_about: list[str] = Field(default_factory=list, max_length=MAX_ABOUT_STAFF)
    confirmed_about: list[str] = Field(default_factory=list, max_length=MAX_ABOUT_STAFF)  # said yes to "about them?"
    about_others: str = Field(default="", max_length=MAX_ABOUT_OTHERS)
    actions_taken: list[ActionTaken] = Field(default_factory=list)
    source: Source = Source.CHAT
    source_author: str = Field(default="", max_length=MAX_SOURCE_AUTHOR)
    # The safeguarding record (KCSIE Part 1/2 record keeping; domain/safeguarding_record.py): the child's own words
    # kept verbatim, the reporter's view apart from the facts (``what_happened``), and the pupils the report is about.
    child_words: str = Field(default="", max_length=MAX_CHILD_WORDS)
    opinion: str = Field(default="", max_length=MAX_OPINION)
    pupils: list[str] = Field(default_factory=list, max_length=MAX_PUPILS)

    @field_validator("child_words", "opinion", mode="before")
    @classmethod
    def _record_text(cls, value: object) -> object:
        return _clean(value) if isinstance(value, str) or value is None else value

    @field_validator("pupils", mode="before")
    @classmethod
    def _pupil_names(cls, value: object) -> object:
        return pupil_names(value) if isinstance(value, str) or value is None else value

    @field_validator("pupils")
    @classmethod
    def _pupil_name_length(cls, value: list[str]) -> list[str]:
        if any(len(name) > MAX_PUPIL_NAME for name in value):
            raise ValueError(f"a pupil's name is at most {MAX_PUPIL_NAME} characters")
        return value

    @field_validator("what_happened", "involved", "when_detail", "link", "source_author", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return _clean(value) if isinstance(value, str) or value is None else value

    @field_validator("platform", mode="before")
    @classmethod
    def _known_platform(cls, value: object) -> object:
        if value in (None, ""):
            return ""
        if isinstance(value, str) and value in PLATFORMS:
            return value
        raise ValueError("choose a platform from the list")

    @field_validator("about_staff", "not_about", "confirmed_about", mode="before")
    @classmethod
    def _people(cls, value: object) -> object:
        """A people picker sends its choices comma-separated; each id once, at most 64 characters."""
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, list):
            ids = list(dict.fromkeys(str(part).strip() for part in value if str(part).strip()))
            if any(len(part) > MAX_PERSON_ID for part in ids):
                raise ValueError("not a person chosen in Teams")
            return ids
        return value

    @field_validator("about_others", mode="before")
    @classmethod
    def _about_others(cls, value: object) -> object:
        return _clean(value) if isinstance(value, str) or value is None else value

    @field_validator("actions_taken", mode="before")
    @classmethod
    def _split_choices(cls, value: object) -> object:
        """An Adaptive Card multi-select sends "a,b,c"; an empty one sends "" or nothing."""
        if value in (None, ""):
            return []
        if isinstance(value, str):
            return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
        return value

    @field_validator("when_date", mode="before")
    @classmethod
    def _empty_date(cls, value: object) -> object:
        return None if value in ("", None) else value


# --- when it happened (issue 15, gap 6) ------------------------------------------------------------------------
#
# The reporter's words about when are kept as typed (``when_detail``); the date is what they chose, or else what
# their words say, read in the school's time zone relative to the moment they send the report. A small explicit
# reader of the phrases staff use ("last night", "yesterday", "this morning", "on Friday", "3 days ago", "about
# 9pm"), so what each phrase means at 01:59 on a Sunday is written down here and tested, not left to a library's
# guesses. A date is never in the future: a chosen one is refused, a read one is the latest that is not.

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SMALL_HOURS_END = 6  # before 06:00, "tonight" and "last night" are the night still going on
_YESTERDAY = re.compile(r"\b(yesterday|last night|last evening)\b")
_TODAY = re.compile(r"\b(today|this morning|this afternoon|this evening|earlier|just now|lunchtime)\b")
_TONIGHT = re.compile(r"\btonight\b")
_DAYS_AGO = re.compile(r"\b(\d{1,2}|a|one|two|three|four|five|six) days? ago\b")
_WEEKDAY = re.compile(r"\b(?:on |last )?(" + "|".join(_WEEKDAYS) + r")\b")
_CLOCK = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d:])")
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


class WhenInFuture(IncidentError):
    """The date given is after today in the school's time zone."""


def _clock_time(text: str) -> tuple[int, int] | None:
    """The first time of day in ``text`` ("9pm", "about 9:30 pm", "21:00"); None when there is none."""
    for match in _CLOCK.finditer(text):
        hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
        if half is None and match.group(2) is None:
            continue  # a bare number ("2 pupils") is not a time
        if half is not None:
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if half.startswith("p") else 0)
        if 0 <= hour <= 23 and 0 <= minute <= 59:
            return hour, minute
    return None


def date_from_words(words: str, now: datetime, calendar: SchoolCalendar) -> date | None:
    """The day the reporter's words about when point to, in the school's time zone; None when they name none.

    "last night" / "yesterday" are the day before today ("last night" at 01:59 on Sunday is Saturday evening);
    "tonight" in the small hours is the night still going on (yesterday's date); a time alone ("about 9pm") is
    today if that time has passed, else yesterday.
    """
    text = words.lower()
    local = now.astimezone(calendar.zone)
    today = local.date()
    clock = _clock_time(text)
    if _YESTERDAY.search(text):
        if "night" in text and clock is not None and clock[0] < _SMALL_HOURS_END and clock <= (local.hour,
                                                                                                 local.minute):
            return today  # "last night about 1am", said at 01:59: the small hours of today
        return today - timedelta(days=1)
    if _TONIGHT.search(text):
        return today - timedelta(days=1) if local.hour < _SMALL_HOURS_END else today
    if (ago := _DAYS_AGO.search(text)) is not None:
        count = ago.group(1)
        return today - timedelta(days=int(count) if count.isdigit() else _NUMBERS[count])
    if (weekday := _WEEKDAY.search(text)) is not None:
        back = (today.weekday() - _WEEKDAYS.index(weekday.group(1))) % 7
        return today - timedelta(days=back)
    if _TODAY.search(text):
        return today
    if clock is not None:
        return today if clock <= (local.hour, local.minute) else today - timedelta(days=1)
    return None


def settle_when(details: ReportDetails, now: datetime, calendar: SchoolCalendar) -> ReportDetails:
    """The report with its date settled: the date the reporter chose, else the one their words give; their words
    kept as typed.

    Raises:
        WhenInFuture: the date chosen is after today in the school's time zone.
    """
    today = calendar.school_date(now)
    if details.when_date is not None:
        if details.when_date > today:
            raise WhenInFuture(
                f"The date you gave ({details.when_date.strftime('%a %d %b %Y')}) is in the future: today is "
                f"{today.strftime('%a %d %b %Y')}. Give the day it happened or you saw it, or leave the date empty "
                "and say when in your own words."
            )
        return details
    if not details.when_detail:
        return details
    return details.model_copy(update={"when_date": date_from_words(details.when_detail, now, calendar)})


# --- message text from Teams (the "Report to SLT" message action) ------------------------------------------


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})
    _SKIPPED = frozenset({"script", "style", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            self.parts.append(f"[image{': ' + alt if alt else ''}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_BLANK_LINES = re.compile(r"\n\s*\n+")
_SPACES = re.compile(r"[ \t\u00a0]+")


def plain_text_from_html(markup: str, *, limit: int = MAX_WHAT_HAPPENED) -> str:
    """The readable text of a Teams message body (HTML): tags, scripts and styles dropped, entities decoded."""
    extractor = _TextExtractor()
    extractor.feed(markup or "")
    extractor.close()
    text = html.unescape("".join(extractor.parts))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text[:limit]
