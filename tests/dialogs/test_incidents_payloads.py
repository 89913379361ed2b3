"""Each incident verb's payload is a typed model, checked before anything runs: whatever a button's data holds
(wrong types, missing ids, huge numbers, a list instead of an object), the answer is clear and nothing changes.

Also: every button on the incident cards sends data its verb's model accepts, the "Report to SLT" invokes and
the pasted-image parsing survive malformed Teams shapes, and each use case writes in at most one unit of work.
"""

from __future__ import annotations

import ast
import base64
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from cards.incident_chooser import second_question_card, topic_card
from cards.incident_subject import subject_confirm_card
from cards.incidents import (
    ChannelFacts,
    FullReport,
    ScreenshotInfo,
    Verb,
    category_card,
    channel_card,
    details_card,
    details_form_card,
    emergency_card,
    risk_question_card,
)
from cards.media_enquiry import media_enquiry_form_card
from cards.safeguarding_record import Verb as RecordVerb
from dialogs.incidents import (
    REPORT_MESSAGE_COMMAND_ID,
    ScreenshotCandidate,
    message_extension_fetch_task,
    message_extension_submit,
    screenshot_candidates,
)
from dialogs.router import Router
from domain.calendar import SchoolCalendar
from domain.incident_chooser import TOPICS
from domain.incident_routing import NamedPerson
from domain.incidents import (
    MAX_NOTE,
    MAX_WHAT_HAPPENED,
    ActionTaken,
    Agency,
    Category,
    DslTold,
    EventKind,
    OutcomeKind,
    Source,
    Status,
    Urgency,
    rule_for,
)
from domain.roles import Role
from domain.safeguarding_record import RecordExtras, Referral
from services.requests import CardAction, CommandRequest
from store import incidents as records
from store.db import Database
from tests.fakes.activities import TENANT, personal_activity, user
from tests.fakes.graph import SchoolGraph
from tests.http_helpers import running_bot
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_nodes
from tests.support.incidents_world import ANNA, ROLES_FILE, SAM, TOM, School, actor

REPO = Path(__file__).resolve().parents[2]
OUT_OF_DATE = "out of date or its data is not valid"
DRAFT = "0123456789abcdef0123456789abcdef"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
MISSING = object()  # a key left out of the data

