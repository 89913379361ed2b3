"""Reading the consent register from a SharePoint list's items, all or nothing (issue 7).

The list is the MIS export's twin: one item per pupil, one column per field, the columns named as the CSV's
headers (the same `ColumnMapping`: "UPN", "Forename", "Surname", "Reg Group", "Consent: Website", ... , "Do Not
Publish"), and the same values ("Granted", "Refused", "Not asked", "Withdrawn 14/01/2025", "Yes"/"No"). So the
rules are the CSV's: the items are laid out as rows under the columns' names and read by
`domain.consent_import.parse_register_csv`, and every problem it finds is given back naming the list item (its
SharePoint id) and its row (its place in the list, from 1) instead of a line of a file. One unreadable item
rejects the whole list: nothing changes until every item can be read.

What a column holds arrives as JSON from Graph: text and choice columns as text, Yes/No columns as true/false
(read as "Yes"/"No"), number columns as numbers (7.0 reads as "7"), date columns as dates (written in the
mapping's first date format). A column holding several values (multiple choice) or a lookup or person column
cannot be read: the item is reported.

Only the list's own columns whose name (display name, or internal name) is one of the mapping's headers are read;
SharePoint's built-in columns (ID, Created, Modified, ...: read-only or hidden) never are, so SharePoint's "ID"
is not mistaken for the pupil id.

No Graph here: `store.consent_sharepoint` reads the list and hands over `ListColumn`s and `ListItem`s.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.calendar import SchoolCalendar
from domain.consent import DEFAULT_CONFIG, ConsentPolicyConfig
from domain.consent_import import (
    DEFAULT_MAPPING,
    MAX_ERRORS_REPORTED,
    ColumnMapping,
    ImportProblem,
    ImportRejected,
    ParsedRegister,
    parse_register_csv,
)

SHAREPOINT_ENCODING = "sharepoint"  # what a register version records as its "encoding"
MAX_LIST_ITEMS = 100_000  # twice a large trust; beyond this it is not the consent list
_HEADER_LINE = 1
_FIRST_ROW_LINE = 2  # the rows follow the header, one line each
_VALUE_SHOWN_CHARS = 40


def _norm(text: str) -> str:
    """Header matching as the CSV does it: case and spacing ignored."""
    return " ".join(text.replace("\ufeff", "").casefold().split())


class ListColumn(BaseModel):
    """A column of the SharePoint list (Graph's `columnDefinition`)."""

    model_config = ConfigDict(frozen=True)

    name: str  # the internal name: the key of the item's fields (e.g. "Consent_x003a__x0020_Website")
    display_name: str  # what the school sees in SharePoint (e.g. "Consent: Website")
    read_only: bool = False
    hidden: bool = False


class ListItem(BaseModel):
    """One item of the list: its SharePoint id and its fields keyed by column internal name."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    fields: dict[str, Any]


class ListProblem(BaseModel):
    """Something that stops the list being read. `item_id`/`row` are None for a problem with the list itself."""

    model_config = ConfigDict(frozen=True)

    item_id: str | None
    row: int | None
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"item {self.item_id} (row {self.row})" if self.item_id is not None else "the list"
        column = f", column {self.column!r}" if self.column else ""
        return f"{where}{column}: {self.message}"


class ListRejected(BaseModel):
    """The list was not imported; nothing changed. `problems` says why (at most MAX_ERRORS_REPORTED)."""

    model_config = ConfigDict(frozen=True)

    problems: tuple[ListProblem, ...]
    problem_count: int
    item_count: int

    @property
    def ok(self) -> bool:
        return False


ListReadResult = ParsedRegister | ListRejected


def _headers(mapping: ColumnMapping) -> set[str]:
    names: list[str] = [
        *mapping.pupil_id, *mapping.first_name, *mapping.surname, *mapping.class_name, *mapping.year_group,
        *mapping.preferred_first_name, *mapping.do_not_publish, *mapping.do_not_publish_reason,
    ]
    for aliases in mapping.purposes.values():
        names.extend(aliases)
    return {_norm(name) for name in names}


def columns_to_read(columns: Iterable[ListColumn], mapping: ColumnMapping = DEFAULT_MAPPING) -> list[ListColumn]:
    """The list's own columns the mapping names (by display name or internal name), in the list's order."""
    wanted = _headers(mapping)
    return [
        column
        for column in columns
        if not column.read_only
        and not column.hidden
        and (_norm(column.display_name) in wanted or _norm(column.name) in wanted)
    ]


def _header_of(column: ListColumn, wanted: set[str]) -> str:
    return column.display_name if _norm(column.display_name) in wanted else column.name


class UnreadableValue(ValueError):
    """A field's value is not one a CSV cell could hold (several values, a lookup)."""


def cell_text(value: object, calendar: SchoolCalendar, mapping: ColumnMapping = DEFAULT_MAPPING) -> str:
    """A field's JSON value as the text a CSV cell would hold.

    A date column arrives as a moment (SharePoint sends UTC midnight of the school's day): its school date is
    written, in the school's time zone (``calendar``).

    Raises:
        UnreadableValue: several values (multiple choice) or a lookup/person value.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, datetime):
        day = value.date() if value.tzinfo is None else calendar.school_date(value)
        return day.strftime(mapping.date_formats[0])
    if isinstance(value, date):
        return value.strftime(mapping.date_formats[0])
    if isinstance(value, list | tuple):
        raise UnreadableValue("holds several values: make it a single choice or text column")
    if isinstance(value, dict):
        raise UnreadableValue("is a lookup or person column: make it a text or choice column")
    # Text; newlines (a multi-line text column) read as spaces, as the CSV would after trimming cells.
    return " ".join(str(value).replace("\x00", " ").splitlines())


def parse_list_items(
    columns: Sequence[ListColumn],
    items: Sequence[ListItem],
    mapping: ColumnMapping = DEFAULT_MAPPING,
    config: ConsentPolicyConfig = DEFAULT_CONFIG,
    *,
    calendar: SchoolCalendar,
) -> ListReadResult:
    """Read every item of the list: a `ParsedRegister` (encoding "sharepoint"), or a `ListRejected`.

    `columns` are the list's columns (all of them: the ones to read are chosen here); `items` in the list's
    order; `calendar` reads date columns as school dates. Problems that reject the list are the CSV's (a missing
    or doubled column, an empty id or name, an unknown consent or do-not-publish value, a withdrawal without a
    readable date, a value too long), plus: the same pupil id in two items, a value that is not text, no items,
    or too many.
    """
    if len(items) > MAX_LIST_ITEMS:
        return _rejected([ListProblem(item_id=None, row=None, message=f"the list has over {MAX_LIST_ITEMS:,} items: "
                                      "is it the consent register?")], len(items))
    chosen = columns_to_read(columns, mapping)
    if not chosen:
        return _rejected([ListProblem(
            item_id=None, row=None,
            message="none of its columns has a name the consent register uses (e.g. UPN, Forename, Surname, Reg "
                    "Group, Consent: Website, Do Not Publish): rename the columns, or give a column mapping",
        )], len(items))
    if not items:
        return _rejected([ListProblem(item_id=None, row=None, message="the list has no items (no pupils)")], 0)
    wanted = _headers(mapping)
    headers = [_header_of(column, wanted) for column in chosen]
    problems: list[ListProblem] = []
    rows: list[list[str]] = []
    row_items: list[tuple[str, int]] = []  # (item id, row) of each CSV row, in order
    first_seen: dict[str, tuple[str, int]] = {}
    id_aliases = {_norm(alias) for alias in mapping.pupil_id}
    id_positions = [position for position, header in enumerate(headers) if _norm(header) in id_aliases]
    for row, item in enumerate(items, 1):
        cells: list[str] = []
        unreadable = False
        for column, header in zip(chosen, headers, strict=True):
            try:
                cells.append(cell_text(item.fields.get(column.name), calendar, mapping))
            except UnreadableValue as error:
                problems.append(ListProblem(item_id=item.item_id, row=row, column=header, message=str(error)))
                unreadable = True
        if unreadable:
            continue
        if len(id_positions) == 1:  # two id columns are the CSV parser's to report
            pupil_id = cells[id_positions[0]].strip()
            if pupil_id:
                earlier = first_seen.setdefault(pupil_id.casefold(), (item.item_id, row))
                if earlier != (item.item_id, row):
                    problems.append(ListProblem(
                        item_id=item.item_id, row=row,
                        message=f"pupil id {pupil_id[:_VALUE_SHOWN_CHARS]!r} is also in item {earlier[0]} (row "
                                f"{earlier[1]}): each pupil must appear once",
                    ))
                    continue
        rows.append(cells)
        row_items.append((item.item_id, row))
    parsed = parse_register_csv(_as_csv(headers, rows, mapping.delimiter), mapping, config)
    if isinstance(parsed, ImportRejected):
        problems.extend(_list_problem(problem, row_items) for problem in parsed.errors)
        extra = parsed.error_count - len(parsed.errors)
        return _rejected(problems, len(items), extra)
    if problems:
        return _rejected(problems, len(items))
    return parsed.model_copy(update={"encoding": SHAREPOINT_ENCODING})


class ListSize:
    """The bytes of the CSV text the list is read as (`parse_list_items` lays its items out as one), counted item by
    item as they arrive: the register size limit (``POLICYBOT_CONSENT_CSV_MAX_BYTES``) means the same for the list as
    for a file, and a reader can stop at it before asking for the next page.

    An item with a value no cell can hold counts as empty there (it will be reported, not imported).
    """

    def __init__(self, columns: Sequence[ListColumn], calendar: SchoolCalendar,
                 mapping: ColumnMapping = DEFAULT_MAPPING) -> None:
        wanted = _headers(mapping)
        self._chosen = columns_to_read(columns, mapping)
        self._calendar = calendar
        self._mapping = mapping
        self.bytes = _csv_line_bytes([_header_of(column, wanted) for column in self._chosen], mapping.delimiter)

    def add(self, item: ListItem) -> int:
        """Count ``item``'s row; the total so far."""
        cells: list[str] = []
        for column in self._chosen:
            try:
                cells.append(cell_text(item.fields.get(column.name), self._calendar, self._mapping))
            except UnreadableValue:
                cells.append("")
        self.bytes += _csv_line_bytes(cells, self._mapping.delimiter)
        return self.bytes


