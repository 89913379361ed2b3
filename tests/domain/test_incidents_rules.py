"""The incident rules in plain Python: routing per category, urgency, authorisation, the escalation clock."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.calendar import SchoolCalendar
from domain.incidents import (
    ROUTING,
    ActionTaken,
    AlreadyClosed,
    Category,
    ChannelView,
    NotPermitted,
    Permission,
    ReportDetails,
    Status,
    Urgency,
    authorise,
    format_reference,
    ico_deadline,
    parse_reference,
    personal_recipients,
    plain_text_from_html,
    reference_year,
    urgency_for,
)
from domain.roles import Role

REAL_POLICY = Path(__file__).resolve().parents[3] / "shared" / "reference" / "social-media-policy.txt"
R = Role

# category → (personal card at once, may open and act, what the SLT channel shows, urgent whatever the answer)
EXPECTED_ROUTING = {
    Category.OFFENSIVE_CONTENT: ({R.HEAD_TEACHER}, {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.BULLYING_PUPIL: ({R.DSL}, {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.BULLYING_STAFF: ({R.HEAD_TEACHER}, {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.NEGATIVE_COMMENT: (set(), {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.MEDIA_ENQUIRY: ({R.HEAD_TEACHER}, {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.DATA_BREACH: ({R.DPO, R.HEAD_TEACHER}, {R.SLT, R.HEAD_TEACHER, R.DSL, R.DPO}, ChannelView.MINIMAL,
                           False),
    Category.COPYRIGHT: ({R.HEAD_TEACHER}, {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.INAPPROPRIATE_IMAGE: ({R.HEAD_TEACHER, R.DSL}, {R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.EXTREMISM: ({R.DSL}, {R.DSL, R.HEAD_TEACHER}, ChannelView.RESTRICTED, True),
    Category.PUPIL_SAFETY: ({R.DSL}, {R.DSL, R.HEAD_TEACHER}, ChannelView.RESTRICTED, True),
    Category.STAFF_PUPIL_CONTACT: ({R.HEAD_TEACHER}, {R.HEAD_TEACHER}, ChannelView.NONE, False),
    Category.ALLEGATION_ABOUT_STAFF: ({R.HEAD_TEACHER}, {R.HEAD_TEACHER}, ChannelView.NONE, False),
    Category.ABOUT_HEAD_TEACHER: ({R.CHAIR_OF_GOVERNORS}, {R.CHAIR_OF_GOVERNORS}, ChannelView.NONE, False),
    Category.PRAISE: (set(), {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
    Category.OTHER: (set(), {R.SLT, R.HEAD_TEACHER, R.DSL}, ChannelView.MINIMAL, False),
}


def test_every_category_of_the_issue_has_a_rule() -> None:
    assert set(ROUTING) == set(Category) == set(EXPECTED_ROUTING)


@pytest.mark.parametrize("category", list(Category))
def test_routing_table(category: Category) -> None:
    notify, handlers, channel, urgent = EXPECTED_ROUTING[category]
    rule = ROUTING[category]
    assert (set(rule.notify), set(rule.handlers), rule.channel, rule.urgent) == (notify, handlers, channel, urgent)
    # Whoever is sent the details, or an escalation, is someone who may open them and act.
    assert rule.notify <= rule.handlers
    assert rule.escalate_to <= rule.handlers
    assert rule.guidance and rule.guidance.count(".") <= 3, "one line of guidance"


def test_allegations_never_reach_a_channel_nor_the_wrong_person() -> None:
    for category in (Category.STAFF_PUPIL_CONTACT, Category.ALLEGATION_ABOUT_STAFF):
        rule = ROUTING[category]
        assert rule.channel is ChannelView.NONE
        assert rule.handlers == {Role.HEAD_TEACHER} == rule.escalate_to
    about_head = ROUTING[Category.ABOUT_HEAD_TEACHER]
    assert about_head.channel is ChannelView.NONE
    assert Role.HEAD_TEACHER not in about_head.handlers | about_head.notify | about_head.escalate_to
    assert Role.SLT not in about_head.handlers


def test_safeguarding_and_prevent_go_to_the_dsl_at_once_and_are_restricted() -> None:
    for category in (Category.EXTREMISM, Category.PUPIL_SAFETY):
        rule = ROUTING[category]
        assert Role.DSL in rule.notify and rule.urgent and rule.restricted
        assert Role.SLT not in rule.handlers  # SLT see that a restricted report exists, nothing more


def test_guidance_says_what_the_issue_asks_for() -> None:
    assert "Do not respond" in ROUTING[Category.MEDIA_ENQUIRY].guidance
    assert "SLT will" in ROUTING[Category.MEDIA_ENQUIRY].guidance
    assert ROUTING[Category.DATA_BREACH].ico_clock and "72 hours" in ROUTING[Category.DATA_BREACH].guidance
    assert "DSL" in ROUTING[Category.EXTREMISM].guidance
    assert "shared with SLT as good news" in ROUTING[Category.PRAISE].guidance
    assert not ROUTING[Category.INAPPROPRIATE_IMAGE].accepts_screenshots  # never copy an image of a child


def _quotes(basis: str) -> list[str]:
    found = []
    for quote in re.findall(r'"([^"]+)"', basis):
        found += [part.strip() for part in quote.split("...") if len(part.strip()) > 12]
    return found


def _normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", "'").replace("\u201d", "'")
    return re.sub(r"\s+", " ", text.replace("**", "")).lower()


@pytest.mark.skipif(not REAL_POLICY.is_file(), reason=f"the school's policy is not at {REAL_POLICY}")
@pytest.mark.parametrize("category", list(Category))
def test_every_quoted_policy_basis_is_verbatim_from_the_policy(category: Category) -> None:
    """Rules cite the policy's own words; where it is silent the rule says so instead of quoting."""
    policy = _normalise(REAL_POLICY.read_text(encoding="utf-8"))
    basis = ROUTING[category].policy_basis
    quotes = _quotes(basis)
    for quote in quotes:
        assert _normalise(quote) in policy, f"{category}: not in the policy: {quote!r}"
    assert quotes or "silent" in basis or "does not" in basis, f"{category}: neither a quote nor 'silent'"


