"""Conversation state is durable: a dialog started before a restart carries on after it."""

from __future__ import annotations

from bot.settings import Settings
from cards.base import AdaptiveCard, TextBlock, escape_markdown
from tests.fakes.activities import personal_activity
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot


def echo_answer(question: str) -> AdaptiveCard:
    return AdaptiveCard(body=[TextBlock(text=f"Answer to: {escape_markdown(question)}")])


async def test_restart_between_question_prompt_and_answer_loses_nothing(
    database_url: str, connector: FakeConnector
) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database_url)  # type: ignore[call-arg]

    async with running_bot(settings, answer_question=echo_answer) as first_instance:
        await first_instance.post("/api/messages", json=personal_activity(connector.url, text="ask"))
    assert "What would you like to know" in connector.texts()[-1]

    # A new process: a new app, new adapter, new storage object; only the database is shared.
    async with running_bot(settings, answer_question=echo_answer) as second_instance:
        response = await second_instance.post(
            "/api/messages", json=personal_activity(connector.url, text="Can I follow a former pupil?")
        )
        assert response.status == 201
    assert connector.cards()[-1]["body"][0]["text"] == "Answer to: Can I follow a former pupil?"


async def test_cancel_ends_the_dialog_and_a_later_message_starts_afresh(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings, answer_question=echo_answer) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="ask"))
        await client.post("/api/messages", json=personal_activity(connector.url, text="cancel"))
        await client.post("/api/messages", json=personal_activity(connector.url, text="banana"))
    texts = connector.texts()
    assert texts[1].startswith("Cancelled. Nothing was sent.")
    assert "didn't understand" in texts[2]


async def test_help_mid_dialog_keeps_the_dialog(dev_settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(dev_settings, answer_question=echo_answer) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="ask"))
        await client.post("/api/messages", json=personal_activity(connector.url, text="help"))
        await client.post("/api/messages", json=personal_activity(connector.url, text="Who runs the account?"))
    assert connector.cards()[-1]["body"][0]["text"] == "Answer to: Who runs the account?"
