"""The dashboard's figures, counted by the database: GROUP BY, COUNT and SUM over indexed columns, and medians.
Nothing here loads records into Python: each query returns a handful of numbers.

Portable to SQLite and PostgreSQL, with two places where each database gets the statement it runs best (the figures
are the same; the tests check each against the same hand count on both):

- the reports by category and month: on SQLite a statement per month, each month's range in UTC (worked out in the
  school's time zone by ``domain/dashboard.py``) read from a covering index, so no date function is needed and a report
  at 00:30 on 1 October (British Summer Time) counts in October; on PostgreSQL one statement over the period, each
  month's count a ``count(*) FILTER (WHERE <the month's range>)``: the period's rows are read once (a statement per
  month went back to the table for each month, 11 bitmap heap scans for a school year, twice the time of one pass);
- a median: on SQLite the middle one or two durations ``ORDER BY``-ed, read with ``LIMIT 2 OFFSET (n-1)/2``, each
  rounded to whole seconds in Python, the mean of the two for an even count (``median_of``); on PostgreSQL every median
  of a table in one pass, ``percentile_cont(0.5) WITHIN GROUP (ORDER BY round(seconds)) FILTER (WHERE ...)``, the same
  figure (``medians`` says why);
- a duration in seconds is ``(julianday(b) - julianday(a)) * 86400`` on SQLite and ``date_part('epoch', b - a)`` (a
  double precision) on PostgreSQL, in ``_seconds``;
- the reports referred outside school, by agency and in all, are one statement: the (report, agency) pairs of the
  period's escalations as a CTE, counted by agency and, ``UNION ALL``, as distinct reports;
- a JSON field is read with SQLAlchemy's JSON operators (``json_extract`` / ``->>``); the photo checks are grouped
  by answer and by their set of reasons (the JSON array's text: a few dozen groups), and each group's count is added
  to each of its reasons.

Indexes used (migration ``0016_dashboard``): ``incidents(received_at, category, status, urgency, lead_at,
auto_escalated_at)`` (every column the incident figures read: answered from the index alone) and
``incident_events(kind, at)``; ``consent_check_log(checked_at)`` (migration ``0003_consent``) for the edges of a period.

Photo checks are the largest table (a trust: hundreds of thousands a year). Their figures read
``dashboard_check_days``: the log counted per day (UTC), answer and set of reasons, by one ``INSERT ... SELECT ...
GROUP BY`` over the complete days not rolled up yet (``roll_up_check_days``; a day is rolled up once it is over, so a
row never changes), plus the log itself for the edges of the period (the hours before its first whole day, and today).
The counts stay when the retention schedule later deletes the checks themselves: they hold no personal data.

Table (migration ``0016_dashboard``): ``governors_reports``, each termly report generated for the governing body:
its reference, period, the figures as JSON and the PDF's bytes. Kept for the governing body's records (retention
kind ``governors_reports``: no personal data; the bot never deletes them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.approvals import ApprovalKind, ApprovalState
from domain.dashboard import REASON_TITLES, Figures, Period, restricted
from domain.incidents import Agency, Category, EventKind, Status, Urgency
from store.approvals import ApprovalRequestRow
from store.base import Base, UtcDateTime
from store.consent_store import ConsentCheckLogRow, ConsentDoNotPhotographRow
from store.incidents import IncidentEventRow, IncidentRow

# The index the incident figures read: every column they need, so SQLite and PostgreSQL answer from the index alone
# (declared here, on the incidents table's metadata, so the models match migration 0016; store/models.py imports this
# module with every other).
Index("ix_incidents_dashboard", IncidentRow.received_at, IncidentRow.category, IncidentRow.status,
      IncidentRow.urgency, IncidentRow.lead_at, IncidentRow.auto_escalated_at)
Index("ix_incident_events_kind_at", IncidentEventRow.kind, IncidentEventRow.at)


class CheckDayRow(Base):
    """Photo checks counted per day (UTC), answer and set of reasons: the photo check log rolled up, one row per
    combination. Only complete days are rolled up, so a row never changes once written; no personal data."""

    __tablename__ = "dashboard_check_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    verdict: Mapped[str] = mapped_column(String(8), primary_key=True)
    reasons: Mapped[str] = mapped_column(String(400), primary_key=True)  # the JSON array's text
    checks: Mapped[int] = mapped_column(Integer)


class GovernorsReportRow(Base):
    """One termly report for the governing body (no personal data: figures only)."""

    __tablename__ = "governors_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(40), index=True)  # GOV-20260901-20261206-3
    period_title: Mapped[str] = mapped_column(String(80))
    period_start: Mapped[datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    generated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    generated_by_aad: Mapped[str] = mapped_column(String(64))  # who may accept the file (the one who asked)
    generated_by_role: Mapped[str] = mapped_column(String(40))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(128))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)


def _codes(text: object) -> list[str]:
    """The reason codes of one JSON array's text (``["no_consent", "refused"]``)."""
    try:
        found = json.loads(str(text)) if text is not None else []
    except ValueError:
        return []
    return [str(code) for code in found] if isinstance(found, list) else []


