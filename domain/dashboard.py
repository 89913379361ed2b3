"""The picture for SLT and governors (issue 18): periods, what each person may see, and small-number suppression.

Plain Python: no I/O. The figures themselves are counted by the database (``store/dashboard.py``); this module
says over which period, over which categories, and what of them may be shown.

**Periods.** The school year runs from the first term's start; it has three terms (autumn, spring, summer) whose
starts are configured as month-day (``POLICYBOT_TERM_STARTS``, default ``09-01,01-01,04-15``: 1 September, 1 January,
15 April). ``domain/calendar.py`` does not model term dates (it says so), so the terms are read here, in the
school's time zone (``SchoolCalendar.start_of``). A period is [start, end) in UTC; "this term" and "this school year"
end now.

**Who sees which categories.** The dashboard counts the categories the viewer may see (``visible_categories``:
the routing table's handlers), so a restricted category (its details never go near a channel) appears only to the
roles the routing table names, and a concern about the Head Teacher never to the Head. A restricted category appears
only as one count for the period: never split by month, never in a chart.
The governors' report shows the Head Teacher's view (``visible_categories({HEAD_TEACHER})``: a concern about the Head
is the Chair's alone and is never in a document the governing body, the Head among them, keeps), with every
restricted category folded into one line.

**Small-number suppression (the rule).** A count from 1 to 4 is shown as "fewer than 5" (0 is shown: it says no
record exists, which identifies nobody). A shown total must not give a hidden count away by subtraction, so within
each group of counts that add up to a shown total (the categories of the period, open and closed, each month's
reports, photo checks yes and no, account requests by state), when exactly one count of the group is hidden the
next smallest non-zero count of the group is hidden too; when the group has no other non-zero count, the total is
hidden. A hidden total whose counts are all shown would be their sum, so its smallest non-zero count is hidden too.
Totals shared by two groups (a category's count is its row's total and a cell of the period's column) are
checked until nothing changes. A median over fewer than 5 records is not shown either ("fewer than 5 records").
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain.calendar import SchoolCalendar
from domain.consent import ReasonCode
from domain.incidents import AGENCY_TITLES, ROUTING, Agency, Category, visible_categories
from domain.roles import Role

THRESHOLD = 5  # counts from 1 to THRESHOLD - 1 are shown as "fewer than 5"
FEWER = f"fewer than {THRESHOLD}"
DEFAULT_TERM_STARTS = "09-01,01-01,04-15"
TERM_NAMES = ("Autumn", "Spring", "Summer")


# --- periods ----------------------------------------------------------------------------------------------------


class PeriodChoice(StrEnum):
    THIS_TERM = "this_term"
    LAST_TERM = "last_term"
    SCHOOL_YEAR = "school_year"


PERIOD_TITLES: dict[PeriodChoice, str] = {
    PeriodChoice.THIS_TERM: "This term",
    PeriodChoice.LAST_TERM: "Last term",
    PeriodChoice.SCHOOL_YEAR: "This school year",
}

_MONTH_DAY = re.compile(r"^\s*(\d{1,2})-(\d{1,2})\s*$")


def parse_term_starts(text: str) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Three term starts as ``MM-DD`` (autumn, spring, summer), e.g. ``09-01,01-01,04-15``.

    Raises:
        ValueError: not three readable dates, or spring not before summer.
    """
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != 3:
        raise ValueError("give the three term starts as MM-DD (autumn, spring, summer), e.g. 09-01,01-01,04-15")
    starts: list[tuple[int, int]] = []
    for part in parts:
        match = _MONTH_DAY.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a month and day (use MM-DD, e.g. 09-01)")
        month, day = int(match.group(1)), int(match.group(2))
        try:
            date(2024, month, day)  # a leap year: 02-29 is readable
        except ValueError as error:
            raise ValueError(f"{part.strip()!r} is not a day of the year") from error
        starts.append((month, day))
    autumn, spring, summer = starts
    if not (autumn > summer > spring):
        raise ValueError("the terms must start in the order spring, summer, autumn within the calendar year "
                         "(e.g. 09-01,01-01,04-15)")
    return autumn, spring, summer


