"""The business case's checks and the account register's hand-over rule (pure domain)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.accounts import (
    DIRECTORY_DOWN_MESSAGE,
    MIN_RUNNERS,
    NOT_STAFF_MESSAGE,
    TEXT_LIMITS,
    AccountCase,
    Administrator,
    FormField,
    Platform,
    RegisteredAccount,
    RunnerRecord,
    StaffMember,
    Training,
    Visibility,
    changed_fields,
    check_handover,
    form_values,
    runner_field,
    validate_form,
)

SAM = StaffMember("00000000-0000-0000-0000-000000000101", "Sam Teacher")
LEE = StaffMember("00000000-0000-0000-0000-000000000102", "Lee Carter")
RUTH = StaffMember("00000000-0000-0000-0000-000000000105", "Ruth Old", in_directory=False)
PEOPLE = {p.aad_object_id: p for p in (SAM, LEE, RUTH)}


def complete(**changes: str) -> dict[str, str]:
    values = {
        "platform": "facebook", "account_name": "Holy Trinity Year 6", "aim": "Share Year 6 learning with families",
        "audience": "Parents of Year 6", "promotion": "Newsletter and letters home", "visibility": "private",
        "monitoring_plan": "Sam checks daily at 4pm", "holiday_monitoring": "Lee checks twice a week",
        runner_field(1): SAM.aad_object_id, runner_field(2): LEE.aad_object_id,
    }
    values.update(changes)
    return values


def test_a_complete_case_passes_with_each_runner_named() -> None:
    check = validate_form(complete(), PEOPLE)
    assert check.ok and check.errors == {}
    case = check.case
    assert case is not None
    assert (case.platform, case.visibility, case.runner_names) == (
        Platform.FACEBOOK, Visibility.PRIVATE, ["Sam Teacher", "Lee Carter"])
    assert AccountCase.model_validate(case.model_dump(mode="json")) == case  # stored as JSON, read back
    assert validate_form(case.to_form(), PEOPLE).case == case  # the form of a case is the case


TRAINED = RunnerRecord(acknowledged_on=date(2026, 11, 24), trained_on=date(2026, 11, 12), course="Online safety")


def test_a_runners_standing_comes_from_the_records_never_from_the_form() -> None:
    said = complete(runner_1_training="confirmed", runner_2_training="confirmed", training_1="confirmed")
    case = validate_form(said, PEOPLE).case
    assert case is not None and "runner_1_training" not in case.to_form()
    sent = case.with_records({SAM.aad_object_id.lower(): TRAINED})  # Lee: nothing recorded
    sam, lee = sent.runners
    assert sam.standing() == "Sam Teacher: read the policy on 24 Nov 2026; trained on 12 Nov 2026 (Online safety)"
    assert lee.standing() == "Lee Carter: has not confirmed reading the current policy; no training recorded"
    assert sent.from_records and sent.needs_training == [lee]  # training to follow, whatever the form said
    assert (sam.register_training, lee.register_training) == (Training.CONFIRMED, Training.REQUESTED)
    assert AccountCase.model_validate(sent.model_dump(mode="json")) == sent
    facts = dict(sent.facts())
    assert facts["Lee Carter: policy and training (school records when sent)"] == (
        "has not confirmed reading the current policy; no training recorded")


def test_a_case_stored_before_the_records_still_loads_and_shows_the_applicants_word() -> None:
    stored = {**validate_form(complete(), PEOPLE).case.model_dump(mode="json"),  # type: ignore[union-attr]
              "runners": [{"aad_object_id": SAM.aad_object_id, "name": SAM.name, "training": "confirmed"},
                          {"aad_object_id": LEE.aad_object_id, "name": LEE.name, "training": "requested"}]}
    old = AccountCase.model_validate(stored)
    assert not old.from_records and [r.name for r in old.needs_training] == ["Lee Carter"]
    assert dict(old.facts())["Sam Teacher: policy and training"] == (
        "the applicant said they have read the policy and been trained")
    assert old.runners[1].standing() == "Lee Carter: the applicant asked for training"
    assert old.runners[0].register_training is Training.CONFIRMED
    resent = validate_form(old.to_form(), PEOPLE).case  # changed and resent: the records decide from now on
    assert resent is not None and changed_fields(old, resent.with_records({})) == []


@pytest.mark.parametrize(
    "missing",
    ["platform", "account_name", "aim", "audience", "promotion", "visibility", "monitoring_plan",
     "holiday_monitoring"],
)
def test_each_missing_answer_is_named(missing: str) -> None:
    check = validate_form(complete(**{missing: ""}), PEOPLE)
    assert not check.ok and list(check.errors) == [missing]


def test_another_platform_must_be_named() -> None:
    check = validate_form(complete(platform="other"), PEOPLE)
    assert list(check.errors) == ["platform_other"]
    case = validate_form(complete(platform="other", platform_other="Padlet"), PEOPLE).case
    assert case is not None and case.platform_title == "Padlet"


def test_one_runner_is_not_enough() -> None:
    check = validate_form(complete(**{runner_field(2): ""}), PEOPLE)
    assert list(check.errors) == [FormField.RUNNERS]
    assert f"at least {MIN_RUNNERS} different" in check.errors[FormField.RUNNERS]


def test_the_same_person_twice_is_not_two_runners() -> None:
    check = validate_form(complete(**{runner_field(2): SAM.aad_object_id.upper()}), PEOPLE)
    assert list(check.errors) == [runner_field(2)]
    assert "same person" in check.errors[runner_field(2)]


def test_the_same_person_chosen_by_two_kinds_of_id_is_one_runner() -> None:
    people = {**PEOPLE, "29:staff-sam": SAM}  # the Playground's picker gives Teams ids
    check = validate_form(complete(**{runner_field(2): "29:staff-sam"}), people)
    assert "same person" in check.errors[runner_field(2)]


def test_a_runner_who_left_or_is_unknown_is_refused() -> None:
    left = validate_form(complete(**{runner_field(2): RUTH.aad_object_id}), PEOPLE)
    assert "no longer in the school's directory" in left.errors[runner_field(2)]
    unknown = validate_form(complete(**{runner_field(2): "not-a-person"}), PEOPLE)
    assert unknown.errors[runner_field(2)] == NOT_STAFF_MESSAGE  # whoever they are, not on the staff list
    down = validate_form(complete(**{runner_field(2): "x"}), {**PEOPLE, "x": StaffMember("x", "", checked=False)})
    assert down.errors[runner_field(2)] == DIRECTORY_DOWN_MESSAGE


@pytest.mark.parametrize("field", sorted(TEXT_LIMITS))
def test_over_long_text_is_refused_with_the_limit(field: FormField) -> None:
    limit = TEXT_LIMITS[field]
    values = complete(**{"platform": "other", "platform_other": "Padlet", field.value: "x" * (limit + 1)})
    check = validate_form(values, PEOPLE)
    assert check.errors[field] == f"Too long: {limit + 1} characters, at most {limit}."


@pytest.mark.parametrize("text", ["password: hunter2", "The Password is Y6rocks!", "pwd=abc", "login details - x"])
def test_a_password_is_never_accepted(text: str) -> None:
    check = validate_form(complete(monitoring_plan=text), PEOPLE)
    assert "never asks for or stores passwords" in check.errors["monitoring_plan"]


@pytest.mark.parametrize("text", ["The password stays with the office", "The password is kept by the office"])
def test_words_about_passwords_without_one_are_fine(text: str) -> None:
    assert validate_form(complete(monitoring_plan=text), PEOPLE).ok


def test_every_problem_is_reported_at_once() -> None:
    check = validate_form({runner_field(1): SAM.aad_object_id, runner_field(2): SAM.aad_object_id}, PEOPLE)
    assert {"platform", "account_name", "aim", "audience", "promotion", "visibility", "monitoring_plan",
            "holiday_monitoring", runner_field(2)} == set(check.errors)


def test_form_values_keep_only_the_form_inputs() -> None:
    kept = form_values({**complete(), "verb": "account_submit", "form_id": "abc", "comment": "x", "aim": 3,
                        "runner_1_training": "confirmed"})
    assert "verb" not in kept and "form_id" not in kept and "comment" not in kept and kept["aim"] == "3"
    assert "runner_1_training" not in kept  # an old form's (or a crafted) training answer is not an input


# --- the register's hand-over rule --------------------------------------------------------------------------


def account(*admins: StaffMember) -> RegisteredAccount:
    return RegisteredAccount(
        id=1, platform="Facebook", account_name="Year 6", audience="Parents", visibility=Visibility.PRIVATE,
        approval_reference="ACC-2026-0001", approved_at=datetime(2026, 11, 24, tzinfo=UTC),
        approved_by_name="Anna Smith",
        administrators=tuple(Administrator(a.aad_object_id, a.name, Training.CONFIRMED) for a in admins),
    )


def test_an_account_needs_a_hand_over_when_fewer_than_two_administrators_remain() -> None:
    both = account(SAM, LEE)
    assert not check_handover(both, [SAM.aad_object_id, LEE.aad_object_id]).needs_handover
    one_left = check_handover(both, [SAM.aad_object_id])
    assert one_left.needs_handover and [a.name for a in one_left.gone] == ["Lee Carter"]
    three = account(SAM, LEE, RUTH)
    assert not check_handover(three, [SAM.aad_object_id, LEE.aad_object_id]).needs_handover


def test_nothing_is_flagged_when_the_directory_cannot_answer() -> None:
    check = check_handover(account(SAM, LEE), None)
    assert check.unknown and not check.needs_handover


def test_a_resubmitted_case_says_what_changed_in_the_forms_words() -> None:
    before = validate_form(complete(), PEOPLE).case
    after = validate_form(complete(aim="A different aim", **{runner_field(2): RUTH_HERE.aad_object_id}),
                          {**PEOPLE, RUTH_HERE.aad_object_id: RUTH_HERE}).case
    assert before is not None and after is not None
    assert changed_fields(before, after) == ["aim", "runners"]
    assert changed_fields(before, before) == []
    # Training recorded between two versions is not a change the applicant made.
    assert changed_fields(before.with_records({}), before.with_records({LEE.aad_object_id.lower(): TRAINED})) == []


RUTH_HERE = StaffMember("00000000-0000-0000-0000-000000000106", "Ruth New")
