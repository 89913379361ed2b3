"""A name that is not in the consent register is no longer a dead end (issue 19, item 6), on SQLite and PostgreSQL.

A member of staff types "Jaiden Smyth" or "Ollie Hughes": the choice card says the answer is NO until the pupil
is identified, offers the close matches of the register as buttons (name and class only, never anyone's consent),
a box to type the name again, and names whom to ask (the data administrator, from the directory). Pressing a
match, or typing the name again, checks the photo again; "Check again" never brings back the same card unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from cards.consent import PHOTO_CHECK_CHOOSE_VERB, PhotoCheckChoiceSubmit, PhotoCheckSubmit
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.actors import Actor
from domain.roles import Role
from services.photo_check import PhotoChecks
from services.requests import CardAction
from store.consent_store import ConsentStore
from store.db import Database
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import card_texts

SIMS = Path(__file__).parent.parent / "data" / "consent" / "sims_export.csv"
SAM = Actor(aad_object_id="00000000-0000-0000-0000-000000000101", name="Sam Teacher", teams_user_id="29:sam",
            conversation_kind="personal")
JO = DirectoryEntry("00000000-0000-0000-0000-000000000204", "Jo Bell", frozenset({Role.DATA_ADMIN}))
QUESTION = {"destination": "school_website", "device": "school_device", "media": "photo",
            "appropriatelyDressed": "true", "nobodyRidiculed": "true", "notInToiletOrChangingArea": "true"}


async def _checks(database: Database, *, directory: StaticRoleDirectory | None = None) -> PhotoChecks:
    store = ConsentStore(database)
    imported = await store.import_csv(SIMS.read_bytes(), imported_by="test", source_name="sims_export.csv")
    assert not hasattr(imported, "problems"), imported
    return PhotoChecks(database, store, directory=directory)


def _action(verb: str, data: dict[str, Any]) -> CardAction:
    model = PhotoCheckSubmit if verb == "photo_check_submit" else PhotoCheckChoiceSubmit
    return CardAction(verb=verb, data=data, actor=SAM, payload=model.model_validate(data))


async def _submit(checks: PhotoChecks, pupils: str) -> dict[str, Any]:
    result = await checks.submit(_action("photo_check_submit", {**QUESTION, "pupils": pupils}))
    assert result.card is not None
    return result.card.to_dict()


async def _press(checks: PhotoChecks, data: dict[str, Any]) -> dict[str, Any]:
    result = await checks.choose(_action(PHOTO_CHECK_CHOOSE_VERB, data))
    assert result.card is not None
    return result.card.to_dict()


def _match_buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["title"]: action["data"] for element in card["body"] if element.get("type") == "ActionSet"
            for action in element["actions"]}


def _text(card: dict[str, Any]) -> str:
    return card_texts(card).replace("\\", "").replace("**", "")


async def test_a_misspelt_name_offers_its_close_match_and_pressing_it_gives_the_verdict(database: Database) -> None:
    checks = await _checks(database, directory=StaticRoleDirectory([JO], description="test"))
    card = await _submit(checks, "Amelia Hughs; Marek Kowalski")
    assert_valid_card(card)
    text = _text(card)
    assert "Amelia Hughs is not in the consent register" in text
    assert "The answer is NO until every pupil in the photo is identified" in text
    assert "Ask Jo Bell (who keeps the consent register) or the school office" in text
    buttons = _match_buttons(card)
    assert list(buttons) == ["Amelia Hughes, 3B, Year 3"]
    # Names and classes only: nothing about anyone's consent before a pupil is chosen.
    lowered = text.lower().replace("consent register", "")
    assert not any(word in lowered for word in ("granted", "refused", "withdrawn", "consent for", "published"))
    verdict = await _press(checks, buttons["Amelia Hughes, 3B, Year 3"])
    assert "YES" in _text(verdict).split("\n")
    assert "Amelia Hughes" in _text(verdict) and "Marek Kowalski" in _text(verdict)


async def test_a_nickname_and_a_surname_typo_find_the_pupil(database: Database) -> None:
    checks = await _checks(database)
    card = await _submit(checks, "Ollie Smyth")
    assert set(_match_buttons(card)) == {"Oliver (Olly) Smith, 4C, Year 4", "Oliver Smith, 5A, Year 5"}
    assert "Ask the school office" in _text(card)  # no directory: the office


async def test_a_name_typed_again_is_checked_and_one_still_unknown_says_so(database: Database) -> None:
    checks = await _checks(database)
    card = await _submit(checks, "Jayden Smith; Marek Kowalski")
    assert "Jayden Smith is not in the consent register" in _text(card)
    [button] = card["actions"]
    assert button["title"] == "Check again"
    box = next(element for element in card["body"] if element.get("type") == "Input.Text")
    assert box["isRequired"] is True  # Check again cannot be sent with nothing changed
    # Typed again, still not in the register: the card changes and says so; the answer stays NO.
    again = await _press(checks, {**button["data"], box["id"]: "Jayden Smith"})
    assert again != card
    assert "Still not identified: \u201cJayden Smith\u201d. The answer stays NO." in _text(again)
    # Typed again, corrected: the photo is checked with the corrected name.
    corrected = await _press(checks, {**button["data"], box["id"]: "Tobi Adeyemi-Clarke"})
    text = _text(corrected)
    assert "YES" in text.split("\n") and "Tobi Adeyemi-Clarke" in text and "Jayden" not in text


async def test_a_pupil_chosen_earlier_stays_chosen_while_another_name_is_corrected(database: Database) -> None:
    checks = await _checks(database)
    card = await _submit(checks, "Oliver Smith; Amelia Hughs")
    choice = next(element for element in card["body"] if element.get("type") == "Input.ChoiceSet")
    assert choice["id"] == "choice_0"
    # Choosing Oliver (4C) by pressing Check again needs the other name typed again too (both are required).
    box = next(element for element in card["body"] if element.get("type") == "Input.Text")
    still = await _press(checks, {**card["actions"][0]["data"], "choice_0": "A100000000002", box["id"]: "Amelia Hugh"})
    assert "More than one pupil" not in _text(still)  # Oliver stays chosen
    assert "Still not identified" in _text(still)
    [(title, data)] = _match_buttons(still).items()
    assert title == "Amelia Hughes, 3B, Year 3" and data["choice_0"] == "A100000000002"
    verdict = await _press(checks, data)
    assert "YES" in _text(verdict).split("\n")


async def test_none_of_these_is_answered_with_whom_to_ask_not_the_same_card(database: Database) -> None:
    checks = await _checks(database)
    card = await _submit(checks, "Oliver Smith")
    again = await _press(checks, {**card["actions"][0]["data"], "choice_0": "not_listed"})
    assert again != card
    assert "Still not identified: \u201cOliver Smith\u201d. The answer stays NO." in _text(again)


async def test_each_press_is_logged_as_a_check_without_the_names_typed(database: Database) -> None:
    checks = await _checks(database)
    card = await _submit(checks, "Amelia Hughs")
    await _press(checks, next(iter(_match_buttons(card).values())))
    async with database.sessions() as session:
        result = await session.execute(text("SELECT * FROM consent_check_log ORDER BY id"))
        rows = [dict(row._mapping) for row in result]
    assert len(rows) == 2
    logged = json.dumps(rows, default=str)
    assert "Hughs" not in logged and "Amelia" not in logged


async def test_names_typed_again_that_are_not_text_or_too_many_get_a_clear_answer(database: Database) -> None:
    checks = await _checks(database)
    card = await _submit(checks, "Jayden Smith")
    data = card["actions"][0]["data"]
    ignored = await _press(checks, {**data, "correct_0": 123, "correct_x": "Amelia Hughes", "correct_9999": "A B"})
    assert "Jayden Smith is not in the consent register" in _text(ignored)  # nothing usable was typed again
    flood = await checks.choose(_action(PHOTO_CHECK_CHOOSE_VERB, {**data, "correct_0": "A B; " * 49 + "A B"}))
    assert flood.card is None or "Which pupil" in _text(flood.card.to_dict())  # 50 names: still a photo's worth
    many = {**data, "pupils": "\n".join(f"Pupil{i} Name" for i in range(100))}
    many.update({f"correct_{i}": "A B; C D" for i in range(100)})
    too_many = await checks.choose(_action(PHOTO_CHECK_CHOOSE_VERB, many))
    assert too_many.message is not None and "at most 100 pupils" in too_many.message
