"""Who a report goes to, who may see it, and who is next when nobody can be reached (issue 15, gaps 1 and 2).

Plain Python: no Bot Framework, no I/O. ``route_report`` is the one routing function: the service sends a report
to the people it names, posts in the SLT channel only when it says so, and lets someone view or act on a report only
when ``may_handle`` says so, against the same ``Route``.

Two rules live here, beside the category table of ``domain/incidents.py`` that they refine:

- **Urgent means now, whatever the hour.** A report that is urgent (someone at immediate risk, a safeguarding
  concern about a pupil, Prevent) in a category the DSL handles alerts the DSL, every deputy DSL and the Head
  Teacher at once, whatever the time (KCSIE Annex C: in term time the DSL or a deputy "should always be available"
  in school hours, and the school arranges out-of-hours cover; alerting at any hour is issue 15's). When none of
  them can be reached (no chat with the bot, a chat Teams says is gone, a message that could not be delivered) or
  nobody takes the lead within the school's number of *real* minutes, the school's safeguarding chain
  (``POLICYBOT_SAFEGUARDING_CHAIN``, in order) says who is next. The school's policy is silent
  on out-of-hours cover: the chain and the minutes are the school's choice, set by SLT.
- **Nobody receives a report about themselves.** Every member of staff a report is about is taken out of it: never
  sent it, never shown it (details, ``open reports``, the chronology), whatever their role and whatever the
  category. When such a person holds a role in the routing, the report goes around them: about the Head Teacher,
  to the Chair of Governors only; about anyone else who holds a role (DSL, deputy DSL, SLT, deputy head, DPO,
  Chair), to the Head Teacher only, restricted and never in the SLT channel (which that person may read). KCSIE
  Part 4: allegations about staff go to the head teacher, and about the head teacher to the chair of governors.
  The school's Social Media Policy is silent on reports about the people who receive reports.
- **Who it is about could not be checked: fail safe, then check again.** When the school directory (Microsoft
  Graph) cannot say which roles a member of staff the report is about holds, the report is routed as if they might
  hold any of them (``RECHECK_ROUTE``): only the Designated Safeguarding Lead, the deputy DSLs and the Head Teacher
  who are not that person receive it, restricted, never in the SLT channel (which the person may read); an urgent
  report's chain keeps only those roles, the Chair of Governors and anyone the school named in it (never the deputy
  head or SLT, who may be that person's own line). Roles the directory did give (say, from what it knew before) are
  used at once: about the Head Teacher, to the Chair only. When the directory answers again, the roles are read,
  recorded and the report routed as it should have been (``services/incidents.py``, ``recheck_subjects``). This
  default is the bot's (issue 15); the policy and KCSIE are silent on directory outages.

The names staff type are also read: ``names_in_text`` finds role holders named in what happened / who is involved
(first and last name, or a title and surname such as "Mrs Smith"), so the reporter can be asked whether the report
is about them before it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.incidents import (
    PERMISSION_TITLES,
    ROUTING,
    Category,
    CategoryRule,
    ChannelView,
    NotPermitted,
    Permission,
    Status,
    Urgency,
    authorise,
)
from domain.roles import ROLE_TITLES, Role

# Roles that receive or may open reports: someone holding one of these who is the subject of a report is routed
# around.
ROUTING_ROLES: frozenset[Role] = frozenset({
    Role.HEAD_TEACHER, Role.DEPUTY, Role.SLT, Role.DSL, Role.DEPUTY_DSL, Role.DPO, Role.CHAIR_OF_GOVERNORS,
})
# Everyone who handles some kind of report: the roles the policy names for each category, and those a report's route
# or the safeguarding chain may name (deputy DSLs, the deputy head, the Chair). The router admits them to the handling
# buttons and the safeguarding record; whether they handle *this* report's category is checked in the service against
# the report it loads.
REPORT_HANDLERS: frozenset[Role] = frozenset().union(*(rule.handlers for rule in ROUTING.values())) | ROUTING_ROLES
# Alerted at once, 24/7, by an urgent report in a category the DSL handles.
SAFEGUARDING_ALERT: frozenset[Role] = frozenset({Role.DSL, Role.DEPUTY_DSL, Role.HEAD_TEACHER})
# The default order of the safeguarding chain: who is next when nobody before could be reached or took the lead.
DEFAULT_CHAIN: tuple[str, ...] = (
    Role.DSL.value, Role.DEPUTY_DSL.value, Role.HEAD_TEACHER.value, Role.DEPUTY.value, Role.CHAIR_OF_GOVERNORS.value,
)
# Who receives a report while the roles of a member of staff it is about are unknown (the directory could not say):
# the safeguarding leads and the Head Teacher, never that person, restricted, never in the channel.
RECHECK_ROUTE: frozenset[Role] = SAFEGUARDING_ALERT
# The steps of the safeguarding chain kept meanwhile: those roles and the Chair of Governors (who is nobody's
# colleague on the staff), plus people the school named in the chain; never the deputy head (SLT).
RECHECK_CHAIN_ROLES: frozenset[Role] = SAFEGUARDING_ALERT | {Role.CHAIR_OF_GOVERNORS}
MAX_CHAIN_STEPS = 10
MAX_SUBJECTS = 8  # staff chosen as who a report is about
MAX_ASKED = 4  # role holders named in the text the reporter is asked about at once

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ChainError(ValueError):
    """The safeguarding chain setting cannot be used; ``str()`` says what to change."""


@dataclass(frozen=True)
class ChainStep:
    """One step of the safeguarding chain: everyone holding a role, or one person (an Entra object id)."""

    role: Role | None = None
    aad_object_id: str | None = None

    def __post_init__(self) -> None:
        if (self.role is None) == (self.aad_object_id is None):
            raise ValueError("a chain step is a role or a person")

    @property
    def title(self) -> str:
        return ROLE_TITLES[self.role] if self.role is not None else "Safeguarding contact"

    @property
    def key(self) -> str:
        return self.role.value if self.role is not None else (self.aad_object_id or "").lower()


def parse_chain(text: str | Sequence[str]) -> tuple[ChainStep, ...]:
    """The chain from its setting: role names (``dsl``, ``deputy_dsl``, ``head_teacher`` ...) or Entra object ids,
    in order, comma separated.

    Raises:
        ChainError: an entry is neither a known role nor an object id, is repeated, is ``staff``, or the chain is
            empty or too long.
    """
    entries = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    if not entries:
        raise ChainError("the safeguarding chain is empty: name at least one role, e.g. dsl,deputy_dsl,head_teacher")
    if len(entries) > MAX_CHAIN_STEPS:
        raise ChainError(f"the safeguarding chain has {len(entries)} steps; at most {MAX_CHAIN_STEPS}")
    steps: list[ChainStep] = []
    known = {role.value: role for role in Role if role is not Role.STAFF}
    for entry in entries:
        if entry.lower() in known:
            step = ChainStep(role=known[entry.lower()])
        elif _GUID.match(entry):
            step = ChainStep(aad_object_id=entry.lower())
        elif entry.lower() == Role.STAFF.value:
            raise ChainError("'staff' cannot be a step of the safeguarding chain: it would alert everyone")
        else:
            raise ChainError(f"{entry!r} is neither a role ({', '.join(known)}) nor an Entra object id")
        if step in steps:
            raise ChainError(f"{entry!r} is named twice in the safeguarding chain")
        steps.append(step)
    return tuple(steps)


# --- who a report is about ------------------------------------------------------------------------------------


class SubjectKind(StrEnum):
    STAFF = "staff"  # a member of staff from the directory (people picker, or confirmed from the text)
    OTHER = "other"  # pupils, parents, people outside the school: as typed


class SubjectSource(StrEnum):
    CHOSEN = "chosen"  # chosen on the form
    CONFIRMED = "confirmed"  # named in the text; the reporter confirmed the report is about them
    TYPED = "typed"  # typed as text (pupils and others)


@dataclass(frozen=True)
class Subject:
    """Someone a report is about. ``roles`` are those they held when the report was made.

    ``roles_known`` is False while the directory could not say which roles a member of staff holds (``roles`` is
    then only what it did say, perhaps nothing): the report is routed safe (``RECHECK_ROUTE``) until they are read
    again.
    """

    kind: SubjectKind
    name: str
    aad_object_id: str | None = None
    roles: frozenset[Role] = frozenset()
    source: SubjectSource = SubjectSource.CHOSEN
    roles_known: bool = True

    @property
    def routing_roles(self) -> frozenset[Role]:
        return self.roles & ROUTING_ROLES


class AboutRecipient(StrEnum):
    """Why a report was routed around someone (None: it was not)."""

    HEAD_TEACHER = "head_teacher"  # about the Head Teacher: the Chair of Governors only
    ROLE_HOLDER = "role_holder"  # about someone else who holds a role: the Head Teacher only, restricted
    ROLES_UNKNOWN = "roles_unknown"  # about staff whose roles the directory could not give: the safe route meanwhile


@dataclass(frozen=True)
class Route:
    """Where one report goes and who may see it.

    Attributes:
        notify: roles whose holders are sent the full details at once (less ``excluded`` people).
        handlers: roles whose holders may open the details and act (less ``excluded`` people); people the chain
            alerted may too (``may_handle``).
        channel: what the SLT channel shows.
        chain: who is next, in order, when nobody could be reached or took the lead (urgent reports only).
        excluded: Entra object ids (lower case) of the staff the report is about: never sent it, never shown it.
        about: why the report was routed around someone, if it was.
        recheck: the roles of someone it is about are still unknown: route again when the directory answers.
        safeguarding_alert: the DSL, deputy DSLs and the Head Teacher were alerted at once (urgent).
    """

    notify: frozenset[Role]
    handlers: frozenset[Role]
    channel: ChannelView
    chain: tuple[ChainStep, ...] = ()
    excluded: frozenset[str] = frozenset()
    about: AboutRecipient | None = None
    safeguarding_alert: bool = False
    recheck: bool = False

    @property
    def restricted(self) -> bool:
        return self.channel is not ChannelView.MINIMAL

    def excludes(self, aad_object_id: str | None) -> bool:
        return bool(aad_object_id) and (aad_object_id or "").lower() in self.excluded

    @property
    def explanation(self) -> str | None:
        """Why the report does not follow its category's usual route, in a sentence for the chronology and the
        reporter."""
        if self.about is AboutRecipient.HEAD_TEACHER:
            return "It is about the Head Teacher: it goes to the Chair of Governors only, never to the Head Teacher."
        if self.about is AboutRecipient.ROLE_HOLDER:
            return ("It is about someone who would normally receive it: it goes to the Head Teacher only, "
                    "restricted, never to them.")
        if self.about is AboutRecipient.ROLES_UNKNOWN:
            return ("The school directory could not say just now what role the person it is about holds: until it "
                    "can, it goes only to the safeguarding leads and the Head Teacher (never to that person), "
                    "restricted, never to the SLT channel. Who should receive it is checked again as soon as the "
                    "directory answers.")
        return None


def _ordered(roles: Iterable[Role]) -> tuple[ChainStep, ...]:
    wanted = set(roles)
    return tuple(ChainStep(role=role) for role in Role if role in wanted)


def route_report(rule: CategoryRule, urgency: Urgency, subjects: Sequence[Subject] = (),
                 chain: Sequence[ChainStep] = ()) -> Route:
    """The one routing function: who is sent a report, who may handle it, what the channel shows, who is next.

    Args:
        rule: the category's rule (``domain.incidents.ROUTING``).
        urgency: the report's urgency.
        subjects: who the report is about (with the roles they held when it was made).
        chain: the school's safeguarding chain (``parse_chain``); empty: the category's own escalation roles.
    """
    excluded = frozenset(s.aad_object_id.lower() for s in subjects if s.aad_object_id)
    held = frozenset().union(*(s.routing_roles for s in subjects if s.aad_object_id))
    unknown = any(s.aad_object_id and not s.roles_known for s in subjects)
    urgent = urgency is Urgency.URGENT
    safeguarding = Role.DSL in rule.handlers
    if Role.HEAD_TEACHER in held or rule.category is Category.ABOUT_HEAD_TEACHER:
        chair = frozenset({Role.CHAIR_OF_GOVERNORS})
        return Route(chair, chair, ChannelView.NONE, _ordered(chair) if urgent else (), excluded,
                     AboutRecipient.HEAD_TEACHER if Role.HEAD_TEACHER in held else None, recheck=unknown)
    if held:
        head = frozenset({Role.HEAD_TEACHER})
        return Route(head, head, ChannelView.NONE, _ordered(head) if urgent else (), excluded,
                     AboutRecipient.ROLE_HOLDER, recheck=unknown)
    if unknown:  # they may hold any role: the safe route until the directory answers (module docstring)
        kept = tuple(step for step in (tuple(chain) or _ordered(RECHECK_CHAIN_ROLES))
                     if step.role is None or step.role in RECHECK_CHAIN_ROLES) if urgent else ()
        return Route(RECHECK_ROUTE, RECHECK_ROUTE, ChannelView.NONE, kept, excluded, AboutRecipient.ROLES_UNKNOWN,
                     urgent and safeguarding, recheck=True)
    handlers = rule.handlers | ({Role.DEPUTY_DSL} if Role.DSL in rule.notify else frozenset())
    notify = rule.notify
    steps: tuple[ChainStep, ...] = ()
    if urgent and safeguarding:
        notify = notify | SAFEGUARDING_ALERT
        handlers = handlers | SAFEGUARDING_ALERT
        steps = tuple(chain) or _ordered(rule.escalate_to)
    elif urgent:
        steps = _ordered(rule.escalate_to)  # allegations about staff stay with the Head Teacher (or the Chair)
    return Route(notify, handlers, rule.channel, steps, excluded, None, urgent and safeguarding)


def may_handle(route: Route, aad_object_id: str, roles: frozenset[Role], alerted: Iterable[str] = ()) -> bool:
    """Whether this person may open and act on a report routed by ``route``: never someone it is about; else anyone
    holding a handling role, or whom the safeguarding chain alerted."""
    key = aad_object_id.lower()
    if key in route.excluded:
        return False
    return bool(roles & route.handlers) or key in {a.lower() for a in alerted}


def authorise_report(permission: Permission, route: Route, category: Category, status: Status, aad_object_id: str,
                     roles: frozenset[Role], alerted: Iterable[str] = ()) -> None:
    """Refuse what the rules do not allow on one report: anyone it is about, whatever their role; anyone neither
    holding a role its route names nor alerted by its safeguarding chain; then the rule for closed reports.

    Raises:
        NotPermitted: not someone this report may be shown to.
        AlreadyClosed: the report is closed and ``permission`` changes it.
    """
    if not may_handle(route, aad_object_id, roles, alerted):
        raise NotPermitted(
            f"Only the people the policy names for this report can {PERMISSION_TITLES[permission]} it. Nothing was "
            "changed or shown."
        )
    authorise(permission, ROUTING[category].handlers, category, status)  # as a handler: only the closed rule is left


# --- who to phone when nobody could be alerted -----------------------------------------------------------------

ASK_THE_OFFICE = "ask the school office for this number"
POLICE_EMERGENCY = "999"  # the UK's emergency number
POLICE_NON_EMERGENCY = "101"  # the UK police's non-emergency number


@dataclass(frozen=True)
class EmergencyContacts:
    """The phone numbers the school configures (``POLICYBOT_SAFEGUARDING_PHONE_*``); none is made up here."""

    dsl: str = ""
    deputy_dsl: str = ""
    children_services: str = ""
    out_of_hours: str = ""
    lado: str = ""

    def lines(self, *, dsl_names: Sequence[str] = (), deputy_names: Sequence[str] = (),
              allegation: bool = False) -> list[tuple[str, str]]:
        """(who, number) in the order to try them; a number the school has not configured says to ask the office."""
        def named(title: str, names: Sequence[str]) -> str:
            return f"{title} ({', '.join(names)})" if names else title

        found = [
            ("Police, if anyone is in immediate danger", POLICE_EMERGENCY),
            (named("Designated Safeguarding Lead", dsl_names), self.dsl or ASK_THE_OFFICE),
            (named("Deputy Designated Safeguarding Lead", deputy_names), self.deputy_dsl or ASK_THE_OFFICE),
            ("Children's social care / MASH (the local authority)", self.children_services or ASK_THE_OFFICE),
            ("Out of hours: the local authority's emergency duty team", self.out_of_hours or ASK_THE_OFFICE),
        ]
        if allegation:
            found.append(("LADO (an allegation about a member of staff)", self.lado or ASK_THE_OFFICE))
        found.append(("Police, not an emergency", POLICE_NON_EMERGENCY))
        return found


# --- names typed in the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedPerson:
    """A role holder the directory knows, whose name the text may contain."""

    aad_object_id: str
    name: str
    roles: frozenset[Role]


_TITLES = r"(?:mr|mrs|ms|miss|mx|dr|rev|revd|sir|dame)\.?"


def _name_pattern(name: str) -> re.Pattern[str] | None:
    parts = [re.escape(part) for part in name.split() if part]
    if not parts:
        return None
    options = []
    if len(parts) >= 2:
        options.append(r"\s+".join(parts))  # first and last name ("Anna Smith"), middle names as listed
        options.append(rf"{_TITLES}\s+{parts[-1]}")  # title and surname ("Mrs Smith")
        options.append(rf"{parts[0]}\s+{parts[-1]}")  # first and last without the middle name
    else:
        options.append(rf"{_TITLES}\s+{parts[0]}")
    return re.compile(r"(?<![\w'])(?:" + "|".join(options) + r")(?!\w)", re.IGNORECASE)  # "Mrs Smith's" too


def names_in_text(texts: Iterable[str], people: Iterable[NamedPerson]) -> list[NamedPerson]:
    """The people holding a routing role whose name (first and last name, or title and surname) the texts contain,
    in the order given, each once."""
    text = "\n".join(texts)
    found: dict[str, NamedPerson] = {}
    for person in people:
        if not person.roles & ROUTING_ROLES or person.aad_object_id.lower() in found:
            continue
        pattern = _name_pattern(person.name)
        if pattern is not None and pattern.search(text):
            found[person.aad_object_id.lower()] = person
    return list(found.values())


def role_line(roles: Iterable[Role]) -> str:
    """The routing roles someone holds, for the question "is this report about them?"."""
    held = set(roles) & ROUTING_ROLES
    return ", ".join(ROLE_TITLES[role] for role in Role if role in held)


__all__ = [
    "DEFAULT_CHAIN",
    "MAX_ASKED",
    "MAX_SUBJECTS",
    "RECHECK_CHAIN_ROLES",
    "RECHECK_ROUTE",
    "ROUTING_ROLES",
    "SAFEGUARDING_ALERT",
    "AboutRecipient",
    "ChainError",
    "ChainStep",
    "authorise_report",
    "EmergencyContacts",
    "NamedPerson",
    "Route",
    "Subject",
    "SubjectKind",
    "SubjectSource",
    "may_handle",
    "names_in_text",
    "parse_chain",
    "role_line",
    "route_report",
]