def _seconds(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    # date_part(), not EXTRACT(): a double precision, not a numeric (sorted several times faster); whole seconds are
    # the same (a duration is whole microseconds, so it is never within a rounding error of half a second unless on it)
    return func.date_part("epoch", end - start)


def _utc_day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """A moment's UTC date as ``YYYY-MM-DD`` text."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(cast(column, String), 1, 10)  # stored as "YYYY-MM-DD HH:MM:SS.ffffff" (UTC)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def check_days_to_roll_up(session: AsyncSession, now: datetime) -> bool:
    """Whether a complete day (before today, UTC) with photo checks is not rolled up yet."""
    last = await session.scalar(select(func.max(CheckDayRow.day)))
    since = datetime.fromisoformat(str(last)).replace(tzinfo=UTC) + timedelta(days=1) if last else None
    query = select(ConsentCheckLogRow.id).where(ConsentCheckLogRow.checked_at < _midnight(now))
    if since is not None:
        query = query.where(ConsentCheckLogRow.checked_at >= since)
    return await session.scalar(query.limit(1)) is not None


async def roll_up_check_days(session: AsyncSession, now: datetime) -> int:
    """Roll up every complete day of photo checks not rolled up yet (one INSERT ... SELECT ... GROUP BY); returns the
    rows added. Run in a transaction; two at once add each row once (the primary key, ``ON CONFLICT DO NOTHING``)."""
    last = await session.scalar(select(func.max(CheckDayRow.day)))
    since = datetime.fromisoformat(str(last)).replace(tzinfo=UTC) + timedelta(days=1) if last else None
    day = _utc_day(session, ConsentCheckLogRow.checked_at)
    reasons = cast(ConsentCheckLogRow.reason_codes, String)
    where = [ConsentCheckLogRow.checked_at < _midnight(now)]
    if since is not None:
        where.append(ConsentCheckLogRow.checked_at >= since)
    grouped = (select(day.label("day"), ConsentCheckLogRow.verdict, reasons.label("reasons"),
                      func.count().label("checks")).where(*where).group_by(day, ConsentCheckLogRow.verdict, reasons))
    insert_ = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    result = await session.execute(
        insert_(CheckDayRow).from_select(["day", "verdict", "reasons", "checks"], grouped)
        .on_conflict_do_nothing(index_elements=["day", "verdict", "reasons"]))
    return int(getattr(result, "rowcount", 0) or 0)


async def _checks(session: AsyncSession, start: datetime, end: datetime,
                  now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Photo checks of [start, end) by answer, and the "no" answers by reason: whole days from the rollup, the edges
    (before the first whole day, and from the last day rolled up) from the log itself, through its ``checked_at``
    index."""
    first_whole = _midnight(start) + (timedelta(days=1) if _midnight(start) < start else timedelta(0))
    rolled_end = min(_midnight(end), _midnight(now))
    last = await session.scalar(select(func.max(CheckDayRow.day)))
    if last:
        rolled_end = min(rolled_end, datetime.fromisoformat(str(last)).replace(tzinfo=UTC) + timedelta(days=1))
    else:
        rolled_end = first_whole
    combinations: list[tuple[Any, Any, Any]] = []
    if first_whole < rolled_end:
        combinations += [tuple(row) for row in (await session.execute(
            select(CheckDayRow.verdict, CheckDayRow.reasons, func.sum(CheckDayRow.checks))
            .where(CheckDayRow.day >= f"{first_whole:%Y-%m-%d}", CheckDayRow.day < f"{rolled_end:%Y-%m-%d}")
            .group_by(CheckDayRow.verdict, CheckDayRow.reasons))).all()]
        edges = [(start, first_whole), (rolled_end, end)]
    else:
        edges = [(start, end)]
    reasons_text = cast(ConsentCheckLogRow.reason_codes, String)
    for low, high in edges:
        if low >= high:
            continue
        combinations += [tuple(row) for row in (await session.execute(
            select(ConsentCheckLogRow.verdict, reasons_text, func.count())
            .where(ConsentCheckLogRow.checked_at >= low, ConsentCheckLogRow.checked_at < high)
            .group_by(ConsentCheckLogRow.verdict, reasons_text))).all()]
    by_verdict = {"yes": 0, "no": 0}
    by_reason = {code: 0 for code in REASON_TITLES}
    for verdict, codes, count in combinations:  # a few dozen rows: one per answer and set of reasons
        by_verdict[str(verdict)] = by_verdict.get(str(verdict), 0) + int(count)
        if verdict == "no":
            for code in _codes(codes):
                by_reason[code] = by_reason.get(code, 0) + int(count)
    return by_verdict, by_reason


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def median_of(session: AsyncSession, table: Any, duration: ColumnElement[Any],
                    where: Sequence[Any], *, count: int | None = None) -> tuple[float | None, int]:
    """The median of ``duration`` over ``table``'s rows ``where`` selects, and how many there are (``count``: already
    counted, e.g. in another pass), by the portable method: the middle one or two rows ``ORDER BY``-ed, each rounded to
    whole seconds, and the mean of the two for an even count."""
    if count is None:
        count = int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)
    if count == 0:
        return None, 0
    middle = (
        select(duration.label("d")).select_from(table).where(*where)
        .order_by(duration).limit(1 if count % 2 else 2).offset((count - 1) // 2)
    )
    values = [round(float(v)) for v in (await session.scalars(middle)).all() if v is not None]  # whole seconds
    return (sum(values) / len(values) if values else None), count


Median = tuple[float | None, int]  # whole seconds (None: no rows), and how many rows


async def medians(session: AsyncSession, table: Any, where: Sequence[Any],
                  each: Sequence[tuple[ColumnElement[Any], Sequence[Any], int | None]]) -> list[Median]:
    """For each ``(duration, condition, count)``: the median of ``duration`` in whole seconds over ``table``'s rows that
    ``where`` and ``condition`` select, and how many there are (``count``: already counted, or ``None``).

    PostgreSQL: one statement, one pass over the rows, ``percentile_cont(0.5) WITHIN GROUP (ORDER BY round(seconds))
    FILTER (WHERE condition)`` for each, sorting the rounded durations as ``double precision``. The same figure as the
    portable method of ``median_of`` (SQLite), which rounds the middle one or two durations in Python: rounding is
    monotonic, so the middle of the rounded durations is the rounded middle; ``round(double precision)`` and Python's
    ``round`` both round halves to even; and for an even count ``percentile_cont`` returns ``a + (b - a) * 0.5``, the
    mean of the middle two, exact for whole seconds.
    """
    if not _is_postgresql(session):
        return [await median_of(session, table, duration, (*where, *condition), count=count)
                for duration, condition, count in each]
    columns: list[Any] = []
    for duration, condition, _ in each:
        selected = and_(*condition)
        columns += [func.count().filter(selected),
                    func.percentile_cont(literal_column("0.5")).within_group(func.round(cast(duration, Float)))
                    .filter(selected)]
    row = (await session.execute(
        select(*columns).select_from(table).where(*where, or_(*(and_(*c) for _, c, _ in each))))).one()
    return [(None if row[2 * i + 1] is None else float(row[2 * i + 1]), int(row[2 * i] or 0)) for i in range(len(each))]


async def figures(session: AsyncSession, period: Period, categories: frozenset[Category], now: datetime,
                  *, referrals_note: str = "") -> Figures:
    """Every figure of the dashboard for ``period`` over ``categories`` (empty: no reports counted)."""
    # the categories as literals in the SQL text (SQLAlchemy renders them at execution; they are the enum's values,
    # never user input): a list of bound parameters would be an array that PostgreSQL's cached generic plan builds again
    # for every row it filters (from a statement's sixth execution, when PostgreSQL uses its generic plan, the two
    # largest took 1.5x as long with parameters as with literals)
    wanted: BindParameter[list[str]] = bindparam(
        "categories", sorted(c.value for c in categories) or ["-"], expanding=True, literal_execute=True)
    in_period = (IncidentRow.received_at >= period.start, IncidentRow.received_at < period.end,
                 IncidentRow.category.in_(wanted))

    # reports by category and month, closed, auto-escalated, with a lead per urgency
    closed = func.sum(case((IncidentRow.status == Status.CLOSED.value, 1), else_=0))
    escalated = func.sum(case((IncidentRow.auto_escalated_at.is_not(None), 1), else_=0))
    led = [func.sum(case((and_(IncidentRow.urgency == u.value, IncidentRow.lead_at.is_not(None)), 1), else_=0))
           for u in (Urgency.URGENT, Urgency.STANDARD)]
    by_category: dict[Category, int] = {c: 0 for c in categories}
    by_category_month: dict[tuple[Category, str], int] = {}
    total = closed_count = auto = 0
    with_lead = {Urgency.URGENT: 0, Urgency.STANDARD: 0}
    months = period.months or (("", period.start, period.end),)
    if _is_postgresql(session):
        # one pass over the period, each month's count a FILTER of its range (PostgreSQL reads the rows once; a
        # statement per month would read every heap page the month's rows are on, again for each month)
        per_month = [func.count().filter(and_(IncidentRow.received_at >= low, IncidentRow.received_at < high))
                     for _, low, high in months]
        passes = [(months, select(IncidentRow.category, func.count(), closed, escalated, *led, *per_month)
                   .where(*in_period).group_by(IncidentRow.category))]
    else:
        # a month at a time, each month's range read from the covering index (SQLite: no per-row CASE over months)
        passes = [(((label, low, high),), select(IncidentRow.category, func.count(), closed, escalated, *led)
                   .where(IncidentRow.received_at >= low, IncidentRow.received_at < high,
                          IncidentRow.category.in_(wanted)).group_by(IncidentRow.category))
                  for label, low, high in months]
    for counted_months, query in passes:
        for category, count, closed_in, escalated_in, urgent_led, standard_led, *month_counts in (
                await session.execute(query)).all():
            kind = Category(category)
            by_category[kind] += int(count)
            total += int(count)
            closed_count += int(closed_in or 0)
            auto += int(escalated_in or 0)
            with_lead[Urgency.URGENT] += int(urgent_led or 0)
            with_lead[Urgency.STANDARD] += int(standard_led or 0)
            for (label, _, _), in_month in zip(counted_months, month_counts or [count], strict=True):
                if label and in_month and not restricted(kind):  # a restricted category is never split by month
                    by_category_month[(kind, label)] = int(in_month)

    lead_seconds = _seconds(session, IncidentRow.received_at, IncidentRow.lead_at)
    urgencies = (Urgency.URGENT, Urgency.STANDARD)
    found = await medians(
        session, IncidentRow, (*in_period, IncidentRow.lead_at.is_not(None)),
        # coalesce(): not a column SQLite can look up in the escalation clock's (urgency, ...) index, so it reads the
        # dashboard's covering index over the period instead (twice as fast on 100,000 reports)
        [(lead_seconds, (func.coalesce(IncidentRow.urgency, "") == u.value,), with_lead[u]) for u in urgencies])
    lead_median: dict[str, tuple[float | None, int]] = {u.value: m for u, m in zip(urgencies, found, strict=True)}

    # the reports referred outside school, by agency and in all (a report referred to two agencies counts once in
    # all): one statement, the escalations of the period joined to their reports once
    agency = IncidentEventRow.data["agency"].as_string()
    pairs = (select(IncidentEventRow.incident_id.label("incident_id"), agency.label("agency")).distinct()
             .join(IncidentRow, IncidentRow.id == IncidentEventRow.incident_id)
             .where(IncidentEventRow.kind == EventKind.ESCALATED.value, IncidentEventRow.at >= period.start,
                    IncidentEventRow.at < period.end, IncidentRow.category.in_(wanted))
             .cte("referral_pairs"))
    referral_rows = await session.execute(union_all(
        select(literal(0).label("in_all"), pairs.c.agency, func.count()).group_by(pairs.c.agency),
        select(literal(1).label("in_all"), literal(None, String).label("agency"),
               func.count(func.distinct(pairs.c.incident_id)))))
    referred: dict[str, int] = {a.value: 0 for a in Agency}
    referred_reports = 0
    for in_all, name, count in referral_rows.all():
        if in_all:
            referred_reports = int(count or 0)
            continue
        key = str(name) if name in referred else "other"  # an agency recorded before the list changed
        referred[key] = referred.get(key, 0) + int(count)

    checks_by_verdict, checks_no_reasons = await _checks(session, period.start, period.end, now)

    made = (ApprovalRequestRow.kind == ApprovalKind.NEW_ACCOUNT.value,
            ApprovalRequestRow.created_at >= period.start, ApprovalRequestRow.created_at < period.end)
    requests_by_state = {state.value: 0 for state in ApprovalState}
    for state, count in (await session.execute(
            select(ApprovalRequestRow.state, func.count()).where(*made)
            .group_by(ApprovalRequestRow.state))).all():
        requests_by_state[str(state)] = int(count)
    decided_wait = _seconds(session, ApprovalRequestRow.created_at, ApprovalRequestRow.decided_at)
    waiting = _seconds(session, ApprovalRequestRow.pending_since, literal(now, UtcDateTime))
    request_wait, requests_waiting = await medians(
        session, ApprovalRequestRow, (ApprovalRequestRow.kind == ApprovalKind.NEW_ACCOUNT.value,),
        [(decided_wait, (*made, ApprovalRequestRow.decided_at.is_not(None),
                         ApprovalRequestRow.state.in_([ApprovalState.APPROVED.value, ApprovalState.REJECTED.value])),
          None),
         (waiting, (ApprovalRequestRow.state == ApprovalState.PENDING.value,
                    ApprovalRequestRow.pending_since.is_not(None)), None)])

    do_not_photograph = int(await session.scalar(
        select(func.count()).select_from(ConsentDoNotPhotographRow)
        .where(ConsentDoNotPhotographRow.cleared_at.is_(None))) or 0)

    return Figures(
        period=period, categories=categories, by_category=by_category, by_category_month=by_category_month,
        open_count=total - closed_count, closed_count=closed_count, lead_median=lead_median, auto_escalated=auto,
        referred=referred, referred_reports=referred_reports, referrals_note=referrals_note,
        checks_by_verdict=checks_by_verdict, checks_no_reasons=checks_no_reasons,
        requests_by_state=requests_by_state, request_wait_median=request_wait,
        requests_waiting_median=requests_waiting, do_not_photograph_open=do_not_photograph,
    )


# --- the governors' reports kept --------------------------------------------------------------------------------


async def save_report(session: AsyncSession, row: GovernorsReportRow) -> int:
    session.add(row)
    await session.flush()
    return row.id


async def get_report(session: AsyncSession, report_id: int) -> GovernorsReportRow | None:
    return await session.get(GovernorsReportRow, report_id)


async def count_reports(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(GovernorsReportRow)) or 0)