@dataclass(frozen=True)
class Period:
    """A stretch of the school's time: [start, end) in UTC, and how people call it."""

    choice: PeriodChoice | None
    title: str  # "Autumn term 2026", "School year 2026-27"
    start: datetime
    end: datetime
    months: tuple[tuple[str, datetime, datetime], ...] = ()  # ("Sep 2026", start, end) for each month in it

    @property
    def key(self) -> str:
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"


@dataclass(frozen=True)
class Term:
    name: str
    year_label: str
    first_day: date
    next_first_day: date  # the day the next term starts

    @property
    def title(self) -> str:
        return f"{self.name} term {self.first_day.year}"


@dataclass(frozen=True)
class SchoolTerms:
    """The school's terms, read with its calendar."""

    calendar: SchoolCalendar = field(default_factory=SchoolCalendar)
    starts: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = parse_term_starts(DEFAULT_TERM_STARTS)

    def _term_firsts(self, year: int) -> list[tuple[str, date]]:
        """The three terms of the school year starting in autumn ``year``."""
        (am, ad), (sm, sd), (um, ud) = self.starts
        return [("Autumn", date(year, am, ad)), ("Spring", date(year + 1, sm, sd)), ("Summer", date(year + 1, um, ud))]

    def term_of(self, day: date) -> Term:
        for year in (day.year, day.year - 1):
            firsts = self._term_firsts(year)
            following = self._term_firsts(year + 1)[0][1]
            if firsts[0][1] <= day < following:
                for index, (name, first) in enumerate(firsts):
                    nxt = firsts[index + 1][1] if index + 1 < 3 else following
                    if first <= day < nxt:
                        return Term(name, f"{year}-{str(year + 1)[2:]}", first, nxt)
        raise AssertionError("every day falls in a school year")  # pragma: no cover

    def previous(self, term: Term) -> Term:
        return self.term_of(term.first_day - timedelta(days=1))

    def year_start(self, day: date) -> date:
        autumn = self.term_of(day)
        while autumn.name != "Autumn":
            autumn = self.previous(autumn)
        return autumn.first_day

    def _period(self, choice: PeriodChoice | None, title: str, first: date, end_day: date | None,
                now: datetime) -> Period:
        start = self.calendar.start_of(first)
        end = min(self.calendar.start_of(end_day), now) if end_day is not None else now
        return Period(choice, title, start, end, self._months(first, end))

    def _months(self, first: date, end: datetime) -> tuple[tuple[str, datetime, datetime], ...]:
        months: list[tuple[str, datetime, datetime]] = []
        day = first
        while True:
            start = self.calendar.start_of(day)
            if start >= end:
                break
            nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            months.append((f"{day:%b %Y}", start, min(self.calendar.start_of(nxt), end)))
            day = nxt
        return tuple(months)

    def period(self, choice: PeriodChoice, now: datetime) -> Period:
        """The period ``choice`` names, seen from ``now``."""
        today = self.calendar.school_date(now)
        term = self.term_of(today)
        if choice is PeriodChoice.THIS_TERM:
            return self._period(choice, term.title, term.first_day, None, now)
        if choice is PeriodChoice.LAST_TERM:
            last = self.previous(term)
            return self._period(choice, last.title, last.first_day, last.next_first_day, now)
        first = self.year_start(today)
        return self._period(choice, f"School year {first.year}-{str(first.year + 1)[2:]}", first, None, now)

    def term_before(self, period: Period) -> Period:
        """The whole term before the term ``period`` starts in (the governors' comparison)."""
        term = self.term_of(self.calendar.school_date(period.start))
        last = self.previous(term)
        return self._period(None, last.title, last.first_day, last.next_first_day, period.start)


# --- what a viewer may see --------------------------------------------------------------------------------------


def restricted(category: Category) -> bool:
    return ROUTING[category].restricted


def dashboard_categories(roles: frozenset[Role]) -> frozenset[Category]:
    """The categories the viewer's figures count: those whose reports the viewer may see."""
    return visible_categories(roles)


def governors_categories() -> frozenset[Category]:
    """The governors' report counts the Head Teacher's view (never a concern about the Head)."""
    return visible_categories(frozenset({Role.HEAD_TEACHER}))


