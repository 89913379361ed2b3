"""The photo-consent decision, clause by clause of the policy, plus name matching and a property test."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.consent import (
    ALL_QUOTES,
    DEFAULT_CONFIG,
    DEFAULT_PURPOSES,
    DISPLAY_IN_SCHOOL,
    GRANTED,
    NEWSLETTER_PROSPECTUS,
    PRESS,
    Q_CHECK_REGISTER,
    Q_DELETE_COMPROMISING,
    Q_DRESS_RIDICULE_LIST,
    Q_OWN_PHONES,
    Q_PERSONAL_PHONES,
    Q_PROCEDURE_1,
    Q_PROCEDURE_6,
    Q_PROCEDURE_8,
    Q_RESPECT_WISHES,
    Q_SCHOOL_ACCOUNTS_ONLY,
    Q_TURN_OFF_TAGGING,
    REFUSED,
    SCHOOL_SOCIAL_MEDIA,
    SCHOOL_WEBSITE,
    SILENT_ON_CHANGING_AREAS,
    SILENT_ON_NAMES,
    VIDEO,
    Answer,
    ConsentPolicyConfig,
    ConsentRecord,
    ConsentRegister,
    ConsentState,
    Destination,
    DestinationKind,
    Device,
    MediaKind,
    PhotoCheckRequest,
    Pupil,
    ReasonCode,
    RegisterEntry,
    ResolutionStatus,
    TypedPupil,
    check_photo,
    normalise_name,
    parse_pupil_names,
    resolve_names,
    with_choices,
)

POLICY = Path(__file__).parent.parent / "data" / "consent" / "social-media-policy.txt"
ACCOUNT = "Holy Trinity Year 6"
ALL_GRANTED = {purpose.key: GRANTED for purpose in DEFAULT_PURPOSES}


def entry(
    pupil_id: str,
    first: str,
    surname: str,
    class_name: str = "3B",
    *,
    consents: dict[str, ConsentRecord] | None = None,
    do_not_publish: bool = False,
    reason: str | None = None,
    year: str = "Year 3",
    preferred: str | None = None,
) -> RegisterEntry:
    return RegisterEntry(
        pupil=Pupil(
            pupil_id=pupil_id,
            first_name=first,
            surname=surname,
            class_name=class_name,
            year_group=year,
            preferred_first_name=preferred,
        ),
        consents=ALL_GRANTED if consents is None else consents,
        do_not_publish=do_not_publish,
        do_not_publish_reason=reason,
    )


def register() -> ConsentRegister:
    return ConsentRegister(
        [
            entry("P1", "Amelia", "Hughes"),
            entry("P2", "Oliver", "Smith", "4C", year="Year 4", preferred="Olly"),
            entry("P3", "Oliver", "Smith", "5A", year="Year 5"),
            entry("P4", "Zoë", "O'Brien", consents={**ALL_GRANTED, SCHOOL_SOCIAL_MEDIA: REFUSED}),
            entry(
                "P5",
                "Tobi",
                "Adeyemi-Clarke",
                consents={
                    **ALL_GRANTED,
                    SCHOOL_SOCIAL_MEDIA: ConsentRecord(state=ConsentState.WITHDRAWN, withdrawn_on=date(2025, 1, 14)),
                },
            ),
            entry("P6", "Riya", "Patel", consents={DISPLAY_IN_SCHOOL: GRANTED}),  # the rest not asked
            entry("P7", "Noor", "Haddad", do_not_publish=True, reason="Court order: contact restrictions"),
            entry("P8", "Isla Rose", "MacLeod", consents={**ALL_GRANTED, VIDEO: REFUSED}),
            entry("P9", "José", "Fernández", consents={**ALL_GRANTED, SCHOOL_WEBSITE: REFUSED}),
        ],
        version=7,
    )


def request(
    pupils: str = "Amelia Hughes",
    *,
    destination: Destination | None = None,
    device: Device = Device.SCHOOL_DEVICE,
    media: MediaKind = MediaKind.PHOTO,
    dressed: bool = True,
    not_ridiculed: bool = True,
    not_private: bool = True,
) -> PhotoCheckRequest:
    return PhotoCheckRequest(
        destination=destination or Destination.school_account(ACCOUNT),
        pupils=tuple(parse_pupil_names(pupils)),
        device=device,
        media=media,
        appropriately_dressed=dressed,
        nobody_ridiculed=not_ridiculed,
        not_in_toilet_or_changing_area=not_private,
    )


def check(req: PhotoCheckRequest, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("school_accounts", [ACCOUNT])
    return check_photo(register(), req, **kwargs)


# --- The policy's own words --------------------------------------------------------------------------


def _policy_text() -> str:
    text = POLICY.read_text(encoding="utf-8").replace("**", "")  # bold markers are not words
    return " ".join(text.split())


@pytest.mark.parametrize("quote", ALL_QUOTES, ids=lambda q: q.text[:40])
def test_every_quote_is_the_policy_word_for_word(quote) -> None:  # type: ignore[no-untyped-def]
    assert quote.text in _policy_text()


@pytest.mark.parametrize("quote", ALL_QUOTES, ids=lambda q: q.text[:40])
def test_every_quote_names_a_section_heading_of_the_policy(quote) -> None:  # type: ignore[no-untyped-def]
    lines = {line.strip() for line in POLICY.read_text(encoding="utf-8").splitlines()}
    if quote.section.startswith("Procedures "):  # "Procedures 8" is item 8 under "Procedures"
        number = quote.section.split()[1]
        assert "Procedures" in lines and any(line.startswith(f"{number}. ") and quote.text in line for line in lines)
        return
    for heading in re.split(r": |, ", quote.section):
        assert heading in lines


def test_the_policy_is_silent_on_naming_pupils_with_photos_so_the_bot_says_so() -> None:
    sentences = re.split(r"(?<=[.;])\s", _policy_text())
    about_names_and_images = [
        s
        for s in sentences
        if re.search(r"\bnam(e|es|ed|ing)\b", s, re.I) and re.search(r"photo|image|picture", s, re.I)
    ]
    assert about_names_and_images == []
    verdict = check(request())
    assert SILENT_ON_NAMES in verdict.policy_silent
    assert all("name" not in reminder.text.lower() for reminder in verdict.reminders)


def test_the_policy_names_toilets_not_changing_areas_and_the_bot_says_so() -> None:
    assert "changing" not in _policy_text().lower()
    verdict = check(request(not_private=False))
    assert SILENT_ON_CHANGING_AREAS in verdict.policy_silent


# --- Decision rules, clause by clause ------------------------------------------------------------------

SOCIAL = Destination.school_account(ACCOUNT)
WEBSITE = Destination.of(DestinationKind.SCHOOL_WEBSITE)
DISPLAY = Destination.of(DestinationKind.DISPLAY_IN_SCHOOL)
NEWSLETTER = Destination.of(DestinationKind.NEWSLETTER_PROSPECTUS)
PRESS_DEST = Destination.of(DestinationKind.PRESS)
PERSONAL = Destination.of(DestinationKind.PERSONAL_ACCOUNT)

# (clause, what staff said, expected answer, expected reason codes, a quote that must be cited)
RULES = [
    ("Use of images: check consent in the register", request("Amelia Hughes"), Answer.YES, set(), None),
    ("Use of images: check consent in the register", request("Zoë O'Brien"), Answer.NO, {ReasonCode.REFUSED},
     Q_CHECK_REGISTER),
    ("Use of images: withdrawn consent", request("Tobi Adeyemi-Clarke"), Answer.NO, {ReasonCode.WITHDRAWN},
     Q_CHECK_REGISTER),
    ("Use of images: not asked counts as no", request("Riya Patel"), Answer.NO, {ReasonCode.NO_CONSENT},
     Q_CHECK_REGISTER),
    ("Use of images: do-not-publish list", request("Noor Haddad"), Answer.NO, {ReasonCode.DO_NOT_PUBLISH},
     Q_DRESS_RIDICULE_LIST),
    ("Use of images: appropriately dressed", request(dressed=False), Answer.NO,
     {ReasonCode.NOT_APPROPRIATELY_DRESSED}, Q_DRESS_RIDICULE_LIST),
    ("Use of images: not subject to ridicule", request(not_ridiculed=False), Answer.NO,
     {ReasonCode.SUBJECT_TO_RIDICULE}, Q_DRESS_RIDICULE_LIST),
    ("Procedures 8: no cameras in toilet areas", request(not_private=False), Answer.NO, {ReasonCode.PRIVATE_AREA},
     Q_PROCEDURE_8),
    ("Use of images: only school owned accounts", request(destination=PERSONAL), Answer.NO,
     {ReasonCode.PERSONAL_ACCOUNT}, Q_SCHOOL_ACCOUNTS_ONLY),
    ("Use of images: only school owned accounts", request(destination=Destination.school_account("My Class Fans")),
     Answer.NO, {ReasonCode.UNREGISTERED_ACCOUNT}, Q_SCHOOL_ACCOUNTS_ONLY),
    ("Use of images: personal phones", request(device=Device.PERSONAL_DEVICE), Answer.NO,
     {ReasonCode.PERSONAL_DEVICE}, Q_PERSONAL_PHONES),
    ("Safeguarding: own mobile phones", request(device=Device.PERSONAL_DEVICE), Answer.NO,
     {ReasonCode.PERSONAL_DEVICE}, Q_OWN_PHONES),
    ("Procedures 6: the website needs specific permission", request("José Fernández", destination=WEBSITE),
     Answer.NO, {ReasonCode.REFUSED}, Q_PROCEDURE_6),
    ("Procedures 6: the website needs specific permission", request("Amelia Hughes", destination=WEBSITE),
     Answer.YES, set(), None),
    ("Procedures 1: consent for display in school", request("Riya Patel", destination=DISPLAY), Answer.YES, set(),
     None),
    ("Procedures 1: consent for the newsletter", request("Riya Patel", destination=NEWSLETTER), Answer.NO,
     {ReasonCode.NO_CONSENT}, Q_PROCEDURE_1),
    ("Procedures 1: consent for the press", request("Riya Patel", destination=PRESS_DEST), Answer.NO,
     {ReasonCode.NO_CONSENT}, Q_PROCEDURE_1),
    ("Procedures 1: video recorders need consent", request("Isla MacLeod", media=MediaKind.VIDEO), Answer.NO,
     {ReasonCode.REFUSED}, Q_PROCEDURE_1),
    ("Procedures 1: video recorders need consent", request("Isla MacLeod"), Answer.YES, set(), None),
    ("Use of images: check the register (name not found)", request("Amelia Hughs"), Answer.NO,
     {ReasonCode.NOT_FOUND}, Q_CHECK_REGISTER),
    ("Use of images: check the register (two pupils)", request("Oliver Smith"), Answer.NO, {ReasonCode.AMBIGUOUS},
     Q_CHECK_REGISTER),
    ("Use of images: check the register (class tells apart)", request("Oliver Smith (4C)"), Answer.YES, set(),
     None),
    ("Use of images: one pupil without consent spoils the photo", request("Amelia Hughes; Zoë O'Brien"), Answer.NO,
     {ReasonCode.REFUSED}, Q_CHECK_REGISTER),
]


@pytest.mark.parametrize(("clause", "req", "answer", "codes", "quote"), RULES, ids=[r[0] for r in RULES])
def test_decision_rules(clause, req, answer, codes, quote) -> None:  # type: ignore[no-untyped-def]
    verdict = check(req)
    assert verdict.answer is answer, clause
    assert {reason.code for reason in verdict.all_reasons()} == codes
    if quote is not None:
        assert quote in verdict.quotes()
    if answer is Answer.YES:
        assert verdict.quotes() == ()


def test_a_head_teacher_exception_allows_a_personal_device_and_says_so() -> None:
    verdict = check(request(device=Device.PERSONAL_DEVICE), device_exception_authorised=True)
    assert verdict.answer is Answer.YES
    assert verdict.device_exception_used and not verdict.can_request_device_exception


def test_a_personal_device_no_offers_to_request_an_exception() -> None:
    verdict = check(request(device=Device.PERSONAL_DEVICE))
    assert verdict.answer is Answer.NO and verdict.can_request_device_exception


def test_no_exception_is_offered_when_it_would_not_change_the_answer() -> None:
    no_consent = check(request("Zoë O'Brien", device=Device.PERSONAL_DEVICE))
    unconfirmed = check(request(device=Device.PERSONAL_DEVICE, dressed=False))
    for verdict in (no_consent, unconfirmed):
        assert verdict.answer is Answer.NO and not verdict.can_request_device_exception


def test_no_exception_is_offered_for_a_personal_account() -> None:
    verdict = check(request(destination=PERSONAL, device=Device.PERSONAL_DEVICE))
    assert verdict.answer is Answer.NO and not verdict.can_request_device_exception


def test_a_personal_account_is_no_even_with_every_consent_and_an_exception() -> None:
    verdict = check(request(destination=PERSONAL), device_exception_authorised=True)
    assert verdict.answer is Answer.NO
    assert verdict.purposes == ()
    assert [r.code for r in verdict.reasons] == [ReasonCode.PERSONAL_ACCOUNT]


def test_withdrawn_consent_says_when() -> None:
    verdict = check(request("Tobi Adeyemi-Clarke"))
    assert "withdrawn on 14 January 2025" in verdict.pupils[0].reasons[0].text


def test_a_do_not_photograph_request_is_a_no_with_the_wishes_clause() -> None:
    reg = register().with_do_not_photograph({"P1"})
    verdict = check_photo(reg, request("Amelia Hughes"), school_accounts=[ACCOUNT])
    assert verdict.answer is Answer.NO
    assert [r.code for r in verdict.pupils[0].reasons] == [ReasonCode.DO_NOT_PHOTOGRAPH]
    assert Q_RESPECT_WISHES in verdict.quotes()


def test_the_do_not_publish_reason_is_never_in_a_verdict() -> None:
    verdict = check(request("Noor Haddad"))
    dumped = verdict.model_dump_json()
    assert "Court order" not in dumped and "contact restrictions" not in dumped
    assert "Noor" in dumped  # the pupil is named, only the reason is withheld


def test_every_problem_is_listed_not_just_the_first() -> None:
    verdict = check(
        request("Zoë O'Brien; Noor Haddad; Nobody Atall", device=Device.PERSONAL_DEVICE, dressed=False)
    )
    codes = {reason.code for reason in verdict.all_reasons()}
    assert codes == {
        ReasonCode.REFUSED,
        ReasonCode.DO_NOT_PUBLISH,
        ReasonCode.NOT_FOUND,
        ReasonCode.PERSONAL_DEVICE,
        ReasonCode.NOT_APPROPRIATELY_DRESSED,
    }


def test_reminders_tagging_for_social_media_and_deleting_compromising_images_always() -> None:
    social = check(request())
    assert Q_TURN_OFF_TAGGING in [r.quote for r in social.reminders]
    assert Q_DELETE_COMPROMISING in [r.quote for r in social.reminders]
    display = check(request(destination=DISPLAY))
    assert Q_TURN_OFF_TAGGING not in [r.quote for r in display.reminders]
    assert Q_DELETE_COMPROMISING in [r.quote for r in display.reminders]


def test_newsletter_and_press_say_the_policy_has_no_clause_of_their_own() -> None:
    for destination, key in ((NEWSLETTER, NEWSLETTER_PROSPECTUS), (PRESS_DEST, PRESS)):
        verdict = check(request(destination=destination))
        title = DEFAULT_CONFIG.purpose(key).title
        assert any(title in note for note in verdict.policy_silent)


def test_an_empty_register_says_no_to_everyone() -> None:
    verdict = check_photo(ConsentRegister([]), request(), school_accounts=[ACCOUNT])
    assert verdict.answer is Answer.NO
    assert verdict.pupils[0].status is ResolutionStatus.NOT_FOUND


def test_school_accounts_match_whatever_the_case_and_spacing() -> None:
    verdict = check_photo(
        register(), request(destination=Destination.school_account("holy  trinity YEAR 6")), school_accounts=[ACCOUNT]
    )
    assert verdict.answer is Answer.YES


def test_purposes_are_configuration() -> None:
    config = ConsentPolicyConfig(
        destination_purposes={DestinationKind.SCHOOL_ACCOUNT: DISPLAY_IN_SCHOOL}, video_purpose=None
    )
    verdict = check_photo(register(), request("Riya Patel"), school_accounts=[ACCOUNT], config=config)
    assert verdict.answer is Answer.YES
    with pytest.raises(ValueError, match="unknown purposes"):
        ConsentPolicyConfig(destination_purposes={DestinationKind.PRESS: "radio"})
    with pytest.raises(ValueError, match="personal account"):
        ConsentPolicyConfig(destination_purposes={DestinationKind.PERSONAL_ACCOUNT: PRESS})


# --- Names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "pupil_id"),
    [
        ("Amelia Hughes", "P1"),
        ("  amelia   HUGHES ", "P1"),
        ("Hughes, Amelia", "P1"),
        ("Zoe OBrien", "P4"),
        ("zoë o’brien", "P4"),
        ("Tobi Adeyemi Clarke", "P5"),
        ("Jose Fernandez", "P9"),
        ("Isla MacLeod", "P8"),  # without the middle name
        ("Isla Rose MacLeod", "P8"),
        ("Olly Smith (4C)", "P2"),  # preferred name
        ("Oliver Smith (Year 5)", "P3"),
        ("Oliver Smith (y5)", "P3"),
    ],
)
def test_names_match_whatever_the_case_accents_spacing_and_order(typed: str, pupil_id: str) -> None:
    [resolution] = resolve_names(register(), typed)
    assert resolution.status is ResolutionStatus.MATCHED
    assert resolution.pupil is not None and resolution.pupil.pupil_id == pupil_id


def test_same_names_are_ambiguous_and_ask_which_with_their_classes() -> None:
    [resolution] = resolve_names(register(), "Oliver Smith")
    assert resolution.status is ResolutionStatus.AMBIGUOUS
    assert [(p.pupil_id, p.class_name) for p in resolution.candidates] == [("P2", "4C"), ("P3", "5A")]


def test_a_class_that_fits_nobody_of_that_name_still_asks() -> None:
    [resolution] = resolve_names(register(), "Oliver Smith (6Z)")
    assert resolution.status is ResolutionStatus.AMBIGUOUS


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("Amelia Hughs", "P1"), ("Amelia", "P1"), ("Hughes Amelia", "P1"), ("Riya Patle", "P6"), ("Zoe O Brian", "P4")],
)
def test_unknown_names_offer_close_matches(typed: str, expected: str) -> None:
    [resolution] = resolve_names(register(), typed)
    assert resolution.status is ResolutionStatus.NOT_FOUND
    assert resolution.candidates and resolution.candidates[0].pupil_id == expected


def test_a_name_far_from_everyone_offers_nothing() -> None:
    [resolution] = resolve_names(register(), "Xavier Quintrell")
    assert resolution.status is ResolutionStatus.NOT_FOUND and resolution.candidates == ()


def test_choosing_a_pupil_resolves_the_name_and_the_check_can_say_yes() -> None:
    req = request("Oliver Smith; Amelia Hughes")
    first = check(req)
    assert first.answer is Answer.NO and first.needs_pupil_choice
    ambiguous = [p.position for p in first.pupils if p.status is ResolutionStatus.AMBIGUOUS]
    assert ambiguous == [0]
    chosen = req.model_copy(update={"pupils": with_choices(req.pupils, {0: "P2"})})
    second = check(chosen)
    assert second.answer is Answer.YES and not second.needs_pupil_choice
    assert second.pupil_ids == ("P2", "P1")


def test_a_chosen_id_that_is_not_in_the_register_is_not_found() -> None:
    verdict = check(request().model_copy(update={"pupils": (TypedPupil(text="Ghost", pupil_id="P404"),)}))
    assert verdict.answer is Answer.NO and verdict.pupils[0].status is ResolutionStatus.NOT_FOUND


def test_the_same_pupil_typed_twice_appears_once() -> None:
    verdict = check(request("Amelia Hughes; Hughes, Amelia"))
    assert verdict.pupil_ids == ("P1",)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Amelia Hughes, Oliver Smith", ["Amelia Hughes", "Oliver Smith"]),
        ("Hughes, Amelia", ["Hughes, Amelia"]),
        ("Hughes, Amelia, Oliver Smith", ["Hughes, Amelia", "Oliver Smith"]),
        ("Amelia Hughes\n- Oliver Smith\n\n2. Riya Patel", ["Amelia Hughes", "Oliver Smith", "Riya Patel"]),
        ("Amelia Hughes and Riya Patel & Noor Haddad", ["Amelia Hughes", "Riya Patel", "Noor Haddad"]),
        ("Amelia Hughes; ; ", ["Amelia Hughes"]),
    ],
)
def test_typed_lists_split_into_pupils(text: str, names: list[str]) -> None:
    assert [p.text for p in parse_pupil_names(text)] == names


def test_a_class_in_brackets_is_a_hint() -> None:
    assert parse_pupil_names("Oliver Smith (4C), Amelia Hughes") == [
        TypedPupil(text="Oliver Smith", class_hint="4C"),
        TypedPupil(text="Amelia Hughes"),
    ]


def test_normalise_name() -> None:
    assert normalise_name("  Zoë  O'Brien-Smith ") == "zoe obrien smith"
    assert normalise_name("ŁUCJA Nowak") == "lucja nowak"


# --- The property ----------------------------------------------------------------------------------------

_STATES = st.sampled_from(list(ConsentState))
_DESTINATIONS = st.sampled_from(
    [SOCIAL, WEBSITE, DISPLAY, NEWSLETTER, PRESS_DEST, PERSONAL, Destination.school_account("Unregistered")]
)


@st.composite
def _worlds(draw: st.DrawFn) -> tuple[ConsentRegister, PhotoCheckRequest, bool]:
    count = draw(st.integers(min_value=1, max_value=6))
    entries = []
    for index in range(count):
        consents = {
            p.key: ConsentRecord(
                state=(state := draw(_STATES)),
                withdrawn_on=date(2025, 1, 1) if state is ConsentState.WITHDRAWN and draw(st.booleans()) else None,
            )
            for p in DEFAULT_PURPOSES
            if draw(st.booleans())  # a purpose left out has no record at all
        }
        first = draw(st.sampled_from(["Amelia", "Oliver", "Zoë", "Kai"]))
        entries.append(
            entry(f"X{index}", first, draw(st.sampled_from(["Hughes", "Smith"])),
                  draw(st.sampled_from(["3B", "4C"])), consents=consents, do_not_publish=draw(st.booleans()))
        )
    reg = ConsentRegister(entries, do_not_photograph=draw(st.sets(st.sampled_from([f"X{i}" for i in range(count)]))))
    chosen = draw(st.lists(st.sampled_from(entries), min_size=1, max_size=4))
    typed = []
    for e in chosen:
        how = draw(st.sampled_from(["id", "name", "name_class", "reversed"]))
        p = e.pupil
        typed.append(
            {
                "id": TypedPupil(text=p.display_name, pupil_id=p.pupil_id),
                "name": TypedPupil(text=f"{p.first_name} {p.surname}"),
                "name_class": TypedPupil(text=f"{p.first_name} {p.surname}", class_hint=p.class_name),
                "reversed": TypedPupil(text=f"{p.surname}, {p.first_name}"),
            }[how]
        )
    req = PhotoCheckRequest(
        destination=draw(_DESTINATIONS),
        pupils=tuple(typed),
        device=draw(st.sampled_from(list(Device))),
        media=draw(st.sampled_from(list(MediaKind))),
        appropriately_dressed=draw(st.booleans()),
        nobody_ridiculed=draw(st.booleans()),
        not_in_toilet_or_changing_area=draw(st.booleans()),
    )
    return reg, req, draw(st.booleans())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_worlds())
def test_no_yes_ever_for_a_pupil_without_granted_consent_for_the_purpose(world) -> None:  # type: ignore[no-untyped-def]
    reg, req, exception = world
    verdict = check_photo(reg, req, school_accounts=[ACCOUNT], device_exception_authorised=exception)
    needed = DEFAULT_CONFIG.purposes_needed(req.destination, req.media)
    if verdict.answer is not Answer.YES:
        return
    assert needed, "a destination without a purpose is never a yes"
    assert verdict.pupils and all(p.status is ResolutionStatus.MATCHED for p in verdict.pupils)
    for pupil_verdict in verdict.pupils:
        assert pupil_verdict.pupil is not None
        found = reg.get(pupil_verdict.pupil.pupil_id)
        assert found is not None
        for purpose in needed:
            assert found.consent_for(purpose.key).state is ConsentState.GRANTED
        assert not found.do_not_publish
        assert found.pupil.pupil_id not in reg.do_not_photograph
    assert req.appropriately_dressed and req.nobody_ridiculed and req.not_in_toilet_or_changing_area
    assert req.destination.kind is not DestinationKind.PERSONAL_ACCOUNT
    assert req.device is Device.SCHOOL_DEVICE or exception
