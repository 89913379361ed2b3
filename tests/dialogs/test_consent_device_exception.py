"""The personal-device exception ("Use of images": "personal phones are not to be used unless there are exceptional
circumstances and it is authorised by the Head Teacher."), through the running bot.

Sam (staff) checks a photo taken on his phone, asks Anna (the Head Teacher) for an exception, she decides, and the
next checks of the same photo say yes, naming her authorisation. Anything else (another person, other pupils, another
destination, an old decision, a forged payload, a rejection) stays no and sends nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from bot.app import SERVICES
from bot.settings import Settings
from cards.accounts import ACCOUNT_SUBMIT_VERB
from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_EDIT_VERB
from cards.consent import (
    DEVICE_EXCEPTION_RESUBMIT_VERB,
    EXCEPTION_RECHECK_VERB,
    PHOTO_CHECK_SUBMIT_VERB,
    REQUEST_DEVICE_EXCEPTION_VERB,
)
from domain.approvals import ApprovalKind, ApprovalState
from domain.consent import (
    Destination,
    Device,
    PhotoCheckRequest,
    Verdict,
    parse_pupil_names,
)
from store.approvals import ApprovalRequestRow
from store.base import utcnow
from store.consent_store import ConsentStore
from store.db import Database
from store.outbox import OutboxKind
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.store.test_consent_store import migrate_consent
from tests.support.approvals import (
    ANNA,
    LEE,
    SAM,
    Person,
    bot_settings,
    button,
    card_text,
    case_values,
    execute,
    meet,
    outbox_activities,
    outbox_card,
    save_slt_channel,
    train,
)
from tests.support.cardcheck import assert_valid_card

SIMS = Path(__file__).parent.parent / "data" / "consent" / "sims_export.csv"
ALL_CHECKS = {"appropriatelyDressed": "true", "nobodyRidiculed": "true", "notInToiletOrChangingArea": "true"}
PUPILS = "Amelia Hughes, Tobi Adeyemi-Clarke"  # both have consent for everything
CIRCUMSTANCES = "The school tablet froze during the Year 3 assembly; my phone was the only camera in the hall."
ASK = "Ask the Head Teacher for an exception"
AUTHORISED = "Authorised by the Head Teacher (Anna Smith) on "


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return bot_settings(sqlite_url)


@pytest.fixture
async def bot(settings: Settings, connector: FakeConnector) -> AsyncIterator[TestClient]:
    async with running_bot(settings) as client:
        await _prepare(client, connector)
        yield client


async def _prepare(client: TestClient, connector: FakeConnector) -> None:
    store = ConsentStore(client.app[SERVICES].database)
    result = await store.import_csv(SIMS.read_bytes(), imported_by="test", source_name="sims_export.csv")
    assert not hasattr(result, "problems"), result
    await meet(client, connector.url, ANNA, SAM, LEE)
    await save_slt_channel(client.app[SERVICES].database, connector.url)


def _db(client: TestClient) -> Database:
    return client.app[SERVICES].database


async def check(client: TestClient, url: str, person: Person = SAM, *, pupils: str = PUPILS,
                destination: str = "school_website", device: str = "personal_device", **extra: str) -> dict[str, Any]:
    """A typed check ("can I post this photo?" form): the verdict card."""
    answer = await execute(client, url, person, PHOTO_CHECK_SUBMIT_VERB, {
        "destination": destination, "pupils": pupils, "device": device, **ALL_CHECKS, **extra})
    card = answer["value"]
    assert_valid_card(card)
    return card


def answer_of(card: dict[str, Any]) -> str:
    return card["body"][next(i for i, e in enumerate(card["body"]) if e.get("type") == "Container")]["items"][0]["text"]


def exception_form(card: dict[str, Any]) -> dict[str, Any]:
    """The data the verdict card's "Send to the Head Teacher" button sends (without the typed circumstances)."""
    form = button(card, ASK)
    assert form["type"] == "Action.ShowCard"
    [send] = form["card"]["actions"]
    assert send["data"]["verb"] == REQUEST_DEVICE_EXCEPTION_VERB
    return {k: v for k, v in send["data"].items() if k != "verb"}


async def ask(client: TestClient, url: str, data: dict[str, Any], person: Person = SAM,
              circumstances: str = CIRCUMSTANCES) -> dict[str, Any]:
    answer = await execute(client, url, person, REQUEST_DEVICE_EXCEPTION_VERB, {**data, "circumstances": circumstances})
    return answer


