"""Every command a person can type, listed once: its phrases, its line on the help card, its menu entry.

The router matches the phrases (``dialogs/router.py``), the help card shows the lines (``cards/help.py``:
everyone's commands, and the commands of the sender's roles), and the Teams app manifest's command menu
is built from the menu entries (``manifest/build.py``). A new command is one entry here plus its handler.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.flows import Flow
from domain.roles import Role


class Scope(StrEnum):
    """Where a command appears in Teams' command menu (the manifest's ``commandLists`` scopes)."""

    PERSONAL = "personal"
    TEAM = "team"
    GROUP_CHAT = "groupChat"


_EVERYWHERE = (Scope.PERSONAL, Scope.TEAM, Scope.GROUP_CHAT)


@dataclass(frozen=True)
class MenuEntry:
    """The command's entry in Teams' command menu (title typed into the compose box when chosen)."""

    title: str
    description: str
    scopes: tuple[Scope, ...] = _EVERYWHERE


@dataclass(frozen=True)
class CommandInfo:
    """One command.

    Attributes:
        name: stable key the dialogs register their handler under.
        phrases: what a person types (matched at the start of the text; the longest phrase wins). Empty for
            commands the edge reads itself (help, cancel) and flows started from their own phrases.
        exact: the phrase must be the whole message (``status`` is a command, ``status of my report`` is not).
        help_line: (what to type, what it does) on everyone's help card; None: not listed there.
        role_lines: for these roles, a line under "For your role" in their help card, in this order.
        menu: the entry in Teams' command menu (Teams allows at most 10 per scope); None: not in the menu.
    """

    name: str
    phrases: tuple[str, ...] = ()
    exact: bool = False
    help_line: tuple[str, str] | None = None
    role_lines: tuple[tuple[Role, str, str], ...] = ()
    menu: MenuEntry | None = None


COMMANDS: tuple[CommandInfo, ...] = (
    CommandInfo("help", menu=MenuEntry("help", "What I can do for you, with a button for each task.")),
    CommandInfo(
        "report", help_line=("report", "report an incident"),
        menu=MenuEntry("report", "Report a social media incident to the senior leadership team."),
    ),
    CommandInfo(
        "check_photo", help_line=("can I post this photo?", "check photo consent"),
        menu=MenuEntry("can I post this photo?", "Check photo consent for each pupil before you post.",
                       (Scope.PERSONAL,)),
    ),
    CommandInfo(
        "do_not_photograph",
        phrases=("do not photograph", "do not film", "don't photograph", "don't film",
                 "don\u2019t photograph", "don\u2019t film"),  # Teams on phones types a curly apostrophe
        help_line=("do not photograph + name", "a pupil or parent asked: no photos or filming"),
        menu=MenuEntry("do not photograph",
                       "A pupil or parent asked for no photos or filming: record it at once, with the name.",
                       (Scope.PERSONAL,)),
    ),
    CommandInfo(
        "new_account", help_line=("new account", "propose a school social media account"),
        menu=MenuEntry("new account", "Propose a new school social media account to the Head Teacher.",
                       (Scope.PERSONAL,)),
    ),
    CommandInfo(
        "my_requests", phrases=("my requests", "my request"),
        menu=MenuEntry("my requests", "Your account proposals and approval requests, and where they are.",
                       (Scope.PERSONAL,)),
    ),
    CommandInfo(
        "my_reports", phrases=("my reports", "my report", "my incidents"),
        menu=MenuEntry("my reports", "The incidents you have reported, and where they are.", (Scope.PERSONAL,)),
    ),
    CommandInfo(
        "ask", help_line=("ask + your question", "an answer quoted from the policy"),
        menu=MenuEntry("ask", "Ask a question about the policy, e.g. 'ask can I friend a parent?'."),
    ),
    CommandInfo("my_things", help_line=("my reports / my requests", "what you have sent and where it is")),
    CommandInfo(
        "whoami", phrases=("whoami", "who am i"), exact=True, help_line=("whoami", "your roles in the bot"),
        menu=MenuEntry("whoami", "Your roles in the bot (staff, SLT, DSL, Head Teacher...)."),
    ),
    CommandInfo("cancel", help_line=("cancel", "stop what you are doing")),
    CommandInfo(  # not in the menu: three roles use it, and Teams allows 10 commands per scope
        "open_reports", phrases=("open reports", "incidents", "open incidents"), exact=True,
        role_lines=((Role.HEAD_TEACHER, "open reports", "the reports you may see, open first, with their age"),
                    (Role.SLT, "open reports", "the reports you may see, open first, with their age"),
                    (Role.DSL, "open reports", "the reports you may see, open first, with their age")),
    ),
    CommandInfo(
        "approvals", phrases=("approvals", "pending approvals"),
        role_lines=((Role.HEAD_TEACHER, "approvals", "requests waiting for your decision"),
                    (Role.DEPUTY, "approvals", "requests waiting for a decision while you act for the Head")),
    ),
    CommandInfo(
        "delegate", phrases=("delegate to", "delegate approvals to"),
        role_lines=((Role.HEAD_TEACHER, "delegate to + name", "let your deputy decide while you are away"),),
    ),
    CommandInfo(
        "end_delegation", phrases=("end delegation", "stop delegation", "cancel delegation"),
        role_lines=((Role.HEAD_TEACHER, "end delegation", "decide again yourself"),),
    ),
    CommandInfo(
        "status", phrases=("status",), exact=True,
        role_lines=((Role.SLT, "status", "the bot's health, the incident channel and the consent register"),),
        menu=MenuEntry("status", "Whether the bot is working, and which channel gets incident reports."),
    ),
    CommandInfo(
        "use_channel", phrases=("use this channel for incidents",), exact=True,
        role_lines=((Role.SLT, "@Policy Bot use this channel for incidents",
                     "in a team channel: incident reports go there"),),
        menu=MenuEntry("use this channel for incidents", "SLT only: send incident reports to this channel.",
                       (Scope.TEAM,)),
    ),
    CommandInfo(
        "photo_requests", phrases=("photo requests",),
        role_lines=((Role.DATA_ADMIN, "photo requests", "do-not-photograph requests to carry into the MIS"),
                    (Role.DSL, "photo requests", "do-not-photograph requests")),
    ),
    CommandInfo(
        "pupil_consent", phrases=("pupil consent", "consent for"),
        role_lines=((Role.DATA_ADMIN, "pupil consent + name", "a pupil's consent record (restricted)"),
                    (Role.DSL, "pupil consent + name", "a pupil's consent record (restricted)")),
    ),
    CommandInfo(
        "consent_register", phrases=("consent register",),
        role_lines=((Role.DATA_ADMIN, "consent register", "the register's versions, and going back to one"),
                    (Role.DPO, "consent register", "the consent register's versions")),
    ),
    CommandInfo(
        "consent_csv",
        role_lines=((Role.DATA_ADMIN, "send the MIS export (.csv) here", "import the consent register"),),
    ),
    CommandInfo(
        "update_consent_register", phrases=("update consent register", "update the consent register"),
        role_lines=((Role.DATA_ADMIN, "update consent register",
                     "read the SharePoint list now (when it is the source)"),),
    ),
    CommandInfo(  # not in the menu: two roles use it, and Teams allows 10 commands per scope
        "audit", phrases=("audit",),
        role_lines=((Role.HEAD_TEACHER, "audit + reference or name", "who was refused or saw restricted detail"),
                    (Role.DPO, "audit + reference or name", "who was refused or saw restricted detail")),
    ),
    CommandInfo("accounts", phrases=("accounts", "account register", "school accounts")),
    CommandInfo(
        "retention_preview", phrases=("retention preview",), exact=True,
        role_lines=((Role.DPO, "retention preview", "what the retention schedule's next run will remove"),),
    ),
    CommandInfo(
        "legal_hold", phrases=("legal hold",),
        role_lines=((Role.HEAD_TEACHER, "legal hold + reference or person + because + reason",
                     "keep records from the retention schedule"),
                    (Role.DPO, "legal hold + reference or person + because + reason",
                     "keep records from the retention schedule")),
    ),
    CommandInfo(
        "release_legal_hold", phrases=("release legal hold",),
        role_lines=((Role.HEAD_TEACHER, "release legal hold + reference or person", "end a legal hold"),
                    (Role.DPO, "release legal hold + reference or person", "end a legal hold")),
    ),
    CommandInfo(
        "subject_access", phrases=("subject access",),
        role_lines=((Role.DPO, "subject access + person", "everything the bot holds about a person, as a file"),),
    ),
    CommandInfo(
        "erase", phrases=("erase",),
        role_lines=((Role.DPO, "erase + person + because + reason",
                     "erase a person's data where the law allows (UK GDPR Art. 17)"),),
    ),
    CommandInfo(
        "rectify", phrases=("rectify", "correct data of", "correct data for"),
        role_lines=((Role.DPO, "rectify + person", "correct the names the bot records for a person (Art. 16)"),),
    ),
    CommandInfo(
        "close_account", phrases=("close account",),
        role_lines=((Role.HEAD_TEACHER, "close account + name + because + reason",
                     "mark a school account closed in the register"),
                    (Role.SLT, "close account + name + because + reason",
                     "mark a school account closed in the register")),
    ),
    CommandInfo(
        "transfer_account", phrases=("transfer account",),
        role_lines=((Role.HEAD_TEACHER, "transfer account + name + to + whom + because + reason",
                     "mark a school account transferred"),
                    (Role.SLT, "transfer account + name + to + whom + because + reason",
                     "mark a school account transferred")),
    ),
    CommandInfo(
        "legal_holds", phrases=("legal holds",), exact=True,
        role_lines=((Role.HEAD_TEACHER, "legal holds", "the legal holds in force"),
                    (Role.DPO, "legal holds", "the legal holds in force")),
    ),
    CommandInfo(  # not in the menu: three roles use it, and Teams allows 10 commands per scope
        "dashboard", phrases=("dashboard",),
        role_lines=((Role.HEAD_TEACHER, "dashboard", "reports, photo checks and account requests as charts"),
                    (Role.SLT, "dashboard", "reports, photo checks and account requests as charts"),
                    (Role.DSL, "dashboard", "reports, photo checks and account requests as charts")),
    ),
    CommandInfo(  # issue 17: who has read the current policy
        "policy_status", phrases=("policy status",), exact=True,
        role_lines=((Role.HEAD_TEACHER, "policy status", "who has read the current policy, and who has not"),
                    (Role.SLT, "policy status", "who has read the current policy, and who has not")),
    ),
    CommandInfo(
        "training", phrases=("training",),
        role_lines=((Role.HEAD_TEACHER, "training + person + date + what", "record social media training"),
                    (Role.SLT, "training + person + date + what", "record social media training")),
    ),
    CommandInfo(
        "governors_report", phrases=("governors report", "governors' report", "report to governors"),
        role_lines=((Role.HEAD_TEACHER, "governors report", "the termly report to governors, as a PDF"),
                    (Role.CHAIR_OF_GOVERNORS, "governors report", "the termly report to governors, as a PDF")),
    ),
)

BY_NAME: dict[str, CommandInfo] = {command.name: command for command in COMMANDS}

# The order roles' commands appear in under "For your role" (a person may hold several roles).
_ROLE_ORDER: tuple[Role, ...] = (Role.HEAD_TEACHER, Role.DEPUTY, Role.SLT, Role.DATA_ADMIN, Role.DSL, Role.DPO)


def command(name: str) -> CommandInfo:
    """The command called ``name`` (a KeyError names a typo at start-up, not at a user's message)."""
    return BY_NAME[name]


def help_lines() -> list[tuple[str, str]]:
    """Everyone's commands on the help card: (what to type, what it does)."""
    return [c.help_line for c in COMMANDS if c.help_line is not None]


def role_lines(roles: Iterable[Role]) -> list[tuple[str, str]]:
    """The extra commands of these roles, each once: by role (Head Teacher first), then in table order."""
    held = set(roles)
    found: dict[str, str] = {}
    for role in _ROLE_ORDER:
        if role not in held:
            continue
        for entry in COMMANDS:
            for line_role, typed, meaning in entry.role_lines:
                if line_role is role:
                    found.setdefault(typed, meaning)
    return list(found.items())


def menu(scope: Scope) -> list[MenuEntry]:
    """Teams' command menu for one scope, in table order."""
    return [c.menu for c in COMMANDS if c.menu is not None and scope in c.menu.scopes]


# --- words the edge answers for every conversation, and the phrases that start a flow -----------------

HELP_WORDS = frozenset({"help", "menu", "hi", "hello", "start", "?"})
CANCEL_WORDS = frozenset({"cancel", "stop", "quit"})

# A flow starts from its own phrases (with whatever follows), or from the help card's buttons.
FLOW_PATTERNS: tuple[tuple[re.Pattern[str], Flow], ...] = (
    (re.compile(r"^(report|report an incident|new report|incident)\b"), Flow.REPORT_INCIDENT),
    (
        re.compile(
            r"^(can i (post|share|use) (this|a|the|my) (photo|picture|pic|image|video)"
            r"|check (a |this )?photo|photo check)"
        ),
        Flow.CHECK_PHOTO,
    ),
    (re.compile(r"^(new account|propose (an |a )?account|propose a school account|request (a |an )?new account)"),
     Flow.PROPOSE_ACCOUNT),
)
ASK_WORD = "ask"  # "ask <question>"; a message that reads as a question is asked too

_QUESTION_START = re.compile(
    r"^(can|could|may|should|am|is|are|do|does|did|what|how|who|when|where|why|which|if|i)\b"
)


# A message that reads like a report (issue 15, gap 9): someone telling us something happened, not asking the policy.
# The bot offers the report button first, then answers from the policy as before.
_REPORT_WORDS = "nasty|abusive|offensive|rude|horrible|horrid|negative|inappropriate|threatening|racist|" \
    "homophobic|sexist|worrying|concerning|fake|unkind|hateful|vile|disgusting|upsetting|damaging|extremist|explicit"
_REPORT_LIKE = re.compile(
    r"\b(i (need|want|have|must|would like|'d like|wish) to (report|flag|raise)"
    r"|i('m| am) reporting|(can|could|may) i (report|flag)\b(?! (a |an )?(question|idea))"
    r"|how do i report|where do i report|who do i report"
    r"|report(ing)? (a|an|some|this|that|something|someone) "
    r"|i('ve| have)? (just )?(seen|found|spotted|noticed|been sent|received|come across)\b"
    r"|there('s| is| are| was| were|'re| has been| have been) (a |an |some )?(really |very )?(" + _REPORT_WORDS + r")"
    r"|someone (has |is |just )?(posted|shared|uploaded|sent|posting|sharing|writing|wrote|said|commented|made)"
    r"|(^|\b(a|another|one of our|one of my|our) )(parent|parnet|mum|dad|pupil|child|student|kid|teacher|colleague|"
    r"member of staff|former pupil|ex pupil|governor)s? (has |have |is |are |just |keeps |keep )?(posted|shared|"
    r"uploaded|sent|put|left|posting|sharing|putting|wrote|commented|being|been)"
    r"|(is|are|was|were|being|been) (bullied|harassed|groomed|threatened|targeted|trolled)"
    r"|(someone from|journalist|reporter|newspaper|the (local )?(paper|press|radio|news))\b[^.?!]{0,60}?"
    r"\b(rang|rung|called|phoned|emailed|contacted|messaged|asked|asking|wants|turned up)\b"
    r"|(" + _REPORT_WORDS + r") (post|comment|message|photo|picture|pic|video|tweet|page|group|account)s?\b)"
)


def looks_like_report(lowered: str) -> bool:
    """A message telling us something happened (or that the sender wants to report): offer the report first."""
    return bool(_REPORT_LIKE.search(lowered))


# A question that is really about posting a photo of a pupil (issue 17): "can I put a photo of Amira from Year 3 on
# the school page?" The photo check is offered first (button first), then the policy's consent rule. Typed text, not
# lower-cased: a capitalised name after "photo of" is how staff name a pupil.
_PHOTO = r"(photos?|photographs?|pics?|pictures?|images?|videos?|snaps?|footage)"
_PHOTO_OF_A_NAME = re.compile(
    r"\b" + _PHOTO + r"\b[^.?!]{0,25}?\b(of|with|showing|featuring)\s+(little\s+)?([A-Z][a-z]{2,})\b"
)
_NOT_A_PUPILS_NAME = frozenset(
    "year reception class nursery sports christmas easter harvest september the our my their his her this that these "
    "those some all every mr mrs miss ms dr facebook instagram twitter tiktok youtube whatsapp snapchat linkedin "
    "holy trinity school parents staff".split()
)
_NAMED_PUPIL_PHOTO = re.compile(
    r"\bnamed (pupils?|child|children|kids?|students?)\b|\b" + _PHOTO + r"\b[^.?!]{0,40}\b(with (their|his|her) names?|"
    r"by name|names? (on|in) (it|the caption))\b"
    r"|\b" + _PHOTO + r" of (?!(the|a|an|my|our|his|her|their|some|all|every|each|year|class|kids|children|pupils|"
    r"everyone|them|us|me|staff|teachers|parents|families|both|two|three)\b)"
    r"[a-z]{3,} (from|in) (year ?\d|y\d|class|reception|nursery)\b"
)


def looks_like_photo_check(text: str) -> bool:
    """A question about a photo of a named pupil: offer the photo check before the policy's answer."""
    for match in _PHOTO_OF_A_NAME.finditer(text):
        if match.group(4).lower() not in _NOT_A_PUPILS_NAME:
            return True
    return bool(_NAMED_PUPIL_PHOTO.search(text.lower()))


def looks_like_question(lowered: str) -> bool:
    """A question about the policy, typed without ``ask``."""
    return lowered.endswith("?") or (bool(_QUESTION_START.match(lowered)) and len(lowered.split()) >= 4)
