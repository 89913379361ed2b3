"""The dashboard's rules (issue 18): the school's terms and periods, and small-number suppression, written down in
``domain/dashboard.py`` and checked here on small tables counted by hand."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from domain.dashboard import (
    FEWER,
    Group,
    PeriodChoice,
    SchoolTerms,
    change_line,
    median_text,
    parse_term_starts,
    suppressed,
)


def test_terms_and_periods_in_the_schools_time_zone() -> None:
    terms = SchoolTerms()
    december = datetime(2026, 12, 6, 10, tzinfo=UTC)
    this = terms.period(PeriodChoice.THIS_TERM, december)
    assert (this.title, this.start, this.end) == ("Autumn term 2026", datetime(2026, 8, 31, 23, tzinfo=UTC), december)
    assert [m for m, _, _ in this.months] == ["Sep 2026", "Oct 2026", "Nov 2026", "Dec 2026"]
    assert this.months[1][1] == datetime(2026, 9, 30, 23, tzinfo=UTC)  # 1 October, British Summer Time
    last = terms.period(PeriodChoice.LAST_TERM, december)
    assert (last.title, last.start, last.end) == ("Summer term 2026", datetime(2026, 4, 14, 23, tzinfo=UTC),
                                                  datetime(2026, 8, 31, 23, tzinfo=UTC))
    february = datetime(2027, 2, 10, tzinfo=UTC)
    assert terms.period(PeriodChoice.THIS_TERM, february).title == "Spring term 2027"
    assert terms.period(PeriodChoice.LAST_TERM, february).title == "Autumn term 2026"
    year = terms.period(PeriodChoice.SCHOOL_YEAR, february)
    assert (year.title, year.start) == ("School year 2026-27", datetime(2026, 8, 31, 23, tzinfo=UTC))
    assert len(year.months) == 6  # September to February
    assert terms.term_before(terms.period(PeriodChoice.THIS_TERM, february)).title == "Autumn term 2026"


@pytest.mark.parametrize("text", ["09-01,01-01", "13-01,01-01,04-15", "09-01,04-15,01-01", "x,y,z"])
def test_term_starts_that_cannot_be_read_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_term_starts(text)


def test_counts_from_1_to_4_are_hidden_zero_and_5_are_shown() -> None:
    assert suppressed({"a": 0, "b": 1, "c": 4, "d": 5, "e": 40}) == {"b", "c"}


def test_one_hidden_count_in_a_group_with_a_shown_total_hides_the_next_smallest() -> None:
    counts = {"a": 3, "b": 6, "c": 9, "total": 18}
    hidden = suppressed(counts, [Group(("a", "b", "c"), "total")])
    assert hidden == {"a", "b"}  # 18 - 9 = 9 = a + b: neither can be told


def test_a_lone_small_count_hides_the_total() -> None:
    counts = {"a": 3, "b": 0, "total": 3}
    assert suppressed(counts, [Group(("a", "b"), "total")]) == {"a", "total"}
    counts = {"a": 2, "b": 0, "total": 2}
    assert suppressed(counts, [Group(("a", "b"), "total")]) == {"a", "total"}


def test_a_hidden_total_whose_counts_are_all_shown_hides_one_of_them() -> None:
    # a row total hidden by another group must not be the sum of its shown cells
    counts = {"x1": 5, "x2": 0, "x": 5, "y": 2, "all": 7}
    groups = [Group(("x", "y"), "all"), Group(("x1", "x2"), "x")]
    hidden = suppressed(counts, groups)
    assert {"y", "x", "x1"} <= hidden


def _derivable(counts: dict[str, int], groups: list[Group], hidden: frozenset[str]) -> bool:
    """Whether any hidden count follows from one group's shown counts and shown total."""
    for group in groups:
        unknown = [m for m in [*group.members, group.total] if m in hidden]
        if len(unknown) == 1:
            return True
    return False


@pytest.mark.parametrize("cells", list(itertools.product((0, 1, 3, 5, 8), repeat=4)))
def test_no_hidden_count_follows_by_subtraction_in_a_two_by_two_table(cells: tuple[int, ...]) -> None:
    a, b, c, d = cells
    counts = {"a": a, "b": b, "c": c, "d": d, "r1": a + b, "r2": c + d, "k1": a + c, "k2": b + d,
              "t": a + b + c + d}
    groups = [Group(("a", "b"), "r1"), Group(("c", "d"), "r2"), Group(("a", "c"), "k1"), Group(("b", "d"), "k2"),
              Group(("r1", "r2"), "t"), Group(("k1", "k2"), "t")]
    hidden = suppressed(counts, groups)
    assert all(k in hidden for k, v in counts.items() if 0 < v < 5)
    assert not _derivable(counts, groups, hidden), (counts, sorted(hidden))


def test_medians_and_the_summary_lines() -> None:
    assert median_text(600, 3) == f"{FEWER} records" and median_text(None, 0) == "no records"
    assert median_text(6600, 7) == "1.8 h" and median_text(900, 5) == "15 min"
    assert change_line("Reports", 12, 8, False, False) == "Reports: 12 this term, 8 last term (+4)"
    assert change_line("Reports", 5, 9, False, False) == "Reports: 5 this term, 9 last term (-4)"
