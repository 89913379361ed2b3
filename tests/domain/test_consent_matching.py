"""Close matches for a name the consent register does not hold, and names typed again (issue 19, item 6)."""

from __future__ import annotations

import pytest

from domain.consent import (
    ConsentRegister,
    Pupil,
    RegisterEntry,
    ResolutionStatus,
    TypedPupil,
    parse_pupil_names,
    typed_line,
    with_corrections,
)


def _entry(pupil_id: str, first: str, surname: str, class_name: str = "4C",
           preferred: str | None = None) -> RegisterEntry:
    return RegisterEntry(pupil=Pupil(pupil_id=pupil_id, first_name=first, surname=surname, class_name=class_name,
                                     preferred_first_name=preferred))


REGISTER = ConsentRegister([
    _entry("P1", "Jayden", "Smith"), _entry("P2", "Jaiden", "Smyth", "5A"), _entry("P3", "Oliver", "Smith"),
    _entry("P4", "Isabella", "Jones"), _entry("P5", "Amelia", "Hughes"), _entry("P6", "Callum", "Fraser"),
    _entry("P7", "Thomas", "Reid", preferred="Tom"),
])


def _offered(typed: str) -> list[str]:
    resolution = REGISTER.resolve(TypedPupil(text=typed))
    assert resolution.status is ResolutionStatus.NOT_FOUND
    return [pupil.pupil_id for pupil in resolution.candidates]


@pytest.mark.parametrize(("typed", "expected"), [
    ("Jay Smith", "P1"),  # a short form that starts the name
    ("Jaden Smith", "P1"),  # a letter missing
    ("Ollie Smith", "P3"),  # a nickname
    ("Izzy Jones", "P4"),
    ("Calum Frasier", "P6"),  # both names misspelt
    ("Hughs Amy", "P5"),  # surname first, a short form
    ("Tommy Reid", "P7"),
])
def test_typos_short_forms_and_nicknames_offer_the_pupil_first(typed: str, expected: str) -> None:
    assert _offered(typed)[0] == expected


def test_a_surname_alone_offers_everyone_of_that_surname_and_a_far_name_nothing() -> None:
    assert set(_offered("Smith")) == {"P1", "P3"}
    assert _offered("Xavier Quintrell") == []


def test_a_name_typed_again_replaces_its_pupil_and_choices_follow_their_pupils() -> None:
    pupils = tuple(parse_pupil_names("Jayden Smyth; Oliver Smith; Amelia Hughs"))
    corrected = with_corrections(pupils, {1: "P3", 2: "P5"}, {0: "Jaiden Smyth and Mia Jones"})
    assert [typed.text for typed in corrected.pupils] == ["Jaiden Smyth", "Mia Jones", "Oliver Smith", "Amelia Hughs"]
    assert corrected.choices == {2: "P3", 3: "P5"}
    assert corrected.positions == {0: (0, 1), 1: (2,), 2: (3,)}
    blank = with_corrections(pupils, {}, {1: "  ;  "})  # nothing to read: the pupil stays
    assert blank.pupils == pupils and blank.positions == {0: (0,), 1: (1,), 2: (2,)}
    assert with_corrections(pupils, {0: "P1"}, {0: "Amelia Hughes"}).choices == {}  # typed again wins


def test_a_typed_pupil_reads_back_as_the_same_pupil() -> None:
    for text in ("Smith, Oliver (4C)", "Amelia Hughes", "Zoë O'Brien-Smith [3B]"):
        [typed] = parse_pupil_names(text)
        assert parse_pupil_names(typed_line(typed)) == [typed]
