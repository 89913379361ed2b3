"""Reading the consent register from MIS exports: all or nothing, every problem with its line number."""

from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from domain.consent import (
    DEFAULT_PURPOSES,
    PRESS,
    SCHOOL_SOCIAL_MEDIA,
    VIDEO,
    ConsentPolicyConfig,
    ConsentRecord,
    ConsentState,
)
from domain.consent_import import (
    DEFAULT_MAPPING,
    ColumnMapping,
    ImportRejected,
    ParsedRegister,
    RegisterTooLarge,
    parse_register_csv,
    read_within,
    size_in_words,
)

DATA = Path(__file__).parent.parent / "data" / "consent"
HEADER = (
    "UPN,Surname,Forename,Reg Group,Year,Consent: Display in school,Consent: Website,"
    "Consent: School social media,Consent: Newsletter/prospectus,Consent: Press,Consent: Video,Do Not Publish,"
    "Do Not Publish Reason"
)


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


def parsed(data: bytes, mapping: ColumnMapping = DEFAULT_MAPPING) -> ParsedRegister:
    result = parse_register_csv(data, mapping)
    assert isinstance(result, ParsedRegister), [str(e) for e in getattr(result, "errors", ())]
    return result


def rejected(data: bytes, mapping: ColumnMapping = DEFAULT_MAPPING) -> list[str]:
    result = parse_register_csv(data, mapping)
    assert isinstance(result, ImportRejected), "the file should have been rejected"
    return [str(error) for error in result.errors]


ROW_OK = "A1,Hughes,Amelia,3B,Year 3,Granted,Granted,Granted,Granted,Granted,Granted,No,"


# --- The sample exports ------------------------------------------------------------------------------


def test_a_sims_style_export_reads_every_pupil_and_state() -> None:
    result = parsed((DATA / "sims_export.csv").read_bytes())
    assert result.encoding == "utf-8"
    assert len(result.entries) == 10
    by_id = {e.pupil.pupil_id: e for e in result.entries}
    zoe = by_id["A100000000004"]
    assert zoe.pupil.first_name == "Zoë" and zoe.pupil.surname == "O'Brien"
    assert zoe.consent_for(SCHOOL_SOCIAL_MEDIA) == ConsentRecord(
        state=ConsentState.WITHDRAWN, withdrawn_on=date(2025, 1, 14)
    )
    assert zoe.consent_for(PRESS).state is ConsentState.NOT_ASKED
    assert by_id["A100000000002"].pupil.preferred_first_name == "Olly"
    assert by_id["A100000000003"].consent_for(PRESS).state is ConsentState.REFUSED
    assert by_id["A100000000006"].consent_for(SCHOOL_SOCIAL_MEDIA).state is ConsentState.NOT_ASKED  # empty cell
    noor = by_id["A100000000005"]
    assert noor.do_not_publish and noor.do_not_publish_reason == "Court order: contact restrictions"
    assert by_id["A100000000009"].pupil.first_name == "Isla Rose"
    assert result.purposes == DEFAULT_PURPOSES


