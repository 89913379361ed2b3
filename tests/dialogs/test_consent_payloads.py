"""Photo consent's card payloads and units of work, through the running bot.

- Each verb's data is validated against its payload model (``cards/consent.py``, ``cards/consent_admin.py``)
  before the use case runs: data of the wrong type, lists, huge strings, missing ids get a clear answer (HTTP 200,
  an invoke answer saying what to do) and change nothing: no check logged, no request recorded or closed, no
  approval request, no version made current, nothing queued for Teams.
- Each use case writes in at most one unit of work (reads before it are fine): a click is one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import SERVICES
from bot.settings import Settings
from cards.approvals import APPROVAL_EDIT_VERB
from cards.consent import (
    DEVICE_EXCEPTION_RESUBMIT_VERB,
    EXCEPTION_RECHECK_VERB,
    PHOTO_CHECK_CHOOSE_VERB,
    PHOTO_CHECK_SUBMIT_VERB,
    REQUEST_DEVICE_EXCEPTION_VERB,
)
from cards.consent_admin import (
    CONSENT_REGISTER_ACTIVATE_VERB,
    DO_NOT_PHOTOGRAPH_CHOOSE_VERB,
    DO_NOT_PHOTOGRAPH_CLEAR_VERB,
    DO_NOT_PHOTOGRAPH_SUBMIT_VERB,
)
from dialogs.consent_admin import register_consent_admin
from dialogs.router import Router
from services.audit import AuditTrail
from services.consent_admin import CsvCandidate
from services.requests import CardAction, CommandRequest
from store.approvals import ApprovalRequestRow
from store.consent_store import ConsentCheckLogRow, ConsentStore
from store.db import Database
from store.outbox import list_entries
from tests.dialogs.test_consent_device_exception import (
    ALL_CHECKS,
    CIRCUMSTANCES,
    approved_exception,
    ask,
    check,
    decide,
    exception_form,
)
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.approvals import ANNA, SAM, Person, bot_settings, button, execute, meet, save_slt_channel
from tests.support.cardtext import card_texts

DATA = Path(__file__).parent.parent / "data" / "consent"
JO = Person("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")  # data admin
AMELIA = "A100000000001"
HUGE = "x" * 100_000
QUESTION = {"destination": "school_website", "pupils": "Amelia Hughes", "device": "school_device", **ALL_CHECKS}
CLEAR_ANSWERS = (
    "That button is out of date or its data is not valid. Nothing was changed.",  # the router, before any service
    "That card is out of date",
    "I can't find that exception request",
    "Please choose where it will go",
    "Name one pupil at a time",
    "at most 200 characters",
    "is not in the consent register",
    "has changed since that card",
)


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return bot_settings(sqlite_url)


@pytest.fixture
async def bot(settings: Settings, connector: FakeConnector) -> AsyncIterator[TestClient]:
    """The running bot with two register versions (2, the SIMS export, current; 1 kept), an open do-not-photograph
    request for Amelia, and the people it knows."""
    async with running_bot(settings) as client:
        store = ConsentStore(_db(client))
        for name in ("arbor_export_bom.csv", "sims_export.csv"):  # version 2 (current) is the SIMS export
            await store.import_csv((DATA / name).read_bytes(), imported_by=JO.aad, source_name=name)
        await meet(client, connector.url, ANNA, SAM, JO)
        await save_slt_channel(_db(client), connector.url)
        await store.record_do_not_photograph(AMELIA, requested_by=SAM.aad, note="her mum asked")
        yield client


def _db(client: TestClient) -> Database:
    return client.app[SERVICES].database


async def _state(client: TestClient) -> dict[str, Any]:
    """What a click could change."""
    store = ConsentStore(_db(client))
    async with _db(client).sessions() as session:
        checks = await session.scalar(select(func.count()).select_from(ConsentCheckLogRow))
        approvals = await session.scalar(select(func.count()).select_from(ApprovalRequestRow))
        outbox = len(await list_entries(session))
    return {
        "checks": checks, "approvals": approvals, "outbox": outbox,
        "open": [(r.id, r.pupil_id) for r in await store.open_do_not_photograph_requests()],
        "current": [v.id for v in await store.versions() if v.is_current],
    }


def _answer_text(answer: dict[str, Any]) -> str:
    value = answer["value"]
    return value if isinstance(value, str) else card_texts(value).replace("\\", "")  # Markdown escapes removed


MALFORMED: list[tuple[str, Person, dict[str, Any]]] = [
    # the question card
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {**QUESTION, "destination": ["school_website"]}),
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {**QUESTION, "device": {"kind": "school_device"}}),
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {**QUESTION, "destination": HUGE}),
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {**QUESTION, "pupils": HUGE}),
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {**QUESTION, "pupils": ["Amelia Hughes"]}),
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {**QUESTION, "appropriatelyDressed": ["true"]}),
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {**QUESTION, "media": 7}),
    (PHOTO_CHECK_SUBMIT_VERB, SAM, {}),
    # the choice card
    (PHOTO_CHECK_CHOOSE_VERB, SAM, {**QUESTION, "destination": 5, "choice_0": AMELIA}),
    (PHOTO_CHECK_CHOOSE_VERB, SAM, {**QUESTION, "pupils": {"a": {"b": {"c": "deep"}}}, "choice_0": AMELIA}),
    (PHOTO_CHECK_CHOOSE_VERB, SAM, {"choice_0": AMELIA}),
    # the exception form
    (REQUEST_DEVICE_EXCEPTION_VERB, SAM, {"destination": "school_website", "pupilIds": AMELIA}),
    (REQUEST_DEVICE_EXCEPTION_VERB, SAM, {"destination": "school_website", "pupilIds": [HUGE]}),
    (REQUEST_DEVICE_EXCEPTION_VERB, SAM, {"destination": "school_website", "pupilIds": [AMELIA] * 1000}),
    (REQUEST_DEVICE_EXCEPTION_VERB, SAM, {"destination": "school_website", "pupilIds": [AMELIA],
                                          "circumstances": HUGE}),
    (REQUEST_DEVICE_EXCEPTION_VERB, SAM, {"destination": {"kind": "press"}, "pupilIds": [AMELIA]}),
    (REQUEST_DEVICE_EXCEPTION_VERB, SAM, {"destination": "school_website", "pupilIds": [[AMELIA]]}),
    (REQUEST_DEVICE_EXCEPTION_VERB, SAM, {}),
    # the exception's own buttons
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {"request_id": [1], "circumstances": "again"}),
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {"request_id": True, "circumstances": "again"}),
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {"request_id": -5, "circumstances": "again"}),
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {"request_id": 10**30, "circumstances": "again"}),
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {"request_id": "9" * 5000, "circumstances": "again"}),
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {"request_id": 1, "circumstances": ["again"]}),
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {"request_id": 1, "circumstances": HUGE}),
    (DEVICE_EXCEPTION_RESUBMIT_VERB, SAM, {}),
    (EXCEPTION_RECHECK_VERB, SAM, {"request_id": {"id": 1}}),
    (EXCEPTION_RECHECK_VERB, SAM, {"request_id": 1.5}),
    (EXCEPTION_RECHECK_VERB, SAM, {"request_id": "1; drop table approval_requests"}),
    (EXCEPTION_RECHECK_VERB, SAM, {}),
    # do not photograph
    (DO_NOT_PHOTOGRAPH_SUBMIT_VERB, SAM, {"pupil": ["Riya Patel"]}),
    (DO_NOT_PHOTOGRAPH_SUBMIT_VERB, SAM, {"pupil": HUGE}),
    (DO_NOT_PHOTOGRAPH_SUBMIT_VERB, SAM, {"pupil": "x" * 300}),
    (DO_NOT_PHOTOGRAPH_SUBMIT_VERB, SAM, {"pupil": "Riya Patel", "note": {"who": "mum"}}),
    (DO_NOT_PHOTOGRAPH_SUBMIT_VERB, SAM, {}),
    (DO_NOT_PHOTOGRAPH_CHOOSE_VERB, SAM, {"typed": "Riya", "choice": ["A100000000003"]}),
    (DO_NOT_PHOTOGRAPH_CHOOSE_VERB, SAM, {"typed": "Riya", "choice": "A" * 65}),
    (DO_NOT_PHOTOGRAPH_CHOOSE_VERB, SAM, {"typed": 5, "choice": "A100000000003"}),
    (DO_NOT_PHOTOGRAPH_CHOOSE_VERB, SAM, {"typed": "Nobody Here", "choice": "NOBODY-1"}),
    (DO_NOT_PHOTOGRAPH_CLEAR_VERB, JO, {}),
    (DO_NOT_PHOTOGRAPH_CLEAR_VERB, JO, {"pupilId": [AMELIA]}),
    (DO_NOT_PHOTOGRAPH_CLEAR_VERB, JO, {"pupilId": HUGE}),
    (DO_NOT_PHOTOGRAPH_CLEAR_VERB, JO, {"pupilId": AMELIA, "list": "yes please"}),
    # the register's versions (1 is kept, 2 is current)
    (CONSENT_REGISTER_ACTIVATE_VERB, JO, {}),
    (CONSENT_REGISTER_ACTIVATE_VERB, JO, {"version": "1; drop table consent_state"}),
    (CONSENT_REGISTER_ACTIVATE_VERB, JO, {"version": True}),
    (CONSENT_REGISTER_ACTIVATE_VERB, JO, {"version": 1.5}),
    (CONSENT_REGISTER_ACTIVATE_VERB, JO, {"version": [1]}),
    (CONSENT_REGISTER_ACTIVATE_VERB, JO, {"version": 10**30}),
    (CONSENT_REGISTER_ACTIVATE_VERB, JO, {"version": "9" * 5000}),
]


async def test_malformed_payloads_get_a_clear_answer_and_change_nothing(bot: TestClient,
                                                                       connector: FakeConnector) -> None:
    before = await _state(bot)
    for verb, person, data in MALFORMED:
        answer = await execute(bot, connector.url, person, verb, data)  # HTTP 200, invoke status 200
        text = _answer_text(answer)
        assert any(clear in text for clear in CLEAR_ANSWERS), (verb, data, text[:300])
        assert await _state(bot) == before, (verb, data)


async def test_the_router_refuses_before_the_use_case_runs(bot: TestClient) -> None:
    router: Router = bot.app[SERVICES].router
    table = router.describe()["verbs"]
    for verb, model in [
        (PHOTO_CHECK_SUBMIT_VERB, "PhotoCheckSubmit"), (PHOTO_CHECK_CHOOSE_VERB, "PhotoCheckChoiceSubmit"),
        (REQUEST_DEVICE_EXCEPTION_VERB, "DeviceExceptionSubmit"),
        (DEVICE_EXCEPTION_RESUBMIT_VERB, "DeviceExceptionResubmit"), (EXCEPTION_RECHECK_VERB, "ExceptionButton"),
        (DO_NOT_PHOTOGRAPH_SUBMIT_VERB, "DoNotPhotographSubmit"),
        (DO_NOT_PHOTOGRAPH_CHOOSE_VERB, "DoNotPhotographChoice"),
        (DO_NOT_PHOTOGRAPH_CLEAR_VERB, "ClearSubmit"), (CONSENT_REGISTER_ACTIVATE_VERB, "ActivateSubmit"),
    ]:
        assert table[verb]["payload"] == model, verb
    ran: list[str] = []
    database = _db(bot)
    original = database.unit_of_work

    def watched(*, read_only: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        ran.append("read" if read_only else "write")
        return original(read_only=read_only)

    database.unit_of_work = watched  # type: ignore[method-assign]
    try:
        result = await router.dispatch(CardAction(CONSENT_REGISTER_ACTIVATE_VERB, {"version": [1]}, JO.actor()))
    finally:
        del database.unit_of_work
    assert result.message is not None and "out of date" in result.message and ran == []


def test_a_huge_choice_position_is_no_choice() -> None:
    from cards.consent import PhotoCheckChoiceSubmit, PupilChoiceSubmit

    data = {**QUESTION, "choice_" + "9" * 5000: AMELIA, "choice_0": ["A1"], "choice_1": "A100000000002"}
    assert PhotoCheckChoiceSubmit.model_validate(data).choices() == {1: "A100000000002"}
    assert PupilChoiceSubmit.model_validate(data).choices() == {1: "A100000000002"}


# --- one unit of work per click ---------------------------------------------------------------------------


_CLICK: ContextVar[list[str] | None] = ContextVar("consent_test_click", default=None)


@dataclass
class Clicks:
    """The units of work each dispatched card action opened, by verb ("read" or "write", in order)."""

    by_verb: dict[str, list[list[str]]] = field(default_factory=dict)

    def writes(self, verb: str) -> list[int]:
        return [units.count("write") for units in self.by_verb.get(verb, [])]


@pytest.fixture
def clicks(bot: TestClient) -> Iterator[Clicks]:
    """Counts the units of work opened inside each card action the router dispatches (the edge's own, such as the
    duplicate ledger's, are outside and not counted)."""
    services = bot.app[SERVICES]
    database, router = services.database, services.router
    original_unit, original_dispatch = database.unit_of_work, router.dispatch
    seen = Clicks()

    def unit_of_work(*, read_only: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        units = _CLICK.get()
        if units is not None:
            units.append("read" if read_only else "write")
        return original_unit(read_only=read_only)

    async def dispatch(action: CardAction) -> Any:
        units: list[str] = []
        token = _CLICK.set(units)
        try:
            return await original_dispatch(action)
        finally:
            _CLICK.reset(token)
            seen.by_verb.setdefault(action.verb, []).append(units)

    database.unit_of_work = unit_of_work  # type: ignore[method-assign]
    router.dispatch = dispatch  # type: ignore[method-assign]
    yield seen
    del database.unit_of_work
    del router.dispatch


async def test_each_photo_check_click_writes_once(bot: TestClient, connector: FakeConnector,
                                                 clicks: Clicks) -> None:
    url = connector.url
    for _ in range(2):  # two pupils are called Oliver Smith: the choice card
        card = await check(bot, url, pupils="Riya Patel, Oliver Smith", device="school_device")
    choose = button(card, "Check again")
    await execute(bot, url, SAM, PHOTO_CHECK_CHOOSE_VERB, {**choose["data"], "choice_1": "A100000000002"})
    request_id = await approved_exception(bot, url, pupils="Tobi Adeyemi-Clarke")  # check, ask, Anna decides
    await execute(bot, url, SAM, EXCEPTION_RECHECK_VERB, {"request_id": request_id})
    await execute(bot, url, SAM, EXCEPTION_RECHECK_VERB, {"request_id": 999_999})  # names none: the desk records it
    sent = await ask(bot, url, exception_form(await check(bot, url, pupils="Marek Kowalski")))
    other = int(button(sent["value"], "Withdraw")["data"]["request_id"])
    await ask(bot, url, exception_form(await check(bot, url, pupils="Marek Kowalski")), circumstances="")
    await decide(bot, url, other, "request_changes", "Why no school device?")
    await execute(bot, url, SAM, APPROVAL_EDIT_VERB, {"request_id": other, "round": 1})
    again = await execute(bot, url, SAM, DEVICE_EXCEPTION_RESUBMIT_VERB,
                          {"request_id": other, "round": 1, "circumstances": CIRCUMSTANCES + " Both iPads were away."})
    assert "Sent again (version 2)" in card_texts(again["value"]).replace("\\", "")

    assert clicks.writes(PHOTO_CHECK_SUBMIT_VERB) == [1] * 5  # each check's log entry
    assert clicks.writes(PHOTO_CHECK_CHOOSE_VERB) == [1]
    assert clicks.writes(REQUEST_DEVICE_EXCEPTION_VERB) == [1, 1, 1]  # with the request; alone when none is sent
    assert clicks.writes(EXCEPTION_RECHECK_VERB) == [1, 1]  # the log entry; the desk's record of the refusal
    assert clicks.writes(DEVICE_EXCEPTION_RESUBMIT_VERB) == [1]  # the new round, with the check's log entry


async def test_each_consent_admin_click_writes_at_most_once(bot: TestClient, connector: FakeConnector,
                                                           clicks: Clicks) -> None:
    url = connector.url
    recorded = await execute(bot, url, SAM, DO_NOT_PHOTOGRAPH_SUBMIT_VERB, {"pupil": "Riya Patel", "note": "mum"})
    assert "Recorded" in card_texts(recorded["value"])
    await execute(bot, url, SAM, DO_NOT_PHOTOGRAPH_SUBMIT_VERB, {"pupil": "Riya Patel"})  # already open
    await execute(bot, url, SAM, DO_NOT_PHOTOGRAPH_CHOOSE_VERB, {"typed": "Oliver Smith",
                                                                 "choice": "A100000000002"})
    await execute(bot, url, SAM, DO_NOT_PHOTOGRAPH_CHOOSE_VERB, {"typed": "Oliver Smith", "choice": "not_listed"})
    await execute(bot, url, JO, DO_NOT_PHOTOGRAPH_CLEAR_VERB, {"pupilId": AMELIA, "list": True})
    await execute(bot, url, JO, DO_NOT_PHOTOGRAPH_CLEAR_VERB, {"pupilId": AMELIA})  # already closed
    await execute(bot, url, JO, CONSENT_REGISTER_ACTIVATE_VERB, {"version": 1})
    await execute(bot, url, SAM, CONSENT_REGISTER_ACTIVATE_VERB, {"version": 2})  # refused: not the data admin

    assert clicks.writes(DO_NOT_PHOTOGRAPH_SUBMIT_VERB) == [1, 1]
    assert clicks.writes(DO_NOT_PHOTOGRAPH_CHOOSE_VERB) == [1, 0]
    assert clicks.writes(DO_NOT_PHOTOGRAPH_CLEAR_VERB) == [1, 1]
    assert clicks.writes(CONSENT_REGISTER_ACTIVATE_VERB) == [1, 1]  # the refusal's one write: its audit entry
    state = await _state(bot)
    assert [pupil for _, pupil in state["open"]] == ["A100000000008", "A100000000002"] and state["current"] == [1]


async def test_a_command_reads_without_writing(bot: TestClient, connector: FakeConnector) -> None:
    """``photo requests`` and ``consent register`` read in one reading unit of work each; ``pupil consent`` reads in
    one unit of work that also records the look in the audit trail."""
    services = bot.app[SERVICES]
    database, router = services.database, services.router
    original = database.unit_of_work
    units: list[str] = []

    def unit_of_work(*, read_only: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        units.append("read" if read_only else "write")
        return original(read_only=read_only)

    async def run(text: str) -> None:
        found = router.match_command(text)
        assert found is not None, text
        handler, argument = found
        units.clear()
        database.unit_of_work = unit_of_work  # type: ignore[method-assign]
        try:
            reply = await handler(CommandRequest(text, argument, JO.actor()))
        finally:
            del database.unit_of_work
        assert reply.cards, text
        assert units == (["write"] if text.startswith("pupil consent") else ["read"]), (text, units)

    for text in ("photo requests", "consent register", "pupil consent Amelia Hughes"):
        await run(text)



async def test_a_csv_import_is_one_transaction_then_what_the_answer_shows(bot: TestClient) -> None:
    services = bot.app[SERVICES]
    database = services.database
    admin = register_consent_admin(Router(directory=services.directory, trail=AuditTrail(database)),
                                   database=database, store=ConsentStore(database),
                                   directory=services.directory, settings=services.settings)
    original = database.unit_of_work
    units: list[str] = []

    def unit_of_work(*, read_only: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        units.append("read" if read_only else "write")
        return original(read_only=read_only)

    async def download(url: str, max_bytes: int, with_token: bool) -> bytes:  # the file, already fetched
        return (DATA / "sims_export.csv").read_bytes()

    database.unit_of_work = unit_of_work  # type: ignore[method-assign]
    try:
        reply = await admin.receive_csv(JO.actor(), [CsvCandidate("https://school.sharepoint.com/r.csv", "r.csv")],
                                        download)
    finally:
        del database.unit_of_work
    assert "Imported **10 pupils** as version 3" in card_texts(reply.cards[0].to_dict())
    assert units == ["write", "read"]
