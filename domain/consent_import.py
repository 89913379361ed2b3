"""Reading the consent register from an MIS export (CSV), all or nothing.

`parse_register_csv(data)` returns either a `ParsedRegister` (every row read) or an `ImportRejected`
(every problem, with its line number); never half a register. Storing it is `store.consent_store`'s job.

MIS exports differ (SIMS, Arbor and others name their columns differently, and per-purpose photo
consent is a school convention rather than a fixed MIS field), so the columns are found through a
`ColumnMapping`. The default accepts, case-insensitively, any of these headers:

=====================  ===================================================================================
field                  accepted headers (first found wins; two matches for one field is an error)
=====================  ===================================================================================
pupil id (required)    UPN, Pupil ID, Student ID, Admission Number, Adno, MIS ID, ID
first name (required)  Forename, Legal Forename, First Name, Legal First Name
surname (required)     Surname, Legal Surname, Last Name, Legal Last Name
class (required)       Reg Group, Registration Group, Registration Form, Form, Class, Tutor Group
year group             Year, Year Group, NC Year, National Curriculum Year
preferred first name   Preferred Forename, Preferred First Name, Known As
one per purpose        "Consent: <title>" or "<title>", e.g. "Consent: School social media", "Website"
do not publish         Do Not Publish, DNP, Do Not Publish Images
its reason             Do Not Publish Reason, DNP Reason
=====================  ===================================================================================

Consent values (case-insensitive): granted = Granted, Yes, Y, Given, Consent Given, Agreed, True, 1;
refused = Refused, No, N, Declined, Not Given, False, 0; not asked (counts as no) = empty, Not Asked,
Not Requested, Unknown, No Response, Not Returned, Pending; withdrawn = "Withdrawn <date>" with the date as
DD/MM/YYYY, YYYY-MM-DD, DD-MM-YYYY, DD.MM.YYYY or DD/MM/YY (e.g. "Withdrawn 14/01/2025"). Anything else
is an error on that line. A different layout is a JSON file of the `ColumnMapping` fields (see
`ColumnMapping`); `DEFAULT_MAPPING.model_dump_json(indent=2)` prints the default to start from.

Encodings: UTF-8, UTF-8 with a byte order mark (Excel's "CSV UTF-8"), UTF-16 with a byte order mark
(Excel's "Unicode text") and Windows-1252 (Excel's plain "CSV" on a UK PC) are detected.

Size: one limit for every way a register comes in (``POLICYBOT_CONSENT_CSV_MAX_BYTES``, default
`DEFAULT_MAX_REGISTER_BYTES`): a CSV sent in Teams, a file given to the command line, the SharePoint list (counted
as the CSV it is read as). Each reader counts the bytes as they arrive and stops at the limit (`read_within`), so
an oversized file is refused without being read whole.

Pure: no I/O but `ColumnMapping.from_json_file`. The command line that stores a register is
`python -m services.consent_import_cli`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.consent import (
    DEFAULT_CONFIG,
    DISPLAY_IN_SCHOOL,
    NEWSLETTER_PROSPECTUS,
    PRESS,
    SCHOOL_SOCIAL_MEDIA,
    SCHOOL_WEBSITE,
    VIDEO,
    ConsentPolicyConfig,
    ConsentRecord,
    ConsentState,
    Pupil,
    Purpose,
    RegisterEntry,
)

DEFAULT_MAX_REGISTER_BYTES = 20 * 1024 * 1024  # Teams' limit; a 50,000-pupil trust export is about 6 MB
MAX_ERRORS_REPORTED = 200  # beyond this the file is clearly the wrong one; the count is still given
_VALUE_SHOWN_CHARS = 40  # how much of a bad value an error message repeats


def _norm(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").casefold().split())


def size_in_words(size: int) -> str:
    """``20 MB``, ``64 KB``, ``100 bytes``: a size limit as a person reads it."""
    if size >= 1024 * 1024:
        return f"{round(size / (1024 * 1024), 2):g} MB"
    if size >= 1024:
        return f"{round(size / 1024, 2):g} KB"
    return f"{size:,} bytes"


class RegisterTooLarge(ValueError):
    """A register over the size limit; ``str()`` is a sentence fit to show whoever sent it (no data from it)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(
            f"it is larger than the {size_in_words(max_bytes)} a consent register may be "
            "(POLICYBOT_CONSENT_CSV_MAX_BYTES), so it was not read further and nothing changed"
        )