async def pho_requests(database: Database) -> list[ApprovalRequestRow]:
    async with database.sessions() as session:
        rows = await session.scalars(select(ApprovalRequestRow).where(
            ApprovalRequestRow.kind == ApprovalKind.PERSONAL_DEVICE_PHOTO.value).order_by(ApprovalRequestRow.id))
        return list(rows.all())


async def decide(client: TestClient, url: str, request_id: int, decision: str = "approve", comment: str = "",
                 round_: int = 1) -> dict[str, Any]:
    return await execute(client, url, ANNA, APPROVAL_DECIDE_VERB,
                         {"request_id": request_id, "round": round_, "decision": decision, "comment": comment})


async def approved_exception(client: TestClient, url: str, **check_args: str) -> int:
    """Sam checks, asks, Anna approves: the request's id."""
    card = await check(client, url, **check_args)
    answer = await ask(client, url, exception_form(card))
    request_id = int(button(answer["value"], "Withdraw")["data"]["request_id"])
    await decide(client, url, request_id)
    return request_id


def _has_button(card: dict[str, Any], title: str) -> bool:
    return any(action.get("title") == title for action in card.get("actions") or [])


async def personal_cards(database: Database, person: Person) -> list[dict[str, Any]]:
    return [outbox_card(activity) for entry, activity, _ in await outbox_activities(database)
            if entry.kind is OutboxKind.SEND_PERSONAL and entry.lane == person.chat_id]


# --- the whole way, on SQLite and PostgreSQL ------------------------------------------------------------------


async def test_a_device_only_no_goes_to_the_head_teacher_and_her_approval_turns_the_same_photo_into_yes(
    database_url: str, connector: FakeConnector
) -> None:
    async with running_bot(bot_settings(database_url)) as client:
        await _prepare(client, connector)
        database = _db(client)
        # Sam's photo on his phone: consent is fine, the device is the one reason for no, so he may ask.
        first = await check(client, connector.url)
        assert answer_of(first) == "NO" and ASK in card_text(first)
        answer = await ask(client, connector.url, exception_form(first))
        text = card_text(answer["value"])
        assert "Sent to Anna Smith for a decision, reference PHO-" in text
        [request] = await pho_requests(database)
        assert request.state == "pending" and request.requester_aad == SAM.aad
        assert {p["pupil_id"] for p in request.payload["pupils"]} == {"A100000000001", "A100000000007"}
        assert request.payload["circumstances"] == CIRCUMSTANCES

        # Anna's decision card is queued to her personal chat, with the names, the circumstances and the policy.
        [for_anna] = await personal_cards(database, ANNA)
        anna_text = card_text(for_anna)
        for expected in ("Amelia Hughes (3B, Year 3)", "Tobi Adeyemi-Clarke (5A, Year 5)", CIRCUMSTANCES,
                         "Requested by", "Sam Teacher", "the school website",
                         "\u201cpersonal phones are not to be used unless there are exceptional circumstances and it "
                         "is authorised by the Head Teacher.\u201d", "Use of images",
                         "for 7 days after the decision"):
            assert expected in anna_text, expected
        assert button(for_anna, "Approve")
        # The SLT channel sees where, how many and who: never a child's name.
        [slt_post] = [outbox_card(a) for e, a, _ in await outbox_activities(database)
                      if e.kind is OutboxKind.POST_TO_CHANNEL]
        slt_text = card_text(slt_post)
        assert "2 pupils" in slt_text and "Sam Teacher" in slt_text and "the school website" in slt_text
        assert "Amelia" not in slt_text and "Tobi" not in slt_text and "tablet froze" not in slt_text

        # Until she decides, the answer stays no.
        assert answer_of(await check(client, connector.url)) == "NO"

        await decide(client, connector.url, request.id)
        sam_cards = await personal_cards(database, SAM)  # in the order the outbox delivers them in his chat
        [told] = [i for i, c in enumerate(sam_cards) if "was approved" in card_text(c)]
        [recheck_at] = [i for i, c in enumerate(sam_cards) if _has_button(c, "Check it again now")]
        assert told < recheck_at  # first what was decided, then the button to act on it
        recheck_message = sam_cards[recheck_at]
        assert_valid_card(recheck_message)
        recheck = button(recheck_message, "Check it again now")
        assert recheck["verb"] == EXCEPTION_RECHECK_VERB

        # "Check it again now": yes, naming the authorisation, without retyping anything.
        store = ConsentStore(database)
        logged_before = len(await store.recent_checks())
        again = (await execute(client, connector.url, SAM, EXCEPTION_RECHECK_VERB, recheck["data"]))["value"]
        assert_valid_card(again)
        assert answer_of(again) == "YES"
        reference = request.reference
        assert reference is not None and AUTHORISED in card_text(again) and reference in card_text(again)
        # A typed check of the same photo (names typed again, in another order) says yes too.
        typed = await check(client, connector.url, pupils="Tobi Adeyemi-Clarke; Amelia Hughes")
        assert answer_of(typed) == "YES" and reference in card_text(typed)
        # ... and a photo of just one of the two pupils.
        assert answer_of(await check(client, connector.url, pupils="Amelia Hughes")) == "YES"
        checks = await store.recent_checks()
        assert len(checks) == logged_before + 3  # one log row per check: only the final verdict
        assert [c.verdict for c in checks[:3]] == ["yes", "yes", "yes"]
        assert all(c.device == Device.PERSONAL_DEVICE.value for c in checks[:3])


