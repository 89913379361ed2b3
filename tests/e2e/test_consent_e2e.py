"""End to end in the Agents Playground: "can I post this photo?" on the Playground's sample register.

A member of staff asks twice: a photo for the school website with a do-not-publish pupil in it is a NO (with
the reason per pupil, never the do-not-publish reason itself), a photo of a consented class is a YES. Then a
name two pupils share is resolved by choosing the class. Each check is in the check log, by pupil id, never
with the names typed. A photo taken on a personal phone is a NO until the Head Teacher (a second Playground)
authorises an exception, asked for from the verdict card; then the same photo is a YES. Last, a parent's "do
not photograph" request goes from a teacher to the data admin (a third Playground), who looks the pupil up and
closes the request once the MIS is updated.

The register is `playground/consent-register.csv` (fictional pupils), imported into the bot's database with the
data admin's command line, as `scripts/dev` does. Screenshots: docs/screenshots/consent-*.png.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.e2e.playground import REPO_ROOT, E2EStack, PlaygroundSession

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.playground

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
REGISTER = REPO_ROOT / "playground" / "consent-register.csv"
QUESTION = "Can I post this photo?"
WEBSITE = "The school website"
STAFF_AAD_ID = "00000000-0000-0000-0000-000000000101"  # Sam Teacher, playground/staff
CLASS_2H = ("Poppy Ashworth", "Arlo Bennett", "Inaya Chowdhury", "Sipho Dlamini", "Maisie Evans")
DO_NOT_PUBLISH_REASON = "Sample reason"  # the start of Callum Fraser's reason in the sample register


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {
        "POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json"),
        "POLICYBOT_OUTBOX_POLL_SECONDS": "0.2",
    }


@pytest.fixture(scope="module")
def register(e2e_stack: E2EStack) -> str:
    """The sample register, imported by the command line into the running bot's database (it is migrated)."""
    url = f"sqlite+aiosqlite:///{e2e_stack.bot.database_path}"
    done = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "services.consent_import_cli", str(REGISTER),
         "--database-url", url, "--if-empty", "--imported-by", "e2e"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "imported as register version 1: 10 pupils" in done.stdout, done.stdout
    return url