# --- suppression ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Counts that add up to a total (``total`` None: the total is not shown anywhere)."""

    members: tuple[Hashable, ...]
    total: Hashable | None = None


def suppressed(counts: Mapping[Hashable, int], groups: Iterable[Group] = ()) -> frozenset[Hashable]:
    """The keys of ``counts`` not to show: every count from 1 to 4, and whatever the module's rule adds so that no
    hidden count can be worked out by subtracting shown counts from a shown total."""
    hidden = {key for key, value in counts.items() if 0 < value < THRESHOLD}
    groups = list(groups)
    changed = True
    while changed:
        changed = False
        for group in groups:
            if group.total is not None and group.total not in hidden:
                in_group = [m for m in group.members if m in hidden]
                if len(in_group) == 1:
                    candidates = sorted((counts[m], index) for index, m in enumerate(group.members)
                                        if m not in hidden and counts[m] > 0)
                    if candidates:
                        hidden.add(group.members[candidates[0][1]])
                    else:
                        hidden.add(group.total)
                    changed = True
            elif group.total is not None and counts[group.total] > 0 and not any(m in hidden for m in group.members):
                # a hidden total whose counts are all shown would be their sum: hide the smallest non-zero one
                candidates = sorted((counts[m], index) for index, m in enumerate(group.members) if counts[m] > 0)
                if candidates:
                    hidden.add(group.members[candidates[0][1]])
                    changed = True
    return frozenset(hidden)


def shown(value: int, hide: bool) -> str:
    return FEWER if hide else str(value)


def median_text(seconds: float | None, count: int) -> str:
    """A median duration, or why it is not shown."""
    if count == 0 or seconds is None:
        return "no records"
    if count < THRESHOLD:
        return f"{FEWER} records"
    return duration_text(seconds)


def duration_text(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes)} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


# --- the figures ------------------------------------------------------------------------------------------------


REASON_TITLES: dict[str, str] = {
    ReasonCode.NO_CONSENT.value: "No consent recorded",
    ReasonCode.REFUSED.value: "Consent refused",
    ReasonCode.WITHDRAWN.value: "Consent withdrawn",
    ReasonCode.DO_NOT_PUBLISH.value: "On the do-not-publish list",
    ReasonCode.DO_NOT_PHOTOGRAPH.value: "Asked not to be photographed",
    ReasonCode.NOT_FOUND.value: "Pupil not found in the register",
    ReasonCode.AMBIGUOUS.value: "More than one pupil of that name",
    ReasonCode.PERSONAL_ACCOUNT.value: "A personal account",
    ReasonCode.UNREGISTERED_ACCOUNT.value: "An account not in the register",
    ReasonCode.NO_PURPOSE_RECORDED.value: "No consent purpose for that place",
    ReasonCode.PERSONAL_DEVICE.value: "Taken on a personal device",
    ReasonCode.NOT_APPROPRIATELY_DRESSED.value: "Not appropriately dressed",
    ReasonCode.SUBJECT_TO_RIDICULE.value: "Someone ridiculed",
    ReasonCode.PRIVATE_AREA.value: "Taken in a private area",
}

AGENCY_SHORT: dict[str, str] = {agency.value: AGENCY_TITLES[agency] for agency in Agency}

REQUEST_STATE_TITLES: dict[str, str] = {
    "pending": "Waiting for a decision",
    "changes_requested": "Changes asked for",
    "approved": "Approved",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
}


@dataclass(frozen=True)
class Figures:
    """The counts of one period over some categories, as the database gave them (nothing suppressed yet)."""

    period: Period
    categories: frozenset[Category]
    by_category: Mapping[Category, int]
    by_category_month: Mapping[tuple[Category, str], int]  # non-restricted categories only
    open_count: int
    closed_count: int
    lead_median: Mapping[str, tuple[float | None, int]]  # urgency -> (median seconds, reports with a lead)
    auto_escalated: int
    referred: Mapping[str, int]  # agency -> reports referred to it in the period
    referred_reports: int  # reports referred outside at least once
    referrals_note: str
    checks_by_verdict: Mapping[str, int]
    checks_no_reasons: Mapping[str, int]
    requests_by_state: Mapping[str, int]
    request_wait_median: tuple[float | None, int]  # decided requests: (median seconds from sent to decided, count)
    requests_waiting_median: tuple[float | None, int]  # pending now: (median seconds waited so far, count)
    do_not_photograph_open: int

    @property
    def total_reports(self) -> int:
        return sum(self.by_category.values())

    def month_total(self, month: str) -> int:
        return sum(v for (_, m), v in self.by_category_month.items() if m == month)