async def test_the_exception_lapses_after_the_days_the_school_set(
    database_url: str, connector: FakeConnector
) -> None:
    async with running_bot(bot_settings(database_url)) as client:
        await _prepare(client, connector)
        request_id = await approved_exception(client, connector.url)
        assert answer_of(await check(client, connector.url)) == "YES"
        async with _db(client).transaction() as session:  # as if Anna had decided 8 days ago (the default is 7)
            await session.execute(update(ApprovalRequestRow).where(ApprovalRequestRow.id == request_id)
                                  .values(decided_at=utcnow() - timedelta(days=8)))
        late = await check(client, connector.url)
        assert answer_of(late) == "NO" and ASK in card_text(late)
        answer = await execute(client, connector.url, SAM, EXCEPTION_RECHECK_VERB, {"request_id": request_id})
        assert answer["type"] == "application/vnd.microsoft.activity.message"
        assert "applied to checks until" in answer["value"] and "can I post this photo?" in answer["value"]


async def test_zero_days_means_the_day_of_the_decision_only(sqlite_url: str, connector: FakeConnector) -> None:
    settings = bot_settings(sqlite_url).model_copy(update={"device_exception_days": 0})
    async with running_bot(settings) as client:
        await _prepare(client, connector)
        request_id = await approved_exception(client, connector.url)
        assert answer_of(await check(client, connector.url)) == "YES"  # the same day
        async with _db(client).transaction() as session:
            await session.execute(update(ApprovalRequestRow).where(ApprovalRequestRow.id == request_id)
                                  .values(decided_at=utcnow() - timedelta(days=1, hours=1)))
        assert answer_of(await check(client, connector.url)) == "NO"


# --- what an approval does not cover --------------------------------------------------------------------------


async def test_the_approval_covers_only_that_person_those_pupils_that_destination_and_that_media(
    bot: TestClient, connector: FakeConnector
) -> None:
    url = connector.url
    await approved_exception(bot, url)
    assert answer_of(await check(bot, url)) == "YES"
    # Another member of staff, the same photo: no (the authorisation is Sam's).
    lee = await check(bot, url, LEE)
    assert answer_of(lee) == "NO" and ASK in card_text(lee) and "Authorised by" not in card_text(lee)
    # Another pupil in it (Isla has consent too): no.
    more = await check(bot, url, pupils=f"{PUPILS}, Isla Rose MacLeod")
    assert answer_of(more) == "NO" and ASK in card_text(more)
    # Another destination: no.
    assert answer_of(await check(bot, url, destination="display_in_school")) == "NO"
    # A video instead of a photo: no.
    assert answer_of(await check(bot, url, media="video")) == "NO"
    # A school device needs no exception at all.
    assert answer_of(await check(bot, url, device="school_device")) == "YES"


