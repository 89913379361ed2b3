"""The school calendar: time zone, school days and school hours, and what reads them (pure; no database).

Dates used: 2026-11-24 is a Tuesday. London changes to BST on Sunday 29 March 2026 and back to GMT on Sunday
25 October 2026. Auckland is UTC+13 (NZDT) in November.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.settings import Settings, SettingsError
from cards.approvals import RequestSummary, status_card, when
from cards.consent_admin import VersionView, consent_register_card
from cards.incidents import Routed, receipt_card, school_time
from domain.approvals import ApprovalKind, ApprovalRecord, ApprovalState, Delegation, delegation_window, reminder_due
from domain.calendar import SchoolCalendar, parse_weekdays
from domain.consent_sharepoint import cell_text
from domain.incidents import ROUTING, Category, Urgency, reference_year
from tests.support.cardtext import card_texts

LONDON = SchoolCalendar()
ZONES = ("Europe/London", "Pacific/Auckland", "America/New_York", "Asia/Kolkata")


def london(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Europe/London"))


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def calendar_from(**environment: str) -> SchoolCalendar:
    """The calendar the app builds from these settings (as ``create_app`` does)."""
    return Settings(_env_file=None, **environment).school_calendar()  # type: ignore[call-arg]


AUCKLAND = calendar_from(school_timezone="Pacific/Auckland")


# --- built from the settings ---------------------------------------------------------------------------------


def test_the_default_settings_give_london_monday_to_friday_eight_to_five() -> None:
    built = calendar_from()
    assert built == LONDON
    assert built.timezone_name == "Europe/London"
    assert (built.day_starts, built.day_ends, built.weekdays) == (time(8, 0), time(17, 0), frozenset(range(5)))


def test_every_school_setting_is_read() -> None:
    built = calendar_from(school_timezone="Asia/Kolkata", school_days="Mon, tue,WEDNESDAY,thurs,fri,sat",
                          school_day_start="07:45", school_day_end="15:30")
    assert built.timezone_name == "Asia/Kolkata"
    assert built.weekdays == frozenset(range(6))
    assert (built.day_starts, built.day_ends) == (time(7, 45), time(15, 30))
    assert calendar_from(school_day_start="", school_day_end="") == LONDON  # empty: the defaults


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"school_timezone": "Europe/Lundon"}, "POLICYBOT_SCHOOL_TIMEZONE"),
        ({"school_timezone": ""}, "POLICYBOT_SCHOOL_TIMEZONE"),
        ({"school_timezone": "../../etc/passwd"}, "POLICYBOT_SCHOOL_TIMEZONE"),
        ({"school_days": "mon,funday"}, "POLICYBOT_SCHOOL_DAYS"),
        ({"school_days": " , "}, "POLICYBOT_SCHOOL_DAYS"),
        ({"school_day_start": "8am"}, "POLICYBOT_SCHOOL_DAY_START"),
        ({"school_day_end": "25:00"}, "POLICYBOT_SCHOOL_DAY_END"),
        ({"school_day_start": "17:00", "school_day_end": "08:00"}, "POLICYBOT_SCHOOL_DAY_START"),
    ],
)
def test_a_setting_that_cannot_be_read_is_refused_by_name(environment: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        calendar_from(**environment)


def test_weekday_names() -> None:
    assert parse_weekdays("mon,tue,wed,thu,fri") == frozenset(range(5))
    assert parse_weekdays("Saturday, sun") == frozenset({5, 6})
    for wrong in ("", "mo", "monkey", "mon,xyz"):
        with pytest.raises(ValueError):
            parse_weekdays(wrong)


def test_a_calendar_checks_itself() -> None:
    with pytest.raises(ValueError):
        SchoolCalendar(day_starts=time(17, 0), day_ends=time(8, 0))
    with pytest.raises(ValueError):
        SchoolCalendar(weekdays=frozenset())
    with pytest.raises(ValueError):
        SchoolCalendar(weekdays=frozenset({7}))
    with pytest.raises(TypeError):
        SchoolCalendar(zone="Europe/London")  # type: ignore[arg-type]


def test_a_moment_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError):
        LONDON.school_date(datetime(2026, 11, 24, 10, 0))


# --- BST and GMT ---------------------------------------------------------------------------------------------


def test_school_dates_and_card_times_follow_british_summer_time() -> None:
    summer_night = utc(2026, 7, 10, 23, 30)  # 00:30 BST on Saturday 11 July
    winter_night = utc(2026, 12, 10, 23, 30)  # 23:30 GMT on Thursday 10 December
    assert LONDON.school_date(summer_night) == date(2026, 7, 11)
    assert LONDON.school_date(winter_night) == date(2026, 12, 10)
    assert LONDON.card_time(summer_night) == "Sat 11 Jul 2026, 00:30"
    assert LONDON.card_time(winter_night) == "Thu 10 Dec 2026, 23:30"
    assert LONDON.card_time(utc(2026, 11, 3, 9, 5)) == "Tue 3 Nov 2026, 09:05"  # the approvals' style
    assert school_time(utc(2026, 11, 3, 9, 5), LONDON) == "Tue 03 Nov 2026, 09:05"  # the incident cards' style
    assert school_time(summer_night, LONDON) == "Sat 11 Jul 2026, 00:30"


def test_a_school_date_starts_at_midnight_on_the_school_clock() -> None:
    assert LONDON.start_of(date(2026, 11, 27)) == utc(2026, 11, 27)  # GMT
    assert LONDON.start_of(date(2026, 7, 10)) == utc(2026, 7, 9, 23)  # BST
    # The days the clocks change are 23 and 25 hours long.
    assert LONDON.start_of(date(2026, 3, 30)) - LONDON.start_of(date(2026, 3, 29)) == timedelta(hours=23)
    assert LONDON.start_of(date(2026, 10, 26)) - LONDON.start_of(date(2026, 10, 25)) == timedelta(hours=25)


def test_school_days_keep_the_time_of_day_across_the_clock_changes() -> None:
    # Friday 15:00 GMT + 1 school day = Monday 15:00 BST (14:00 UTC)
    assert LONDON.add_school_days(london(2026, 3, 27, 15), 1) == utc(2026, 3, 30, 14)
    # Friday 15:00 BST + 1 school day = Monday 15:00 GMT
    assert LONDON.add_school_days(london(2026, 10, 23, 15), 1) == utc(2026, 10, 26, 15)
    assert LONDON.school_days_between(london(2026, 3, 27, 15), utc(2026, 3, 30, 14)) == 1
    assert LONDON.school_days_between(london(2026, 3, 27, 15), utc(2026, 3, 30, 13, 59)) == 0


def test_the_escalation_clock_across_the_clocks_going_back() -> None:
    # Friday 16:45 BST with 30 minutes: 15 on Friday, 15 on Monday from 08:00 GMT
    assert LONDON.add_school_minutes(london(2026, 10, 23, 16, 45), 30) == london(2026, 10, 26, 8, 15)
    assert LONDON.add_school_minutes(london(2026, 10, 26, 8, 15), 0) == utc(2026, 10, 26, 8, 15)


def test_a_reminder_goes_out_from_eight_on_the_school_clock_in_summer_and_winter() -> None:
    submitted = london(2026, 7, 6, 15)  # Monday, BST
    assert not reminder_due(submitted, london(2026, 7, 8, 7, 59), school_days=2, last_reminded_on=None,
                            calendar=LONDON)  # 06:59 UTC
    assert not reminder_due(submitted, london(2026, 7, 8, 14, 59), school_days=2, last_reminded_on=None,
                            calendar=LONDON)
    assert reminder_due(submitted, london(2026, 7, 8, 15), school_days=2, last_reminded_on=None, calendar=LONDON)
    assert not reminder_due(submitted, london(2026, 7, 9, 7, 30), school_days=2, last_reminded_on=date(2026, 7, 8),
                            calendar=LONDON)
    assert reminder_due(submitted, london(2026, 7, 9, 8, 0), school_days=2, last_reminded_on=date(2026, 7, 8),
                        calendar=LONDON)


# --- weekends ------------------------------------------------------------------------------------------------


def test_weekends_are_not_school_days() -> None:
    saturday, sunday, monday = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)
    assert not LONDON.is_school_day(saturday) and not LONDON.is_school_day(sunday) and LONDON.is_school_day(monday)
    assert not LONDON.is_school_time(london(2026, 11, 28, 10))
    assert not LONDON.school_day_started(london(2026, 11, 28, 10))
    assert [LONDON.is_school_time(london(2026, 11, 30, hh, mm)) for hh, mm in ((7, 59), (8, 0), (16, 59), (17, 0))] \
        == [False, True, True, False]


def test_counting_school_days_from_a_weekend_starts_on_monday_morning() -> None:
    saturday_10am = london(2026, 11, 28, 10)
    assert LONDON.add_school_days(saturday_10am, 0) == utc(2026, 11, 30)  # Monday 00:00
    assert LONDON.add_school_days(saturday_10am, 2) == utc(2026, 12, 2)
    assert LONDON.school_days_between(saturday_10am, utc(2026, 12, 1)) == 1
    assert LONDON.school_days_between(saturday_10am, utc(2026, 11, 30, 23, 59)) == 0
    assert LONDON.school_days_between(utc(2026, 12, 1), saturday_10am) == 0  # the end before the start
    friday_3pm = london(2026, 11, 27, 15)
    assert LONDON.add_school_days(friday_3pm, 1) == utc(2026, 11, 30, 15)  # over the weekend
    with pytest.raises(ValueError):
        LONDON.add_school_days(friday_3pm, -1)


def test_a_weekend_report_escalates_from_monday_morning() -> None:
    assert LONDON.add_school_minutes(london(2026, 11, 28, 12), 30) == london(2026, 11, 30, 8, 30)
    assert LONDON.add_school_minutes(london(2026, 11, 27, 16, 50), 30) == london(2026, 11, 30, 8, 20)


def test_a_school_open_on_saturdays_counts_saturday() -> None:
    six_days = calendar_from(school_days="mon,tue,wed,thu,fri,sat")
    assert six_days.add_school_days(london(2026, 11, 27, 15), 1) == utc(2026, 11, 28, 15)
    assert six_days.is_school_time(london(2026, 11, 28, 9))
    assert reminder_due(london(2026, 11, 26, 15), london(2026, 11, 28, 15), school_days=2, last_reminded_on=None,
                        calendar=six_days)
    assert not reminder_due(london(2026, 11, 26, 15), london(2026, 11, 28, 15), school_days=2,
                            last_reminded_on=None, calendar=LONDON)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
    days=st.integers(min_value=0, max_value=60),
    zone=st.sampled_from(ZONES),
)
def test_counting_undoes_adding_school_days(start: datetime, days: int, zone: str) -> None:
    calendar = SchoolCalendar(zone=ZoneInfo(zone))
    later = calendar.add_school_days(start, days)
    assert later.tzinfo is UTC
    assert later >= start
    assert days == 0 or calendar.is_school_day(calendar.school_date(later))
    assert calendar.school_days_between(start, later) == days


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
    minutes=st.integers(min_value=1, max_value=3000),
    zone=st.sampled_from(ZONES),
)
@example(start=datetime(2020, 1, 1, 14, 0, 0, 1, tzinfo=UTC), minutes=180, zone="Europe/London")  # 1 µs left over
def test_the_escalation_deadline_is_in_school_time(start: datetime, minutes: int, zone: str) -> None:
    calendar = SchoolCalendar(zone=ZoneInfo(zone))
    due = calendar.add_school_minutes(start, minutes)
    assert due > start
    # the deadline falls inside school hours, or exactly at the end of a school day: the moment before it is school
    # time (a microsecond, not a second: what is left over after a day's end may be less than a second of the next)
    just_before = due - timedelta(microseconds=1)
    assert calendar.is_school_time(just_before)


# --- a school outside London: POLICYBOT_SCHOOL_TIMEZONE=Pacific/Auckland ----------------------------------------


def test_the_time_zone_setting_moves_the_approvals_school_date_and_reminders() -> None:
    friday_evening_in_london = utc(2026, 11, 27, 20)  # Saturday 09:00 in Auckland
    sunday_evening_in_london = utc(2026, 11, 29, 20)  # Monday 09:00 in Auckland
    assert LONDON.school_date(friday_evening_in_london) == date(2026, 11, 27)
    assert AUCKLAND.school_date(friday_evening_in_london) == date(2026, 11, 28)

    pending_since = utc(2026, 11, 24, 10)  # Tuesday 10:00 GMT, Tuesday 23:00 NZDT
    due = {
        name: [reminder_due(pending_since, now, school_days=2, last_reminded_on=None, calendar=calendar)
               for now in (friday_evening_in_london, sunday_evening_in_london)]
        for name, calendar in (("London", LONDON), ("Auckland", AUCKLAND))
    }
    assert due == {"London": [True, False], "Auckland": [False, True]}
    # Reminded on Friday in Auckland: not again that school day, which in London is still Thursday evening.
    thursday_evening_in_london = utc(2026, 11, 26, 22)  # Friday 11:00 NZDT
    assert not reminder_due(pending_since, thursday_evening_in_london, school_days=2,
                            last_reminded_on=date(2026, 11, 27), calendar=AUCKLAND)
    assert reminder_due(pending_since, thursday_evening_in_london, school_days=2,
                        last_reminded_on=date(2026, 11, 26), calendar=AUCKLAND)


def test_the_time_zone_setting_moves_the_end_of_a_delegation() -> None:
    now = utc(2026, 11, 24, 10)
    _, ends_in_london = delegation_window(date(2026, 11, 27), now, LONDON)
    _, ends_in_auckland = delegation_window(date(2026, 11, 27), now, AUCKLAND)
    assert ends_in_london == utc(2026, 11, 28)  # midnight GMT
    assert ends_in_auckland == utc(2026, 11, 27, 11)  # midnight NZDT
    delegation = Delegation(1, "head", "Anna Smith", "deputy", "Priya Shah", now, ends_in_auckland)
    assert delegation.until_date(AUCKLAND) == date(2026, 11, 27)
    assert delegation.until_date(LONDON) == date(2026, 11, 26)  # read on the wrong clock, it ends a day early


def test_the_time_zone_setting_changes_the_card_times() -> None:
    moment = utc(2026, 11, 27, 15)  # Friday 15:00 GMT, Saturday 04:00 NZDT
    assert when(moment, LONDON) == "Fri 27 Nov 2026, 15:00"
    assert when(moment, AUCKLAND) == "Sat 28 Nov 2026, 04:00"
    assert when(None, AUCKLAND) == ""
    assert school_time(moment, AUCKLAND) == "Sat 28 Nov 2026, 04:00"

    request = ApprovalRecord(
        id=7, reference="ACC-2026-0007", kind=ApprovalKind.NEW_ACCOUNT, state=ApprovalState.APPROVED, round=1,
        requester_aad_object_id="sam", requester_name="Sam Teacher", payload={}, created_at=moment,
        pending_since=moment, decided_at=moment + timedelta(hours=1), decided_by_name="Anna Smith",
    )
    summary = RequestSummary(title="Facebook: Year 6", facts=(("Platform", "Facebook"),), slt_facts=())
    approval = card_texts(status_card(request, summary, calendar=AUCKLAND).to_dict())
    assert "Asked by Sam Teacher on Sat 28 Nov 2026, 04:00" in approval
    assert "By Anna Smith on Sat 28 Nov 2026, 05:00" in approval
    assert "Fri 27 Nov" not in approval

    receipt = receipt_card("INC-2026-0007", ROUTING[Category.NEGATIVE_COMMENT], Urgency.STANDARD, moment,
                           Routed(), escalation_minutes=30, screenshot_minutes=None, calendar=AUCKLAND)
    assert "Sat 28 Nov 2026, 04:00" in str(receipt.to_dict())

    register = consent_register_card(
        VersionView(version=3, imported_at=moment, imported_by="Jo Admin", source_name="consent.csv",
                    pupil_count=210, pupils_kept=True),
        [], open_requests=0, can_activate=False, source="csv", calendar=AUCKLAND,
    )
    assert "Sat 28 Nov 2026, 04:00" in str(register.to_dict())


def test_the_time_zone_setting_moves_references_and_sharepoint_dates() -> None:
    new_year_in_auckland = utc(2026, 12, 31, 12)  # 01:00 on 1 January 2027 in Auckland
    assert reference_year(new_year_in_auckland, LONDON) == 2026
    assert reference_year(new_year_in_auckland, AUCKLAND) == 2027
    # SharePoint sends a date column as UTC midnight of the school's day.
    assert cell_text(utc(2025, 1, 13, 11), AUCKLAND) == "14/01/2025"
    assert cell_text(utc(2025, 1, 14), LONDON) == "14/01/2025"
    assert cell_text(datetime(2025, 1, 14, 0, 0), LONDON) == "14/01/2025"  # no time zone: the date as sent


def test_the_escalation_clock_runs_in_the_schools_own_hours() -> None:
    # Friday 16:50 in Auckland (03:50 UTC) with 30 minutes: due 08:20 on Monday in Auckland (Sunday 19:20 UTC).
    assert AUCKLAND.add_school_minutes(utc(2026, 11, 27, 3, 50), 30) == utc(2026, 11, 29, 19, 20)
    # The same moment in London is Friday 03:50: before school, so due at 08:30 GMT.
    assert LONDON.add_school_minutes(utc(2026, 11, 27, 3, 50), 30) == utc(2026, 11, 27, 8, 30)
