"""The school's own consent purposes (POLICYBOT_CONSENT_PURPOSES_FILE): "purposes are configuration" (issue 7).

A school that records one "online" consent (website and school social media together), display in school, and no
press, newsletter or separate video consent: the file says so, the CSV import reads its columns, the question
card offers only what the school records (and a personal account, always a no), and a check uses it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.settings import Settings, SettingsError
from domain.consent import (
    DEFAULT_CONFIG,
    ConsentPurposesFile,
    Destination,
    DestinationKind,
    MediaKind,
)
from domain.consent_import import DEFAULT_MAPPING, ImportRejected, parse_register_csv
from services.consent_import_cli import main
from tests.fakes.activities import TENANT, personal_activity
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_nodes, card_texts

SIMS = Path(__file__).parent.parent / "data" / "consent" / "sims_export.csv"
ALL_CHECKS = {"appropriatelyDressed": "true", "nobodyRidiculed": "true", "notInToiletOrChangingArea": "true"}
PURPOSES = {
    "purposes": [
        {"key": "online", "title": "online (website and school social media)"},
        {"key": "display_in_school", "title": "display in school"},
    ],
    "destination_purposes": {"school_website": "online", "school_account": "online",
                             "display_in_school": "display_in_school"},
    "video_purpose": None,
}
MAPPING = {"purposes": {"online": ["Online consent"], "display_in_school": ["Display consent"]}}
CSV = (
    "UPN,Surname,Forename,Reg Group,Online consent,Display consent,Do Not Publish\n"
    "B200000000001,Hughes,Amelia,3B,Granted,Granted,No\n"
    "B200000000002,Patel,Riya,3B,Refused,Granted,No\n"
)


@pytest.fixture
def school_files(tmp_path: Path) -> dict[str, Path]:
    files = {"purposes": tmp_path / "purposes.json", "mapping": tmp_path / "mapping.json", "csv": tmp_path / "mis.csv"}
    files["purposes"].write_text(json.dumps(PURPOSES), encoding="utf-8")
    files["mapping"].write_text(json.dumps(MAPPING), encoding="utf-8")
    files["csv"].write_text(CSV, encoding="utf-8")
    return files


def _settings(database_url: str, **extra: Any) -> Settings:
    return Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                    allowed_tenant_ids=[TENANT], **extra)


# --- the file ----------------------------------------------------------------------------------------------


def test_a_purposes_file_sets_the_purposes_and_what_each_destination_needs(school_files: dict[str, Path]) -> None:
    config = ConsentPurposesFile.load(school_files["purposes"])
    assert [p.key for p in config.purposes] == ["online", "display_in_school"]
    website = Destination.of(DestinationKind.SCHOOL_WEBSITE)
    assert [p.key for p in config.purposes_needed(website, MediaKind.VIDEO)] == ["online"]  # no separate video
    assert config.purposes_needed(Destination.of(DestinationKind.PRESS), MediaKind.PHOTO) == ()
    # Left out of the file: the defaults.
    assert ConsentPurposesFile.model_validate({}).config() == DEFAULT_CONFIG


@pytest.mark.parametrize("content", [
    {"purposes": [{"key": "online", "title": "online"}], "destination_purposes": {"press": "press"}},
    {"destination_purposes": {"personal_account": "school_website"}},  # a personal account is always no
    {"purposes": [{"key": "Bad Key", "title": "x"}]},
    {"purpose_quotes": {}},  # the policy's quotes are not the school's to change
    {"video_purpose": "filming"},
])
def test_a_wrong_purposes_file_stops_the_bot_at_start_up_saying_what_to_fix(
    tmp_path: Path, sqlite_url: str, content: dict[str, Any]
) -> None:
    path = tmp_path / "purposes.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ValueError):
        ConsentPurposesFile.load(path)
    with pytest.raises(SettingsError, match="POLICYBOT_CONSENT_PURPOSES_FILE is .*purposes.json, which cannot be used"):
        create_app(_settings(sqlite_url, consent_purposes_file=path))


def test_a_missing_purposes_file_stops_the_bot_at_start_up(tmp_path: Path, sqlite_url: str) -> None:
    with pytest.raises(SettingsError, match="cannot be used"):
        create_app(_settings(sqlite_url, consent_purposes_file=tmp_path / "nowhere.json"))


def test_the_default_mapping_works_for_a_school_with_fewer_purposes(tmp_path: Path) -> None:
    fewer = {"purposes": [{"key": "school_website", "title": "the school website"}],
             "destination_purposes": {"school_website": "school_website"}, "video_purpose": None}
    path = tmp_path / "purposes.json"
    path.write_text(json.dumps(fewer), encoding="utf-8")
    parsed = parse_register_csv(SIMS.read_bytes(), DEFAULT_MAPPING, ConsentPurposesFile.load(path))
    assert not isinstance(parsed, ImportRejected), parsed
    assert len(parsed.entries) == 10 and [p.key for p in parsed.purposes] == ["school_website"]


# --- through the bot ---------------------------------------------------------------------------------------


def _check(service_url: str, destination: str, pupils: str) -> dict[str, Any]:
    data = {"verb": "photo_check_submit", "destination": destination, "pupils": pupils, "device": "school_device",
            **ALL_CHECKS}
    return personal_activity(service_url, type_="invoke", name="adaptiveCard/action",
                             value={"action": {"type": "Action.Execute", "verb": data["verb"], "data": data}})


async def test_the_check_uses_the_schools_purposes(
    sqlite_url: str, connector: FakeConnector, school_files: dict[str, Path]
) -> None:
    settings = _settings(sqlite_url, consent_purposes_file=school_files["purposes"],
                         consent_mapping_file=school_files["mapping"])
    async with running_bot(settings) as client:
        # The data admin's command-line import, with the same files.
        argv = [str(school_files["csv"]), "--database-url", sqlite_url, "--purposes", str(school_files["purposes"]),
                "--mapping", str(school_files["mapping"])]
        assert await asyncio.to_thread(main, argv) == 0

        await client.post("/api/messages", json=personal_activity(connector.url, text="can I post this photo?"))
        [question] = connector.cards()
        assert_valid_card(question)
        [where] = [node for node in card_nodes(question, "Input.ChoiceSet") if node["id"] == "destination"]
        assert [c["value"] for c in where["choices"]] == ["school_website", "display_in_school", "personal_account"]

        answer = (await (await client.post("/api/messages", json=_check(
            connector.url, "school_website", "Amelia Hughes"))).json())["value"]
        text = card_texts(answer).replace("\\", "")
        assert "YES" in text.split("\n") and "online (website and school social media)" in text

        answer = (await (await client.post("/api/messages", json=_check(
            connector.url, "school_website", "Riya Patel"))).json())["value"]
        text = card_texts(answer).replace("\\", "")
        assert "NO" in text.split("\n") and "refused" in text

        # An old card (or a forged one) asking about the press: the school records no consent for it.
        answer = (await (await client.post("/api/messages", json=_check(
            connector.url, "press", "Amelia Hughes"))).json())["value"]
        assert_valid_card(answer)
        text = card_texts(answer).replace("\\", "")
        assert "NO" in text.split("\n") and "records no consent for the press" in text and "ask SLT" in text