def category_title(category: Category) -> str:
    return ROUTING[category].title


def ordered_categories(categories: Iterable[Category]) -> list[Category]:
    wanted = set(categories)
    return [c for c in Category if c in wanted]


@dataclass(frozen=True)
class Visible:
    """Every count of ``Figures`` with the suppression decided (``hidden``: keys not to print)."""

    figures: Figures
    hidden: frozenset[Hashable]

    def text(self, key: Hashable, value: int) -> str:
        return shown(value, key in self.hidden)


RESTRICTED_KEY = ("cat", "restricted")  # the restricted categories folded into one count (the governors' report)


def apply_suppression(figures: Figures, *, fold_restricted: bool = False) -> Visible:
    """Which counts to hide, by the module's rule, across every group the figures show together.
    ``fold_restricted``: the restricted categories are shown as one count (``RESTRICTED_KEY``)."""
    counts: dict[Hashable, int] = {}
    groups: list[Group] = []
    cats = ordered_categories(figures.categories)
    months = [label for label, _, _ in figures.period.months]
    listed: list[Hashable] = []
    for category in cats:
        if fold_restricted and restricted(category):
            continue
        counts[("cat", category)] = figures.by_category.get(category, 0)
        listed.append(("cat", category))
    if fold_restricted and any(restricted(c) for c in cats):
        counts[RESTRICTED_KEY] = sum(figures.by_category.get(c, 0) for c in cats if restricted(c))
        listed.append(RESTRICTED_KEY)
    counts["total"] = figures.total_reports
    groups.append(Group(tuple(listed), "total"))
    monthly = [c for c in cats if not restricted(c)]
    for category in monthly:
        for month in months:
            counts[("cell", category, month)] = figures.by_category_month.get((category, month), 0)
        groups.append(Group(tuple(("cell", category, m) for m in months), ("cat", category)))
    for month in months:
        counts[("month", month)] = figures.month_total(month)
        groups.append(Group(tuple(("cell", c, month) for c in monthly), ("month", month)))
    counts["open"], counts["closed"] = figures.open_count, figures.closed_count
    groups.append(Group(("open", "closed"), "total"))
    counts["auto_escalated"] = figures.auto_escalated
    for agency, value in figures.referred.items():
        counts[("agency", agency)] = value
    counts["referred_reports"] = figures.referred_reports
    for verdict, value in figures.checks_by_verdict.items():
        counts[("verdict", verdict)] = value
    counts["checks"] = sum(figures.checks_by_verdict.values())
    groups.append(Group(tuple(("verdict", v) for v in figures.checks_by_verdict), "checks"))
    for reason, value in figures.checks_no_reasons.items():
        counts[("reason", reason)] = value
    for state, value in figures.requests_by_state.items():
        counts[("state", state)] = value
    counts["requests"] = sum(figures.requests_by_state.values())
    groups.append(Group(tuple(("state", s) for s in figures.requests_by_state), "requests"))
    counts["do_not_photograph"] = figures.do_not_photograph_open
    return Visible(figures, suppressed(counts, groups))


def change_line(label: str, now: int, before: int, now_hidden: bool, before_hidden: bool,
                period_title: str = "this term", before_title: str = "last term") -> str:
    """One line of the governors' summary, from the figures only: "Reports: 12 this term, 8 last term (+4)"."""
    if now_hidden or before_hidden:
        return (f"{label}: {shown(now, now_hidden)} {period_title}, {shown(before, before_hidden)} {before_title} "
                "(the change is not shown: small numbers)")
    difference = now - before
    sign = "+" if difference > 0 else ""
    change = "no change" if difference == 0 else f"{sign}{difference}"
    return f"{label}: {now} {period_title}, {before} {before_title} ({change})"


# --- what is shown: sections of labelled figures, each with the chart that draws them ------------------------------