def _csv_line_bytes(row: Sequence[str], delimiter: str) -> int:
    text = io.StringIO(newline="")
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerow(row)
    return len(text.getvalue().encode("utf-8"))


def _as_csv(headers: Sequence[str], rows: Iterable[Sequence[str]], delimiter: str) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _list_problem(problem: ImportProblem, row_items: Sequence[tuple[str, int]]) -> ListProblem:
    """A CSV problem said of the list: line 1 is the columns, line n is the (n-1)th item laid out."""
    if problem.line is None or problem.line < _FIRST_ROW_LINE or problem.line - _FIRST_ROW_LINE >= len(row_items):
        return ListProblem(item_id=None, row=None, column=problem.column, message=problem.message)
    item_id, row = row_items[problem.line - _FIRST_ROW_LINE]
    return ListProblem(item_id=item_id, row=row, column=problem.column, message=problem.message)


def _rejected(problems: list[ListProblem], item_count: int, unreported: int = 0) -> ListRejected:
    ordered = sorted(problems, key=lambda p: (p.row is not None, p.row or 0))
    return ListRejected(problems=tuple(ordered[:MAX_ERRORS_REPORTED]), problem_count=len(problems) + unreported,
                        item_count=item_count)


def register_fingerprint(parsed: ParsedRegister) -> str:
    """A digest of what the register says (pupils, consents, purposes), the same whatever the items' order.

    Two reads of an unchanged list give the same fingerprint, so the sync can tell there is nothing to import.
    """
    entries = sorted(
        (entry.model_dump(mode="json") for entry in parsed.entries), key=lambda entry: entry["pupil"]["pupil_id"]
    )
    purposes = [purpose.model_dump(mode="json") for purpose in parsed.purposes]
    canonical = json.dumps({"entries": entries, "purposes": purposes}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

