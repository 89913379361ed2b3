"""Ask the policy, through the bot: answers are quoted from the configured policy document."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import create_app, policy_answerer
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


async def test_a_question_about_a_photo_of_a_named_pupil_offers_the_photo_check_first(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    # ("can I post a photo ..." at the start of a message opens the photo check itself, with no quotes.)
    question = "is it ok to put a photo of Amira from Year 3 on the school Facebook page?"
    async with running_bot(dev_settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text=question))
    offer, answer = connector.cards()
    assert_valid_card(offer)
    assert offer["actions"][0]["data"] == {"verb": "start_flow", "flow": "check_photo"}
    assert "Check a photo" == offer["actions"][0]["title"]
    assert "Use of images" in _texts(answer)  # then the quotes: the consent rule


async def test_a_photo_question_naming_nobody_gets_no_photo_offer(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        await client.post(
            "/api/messages", json=personal_activity(connector.url, text="can parents post photos of the nativity?")
        )
    [answer] = connector.cards()
    assert "What the policy says" in _texts(answer)


def test_the_start_up_log_warns_when_the_sample_policy_is_in_use(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url)  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        answer = policy_answerer(settings)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "bot.app"]
    assert any("SAMPLE policy" in w and "POLICYBOT_POLICY_PATH" in w for w in warnings)
    card = answer("can I accept a friend request from a former pupil?").to_dict()
    assert "SAMPLE POLICY" in card["body"][0]["text"]


def test_the_start_up_log_does_not_warn_with_the_schools_policy(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "our-policy.md"
    policy.write_text("# Our policy\n\n## Trips\n\nStaff use the school camera on trips.\n", encoding="utf-8")
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url, policy_path=policy)  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        policy_answerer(settings)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "bot.app"]
