"""End to end in the Agents Playground: a pupil's name that is not in the consent register (issue 19, item 6).

A member of staff asks about a photo of "Poppy Ashwort" (a typo) and "Jayden Smith" (nobody of that name). The
card says the answer is NO until every pupil is identified and whom to ask (Jo Bell, the data admin, or the school
office), offers Poppy Ashworth (2H) as a button (name and class only) and a box to type Jayden's name again. One
press chooses Poppy; "Check again" with the box empty sends nothing; the same name typed again is said to be still
unknown (the card changes); the name corrected from the class list gives the verdict.

Screenshot: docs/screenshots/consent-close-matches.png (and, at phone width, test-results/e2e/).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from tests.e2e.playground import PHONE, REPO_ROOT, E2EStack, PlaygroundSession

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
REGISTER = REPO_ROOT / "playground" / "consent-register.csv"
CHOOSE = "Which pupil did you mean?"
RETYPE = "Type the name again, corrected"


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {"POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json")}


@pytest.fixture(scope="module")
def register(e2e_stack: E2EStack) -> str:
    """The sample register, imported by the data admin's command line into the running bot's database."""
    url = f"sqlite+aiosqlite:///{e2e_stack.bot.database_path}"
    done = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "services.consent_import_cli", str(REGISTER),
         "--database-url", url, "--if-empty", "--imported-by", "e2e"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    return url


def test_an_unknown_name_offers_close_matches_a_box_to_retype_it_and_whom_to_ask(
    staff: PlaygroundSession, e2e_stack: E2EStack, register: str
) -> None:
    staff.open_personal_chat()
    staff.send("can I post this photo?")
    question = staff.card("Which device took it?")
    staff.fill_card_input("Where will it go?", "The school website", card=question)
    staff.fill_card_input("Who is in it?", "Poppy Ashwort\nJayden Smith", card=question)
    for check in ("Everyone in it is appropriately dressed", "Nobody in it is subject to ridicule",
                  "It was not taken in a toilet or changing area"):
        staff.fill_card_input(check, True, card=question)
    clicked = staff.click_card_button("Check", card=question)
    assert clicked is not None and clicked.ok, clicked

    choose = staff.card(CHOOSE)
    shown = " ".join(choose.inner_text().split())
    for expected in ("The answer is NO until every pupil in the photo is identified in the consent register.",
                     "Poppy Ashwort is not in the consent register.", "Jayden Smith is not in the consent register.",
                     "Nobody in the register has a similar name.",
                     "Ask Jo Bell (who keeps the consent register) or the school office"):
        assert expected in shown, expected
    for word in ("granted", "refused", "withdrawn", "consent for"):  # nothing about anyone's consent yet
        assert word not in shown.lower(), word
    staff.screenshot(SCREENSHOTS / "consent-close-matches.png", of=choose)
    page = staff.page
    original = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        staff.screenshot(REPO_ROOT / "test-results" / "e2e" / "consent-close-matches-phone.png", of=choose)
        scroll, client = choose.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert scroll <= client, (scroll, client)  # nothing wider than the phone's screen
    finally:
        if original:
            page.set_viewport_size(original)

    # One press chooses Poppy: the next card asks only about Jayden.
    clicked = staff.click_card_button("Poppy Ashworth, 2H, Year 2", card=choose)
    assert clicked is not None and clicked.ok, clicked
    jayden = staff.card("Jayden Smith is not in the consent register")
    assert "Poppy Ashwort" not in jayden.inner_text()

    # Check again with nothing typed sends nothing: the box says what to do.
    assert staff.click_card_button("Check again", card=jayden, expect_activity=False) is None
    assert "Type the name again, corrected, or choose a close match above." in staff.card_validation_errors(jayden)

    # The same name again: still unknown, and the card says so (it is not the same card).
    staff.fill_card_input(RETYPE, "Jayden Smith", card=jayden)
    clicked = staff.click_card_button("Check again", card=jayden)
    assert clicked is not None and clicked.ok, clicked
    still = staff.card("Still not identified")
    assert "The answer stays NO." in still.inner_text()

    # Corrected from the class list: the verdict, for both pupils.
    staff.fill_card_input(RETYPE, "Maisie Evans", card=still)
    clicked = staff.click_card_button("Check again", card=still)
    assert clicked is not None and clicked.ok, clicked
    yes = staff.card("You may post it to the school website")
    shown = " ".join(yes.inner_text().split())
    assert "Poppy Ashworth (2H, Year 2)" in shown and "Maisie Evans (2H, Year 2)" in shown, shown

    with sqlite3.connect(e2e_stack.bot.database_path) as db:
        rows = db.execute("SELECT pupil_ids, verdict FROM consent_check_log ORDER BY id").fetchall()
    assert [verdict for _, verdict in rows] == ["no", "no", "no", "yes"]
    assert sorted(json.loads(rows[-1][0])) == ["Z900000000001", "Z900000000005"]
    assert "Jayden" not in json.dumps(rows) and "Ashwort" not in json.dumps(rows)

    assert staff.failed_activities() == []
    assert e2e_stack.bot.errors() == []
