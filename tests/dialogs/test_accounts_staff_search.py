"""The runner slots' typeahead through the running bot: Teams' `application/search` invoke answers staff by name from
the school's directory (people who never opened the bot too); what does not fit gets no results, never an error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.activities import personal_activity
from tests.fakes.connector import FakeConnector
from tests.support.approvals import LEE, SAM, Person, accounts_bot, bot_settings


@pytest.fixture
def settings(sqlite_url: str):  # type: ignore[no-untyped-def]
    return bot_settings(sqlite_url)


async def search(client: Any, url: str, value: Any, *, person: Person = SAM,
                 conversation_type: str = "personal") -> tuple[int, Any]:
    activity = personal_activity(url, type_="invoke", name="application/search", sender=person.sender(),
                                 conversation_id=person.chat_id, value=value)
    if conversation_type != "personal":
        activity["conversation"] = {"id": "19:staff@thread.tacv2;messageid=1", "conversationType": "channel",
                                    "tenantId": activity["conversation"]["tenantId"]}
    response = await client.post("/api/messages", json=activity)
    return response.status, await response.json()


async def test_typing_a_name_offers_staff_from_the_directory(settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, _):
        status, body = await search(client, connector.url, {"dataset": "policybot.staff", "queryText": "lee",
                                                            "queryOptions": {"skip": 0, "top": 10}})
    assert status == 200
    assert body == {"statusCode": 200, "type": "application/vnd.microsoft.search.searchResponse",
                    "value": {"results": [{"title": LEE.name, "value": LEE.aad}]}}


@pytest.mark.parametrize("value", [
    {"dataset": "npmpackages", "queryText": "lee"},  # another dataset
    {"dataset": "policybot.staff", "queryText": 42},  # not text
    {"dataset": "policybot.staff", "queryText": ""},
    {"dataset": "policybot.staff", "queryText": "Ruth"},  # nobody on the staff list
    {"dataset": "policybot.staff", "queryText": "a" * 5000},
])
async def test_what_does_not_fit_gets_no_results_never_an_error(settings, connector: FakeConnector,
                                                                 value: dict[str, Any]) -> None:
    async with accounts_bot(settings) as (client, _):
        status, body = await search(client, connector.url, value)
    assert status == 200 and body["value"]["results"] == []


async def test_the_search_answers_only_in_the_personal_chat_where_the_form_is(
    settings, connector: FakeConnector
) -> None:
    async with accounts_bot(settings) as (client, _):
        status, body = await search(client, connector.url, {"dataset": "policybot.staff", "queryText": "lee"},
                                    conversation_type="channel")
    assert status == 200 and body["task"]["type"] == "message" and "personal chat" in body["task"]["value"]
