"""``dashboard`` and ``governors report`` (issue 18) on SQLite and PostgreSQL: every figure against the hand-counted
dataset of ``tests/support/dashboard_world.py``, the small-number rule on the card, restricted categories only for
those who may see them, the period chooser, refusals (audited), and the governors' PDF (its text read back)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from cards.dashboard import PERIOD_VERB, PeriodPayload
from cards.replies import CommandReply
from dialogs.dashboard import register_dashboard
from dialogs.router import InvokeRequest, Router, TextKind
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.access import RefusalReason
from domain.actors import Actor
from domain.dashboard import FEWER, Period, PeriodChoice, SchoolTerms, dashboard_categories, governors_categories
from domain.incidents import ROUTING, Category
from domain.roles import Role
from services.audit import AuditTrail
from services.dashboard import VIEWERS, Dashboard
from services.governors_report import GovernorsReports
from services.requests import CardAction, CommandRequest
from store import audit as trail
from store import dashboard as store
from store.db import Database
from store.incidents import IncidentRow
from tests.support.cardcheck import assert_valid_card
from tests.support.dashboard_world import EXPECTED_HEAD, EXPECTED_SLT, NOW, PUPIL_NAME, STAFF_NAME, seed

HEAD = DirectoryEntry("00000000-0000-0000-0000-00000000b001", "Hana Head", frozenset({Role.HEAD_TEACHER}))
SLT = DirectoryEntry("00000000-0000-0000-0000-00000000b002", "Sol Senior", frozenset({Role.SLT}))
DSL = DirectoryEntry("00000000-0000-0000-0000-00000000b003", "Dee Safeguard", frozenset({Role.DSL}))
CHAIR = DirectoryEntry("00000000-0000-0000-0000-00000000b004", "Cary Chair", frozenset({Role.CHAIR_OF_GOVERNORS}))
DPO = DirectoryEntry("00000000-0000-0000-0000-00000000b005", "Dora Protect", frozenset({Role.DPO}))
STAFF = DirectoryEntry("00000000-0000-0000-0000-00000000b006", "Max Staff", frozenset())
ADMIN = DirectoryEntry("00000000-0000-0000-0000-00000000b007", "Ada Office", frozenset({Role.DATA_ADMIN}))
PEOPLE = (HEAD, SLT, DSL, CHAIR, DPO, STAFF, ADMIN)


class World:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.directory = StaticRoleDirectory(PEOPLE, description="dashboard tests")
        self.trail = AuditTrail(database)
        self.router = Router(directory=self.directory, trail=self.trail)
        self.uploads: list[tuple[str, bytes]] = []
        self.terms = SchoolTerms()
        self.dashboard = Dashboard(database, self.directory, audit=self.trail, terms=self.terms, clock=lambda: NOW)
        self.governors = GovernorsReports(database, self.directory, audit=self.trail, uploader=self._upload,
                                          school_name="Holy Trinity C of E Primary School", terms=self.terms,
                                          clock=lambda: NOW)
        register_dashboard(self.router, self.dashboard, self.governors)

    async def _upload(self, url: str, content: bytes) -> None:
        self.uploads.append((url, content))

    async def say(self, who: DirectoryEntry, text: str, kind: str = "personal") -> CommandReply:
        match = self.router.match_text(text)
        assert match.kind is TextKind.COMMAND and match.handler is not None, text
        return await match.handler(CommandRequest(match.text, match.argument, actor(who, kind)))

    async def choose(self, who: DirectoryEntry, period: str) -> Any:
        return await self.router.dispatch(CardAction(PERIOD_VERB, {"period": period}, actor(who)))

    async def refusals(self) -> list[Any]:
        async with self.database.sessions() as session:
            return [e for e in await trail.recent(session, limit=50) if e.outcome.value == "refused"]


def actor(who: DirectoryEntry, kind: str = "personal") -> Actor:
    return Actor(who.aad_object_id, who.name, f"29:{who.name.split()[0].lower()}", f"a:{who.name}", kind)


@pytest.fixture
async def world(database: Database) -> AsyncIterator[World]:
    async with database.transaction() as session:
        await seed(session)
    yield World(database)


def card_json(reply: Any) -> dict[str, Any]:
    card = reply.cards[0] if isinstance(reply, CommandReply) else reply.card
    assert card is not None, reply
    return card.to_dict()


def texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [t for key, value in node.items() for t in ([value] if key in ("text", "title", "value", "x", "legend")
                                                           and isinstance(value, str) else texts(value))]
    if isinstance(node, list):
        return [t for value in node for t in texts(value)]
    return []


def facts(card: dict[str, Any]) -> dict[str, str]:
    """Every (label, figure) the card's fallback tables and fact sets show."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "FactSet":
                found.update({f["title"]: f["value"] for f in node["facts"]})
            if node.get("type") == "Table":
                for row in node["rows"][1:]:
                    cells = [c["items"][0]["text"] for c in row["cells"]]
                    found[cells[0]] = cells[1]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


