"""A media enquiry through the app factory (issue 15, gap 7): the plain question, its own form, sent; the Head
Teacher and SLT's channel get it through the outbox; malformed and over-long payloads get an answer, never a 5xx.
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cards.incidents import Verb
from tests.http.test_incidents_http import ANNA, SAM, Bot, cards_in, posts
from tests.http.test_incidents_http import bot as bot  # noqa: F401 - the fixture
from tests.support.incidents_world import shown_text

ENQUIRY = {"enquirer": "Jane Whitfield", "organisation": "Maidenhead Advertiser", "contact": "01632 960123",
           "about": "A comment on the parents' Facebook post"}


async def _draft(bot: Bot) -> str:  # noqa: F811
    await bot.say(SAM, "report")
    first = cards_in(bot.connector, bot.chat(SAM))[-1]
    return str(first["actions"][1]["data"]["draft"])


async def test_an_enquiry_sent_over_http_reaches_the_head_teacher_and_the_channel_with_the_deadline_only(
    bot: Bot,  # noqa: F811
) -> None:
    draft = await _draft(bot)
    chooser = await bot.invoke(SAM, Verb.RISK, {"draft": draft, "risk": "no"})
    assert "Who or what is it about?" in shown_text(chooser["value"])
    form = await bot.invoke(SAM, Verb.TOPIC, {"draft": draft, "risk": "no", "topic": "media"})
    assert "not respond directly" in shown_text(form["value"])
    receipt = await bot.invoke(SAM, Verb.MEDIA_ENQUIRY, {"draft": draft, "risk": "no", "deadline_time": "17:00",
                                                         **ENQUIRY})
    assert "Report received" in shown_text(receipt["value"])
    await bot.settle()
    head = shown_text(cards_in(bot.connector, bot.chat(ANNA)))
    assert "Jane Whitfield" in head and "Maidenhead Advertiser" in head
    [post] = posts(bot.connector)
    channel = str(post.body)
    assert "Media enquiry" in channel and "17:00" in channel
    assert "Jane" not in channel and "Advertiser" not in channel and "01632" not in channel


@pytest.mark.parametrize("data", [
    {"about": "x" * 100_000, "enquirer": "Jo"},  # far over any limit
    {"about": 12, "enquirer": ["Jo"]},  # not text at all
    {"about": "A post", "enquirer": "Jo", "deadline_date": "2026-02-30"},  # not a date
    {"about": "A post", "enquirer": "J" * 201},  # one over the limit: answered in the form
], ids=["huge", "not-text", "not-a-date", "one-over"])
async def test_a_malformed_enquiry_gets_an_answer_not_an_error(bot: Bot, data: dict[str, object]) -> None:  # noqa: F811
    draft = await _draft(bot)
    answer = await bot.invoke(SAM, Verb.MEDIA_ENQUIRY, {"draft": draft, "risk": "no", **data})
    assert answer["statusCode"] == 200, answer
    assert answer["type"] in ("application/vnd.microsoft.card.adaptive", "application/vnd.microsoft.activity.message")
    await bot.settle()
    assert posts(bot.connector) == []  # nothing was sent to SLT
