"""Choosing what a report is about (issue 15, gap 8): a few plain questions, then at most one more, ending on exactly
one category; every category offered by exactly one path; titles and guidance that do not overlap; a phone-sized card.

The paths are walked through the real verbs (the router, the payload models, the service), pressing the buttons the
cards carry, as a person would.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cards.incident_chooser import second_question_card, topic_card
from cards.incidents import Verb
from domain.incident_chooser import FIRST_QUESTION, TOPICS, Topic, offered, paths, topic_of
from domain.incidents import ROUTING, Category
from services.requests import CommandRequest
from tests.support.cardcheck import assert_valid_cards
from tests.support.incidents_world import SAM, School, actor, card_text, shown_text

DRAFT = "a" * 32


@pytest.fixture
async def school(sqlite_url: str) -> AsyncIterator[School]:
    world = await School.open(sqlite_url)
    yield world
    await world.close()


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Action.Execute in the card's body (the answers) and its actions (Back), in order."""
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def button(card: dict[str, Any], title: str) -> dict[str, Any]:
    [found] = [b for b in buttons(card) if b["title"] == title]
    return found


async def press(school: School, action: dict[str, Any]) -> dict[str, Any]:
    result = await school.act(SAM, Verb(action["verb"]), dict(action["data"]))
    assert result.card is not None, result.message
    return result.card.to_dict()


# --- the table itself -----------------------------------------------------------------------------------------


def test_every_category_is_offered_by_exactly_one_path() -> None:
    ends = [category for _, category in paths()]
    assert sorted(ends) == sorted(Category), "each category once, none left out (none is retired)"
    assert offered() == frozenset(Category)
    for category in Category:
        assert sum(1 for _, found in paths() if found is category) == 1, category
        assert category in [a.category for a in TOPICS[topic_of(category)].answers]


def test_the_first_question_is_the_issues_plain_questions_each_with_an_example() -> None:
    assert [TOPICS[t].label for t in Topic] == ["A pupil", "A member of staff", "The school",
                                                 "A journalist or the media", "Personal data", "Something else"]
    for question in TOPICS.values():
        assert question.example.strip() and "\n" not in question.example
        assert len(question.label) <= 30  # a button on a phone shows it whole
        for answer in question.answers:
            assert answer.example.strip() and len(answer.label) <= 30, answer.label
        if question.ends_at_once is None:
            assert question.question.endswith("?") and len(question.answers) >= 2


# --- every path, through the real verbs ---------------------------------------------------------------------------


@pytest.mark.parametrize(("topic", "category"), paths(), ids=[f"{t.value}-{c.value}" for t, c in paths()])
async def test_each_path_ends_on_its_one_category_and_its_form(school: School, topic: Topic,
                                                                category: Category) -> None:
    first = await press(school, {"verb": "incident_risk", "data": {"draft": DRAFT, "risk": "no"}})
    assert FIRST_QUESTION in card_text(first)
    shown = await press(school, button(first, TOPICS[topic].label))
    if TOPICS[topic].ends_at_once is None:
        assert TOPICS[topic].question in shown_text(shown)
        answer = next(a for a in TOPICS[topic].answers if a.category is category)
        offered_here = [b["data"]["category"] for b in buttons(shown) if b["verb"] == Verb.CATEGORY.value]
        assert len(offered_here) == len(set(offered_here)) == len(TOPICS[topic].answers)
        shown = await press(school, button(shown, answer.label))
    assert f"Report: {ROUTING[category].title}" in shown_text(shown)
    assert ROUTING[category].guidance.split(":")[0] in shown_text(shown)


async def test_the_risk_answer_and_the_dsl_answer_travel_with_every_step(school: School) -> None:
    data = {"draft": DRAFT, "risk": "yes", "dsl_told": "could_not_reach"}
    first = await press(school, {"verb": "incident_dsl_told", "data": data})
    assert "urgent" in shown_text(first) and FIRST_QUESTION in shown_text(first)
    second = await press(school, button(first, "A pupil"))
    for action in buttons(second):
        assert {k: action["data"][k] for k in data} == data
    form = await press(school, button(second, "They may be at risk of harm"))
    assert "urgent" in shown_text(form)


