"""Ask the policy, through the bot: answers are quoted from the configured policy document."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import create_app
from bot.settings import Settings, SettingsError
from tests.fakes.activities import personal_activity
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_texts


def _texts(card: dict) -> str:
    return card_texts(card)


async def test_a_question_is_answered_with_a_quote_from_the_sample_policy(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        await client.post(
            "/api/messages",
            json=personal_activity(connector.url, text="can I accept a friend request from a former pupil?"),
        )
    [card] = connector.cards()
    assert_valid_card(card)
    text = _texts(card)
    assert "Personal use › Staff" in text
    assert "Do not follow, friend or message pupils or former pupils on social media" in text


async def test_ask_prefix_and_follow_up_question(dev_settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(dev_settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="ask"))
        await client.post(
            "/api/messages", json=personal_activity(connector.url, text="who has to approve a new school account")
        )
    assert "What would you like to know" in connector.texts()[0]
    assert "Process for creating new accounts" in _texts(connector.cards()[-1])
    assert connector.cards()[-1]["actions"][0]["data"] == {"verb": "start_flow", "flow": "propose_account"}


async def test_a_question_the_policy_does_not_cover_points_to_slt(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        await client.post(
            "/api/messages", json=personal_activity(connector.url, text="ask how many days of annual leave do I get")
        )
    text = _texts(connector.cards()[-1])
    assert "SLT" in text
    assert "›" not in text  # no quoted section: nothing is invented


async def test_the_school_points_the_bot_at_its_own_policy(
    tmp_path: Path, connector: FakeConnector, sqlite_url: str
) -> None:
    policy = tmp_path / "our-policy.md"
    policy.write_text(
        "# Our policy\n\n## Trips\n\nStaff may use the school camera on trips, never their own phones.\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url, policy_path=policy)  # type: ignore[call-arg]
    async with running_bot(settings) as client:
        await client.post(
            "/api/messages", json=personal_activity(connector.url, text="can I use my phone on the school trip?")
        )
    assert "never their own phones" in _texts(connector.cards()[-1])


def test_an_unreadable_policy_stops_start_up_with_a_clear_message(tmp_path: Path, sqlite_url: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, dev_mode=True, database_url=sqlite_url, policy_path=tmp_path / "missing.txt"
    )
    with pytest.raises(SettingsError, match="POLICYBOT_POLICY_PATH"):
        create_app(settings)