# Data that would be accepted, per verb: each malformed case below changes one thing of it.
GOOD: dict[Verb, dict[str, Any]] = {
    Verb.RISK: {"draft": DRAFT, "risk": "no"},
    Verb.DSL_TOLD: {"draft": DRAFT, "risk": "yes", "dsl_told": "yes"},
    Verb.CHOOSE_CATEGORY: {"draft": DRAFT, "risk": "no"},
    Verb.CATEGORY: {"draft": DRAFT, "risk": "no", "category": "other"},
    Verb.SUBMIT: {"draft": DRAFT, "risk": "no", "category": "other", "what_happened": "Something happened."},
    Verb.CONFIRM_SUBJECTS: {"draft": DRAFT, "risk": "no", "category": "other",
                            "what_happened": "Mrs Smith was tagged.", "asked": ANNA.aad, "about_1": "no"},
    Verb.VIEW: {"incident": 1},
    Verb.TAKE_LEAD: {"incident": 1},
    Verb.NOTE: {"incident": 1, "note": "Called the parent."},
    Verb.ESCALATE: {"incident": 1, "agency": "police", "escalation_reason": "Threats", "external_reference": "CAD 1"},
    Verb.CLOSE: {"incident": 1, "outcome_kind": "resolved", "outcome": "Done"},
    Verb.SHOW_SCREENSHOT: {"incident": 1, "attachment": 1},
    Verb.TOPIC: {"draft": DRAFT, "risk": "no", "topic": "staff"},
    Verb.MEDIA_ENQUIRY: {"draft": DRAFT, "risk": "no", "enquirer": "Jo Press", "organisation": "The Gazette",
                         "contact": "01234 567890", "deadline_date": "", "deadline_time": "", "about": "Sports day"},
}
BAD_IDS: list[Any] = [MISSING, None, "one", "", True, 1.5, [1], {"id": 1}, 0, -1, 2**31, 10**30, "9" * 5000]
BAD_DRAFTS: list[Any] = [MISSING, None, 12345, "not-a-draft", "../../etc/passwd", DRAFT.upper(), "a" * 10_000, [DRAFT]]
BAD_RISKS: list[Any] = [MISSING, None, True, "maybe", ["yes"], {"yes": True}]
FLOW_CASES: list[tuple[str, Any]] = [("draft", bad) for bad in BAD_DRAFTS] + [("risk", bad) for bad in BAD_RISKS]
HANDLING_CASES: list[tuple[str, Any]] = [("incident", bad) for bad in BAD_IDS]
MALFORMED: dict[Verb, list[tuple[str, Any]]] = {
    Verb.RISK: FLOW_CASES,
    Verb.DSL_TOLD: [*FLOW_CASES, ("dsl_told", "perhaps"), ("dsl_told", 3), ("dsl_told", ["yes"])],
    Verb.CHOOSE_CATEGORY: [*FLOW_CASES, ("dsl_told", "perhaps")],
    Verb.CATEGORY: [*FLOW_CASES, ("category", "nonsense"), ("category", 5), ("category", {"x": "other"})],
    Verb.SUBMIT: [
        *FLOW_CASES, ("category", "nonsense"), ("what_happened", 42), ("what_happened", ["a", "b"]),
        ("what_happened", "x" * (MAX_WHAT_HAPPENED + 1)), ("platform", {"name": "Facebook"}), ("link", "x" * 100_000),
        ("when_date", 20261124), ("involved", [{"deep": [[[[["nested"]]]]]}]), ("actions_taken", 7),
    ],
    Verb.CONFIRM_SUBJECTS: [
        *FLOW_CASES, ("category", "nonsense"), ("asked", "a" * 10_000), ("asked", ["x"]), ("asked", "<script>"),
        ("about_1", "maybe"), ("about_1", ["yes"]), ("about_staff", "x" * 10_000), ("about_others", {"x": 1}),
    ],
    Verb.VIEW: HANDLING_CASES,
    Verb.TAKE_LEAD: HANDLING_CASES,
    Verb.NOTE: [*HANDLING_CASES, ("note", 42), ("note", ["a note"]), ("note", "x" * (MAX_NOTE + 1))],
    Verb.ESCALATE: [
        *HANDLING_CASES, ("agency", "aliens"), ("agency", ["police"]), ("agency", 1),
        ("escalation_reason", {"why": "x"}), ("escalation_reason", "x" * 1_000_000), ("external_reference", "x" * 101),
    ],
    Verb.CLOSE: [*HANDLING_CASES, ("outcome_kind", "vanished"), ("outcome_kind", 7), ("outcome", ["done"])],
    Verb.SHOW_SCREENSHOT: [*HANDLING_CASES, *[("attachment", bad) for bad in BAD_IDS]],
    Verb.TOPIC: [*FLOW_CASES, ("topic", "aliens"), ("topic", 3), ("topic", ["staff"]), ("dsl_told", "perhaps")],
    Verb.MEDIA_ENQUIRY: [
        *FLOW_CASES, ("enquirer", 42), ("enquirer", ["Jo"]), ("organisation", {"name": "Gazette"}),
        ("contact", "x" * 100_000), ("deadline_date", "9" * 5000), ("deadline_time", [17]), ("about", "x" * 1_000_000),
    ],
}


