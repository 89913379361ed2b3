"""The photo-check cards: valid for Teams, escaped, and their submits parse back into domain requests."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from cards.base import AdaptiveCard, escape_markdown
from cards.consent import (
    PHOTO_CHECK_CHOOSE_VERB,
    PHOTO_CHECK_SUBMIT_VERB,
    REQUEST_DEVICE_EXCEPTION_VERB,
    AuthorisedException,
    DeviceExceptionSubmit,
    PhotoCheckSubmit,
    PupilChoiceSubmit,
    photo_check_question_card,
    pupil_choice_card,
    verdict_card,
)
from domain.consent import (
    DEFAULT_PURPOSES,
    GRANTED,
    Destination,
    DestinationKind,
    Device,
    MediaKind,
    PhotoCheckRequest,
    Pupil,
    RegisterEntry,
    Verdict,
    check_photo,
    parse_pupil_names,
    with_choices,
)
from domain.consent import (
    ConsentRegister as Register,
)
from tests.support.cardcheck import assert_valid_cards

ACCOUNTS = ["Year 6 *Blog*", "PTA [news](http://evil.example)"]
EVIL_NAME = "Bobby *Tables* [click](http://evil.example)"


def _entry(pupil_id: str, first: str, surname: str, class_name: str, **kwargs: Any) -> RegisterEntry:
    return RegisterEntry(
        pupil=Pupil(pupil_id=pupil_id, first_name=first, surname=surname, class_name=class_name),
        consents={p.key: GRANTED for p in DEFAULT_PURPOSES},
        **kwargs,
    )


REGISTER = Register(
    [
        _entry("P1", "Amelia", "Hughes", "3B"),
        _entry("P2", "Oliver", "Smith", "4C"),
        _entry("P3", "Oliver", "Smith", "5A"),
        _entry("P4", "Twin", "Same", "2A"),
        _entry("P5", "Twin", "Same", "2A"),
        _entry("P6", "Bobby", "Tables", "1_A", do_not_publish=True,
               do_not_publish_reason="Adoption: birth family must not find"),
    ],
    version=3,
)


def _request(pupils: str, **changes: Any) -> PhotoCheckRequest:
    fields: dict[str, Any] = {
        "destination": Destination.school_account(ACCOUNTS[0]),
        "pupils": tuple(parse_pupil_names(pupils)),
        "device": Device.SCHOOL_DEVICE,
        "appropriately_dressed": True,
        "nobody_ridiculed": True,
        "not_in_toilet_or_changing_area": True,
    }
    fields.update(changes)
    return PhotoCheckRequest(**fields)


def _verdict(pupils: str, **changes: Any) -> Verdict:
    return check_photo(REGISTER, _request(pupils, **changes), school_accounts=ACCOUNTS)


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def _texts(card: AdaptiveCard) -> str:
    """Every string of the card as Teams receives it, one per line."""
    return "\n".join(_strings(card.to_dict()))


YES = _verdict("Amelia Hughes")
NO_MANY = _verdict(
    f"Amelia Hughes; Oliver Smith; Twin Same; Nobody Known; Amelia Hughs; Bobby Tables; {EVIL_NAME}",
    device=Device.PERSONAL_DEVICE,
    appropriately_dressed=False,
)
PERSONAL_ACCOUNT = _verdict("Amelia Hughes", destination=Destination.of(DestinationKind.PERSONAL_ACCOUNT))


def test_every_card_is_valid_for_teams() -> None:
    assert_valid_cards(
        [
            photo_check_question_card(ACCOUNTS),
            photo_check_question_card([], pupils_text="Amelia Hughes", problem="Say who is *in* it."),
            pupil_choice_card(NO_MANY),
            verdict_card(YES),
            verdict_card(NO_MANY),
            verdict_card(PERSONAL_ACCOUNT),
        ]
    )


def test_the_verdict_card_says_yes_big_on_green_in_the_default_text_colour() -> None:
    card = verdict_card(YES).to_dict()
    headline = card["body"][0]["items"][0]
    # Teams' green text on white fails WCAG AA (tests/cards/test_contrast.py): the word says it, the box is green.
    assert headline == {"type": "TextBlock", "text": "YES", "wrap": True, "size": "ExtraLarge", "weight": "Bolder"}
    assert card["body"][0]["style"] == "good"
    assert "actions" not in card
    assert "Consider turning off tagging people in images where possible" in _texts(verdict_card(YES))


def test_the_no_card_has_a_line_per_pupil_and_the_policy_words_and_no_exception_button_for_many_reasons() -> None:
    card = verdict_card(NO_MANY)
    text = _texts(card)
    assert card.to_dict()["body"][0]["items"][0]["text"] == "NO"
    for expected in (
        "more than one pupil has this name",
        "not found in the consent register",
        "did you mean Amelia Hughes?",
        "on the school's list of children whose images must not be published",
        "not confirmed that everyone is appropriately dressed",
        escape_markdown("personal phones are not to be used unless there are exceptional circumstances"),
        "Use of images",
    ):
        assert expected in text, expected
    assert "1\\_A" in text  # the class is pupil text too
    # An exception for the device would not make this a yes: no button.
    assert "actions" not in card.to_dict()
    assert "Ask the Head Teacher" not in text


def test_a_device_only_no_asks_for_the_circumstances_and_sends_the_photo_as_checked() -> None:
    verdict = _verdict("Amelia Hughes; Oliver Smith (5A)", device=Device.PERSONAL_DEVICE)
    assert verdict.can_request_device_exception
    card = verdict_card(verdict, form_id="f" * 32).to_dict()
    [button] = card["actions"]
    assert button["type"] == "Action.ShowCard" and button["title"] == "Ask the Head Teacher for an exception"
    inner = button["card"]
    [box] = [e for e in inner["body"] if e.get("type") == "Input.Text"]
    assert box["id"] == "circumstances" and box["isRequired"] is True and box["maxLength"] == 1000
    assert "personal phones are not to be used unless there are exceptional circumstances" in "\n".join(
        _strings(inner)).replace("\\", "")
    [send] = inner["actions"]
    assert send["type"] == "Action.Submit"
    payload = DeviceExceptionSubmit.model_validate({**send["data"], "circumstances": "The tablet broke"})
    assert payload.verb == REQUEST_DEVICE_EXCEPTION_VERB
    assert payload.destination is DestinationKind.SCHOOL_ACCOUNT and payload.account_name == ACCOUNTS[0]
    assert payload.purposes == ("school_social_media",) and payload.register_version == 3
    assert set(payload.pupil_ids) == {"P1", "P3"} and payload.form_id == "f" * 32
    assert payload.appropriately_dressed and payload.nobody_ridiculed and payload.not_in_toilet_or_changing_area
    request = payload.to_request()
    assert [p.pupil_id for p in request.pupils] == ["P1", "P3"] and request.device is Device.PERSONAL_DEVICE
    assert_valid_cards([card])


def test_a_verdict_decided_with_an_exception_names_it() -> None:
    verdict = _verdict("Amelia Hughes", device=Device.PERSONAL_DEVICE)
    authorised = check_photo(REGISTER, _request("Amelia Hughes", device=Device.PERSONAL_DEVICE),
                             school_accounts=ACCOUNTS, device_exception_authorised=True)
    assert verdict.answer.value == "no" and authorised.answer.value == "yes"
    card = verdict_card(authorised, exception=AuthorisedException(
        reference="PHO-2026-0004", decided_on=date(2026, 11, 24), decided_by="Anna Smith"))
    text = _texts(card).replace("\\", "")
    assert "Authorised by the Head Teacher (Anna Smith) on Tue 24 Nov 2026, PHO-2026-0004" in text
    assert "actions" not in card.to_dict()
    assert_valid_cards([card])


def test_the_do_not_publish_reason_never_reaches_a_card() -> None:
    for card in (verdict_card(NO_MANY), pupil_choice_card(NO_MANY)):
        assert "Adoption" not in _texts(card) and "birth family" not in _texts(card)


def test_user_and_pupil_text_is_escaped_everywhere_markdown_renders() -> None:
    card = verdict_card(NO_MANY).to_dict()
    markdown = "\n".join(_strings(card["body"]))  # TextBlocks and FactSets: Teams renders Markdown there
    assert "[click](http" not in markdown and " *Tables*" not in markdown
    assert escape_markdown("*Tables* [click]") in markdown  # what staff typed, shown inert
    assert escape_markdown(ACCOUNTS[0]) in markdown
    assert ACCOUNTS[0] not in markdown.replace(escape_markdown(ACCOUNTS[0]), "")
    choice = pupil_choice_card(_verdict(EVIL_NAME)).to_dict()
    questions = [e["text"] for e in choice["body"] if e.get("type") == "TextBlock"]
    assert any(escape_markdown("Bobby *Tables* [click]") in q for q in questions)


def test_a_personal_account_card_offers_no_exception() -> None:
    card = verdict_card(PERSONAL_ACCOUNT).to_dict()
    assert "actions" not in card
    assert "Under no circumstances should staff share or upload student pictures online" in _texts(
        verdict_card(PERSONAL_ACCOUNT)
    )


def test_a_whole_class_yes_stays_small() -> None:
    register = Register([_entry(f"C{i}", f"Pupil{i}", "Class", "6A") for i in range(100)])
    names = "; ".join(f"Pupil{i} Class" for i in range(100))
    verdict = check_photo(register, _request(names), school_accounts=ACCOUNTS)
    card = verdict_card(verdict)
    assert "and 60 more" in _texts(card)
    assert len(json.dumps(card.to_dict())) < 28_000  # Teams refuses bigger cards


# --- The question card and its submit --------------------------------------------------------------------


def test_the_question_card_lists_the_accounts_devices_and_the_three_checks() -> None:
    card = photo_check_question_card(ACCOUNTS).to_dict()
    inputs = {element["id"]: element for element in card["body"] if "id" in element}
    assert set(inputs) == {
        "destination",
        "pupils",
        "device",
        "media",
        "appropriatelyDressed",
        "nobodyRidiculed",
        "notInToiletOrChangingArea",
    }
    values = [choice["value"] for choice in inputs["destination"]["choices"]]
    assert values[:2] == [f"account:{name}" for name in ACCOUNTS]
    assert "personal_account" in values
    assert card["actions"][0]["data"] == {"verb": PHOTO_CHECK_SUBMIT_VERB}


def _submitted(**changes: Any) -> dict[str, Any]:
    data = {
        "verb": PHOTO_CHECK_SUBMIT_VERB,
        "destination": f"account:{ACCOUNTS[0]}",
        "pupils": "Amelia Hughes\nSmith, Oliver (4C)",
        "device": "school_device",
        "media": "photo",
        "appropriatelyDressed": "true",
        "nobodyRidiculed": "true",
        "notInToiletOrChangingArea": "true",
    }
    data.update(changes)
    return data


def test_a_submitted_question_becomes_a_domain_request() -> None:
    request = PhotoCheckSubmit.model_validate(_submitted()).to_request()
    assert request.destination == Destination.school_account(ACCOUNTS[0])
    assert [p.text for p in request.pupils] == ["Amelia Hughes", "Smith, Oliver"]
    assert request.pupils[1].class_hint == "4C"
    assert check_photo(REGISTER, request, school_accounts=ACCOUNTS).allowed


def test_unticked_checks_and_other_destinations_parse() -> None:
    request = PhotoCheckSubmit.model_validate(
        _submitted(destination="press", appropriatelyDressed="false", media="video", device="personal_device")
    ).to_request()
    assert request.destination.kind is DestinationKind.PRESS
    assert not request.appropriately_dressed and request.nobody_ridiculed
    assert request.media is MediaKind.VIDEO and request.device is Device.PERSONAL_DEVICE


@pytest.mark.parametrize(
    "changes",
    [{"pupils": "  "}, {"destination": "the moon"}, {"device": "drone"}, {"verb": "something_else"}],
)
def test_a_bad_submit_is_a_validation_error_not_a_yes(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PhotoCheckSubmit.model_validate(_submitted(**changes)).to_request()


def test_a_missing_toggle_counts_as_not_confirmed() -> None:
    data = _submitted()
    del data["nobodyRidiculed"]
    assert not PhotoCheckSubmit.model_validate(data).to_request().nobody_ridiculed


# --- The choice card and its submit ------------------------------------------------------------------------


def test_the_choice_card_asks_only_about_unresolved_names_with_classes_and_ids_for_twins() -> None:
    card = pupil_choice_card(NO_MANY).to_dict()
    choice_sets = [element for element in card["body"] if element.get("type") == "Input.ChoiceSet"]
    # Names two pupils share (Oliver Smith, Twin Same) are a choice; names not in the register (Amelia Hughs, the
    # typed "Bobby *Tables* [click]", Nobody Known) get a button per close match and a box to type them again.
    assert [c["id"] for c in choice_sets] == ["choice_1", "choice_2"]
    buttons = [(action["title"], {k: v for k, v in action["data"].items() if k.startswith("choice_")})
               for element in card["body"] if element.get("type") == "ActionSet" for action in element["actions"]]
    assert buttons == [("Amelia Hughes, 3B", {"choice_4": "P1"}), ("Bobby Tables, 1_A", {"choice_6": "P6"})]
    boxes = [element["id"] for element in card["body"] if element.get("type") == "Input.Text"]
    assert boxes == ["correct_3", "correct_4", "correct_6"]
    oliver = [choice["title"] for choice in choice_sets[0]["choices"]]
    assert oliver == ["Oliver Smith, 4C", "Oliver Smith, 5A", "None of these"]
    twins = [choice["title"] for choice in choice_sets[1]["choices"]]
    assert twins[:2] == ["Twin Same, 2A (pupil id P4)", "Twin Same, 2A (pupil id P5)"]
    assert "Nobody Known" in _texts(pupil_choice_card(NO_MANY))  # said, with nothing to choose
    assert card["actions"][0]["data"] == {"verb": PHOTO_CHECK_CHOOSE_VERB}
    text = _texts(pupil_choice_card(NO_MANY))
    assert "The answer is NO until every pupil in the photo is identified" in text
    assert "Ask the school office" in text
    # Nothing about anyone's consent before a pupil is chosen: names and classes only.
    for word in ("consent for", "granted", "refused", "withdrawn", "not asked", "must not be published", "Adoption"):
        assert word not in text.lower().replace("consent register", "")


def test_choices_pin_the_pupils_and_the_next_check_can_say_yes() -> None:
    request = _request("Oliver Smith; Amelia Hughs; Nobody Known")
    first = check_photo(REGISTER, request, school_accounts=ACCOUNTS)
    assert first.needs_pupil_choice
    submit = PupilChoiceSubmit.model_validate(
        {"verb": PHOTO_CHECK_CHOOSE_VERB, "choice_0": "P3", "choice_1": "P1", "choice_2": "not_listed", "x": 1}
    )
    assert submit.choices() == {0: "P3", 1: "P1"}
    again = request.model_copy(update={"pupils": with_choices(request.pupils, submit.choices())})
    second = check_photo(REGISTER, again, school_accounts=ACCOUNTS)
    assert second.answer.value == "no" and second.pupil_ids == ("P3", "P1")  # "Nobody Known" still unresolved
    third = again.model_copy(update={"pupils": again.pupils[:2]})
    assert check_photo(REGISTER, third, school_accounts=ACCOUNTS).allowed


def test_with_no_school_account_approved_the_question_says_why_none_is_offered_and_how_one_gets_in() -> None:
    """Issue 19, item 7: "a school social media account" is not offered until one is approved, and the card says so,
    with the policy's words on how an account gets into the register."""
    card = photo_check_question_card([])
    text = _texts(card)
    assert "No school social media account has been approved in the bot yet" in text
    assert "must present a business case to the Head Teacher" in text  # Process for creating new accounts
    assert "must be approved by the Head Teacher in advance" in text  # Roles & Responsibilities (SLT)
    assert "new account" in text and "accounts" in text  # what to type
    destinations = next(e for e in card.to_dict()["body"] if e.get("id") == "destination")["choices"]
    assert not any(choice["value"].startswith("account:") for choice in destinations)
    # Once one is approved it is offered, and the explanation goes.
    with_one = photo_check_question_card(ACCOUNTS)
    assert "approved in the bot yet" not in _texts(with_one)
    # A school that records no consent for school accounts is not told about them either.
    elsewhere = photo_check_question_card([], destinations_recorded={DestinationKind.SCHOOL_WEBSITE})
    assert "approved in the bot yet" not in _texts(elsewhere)
