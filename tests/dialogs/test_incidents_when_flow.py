"""Gap 6 of issue 15 as a conversation: "last night about 9pm" sent at 01:59 on a Sunday is Saturday, and a date in
the future sends nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from store import incidents as records
from tests.support.incidents_world import Clock, School, card_text

SUNDAY_0159 = datetime(2026, 11, 29, 1, 59, tzinfo=UTC)  # GMT: 01:59 in London


@pytest.fixture
async def school(database_url: str) -> AsyncIterator[School]:
    world = await School.open(database_url, clock=Clock(SUNDAY_0159))
    yield world
    await world.close()


async def test_last_night_at_0159_on_a_sunday_is_stored_as_saturday_with_the_words_as_typed(school: School) -> None:
    sent = await school.report(when_date="", when_detail="last night about 9pm")
    assert sent.card is not None and "INC-2026-0001" in card_text(sent.card.to_dict())
    async with school.database.sessions() as session:
        saved = await records.get(session, 1)
    assert saved is not None
    assert saved.when_date == date(2026, 11, 28) and saved.when_detail == "last night about 9pm"


async def test_a_date_in_the_future_is_refused_and_nothing_is_sent(school: School) -> None:
    before = await school.records()
    sent = await school.report(when_date="2026-11-30", when_detail="about 9pm")
    assert sent.card is not None
    text = card_text(sent.card.to_dict())
    assert "is in the future: today is Sun 29 Nov 2026" in text and "INC-" not in text
    assert await school.records() == before and await school.outbox() == []