def test_urgency() -> None:
    assert urgency_for(Category.NEGATIVE_COMMENT, immediate_risk=False) is Urgency.STANDARD
    assert urgency_for(Category.NEGATIVE_COMMENT, immediate_risk=True) is Urgency.URGENT
    assert urgency_for(Category.PUPIL_SAFETY, immediate_risk=False) is Urgency.URGENT
    assert urgency_for(Category.PRAISE, immediate_risk=False) is Urgency.GOOD_NEWS
    assert urgency_for(Category.PRAISE, immediate_risk=True) is Urgency.URGENT


def test_without_an_slt_channel_slt_get_the_minimal_share_personally() -> None:
    negative = ROUTING[Category.NEGATIVE_COMMENT]
    assert personal_recipients(negative, channel_available=True) == frozenset()
    assert personal_recipients(negative, channel_available=False) == {Role.SLT}
    media = ROUTING[Category.MEDIA_ENQUIRY]  # the Head Teacher personally, and SLT's share
    assert personal_recipients(media, channel_available=False) == {Role.SLT, Role.HEAD_TEACHER}
    restricted = ROUTING[Category.PUPIL_SAFETY]
    assert personal_recipients(restricted, channel_available=False) == {Role.DSL}  # never widened


# --- authorisation: every action, every role, every category -------------------------------------------------

ROLE_SETS = {
    "staff": frozenset({Role.STAFF}),
    "head": frozenset({Role.STAFF, Role.HEAD_TEACHER, Role.SLT}),
    "slt": frozenset({Role.STAFF, Role.SLT, Role.DEPUTY}),
    "dsl": frozenset({Role.STAFF, Role.DSL, Role.SLT}),
    "dpo": frozenset({Role.STAFF, Role.DPO, Role.DATA_ADMIN}),
    "chair": frozenset({Role.STAFF, Role.CHAIR_OF_GOVERNORS}),
}


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("who", list(ROLE_SETS))
def test_authorisation_matrix(category: Category, permission: Permission, who: str) -> None:
    roles = ROLE_SETS[who]
    allowed = bool(roles & EXPECTED_ROUTING[category][1])
    if allowed:
        authorise(permission, roles, category, Status.OPEN)
    else:
        with pytest.raises(NotPermitted):
            authorise(permission, roles, category, Status.OPEN)


@pytest.mark.parametrize("permission", list(Permission))
def test_a_closed_report_can_only_be_viewed_and_noted(permission: Permission) -> None:
    """...and its record completed: a referral's outcome arrives later; the record is exported and transferred."""
    roles = ROLE_SETS["head"]
    if permission in (Permission.VIEW, Permission.ADD_NOTE, Permission.SHOW_ATTACHMENT,
                      Permission.RECORD_REFERRAL_OUTCOME, Permission.EXPORT_RECORD, Permission.MARK_TRANSFERRED):
        authorise(permission, roles, Category.OTHER, Status.CLOSED)
    else:
        with pytest.raises(AlreadyClosed):
            authorise(permission, roles, Category.OTHER, Status.CLOSED)


