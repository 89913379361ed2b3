"""``cancel`` typed in Teams stops the open report form (issue 15, gap 5), through the app factory."""

from __future__ import annotations

from cards.incidents import Verb
from tests.http.test_incidents_http import SAM, Bot, cards_in
from tests.http.test_incidents_http import bot as bot  # noqa: F401 - the fixture
from tests.support.incidents_world import shown_text


async def test_cancel_answers_that_the_report_was_cancelled_and_the_old_form_cannot_send(bot: Bot) -> None:  # noqa: F811
    await bot.say(SAM, "report")
    draft = cards_in(bot.connector, bot.chat(SAM))[-1]["actions"][1]["data"]["draft"]
    await bot.invoke(SAM, Verb.RISK, {"draft": draft, "risk": "no"})
    await bot.invoke(SAM, Verb.CATEGORY, {"draft": draft, "risk": "no", "category": "negative_comment"})
    bot.connector.clear()
    await bot.say(SAM, "cancel")
    said = bot.connector.texts()
    assert len(said) == 1 and "Your report was cancelled: nothing was sent" in said[0]
    answer = await bot.invoke(SAM, Verb.SUBMIT, {"draft": draft, "risk": "no", "category": "negative_comment",
                                                 "what_happened": "A nasty post.", "platform": "Facebook"})
    assert "This report was cancelled" in shown_text(answer["value"])
    assert await bot.outbox() == []
    bot.connector.clear()
    await bot.say(SAM, "cancel")
    assert "There is nothing to cancel" in bot.connector.texts()[0]
