"""End to end in the Agents Playground: the Head Teacher types ``dashboard`` and sees this term's figures, then
chooses last term; a member of staff is refused.

The bot's database is seeded with a few hundred generated reports and photo checks from the school year's start
to now (the bench's seeded generator, ``bench/dashboard_bench.py``). The Playground (0.2.28) draws Teams'
``Chart.*`` elements, so ``docs/screenshots/dashboard.png`` shows the charts; a client that cannot draw them shows
each chart's fallback table (checked in ``tests/services/test_dashboard.py``). The card is also photographed at
phone width (390 px). The Head Teacher then asks for the governors' report; its first page is rendered to
``docs/screenshots/governors-report-page1.png`` with ``pdftoppm`` (poppler-utils) when installed.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.dashboard_bench import generate
from store.db import Database
from tests.e2e.playground import PHONE, REPO_ROOT, E2EStack, PlaygroundSession, _screenshot_destination

pytestmark = [pytest.mark.playground]

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {"POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json")}


def _seed(stack: E2EStack) -> None:
    async def run() -> None:
        database = Database(f"sqlite+aiosqlite:///{stack.bot.database_path}")
        try:
            await generate(database, 420, 1500, seed=18, until=datetime.now(UTC), requests_made=40)
        finally:
            await database.dispose()

    worker = threading.Thread(target=asyncio.run, args=(run(),))  # Playwright's loop runs in this thread
    worker.start()
    worker.join(timeout=120)


def test_the_head_teacher_sees_the_dashboard_and_chooses_a_period(
        head_teacher: PlaygroundSession, staff: PlaygroundSession, e2e_stack: E2EStack) -> None:
    _seed(e2e_stack)
    head_teacher.open_personal_chat()
    head_teacher.send("dashboard")
    card = head_teacher.card("Reports by category")
    text = card.inner_text()
    for heading in ("Reports, open and closed", "Reports by month", "Median time to take the lead",
                    "Escalations and referrals", "Photo checks by answer", "Why photo checks said no",
                    "New account requests", "Do-not-photograph requests open now"):
        assert heading in text, heading
    assert "fewer than 5" in text  # the restricted categories' small counts
    assert "About the Head" not in text
    head_teacher.screenshot(SCREENSHOTS / "dashboard.png", of=card)

    # At phone width the Playground lays every card out 446 px wide (its own minimum, the one-line whoami card's
    # too): the dashboard is no wider than that card, and nothing in it overflows sideways.
    page = head_teacher.page
    original = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        phone_card = head_teacher.card("Reports by category")
        head_teacher.screenshot(REPO_ROOT / "test-results" / "e2e" / "dashboard-phone.png", of=phone_card)
        head_teacher.send("whoami")
        plain = head_teacher.card("Anna Smith")
        widths = [locator.evaluate("e => [e.scrollWidth, e.clientWidth]") for locator in (phone_card, plain)]
        assert widths[0][0] <= widths[0][1] and widths[0][1] <= widths[1][1], widths
    finally:
        if original:
            page.set_viewport_size(original)

    head_teacher.click_card_button("Last term", card=head_teacher.card("Reports by category"))
    head_teacher.card("Summer term 2026")
    assert e2e_stack.bot.errors() == []

    staff.open_personal_chat()
    staff.send("dashboard")
    staff.wait_for_text("can see the dashboard. Nothing was shown.")


def test_the_head_teacher_asks_for_the_governors_report(head_teacher: PlaygroundSession,
                                                        e2e_stack: E2EStack) -> None:
    head_teacher.send("governors report")
    head_teacher.wait_for_text("is ready and kept for the governing body's records")
    content = _latest_report(e2e_stack)
    assert content.startswith(b"%PDF")
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: the PDF's first page is not rendered")
    with tempfile.TemporaryDirectory() as folder:
        pdf = Path(folder) / "report.pdf"
        pdf.write_bytes(content)
        subprocess.run([pdftoppm, "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(Path(folder) / "page1")], check=True, timeout=60)
        target = _screenshot_destination(SCREENSHOTS / "governors-report-page1.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(folder) / "page1.png", target)
    assert e2e_stack.bot.errors() == []


def _latest_report(stack: E2EStack) -> bytes:
    with sqlite3.connect(stack.bot.database_path) as connection:
        row = connection.execute("SELECT content FROM governors_reports ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None
    return bytes(row[0])