# --- the figures, counted by the database ---------------------------------------------------------------------


async def test_every_figure_matches_the_hand_count(world: World) -> None:
    period = world.terms.period(PeriodChoice.THIS_TERM, NOW)
    async with world.database.sessions() as session:
        head = await store.figures(session, period, dashboard_categories(frozenset({Role.HEAD_TEACHER})), NOW)
        slt = await store.figures(session, period, dashboard_categories(frozenset({Role.SLT})), NOW)
    expected = EXPECTED_HEAD
    assert {c.value: v for c, v in head.by_category.items() if v} == expected["by_category"]
    assert {(c.value, m): v for (c, m), v in head.by_category_month.items()} == expected["by_month"]
    assert (head.open_count, head.closed_count) == (expected["open"], expected["closed"])
    assert dict(head.lead_median) == expected["lead"]
    assert head.auto_escalated == expected["auto_escalated"]
    assert {a: v for a, v in head.referred.items() if v} == expected["referred"]
    assert head.referred_reports == expected["referred_reports"]
    assert dict(head.checks_by_verdict) == expected["checks"]
    assert {r: v for r, v in head.checks_no_reasons.items() if v} == expected["reasons"]
    assert dict(head.requests_by_state) == expected["requests"]
    assert head.request_wait_median == expected["request_wait"]
    assert head.requests_waiting_median == expected["waiting"]
    assert head.do_not_photograph_open == expected["do_not_photograph"]
    assert {c.value: v for c, v in slt.by_category.items() if v} == EXPECTED_SLT["by_category"]
    assert dict(slt.lead_median) == EXPECTED_SLT["lead"]  # an even count: the mean of the middle two
    assert (slt.auto_escalated, slt.referred_reports) == (EXPECTED_SLT["auto_escalated"],
                                                          EXPECTED_SLT["referred_reports"])
    assert {a: v for a, v in slt.referred.items() if v} == EXPECTED_SLT["referred"]
    assert (slt.open_count, slt.closed_count) == (EXPECTED_SLT["open"], EXPECTED_SLT["closed"])


async def test_last_term_counts_only_last_term(world: World) -> None:
    period = world.terms.period(PeriodChoice.LAST_TERM, NOW)
    assert period.title == "Summer term 2026"
    async with world.database.sessions() as session:
        figures = await store.figures(session, period, governors_categories(), NOW)
    assert {c.value: v for c, v in figures.by_category.items() if v} == {"negative_comment": 1}
    assert figures.referred_reports == 1 and dict(figures.checks_by_verdict) == {"yes": 1, "no": 0}
    assert figures.requests_by_state["approved"] == 1 and sum(figures.requests_by_state.values()) == 1



