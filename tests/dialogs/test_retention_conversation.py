"""The retention commands as a conversation with the running bot: the DPO previews the next run, the Head Teacher
and the DPO see their commands on the help card, anyone else is refused (and nothing is shown)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.fakes.activities import TENANT, personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.cardcheck import assert_valid_card

ROLES_FILE = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
SAM = user()  # staff
JO = user("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")  # data admin, DPO
ANNA = user("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")  # Head Teacher


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        dev_mode=True, database_url=sqlite_url, allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE,
    )


async def test_the_dpo_previews_the_next_run(settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="retention preview", sender=JO))
    [card] = connector.cards()
    assert_valid_card(card)
    assert "Retention: what the next run will do" in json.dumps(card)
    assert "Nothing has passed its retention period." in json.dumps(card)


@pytest.mark.parametrize("text", ["retention preview", "legal holds", "legal hold INC-2026-0001 because a claim",
                                  "release legal hold INC-2026-0001"])
async def test_staff_are_refused_and_shown_nothing(settings: Settings, connector: FakeConnector, text: str) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text=text, sender=SAM))
    shown = " ".join(connector.texts() + [json.dumps(card) for card in connector.cards()])
    assert "Data Protection Officer" in shown and "Legal holds in force" not in shown
    assert "Retention: what the next run will do" not in shown


async def test_the_head_teacher_holds_a_report_that_does_not_exist_and_is_told(
    settings: Settings, connector: FakeConnector,
) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(
            connector.url, text="legal hold INC-2026-0042 because the police asked", sender=ANNA))
        await client.post("/api/messages", json=personal_activity(connector.url, text="legal holds", sender=ANNA))
    assert "I can't find INC-2026-0042" in connector.texts()[0]
    [card] = connector.cards()
    assert "Legal holds in force" in json.dumps(card) and "None." in json.dumps(card)


async def test_the_help_card_lists_the_commands_of_the_dpo_and_the_head(
    settings: Settings, connector: FakeConnector,
) -> None:
    async with running_bot(settings) as client:
        for who in (JO, ANNA, SAM):
            await client.post("/api/messages", json=personal_activity(connector.url, text="help", sender=who))
    jo, anna, sam = (json.dumps(card) for card in connector.cards())
    assert "retention preview" in jo and "legal hold + reference or person" in jo
    assert "retention preview" not in anna and "legal hold + reference or person" in anna
    assert "legal hold" not in sam and "retention preview" not in sam
