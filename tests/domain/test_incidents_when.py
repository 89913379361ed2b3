"""When it happened (issue 15, gap 6): the reporter's words kept as typed, the date read in the school's time zone
relative to the moment of the report, never in the future."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.calendar import SchoolCalendar
from domain.incidents import Category, ReportDetails, WhenInFuture, date_from_words, settle_when

LONDON = SchoolCalendar()  # Europe/London
SUNDAY_0159_GMT = datetime(2026, 11, 29, 1, 59, tzinfo=UTC)  # 01:59 on Sunday 29 November in London (GMT)
SUNDAY_0159_BST = datetime(2026, 6, 7, 0, 59, tzinfo=UTC)  # 01:59 on Sunday 7 June in London (BST, UTC+1)
SUNDAY_0030_BST = datetime(2026, 6, 6, 23, 30, tzinfo=UTC)  # 00:30 Sunday in London, still Saturday in UTC


@pytest.mark.parametrize(("now", "saturday"), [(SUNDAY_0159_GMT, date(2026, 11, 28)),
                                               (SUNDAY_0159_BST, date(2026, 6, 6)),
                                               (SUNDAY_0030_BST, date(2026, 6, 6))])
@pytest.mark.parametrize("words", ["last night about 9pm", "Last night", "yesterday evening", "about 9pm",
                                   "around 21:30", "9.15pm on the parents' group", "tonight about 11pm",
                                   "Saturday", "1 day ago", "yesterday at 10am"])
def test_at_0159_on_a_sunday_the_evening_before_is_saturday(now: datetime, saturday: date, words: str) -> None:
    assert date_from_words(words, now, LONDON) == saturday


@pytest.mark.parametrize("now", [SUNDAY_0159_GMT, SUNDAY_0159_BST])
@pytest.mark.parametrize(("words", "back"), [("this morning", 0), ("just now", 0), ("about 1am", 0),
                                             ("last night about 1.30am", 0), ("3 days ago", 3), ("on Friday", 2),
                                             ("two days ago", 2), ("no idea", None), ("2 pupils saw it", None)])
def test_other_phrases_staff_use(now: datetime, words: str, back: int | None) -> None:
    today = LONDON.school_date(now)
    found = date_from_words(words, now, LONDON)
    assert found == (None if back is None else date.fromordinal(today.toordinal() - back))


def _details(**when: object) -> ReportDetails:
    return ReportDetails(category=Category.NEGATIVE_COMMENT, what_happened="A nasty post.", **when)  # type: ignore[arg-type]


def test_the_words_are_kept_as_typed_and_the_date_read_from_them() -> None:
    settled = settle_when(_details(when_detail="last night about 9pm"), SUNDAY_0159_GMT, LONDON)
    assert settled.when_detail == "last night about 9pm" and settled.when_date == date(2026, 11, 28)


def test_a_date_chosen_is_kept_and_a_future_one_refused_clearly() -> None:
    kept = settle_when(_details(when_date="2026-11-27", when_detail="about 9pm"), SUNDAY_0159_GMT, LONDON)
    assert kept.when_date == date(2026, 11, 27)
    assert settle_when(_details(when_date="2026-11-29"), SUNDAY_0159_GMT, LONDON).when_date == date(2026, 11, 29)
    with pytest.raises(WhenInFuture, match=r"\(Mon 30 Nov 2026\) is in the future: today is Sun 29 Nov 2026"):
        settle_when(_details(when_date="2026-11-30"), SUNDAY_0159_GMT, LONDON)
    with pytest.raises(WhenInFuture):  # 00:30 BST on Sunday: Sunday is today in London, Monday is not
        settle_when(_details(when_date="2026-06-08"), SUNDAY_0030_BST, LONDON)
    assert settle_when(_details(when_date="2026-06-07"), SUNDAY_0030_BST, LONDON).when_date == date(2026, 6, 7)