CATEGORY_SHORT: dict[Category, str] = {
    Category.OFFENSIVE_CONTENT: "Offensive content",
    Category.BULLYING_PUPIL: "Bullying of a pupil",
    Category.BULLYING_STAFF: "Bullying of staff",
    Category.NEGATIVE_COMMENT: "Negative comment",
    Category.MEDIA_ENQUIRY: "Media enquiry",
    Category.DATA_BREACH: "Data breach",
    Category.COPYRIGHT: "Copyright",
    Category.INAPPROPRIATE_IMAGE: "Inappropriate image",
    Category.EXTREMISM: "Extremism / Prevent",
    Category.PUPIL_SAFETY: "A pupil's safety",
    Category.STAFF_PUPIL_CONTACT: "Staff-pupil contact",
    Category.ALLEGATION_ABOUT_STAFF: "Allegation about staff",
    Category.ABOUT_HEAD_TEACHER: "About the Head Teacher",
    Category.PRAISE: "Praise",
    Category.OTHER: "Something else",
}


def short_title(category: Category) -> str:
    return CATEGORY_SHORT.get(category, ROUTING[category].title)


class ChartKind(StrEnum):
    BAR = "bar"
    DONUT = "donut"
    LINE = "line"


@dataclass(frozen=True)
class Chart:
    """What a chart draws: (label, value) points; a hidden count is never drawn (its point is left out)."""

    kind: ChartKind
    title: str
    points: tuple[tuple[str, int], ...]
    x_title: str = ""
    y_title: str = ""
    left_out: int = 0  # points not drawn because their count is hidden
    series: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()  # a line chart's lines (legend, points)
    hidden_labels: tuple[str, ...] = ()  # what was not drawn, by label


@dataclass(frozen=True)
class Section:
    """A part of the picture: ``rows`` are the figures its chart draws (the chart's fallback table), ``facts`` the
    figures no chart draws (always shown as text)."""

    title: str
    rows: tuple[tuple[str, str], ...]  # (label, figure as text)
    chart: Chart | None = None
    note: str = ""
    facts: tuple[tuple[str, str], ...] = ()


def _chart(kind: ChartKind, title: str, items: Sequence[tuple[str, int, bool]], x_title: str = "",
           y_title: str = "") -> Chart:
    drawn = tuple((label, value) for label, value, hide in items if not hide)
    hidden = tuple(label for label, _, hide in items if hide)
    return Chart(kind, title, drawn, x_title, y_title, left_out=len(hidden), hidden_labels=hidden)