async def _reports_with_leads(database: Database, leads: list[tuple[str, float]], first_id: int) -> None:
    """Reports in March 2025 (outside every period of the hand-counted world), each led ``seconds`` after it came."""
    received = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    async with database.transaction() as session:
        for offset, (urgency, seconds) in enumerate(leads):
            number = first_id + offset
            session.add(IncidentRow(
                id=number, reference=f"INC-2025-{number:04d}", year=2025, number=number,
                submission_key=f"lead-{number}", category="negative_comment", urgency=urgency, status="in_progress",
                immediate_risk=False, dsl_told=None, reporter_aad="r", reporter_name="R", what_happened="x",
                platform="Facebook", link="", when_date=None, when_detail="", involved="", actions_taken=[],
                source="chat", source_author="", received_at=received, lead_aad="l", lead_name="L",
                lead_at=received + timedelta(seconds=seconds), closed_at=None, closed_by_name=None, outcome_kind=None,
                outcome=None, escalate_due_at=None, auto_escalated_at=None, routed_at=received,
                screenshots_until=None, version=1))


async def test_a_median_is_of_durations_in_whole_seconds_the_mean_of_the_middle_two_for_an_even_count(
        world: World) -> None:
    # standard: 0.4, 2.6, 3.6 and 9 s are 0, 3, 4 and 9 whole seconds, so the median is (3 + 4) / 2 = 3.5 (not the
    # middle two's mean rounded, 3.1 -> 3); urgent: 1.4, 1.6 and 8 s are 1, 2, 8, so 2
    await _reports_with_leads(world.database, [("standard", 0.4), ("standard", 2.6), ("standard", 3.6),
                                               ("standard", 9.0), ("urgent", 1.4), ("urgent", 1.6), ("urgent", 8.0)],
                              first_id=100)
    march = Period(None, "March 2025", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    async with world.database.sessions() as session:
        figures = await store.figures(session, march, governors_categories(), NOW)
    assert dict(figures.lead_median) == {"urgent": (2.0, 3), "standard": (3.5, 4)}
    assert {c.value: v for c, v in figures.by_category.items() if v} == {"negative_comment": 7}
    assert figures.by_category_month == {}  # a period without months is not split by month


async def test_a_duration_of_exactly_half_a_second_rounds_to_even_on_postgresql(world: World) -> None:
    if world.database.url.startswith("sqlite"):
        pytest.skip("SQLite's julianday() holds a moment to about 40 microseconds: no duration is exactly x.5 s")
    # 2.5, 2.5 and 7 s are 2, 2 and 7 whole seconds (Python's round(), halves to even, as before percentile_cont):
    # the median is 2, not 3 (halves away from zero) nor 2.5 (not rounded); 0.5, 1.5, 2.5, 3.5 s are 0, 2, 2, 4
    await _reports_with_leads(world.database, [("urgent", 2.5), ("urgent", 2.5), ("urgent", 7.0),
                                               ("standard", 0.5), ("standard", 1.5), ("standard", 2.5),
                                               ("standard", 3.5)], first_id=200)
    march = Period(None, "March 2025", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    async with world.database.sessions() as session:
        figures = await store.figures(session, march, governors_categories(), NOW)
    assert dict(figures.lead_median) == {"urgent": (2.0, 3), "standard": (2.0, 4)}


# --- the card ---------------------------------------------------------------------------------------------------


async def test_the_head_sees_the_figures_with_small_numbers_suppressed_and_charts_with_table_fallbacks(
        world: World) -> None:
    card = card_json(await world.say(HEAD, "dashboard"))
    assert_valid_card(card)
    shown = facts(card)
    assert shown["Reports"] == "15" and shown["Open (not closed yet)"] == "5" and shown["Closed"] == "10"
    assert shown["Offensive content"] == "6" and shown["Negative comment"] == "6"
    assert shown["A pupil's safety (restricted: count only)"] == FEWER  # 2
    assert shown["Praise"] == FEWER  # 1
    assert shown["Urgent reports"] == f"{FEWER} records" and shown["Standard reports"] == "1.8 h"  # 110 min
    assert shown["Open requests"] == FEWER  # 3 do-not-photograph requests
    assert shown["Photo checks"] == "7" and shown["Answer: Yes"] == FEWER and shown["Answer: No"] == FEWER
    charts = [node for node in _nodes(card) if str(node.get("type", "")).startswith("Chart.")]
    assert {c["type"] for c in charts} == {"Chart.VerticalBar", "Chart.Donut", "Chart.Line"}
    for chart in charts:
        assert chart["fallback"]["type"] == "Table"
        drawn = [d.get("y", d.get("value")) for d in chart["data"]] + [
            p["y"] for series in chart["data"] for p in series.get("values", [])]
        assert all(value == 0 or value >= 5 for value in drawn if isinstance(value, int)), chart  # never a small one
    text = " ".join(texts(card))
    assert PUPIL_NAME not in text and STAFF_NAME not in text and "Priya" not in text and "INC-" not in text
    assert ROUTING[Category.ABOUT_HEAD_TEACHER].title not in text and "About the Head" not in text


async def test_each_fallback_table_is_a_valid_card_on_its_own(world: World) -> None:
    card = card_json(await world.say(HEAD, "dashboard"))
    for chart in [n for n in _nodes(card) if str(n.get("type", "")).startswith("Chart.")]:
        assert_valid_card({"type": "AdaptiveCard", "$schema": card["$schema"], "version": "1.5",
                           "body": [chart["fallback"]]})


def _nodes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [n for value in node.values() for n in _nodes(value)]
    if isinstance(node, list):
        return [n for value in node for n in _nodes(value)]
    return []


async def test_a_hidden_count_cannot_be_worked_out_by_subtraction(world: World) -> None:
    """The SLT's category counts: praise (1) is hidden; the total (13) is shown, so the next smallest count is hidden
    too and 13 minus the shown counts gives nothing away."""
    shown = facts(card_json(await world.say(SLT, "dashboard")))
    assert shown["Reports"] == "13" and shown["Praise"] == FEWER
    categories = [shown[title] for title in ("Offensive content", "Negative comment", "Praise")]
    assert categories.count(FEWER) >= 2
    numbers = [int(v) for v in categories if v != FEWER]
    assert all(sum(numbers) != 13 - hidden for hidden in range(1, 5)) or categories.count(FEWER) >= 2


async def test_restricted_categories_only_for_those_the_routing_table_names(world: World) -> None:
    slt = " ".join(texts(card_json(await world.say(SLT, "dashboard"))))
    dsl = " ".join(texts(card_json(await world.say(DSL, "dashboard"))))
    head = " ".join(texts(card_json(await world.say(HEAD, "dashboard"))))
    assert "A pupil's safety" not in slt and "A pupil's safety" in dsl and "A pupil's safety" in head
    for text in (slt, dsl, head):
        assert "About the Head" not in text
    # the restricted category is never split by month nor drawn
    card = card_json(await world.say(DSL, "dashboard"))
    for chart in [n for n in _nodes(card) if str(n.get("type", "")).startswith("Chart.")]:
        assert "A pupil's safety" not in json.dumps(chart["data"])


async def test_the_period_chooser(world: World) -> None:
    this = card_json(await world.say(HEAD, "dashboard"))
    assert "Autumn term 2026" in " ".join(texts(this))
    last = await world.choose(HEAD, "last_term")
    last_text = " ".join(texts(last.card.to_dict()))
    assert "Summer term 2026" in last_text
    assert facts(last.card.to_dict())["Reports"] == FEWER  # one report last term
    year = card_json(await world.say(HEAD, "dashboard school year"))
    assert "School year 2026-27" in " ".join(texts(year))
    buttons = [a for n in _nodes(this) if n.get("type") == "ActionSet" for a in n["actions"]]
    assert [b["data"]["period"] for b in buttons] == ["this_term", "last_term", "school_year"]
    assert all(b["verb"] == PERIOD_VERB for b in buttons)
    bad = await world.router.dispatch(CardAction(PERIOD_VERB, {"period": "all_time"}, actor(HEAD)))
    assert bad.card is None and "out of date" in (bad.message or "")
    assert PeriodPayload.model_validate({"period": "last_term"}).period is PeriodChoice.LAST_TERM


@pytest.mark.parametrize("who", [STAFF, DPO, ADMIN, CHAIR])
async def test_everyone_else_is_refused_and_the_refusal_audited(world: World, who: DirectoryEntry) -> None:
    reply = await world.say(who, "dashboard")
    assert not reply.cards and "shown" in reply.texts[0]
    [entry] = await world.refusals()
    assert (entry.actor_aad, entry.action, entry.reason) == (who.aad_object_id, "dashboard", "role_not_held")


async def test_the_dashboard_only_in_the_personal_chat(world: World) -> None:
    reply = await world.say(HEAD, "dashboard", kind="channel")
    assert not reply.cards
    [entry] = await world.refusals()
    assert entry.reason == "not_personal_chat"


async def test_the_service_checks_again_and_audits(world: World) -> None:
    result = await world.dashboard.show(actor(STAFF), PeriodChoice.THIS_TERM)
    assert result.card is None and result.message == VIEWERS.refused_text(RefusalReason.ROLE)
    [entry] = await world.refusals()
    assert (entry.action, entry.reason) == ("dashboard", "role_not_held")


# --- the governors' report --------------------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_the_governors_report_has_the_figures_no_names_and_is_kept(world: World, tmp_path: Path) -> None:
    reply = await world.say(HEAD, "governors report")
    [consent] = reply.attachments
    assert consent["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
    report_id = consent["content"]["acceptContext"]["governors_report"]
    async with world.database.sessions() as session:
        row = await store.get_report(session, report_id)
    assert row is not None and row.content.startswith(b"%PDF")
    text = pdf_text(row.content)
    assert "Autumn term 2026" in text and "Summer term 2026" in text
    assert "Reports: 15 this term, fewer than 5 last term" in " ".join(text.split())
    assert "Photo checks: 7 this term, fewer than 5 last term" in " ".join(text.split())
    assert "approved" in text and "not recorded" in text  # no approval date configured
    assert "Restricted categories (safeguarding, allegations), combined" in " ".join(text.split())
    for name in (PUPIL_NAME, STAFF_NAME, "Priya", "Hana Head", "INC-2026"):
        assert name not in text
    assert "About the Head" not in text
    result = await world.router.invoke(InvokeRequest("fileConsent/invoke", {
        "type": "fileUpload", "action": "accept", "context": {"governors_report": report_id},
        "uploadInfo": {"uploadUrl": "https://onedrive.example/upload", "name": row.file_name}}, actor(HEAD)))
    assert world.uploads == [("https://onedrive.example/upload", row.content)]
    assert result["send"]["attachments"][0]["contentType"] == "application/vnd.microsoft.teams.card.file.info"
    (tmp_path / "report.pdf").write_bytes(row.content)


async def test_the_summary_says_the_change_from_the_figures_alone(world: World) -> None:
    from domain.dashboard import change_line
    assert change_line("Reports", 12, 8, False, False) == "Reports: 12 this term, 8 last term (+4)"
    assert change_line("Reports", 8, 8, False, False) == "Reports: 8 this term, 8 last term (no change)"
    assert "not shown" in change_line("Reports", 12, 3, False, True)


async def test_two_governors_reports_made_at_once_never_share_a_reference(world: World) -> None:
    import asyncio
    replies = await asyncio.gather(*(world.governors.request(actor(who)) for who in (HEAD, CHAIR, HEAD)))
    ids = [reply.attachments[0]["content"]["acceptContext"]["governors_report"] for reply in replies]
    async with world.database.sessions() as session:
        rows = [await store.get_report(session, report_id) for report_id in ids]
    references = [row.reference for row in rows if row is not None]
    assert len(set(references)) == 3
    for row in rows:
        assert row is not None and row.file_name == f"{row.reference}.pdf"
        assert row.reference in " ".join(pdf_text(row.content).split())  # each PDF names its own reference


async def test_the_policy_dates_when_configured(world: World) -> None:
    from datetime import date
    governors = GovernorsReports(world.database, world.directory, audit=world.trail, uploader=world._upload,
                                 school_name="Holy Trinity", terms=world.terms, clock=lambda: NOW,
                                 policy_approved_on=date(2026, 9, 14), policy_review_due=date(2027, 9, 14))
    reply = await governors.request(actor(CHAIR))
    report_id = reply.attachments[0]["content"]["acceptContext"]["governors_report"]
    async with world.database.sessions() as session:
        row = await store.get_report(session, report_id)
    assert row is not None
    text = " ".join(pdf_text(row.content).split())
    assert "14 September 2026" in text and "14 September 2027" in text


@pytest.mark.parametrize("who", [STAFF, SLT, DSL, DPO, ADMIN])
async def test_the_governors_report_is_refused_to_everyone_else_and_audited(world: World,
                                                                           who: DirectoryEntry) -> None:
    reply = await world.say(who, "governors report")
    assert not reply.attachments
    [entry] = await world.refusals()
    assert (entry.actor_aad, entry.action, entry.reason) == (who.aad_object_id, "governors_report", "role_not_held")
    async with world.database.sessions() as session:
        assert await store.count_reports(session) == 0


async def test_only_the_person_who_asked_receives_the_file(world: World) -> None:
    reply = await world.say(HEAD, "governors report")
    report_id = reply.attachments[0]["content"]["acceptContext"]["governors_report"]
    value = {"type": "fileUpload", "action": "accept", "context": {"governors_report": report_id},
             "uploadInfo": {"uploadUrl": "https://onedrive.example/upload"}}
    answer = await world.router.invoke(InvokeRequest("fileConsent/invoke", value, actor(CHAIR)))
    assert "Only the person who asked" in answer["send"]["texts"][0] and world.uploads == []
    refused = await world.router.invoke(InvokeRequest("fileConsent/invoke", value, actor(DPO)))
    assert "task" in refused and world.uploads == []  # the router: not a governors' role
    entries = await world.refusals()
    assert {(e.action, e.reason) for e in entries} == {("fileConsent/invoke#governors_report", "not_requester"),
                                                       ("fileConsent/invoke#governors_report", "role_not_held")}


# --- the photo checks' day rollup and the migration ---------------------------------------------------------------


async def test_the_day_rollup_gives_the_same_figures_and_is_made_once(world: World) -> None:
    period = world.terms.period(PeriodChoice.THIS_TERM, NOW)
    categories = dashboard_categories(frozenset({Role.HEAD_TEACHER}))
    async with world.database.sessions() as session:
        before = await store.figures(session, period, categories, NOW)
        assert await store.check_days_to_roll_up(session, NOW)
    async with world.database.transaction() as session:
        assert await store.roll_up_check_days(session, NOW) > 0
    async with world.database.transaction() as session:
        assert await store.roll_up_check_days(session, NOW) == 0  # every complete day is rolled up once
    async with world.database.sessions() as session:
        assert not await store.check_days_to_roll_up(session, NOW)
        after = await store.figures(session, period, categories, NOW)
        last_term = await store.figures(session, world.terms.period(PeriodChoice.LAST_TERM, NOW), categories, NOW)
    assert (dict(after.checks_by_verdict), dict(after.checks_no_reasons)) == (
        dict(before.checks_by_verdict), dict(before.checks_no_reasons))
    assert dict(after.checks_by_verdict) == EXPECTED_HEAD["checks"]
    assert dict(last_term.checks_by_verdict) == {"yes": 1, "no": 0}


async def test_the_migration_creates_what_the_models_describe_and_downgrades(world: World) -> None:
    from tests.support.migrations import schema_differences, tables_after_downgrade
    mine = {"governors_reports", "dashboard_check_days"}
    assert await schema_differences(world.database, mine | {"incidents", "incident_events"}) == []
    left = await tables_after_downgrade(world.database, "0016_dashboard@0010_subject_access")
    assert not mine & left and "incidents" in left
