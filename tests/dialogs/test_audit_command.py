"""``audit <reference or person>``: the audit trail in Teams, for the DPO and the Head Teacher in their personal chat.

People (``playground/roles.json``): Jo Bell is the data admin and the DPO, Anna Smith the Head Teacher (and SLT),
Lee Carter and Sam Teacher staff, Tom Reed the DSL (and SLT), Grace Hall the Chair of Governors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import SERVICES
from domain.audit import AuditOutcome, RecordType
from domain.incidents import Category
from store import approvals as approvals_store
from tests.fakes.connector import FakeConnector
from tests.support.approvals import submit_case, wiring
from tests.support.audit_world import ANNA, GRACE, JO, LEE, SAM, TOM, Bot, audit_world
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_nodes, card_texts


@pytest.fixture
async def bot(sqlite_url: str, connector: FakeConnector) -> AsyncIterator[Bot]:
    async with audit_world(sqlite_url, connector) as world:
        yield world


def entries_shown(card: dict[str, Any]) -> list[str]:
    """Each entry of the trail card as it reads: "who, what (record): why", without Markdown escapes."""
    return [fact["value"].replace("\\", "") for node in card_nodes(card, "FactSet") for fact in node["facts"]]


async def audit(bot: Bot, who: dict[str, Any], what: str) -> dict[str, Any]:
    texts = await bot.say(who, f"audit {what}")
    assert texts == [], texts  # one card, no text
    [card] = bot.cards()
    assert_valid_card(card)
    return card


async def test_the_dpo_sees_the_refusals_and_views_about_a_report_newest_first(bot: Bot) -> None:
    report = await bot.report(Category.DATA_BREACH)  # SLT, the DSL and the DPO handle it
    await bot.click(LEE, "incident_view", {"incident": report.id})  # refused by the router: the card's id
    await bot.click(GRACE, "incident_close", {"incident": report.id, "outcome_kind": "resolved",
                                              "outcome": "Dealt with."})  # the chair: not for this category
    await bot.click(TOM, "incident_view", {"incident": report.id})  # a view

    card = await audit(bot, JO, report.reference.lower())

    assert card_texts(card).replace("\\", "").startswith(f"Audit trail: {report.reference}")
    assert entries_shown(card) == [
        f"Tom Reed, viewed incident view (report {report.reference}): details",
        f"Grace Hall, refused incident close (report {report.reference}): not permitted",
        f"Lee Carter, refused incident view (report {report.reference}): role not held",
    ]


async def test_the_head_sees_what_a_person_was_refused_by_name_or_entra_id(bot: Bot) -> None:
    await bot.say(LEE, "status")
    await bot.say(LEE, "pupil consent Amelia Hughes")
    await bot.say(SAM, "status")

    by_name = entries_shown(await audit(bot, ANNA, "lee carter"))
    bot.connector.clear()
    by_id = entries_shown(await audit(bot, ANNA, LEE["aadObjectId"]))

    assert by_name == by_id == ["Lee Carter, refused pupil consent: role not held",
                                "Lee Carter, refused status: role not held"]


async def test_reading_the_trail_is_itself_in_the_trail(bot: Bot) -> None:
    report = await bot.report(Category.NEGATIVE_COMMENT)

    await audit(bot, JO, report.reference)
    bot.connector.clear()
    again = await audit(bot, ANNA, report.reference)

    assert entries_shown(again) == [f"Jo Bell, viewed audit (audit trail {report.reference}): entries"]
    assert (await bot.trail())[-2:] == [
        (JO["aadObjectId"], "Jo Bell", "audit", RecordType.AUDIT_TRAIL, report.reference, AuditOutcome.VIEWED,
         "entries"),
        (ANNA["aadObjectId"], "Anna Smith", "audit", RecordType.AUDIT_TRAIL, report.reference,
         AuditOutcome.VIEWED, "entries"),
    ]


async def test_a_request_is_found_by_its_reference_and_shown_by_it(bot: Bot) -> None:
    built = wiring(bot.client.app[SERVICES].database)  # a desk over the app's database: Sam's business case
    request_id = await submit_case(built)
    async with built.desk.database.sessions() as session:
        request = await approvals_store.get_request(session, request_id)
    assert request is not None
    await bot.click(LEE, "account_submit", {"request_id": request_id}, kind="channel")  # the card's id

    card = await audit(bot, JO, request.reference)

    assert entries_shown(card) == [
        f"Lee Carter, refused account submit (request {request.reference}): not personal chat"]


@pytest.mark.parametrize("who", [LEE, SAM, TOM, GRACE])
async def test_anyone_but_the_dpo_and_the_head_is_refused_and_that_is_recorded(bot: Bot, who: dict[str, Any]) -> None:
    report = await bot.report(Category.NEGATIVE_COMMENT)

    told = await bot.say(who, f"audit {report.reference}")

    assert told == ["Only the Data Protection Officer and the Head Teacher can read the audit trail. Nothing was "
                    "shown."]
    assert bot.cards() == []
    assert (await bot.trail())[-1] == (who["aadObjectId"], who["name"], "audit", RecordType.AUDIT_TRAIL, None,
                                       AuditOutcome.REFUSED, "role_not_held")


async def test_the_trail_is_not_read_in_a_channel(bot: Bot) -> None:
    told = await bot.say(JO, "audit Lee Carter", kind="channel")

    assert told and "personal chat" in told[0] and bot.cards() == []
    assert (await bot.trail())[-1][2:] == ("audit", RecordType.AUDIT_TRAIL, None, AuditOutcome.REFUSED,
                                           "not_personal_chat")


async def test_the_head_never_learns_from_the_trail_that_a_report_about_her_exists(bot: Bot) -> None:
    about_her = await bot.report(Category.ABOUT_HEAD_TEACHER)  # for the Chair of Governors only
    other = await bot.report(Category.NEGATIVE_COMMENT)
    await bot.click(LEE, "incident_view", {"incident": about_her.id})
    await bot.click(LEE, "incident_view", {"incident": other.id})

    asked = await audit(bot, ANNA, about_her.reference)
    bot.connector.clear()
    by_lee = entries_shown(await audit(bot, ANNA, "Lee Carter"))

    assert entries_shown(asked) == [] and "Nothing is recorded" in card_texts(asked)
    assert by_lee == [f"Lee Carter, refused incident view (report {other.reference}): role not held"]


async def test_without_a_reference_or_a_known_person_the_answer_says_what_to_type(bot: Bot) -> None:
    usage = await bot.say(JO, "audit")
    unknown = await bot.say(JO, "audit Nobody Here")

    assert usage and "audit INC-2026-0004" in usage[0]
    assert unknown and "I know no reference or person by that name" in unknown[0]
    assert [entry[2] for entry in await bot.trail()] == []  # nothing was shown, so nothing to record
