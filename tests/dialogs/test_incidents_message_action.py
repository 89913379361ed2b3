""""Report to SLT" on a Teams message: the task module prefilled from the message, then the same report."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dialogs.incidents import REPORT_MESSAGE_COMMAND_ID, message_extension_fetch_task, message_extension_submit
from domain.incidents import Source
from manifest.build import REPORT_MESSAGE_COMMAND_ID as MANIFEST_COMMAND_ID
from store import incidents as records
from tests.support.cardcheck import assert_valid_card
from tests.support.incidents_world import LEE, SAM, School, actor, shown_text

MESSAGE = {
    "id": "1700000000000",
    "createdDateTime": "2026-11-24T09:58:00.000Z",
    "linkToMessage": "https://teams.microsoft.com/l/message/19:abc@thread.tacv2/1700000000000",
    "from": {"user": {"id": "29:staff-lee", "displayName": "Lee Carter"}},
    "body": {
        "contentType": "html",
        "content": '<div><p>Has anyone seen what <b>Mr X</b> posted?? <a href="https://evil.example">'
                   "[see here](https://evil.example)</a></p><script>steal()</script>"
                   "<p>so rude&nbsp;&amp; mean</p></div>",
    },
}


def fetch_value(**extra: Any) -> dict[str, Any]:
    return {"commandId": REPORT_MESSAGE_COMMAND_ID, "commandContext": "message", "messagePayload": MESSAGE, **extra}


@pytest.fixture
async def school(sqlite_url: str) -> AsyncIterator[School]:
    world = await School.open(sqlite_url)
    yield world
    await world.close()


def test_the_command_id_is_the_one_the_manifest_declares() -> None:
    assert REPORT_MESSAGE_COMMAND_ID == MANIFEST_COMMAND_ID


async def test_fetch_task_opens_the_report_prefilled_with_the_message_text_and_author(school: School) -> None:
    started = time.monotonic()
    answer = await message_extension_fetch_task(school.incidents, fetch_value(), actor(SAM, "channel"))
    assert time.monotonic() - started < 1.0  # Teams gives a task module 5 seconds; no database work here
    task = answer["task"]
    assert task["type"] == "continue" and task["value"]["title"] == "Report to SLT"
    card = task["value"]["card"]["content"]
    assert_valid_card(card)
    inputs = {node["id"]: node.get("value") for node in card["body"] if "id" in node}
    assert inputs["what_happened"] == "Has anyone seen what Mr X posted?? [see here](https://evil.example)\n\n" \
                                      "so rude & mean"
    assert inputs["involved"] == "Message posted by Lee Carter"
    assert inputs["link"] == MESSAGE["linkToMessage"]
    assert inputs["platform"] == "Teams or email"
    assert "steal" not in str(card) and "<b>" not in str(card)


async def test_fetch_task_refuses_unknown_commands_and_unknown_people(school: School) -> None:
    unknown = await message_extension_fetch_task(school.incidents, fetch_value(commandId="other"), actor(SAM))
    assert unknown["task"]["type"] == "message"
    nobody = await message_extension_fetch_task(school.incidents, fetch_value(), None)
    assert nobody["task"]["type"] == "message" and "who you are" in nobody["task"]["value"]


async def test_submit_saves_the_report_with_the_message_author_from_teams_not_from_the_form(school: School) -> None:
    form = (await message_extension_fetch_task(school.incidents, fetch_value(), actor(SAM)))["task"]["value"]["card"]
    data = {
        **form["content"]["actions"][0]["data"],
        "source_author": "Someone Else",  # what the form claims is ignored: Teams' payload says who wrote it
        "risk": "no", "category": "negative_comment", "what_happened": "A rude post about a colleague.",
    }
    answer = await message_extension_submit(school.incidents, fetch_value(data=data), actor(SAM, "channel"))
    receipt = answer["task"]["value"]["card"]["content"]
    assert_valid_card(receipt)
    assert "Report received: INC-2026-0001" in shown_text(receipt)
    async with school.database.sessions() as session:
        [saved] = await records.reported_by(session, SAM.aad)
    assert saved.source is Source.MESSAGE and saved.source_author == LEE.name
    assert saved.reporter_aad == SAM.aad  # the reporter is whoever sent the invoke

    again = await message_extension_submit(school.incidents, fetch_value(data=data), actor(SAM, "channel"))
    assert "already received" in shown_text(again["task"]["value"]["card"]["content"])
    assert len((await school.sent_to())["channel"]) == 1


async def test_submit_with_someone_at_risk_shows_the_emergency_steps(school: School) -> None:
    data = {"draft": "a" * 32, "risk": "yes", "dsl_told": "could_not_reach", "category": "pupil_safety",
            "what_happened": "A pupil says they will be hurt tonight."}
    answer = await message_extension_submit(school.incidents, fetch_value(data=data), actor(SAM))
    text = shown_text(answer["task"]["value"]["card"]["content"])
    assert "999" in text and "Tom Reed" in text and "INC-2026-0001" in text
    async with school.database.sessions() as session:
        [saved] = await records.reported_by(session, SAM.aad)
    assert saved.immediate_risk and saved.urgency.value == "urgent" and saved.dsl_told.value == "could_not_reach"


async def test_submit_with_a_problem_saves_nothing(school: School) -> None:
    data = {"draft": "b" * 32, "risk": "no", "category": "gossip", "what_happened": "x"}
    answer = await message_extension_submit(school.incidents, fetch_value(data=data), actor(SAM))
    assert "The report was not sent" in shown_text(answer["task"]["value"]["card"]["content"])
    assert await school.outbox() == []