def test_staff_can_never_act_on_any_report() -> None:
    for category in Category:
        for permission in Permission:
            with pytest.raises(NotPermitted):
                authorise(permission, frozenset({Role.STAFF}), category, Status.OPEN)


# --- the escalation clock ---------------------------------------------------------------------------------


def london(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Europe/London"))


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (london(2026, 11, 24, 10, 0), london(2026, 11, 24, 10, 30)),  # Tuesday morning: 30 minutes later
        (london(2026, 11, 27, 16, 50), london(2026, 11, 30, 8, 20)),  # Friday 16:50: Monday 08:20
        (london(2026, 11, 28, 12, 0), london(2026, 11, 30, 8, 30)),  # Saturday: from Monday's opening
        (london(2026, 11, 24, 6, 15), london(2026, 11, 24, 8, 30)),  # before school: from 08:00
        (london(2026, 11, 24, 17, 0), london(2026, 11, 25, 8, 30)),  # at closing time: next morning
        (london(2026, 3, 27, 16, 45), london(2026, 3, 30, 8, 15)),  # across the clocks going forward (29 March)
    ],
)
def test_escalation_counts_school_time_only(start: datetime, due: datetime) -> None:
    assert SchoolCalendar().add_school_minutes(start.astimezone(UTC), 30) == due.astimezone(UTC)


def test_school_hours_are_configurable() -> None:
    hours = SchoolCalendar(day_starts=time(7, 30), day_ends=time(18, 0), weekdays=frozenset({0, 1, 2, 3, 4, 5}))
    assert hours.add_school_minutes(london(2026, 11, 28, 17, 50).astimezone(UTC), 30) == london(2026, 11, 30, 7, 50)
    assert hours.is_school_time(london(2026, 11, 28, 9, 0)) \
        and not SchoolCalendar().is_school_time(london(2026, 11, 28, 9, 0))
    with pytest.raises(ValueError):
        SchoolCalendar(day_starts=time(17, 0), day_ends=time(8, 0))


def test_ico_deadline_is_72_hours() -> None:
    aware = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert ico_deadline(aware) == aware + timedelta(hours=72)


# --- references and inputs ----------------------------------------------------------------------------------


def test_references() -> None:
    assert format_reference(2026, 42) == "INC-2026-0042"
    assert format_reference(2026, 12345) == "INC-2026-12345"
    assert parse_reference(" inc-2026-0042 ") == (2026, 42)
    assert parse_reference("INC-26-1") is None
    # References count per year in the school's time zone (London is on UTC at new year).
    assert reference_year(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), SchoolCalendar()) == 2026
    assert reference_year(datetime(2027, 1, 1, 0, 1, tzinfo=UTC), SchoolCalendar()) == 2027


def test_report_details_are_checked() -> None:
    details = ReportDetails.model_validate({
        "category": "media_enquiry", "what_happened": "  A journalist rang.\r\n ", "platform": "Facebook",
        "actions_taken": "blocked,deleted,blocked", "when_date": "2026-11-24", "link": "",
    })
    assert details.what_happened == "A journalist rang."
    assert details.actions_taken == [ActionTaken.BLOCKED, ActionTaken.DELETED]
    assert details.when_date == date(2026, 11, 24)
    for bad in (
        {"what_happened": ""},
        {"what_happened": "x" * 3001},
        {"platform": "MySpace"},
        {"actions_taken": "hacked_back"},
        {"category": "gossip"},
    ):
        with pytest.raises(ValidationError):
            ReportDetails.model_validate({"category": "other", "what_happened": "Something.", **bad})


def test_message_html_becomes_plain_text() -> None:
    html = (
        '<div><p>Look at <b>this</b> &amp; <a href="https://evil.example">[click](https://evil.example)</a></p>'
        "<script>alert('x')</script><style>p{}</style><p>second&nbsp;line</p><img src='x' alt='photo'></div>"
    )
    text = plain_text_from_html(html)
    assert text == "Look at this & [click](https://evil.example)\n\nsecond line\n[image: photo]"
    assert "alert" not in text and "<" not in text
    assert plain_text_from_html("<p>" + "a" * 5000 + "</p>", limit=100) == "a" * 100