async def test_back_returns_to_the_first_question(school: School) -> None:
    first = await press(school, {"verb": "incident_risk", "data": {"draft": DRAFT, "risk": "no"}})
    second = await press(school, button(first, "The school"))
    again = await press(school, button(second, "Back"))
    assert FIRST_QUESTION in shown_text(again)


async def test_no_topic_or_an_unknown_one_gets_a_clear_answer_and_changes_nothing(school: School) -> None:
    before = await school.records()
    empty = await press(school, {"verb": "incident_topic", "data": {"draft": DRAFT, "risk": "no", "topic": ""}})
    assert "Choose who or what the report is about." in shown_text(empty)
    unknown = await school.act(SAM, Verb.TOPIC, {"draft": DRAFT, "risk": "no", "topic": "the_moon"})
    assert unknown.card is None and unknown.message and "not valid" in unknown.message
    bogus = await school.act(SAM, Verb.CATEGORY, {"draft": DRAFT, "risk": "no", "category": "bogus"})
    assert bogus.card is None and bogus.message and "not valid" in bogus.message
    assert await school.records() == before


async def test_report_starts_with_the_risk_question_untouched_then_the_plain_question(school: School) -> None:
    reply = await school.router.flow_handler("report_incident")(  # type: ignore[misc]
        CommandRequest("report", "", actor(SAM)))
    first = reply.cards[0].to_dict()
    assert "immediate risk of harm" in card_text(first)
    assert [b["title"] for b in first["actions"]] == ["Yes, someone is at risk", "No"]
    chooser = await press(school, button(first, "No"))
    assert [b["title"] for b in buttons(chooser)] == [TOPICS[t].label for t in Topic]


# --- the words: one category each, no overlap ---------------------------------------------------------------------


def test_a_nasty_parent_post_about_a_teacher_has_one_home() -> None:
    staff_answers = {a.category: a for a in TOPICS[Topic.STAFF].answers}
    assert "parent's nasty post about a teacher" in staff_answers[Category.BULLYING_STAFF].example
    negative = ROUTING[Category.NEGATIVE_COMMENT]
    assert negative.title == "Negative or damaging comment about the school"
    assert "not abuse of a person" in negative.guidance and ROUTING[Category.BULLYING_STAFF].title in negative.guidance
    assert Category.NEGATIVE_COMMENT not in staff_answers  # the staff question never offers it


def test_every_category_a_guidance_line_points_to_is_named_by_its_exact_title() -> None:
    titles = {rule.title for rule in ROUTING.values()}
    for rule in ROUTING.values():
        for quoted in re.findall(r'"([^"]+)"', rule.guidance):
            if quoted.startswith(("Allegation", "Abuse", "A concern", "Offensive", "Negative")):
                assert quoted in titles, (rule.category, quoted)
    assert ROUTING[Category.ALLEGATION_ABOUT_STAFF].title == "Allegation about a member of staff"
    assert '"Allegation about a member of staff"' in ROUTING[Category.BULLYING_STAFF].guidance
    assert len(titles) == len(ROUTING)


# --- phones --------------------------------------------------------------------------------------------------


def _types(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            found.add(node["type"])
        for value in node.values():
            found |= _types(value)
    elif isinstance(node, list):
        for item in node:
            found |= _types(item)
    return found


def test_the_chooser_cards_are_valid_stacked_and_have_no_columns() -> None:
    cards = [topic_card(DRAFT, False, None), topic_card(DRAFT, True, None, problem="Choose one.")]
    cards += [second_question_card(q, DRAFT, False, None) for q in TOPICS.values() if q.ends_at_once is None]
    dicts = [card.to_dict() for card in cards]
    assert_valid_cards(dicts)
    for card in dicts:
        assert not _types(card) & {"ColumnSet", "Column", "Table"}
        for action_set in [n for n in card["body"] if n.get("type") == "Container"]:
            [inner] = [i for i in action_set["items"] if i["type"] == "ActionSet"]
            assert len(inner["actions"]) == 1  # one button per row: stacked, never side by side
