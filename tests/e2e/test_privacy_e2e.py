"""End to end in the Agents Playground: the DPO's privacy commands (issue 16), and an account's closure.

Jo Bell (the DPO; ``dpo``) previews the retention schedule's next run, asks for Sam Teacher's subject access export
(Teams' file consent card), and erases Sam's data: the card says what goes and what stays and why, the button erases,
a second look finds only what is kept. Anna Smith (Head Teacher) marks a school account closed and the register shows
it closed. Screenshots go to docs/screenshots/privacy-*.png (the erase card also at a phone's width, 390 px,
under test-results/e2e/). The Playground does not support Teams' file consent card (it says so in the chat), so
the export's delivery is shown as the Playground shows it; tests/http/test_subject_access_http.py covers the upload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from store.approvals import AccountAdministratorRow, AccountRow, ApprovalRequestRow
from store.incidents import IncidentRow
from tests.e2e.playground import PHONE, REPO_ROOT, E2EStack, PlaygroundSession

pytestmark = [pytest.mark.playground]

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
SAM_AAD = "00000000-0000-0000-0000-000000000101"
LEE_AAD = "00000000-0000-0000-0000-000000000102"


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    return {"POLICYBOT_ROLES_FILE": str(REPO_ROOT / "playground" / "roles.json")}


def test_the_dpo_previews_the_next_retention_run(dpo: PlaygroundSession, e2e_stack: E2EStack) -> None:
    dpo.open_personal_chat()
    dpo.send("retention preview")
    card = dpo.card("Retention: what the next run will do")
    assert "Kept (legal hold)" in card.inner_text()
    dpo.screenshot(SCREENSHOTS / "privacy-retention-preview.png", of=card)
    assert e2e_stack.bot.errors() == []


def test_the_dpo_asks_for_a_subject_access_export(staff: PlaygroundSession, dpo: PlaygroundSession,
                                                  e2e_stack: E2EStack) -> None:
    staff.open_personal_chat()  # Sam uses the bot: his chat is stored, and a refused attempt is in the audit trail
    staff.send("legal holds")
    staff.wait_for_text("Data Protection Officer can do this")
    dpo.open_personal_chat()
    dpo.send("subject access Sam Teacher")
    dpo.wait_for_text("record(s) name Sam Teacher")
    dpo.settle()
    dpo.screenshot(SCREENSHOTS / "privacy-subject-access.png")
    assert e2e_stack.bot.errors() == []


def _seed_reports(database: str) -> None:
    """Three closed reports Sam made last year: a general one, a safeguarding one and one the DPO will hold."""
    engine = create_engine(f"sqlite:///{database}")
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        for n, category in ((101, "negative_comment"), (102, "bullying_pupil"), (103, "offensive_content")):
            session.add(IncidentRow(
                reference=f"INC-2025-{n:04d}", year=2025, number=n, submission_key=f"e2e-privacy-{n}",
                category=category, urgency="standard", status="closed", immediate_risk=False, dsl_told=None,
                reporter_aad=SAM_AAD, reporter_name="Sam Teacher", what_happened="A post about the school.",
                platform="facebook", link="", when_date=None, when_detail="", involved="", actions_taken=[],
                source="form", source_author="", received_at=now - timedelta(days=300),
                routed_at=now - timedelta(days=300), closed_at=now - timedelta(days=290), version=1))
    engine.dispose()


def test_the_dpo_erases_a_person_where_the_law_allows(dpo: PlaygroundSession, e2e_stack: E2EStack) -> None:
    _seed_reports(str(e2e_stack.bot.database_path))
    dpo.open_personal_chat()
    dpo.send("legal hold INC-2025-0103 because a claim is expected")
    dpo.wait_for_text("is on legal hold")
    dpo.send("erase Sam Teacher because he asked on 3 December (UK GDPR Art. 17)")
    card = dpo.card("Erase Sam Teacher?")
    shown = card.inner_text()
    for expected in ("Anonymise: Incident reports", "INC-2025-0101", "Erase: The bot's chats with them",
                     "Keep: Incident reports", "KCSIE", "INC-2025-0102", "On legal hold", "INC-2025-0103",
                     "Keep: Audit trail", "Art. 5(2)"):
        assert expected in shown, expected
    dpo.screenshot(SCREENSHOTS / "privacy-erase.png", of=card)
    original = dpo.page.viewport_size  # at a phone's width (the Playground's own minimum card width is 446 px)
    dpo.page.set_viewport_size(PHONE)
    try:
        dpo.screenshot(REPO_ROOT / "test-results" / "e2e" / "privacy-erase-phone.png", of=card)
        scroll, client = card.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert scroll <= client, (scroll, client)  # nothing in the card overflows sideways
    finally:
        if original:
            dpo.page.set_viewport_size(original)
    dpo.click_card_button("Erase as shown", card=card)
    done = dpo.card("Erasure ERA-")
    assert "Erased" in done.inner_text()
    dpo.screenshot(SCREENSHOTS / "privacy-erased.png", of=done)
    dpo.send("erase Sam Teacher because checking what is left")  # only what the law keeps is left
    again = dpo.card("Erase Sam Teacher?")
    left = again.inner_text()
    assert "Erase: The bot's chats with them" not in left and "Anonymise: Incident reports" not in left
    assert "INC-2025-0102" in left and "INC-2025-0103" in left  # only what the law keeps is left
    assert e2e_stack.bot.errors() == []


def _seed_account(database: str) -> None:
    """An approved account in the register (as the account request flow leaves it: tests/e2e/test_accounts_e2e.py)."""
    engine = create_engine(f"sqlite:///{database}")
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.add(ApprovalRequestRow(
            id=900, reference="ACC-2026-0900", client_key="e2e-privacy", kind="new_account", state="approved",
            round=1, requester_aad=SAM_AAD, requester_name="Sam Teacher", payload={}, created_at=now - timedelta(30),
            updated_at=now - timedelta(29), decided_at=now - timedelta(29), decided_by_name="Anna Smith"))
        session.flush()
        session.add(AccountRow(id=900, platform="Facebook", account_name="Year 6 news", audience="Year 6 parents",
                               visibility="private", approval_request_id=900, approval_reference="ACC-2026-0900",
                               approved_at=now - timedelta(29), approved_by_name="Anna Smith", created_at=now))
        session.flush()
        for aad, name in ((SAM_AAD, "Sam Teacher"), (LEE_AAD, "Lee Carter")):
            session.add(AccountAdministratorRow(account_id=900, aad_object_id=aad, name=name, training="confirmed"))
    engine.dispose()


def test_the_head_teacher_closes_a_school_account(head_teacher: PlaygroundSession, e2e_stack: E2EStack) -> None:
    _seed_account(str(e2e_stack.bot.database_path))
    head_teacher.open_personal_chat()
    head_teacher.send("close account Year 6 news because the class page is no longer used")
    head_teacher.wait_for_text("is marked closed in the register")
    head_teacher.send("accounts")
    register = head_teacher.card("School social media accounts")
    assert "Closed or transferred" in register.inner_text() and "no longer used" in register.inner_text()
    head_teacher.screenshot(SCREENSHOTS / "privacy-account-closed.png", of=register)
    assert e2e_stack.bot.errors() == []