def with_change(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = dict(data)
    if value is MISSING:
        changed.pop(key, None)
    else:
        changed[key] = value
    return changed


class CountingDatabase(Database):
    """The real database, counting the units of work opened (writers and readers)."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.writers = 0
        self.readers = 0

    def unit_of_work(self, *, read_only: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        if read_only:
            self.readers += 1
        else:
            self.writers += 1
        return super().unit_of_work(read_only=read_only)


async def fetch_png(url: str, max_bytes: int, authenticated: bool) -> bytes:
    return PNG + url.encode()  # a different image per URL


@pytest.fixture
async def school(migrated_database_url: str) -> AsyncIterator[School]:
    """A report (INC-2026-0001, handled by SLT) with one screenshot, on SQLite and on PostgreSQL."""
    world = await School.open(migrated_database_url, database_class=CountingDatabase)
    await world.report(SAM, category="negative_comment")
    reply = await world.incidents.receive_screenshots(
        actor(SAM), [ScreenshotCandidate("https://smba.example.test/1", "one.png", True)], fetch_png)
    assert reply.texts[0].startswith("Added 1 screenshot")
    yield world
    await world.close()


# --- malformed payloads: a clear answer, nothing changed ---------------------------------------------------------


@pytest.mark.parametrize("verb", list(Verb), ids=[verb.value for verb in Verb])
async def test_a_malformed_payload_gets_a_clear_answer_and_changes_nothing(school: School, verb: Verb) -> None:
    who = SAM if verb in (Verb.RISK, Verb.DSL_TOLD, Verb.CHOOSE_CATEGORY, Verb.CATEGORY, Verb.SUBMIT,
                          Verb.CONFIRM_SUBJECTS, Verb.TOPIC, Verb.MEDIA_ENQUIRY) else ANNA
    before = await school.records()
    cases: list[Any] = [with_change(GOOD[verb], key, bad) for key, bad in MALFORMED[verb]]
    cases += [[GOOD[verb]], [], "incident=1", 1, None]  # not an object at all
    for data in cases:
        result = await school.router.dispatch(CardAction(verb.value, data, actor(who)))
        assert result.card is None and result.extra_cards == [], (verb, data)
        assert result.message is not None and OUT_OF_DATE in result.message, (verb, data)
        assert "Nothing was changed" in result.message
    assert await school.records() == before

    good = await school.router.dispatch(CardAction(verb.value, GOOD[verb], actor(who)))
    assert good.message is None or OUT_OF_DATE not in good.message  # the same button, well formed, works


@pytest.mark.parametrize(
    ("verb", "data", "answer"),
    [
        (Verb.NOTE, {"incident": 1}, "Write the note first."),
        (Verb.NOTE, {"incident": 1, "note": "   "}, "Write the note first."),
        (Verb.NOTE, {"incident": 1, "note": None}, "Write the note first."),
        (Verb.ESCALATE, {"incident": 1, "escalation_reason": "Threats"}, "Choose who it was escalated to."),
        (Verb.ESCALATE, {"incident": 1, "agency": "", "escalation_reason": "x"}, "Choose who it was escalated to."),
        (Verb.ESCALATE, {"incident": 1, "agency": "police"}, "Say why it was escalated."),
        (Verb.CLOSE, {"incident": 1, "outcome": "Done"}, "Choose the outcome."),
        (Verb.CLOSE, {"incident": 1, "outcome_kind": "", "outcome": "Done"}, "Choose the outcome."),
        (Verb.CLOSE, {"incident": 1, "outcome_kind": "resolved", "outcome": " "},
         "Give the reason for closing it (Resolved in school): every decision is recorded with its reason (KCSIE). "
         "Nothing was changed."),
    ],
)
async def test_a_form_sent_without_its_answer_says_what_to_do(
    school: School, verb: Verb, data: dict[str, Any], answer: str
) -> None:
    before = await school.records()
    result = await school.router.dispatch(CardAction(verb.value, data, actor(ANNA)))
    assert result.message == answer and result.card is None
    assert await school.records() == before


async def test_report_steps_without_their_answer_ask_again(school: School) -> None:
    before = await school.records()
    told = await school.act(SAM, Verb.DSL_TOLD, {"draft": DRAFT, "risk": "yes", "dsl_told": ""})
    assert told.card is not None and "Have you told the DSL verbally?" in str(told.card.to_dict())
    for verb in (Verb.CATEGORY, Verb.SUBMIT):
        again = await school.act(SAM, verb, {"draft": DRAFT, "risk": "no", "what_happened": "x"})
        assert again.card is not None and "Choose what the report is about." in str(again.card.to_dict())
    assert await school.records() == before


async def test_an_id_may_come_as_digits_as_older_clients_send_it(school: School) -> None:
    result = await school.act(ANNA, Verb.TAKE_LEAD, {"incident": "1"})
    assert result.card is not None
    async with school.database.sessions() as session:
        found = await records.get(session, 1)
    assert found is not None and found.lead_name == ANNA.name


async def test_a_malformed_card_action_over_http_is_answered_not_an_error(sqlite_url: str) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE)
    anna = user(ANNA.name, ANNA.aad, ANNA.teams_id)

    def card_action(data: Any) -> dict[str, Any]:
        return personal_activity("https://smba.example.test/", type_="invoke", name="adaptiveCard/action",
                                 sender=anna, value={"action": {"type": "Action.Execute", "verb": Verb.NOTE.value,
                                                                "data": data}})

    async with running_bot(settings) as client:
        for data in ({"incident": 10**30, "note": "x"}, {"incident": 2**31, "note": "x"}, {"incident": [1]}, {},
                     [1, 2], "x", 7, None):  # data that is not an object is no data
            response = await client.post("/api/messages", json=card_action(data))
            assert response.status == 200, data
            body = await response.json()
            assert body["type"] == "application/vnd.microsoft.activity.message", data
            assert OUT_OF_DATE in body["value"], data


# --- every button's data fits its verb's model -------------------------------------------------------------------


def all_cards() -> list[dict[str, Any]]:
    calendar = SchoolCalendar()
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    cards = [risk_question_card(DRAFT), emergency_card(DRAFT, ["Tom Reed"])]
    for risk, told in ((False, None), (True, DslTold.NOT_YET)):
        cards.append(category_card(DRAFT, risk, told, problem="Choose what the report is about."))
        cards.append(topic_card(DRAFT, risk, told, problem="Choose who or what it is about."))
        cards += [second_question_card(question, DRAFT, risk, told) for question in TOPICS.values()]
        cards.append(media_enquiry_form_card(DRAFT, rule_for(Category.MEDIA_ENQUIRY), risk, told,
                                             today_text="24 November 2026", problem="Say who is asking."))
        for category in Category:
            cards.append(details_form_card(DRAFT, rule_for(category), risk, told, today=date(2026, 11, 24),
                                           screenshot_minutes=30))
    for status in Status:
        for category in (Category.NEGATIVE_COMMENT, Category.PUPIL_SAFETY):
            cards.append(channel_card(ChannelFacts(2**31 - 1, "INC-2026-0001", category, Urgency.URGENT, now, status),
                                      calendar=calendar))
        cards.append(details_card(FullReport(
            incident_id=12, reference="INC-2026-0012", category=Category.NEGATIVE_COMMENT, urgency=Urgency.STANDARD,
            status=status, received_at=now, reporter_name="Sam", immediate_risk=False, dsl_told=None,
            what_happened="x", platform="", link="", when_date=None, when_detail="", involved="",
            actions_taken=(ActionTaken.BLOCKED,), source=Source.CHAT, source_author="", lead_name=None,
            closed_at=None, outcome_kind=OutcomeKind.RESOLVED if status is Status.CLOSED else None, outcome=None,
            screenshots=(ScreenshotInfo(3, "a.png", "image/png", 10), ScreenshotInfo(9, "b.png", "image/png", 10)),
            record=RecordExtras(referrals=(Referral(5, Agency.POLICE, None, "CAD 1", "Threats", "Tom", now),)),
        ), calendar=calendar))
    cards.append(subject_confirm_card(  # "is this report about them?" (issue 15, gap 2)
        {"draft": DRAFT, "risk": "no", "category": "other", "what_happened": "Mrs Smith was tagged."},
        [NamedPerson(ANNA.aad, ANNA.name, frozenset({Role.HEAD_TEACHER}))]))
    return [card.to_dict() for card in cards]


async def test_every_button_on_the_incident_cards_sends_data_its_verb_accepts(sqlite_url: str) -> None:
    school = await School.open(sqlite_url)
    try:
        router: Router = school.router
        described = router.describe()["verbs"]
        assert {verb.value for verb in Verb} <= set(described)
        assert all(described[verb.value]["payload"] for verb in Verb)  # every verb has its model
        seen: set[str] = set()
        for card in all_cards():
            for button in card_nodes(card, "Action.Execute"):
                model = router.payload_model(button["verb"])
                assert model is not None, button["verb"]
                model.model_validate(button["data"])
                model.model_validate(button["fallback"]["data"])  # the Action.Submit fallback carries the verb too
                seen.add(button["verb"])
        assert seen == {verb.value for verb in Verb} | {verb.value for verb in RecordVerb}  # and the KCSIE record's
    finally:
        await school.close()


# --- "Report to SLT": Teams' value, whatever its shape -----------------------------------------------------------


async def test_the_message_action_survives_malformed_invokes_and_stores_nothing(school: School) -> None:
    before = await school.records()
    for value in (None, [], "reportMessage", 7, {"commandId": ["reportMessage"]}, {"commandId": None}):
        answer = await message_extension_fetch_task(school.incidents, value, actor(SAM, "channel"))
        assert answer["task"]["type"] == "message" and "not one Policy Bot knows" in answer["task"]["value"]
    for payload in ("text", [1], {"from": "Lee", "body": 5, "linkToMessage": 3},
                    {"from": {"user": "Lee"}, "body": {"content": ["<p>x</p>"], "contentType": 1}}):
        answer = await message_extension_fetch_task(
            school.incidents, {"commandId": REPORT_MESSAGE_COMMAND_ID, "messagePayload": payload}, actor(SAM))
        assert answer["task"]["type"] == "continue"
        assert_valid_card(answer["task"]["value"]["card"]["content"])

    good = {"draft": "b" * 32, "risk": "no", "category": "other", "what_happened": "A rude post."}
    problems = {
        "Something in the form could not be read": [
            None, [], "data", {**good, "draft": 5}, {**good, "risk": True}, {"value": {"data": good}},
        ],
        "Choose a category.": [{**good, "category": "nonsense"}, {**good, "category": ""}, {"draft": "b" * 32}],
        "Say what happened.": [{**good, "what_happened": 42}, {**good, "what_happened": "x" * 100_000}],
    }
    for expected, datas in problems.items():
        for data in datas:
            answer = await message_extension_submit(
                school.incidents, {"commandId": REPORT_MESSAGE_COMMAND_ID, "messagePayload": "?", "data": data},
                actor(SAM))
            card = answer["task"]["value"]["card"]["content"]
            assert "The report was not sent" in str(card) and expected in str(card), data
    for value in (None, [], "x", {"data": "x"}, {"messagePayload": {"from": 1}}):
        answer = await message_extension_submit(school.incidents, value, actor(SAM))
        assert "The report was not sent" in str(answer)
    assert await school.records() == before


def test_pasted_image_parsing_ignores_what_is_not_a_teams_attachment() -> None:
    service = "https://smba.example.test/emea/"
    attachments: list[Any] = [
        None, "image/png", 5, ["x"], {"contentType": 5}, {"contentType": "image/png", "contentUrl": 5},
        {"contentType": "image/png", "contentUrl": "https://smba.example.test:notaport/x"},
        {"contentType": "application/vnd.microsoft.teams.file.download.info", "content": "https://x.sharepoint.com"},
        {"contentType": "application/vnd.microsoft.teams.file.download.info",
         "content": {"downloadUrl": ["https://school.sharepoint.com/a"], "fileType": "png"}},
        {"contentType": "image/png", "contentUrl": f"{service}v3/attachments/1/views/original", "name": ["x"]},
    ]
    found = screenshot_candidates(attachments, service)
    assert [(c.url, c.file_name) for c in found] == [(f"{service}v3/attachments/1/views/original", "screenshot-10")]
    assert screenshot_candidates(attachments, None) == []  # type: ignore[arg-type]


# --- one unit of work per use case -------------------------------------------------------------------------------


async def test_the_report_form_steps_open_no_unit_of_work_and_report_opens_one(school: School) -> None:
    database = school.database
    assert isinstance(database, CountingDatabase)
    writers, readers = database.writers, database.readers
    await school.router.flow_handler("report_incident")(CommandRequest("report", "", actor(SAM)))  # type: ignore[misc]
    writers, readers = writers + 1, readers  # ``report`` records the form as open, so ``cancel`` can stop it
    assert (database.writers, database.readers) == (writers, readers)
    for verb, data in [(Verb.RISK, {"risk": "yes"}), (Verb.RISK, {"risk": "no"}), (Verb.DSL_TOLD, {"risk": "yes"}),
                       (Verb.DSL_TOLD, {"risk": "yes", "dsl_told": "yes"}), (Verb.CHOOSE_CATEGORY, {"risk": "no"}),
                       (Verb.CATEGORY, {"risk": "no"}), (Verb.CATEGORY, {"risk": "no", "category": "other"})]:
        result = await school.act(SAM, verb, {"draft": DRAFT, **data})
        assert result.card is not None
    assert (database.writers, database.readers) == (writers, readers)


@pytest.mark.parametrize(("verb", "who"), [(Verb.SUBMIT, SAM), (Verb.VIEW, ANNA), (Verb.TAKE_LEAD, ANNA),
                                           (Verb.NOTE, ANNA), (Verb.ESCALATE, ANNA), (Verb.CLOSE, ANNA),
                                           (Verb.SHOW_SCREENSHOT, ANNA)])
async def test_a_click_that_changes_something_is_one_unit_of_work(school: School, verb: Verb, who: Any) -> None:
    database = school.database
    assert isinstance(database, CountingDatabase)
    writers, readers = database.writers, database.readers
    result = await school.act(who, verb, {**GOOD[verb], "draft": "e" * 32} if verb is Verb.SUBMIT else GOOD[verb])
    assert result.card is not None or result.extra_cards
    assert (database.writers, database.readers) == (writers + 1, readers)


async def test_screenshots_of_one_message_are_stored_in_one_unit_of_work(school: School) -> None:
    database = school.database
    assert isinstance(database, CountingDatabase)
    writers = database.writers
    shots = [ScreenshotCandidate(f"https://smba.example.test/{n}", f"{n}.png", True) for n in (2, 3, 4)]
    reply = await school.incidents.receive_screenshots(actor(SAM), shots, fetch_png)
    assert reply.texts[0].startswith("Added 3 screenshots to INC-2026-0001")
    assert database.writers == writers + 1
    async with school.database.sessions() as session:
        kinds = [event.kind for event in await records.events(session, 1)]
    assert kinds.count(EventKind.SCREENSHOT_ADDED) == 4


async def test_the_clock_and_late_routing_each_write_once_for_all_their_reports(migrated_database_url: str) -> None:
    graph = SchoolGraph.from_roles_file(ROLES_FILE)  # the real Graph directory over a fake Graph
    world = await School.open(migrated_database_url, database_class=CountingDatabase, directory=graph.directory)
    try:
        database = world.database
        assert isinstance(database, CountingDatabase)
        graph.down()
        for category in ("offensive_content", "pupil_safety", "bullying_pupil"):
            await world.report(SAM, category=category, risk=True)
        writers = database.writers
        assert await world.incidents.route_pending() == 0  # still down: nothing to write, no unit of work
        assert database.writers == writers
        graph.recover()
        assert await world.incidents.route_pending() == 3
        assert database.writers == writers + 1

        world.clock.advance(minutes=31)
        writers = database.writers
        assert await world.incidents.escalate_due() == 3
        assert database.writers == writers + 1
        assert await world.incidents.escalate_due() == 0
        assert database.writers == writers + 1  # nothing due: no unit of work
        sent = await world.sent_to()
        assert len(sent[TOM.name]) >= 3
    finally:
        await world.close()
        await graph.aclose()


# --- the layers ----------------------------------------------------------------------------------------------


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_the_service_knows_nothing_of_teams_and_the_dialog_and_cards_nothing_of_sql() -> None:
    service = imported_modules(REPO / "services" / "incidents.py")
    assert not {m for m in service if m.split(".")[0] in ("botbuilder", "botframework", "dialogs", "bot")}
    assert not {m for m in service if m.startswith("aiohttp.web") or m == "aiohttp.web"}
    for path in (REPO / "dialogs" / "incidents.py", REPO / "cards" / "incidents.py"):
        assert not {m for m in imported_modules(path) if m.split(".")[0] == "sqlalchemy"}, path