def _check_log(stack: E2EStack) -> list[dict[str, object]]:
    with sqlite3.connect(stack.bot.database_path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM consent_check_log ORDER BY id").fetchall()
    return [dict(row) for row in rows]


def ask(staff: PlaygroundSession, pupils: str, *, start_from_help: bool = False, device: str | None = None) -> Locator:
    """Open the question card (typed, or from the help card's button) and fill it for the school website."""
    if start_from_help:
        staff.send("help")
        clicked = staff.click_card_button(QUESTION, card="How Policy Bot can help")
        assert clicked is not None and clicked.name == "message" and clicked.ok, clicked
    else:
        staff.send("can I post this photo?")
    question = staff.card("Which device took it?")
    # The answer depends on the device: a school device is chosen to begin with.
    assert question.get_by_role("radio", name="A school camera, tablet or phone", exact=True).is_checked()
    staff.fill_card_input("Where will it go?", WEBSITE, card=question)
    staff.fill_card_input("Who is in it?", pupils, card=question)
    if device is not None:
        staff.fill_card_input("Which device took it?", device, card=question)
    for check in ("Everyone in it is appropriately dressed", "Nobody in it is subject to ridicule",
                  "It was not taken in a toilet or changing area"):
        staff.fill_card_input(check, True, card=question)
    return question


def test_a_do_not_publish_pupil_is_a_no_and_a_consented_class_is_a_yes(
    staff: PlaygroundSession, e2e_stack: E2EStack, register: str
) -> None:
    staff.open_personal_chat()

    # NO: Callum Fraser (4R) is on the do-not-publish list; Poppy Ashworth may be published.
    question = ask(staff, "Poppy Ashworth\nCallum Fraser (4R)")
    staff.screenshot(SCREENSHOTS / "consent-question.png", of=question)
    clicked = staff.click_card_button("Check", card=question)
    assert clicked is not None and clicked.ok, clicked
    no = staff.card("Do not post it to the school website")
    assert no.get_by_text("NO", exact=True).is_visible()
    shown = " ".join(no.inner_text().split())
    assert ("\u2716 Callum Fraser (4R, Year 4) on the school's list of children whose images must not be published "
            "(Use of images)") in shown, shown
    assert "\u2714 Poppy Ashworth (2H, Year 2) consent granted for the school website" in shown, shown
    assert DO_NOT_PUBLISH_REASON not in shown  # the reason is for the data admin and DSL only
    # The policy's own words behind the reason, with its section.
    assert "must not be on any school list of children whose images must not be published.\u201d Use of images" in shown
    staff.screenshot(SCREENSHOTS / "consent-verdict-no.png", of=no)

    # YES: the whole of class 2H has consent for the website; started from the help card this time.
    question = ask(staff, "\n".join(CLASS_2H), start_from_help=True)
    clicked = staff.click_card_button("Check", card=question)
    assert clicked is not None and clicked.ok, clicked
    yes = staff.card("You may post it to the school website")
    assert yes.get_by_text("YES", exact=True).is_visible()
    assert yes.get_by_text("must not be published", exact=False).count() == 0
    assert "\u2716" not in yes.inner_text()  # no pupil refused
    assert yes.get_by_text("Remember", exact=True).count() == 1  # the reminders that apply
    staff.screenshot(SCREENSHOTS / "consent-verdict-yes.png", of=yes)

    # Both checks are logged: who, which pupils (by id), for which purpose, the answer; never the names typed.
    log = _check_log(e2e_stack)
    assert [(row["checked_by"], row["destination"], row["verdict"]) for row in log] == [
        (STAFF_AAD_ID, "school_website", "no"), (STAFF_AAD_ID, "school_website", "yes"),
    ]
    assert sorted(json.loads(str(log[0]["pupil_ids"]))) == ["Z900000000001", "Z900000000006"]
    assert len(json.loads(str(log[1]["pupil_ids"]))) == len(CLASS_2H)
    assert "Fraser" not in json.dumps(log)

    assert staff.failed_activities() == []
    assert e2e_stack.bot.errors() == []


def test_two_pupils_with_one_name_are_told_apart_by_class(
    staff: PlaygroundSession, e2e_stack: E2EStack, register: str
) -> None:
    staff.open_personal_chat()
    question = ask(staff, "Ruby Green")
    staff.click_card_button("Check", card=question)

    # Two Ruby Greens (4R and 6W): no answer until the right one is chosen.
    choose = staff.card("Which pupil did you mean?")
    assert choose.get_by_text("More than one pupil is called", exact=False).count() == 1
    staff.fill_card_input("Pupil for \u201cRuby Green\u201d", "Ruby Green, 6W, Year 6", card=choose)
    staff.screenshot(SCREENSHOTS / "consent-choose-pupil.png", of=choose)
    clicked = staff.click_card_button("Check again", card=choose)
    assert clicked is not None and clicked.ok, clicked

    yes = staff.card("You may post it to the school website")
    assert "Ruby Green (6W, Year 6)" in yes.inner_text()
    assert json.loads(str(_check_log(e2e_stack)[-1]["pupil_ids"])) == ["Z900000000009"]

    assert staff.failed_activities() == []
    assert e2e_stack.bot.errors() == []


def test_a_personal_phone_is_a_no_until_the_head_teacher_authorises_an_exception(
    staff: PlaygroundSession, head_teacher: PlaygroundSession, e2e_stack: E2EStack, register: str
) -> None:
    head_teacher.open_personal_chat()
    head_teacher.wait_for_activity("installationUpdate", to_bot=True)
    staff.open_personal_chat()

    question = ask(staff, "Inaya Chowdhury", device="My own phone or camera")
    staff.click_card_button("Check", card=question)
    no = staff.card("Do not post it to the school website")
    assert "personal device" in no.inner_text()
    staff.click_card_button("Ask the Head Teacher for an exception", card=no, expect_activity=False)
    staff.fill_card_input("What are the exceptional circumstances, and why was a personal device used?",
                          "The school camera's battery died during sports day", card=no)
    staff.screenshot(SCREENSHOTS / "consent-exception-ask.png", of=no)
    clicked = staff.click_card_button("Send to the Head Teacher", card=no)
    assert clicked is not None and clicked.ok, clicked

    # The Head Teacher decides on her phone: the card names the pupil, the circumstances and the policy.
    request = head_teacher.card("taken on a personal device", timeout=30)
    shown = " ".join(request.inner_text().split())
    for expected in ("Inaya Chowdhury", "The school camera's battery died during sports day", "Sam Teacher",
                     "exceptional circumstances and it is authorised by the Head Teacher"):
        assert expected in shown, expected
    head_teacher.screenshot(SCREENSHOTS / "consent-exception-head-teacher.png", of=request)
    clicked = head_teacher.click_card_button("Approve", card=request)
    assert clicked is not None and clicked.name == "invoke" and clicked.ok, clicked
    head_teacher.wait_for_text("Status: Approved")

    # Sam is told, then checks the same photo again with one click: now a yes, naming the authorisation.
    staff.card("was approved", timeout=30)
    recheck = staff.card("Check it again now", timeout=30)
    clicked = staff.click_card_button("Check it again now", card=recheck)
    assert clicked is not None and clicked.ok, clicked
    yes = staff.card("You may post it to the school website")
    assert "Authorised by the Head Teacher" in yes.inner_text()
    staff.screenshot(SCREENSHOTS / "consent-exception-yes.png", of=yes)

    assert staff.failed_activities() == [] and head_teacher.failed_activities() == []
    assert e2e_stack.bot.errors() == []


def test_a_do_not_photograph_request_reaches_the_data_admin_who_closes_it(
    staff: PlaygroundSession, data_admin: PlaygroundSession, e2e_stack: E2EStack, register: str
) -> None:
    # Jo (the data admin) has the bot in her personal chat, so it can reach her.
    data_admin.open_personal_chat()
    data_admin.wait_for_activity("installationUpdate", to_bot=True)
    staff.open_personal_chat()

    staff.send("do not photograph Poppy Ashworth: her dad asked at the gate")
    recorded = staff.card("Recorded: do not photograph or film")
    assert "The data admin has been told: Jo Bell" in recorded.inner_text()
    staff.screenshot(SCREENSHOTS / "consent-do-not-photograph-recorded.png", of=recorded)

    # At once, for every check: Poppy (consented for everything) is now a no.
    question = ask(staff, "Poppy Ashworth")
    staff.click_card_button("Check", card=question)
    no = staff.card("Do not post it to the school website")
    assert "If anyone asks not to be filmed or photographed then their wishes should be respected." in no.inner_text()

    # Jo's card arrives through the outbox, with the pupil, who asked, the note and the button.
    request = data_admin.card("Do not photograph or film: update the MIS", timeout=30)
    shown = " ".join(request.inner_text().split())
    for expected in ("Poppy Ashworth", "2H", "Z900000000001", "Sam Teacher", "her dad asked at the gate"):
        assert expected in shown, expected
    data_admin.screenshot(SCREENSHOTS / "consent-do-not-photograph-data-admin.png", of=request)

    # Her help lists the data admin's own commands.
    data_admin.send("help")
    helped = data_admin.card("For your role")
    assert "pupil consent + name" in helped.inner_text() and "photo requests" in helped.inner_text()
    data_admin.screenshot(SCREENSHOTS / "consent-data-admin-help.png", of=helped)

    # She looks the pupils up (restricted: the do-not-publish reason is for her and the DSL only).
    data_admin.send("pupil consent Callum Fraser")
    record = data_admin.card("Consent record")
    shown = " ".join(record.inner_text().split())
    assert DO_NOT_PUBLISH_REASON in shown and "Do not publish Yes" in shown
    data_admin.screenshot(SCREENSHOTS / "consent-pupil-record.png", of=record)

    # Once the MIS is updated she closes the request; her card shows it closed.
    clicked = data_admin.click_card_button("Done: updated in the MIS", card=request)
    assert clicked is not None and clicked.name == "invoke" and clicked.ok, clicked
    closed = data_admin.card("Closed: updated in the MIS")
    assert "Closed by Jo Bell" in closed.inner_text()
    assert closed.get_by_role("button", name="Done: updated in the MIS", exact=True).count() == 0

    assert staff.failed_activities() == [] and data_admin.failed_activities() == []
    assert e2e_stack.bot.errors() == []
