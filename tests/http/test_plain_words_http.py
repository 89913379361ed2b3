"""Plain words through the app factory (issue 15, gap 9): the report button comes first, the policy answer after."""

from __future__ import annotations

import pytest

from tests.http.test_incidents_http import SAM, Bot, cards_in
from tests.http.test_incidents_http import bot as bot  # noqa: F401 - the fixture


@pytest.mark.parametrize("text", ["I need to report something",
                                  "There's a nasty post about Mr Carter on the parents facebook group"])
async def test_a_report_in_plain_words_gets_the_report_button_before_any_policy_quote(bot: Bot, text: str) -> None:  # noqa: F811
    await bot.say(SAM, text)
    cards = cards_in(bot.connector, bot.chat(SAM))
    assert len(cards) >= 2, cards  # the offer, then the policy's answer
    first = cards[0]
    assert [a["data"] for a in first["actions"]] == [{"verb": "start_flow", "flow": "report_incident"}]
    assert "Or type" not in str(cards)  # never the help card


async def test_an_ordinary_question_gets_no_report_button_first(bot: Bot) -> None:  # noqa: F811
    await bot.say(SAM, "who approves a new school social media account")
    cards = cards_in(bot.connector, bot.chat(SAM))
    assert cards and {"verb": "start_flow", "flow": "report_incident"} not in [
        a.get("data") for a in cards[0].get("actions", [])]