def sections(visible: Visible, *, fold_restricted: bool = False) -> list[Section]:
    """The figures as sections, suppression applied. ``fold_restricted``: every restricted category in one line
    (the governors' report)."""
    f = visible.figures
    h = visible.hidden
    cats = ordered_categories(f.categories)
    open_cats = [c for c in cats if not restricted(c)]
    closed_cats = [c for c in cats if restricted(c)]
    out: list[Section] = []

    totals = [("Open (not closed yet)", shown(f.open_count, "open" in h)),
              ("Closed", shown(f.closed_count, "closed" in h))]
    out.append(Section("Reports, open and closed", tuple(totals), _chart(
        ChartKind.DONUT, "Open and closed", [("Open", f.open_count, "open" in h),
                                             ("Closed", f.closed_count, "closed" in h)]),
        facts=(("Reports", shown(f.total_reports, "total" in h)),)))

    items = [(short_title(c), f.by_category.get(c, 0), ("cat", c) in h) for c in open_cats]
    rows = [(label, shown(value, hide)) for label, value, hide in items if value > 0]
    kept: list[tuple[str, str]] = []
    note = ""
    if closed_cats:
        if fold_restricted:
            value = sum(f.by_category.get(c, 0) for c in closed_cats)
            kept.append(("Restricted categories (safeguarding, allegations), combined",
                         shown(value, RESTRICTED_KEY in h)))
        else:
            kept += [(f"{short_title(c)} (restricted: count only)", shown(f.by_category.get(c, 0), ("cat", c) in h))
                     for c in closed_cats]
        note = "Restricted categories are counted only: never by month, never drawn."
    out.append(Section("Reports by category", tuple(rows) or (("No reports", "0"),), _chart(
        ChartKind.BAR, "Reports by category", [i for i in items if i[1] > 0], "Category", "Reports"), note,
        tuple(kept)))

    months = [label for label, _, _ in f.period.months]
    month_items = [(m, f.month_total(m), ("month", m) in h) for m in months]
    month_rows = []
    for m in months:
        parts = [f"{short_title(c)} {shown(v, ('cell', c, m) in h)}" for c in open_cats
                 if (v := f.by_category_month.get((c, m), 0)) > 0]
        month_rows.append((m, f"{shown(f.month_total(m), ('month', m) in h)}" + (f": {'; '.join(parts)}" if parts
                                                                                   else "")))
    line = _chart(ChartKind.LINE, "Reports by month", month_items, "Month", "Reports")
    lines = [("All reports", line.points)]
    for c in open_cats:
        points = tuple((m, f.by_category_month.get((c, m), 0)) for m in months
                       if ("cell", c, m) not in h)
        if any(value for _, value in points):
            lines.append((short_title(c), points))
    line = Chart(line.kind, line.title, line.points, line.x_title, line.y_title, line.left_out, tuple(lines),
                 line.hidden_labels)
    out.append(Section("Reports by month", tuple(month_rows), line,
        "Each month: its reports, then by category (restricted categories are not split by month)."))

    lead = [(f"{'Urgent' if u == 'urgent' else 'Standard'} reports", median_text(*f.lead_median.get(u, (None, 0))))
            for u in ("urgent", "standard")]
    out.append(Section("Median time to take the lead", (), note="From the report to the moment someone took the "
                       "lead (reports with a lead).", facts=tuple(lead)))

    referred = [(AGENCY_SHORT.get(a, "Another agency"), shown(v, ("agency", a) in h)) for a, v in f.referred.items()
                if v > 0]
    esc_rows = [("Escalated because nobody took the lead in time", shown(f.auto_escalated, "auto_escalated" in h)),
                ("Reports referred outside school", shown(f.referred_reports, "referred_reports" in h)), *referred]
    out.append(Section("Escalations and referrals", (), note=f.referrals_note, facts=tuple(esc_rows)))

    verdicts = [("Yes", f.checks_by_verdict.get("yes", 0), ("verdict", "yes") in h),
                ("No", f.checks_by_verdict.get("no", 0), ("verdict", "no") in h)]
    check_rows = [(f"Answer: {label}", shown(value, hide)) for label, value, hide in verdicts]
    out.append(Section("Photo checks by answer", tuple(check_rows), _chart(ChartKind.DONUT, "Photo checks", verdicts),
                       facts=(("Photo checks", shown(sum(f.checks_by_verdict.values()), "checks" in h)),)))
    reasons = [(REASON_TITLES[code], v, ("reason", code) in h) for code, v in f.checks_no_reasons.items() if v > 0]
    out.append(Section("Why photo checks said no", tuple((label, shown(v, hide)) for label, v, hide in reasons)
                       or (("No check said no", "0"),),
                       _chart(ChartKind.BAR, "Reasons for no", reasons, "Reason", "Checks") if reasons else None,
                       "A check can have more than one reason."))

    states = [(REQUEST_STATE_TITLES.get(s, s), v, ("state", s) in h) for s, v in f.requests_by_state.items()]
    req_rows = [(label, shown(v, hide)) for label, v, hide in states]
    req_facts = (("Account requests made", shown(sum(f.requests_by_state.values()), "requests" in h)),
                 ("Median wait for a decision", median_text(*f.request_wait_median)),
                 ("Median wait so far, still pending", median_text(*f.requests_waiting_median)))
    out.append(Section("New account requests", tuple(req_rows), _chart(
        ChartKind.BAR, "Account requests by state", [s for s in states if s[1] > 0], "State", "Requests"),
        facts=req_facts))

    out.append(Section("Do-not-photograph requests open now", (), facts=(
        ("Open requests", shown(f.do_not_photograph_open, "do_not_photograph" in h)),)))
    return out


SUPPRESSION_NOTE = (f"Counts from 1 to {THRESHOLD - 1} show as \"{FEWER}\", and a count that would give one away by "
                    "subtraction is hidden too; a median over fewer than 5 records is not shown. Hidden counts are "
                    "never drawn.")
