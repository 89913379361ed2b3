"""Every card the bot sends, built with hostile text in every field a person, the directory, a card submission or
an import can fill: no text on it holds a live address, a Markdown link or a hidden character, user text is escaped,
and the cards stay valid for Teams. The incident's own link is a link only in the details view, and only for http(s).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cards.accounts import (
    account_form_card,
    account_register_card,
    account_summary,
    form_closed_card,
    handover_alert_card,
)
from cards.approvals import (
    RequestSummary,
    decider_card,
    delegation_card,
    delegation_notice_card,
    delegation_summary_card,
    my_requests_card,
    outcome_card,
    slt_card,
    status_card,
)
from cards.audit import AuditLine, audit_trail_card
from cards.base import AdaptiveCard
from cards.consent import (
    AuthorisedException,
    DeviceExceptionCase,
    ExceptionPupil,
    device_exception_approved_card,
    device_exception_edit_card,
    device_exception_summary,
    photo_check_question_card,
    pupil_choice_card,
    verdict_card,
)
from cards.consent_admin import (
    RequestView,
    VersionView,
    consent_register_card,
    do_not_photograph_choice_card,
    do_not_photograph_cleared_card,
    do_not_photograph_form_card,
    do_not_photograph_not_found_card,
    do_not_photograph_recorded_card,
    do_not_photograph_request_card,
    photo_requests_card,
    pupil_consent_card,
    register_activated_card,
    register_imported_card,
    register_rejected_card,
)
from cards.help import help_card, notice_card, welcome_card
from cards.incidents import (
    ChannelFacts,
    FullReport,
    ListedReport,
    Routed,
    ScreenshotInfo,
    category_card,
    channel_card,
    details_card,
    details_form_card,
    emergency_card,
    message_report_card,
    open_reports_card,
    problem_card,
    receipt_card,
    screenshot_card,
)
from cards.platform import PlatformStatus, whoami_card
from cards.platform import status_card as platform_status_card
from cards.policy_help import policy_answer_card, policy_not_covered_card
from cards.retention import holds_card
from domain.accounts import (
    Administrator,
    RegisteredAccount,
    StaffMember,
    Training,
    Visibility,
    check_handover,
    runner_field,
    validate_form,
)
from domain.approvals import ApprovalKind, ApprovalRecord, ApprovalState, Delegation
from domain.audit import AuditOutcome, RecordType
from domain.calendar import SchoolCalendar
from domain.consent import (
    DEFAULT_PURPOSES,
    GRANTED,
    ConsentRegister,
    Destination,
    Device,
    PhotoCheckRequest,
    Pupil,
    RegisterEntry,
    check_photo,
    parse_pupil_names,
)
from domain.consent_import import ImportProblem, ImportRejected
from domain.incidents import (
    ROUTING,
    ActionTaken,
    Category,
    ChronologyEntry,
    DslTold,
    EventKind,
    OutcomeKind,
    Source,
    Status,
    Urgency,
)
from domain.policy_help import NotCovered, PolicyAnswer, PolicyQuote
from domain.retention import HoldKind, LegalHold
from domain.roles import Role, RoleLookup
from tests.support.approvals import LEE, SAM, case_values
from tests.support.cardcheck import assert_valid_cards

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LONDON = SchoolCalendar()
DRAFT = "0123456789abcdef0123456789abcdef"

# A name as the directory, a form or an import could give it: a right-to-left override and a zero-width space in it,
# an address, a Markdown link, an e-mail address, and a line break that would start a line of its own.
NAME = "Zoë\u202eO'Brien\u200b [x](https://evil.example/n) jo@evil.example\nFORGED line"
# Free text (a description, comment, reason, note, business case): every kind of address, Markdown, HTML entities,
# bidirectional controls, zero-width and control characters.
TEXT = (
    "See https://evil.example/a and www.evil.example or <https://evil.example/b> [click](https://evil.example/c) "
    "mailto:jo@evil.example javascript:alert(1) evil.zip holiday\u202egpj.exe \u2066x\u2069 a\u200db\ufeff "
    "**BOLD** &#x202E; &lt;b&gt;\nsecond line\x00\x1b[31m"
)
FILE_NAME = "invoice\u202egpj.zip"
HIDDEN = ("\u202e", "\u200b", "\u2066", "\u200d", "\ufeff")

# Anything a client could make a link of (independent of how cards/text.py finds them).
_LIVE = re.compile(
    r"[\w+.\-]://\S|\bwww\.|\b(?:javascript|vbscript|mailto|data|tel|file):(?=\S)"
    r"|\w@[\w\-]+\.[^\W\d_]{2,}(?!\w)|[\w\-]\.(?:example|zip|exe|com|org)\b",
    re.IGNORECASE,
)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark's backslash escapes: what a reader sees without them
_UNESCAPED_LINK_SYNTAX = re.compile(r"(?<!\\)(?:\\\\)*(?:[\[\]<]|&#?\w+;)")
_PLAIN_KEYS = ("title", "label", "placeholder", "errorMessage", "altText", "fallbackText")


def _hidden(text: str) -> list[str]:
    def hidden(char: str) -> bool:
        category = unicodedata.category(char)
        return category in ("Cf", "Cs") or (category == "Cc" and char not in "\n\t")

    return [f"U+{ord(char):04X}" for char in text if hidden(char)]


def card_text_problems(card: dict[str, Any]) -> list[str]:
    """Walk a card's JSON: every text a person sees (Markdown and plain) must hold no live address and no hidden
    character; Markdown must hold no unescaped link syntax and no unescaped emphasis from user text; an input's
    value may hold an address (it is not clickable) but no hidden character. Button data is not shown: skipped."""
    problems: list[str] = []

    def check(path: str, text: str, *, markdown: bool, value: bool = False, in_fact: bool = False) -> None:
        if hidden := _hidden(text):
            problems.append(f"{path}: hidden characters {hidden} in {text!r}")
        if value:
            return
        shown = _ESCAPE.sub(r"\1", text) if markdown else text
        if live := _LIVE.search(shown):
            problems.append(f"{path}: live address {live.group()!r} in {text!r}")
        if markdown and _UNESCAPED_LINK_SYNTAX.search(text):
            problems.append(f"{path}: unescaped link syntax in {text!r}")
        if "\nFORGED" in text and not in_fact:  # a line break inside a fact's value stays inside it
            problems.append(f"{path}: a name starts a line of its own in {text!r}")
        if markdown and re.search(r"(?<!\\)\*BOLD|BOLD\*", text):
            problems.append(f"{path}: user text not escaped in {text!r}")

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        for key, item in node.items():
            where = f"{path}.{key}"
            if key in ("data", "choices.data"):
                continue  # what a button sends back, never shown
            if isinstance(item, str):
                in_fact = kind is None and path.rsplit(".", 1)[-1].startswith("facts[")
                if (kind == "TextBlock" and key == "text") or (in_fact and key in ("title", "value")):
                    check(where, item, markdown=True, in_fact=in_fact)
                elif key in _PLAIN_KEYS:
                    check(where, item, markdown=False)
                elif key == "value" and kind == "Input.Text":
                    check(where, item, markdown=False, value=True)
            else:
                walk(item, where)

    walk(card, "$")
    return problems


def open_urls(card: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.OpenUrl":
                found.append(node["url"])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def _shown_text(card: dict[str, Any]) -> str:
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key in ("data", "choices.data"):
                    continue
                if isinstance(item, str):
                    texts.append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(texts)


# --- every card kind, built with hostile text in every user field ------------------------------------------------


def _incident_cards() -> Iterator[tuple[str, AdaptiveCard]]:
    rule = ROUTING[Category.OFFENSIVE_CONTENT]
    report = FullReport(
        incident_id=7, reference="INC-2026-0007", category=Category.OFFENSIVE_CONTENT, urgency=Urgency.URGENT,
        status=Status.CLOSED, received_at=NOW, reporter_name=NAME, immediate_risk=True, dsl_told=DslTold.NOT_YET,
        what_happened=TEXT, platform=NAME, link=f"https://x.example/{TEXT}", when_date=date(2026, 11, 23),
        when_detail=TEXT, involved=TEXT, actions_taken=(ActionTaken.BLOCKED,), source=Source.MESSAGE,
        source_author=NAME, lead_name=NAME, closed_at=NOW, outcome_kind=OutcomeKind.RESOLVED, outcome=TEXT,
        chronology=(ChronologyEntry(EventKind.NOTE_ADDED, NOW, NAME, TEXT, TEXT),),
        screenshots=(ScreenshotInfo(1, FILE_NAME, "image/png\u202e", 120_000),),
    )
    routed = Routed(reached=(f"Designated Safeguarding Lead ({NAME})",), unreachable=(NAME,), channel=True)
    yield "emergency", emergency_card(DRAFT, [NAME])
    yield "category", category_card(DRAFT, True, DslTold.YES, problem=TEXT)
    yield "details form", details_form_card(DRAFT, rule, True, None, today=date(2026, 11, 24), screenshot_minutes=10,
                                            problem=TEXT)
    yield "receipt", receipt_card("INC-2026-0007", rule, Urgency.URGENT, NOW, routed, escalation_minutes=30,
                                  screenshot_minutes=10, emergency=True, dsl_names=[NAME], calendar=LONDON)
    yield "channel", channel_card(ChannelFacts(7, "INC-2026-0007", Category.OFFENSIVE_CONTENT, Urgency.URGENT, NOW,
                                               Status.IN_PROGRESS, lead_name=NAME), calendar=LONDON)
    yield "details", details_card(report, calendar=LONDON, banner=TEXT)
    yield "screenshot", screenshot_card("INC-2026-0007", 1, report.screenshots[0], None)
    yield "message report", message_report_card(DRAFT, author=NAME, text=TEXT, link=TEXT, today=date(2026, 11, 24))
    yield "problem", problem_card("This message can't be reported", [TEXT])
    listed = ListedReport(7, "INC-2026-0007", Category.OFFENSIVE_CONTENT, Urgency.URGENT, NOW, Status.IN_PROGRESS, NAME)
    yield "open reports", open_reports_card([listed], now=NOW)


def _approval_cards() -> Iterator[tuple[str, AdaptiveCard]]:
    staff = {SAM.aad: StaffMember(SAM.aad, NAME), LEE.aad: StaffMember(LEE.aad, NAME + " 2")}
    values = case_values(platform="other", platform_other=NAME[:50], account_name=NAME, aim=TEXT, audience=TEXT,
                         promotion=TEXT, monitoring_plan=TEXT, holiday_monitoring=TEXT)
    case = validate_form(values, staff).case
    assert case is not None
    summary = account_summary(case)
    request = ApprovalRecord(
        id=7, reference="ACC-2026-0007", kind=ApprovalKind.NEW_ACCOUNT, state=ApprovalState.REJECTED, round=2,
        requester_aad_object_id=SAM.aad, requester_name=NAME, payload=case.model_dump(mode="json"), created_at=NOW,
        pending_since=NOW, decided_at=NOW, decided_by_aad_object_id=LEE.aad, decided_by_name=NAME,
        decision_comment=TEXT,
    )
    pending = replace(request, state=ApprovalState.PENDING, decided_at=None, decided_by_name=None,
                      decision_comment=None)
    delegation = Delegation(3, SAM.aad, NAME, LEE.aad, NAME, NOW, NOW + timedelta(days=3))
    people = [(SAM.aad, NAME), (LEE.aad, NAME + " 2")]
    errors = {"aim": TEXT, runner_field(1): TEXT}
    yield "account form", account_form_card(values, people, errors=errors, notice=TEXT, calendar=LONDON,
                                            changing=(7, NAME, TEXT), form_id="a" * 32)
    yield "form closed", form_closed_card(TEXT)
    yield "decider", decider_card(pending, summary, calendar=LONDON, acting_for=NAME, banner=TEXT, error=TEXT,
                                  comment=TEXT)
    yield "status", status_card(request, summary, calendar=LONDON, for_requester=True, notice=TEXT)
    yield "slt", slt_card(request, summary, calendar=LONDON)
    yield "outcome", outcome_card(request, summary, [TEXT], calendar=LONDON)
    yield "my requests", my_requests_card([(request, summary)], draft_saved=NOW, calendar=LONDON)
    yield "delegation", delegation_card(delegation, pending=1, replaced=delegation, calendar=LONDON)
    yield "delegation notice", delegation_notice_card(delegation, calendar=LONDON)
    yield "delegation summary", delegation_summary_card(delegation, [(request, summary)], 1, calendar=LONDON)
    yield "delegation summary, nothing", delegation_summary_card(delegation, [], 0, calendar=LONDON)
    account = RegisteredAccount(
        id=1, platform=NAME, account_name=NAME, audience=TEXT, visibility=Visibility.PRIVATE,
        approval_reference="ACC-2026-0007", approved_at=NOW, approved_by_name=NAME,
        administrators=(Administrator(SAM.aad, NAME, Training.REQUESTED),
                        Administrator(LEE.aad, NAME, Training.CONFIRMED)),
    )
    yield "register", account_register_card([check_handover(account, [SAM.aad])], show_handover=True, calendar=LONDON)
    yield "handover", handover_alert_card(check_handover(account, [SAM.aad]))
    yield "free summary", decider_card(pending, RequestSummary(title=TEXT, facts=((NAME, TEXT),), slt_facts=(),
                                                                notes=(TEXT,)), calendar=LONDON)


def _pupil(pupil_id: str, first: str, surname: str) -> RegisterEntry:
    return RegisterEntry(pupil=Pupil(pupil_id=pupil_id, first_name=first, surname=surname, class_name="4\u202eC"),
                         consents={p.key: GRANTED for p in DEFAULT_PURPOSES}, do_not_publish_reason=TEXT[:2000])


def _consent_cards() -> Iterator[tuple[str, AdaptiveCard]]:
    account = "Year 6 https://evil.example\u202e"
    register = ConsentRegister([
        _pupil("P1", "Zoë\u202e", "https://evil.example"),
        _pupil("P2", "Zoë\u202e", "https://evil.example"),
        _pupil("P3", "Amelia", "www.evil.example"),
    ], version=3)
    typed = "Zoë\u202e https://evil.example; Amelia www.evil.example; Amelie www.evil.example; " + NAME
    request = PhotoCheckRequest(destination=Destination.school_account(account), pupils=tuple(parse_pupil_names(typed)),
                                device=Device.PERSONAL_DEVICE, appropriately_dressed=True, nobody_ridiculed=True,
                                not_in_toilet_or_changing_area=True)
    verdict = check_photo(register, request, school_accounts=[account])
    allowed = check_photo(register, request.model_copy(update={
        "pupils": tuple(parse_pupil_names("Amelia www.evil.example")), "device": Device.SCHOOL_DEVICE,
    }), school_accounts=[account])
    case = DeviceExceptionCase(
        destination=Destination.school_account(account).kind, account_name=account, purpose_titles=(NAME,),
        pupils=(ExceptionPupil(pupil_id="P1", name=NAME, class_label=NAME),), circumstances=TEXT[:1000],
    )
    yield "question", photo_check_question_card([account, NAME], pupils_text=TEXT, problem=TEXT)
    yield "pupil choice", pupil_choice_card(verdict)
    yield "verdict", verdict_card(verdict, notice=TEXT, exception=AuthorisedException(NAME, date(2026, 11, 24), NAME))
    yield "verdict, yes", verdict_card(allowed)
    yield "exception summary", decider_card(
        ApprovalRecord(id=8, reference="PHO-2026-0008", kind=ApprovalKind.PERSONAL_DEVICE_PHOTO,
                       state=ApprovalState.PENDING, round=1, requester_aad_object_id=SAM.aad, requester_name=NAME,
                       payload={}, created_at=NOW, pending_since=NOW),
        device_exception_summary(case, NAME, days=3), calendar=LONDON)
    yield "exception edit", device_exception_edit_card(8, NAME, 1, TEXT, TEXT, problem=TEXT)
    yield "exception approved", device_exception_approved_card(8, NAME, case, until=date(2026, 11, 27))


def _consent_admin_cards() -> Iterator[tuple[str, AdaptiveCard]]:
    pupil = Pupil(pupil_id="P1\u202e", first_name="Zoë\u202e", surname="https://evil.example", class_name=NAME[:50])
    view = RequestView(request_id=1, pupil_id="P1\u202e", pupil=pupil, recorded_by=NAME, recorded_at=NOW, note=TEXT)
    gone = replace(view, pupil=None)
    version = VersionView(version=2, imported_at=NOW, imported_by=NAME, source_name=FILE_NAME, pupil_count=3,
                          pupils_kept=True)
    rejected = ImportRejected(errors=(ImportProblem(line=2, message=TEXT, column=NAME),), error_count=30)
    entry = RegisterEntry(pupil=pupil, consents={p.key: GRANTED for p in DEFAULT_PURPOSES}, do_not_publish=True,
                          do_not_publish_reason=TEXT)
    yield "dnp form", do_not_photograph_form_card(name=NAME, note=TEXT, problem=TEXT)
    yield "dnp choice", do_not_photograph_choice_card(NAME, [pupil, pupil], note=TEXT, several=True)
    yield "dnp not found", do_not_photograph_not_found_card(NAME, nobody_close=True)
    yield "dnp recorded", do_not_photograph_recorded_card(pupil, recorded_at=NOW, told=[NAME], not_told=[NAME],
                                                          directory_down=False, calendar=LONDON)
    yield "dnp request", do_not_photograph_request_card(view, calendar=LONDON)
    yield "dnp cleared", do_not_photograph_cleared_card(gone, cleared_by=NAME, cleared_at=NOW, pupil_id="P1\u202e",
                                                        already=False, calendar=LONDON)
    yield "dnp cleared, gone", do_not_photograph_cleared_card(None, cleared_by=NAME, cleared_at=NOW,
                                                              pupil_id=NAME, already=False, calendar=LONDON)
    yield "photo requests", photo_requests_card([view, gone], can_clear=True, calendar=LONDON)
    yield "pupil consent", pupil_consent_card([entry, entry], DEFAULT_PURPOSES, [view], version=2, typed=NAME,
                                              calendar=LONDON)
    yield "imported", register_imported_card(version, version, [TEXT], calendar=LONDON)
    yield "activated", register_activated_card(version, version, calendar=LONDON)
    yield "rejected", register_rejected_card(FILE_NAME, rejected, version, calendar=LONDON)
    yield "register", consent_register_card(version, [version], open_requests=1, can_activate=True, source="csv",
                                            calendar=LONDON)


def _other_cards() -> Iterator[tuple[str, AdaptiveCard]]:
    yield "help", help_card(NAME, NAME)
    yield "welcome", welcome_card(NAME, NAME)
    yield "notice", notice_card(TEXT, [TEXT])
    yield "whoami", whoami_card(NAME, RoleLookup(frozenset({Role.STAFF}), NAME))
    yield "status", platform_status_card(PlatformStatus(f"{NAME} (chosen in Teams)", NAME, 1, 2, 0, 0, TEXT))
    quote = PolicyQuote(section=NAME, text=TEXT, score=1.0)
    yield "policy answer", policy_answer_card(PolicyAnswer(question=TEXT, quotes=(quote,), what_to_do=TEXT,
                                                           what_to_do_source="summary", flows=(), confidence=1.0))
    yield "policy not covered", policy_not_covered_card(NotCovered(question=TEXT, message=TEXT, confidence=0.0))
    line = AuditLine(at=NOW, who=NAME, action="incident_view", outcome=AuditOutcome.REFUSED,
                     record_type=RecordType.INCIDENT, record=NAME, reason=TEXT)
    yield "audit trail", audit_trail_card(NAME, [line], calendar=LONDON, limit=20)
    yield "legal holds", holds_card([LegalHold(1, HoldKind.PERSON, "", NAME, TEXT, NAME, NOW)], calendar=LONDON)


CARD_KINDS: list[tuple[str, Callable[[], Iterator[tuple[str, AdaptiveCard]]]]] = [
    ("incidents", _incident_cards), ("approvals and accounts", _approval_cards), ("photo check", _consent_cards),
    ("consent register", _consent_admin_cards), ("help, platform, policy, audit, holds", _other_cards),
]


@pytest.mark.parametrize(("kind", "build"), CARD_KINDS, ids=[kind for kind, _ in CARD_KINDS])
def test_no_card_shows_a_live_address_or_a_hidden_character(
    kind: str, build: Callable[[], Iterator[tuple[str, AdaptiveCard]]]
) -> None:
    cards = list(build())
    problems = [f"{name}: {problem}" for name, card in cards for problem in card_text_problems(card.to_dict())]
    assert not problems, "\n".join(problems)
    for name, card in cards:
        shown = _ESCAPE.sub(r"\1", _shown_text(card.to_dict()))
        assert "[U+202E]" in shown, f"{name}: the hostile text did not reach the card"
    assert_valid_cards([card for _, card in cards])


# --- the incident's own link ----------------------------------------------------------------------------------


def _report(link: str) -> FullReport:
    return FullReport(
        incident_id=7, reference="INC-2026-0007", category=Category.OFFENSIVE_CONTENT, urgency=Urgency.STANDARD,
        status=Status.OPEN, received_at=NOW, reporter_name="Sam Teacher", immediate_risk=False, dsl_told=None,
        what_happened="A comment under the Year 6 post.", platform="Facebook", link=link, when_date=None,
        when_detail="", involved="", actions_taken=(), source=Source.CHAT, source_author="", lead_name=None,
        closed_at=None, outcome_kind=None, outcome=None,
    )


POST = "https://www.facebook.com/holytrinity/posts/123?comment_id=9"


def test_the_reported_link_opens_from_the_details_view_for_the_people_who_may_see_it() -> None:
    card = details_card(_report(POST), calendar=LONDON).to_dict()
    assert open_urls(card) == [POST]
    assert not card_text_problems(card)  # the address itself is still shown as text that cannot be clicked
    assert "https[:]//www[.]facebook[.]com/holytrinity/posts/123?comment_id=9" in _ESCAPE.sub(r"\1", _shown_text(card))
    assert_valid_cards([card])


@pytest.mark.parametrize("link", [
    "javascript:alert(document.cookie)", "JavaScript://%0Aalert(1)", "data:text/html,<script>alert(1)</script>",
    "mailto:head@evil.example", "ftp://evil.example/x", "www.evil.example/login", "evil.example",
    "https://holytrinity.example@evil.example/", "https://evil.example/\u202egnp.exe",
])
def test_any_other_link_is_only_text(link: str) -> None:
    card = details_card(_report(link), calendar=LONDON).to_dict()
    assert open_urls(card) == []
    assert not card_text_problems(card)
    assert_valid_cards([card])


def test_the_channel_notice_and_the_reporters_cards_never_carry_the_link() -> None:
    rule = ROUTING[Category.OFFENSIVE_CONTENT]
    facts = ChannelFacts(7, "INC-2026-0007", Category.OFFENSIVE_CONTENT, Urgency.URGENT, NOW, Status.OPEN)
    restricted = ChannelFacts(8, "INC-2026-0008", next(c for c in Category if ROUTING[c].channel.value == "restricted"),
                              Urgency.URGENT, NOW, Status.OPEN)
    cards = [
        channel_card(facts, calendar=LONDON), channel_card(restricted, calendar=LONDON),
        receipt_card("INC-2026-0007", rule, Urgency.STANDARD, NOW, Routed(channel=True), escalation_minutes=30,
                     screenshot_minutes=None, calendar=LONDON),
        message_report_card(DRAFT, author="Lee", text="see the post", link=POST, today=date(2026, 11, 24)),
    ]
    for card in cards:
        as_json = card.to_dict()
        assert open_urls(as_json) == [] and not card_text_problems(as_json)
    assert all("facebook" not in _shown_text(card.to_dict()) for card in cards[:3])
    form = cards[-1].to_dict()  # the report form keeps the address in its input, where it cannot be clicked
    assert [node["value"] for node in form["body"] if node.get("id") == "link"] == [POST]