def read_within(chunks: Iterable[bytes], max_bytes: int) -> bytes:
    """The bytes of ``chunks`` joined, taken one chunk at a time: a chunk past the limit is the last one asked for.

    Raises:
        RegisterTooLarge: the chunks hold more than ``max_bytes``.
    """
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > max_bytes:
            raise RegisterTooLarge(max_bytes)
    return bytes(data)


class ColumnMapping(BaseModel):
    """Which CSV headers hold which field, and which words mean which consent state.

    Every header list is matched case-insensitively with spacing ignored. Purposes are keyed by the
    purpose keys of `ConsentPolicyConfig.purposes`; every purpose listed here must have a column in the file
    (remove a purpose from the mapping if the school does not record it: everyone then counts as no).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pupil_id: tuple[str, ...] = ("UPN", "Pupil ID", "Student ID", "Admission Number", "Adno", "MIS ID", "ID")
    first_name: tuple[str, ...] = ("Forename", "Legal Forename", "First Name", "Legal First Name")
    surname: tuple[str, ...] = ("Surname", "Legal Surname", "Last Name", "Legal Last Name")
    class_name: tuple[str, ...] = (
        "Reg Group", "Registration Group", "Registration Form", "Form", "Class", "Tutor Group",
    )
    year_group: tuple[str, ...] = ("Year", "Year Group", "NC Year", "National Curriculum Year")
    preferred_first_name: tuple[str, ...] = ("Preferred Forename", "Preferred First Name", "Known As")
    purposes: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            DISPLAY_IN_SCHOOL: ("Consent: Display in school", "Display in school", "Display"),
            SCHOOL_WEBSITE: ("Consent: Website", "Consent: School website", "Website", "School website"),
            SCHOOL_SOCIAL_MEDIA: ("Consent: School social media", "Consent: Social media", "School social media",
                                  "Social media"),
            NEWSLETTER_PROSPECTUS: ("Consent: Newsletter/prospectus", "Consent: Newsletter", "Newsletter/prospectus",
                                    "Newsletter", "Prospectus"),
            PRESS: ("Consent: Press", "Press", "Media/press", "Newspaper"),
            VIDEO: ("Consent: Video", "Video"),
        }
    )
    do_not_publish: tuple[str, ...] = ("Do Not Publish", "DNP", "Do Not Publish Images")
    do_not_publish_reason: tuple[str, ...] = ("Do Not Publish Reason", "DNP Reason")

    granted_values: tuple[str, ...] = ("granted", "yes", "y", "given", "consent given", "agreed", "true", "1")
    refused_values: tuple[str, ...] = ("refused", "no", "n", "declined", "not given", "false", "0")
    not_asked_values: tuple[str, ...] = (
        "", "not asked", "not requested", "unknown", "no response", "not returned", "pending",
    )
    withdrawn_word: str = "withdrawn"
    true_values: tuple[str, ...] = ("yes", "y", "true", "1", "x")
    false_values: tuple[str, ...] = ("", "no", "n", "false", "0")
    date_formats: tuple[str, ...] = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")
    require_withdrawal_date: bool = True
    delimiter: str = Field(default=",", min_length=1, max_length=1)

    @model_validator(mode="after")
    def _values_mean_one_thing(self) -> Self:
        groups = {
            "granted": self.granted_values,
            "refused": self.refused_values,
            "not asked": self.not_asked_values,
        }
        seen: dict[str, str] = {}
        for state, values in groups.items():
            for value in values:
                other = seen.setdefault(_norm(value), state)
                if other != state:
                    raise ValueError(f"consent value {value!r} is listed as both {other} and {state}")
        if _norm(self.withdrawn_word) in seen:
            raise ValueError("the withdrawn word is also listed as another consent value")
        if set(map(_norm, self.true_values)) & set(map(_norm, self.false_values)):
            raise ValueError("a do-not-publish value is listed as both true and false")
        return self

    @classmethod
    def from_json_file(cls, path: Path) -> ColumnMapping:
        """A mapping from a JSON file; fields left out keep their defaults."""
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8-sig")))


DEFAULT_MAPPING = ColumnMapping()


class ImportProblem(BaseModel):
    """Something that stops the import. `line` is the file's line number (the header is line 1)."""

    model_config = ConfigDict(frozen=True)

    line: int | None
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        column = f", column {self.column!r}" if self.column else ""
        return f"{where}{column}: {self.message}"


