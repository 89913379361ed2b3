"""The school's calendar: its time zone, its school days and its school hours, in one value.

Every rule that reads the clock as the school does goes through a `SchoolCalendar`:

- **school dates** ("until Friday", a reminder once a school day, a reference's year, how long a
  personal-device exception applies, a SharePoint date column) are dates in the school's time zone;
- **school days** (approval reminders after two school days) are the configured weekdays;
- **school time** (the escalation clock of an urgent incident) runs only inside school hours on school days;
- **card times** are shown in the school's time zone.

It is built once, from the settings (`bot.settings.Settings.school_calendar`: ``POLICYBOT_SCHOOL_TIMEZONE``,
``POLICYBOT_SCHOOL_DAYS``, ``POLICYBOT_SCHOOL_DAY_START``, ``POLICYBOT_SCHOOL_DAY_END``), and handed to
whatever needs it. ``SchoolCalendar()`` is the default: Europe/London, Monday to Friday, 08:00 to 17:00.

Term dates and bank holidays are NOT modelled: every listed weekday is a school day. A reminder can therefore
arrive during a school holiday, and the escalation clock runs on a bank holiday.

Plain Python: no I/O. Moments going in must be timezone-aware; moments coming out are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_DAY_STARTS = time(8, 0)
DEFAULT_DAY_ENDS = time(17, 0)
MONDAY_TO_FRIDAY: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_SEARCH_DAYS = 366 * 2  # how far ahead school time is looked for: a guard, not a limit anyone reaches
_MAX_DAYS_COUNTED = 400  # school days counted at most (a request waiting more than a school year)


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA time zone such as ``Europe/London``.

    Raises:
        ValueError: the name is empty or not a time zone this machine knows.
    """
    text = name.strip()
    if not text:
        raise ValueError("no time zone given (use an IANA name such as Europe/London)")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(f"{text!r} is not a time zone (use an IANA name such as Europe/London)") from error


def parse_clock_time(text: str) -> time:
    """``HH:MM`` (24-hour clock).

    Raises:
        ValueError: not a time of day.
    """
    try:
        return time.fromisoformat(text.strip())
    except ValueError as error:
        raise ValueError(f"{text.strip()!r} is not a time of day (use HH:MM, e.g. 08:00)") from error


def parse_weekdays(text: str) -> frozenset[int]:
    """School days from ``mon,tue,wed,thu,fri``: day names, or their first three letters, in any case.

    Raises:
        ValueError: an unknown day, or no days at all.
    """
    days: set[int] = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        matches = [number for number, full in enumerate(_FULL_DAY_NAMES) if len(name) >= 3 and full.startswith(name)]
        if not matches:
            raise ValueError(f"{part.strip()!r} is not a day of the week (use mon,tue,wed,thu,fri)")
        days.add(matches[0])
    if not days:
        raise ValueError("no school days given (use mon,tue,wed,thu,fri)")
    return frozenset(days)


@dataclass(frozen=True)
class SchoolCalendar:
    """When the school is open, and how its clock reads.

    Attributes:
        zone: the school's time zone.
        day_starts, day_ends: school hours on a school day (local time; ``day_starts`` is also when approval
            reminders may start going out).
        weekdays: the school days, Monday = 0.
    """

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    day_starts: time = DEFAULT_DAY_STARTS
    day_ends: time = DEFAULT_DAY_ENDS
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY

    def __post_init__(self) -> None:
        if not isinstance(self.zone, ZoneInfo):
            raise TypeError("zone must be a ZoneInfo (read a name with parse_timezone)")
        if self.day_starts.tzinfo is not None or self.day_ends.tzinfo is not None:
            raise ValueError("school hours are local times of day, without a time zone")
        if not self.day_starts < self.day_ends:
            raise ValueError("school hours must start before they end")
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError("school days must be weekdays 0 (Monday) to 6 (Sunday)")

    @property
    def timezone_name(self) -> str:
        return self.zone.key

    # --- reading a moment --------------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        """``moment`` on the school's clock.

        Raises:
            ValueError: a naive datetime (it says nothing about which time zone it is in).
        """
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("a moment without a time zone cannot be put on the school's clock")
        return moment.astimezone(self.zone)

    def school_date(self, moment: datetime) -> date:
        """The date at the school when ``moment`` happened (a reminder's day, "until Friday", a reference's
        year)."""
        return self.local(moment).date()

    def card_time(self, moment: datetime) -> str:
        """``moment`` as the school reads it on a card, e.g. "Tue 24 Nov 2026, 10:03"."""
        local = self.local(moment)
        return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"

    def start_of(self, day: date) -> datetime:
        """The first moment of a school date (midnight at the school), in UTC."""
        return datetime.combine(day, time(0, 0), tzinfo=self.zone).astimezone(UTC)

    # --- school days -------------------------------------------------------------------------------------

    def is_school_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays

    def is_school_time(self, moment: datetime) -> bool:
        """Inside school hours on a school day."""
        local = self.local(moment)
        return self.is_school_day(local.date()) and self.day_starts <= local.time() < self.day_ends

    def school_day_started(self, moment: datetime) -> bool:
        """A school day, at or after the start of school hours (approval reminders go out then, not at night)."""
        local = self.local(moment)
        return self.is_school_day(local.date()) and local.time() >= self.day_starts

    def _counting_from(self, start: datetime) -> datetime:
        """Where counting school days from ``start`` begins: ``start`` itself on a school day, else the first
        moment of the next school day (school clock)."""
        local = self.local(start)
        if self.is_school_day(local.date()):
            return local
        day = local.date() + timedelta(days=1)
        while not self.is_school_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, time(0, 0), tzinfo=self.zone)

    def add_school_days(self, start: datetime, days: int) -> datetime:
        """``start`` moved on by ``days`` school days, keeping the time of day on the school's clock (UTC).

        A start outside a school day (a weekend) counts from the first moment of the next school day.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        base = self._counting_from(start)
        day = base.date()
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_school_day(day):
                remaining -= 1
        return datetime.combine(day, base.timetz().replace(tzinfo=None), tzinfo=self.zone).astimezone(UTC)

    def school_days_between(self, start: datetime, end: datetime) -> int:
        """Whole school days from ``start`` to ``end``: the largest n with ``add_school_days(start, n) <= end``
        (0 when ``end`` comes first; at most 400)."""
        base = self._counting_from(start)
        wall_clock = base.timetz().replace(tzinfo=None)
        day = base.date()
        count = 0
        while count <= _MAX_DAYS_COUNTED:
            day += timedelta(days=1)
            if not self.is_school_day(day):
                continue
            if datetime.combine(day, wall_clock, tzinfo=self.zone) > end:
                break
            count += 1
        return count

    # --- school time -------------------------------------------------------------------------------------

    def add_school_minutes(self, start: datetime, minutes: int) -> datetime:
        """The moment ``minutes`` of school time have passed since ``start`` (UTC).

        Time outside school hours does not count: a report at 16:50 on a Friday with 30 minutes is due at
        08:20 on Monday.
        """
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        local = self.local(start)
        remaining = timedelta(minutes=minutes)
        day: date = local.date()
        for _ in range(_SEARCH_DAYS):
            if self.is_school_day(day):
                opens = datetime.combine(day, self.day_starts, self.zone)
                closes = datetime.combine(day, self.day_ends, self.zone)
                begin = max(opens, local) if day == local.date() else opens
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("no school time found within two years")