def test_an_arbor_style_export_with_a_utf8_bom_reads_with_the_default_mapping() -> None:
    data = (DATA / "arbor_export_bom.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    result = parsed(data)
    assert result.encoding == "utf-8-sig"
    by_id = {e.pupil.pupil_id: e for e in result.entries}
    assert by_id["5001"].pupil.class_name == "RW" and by_id["5001"].pupil.year_group == "Reception"
    assert by_id["5003"].consent_for(SCHOOL_SOCIAL_MEDIA).withdrawn_on == date(2025, 2, 3)
    assert by_id["5004"].do_not_publish
    assert all(r.state is ConsentState.NOT_ASKED for r in by_id["5005"].consents.values())


def test_a_windows_1252_export_reads_accents_correctly() -> None:
    data = (DATA / "sims_export_windows1252.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parsed(data)
    assert result.encoding == "windows-1252"
    names = {e.pupil.pupil_id: (e.pupil.first_name, e.pupil.surname) for e in result.entries}
    assert names["A100000000004"] == ("Zoë", "O'Brien")
    assert names["A100000000006"] == ("José", "Fernández")


def test_the_same_rows_in_every_encoding_give_the_same_register() -> None:
    text = "\r\n".join([HEADER, "A1,Fernández,José,3B,Year 3,Granted,Refused,,Withdrawn 01/09/2024,Yes,No,No,"])
    results = [
        parsed(text.encode("utf-8")),
        parsed(codecs.BOM_UTF8 + text.encode("utf-8")),
        parsed(text.encode("cp1252")),
        parsed(text.encode("utf-16")),  # Excel's "Unicode text" (UTF-16 with a BOM)
    ]
    assert {r.encoding for r in results} == {"utf-8", "utf-8-sig", "windows-1252", "utf-16"}
    assert all(r.entries == results[0].entries for r in results)


def test_a_custom_layout_reads_with_its_mapping_file() -> None:
    mapping = ColumnMapping.from_json_file(DATA / "custom_mapping.json")
    result = parsed((DATA / "custom_layout.csv").read_bytes(), mapping)
    by_id = {e.pupil.pupil_id: e for e in result.entries}
    assert by_id["P-02"].consent_for(SCHOOL_SOCIAL_MEDIA).state is ConsentState.REFUSED
    assert by_id["P-01"].consent_for(VIDEO).state is ConsentState.GRANTED
    assert any("do-not-publish" in warning for warning in result.warnings)


def test_the_default_mapping_round_trips_through_json(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(DEFAULT_MAPPING.model_dump_json(indent=2), encoding="utf-8")
    assert ColumnMapping.from_json_file(path) == DEFAULT_MAPPING


# --- Rejections: all or nothing ------------------------------------------------------------------------


def test_malformed_rows_are_all_reported_with_their_line_numbers() -> None:
    errors = rejected((DATA / "malformed_rows.csv").read_bytes())
    assert errors == [
        "line 3: has 7 fields, the header has 13",
        "line 4, column 'Consent: School social media': unknown consent value 'Maybe' (expected granted, "
        "refused, not asked or withdrawn)",
        "line 5, column 'Consent: School social media': 'Withdrawn' needs the date, e.g. 'Withdrawn 14/01/2025'",
        "line 6, column 'Do Not Publish': unknown do-not-publish value 'Perhaps' (expected yes or no)",
        "line 7, column 'UPN': is empty",
        "line 8: pupil id 'B200000000001' is also on line 2: each pupil must appear once",
    ]


def test_missing_columns_are_named_with_what_would_be_accepted() -> None:
    errors = rejected((DATA / "missing_columns.csv").read_bytes())
    assert len(errors) == 2
    assert errors[0].startswith("line 1: missing column: first name (accepted: 'Forename'")
    assert errors[1].startswith("line 1: missing column: consent for the press (accepted: 'Consent: Press'")


def test_duplicate_pupils_differing_only_in_case_are_duplicates() -> None:
    errors = rejected(csv_bytes(ROW_OK, ROW_OK.replace("A1", "a1", 1)))
    assert errors == ["line 3: pupil id 'a1' is also on line 2: each pupil must appear once"]


def test_an_unterminated_quote_is_reported_on_its_line() -> None:
    errors = rejected(csv_bytes(ROW_OK, 'A2,"Smith,Oliver,4C,Year 4,Granted'))
    assert len(errors) == 1 and errors[0].startswith("line 3: the CSV is malformed here")


def test_quoted_fields_spanning_lines_keep_later_line_numbers_right() -> None:
    reason = '"Two\nline reason"'
    errors = rejected(csv_bytes(ROW_OK + reason, "A2,Smith,Oliver,4C,Year 4,Nope,,,,,,No,"))
    assert errors == [
        "line 4, column 'Consent: Display in school': unknown consent value 'Nope' (expected granted, refused, "
        "not asked or withdrawn)"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file: the file is empty"),
        (b"\r\n\r\n", "file: the file is empty"),
        (HEADER.encode() + b"\r\n", "file: the file has a header but no pupils"),
        (b"UPN\x00,S\x00", "NUL bytes"),
        (b"\x81\x8d" + HEADER.encode(), "neither UTF-8 nor Windows-1252"),
        (codecs.BOM_UTF8 + b"\xff\xfe" + HEADER.encode(), "is not valid utf-8-sig"),
    ],
)
def test_files_that_are_not_a_register_are_rejected(data: bytes, message: str) -> None:
    errors = rejected(data)
    assert len(errors) == 1 and message in errors[0]


def test_a_column_twice_is_rejected() -> None:
    errors = rejected(csv_bytes(ROW_OK + ",x", header=HEADER + ",Surname"))
    assert "line 1, column 'Surname': this column appears twice" in errors


def test_two_headers_for_one_field_are_rejected_not_guessed() -> None:
    errors = rejected(csv_bytes(ROW_OK + ",A1", header=HEADER + ",Pupil ID"))
    assert any("are both for pupil id" in error for error in errors)


def test_an_unreadable_withdrawal_date_is_an_error() -> None:
    errors = rejected(csv_bytes(ROW_OK.replace("Granted,Granted,No", "Withdrawn last spring,Granted,No")))
    assert errors == ["line 2, column 'Consent: Press': cannot read the date 'last spring' (use DD/MM/YYYY)"]


def test_a_withdrawal_without_date_can_be_allowed_by_the_mapping() -> None:
    mapping = DEFAULT_MAPPING.model_copy(update={"require_withdrawal_date": False})
    result = parsed(csv_bytes(ROW_OK.replace("Granted,Granted,No", "Withdrawn,Granted,No")), mapping)
    assert result.entries[0].consent_for(PRESS) == ConsentRecord(state=ConsentState.WITHDRAWN)


@pytest.mark.parametrize(
    ("value", "state", "withdrawn_on"),
    [
        ("Yes", ConsentState.GRANTED, None),
        (" granted ", ConsentState.GRANTED, None),
        ("N", ConsentState.REFUSED, None),
        ("Declined", ConsentState.REFUSED, None),
        ("", ConsentState.NOT_ASKED, None),
        ("No Response", ConsentState.NOT_ASKED, None),
        ("Withdrawn 14/01/2025", ConsentState.WITHDRAWN, date(2025, 1, 14)),
        ("withdrawn on 2025-01-14", ConsentState.WITHDRAWN, date(2025, 1, 14)),
        ("Withdrawn (14.01.2025)", ConsentState.WITHDRAWN, date(2025, 1, 14)),
        ("WITHDRAWN: 14/01/25", ConsentState.WITHDRAWN, date(2025, 1, 14)),
    ],
)
def test_consent_values(value: str, state: ConsentState, withdrawn_on: date | None) -> None:
    row = f'A1,Hughes,Amelia,3B,Year 3,"{value}",Granted,Granted,Granted,Granted,Granted,No,'
    record = parsed(csv_bytes(row)).entries[0].consent_for("display_in_school")
    assert record == ConsentRecord(state=state, withdrawn_on=withdrawn_on)


def test_the_do_not_publish_reason_is_never_repeated_in_an_error() -> None:
    row = "A1,Hughes,Amelia,3B,Year 3,Granted,Granted,Granted,Granted,Granted,Maybe,Yes,Secret placement detail"
    errors = rejected(csv_bytes(row))
    assert errors and not any("Secret" in error for error in errors)


def test_many_errors_are_capped_but_counted() -> None:
    rows = [f"A{i},Hughes,Amelia,3B,Year 3,Bad,Granted,Granted,Granted,Granted,Granted,No," for i in range(500)]
    result = parse_register_csv(csv_bytes(*rows))
    assert isinstance(result, ImportRejected)
    assert result.error_count == 500 and len(result.errors) == 200


def test_trailing_empty_fields_and_blank_lines_are_tolerated() -> None:
    result = parsed(csv_bytes(ROW_OK + ",,", "", "A2,Smith,Oliver,4C,Year 4,,,,,,,,"))
    assert [e.pupil.pupil_id for e in result.entries] == ["A1", "A2"]


def test_pupils_sharing_a_name_in_one_class_are_a_warning_not_an_error() -> None:
    result = parsed(csv_bytes(ROW_OK, ROW_OK.replace("A1", "A2", 1)))
    assert len(result.entries) == 2
    assert any("share a name" in warning for warning in result.warnings)
    assert not any("Amelia" in warning for warning in result.warnings)  # warnings name nobody


def test_a_purpose_the_school_does_not_record_is_a_warning_and_counts_as_no() -> None:
    purposes = {k: v for k, v in DEFAULT_MAPPING.purposes.items() if k != PRESS}
    mapping = DEFAULT_MAPPING.model_copy(update={"purposes": purposes})
    header = HEADER.replace(",Consent: Press", "")
    result = parsed(csv_bytes(ROW_OK.replace("Granted,Granted,No", "Granted,No"), header=header), mapping)
    assert result.entries[0].consent_for(PRESS).state is ConsentState.NOT_ASKED
    assert any("the press" in warning for warning in result.warnings)


def test_a_mapping_cannot_say_one_word_means_two_states() -> None:
    with pytest.raises(ValueError, match="both granted and refused"):
        ColumnMapping(refused_values=("no", "yes"))


def test_a_mapping_naming_an_unknown_purpose_is_rejected() -> None:
    mapping = DEFAULT_MAPPING.model_copy(update={"purposes": {**DEFAULT_MAPPING.purposes, "radio": ("Radio",)}})
    errors = rejected(csv_bytes(ROW_OK), mapping)
    assert errors == ["file: the column mapping names an unknown purpose 'radio'"]


def test_custom_purposes_from_configuration() -> None:
    config = ConsentPolicyConfig(purposes=(*DEFAULT_PURPOSES, *ConsentPolicyConfig.model_validate(
        {"purposes": [{"key": "yearbook", "title": "the yearbook"}], "destination_purposes": {}, "video_purpose": None}
    ).purposes))
    mapping = DEFAULT_MAPPING.model_copy(update={"purposes": {**DEFAULT_MAPPING.purposes, "yearbook": ("Yearbook",)}})
    result = parse_register_csv(csv_bytes(ROW_OK + ",Yes", header=HEADER + ",Yearbook"), mapping, config)
    assert isinstance(result, ParsedRegister)
    assert result.entries[0].consent_for("yearbook").state is ConsentState.GRANTED


def test_sample_mapping_file_is_valid_json_of_the_model() -> None:
    raw = json.loads((DATA / "custom_mapping.json").read_text(encoding="utf-8"))
    assert set(raw) <= set(ColumnMapping.model_fields)


# --- The size limit, kept while reading (issue 14) -------------------------------------------------------------


def test_a_register_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() -> None:
    data = csv_bytes(ROW_OK)
    pieces = [data[:50], data[50:]]
    assert read_within(pieces, len(data)) == data
    with pytest.raises(RegisterTooLarge) as refused:
        read_within(pieces, len(data) - 1)
    assert str(refused.value).startswith(f"it is larger than the {len(data) - 1} bytes a consent register may be")
    assert "nothing changed" in str(refused.value)


def test_no_piece_is_asked_for_after_the_one_that_passes_the_limit() -> None:
    asked: list[int] = []

    def endless() -> Iterator[bytes]:
        for number in itertools.count():
            asked.append(number)
            yield b"x" * 10

    with pytest.raises(RegisterTooLarge):
        read_within(endless(), 95)
    assert asked == list(range(10))  # 100 bytes: the tenth piece passed 95


@pytest.mark.parametrize(("size", "words"), [
    (20 * 1024 * 1024, "20 MB"), (1536 * 1024, "1.5 MB"), (64 * 1024, "64 KB"), (100, "100 bytes"),
])
def test_a_limit_is_said_in_words(size: int, words: str) -> None:
    assert size_in_words(size) == words