class ImportRejected(BaseModel):
    """The file was not imported; nothing changed. `errors` says why (at most MAX_ERRORS_REPORTED)."""

    model_config = ConfigDict(frozen=True)

    errors: tuple[ImportProblem, ...]
    error_count: int
    encoding: str | None = None

    @property
    def ok(self) -> bool:
        return False


class ParsedRegister(BaseModel):
    """Every pupil of the file, read without a single error, ready to replace the current register."""

    model_config = ConfigDict(frozen=True)

    entries: tuple[RegisterEntry, ...]
    purposes: tuple[Purpose, ...]
    encoding: str
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return True


ImportResult = ParsedRegister | ImportRejected


class _Rejected(Exception):
    def __init__(self, problem: ImportProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV export and the encoding it was in.

    Raises:
        _Rejected: the bytes are not UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252.
    """
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
    for bom, encoding in boms:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as error:
                line = _line_of(data, error.start) if encoding == "utf-8-sig" else None
                raise _Rejected(
                    ImportProblem(line=line, message=f"the file starts as {encoding} but is not valid {encoding}")
                ) from error
    if b"\x00" in data:
        raise _Rejected(
            ImportProblem(
                line=_line_of(data, data.index(b"\x00")),
                message="the file has NUL bytes: it is not a CSV text file (UTF-16 without a byte order mark?)",
            )
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as error:
        raise _Rejected(
            ImportProblem(
                line=_line_of(data, error.start),
                message=f"byte 0x{data[error.start]:02x} is neither UTF-8 nor Windows-1252: save the export "
                "as 'CSV UTF-8'",
            )
        ) from error


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the line it starts on; a broken quote is an error on its line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous_end = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _Rejected(
                ImportProblem(line=previous_end + 1, message=f"the CSV is malformed here ({error})")
            ) from error
        yield previous_end + 1, row
        previous_end = reader.line_num


class _Columns(BaseModel):
    index: dict[str, int]  # field → column position
    purposes: dict[str, int]
    names: list[str]


def _find_columns(
    header: Sequence[str], mapping: ColumnMapping, config: ConsentPolicyConfig
) -> tuple[_Columns, list[ImportProblem], list[str]]:
    positions: dict[str, list[int]] = {}
    problems: list[ImportProblem] = []
    warnings: list[str] = []
    for position, name in enumerate(header):
        key = _norm(name)
        if not key:
            continue
        if key in positions:
            problems.append(ImportProblem(line=1, column=name.strip(), message="this column appears twice"))
        positions.setdefault(key, []).append(position)

    def find(label: str, aliases: Sequence[str], required: bool) -> int | None:
        found = [(alias, positions[_norm(alias)][0]) for alias in aliases if _norm(alias) in positions]
        if len(found) > 1:
            names = " and ".join(repr(header[pos].strip()) for _, pos in found)
            message = f"columns {names} are both for {label}: keep one, or give a column mapping"
            problems.append(ImportProblem(line=1, message=message))
        if found:
            return found[0][1]
        if required:
            accepted = ", ".join(repr(alias) for alias in aliases)
            problems.append(ImportProblem(line=1, message=f"missing column: {label} (accepted: {accepted})"))
        return None

    index: dict[str, int] = {}
    for field, aliases, required in (
        ("pupil_id", mapping.pupil_id, True),
        ("first_name", mapping.first_name, True),
        ("surname", mapping.surname, True),
        ("class_name", mapping.class_name, True),
        ("year_group", mapping.year_group, False),
        ("preferred_first_name", mapping.preferred_first_name, False),
        ("do_not_publish", mapping.do_not_publish, False),
        ("do_not_publish_reason", mapping.do_not_publish_reason, False),
    ):
        found = find(field.replace("_", " "), aliases, required)
        if found is not None:
            index[field] = found
    known = {purpose.key for purpose in config.purposes}
    purposes: dict[str, int] = {}
    for key, aliases in mapping.purposes.items():
        if key not in known:
            if mapping == DEFAULT_MAPPING:  # the default names every default purpose; a school may use fewer
                continue
            problems.append(ImportProblem(line=None, message=f"the column mapping names an unknown purpose {key!r}"))
            continue
        found = find(f"consent for {config.purpose(key).title}", aliases, True)
        if found is not None:
            purposes[key] = found
    for purpose in config.purposes:
        if purpose.key not in mapping.purposes:
            warnings.append(f"no column is mapped for {purpose.title}: every pupil counts as no consent for it")
    if "do_not_publish" not in index:
        warnings.append("no do-not-publish column: nobody is on the do-not-publish list from this file")
    return _Columns(index=index, purposes=purposes, names=[name.strip() for name in header]), problems, warnings


class _ValueReader:
    def __init__(self, mapping: ColumnMapping) -> None:
        self.mapping = mapping
        self.states: dict[str, ConsentState] = {}
        for values, state in (
            (mapping.granted_values, ConsentState.GRANTED),
            (mapping.refused_values, ConsentState.REFUSED),
            (mapping.not_asked_values, ConsentState.NOT_ASKED),
        ):
            for value in values:
                self.states[_norm(value)] = state
        self.withdrawn = _norm(mapping.withdrawn_word)
        self.true = {_norm(value) for value in mapping.true_values}
        self.false = {_norm(value) for value in mapping.false_values}
        self._read: dict[str, ConsentRecord] = {}  # records are immutable: one per distinct cell text

    def consent(self, raw: str) -> ConsentRecord:
        record = self._read.get(raw)
        if record is None:
            record = self._read[raw] = self._consent(raw)
        return record

    def _consent(self, raw: str) -> ConsentRecord:
        value = _norm(raw)
        state = self.states.get(value)
        if state is not None:
            return ConsentRecord(state=state)
        if value.startswith(self.withdrawn):
            rest = value[len(self.withdrawn) :].strip(" :-()")
            if rest.startswith("on "):
                rest = rest[3:].strip()
            if not rest:
                if self.mapping.require_withdrawal_date:
                    raise ValueError(f"{raw.strip()!r} needs the date, e.g. 'Withdrawn 14/01/2025'")
                return ConsentRecord(state=ConsentState.WITHDRAWN)
            return ConsentRecord(state=ConsentState.WITHDRAWN, withdrawn_on=self.date(rest))
        shown = raw.strip()[:_VALUE_SHOWN_CHARS]
        raise ValueError(f"unknown consent value {shown!r} (expected granted, refused, not asked or withdrawn)")

    def date(self, raw: str) -> date:
        for fmt in self.mapping.date_formats:
            try:
                return datetime.strptime(raw, fmt).date()
            except ValueError:
                continue
        raise ValueError(f"cannot read the date {raw[:_VALUE_SHOWN_CHARS]!r} (use DD/MM/YYYY)")

    def flag(self, raw: str) -> bool:
        value = _norm(raw)
        if value in self.true:
            return True
        if value in self.false:
            return False
        raise ValueError(f"unknown do-not-publish value {raw.strip()[:_VALUE_SHOWN_CHARS]!r} (expected yes or no)")


def _read_row(
    line: int, row: list[str], columns: _Columns, values: _ValueReader, problems: list[ImportProblem]
) -> RegisterEntry | None:
    width = len(columns.names)
    if len(row) < width or any(cell.strip() for cell in row[width:]):
        problems.append(ImportProblem(line=line, message=f"has {len(row)} fields, the header has {width}"))
        return None
    before = len(problems)

    def cell(field: str) -> str:
        position = columns.index.get(field)
        return "" if position is None else row[position].strip()

    for field in ("pupil_id", "first_name", "surname"):
        if not cell(field):
            problems.append(ImportProblem(line=line, column=columns.names[columns.index[field]], message="is empty"))
    consents: dict[str, ConsentRecord] = {}
    for key, position in columns.purposes.items():
        try:
            consents[key] = values.consent(row[position])
        except ValueError as error:
            problems.append(ImportProblem(line=line, column=columns.names[position], message=str(error)))
    do_not_publish = False
    if "do_not_publish" in columns.index:
        try:
            do_not_publish = values.flag(cell("do_not_publish"))
        except ValueError as error:
            column = columns.names[columns.index["do_not_publish"]]
            problems.append(ImportProblem(line=line, column=column, message=str(error)))
    if len(problems) > before:
        return None
    try:
        pupil = Pupil(
            pupil_id=cell("pupil_id"),
            first_name=cell("first_name"),
            surname=cell("surname"),
            class_name=cell("class_name"),
            year_group=cell("year_group"),
            preferred_first_name=cell("preferred_first_name") or None,
        )
        return RegisterEntry(
            pupil=pupil,
            consents=consents,
            do_not_publish=do_not_publish,
            do_not_publish_reason=cell("do_not_publish_reason") or None,
        )
    except ValidationError as error:  # a value too long for the register
        fields = ", ".join(sorted({str(detail["loc"][-1]) for detail in error.errors()}))
        problems.append(ImportProblem(line=line, message=f"a value is too long or invalid ({fields})"))
        return None


def parse_register_csv(
    data: bytes, mapping: ColumnMapping = DEFAULT_MAPPING, config: ConsentPolicyConfig = DEFAULT_CONFIG
) -> ImportResult:
    """Read a whole MIS export: a `ParsedRegister`, or an `ImportRejected` listing every problem.

    Problems that reject the file: an unreadable encoding, a malformed CSV, a missing or doubled column,
    a row with the wrong number of fields, an empty id or name, an unknown consent or do-not-publish value,
    a withdrawal without a readable date, the same pupil id twice, or no pupils at all.

    The size limit is the reader's to keep (`read_within`), before the bytes are all in memory.
    """
    encoding: str | None = None
    problems: list[ImportProblem] = []
    warnings: list[str] = []
    entries: list[RegisterEntry] = []
    try:
        text, encoding = decode(data)
        records = _records(text, mapping.delimiter)
        header: list[str] | None = None
        for _, row in records:
            if any(cell.strip() for cell in row):
                header = row
                break
        if header is None:
            return _rejected([ImportProblem(line=None, message="the file is empty")], encoding)
        columns, problems, warnings = _find_columns(header, mapping, config)
        if problems:
            return _rejected(problems, encoding)
        values = _ValueReader(mapping)
        first_seen: dict[str, int] = {}
        for line, row in records:
            if not any(cell.strip() for cell in row):
                continue  # blank lines (Excel leaves some at the end)
            entry = _read_row(line, row, columns, values, problems)
            if entry is None:
                continue
            key = entry.pupil.pupil_id.casefold()
            if key in first_seen:
                problems.append(
                    ImportProblem(line=line, message=f"pupil id {entry.pupil.pupil_id!r} is also on line "
                                  f"{first_seen[key]}: each pupil must appear once")
                )
                continue
            first_seen[key] = line
            entries.append(entry)
    except _Rejected as rejected:
        problems.append(rejected.problem)
    if problems:
        return _rejected(problems, encoding)
    if not entries:
        return _rejected([ImportProblem(line=None, message="the file has a header but no pupils")], encoding)
    assert encoding is not None
    return ParsedRegister(
        entries=tuple(entries),
        purposes=config.purposes,
        encoding=encoding,
        warnings=tuple(warnings + _same_name_warnings(entries)),
    )


def _same_name_warnings(entries: Sequence[RegisterEntry]) -> list[str]:
    seen: dict[tuple[str, str, str], int] = {}
    for entry in entries:
        pupil = entry.pupil
        key = (_norm(pupil.first_name), _norm(pupil.surname), _norm(pupil.class_name))
        seen[key] = seen.get(key, 0) + 1
    return [
        f"{count} pupils in class {key[2] or '(none)'} share a name: staff will choose between them by pupil id"
        for key, count in seen.items()
        if count > 1
    ]


def _rejected(problems: list[ImportProblem], encoding: str | None = None) -> ImportRejected:
    ordered = sorted(problems, key=lambda p: (p.line is not None, p.line or 0))
    return ImportRejected(errors=tuple(ordered[:MAX_ERRORS_REPORTED]), error_count=len(problems), encoding=encoding)

