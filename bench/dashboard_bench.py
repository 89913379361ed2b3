"""Time ``dashboard`` on a large trust's volume (issue 18; not a test).

Run from the repository root:

    .venv/bin/python bench/dashboard_bench.py [--reports 100000] [--checks 500000] [--runs 30]
        [--database-url URL ...] [--seed 18]

By default it runs on a fresh SQLite file and, if PostgreSQL answers at ``TEST_POSTGRES_URL`` (or
postgresql+asyncpg://postgres@127.0.0.1:5432/test), on a fresh PostgreSQL database created beside it. For each it:

- migrates the database and generates, seeded: ``--reports`` incident reports over the school year 2026-27 (every
  category, urgency and status, a lead on most, escalation events with an agency on 5%), ``--checks`` photo checks
  (a third "no", with one or two reasons), 2,000 account requests and 300 do-not-photograph requests;
- times the dashboard as the Head Teacher sees it, the service call that builds the card (``Dashboard.show``: the
  figures counted by the database, the suppression, the card, the audit line), for "this school year" (every row)
  and "this term", ``--runs`` times each after one warm-up: p50, p99, max;
- times, in the same run, a baseline that loads the same rows into Python (every report of the period with the
  columns the figures need, every escalation, photo check and account request) and counts there, reported as a
  ratio to the dashboard.

The target is p99 under 500 ms. The machine is shared: the load average is printed with each run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from directory.static import DirectoryEntry, StaticRoleDirectory  # noqa: E402
from domain.actors import Actor  # noqa: E402
from domain.dashboard import PeriodChoice, SchoolTerms, dashboard_categories  # noqa: E402
from domain.incidents import Category, urgency_for  # noqa: E402
from domain.roles import Role  # noqa: E402
from services.audit import AuditTrail  # noqa: E402
from services.dashboard import Dashboard  # noqa: E402
from store.approvals import ApprovalRequestRow  # noqa: E402
from store.consent_store import ConsentCheckLogRow, ConsentDoNotPhotographRow  # noqa: E402
from store.db import Database  # noqa: E402
from store.incidents import IncidentEventRow, IncidentRow  # noqa: E402

NOW = datetime(2027, 7, 15, 11, 0, tzinfo=UTC)  # the summer term: the school year holds every generated row
YEAR_START = datetime(2026, 8, 31, 23, 0, tzinfo=UTC)
HEAD = DirectoryEntry("00000000-0000-0000-0000-0000000000a1", "Bench Head", frozenset({Role.HEAD_TEACHER}))
REASONS = ("no_consent", "refused", "withdrawn", "do_not_publish", "do_not_photograph", "not_found",
           "personal_device", "personal_account")
AGENCIES = ("police", "lado", "prevent", "ico")
_CHUNK = 5000


def _moment(rng: random.Random, until: datetime = NOW) -> datetime:
    return YEAR_START + timedelta(seconds=rng.randrange(int((until - YEAR_START).total_seconds())))


async def generate(database: Database, reports: int, checks: int, seed: int, *, until: datetime = NOW,
                   requests_made: int = 2000) -> None:
    """Seeded rows from the school year's start to ``until`` (the Playground test uses a few hundred)."""
    rng = random.Random(seed)
    moment = partial(_moment, until=until)
    categories = list(Category)
    async with database.engine.begin() as connection:
        rows, events = [], []
        for number in range(1, reports + 1):
            category = rng.choice(categories)
            received = moment(rng)
            urgency = urgency_for(category, rng.random() < 0.1).value
            status = rng.choices(("open", "in_progress", "closed"), (1, 2, 7))[0]
            lead = received + timedelta(minutes=rng.randrange(1, 3000)) if status != "open" else None
            rows.append(dict(
                id=number, reference=f"INC-B-{number:06d}", year=2026, number=number, submission_key=f"b{number}",
                category=category.value, urgency=urgency, status=status, immediate_risk=False, dsl_told=None,
                reporter_aad="r", reporter_name="Reporter", what_happened="Generated.", platform="Facebook",
                link="", when_date=None, when_detail="", involved="", actions_taken=[], source="chat",
                source_author="", received_at=received, lead_aad="l" if lead else None, lead_name="Lead" if lead
                else None, lead_at=lead, closed_at=lead if status == "closed" else None, closed_by_name=None,
                outcome_kind=None, outcome=None, escalate_due_at=None,
                auto_escalated_at=received + timedelta(minutes=30) if rng.random() < 0.02 else None,
                routed_at=received, screenshots_until=None, version=1))
            if rng.random() < 0.05:
                events.append(dict(incident_id=number, at=received + timedelta(hours=2), kind="escalated",
                                   actor_aad="l", actor_name="Lead", what="Escalated", why="Generated.",
                                   data={"agency": rng.choice(AGENCIES), "external_reference": ""}))
            if len(rows) >= _CHUNK:
                await connection.execute(insert(IncidentRow), rows)
                rows = []
        if rows:
            await connection.execute(insert(IncidentRow), rows)
        for start in range(0, len(events), _CHUNK):
            await connection.execute(insert(IncidentEventRow), events[start:start + _CHUNK])
        batch = []
        for _ in range(checks):
            no = rng.random() < 0.33
            batch.append(dict(checked_at=moment(rng), checked_by="s", destination="school_website",
                              account_name=None, purposes=["website"], device="school", media="photo",
                              pupil_ids=["A1"], unresolved_count=0, verdict="no" if no else "yes",
                              reason_codes=sorted(set(rng.sample(REASONS, rng.randint(1, 2)))) if no else [],
                              register_version_id=None))
            if len(batch) >= _CHUNK:
                await connection.execute(insert(ConsentCheckLogRow), batch)
                batch = []
        if batch:
            await connection.execute(insert(ConsentCheckLogRow), batch)
        requests = []
        for _ in range(requests_made):
            created = moment(rng)
            state = rng.choice(("pending", "approved", "rejected", "withdrawn", "changes_requested"))
            decided = created + timedelta(hours=rng.randrange(1, 400)) if state in ("approved", "rejected") else None
            requests.append(dict(reference=None, client_key=None, kind=rng.choice(("new_account",
                                                                                     "personal_device_photo")),
                                 state=state, round=1, requester_aad="r", requester_name="R", payload={},
                                 created_at=created, updated_at=created,
                                 pending_since=created if state == "pending" else None, decided_at=decided))
        await connection.execute(insert(ApprovalRequestRow), requests)
        await connection.execute(insert(ConsentDoNotPhotographRow), [
            dict(pupil_id=f"P{i}", requested_by="s", note="", recorded_at=moment(rng),
                 cleared_at=None if i % 3 else moment(rng), cleared_by=None) for i in range(300)])


