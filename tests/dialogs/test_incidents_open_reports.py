"""``open reports`` (issue 15, gap 4): SLT, the Head Teacher and the DSL list the reports each may see, open first,
with urgency and age, each with a button to its details; everyone else is refused and the refusal audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cards.incidents import Verb
from dialogs.router import TextKind
from domain.incidents import ROUTING, Category
from services.requests import CommandRequest
from store import audit as trail
from tests.support.incidents_world import ANNA, JO, PRIYA, SAM, TOM, School, Who, actor, card_text, shown_text

SECRET = "SECRETWHAT pupils named here"
KINDS = (Category.NEGATIVE_COMMENT, Category.PUPIL_SAFETY, Category.STAFF_PUPIL_CONTACT, Category.ABOUT_HEAD_TEACHER,
         Category.OTHER)


@pytest.fixture
async def school(database_url: str) -> AsyncIterator[School]:
    world = await School.open(database_url)
    for category in KINDS:  # INC-2026-0001 .. 0005, one minute apart
        await world.report(SAM, category=category.value, what_happened=SECRET)
        world.clock.advance(minutes=1)
    world.clock.advance(hours=3)
    yield world
    await world.close()


async def open_reports(school: School, who: Who, text: str = "open reports", kind: str = "personal") -> Any:
    match = school.router.match_text(text)
    assert match.kind is TextKind.COMMAND and match.handler is not None and match.name == "open_reports"
    return await match.handler(CommandRequest(match.text, match.argument, actor(who, kind)))


def listed(reply: Any) -> list[str]:
    """The references on the card, in order."""
    return [line.split(":")[0] for line in shown_text(reply.cards[0].to_dict()).splitlines()
            if line.startswith("INC-")]


async def test_each_role_lists_only_what_it_may_see_never_a_report_about_themselves(school: School) -> None:
    slt = await open_reports(school, PRIYA)
    assert listed(slt) == ["INC-2026-0001", "INC-2026-0005"]  # negative comment, other: SLT's categories
    head = await open_reports(school, ANNA, "incidents")
    assert listed(head) == ["INC-2026-0002", "INC-2026-0001", "INC-2026-0003", "INC-2026-0005"]  # never 0004
    dsl = await open_reports(school, TOM)
    assert listed(dsl) == ["INC-2026-0002", "INC-2026-0001", "INC-2026-0005"]  # urgent first
    for reply in (slt, head, dsl):
        text = card_text(reply.cards[0].to_dict())
        assert SECRET not in text and "Sam Teacher" not in text
        assert ROUTING[Category.ABOUT_HEAD_TEACHER].title not in text
    assert ROUTING[Category.PUPIL_SAFETY].title not in card_text(slt.cards[0].to_dict())


async def test_open_first_urgent_first_with_urgency_age_status_and_a_details_button(school: School) -> None:
    await school.act(PRIYA, Verb.CLOSE, {"incident": 1, "outcome_kind": "resolved", "outcome": "Dealt with."})
    await school.report(SAM, category="other", risk=True, what_happened=SECRET)  # 0006: urgent, newest
    card = (await open_reports(school, ANNA)).cards[0].to_dict()
    assert listed_refs(card) == ["INC-2026-0002", "INC-2026-0006", "INC-2026-0003", "INC-2026-0005", "INC-2026-0001"]
    shown = shown_text(card)
    assert "Urgent" in shown and "3 h" in shown and "0 min" in shown and "Closed" in shown
    buttons = [action for item in card["body"] if item.get("type") == "Container"
               for element in item["items"] if element.get("type") == "ActionSet" for action in element["actions"]]
    assert [b["verb"] for b in buttons] == [Verb.VIEW.value] * 5
    assert buttons[0]["data"] == {"incident": 2}
    details = await school.act(TOM, Verb.VIEW, buttons[0]["data"])  # the existing details verb, checked again
    assert details.card is not None and SECRET in card_text(details.card.to_dict())


def listed_refs(card: dict[str, Any]) -> list[str]:
    return [line.split(":")[0] for line in shown_text(card).splitlines() if line.startswith("INC-")]


@pytest.mark.parametrize("who", [SAM, JO])  # the Chair may list the reports about the Head Teacher (issue 15)
async def test_anyone_else_is_refused_and_the_refusal_audited(school: School, who: Who) -> None:
    reply = await open_reports(school, who)
    assert not reply.cards and "INC-" not in " ".join(reply.texts)
    async with school.database.sessions() as session:
        entries = await trail.recent(session, actor_aad=who.aad)
    assert [(e.action, e.outcome.value) for e in entries if e.action == "open_reports"] == [("open_reports",
                                                                                             "refused")]


async def test_only_in_the_personal_chat(school: School) -> None:
    reply = await open_reports(school, ANNA, kind="channel")
    assert not reply.cards and reply.texts
