"""A media enquiry (issue 15, gap 7): its own short form under the policy's words, checked with clear answers, kept
with the report, sent to SLT (the channel: "media enquiry, deadline X") and to the Head Teacher, never the abuse
form; and what an attacker's crafted submits get. On SQLite and PostgreSQL where it is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cards.incidents import Verb
from cards.media_enquiry import media_enquiry_form_card
from domain.incidents import ROUTING, Category, Status
from domain.media_enquiry import POLICY_QUOTE, MediaEnquiryProblem, read_media_enquiry
from services.requests import CommandRequest
from store import incidents as records
from store import media_enquiries
from tests.support.cardcheck import assert_valid_cards
from tests.support.incidents_world import ANNA, PRIYA, SAM, TOM, School, actor, card_text, shown_text
from tests.support.migrations import schema_differences, tables_after_downgrade

REAL_POLICY = Path(__file__).resolve().parents[3] / "shared" / "reference" / "social-media-policy.txt"
DRAFT = "b" * 32
ENQUIRY = {
    "enquirer": "Jane SECRETNAME", "organisation": "Maidenhead Advertiser",
    "contact": "jane@advertiser.example, 01632 960123",
    "deadline_date": "2026-11-24", "deadline_time": "17:00",
    "about": "SECRETABOUT: asked for a comment on the parents' Facebook post about the Year 6 trip",
}
ABUSE_WORDS = ("Blocked the user", "Deleted the post", "Kept a screenshot", "What have you already done",
               "Screenshots:", "paste them", "Where? (platform)")


@pytest.fixture
async def school(migrated_database_url: str) -> AsyncIterator[School]:
    world = await School.open(migrated_database_url)
    yield world
    await world.close()


async def open_form(school: School) -> dict[str, Any]:
    first = await school.act(SAM, Verb.RISK, {"draft": DRAFT, "risk": "no"})
    assert first.card is not None
    media = await school.act(SAM, Verb.TOPIC, {"draft": DRAFT, "risk": "no", "topic": "media"})
    assert media.card is not None
    return media.card.to_dict()


async def send(school: School, **fields: Any) -> dict[str, Any] | str:
    result = await school.act(SAM, Verb.MEDIA_ENQUIRY, {"draft": DRAFT, "risk": "no", **ENQUIRY, **fields})
    if result.card is None:
        assert result.message
        return result.message
    return result.card.to_dict()


def _normalised(text: str) -> str:
    return " ".join(text.split())


# --- the form --------------------------------------------------------------------------------------------------


async def test_the_journalist_answer_opens_the_short_form_with_the_policys_words_and_no_abuse_fields(
    school: School,
) -> None:
    form = await open_form(school)
    text = shown_text(form)
    assert "Report: Media enquiry (press, radio, TV)" in text
    assert POLICY_QUOTE in text and "Do not respond to the enquiry yourself" in text
    assert POLICY_QUOTE in _normalised(REAL_POLICY.read_text(encoding="utf-8"))  # verbatim, not invented
    ids = [item.get("id") for item in form["body"] if isinstance(item, dict)]
    assert ids[-7:-1] == ["enquirer", "organisation", "contact", "deadline_date", "deadline_time", "about"]
    for word in ABUSE_WORDS:
        assert word not in text, word
    assert not {"actions_taken", "platform", "link", "involved"} & set(filter(None, ids))
    assert_valid_cards([form])


# --- checking what was typed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "problem"), [
    ({"enquirer": ""}, "Say who is asking"),
    ({"about": "   "}, "Say what the enquiry is about"),
    ({"contact": "ask at reception"}, "Give a phone number or an email address"),
    ({"deadline_date": "2026-11-23"}, "has passed: today is Tue 24 Nov 2026"),
    ({"deadline_date": "tomorrow"}, "The deadline's date is not a date."),
    ({"deadline_time": "teatime"}, "The deadline's time is not a time"),
    ({"enquirer": "J" * 201}, "Who is asking is too long: at most 200 characters, 201 given"),
    ({"about": "x" * 3001}, "What it is about is too long: at most 3000 characters"),
], ids=["no-who", "no-what", "contact", "past", "not-a-date", "not-a-time", "long-who", "long-what"])
async def test_a_problem_comes_back_in_the_form_with_what_was_typed_and_nothing_is_sent(
    school: School, fields: dict[str, str], problem: str,
) -> None:
    before = await school.records()
    card = await send(school, **fields)
    assert isinstance(card, dict)
    text = shown_text(card)
    assert problem in text and "Maidenhead Advertiser" in text  # what was typed is kept
    assert await school.records() == before


async def test_far_too_long_a_payload_is_refused_with_an_answer_not_an_error(school: School) -> None:
    before = await school.records()
    answer = await send(school, about="x" * 50_000)
    assert isinstance(answer, str) and "not valid" in answer
    assert await school.records() == before


def test_contact_details_are_checked_loosely_and_kept_as_typed() -> None:
    today = __import__("datetime").date(2026, 11, 24)
    for contact in ("01632 960123", "+44 (0)1632 960 123", "newsdesk@paper.example", "ring Jo on 07700 900123 pm",
                    ""):
        assert read_media_enquiry({"enquirer": "Jo", "about": "A post", "contact": contact}, today).contact == contact
    for contact in ("Jo", "ext 12", "jo@", "call me"):
        with pytest.raises(MediaEnquiryProblem, match="phone number or an email"):
            read_media_enquiry({"enquirer": "Jo", "about": "A post", "contact": contact}, today)
    timed = read_media_enquiry({"enquirer": "Jo", "about": "A post", "deadline_time": "5pm"}, today)
    assert timed.deadline_date == today and timed.deadline_text() == "Tue 24 Nov 2026, 17:00"  # a time alone: today


# --- stored, routed, shown to the right people -------------------------------------------------------------------


async def test_an_enquiry_is_stored_and_goes_to_slts_channel_and_the_head_teacher(school: School) -> None:
    await open_form(school)
    receipt = await send(school)
    assert isinstance(receipt, dict)
    text = shown_text(receipt)
    assert "Report received: INC-2026-0001" in text
    assert text.index("Do not respond to the enquiry yourself") < text.index("Report received")  # first
    assert POLICY_QUOTE in text
    for word in ABUSE_WORDS:
        assert word not in text, word

    async with school.database.sessions() as session:
        saved = await records.get(session, 1)
        enquiry = await media_enquiries.get(session, 1)
    assert saved is not None and saved.category is Category.MEDIA_ENQUIRY and saved.actions_taken == ()
    assert saved.platform == "" and saved.link == "" and saved.what_happened == ENQUIRY["about"]
    assert enquiry is not None and enquiry.enquirer == "Jane SECRETNAME" and enquiry.contact == ENQUIRY["contact"]
    assert enquiry.deadline_text() == "Tue 24 Nov 2026, 17:00"

    sent = await school.sent_to()
    assert set(sent) == {"channel", ANNA.name}  # SLT's channel, and the Head Teacher personally
    [post] = sent["channel"]
    channel = card_text(post)
    assert "Media enquiry" in channel and "Tue 24 Nov 2026, 17:00" in channel
    for secret in ("SECRET", "Advertiser", "jane@", "01632", "Sam Teacher"):
        assert secret not in channel, secret
    [details] = sent[ANNA.name]
    shown = shown_text(details)
    for expected in ("Jane SECRETNAME", "Maidenhead Advertiser", r"jane\[@\]advertiser\[.\]example, 01632 960123",
                     "Tue 24 Nov 2026, 17:00", "SECRETABOUT"):
        assert expected in shown, expected
    for word in ("Already done", "Who is involved", "Platform", "Link"):
        assert word not in shown, word


async def test_open_reports_shows_the_deadline_to_slt_and_the_head(school: School) -> None:
    await send(school)
    handler, _ = school.router.match_command("open reports")  # type: ignore[misc]
    for who in (ANNA, PRIYA, TOM):
        listing = (await handler(CommandRequest("open reports", "", actor(who)))).cards[0].to_dict()
        text = shown_text(listing)
        assert "INC-2026-0001: Media enquiry (press, radio, TV)" in text
        assert "Deadline" in text and "Tue 24 Nov 2026, 17:00" in text
        assert "SECRET" not in card_text(listing)


async def test_the_deadline_stays_on_the_channel_card_when_it_is_updated(school: School) -> None:
    await send(school)
    result = await school.act(ANNA, Verb.TAKE_LEAD, {"incident": 1}, kind="channel")
    assert result.card is not None
    text = shown_text(result.card.to_dict())
    assert "Tue 24 Nov 2026, 17:00" in text and "Anna Smith" in text and "SECRET" not in text
    async with school.database.sessions() as session:
        assert (await records.get(session, 1)).status is Status.IN_PROGRESS  # type: ignore[union-attr]


# --- the attacker ----------------------------------------------------------------------------------------------


async def test_a_media_enquiry_sent_on_the_abuse_form_is_refused_and_its_own_form_shown(school: School) -> None:
    before = await school.records()
    result = await school.act(SAM, Verb.SUBMIT, {
        "draft": DRAFT, "risk": "no", "category": "media_enquiry", "what_happened": "A journalist rang",
        "actions_taken": "blocked,deleted,screenshot_kept", "platform": "Facebook",
    })
    assert result.card is not None
    text = shown_text(result.card.to_dict())
    assert "A media enquiry has its own short form" in text and "Nothing was sent" in text and POLICY_QUOTE in text
    assert await school.records() == before


async def test_abuse_fields_smuggled_into_the_enquiry_are_ignored(school: School) -> None:
    await send(school, actions_taken="blocked,deleted", platform="Facebook", link="https://evil.example",
               involved="SMUGGLED", category="offensive_content")
    async with school.database.sessions() as session:
        saved = await records.get(session, 1)
    assert saved is not None and saved.category is Category.MEDIA_ENQUIRY
    assert saved.actions_taken == () and saved.platform == "" and saved.link == "" and saved.involved == ""
    assert "SMUGGLED" not in str(await school.records())


async def test_the_same_enquiry_sent_twice_is_one_record(school: School) -> None:
    await send(school)
    again = await send(school)
    assert isinstance(again, dict) and "already received" in shown_text(again)
    async with school.database.sessions() as session:
        assert len(await records.reported_by(session, SAM.aad)) == 1
        assert len(await media_enquiries.for_reports(session, [1, 2])) == 1


# --- the table ---------------------------------------------------------------------------------------------------


async def test_the_migration_matches_the_model_and_downgrades(school: School) -> None:
    assert await schema_differences(school.database, {"incident_media_enquiries"}) == []
    tables = await tables_after_downgrade(school.database, "0013_media_enquiries@0010_subject_access")
    assert "incident_media_enquiries" not in tables and "incidents" in tables


def test_the_form_card_is_valid_with_a_problem_and_values() -> None:
    card = media_enquiry_form_card(DRAFT, ROUTING[Category.MEDIA_ENQUIRY], True, None, today_text="today is Tue",
                                   values=ENQUIRY, problem="Say who is asking [x](https://evil.example)")
    assert_valid_cards([card.to_dict()])
    assert "https://evil" not in shown_text(card.to_dict())


# --- the enquirer's personal data: found by subject access, removed with the report ---------------------------------


async def test_a_subject_access_search_for_the_journalist_finds_the_enquiry(school: School) -> None:
    from domain.subject_access import Subject
    from store.subject_access import records_naming

    await send(school)
    async with school.database.sessions() as session:
        found = await records_naming(session, Subject("Jane SECRETNAME", names=frozenset({"Jane SECRETNAME"})), [])
    tables = {record.table for record in found}
    assert "incident_media_enquiries" in tables


async def test_anonymising_the_report_removes_the_enquirers_details(school: School) -> None:
    from store import retention as retention_store

    await send(school)
    async with school.database.transaction() as session:
        run_id = await retention_store.start_run(session, school.clock.now())
        async with retention_store.unlocked(session, run_id):
            await retention_store.anonymise_incident(session, 1)
    async with school.database.sessions() as session:
        assert await media_enquiries.get(session, 1) is None
        assert await records.get(session, 1) is not None  # the report stays, anonymised (counts survive)


async def test_report_to_slt_on_a_message_does_not_take_a_media_enquiry_on_the_abuse_form(school: School) -> None:
    from dialogs.incidents import message_extension_submit

    before = await school.records()
    answer = await message_extension_submit(school.incidents, {
        "commandId": "reportMessage", "messagePayload": {"body": {"content": "A reporter emailed me"}},
        "data": {"draft": DRAFT, "risk": "no", "category": "media_enquiry", "what_happened": "A reporter emailed",
                 "actions_taken": "blocked"},
    }, actor(SAM))
    text = card_text(answer)
    assert "A media enquiry has its own short form" in text and "Nothing was sent" in text
    assert await school.records() == before
