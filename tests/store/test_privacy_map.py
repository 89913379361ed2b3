"""docs/privacy.md is the DPO's data map: every table the bot keeps is in it, and every kind of the retention
schedule is there with its default period and its source."""

from __future__ import annotations

import re
from pathlib import Path

import store.models  # noqa: F401 - every table module, so the metadata knows them all
from domain.retention import DEFAULT_RULES, Disposal
from store.base import Base

PRIVACY = (Path(__file__).resolve().parents[2] / "docs" / "privacy.md").read_text(encoding="utf-8")
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    return PRIVACY.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


SCHEDULE = _section("The retention schedule")
DATA_MAP = _section("Every table, field by field")


def _row_of(section: str, first_cell: str) -> str:
    """The row of a table in ``section`` whose first cell is ``first_cell`` (in backticks)."""
    found = [line for line in section.splitlines() if line.startswith(f"| `{first_cell}` |")]
    assert len(found) == 1, f"{first_cell} is not in docs/privacy.md (once)"
    return found[0]


def test_every_table_and_every_field_is_in_the_data_map() -> None:
    for table in Base.metadata.sorted_tables:
        row = _row_of(DATA_MAP, table.name)
        fields = row.split("|")[2]
        missing = [c.name for c in table.columns if c.name != "id" and not re.search(rf"\b{c.name}\b", fields)]
        assert not missing, f"{table.name}: fields {missing} are not in docs/privacy.md"


def test_every_kind_of_the_schedule_is_there_with_its_period_and_source() -> None:
    for rule in DEFAULT_RULES:
        assert rule.source.strip()
        row = _row_of(SCHEDULE, rule.kind.value)
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert len(cells) == 6, rule.kind
        if rule.period is not None:
            assert cells[2].startswith(str(rule.period)), (rule.kind, cells[2], str(rule.period))
        source = cells[5]
        for named in ("IRMS Information Management Toolkit for Schools", "KCSIE", "UK GDPR", "Limitation Act 1980"):
            if rule.source.startswith(named) or f"; {named}" in rule.source or f"({named})" in rule.source:
                assert named in source, (rule.kind, named)
        if rule.source.startswith("The school's choice"):
            assert "the school's choice" in source.lower(), rule.kind
        if rule.disposal is Disposal.FLAG:
            assert "never deleted" in cells[4], rule.kind


def test_the_readme_links_the_data_map() -> None:
    assert "(docs/privacy.md)" in README
