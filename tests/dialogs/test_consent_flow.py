"""Can I post this photo? through the bot: question card, verdict, choosing between pupils of one name."""

from __future__ import annotations

from pathlib import Path

from bot.app import SERVICES
from bot.settings import Settings
from store.consent_store import ConsentStore
from tests.fakes.activities import personal_activity
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_texts

SIMS = Path(__file__).parent.parent / "data" / "consent" / "sims_export.csv"
ALL_CHECKS = {"appropriatelyDressed": "true", "nobodyRidiculed": "true", "notInToiletOrChangingArea": "true"}


def _texts(card: dict) -> str:
    return card_texts(card).replace("\\", "")


def submit(service_url: str, data: dict) -> dict:
    return personal_activity(
        service_url, type_="invoke", name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": data["verb"], "data": data}},
    )


async def _with_register(client) -> None:  # type: ignore[no-untyped-def]
    store = ConsentStore(client.app[SERVICES].database)
    result = await store.import_csv(SIMS.read_bytes(), imported_by="test", source_name="sims_export.csv")
    assert not hasattr(result, "problems"), result


async def test_the_help_card_button_opens_the_question_card(dev_settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(dev_settings) as client:
        await client.post(
            "/api/messages", json=personal_activity(connector.url, value={"verb": "start_flow", "flow": "check_photo"})
        )
    [card] = connector.cards()
    assert_valid_card(card)
    assert {"destination", "pupils", "device"} <= {e.get("id") for e in card["body"] if isinstance(e, dict)}


async def test_consented_pupils_get_yes(dev_settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(dev_settings) as client:
        await _with_register(client)
        response = await client.post("/api/messages", json=submit(connector.url, {
            "verb": "photo_check_submit", "destination": "school_website",
            "pupils": "Amelia Hughes, Tobi Adeyemi-Clarke",
            "device": "school_device", **ALL_CHECKS,
        }))
        card = (await response.json())["value"]
    assert_valid_card(card)
    assert "YES" in _texts(card).split("\n")
    assert "NO" not in _texts(card).split("\n")


async def test_do_not_publish_pupil_gets_no_without_the_reason(
    dev_settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(dev_settings) as client:
        await _with_register(client)
        response = await client.post("/api/messages", json=submit(connector.url, {
            "verb": "photo_check_submit", "destination": "school_website", "pupils": "Łucja Nowak",
            "device": "school_device", **ALL_CHECKS,
        }))
        card = (await response.json())["value"]
    text = _texts(card)
    assert "NO" in text.split("\n")
    assert "Court order" not in text


async def test_two_pupils_of_one_name_are_chosen_then_checked(dev_settings: Settings, connector: FakeConnector) -> None:
    original = {"verb": "photo_check_submit", "destination": "school_website", "pupils": "Oliver Smith",
                "device": "school_device", **ALL_CHECKS}
    async with running_bot(dev_settings) as client:
        await _with_register(client)
        first = (await (await client.post("/api/messages", json=submit(connector.url, original))).json())["value"]
        assert "More than one pupil" in _texts(first)
        button = first["actions"][0]
        choice_input = next(e for e in first["body"] if e.get("type") == "Input.ChoiceSet")
        data = {**button["data"], choice_input["id"]: "A100000000002"}  # Oliver Smith, 4C: website granted
        second = (await (await client.post("/api/messages", json=submit(connector.url, data))).json())["value"]
    assert "More than one pupil" not in _texts(second)
    assert "YES" in _texts(second).split("\n")
    assert_valid_card(second)