async def test_a_school_account_matches_by_name_whatever_the_case_and_spaces(
    bot: TestClient, connector: FakeConnector
) -> None:
    url = connector.url
    await train(_db(bot), SAM, LEE)  # trained runners: the Head approves with one click
    proposal = await execute(bot, url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": "a" * 32, **case_values(SAM, LEE)})
    await decide(bot, url, int(button(proposal["value"], "Withdraw")["data"]["request_id"]))  # the account register
    await approved_exception(bot, url, destination="account:Holy Trinity Year 6")
    assert answer_of(await check(bot, url, destination="account:holy  trinity year 6")) == "YES"
    assert answer_of(await check(bot, url, destination="school_website")) == "NO"


async def test_someone_elses_approval_cannot_be_used(bot: TestClient, connector: FakeConnector) -> None:
    request_id = await approved_exception(bot, connector.url)
    answer = await execute(bot, connector.url, LEE, EXCEPTION_RECHECK_VERB, {"request_id": request_id})
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert "asked for by someone else" in answer["value"] and "can I post this photo?" in answer["value"]
    for forged in ({"request_id": 999}, {"request_id": "1; drop table"}, {}):
        answer = await execute(bot, connector.url, SAM, EXCEPTION_RECHECK_VERB, forged)
        assert "I can't find that exception request" in answer["value"]


async def test_a_rejected_request_leaves_the_answer_no(bot: TestClient, connector: FakeConnector) -> None:
    url = connector.url
    answer = await ask(bot, url, exception_form(await check(bot, url)))
    request_id = int(button(answer["value"], "Withdraw")["data"]["request_id"])
    await decide(bot, url, request_id, "reject", "Please retake it on the class iPad.")
    told = [c for c in await personal_cards(_db(bot), SAM) if "was not approved" in card_text(c)]
    assert told and "The answer for this photo stays no" in card_text(told[0])
    assert not [c for c in await personal_cards(_db(bot), SAM) if _has_button(c, "Check it again now")]
    assert answer_of(await check(bot, url)) == "NO"
    answer = await execute(bot, url, SAM, EXCEPTION_RECHECK_VERB, {"request_id": request_id})
    assert "it authorises nothing" in answer["value"] and "my requests" in answer["value"]


# --- the request itself ---------------------------------------------------------------------------------------


async def test_a_double_click_makes_one_request(bot: TestClient, connector: FakeConnector) -> None:
    data = exception_form(await check(bot, connector.url))
    first = await ask(bot, connector.url, data)
    second = await ask(bot, connector.url, data)
    assert "You already sent this request" in card_text(second["value"])
    assert len(await pho_requests(_db(bot))) == 1
    assert button(first["value"], "Withdraw")["data"] == button(second["value"], "Withdraw")["data"]


async def test_the_circumstances_are_required(bot: TestClient, connector: FakeConnector) -> None:
    data = exception_form(await check(bot, connector.url))
    for circumstances in ("", "   \n "):
        answer = await ask(bot, connector.url, data, circumstances=circumstances)
        text = card_text(answer["value"])
        assert "Write what the exceptional circumstances are" in text and "Nothing was sent" in text
        assert ASK in text  # the form is there to try again
    too_long = await ask(bot, connector.url, data, circumstances="x" * 1001)
    assert "at most 1,000 characters" in card_text(too_long["value"])
    assert await pho_requests(_db(bot)) == []


@pytest.mark.parametrize(
    ("forged", "why"),
    [
        ({"pupilIds": ["A100000000001", "A100000000008"]}, "a pupil whose consent was refused"),
        ({"pupilIds": ["A100000000001", "NOBODY-1"]}, "a pupil who is not in the register"),
        ({"destination": "school_account", "accountName": "Sam's own Instagram"}, "an account not in the register"),
        ({"destination": "personal_account"}, "a personal account"),
        ({"appropriatelyDressed": "false"}, "a content check not confirmed"),
        ({"pupilIds": []}, "no pupils"),
        ({"destination": "the moon"}, "a destination that does not exist"),
    ],
)
async def test_a_forged_form_sends_nothing(
    bot: TestClient, connector: FakeConnector, forged: dict[str, Any], why: str
) -> None:
    data = {**exception_form(await check(bot, connector.url)), **forged}
    answer = await ask(bot, connector.url, data)
    if answer["type"] == "application/vnd.microsoft.activity.message":
        assert "That card is out of date" in answer["value"] and "Nothing was sent" in answer["value"], why
    else:
        card = answer["value"]
        assert_valid_card(card)
        assert answer_of(card) == "NO", why
        assert "would not make the answer yes" in card_text(card) and ASK not in card_text(card), why
    assert await pho_requests(_db(bot)) == [], why


async def test_a_consent_withdrawn_after_the_check_stops_the_request(
    bot: TestClient, connector: FakeConnector
) -> None:
    data = exception_form(await check(bot, connector.url, pupils="Amelia Hughes, Oliver Smith (4C)"))
    csv = SIMS.read_text(encoding="utf-8").replace(
        "A100000000002,Smith,Oliver,Olly,4C,Year 4,Granted,Granted",
        "A100000000002,Smith,Oliver,Olly,4C,Year 4,Granted,Withdrawn 01/11/2026")
    result = await ConsentStore(_db(bot)).import_csv(csv.encode(), imported_by="test", source_name="new.csv")
    assert not hasattr(result, "problems"), result
    answer = await ask(bot, connector.url, data)
    text = card_text(answer["value"])
    assert "consent for the school website was withdrawn" in text and "would not make the answer yes" in text
    assert await pho_requests(_db(bot)) == []


async def test_changes_asked_for_are_made_and_sent_again(bot: TestClient, connector: FakeConnector) -> None:
    url = connector.url
    answer = await ask(bot, url, exception_form(await check(bot, url)))
    request_id = int(button(answer["value"], "Withdraw")["data"]["request_id"])
    await decide(bot, url, request_id, "request_changes", "Why was no school device available?")
    form = (await execute(bot, url, SAM, APPROVAL_EDIT_VERB, {"request_id": request_id, "round": 1}))["value"]
    assert_valid_card(form)
    assert "Why was no school device available?" in card_text(form) and CIRCUMSTANCES in card_text(form)
    send = button(form, "Send it again")
    assert send["verb"] == DEVICE_EXCEPTION_RESUBMIT_VERB
    empty = await execute(bot, url, SAM, DEVICE_EXCEPTION_RESUBMIT_VERB, {**send["data"], "circumstances": ""})
    assert "Write what the exceptional circumstances are" in card_text(empty["value"])
    lee = await execute(bot, url, LEE, DEVICE_EXCEPTION_RESUBMIT_VERB, {**send["data"], "circumstances": "mine now"})
    assert "asked for by someone else" in lee["value"]
    changed = "Both school iPads were out on the Year 5 trip."
    again = await execute(bot, url, SAM, DEVICE_EXCEPTION_RESUBMIT_VERB, {**send["data"], "circumstances": changed})
    assert "Sent again (version 2)" in card_text(again["value"])
    [request] = await pho_requests(_db(bot))
    assert request.state == ApprovalState.PENDING.value and request.round == 2
    assert request.payload["circumstances"] == changed


# --- the store: only the final verdict is logged -------------------------------------------------------------


async def test_the_store_asks_about_an_exception_only_for_a_device_only_no_and_logs_once(database_url: str) -> None:
    database = Database(database_url)
    await migrate_consent(database)
    try:
        store = ConsentStore(database)
        result = await store.import_csv(SIMS.read_bytes(), imported_by="test", source_name="sims_export.csv")
        assert not hasattr(result, "problems"), result
        asked: list[Verdict] = []

        async def yes(verdict: Verdict) -> bool:
            asked.append(verdict)
            return True

        def request(pupils: str, **changes: Any) -> PhotoCheckRequest:
            return PhotoCheckRequest(**{
                "destination": Destination.school_account("Year 6"), "pupils": tuple(parse_pupil_names(pupils)),
                "device": Device.PERSONAL_DEVICE, "appropriately_dressed": True, "nobody_ridiculed": True,
                "not_in_toilet_or_changing_area": True, **changes})

        verdict = await store.check_photo(request("Amelia Hughes"), checked_by="sam", school_accounts=["Year 6"],
                                          exception_authorised=yes)
        assert verdict.answer.value == "yes" and verdict.device_exception_used and len(asked) == 1
        assert not asked[0].device_exception_used  # it was asked about the no
        for other in (request("Riya Patel"), request("Amelia Hughes", nobody_ridiculed=False),
                      request("Amelia Hughes", device=Device.SCHOOL_DEVICE)):
            await store.check_photo(other, checked_by="sam", school_accounts=["Year 6"], exception_authorised=yes)
        assert len(asked) == 1
        logged = await store.recent_checks()
        assert len(logged) == 4 and logged[-1].verdict == "yes" and logged[-1].device == "personal_device"
    finally:
        await database.dispose()