async def baseline(database: Database, start: datetime, end: datetime,
                   categories: frozenset[Category]) -> dict[str, object]:
    """The same figures the naive way: every row of the period into Python, counted there."""
    wanted = {c.value for c in categories}
    async with database.sessions() as session:
        reports = (await session.execute(select(
            IncidentRow.id, IncidentRow.category, IncidentRow.urgency, IncidentRow.status, IncidentRow.received_at,
            IncidentRow.lead_at, IncidentRow.auto_escalated_at).where(
            IncidentRow.received_at >= start, IncidentRow.received_at < end))).all()
        events = (await session.execute(select(IncidentEventRow.incident_id, IncidentEventRow.data, IncidentEventRow.at)
                                        .where(IncidentEventRow.kind == "escalated"))).all()
        checks = (await session.execute(select(ConsentCheckLogRow.verdict, ConsentCheckLogRow.reason_codes).where(
            ConsentCheckLogRow.checked_at >= start, ConsentCheckLogRow.checked_at < end))).all()
        requests = (await session.execute(select(ApprovalRequestRow.kind, ApprovalRequestRow.state,
                                                 ApprovalRequestRow.created_at, ApprovalRequestRow.decided_at))).all()
    mine = [r for r in reports if r.category in wanted]
    ids = {r.id for r in mine}
    by_month = Counter((r.category, r.received_at.strftime("%Y-%m")) for r in mine)
    leads = {u: statistics.median([(r.lead_at - r.received_at).total_seconds() for r in mine
                                   if r.urgency == u and r.lead_at] or [0]) for u in ("urgent", "standard")}
    referred = Counter((e.incident_id, (e.data or {}).get("agency")) for e in events
                       if e.incident_id in ids and start <= e.at < end)
    reasons = Counter(code for c in checks if c.verdict == "no" for code in c.reason_codes)
    waits = [(r.decided_at - r.created_at).total_seconds() for r in requests
             if r.kind == "new_account" and r.decided_at and start <= r.created_at < end]
    return {"categories": Counter(r.category for r in mine), "months": by_month, "leads": leads,
            "referred": Counter(agency for _, agency in referred), "verdicts": Counter(c.verdict for c in checks),
            "reasons": reasons, "wait": statistics.median(waits or [0])}


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds per call (SQLite runs in this process, so its work is in the
    CPU time; PostgreSQL's is in the server's processes and is not). The first call is a warm-up."""
    await call()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        await call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  max {ordered[-1]:7.1f} ms"


async def bench(url: str, args: argparse.Namespace) -> None:
    database = Database(url)
    try:
        await database.migrate()
        started = time.perf_counter()
        await generate(database, args.reports, args.checks, args.seed)
        print(f"  generated {args.reports:,} reports and {args.checks:,} photo checks in "
              f"{time.perf_counter() - started:.1f} s")
        if database.url.startswith("postgresql"):
            # PostgreSQL's autovacuum analyses a table after bulk inserts in production; a bench that queries
            # straight after generating would otherwise plan with no statistics at all.
            async with database.transaction() as session:
                await session.execute(text("ANALYZE"))
        directory = StaticRoleDirectory([HEAD], description="bench")
        terms = SchoolTerms()
        dashboard = Dashboard(database, directory, audit=AuditTrail(database), terms=terms, clock=lambda: NOW)
        actor = Actor(HEAD.aad_object_id, HEAD.name, "29:bench", "a:bench", "personal")
        categories = dashboard_categories(HEAD.roles)
        for choice in (PeriodChoice.SCHOOL_YEAR, PeriodChoice.THIS_TERM):
            period = terms.period(choice, NOW)
            load = os.getloadavg()
            shown, shown_cpu = await timed(lambda choice=choice: dashboard.show(actor, choice), args.runs)
            naive, naive_cpu = await timed(
                lambda period=period: baseline(database, period.start, period.end, categories), max(3, args.runs // 5))
            ratio = statistics.median(naive) / statistics.median(shown)
            print(f"  {choice.value:12} dashboard {summary(shown)}  CPU p50 {statistics.median(shown_cpu):7.1f} ms")
            print(f"  {'':12} baseline  {summary(naive)}  CPU p50 {statistics.median(naive_cpu):7.1f} ms  "
                  f"({ratio:.1f}x the dashboard's p50)  load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        await database.dispose()


async def postgres_database(base: str) -> tuple[str, Callable[[], Awaitable[None]]] | None:
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    name = f"policybot_bench_{uuid.uuid4().hex[:8]}"
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - no server: SQLite only
        print(f"PostgreSQL not reachable ({type(error).__name__}): SQLite only")
        await admin.dispose()
        return None

    async def drop() -> None:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return make_url(base).set(database=name).render_as_string(hide_password=False), drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--database-url", action="append", default=[])
    args = parser.parse_args()
    print(f"dashboard bench: {args.reports:,} reports, {args.checks:,} photo checks, {args.runs} runs, "
          f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.database_url:
        for url in args.database_url:
            print(url.split("@")[-1])
            await bench(url, args)
        return
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite")
        await bench(f"sqlite+aiosqlite:///{folder}/bench.db", args)
    made = await postgres_database(os.environ.get("TEST_POSTGRES_URL",
                                                  "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    if made is not None:
        url, drop = made
        print("PostgreSQL")
        try:
            await bench(url, args)
        finally:
            await drop()


if __name__ == "__main__":
    asyncio.run(main())
