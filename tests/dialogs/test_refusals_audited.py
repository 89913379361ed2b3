"""Every refusal, and every view of restricted detail, is a line of the one audit trail (issue 14, item 5).

Through the running app (its factory, its router, its services) with the people of ``playground/roles.json``:
the line names who (the authenticated sender), what (the verb or command), which record (as the card named it,
or the report's reference when the service loaded it), when and why; nothing else changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import SERVICES
from domain.audit import AuditOutcome, RecordType
from domain.incidents import Category
from store.consent_store import ConsentStore
from tests.fakes.connector import FakeConnector
from tests.support.audit_world import AMELIA, ANNA, JO, LEE, SAM, TOM, Bot, audit_world


@pytest.fixture
async def bot(sqlite_url: str, connector: FakeConnector) -> AsyncIterator[Bot]:
    async with audit_world(sqlite_url, connector) as world:
        yield world


def refused(who: dict[str, Any], action: str, record_type: RecordType, record_ref: str | None,
            reason: str) -> tuple[Any, ...]:
    return (who["aadObjectId"], who["name"], action, record_type, record_ref, AuditOutcome.REFUSED, reason)


async def test_an_incident_action_by_the_wrong_person_is_in_the_trail_with_who_and_which_report(bot: Bot) -> None:
    allegation = await bot.report(Category.ALLEGATION_ABOUT_STAFF)  # for the Head Teacher only

    by_tom = await bot.click(TOM, "incident_take_lead", {"incident": allegation.id})  # DSL and SLT: not named
    by_lee = await bot.click(LEE, "incident_view", {"incident": allegation.id})  # staff: no handler at all

    assert "Nothing was changed" in by_tom["value"] and "Nothing was changed" in by_lee["value"]
    assert await bot.trail() == [
        refused(TOM, "incident_take_lead", RecordType.INCIDENT, allegation.reference, "not_permitted"),
        refused(LEE, "incident_view", RecordType.INCIDENT, str(allegation.id), "role_not_held"),
    ]
    after = await bot.incident(allegation.id)
    assert (after.lead_aad, after.status, after.version) == (None, allegation.status, allegation.version)


async def test_consent_and_admin_refusals_name_the_actor(bot: Bot) -> None:
    await bot.import_register()
    store = ConsentStore(bot.client.app[SERVICES].database)

    await bot.click(LEE, "do_not_photograph_clear", {"pupilId": AMELIA})
    await bot.click(LEE, "consent_register_activate", {"version": 1})
    told = await bot.say(LEE, "pupil consent Amelia Hughes")
    await bot.say(LEE, "update consent register")
    await bot.say(SAM, "do not photograph Amelia Hughes", kind="channel")  # names a pupil outside the chat

    assert told and "Only the data admin" in told[0]
    assert await bot.trail() == [
        refused(LEE, "do_not_photograph_clear", RecordType.CONSENT_RECORD, AMELIA, "role_not_held"),
        refused(LEE, "consent_register_activate", RecordType.CONSENT_REGISTER, "1", "role_not_held"),
        refused(LEE, "pupil_consent", RecordType.CONSENT_RECORD, None, "role_not_held"),
        refused(LEE, "update_consent_register", RecordType.CONSENT_REGISTER, None, "role_not_held"),
        refused(SAM, "do_not_photograph", RecordType.CONSENT_RECORD, None, "not_personal_chat"),
    ]
    assert await store.open_do_not_photograph_requests() == []


async def test_status_and_approvals_refusals_are_recorded(bot: Bot) -> None:
    status = await bot.say(LEE, "status")
    approvals = await bot.say(LEE, "approvals")

    assert status == ["Only members of the Senior Leadership Team can see the bot's status. Type **whoami** to see "
                      "your roles."]
    assert approvals and approvals[0].startswith("Only the Head Teacher, or a deputy")
    assert await bot.trail() == [
        refused(LEE, "status", RecordType.NONE, None, "role_not_held"),
        refused(LEE, "approvals", RecordType.APPROVAL_REQUEST, None, "role_not_held"),
    ]


async def test_a_message_without_an_identity_is_refused_and_recorded(bot: Bot) -> None:
    nobody = {"id": "29:someone", "name": "Someone"}  # no aadObjectId

    told = await bot.say(nobody, "status")
    answer = await bot.click(nobody, "incident_view", {"incident": 1})

    assert "couldn't tell who you are" in told[0] and "couldn't tell who you are" in answer["value"]
    assert await bot.trail() == [
        (None, None, "status", RecordType.NONE, None, AuditOutcome.REFUSED, "no_identity"),
        (None, None, "incident_view", RecordType.INCIDENT, None, AuditOutcome.REFUSED, "no_identity"),
    ]


async def test_views_of_restricted_detail_are_recorded(bot: Bot) -> None:
    report = await bot.report(Category.NEGATIVE_COMMENT)
    await bot.import_register()

    details = await bot.click(ANNA, "incident_view", {"incident": report.id})
    await bot.say(JO, "pupil consent Amelia Hughes")

    assert details["type"] == "application/vnd.microsoft.card.adaptive"
    assert await bot.trail() == [
        (ANNA["aadObjectId"], ANNA["name"], "incident_view", RecordType.INCIDENT, report.reference,
         AuditOutcome.VIEWED, "details"),
        (JO["aadObjectId"], JO["name"], "pupil_consent", RecordType.CONSENT_RECORD, AMELIA, AuditOutcome.VIEWED,
         "consent_record"),
    ]


async def test_the_trail_is_logged_without_names_or_text(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    allegation = await bot.report(Category.ALLEGATION_ABOUT_STAFF)
    caplog.clear()

    await bot.click(TOM, "incident_take_lead", {"incident": allegation.id})
    await bot.say(LEE, "pupil consent Amelia Hughes")

    logged = [(r.getMessage(), getattr(r, "record_ref", None), getattr(r, "reason", None))
              for r in caplog.records if r.name == "services.audit"]
    assert logged == [("audit: incident_take_lead refused", allegation.reference, "not_permitted"),
                      ("audit: pupil_consent refused", None, "role_not_held")]
    text = caplog.text
    assert all(secret not in text for secret in ("Tom Reed", "Lee Carter", "Amelia", "Seen online"))
