"""``cancel`` stops an open report (issue 15, gap 5): once cancelled, the report form can no longer send, and says
so; nothing is stored or sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cards.incidents import Verb
from services.requests import CommandRequest
from tests.support.incidents_world import LEE, SAM, School, Who, actor, card_text

FORM = {"what_happened": "A nasty post about a teacher.", "platform": "Facebook"}


@pytest.fixture
async def school(database_url: str) -> AsyncIterator[School]:
    world = await School.open(database_url)
    yield world
    await world.close()


async def open_form(school: School, who: Who) -> dict[str, Any]:
    """``report``, no one at risk, a category: the form's data, ready to send."""
    reply = await school.router.flow_handler("report_incident")(CommandRequest("report", "", actor(who)))  # type: ignore[misc]
    draft = reply.cards[0].to_dict()["actions"][0]["data"]["draft"]
    data = {"draft": draft, "risk": "no", "category": "negative_comment"}
    await school.act(who, Verb.RISK, {"draft": draft, "risk": "no"})
    await school.act(who, Verb.CATEGORY, dict(data))
    return {**data, **FORM}


async def test_cancel_then_sending_the_old_form_stores_nothing_and_says_it_was_cancelled(school: School) -> None:
    form = await open_form(school, SAM)
    assert await school.router.cancel(actor(SAM)) == [
        "Your report was cancelled: nothing was sent, and the report form you had open can no longer send it. "
        "Type **report** to start again."]
    before = await school.records()
    sent = await school.act(SAM, Verb.SUBMIT, form)
    assert sent.card is not None
    text = card_text(sent.card.to_dict())
    assert "This report was cancelled" in text and "Nothing was sent" in text and "INC-" not in text
    assert await school.records() == before and await school.outbox() == []
    again = await school.act(SAM, Verb.SUBMIT, form)  # and again
    assert again.card is not None and "This report was cancelled" in card_text(again.card.to_dict())
    assert await school.records() == before


async def test_nothing_open_nothing_cancelled_and_a_sent_report_stays_sent(school: School) -> None:
    assert await school.router.cancel(actor(SAM)) == []
    form = await open_form(school, SAM)
    receipt = await school.act(SAM, Verb.SUBMIT, form)
    assert receipt.card is not None and "INC-2026-0001" in card_text(receipt.card.to_dict())
    assert await school.router.cancel(actor(SAM)) == []  # the sent form is no longer open
    again = await school.act(SAM, Verb.SUBMIT, form)  # a retry still finds the report made
    assert again.card is not None and "INC-2026-0001" in card_text(again.card.to_dict())


async def test_cancel_stops_only_the_senders_own_forms_and_a_new_report_still_goes(school: School) -> None:
    lees = await open_form(school, LEE)
    sams = await open_form(school, SAM)
    assert await school.router.cancel(actor(SAM))
    refused = await school.act(SAM, Verb.SUBMIT, sams)
    assert refused.card is not None and "This report was cancelled" in card_text(refused.card.to_dict())
    lee = await school.act(LEE, Verb.SUBMIT, lees)
    assert lee.card is not None and "INC-2026-0001" in card_text(lee.card.to_dict())
    fresh = await school.act(SAM, Verb.SUBMIT, await open_form(school, SAM))
    assert fresh.card is not None and "INC-2026-0002" in card_text(fresh.card.to_dict())
