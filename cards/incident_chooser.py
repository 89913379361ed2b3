"""Choosing what a report is about (issue 15, gap 8): the first plain question, then, where needed, a second short
one; each answer ends on exactly one category (``domain/incident_chooser.py``).

Phone first (390 px): each answer is a button of its own, one under another, with its one-line example beneath it:
no columns, no long radio list. The buttons are ``Action.Execute`` with an ``Action.Submit`` fallback, like every
step of the report form, and carry the form's draft and the answer about risk.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from cards.base import ActionSet, AdaptiveCard, Container, Element, TextBlock, escape_markdown
from cards.incidents import DslToldPayload, Verb, _execute, _flow_data, _heading, _para
from domain.incident_chooser import FIRST_QUESTION, TOPICS, Answer, Topic, TopicQuestion
from domain.incidents import DslTold

_TITLE = "Report an incident"


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


_TopicChoice = Annotated[Topic | None, BeforeValidator(_blank_is_none)]


class TopicPayload(DslToldPayload):
    """``incident_topic``: an answer to the first plain question (None: none given, the question is asked again)."""

    topic: _TopicChoice = None


def _option(label: str, example: str, verb: Verb, data: dict[str, object]) -> Container:
    """One answer: its button, and its example beneath it (small, subtle)."""
    return Container(spacing="Small", items=[
        ActionSet(actions=[_execute(label, verb, dict(data))]),
        TextBlock(text=example, is_subtle=True, size="Small", spacing="None"),
    ])


def _opening(risk: bool, problem: str | None) -> list[Element]:
    body: list[Element] = [_heading(_TITLE)]
    if risk:
        body.append(_para("Someone is at risk: this report is marked **urgent**.", color="Attention"))
    if problem:
        body.append(_para(escape_markdown(problem), color="Attention"))
    return body


def topic_card(draft: str, risk: bool, dsl_told: DslTold | None, *, problem: str | None = None) -> AdaptiveCard:
    """The first plain question: who or what is it about? (a pupil, a member of staff, the school, a journalist or
    the media, personal data, something else), each with an example."""
    data = _flow_data(draft, risk, dsl_told)
    body = _opening(risk, problem)
    body.append(_para(f"**{FIRST_QUESTION}**"))
    for topic, question in TOPICS.items():
        body.append(_option(question.label, question.example, Verb.TOPIC, {**data, "topic": topic.value}))
    return AdaptiveCard(fallback_text=f"Report an incident: {FIRST_QUESTION.lower()}", body=body)


def _answer(answer: Answer, data: dict[str, object]) -> Container:
    return _option(answer.label, answer.example, Verb.CATEGORY, {**data, "category": answer.category.value})


def second_question_card(question: TopicQuestion, draft: str, risk: bool, dsl_told: DslTold | None, *,
                         problem: str | None = None) -> AdaptiveCard:
    """The second short question of a first answer that is not yet one category: each answer ends on one."""
    data = _flow_data(draft, risk, dsl_told)
    body = _opening(risk, problem)
    body += [
        _para(f"About: **{question.label}**", is_subtle=True, spacing="None"),
        _para(f"**{question.question}**"),
        *[_answer(answer, data) for answer in question.answers],
    ]
    return AdaptiveCard(
        fallback_text=f"Report an incident: {question.question.lower()}",
        body=body,
        actions=[_execute("Back", Verb.CHOOSE_CATEGORY, data, send_inputs=False)],
    )


__all__ = ["TopicPayload", "second_question_card", "topic_card"]
