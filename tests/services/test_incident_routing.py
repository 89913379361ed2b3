"""Urgent means now, whatever the hour; nobody receives a report about themselves (issue 15, gaps 1 and 2).

Conversations with the incident feature (router in, outbox and chronology out) on SQLite and PostgreSQL, at night
and at weekends, with the school's people and a deputy DSL: who is alerted at once, who is next along the
safeguarding chain and when (real minutes), what the reporter is told, what the SLT channel shows, and that a report
about someone who receives reports never reaches them, never shows in the channel, and is refused (and audited) when
they try to open or act on it, whatever card data they craft.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from cards.incidents import Verb
from dialogs.incidents import REPORT_MESSAGE_COMMAND_ID, message_extension_submit
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.incident_routing import EmergencyContacts, parse_chain
from domain.incidents import Category, EventKind, Status
from domain.roles import Role, RoleDirectory
from services.incidents import IncidentSettings
from services.requests import CommandRequest
from store import audit as trail
from store import incidents as records
from store.outbox import OutboxKind, OutboxRow, OutboxStatus
from tests.support.incidents_world import (
    ANNA,
    EVERYONE,
    GRACE,
    JO,
    LEE,
    PRIYA,
    SAM,
    TOM,
    Clock,
    School,
    Who,
    actor,
    card_text,
    personal_chat_id,
    shown_text,
)

KIM = Who("Kim Lowe", "00000000-0000-0000-0000-000000000205", "29:ddsl-kim")  # deputy DSL
PEOPLE = (*EVERYONE, KIM)
ROLES: dict[Who, frozenset[Role]] = {
    ANNA: frozenset({Role.HEAD_TEACHER, Role.SLT}), PRIYA: frozenset({Role.SLT, Role.DEPUTY}),
    TOM: frozenset({Role.DSL, Role.SLT}), JO: frozenset({Role.DATA_ADMIN, Role.DPO}),
    GRACE: frozenset({Role.CHAIR_OF_GOVERNORS}), KIM: frozenset({Role.DEPUTY_DSL}),
}
SUNDAY_2AM = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 02:00 on a Sunday in London (GMT)
WEDNESDAY_11PM = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
NIGHTS = [pytest.param(SUNDAY_2AM, id="sunday-2am"), pytest.param(WEDNESDAY_11PM, id="weekday-night")]
SECRET = "SECRETWHAT wants to end it all"
PHONES = EmergencyContacts(dsl="01632 960001", children_services="0300 123 4567", out_of_hours="01632 960999")


def school_directory() -> StaticRoleDirectory:
    return StaticRoleDirectory([DirectoryEntry(who.aad, who.name, ROLES.get(who, frozenset())) for who in PEOPLE],
                               description="the routing tests' school")


NO_PHONES = EmergencyContacts()


async def open_school(url: str, *, at: datetime = SUNDAY_2AM, chats: tuple[Who, ...] = PEOPLE,
                      contacts: EmergencyContacts = NO_PHONES, directory: RoleDirectory | None = None) -> School:
    settings = IncidentSettings(escalation_minutes=15, chain=parse_chain("dsl,deputy_dsl,head_teacher,deputy,"
                                                                         "chair_of_governors"), contacts=contacts)
    return await School.open(url, chats=chats, clock=Clock(at), directory=directory or school_directory(),
                              settings=settings)


@pytest.fixture
async def school(migrated_database_url: str) -> AsyncIterator[School]:
    world = await open_school(migrated_database_url)
    yield world
    await world.close()


async def sent(school: School) -> dict[str, list[dict[str, Any]]]:
    """New messages by recipient name ("channel" for the SLT channel)."""
    names = {personal_chat_id(who): who.name for who in PEOPLE}
    found: dict[str, list[dict[str, Any]]] = {}
    for entry, activity, _target in await school.outbox_activities():
        if entry.kind is OutboxKind.POST_TO_CHANNEL:
            found.setdefault("channel", []).append(activity)
        elif entry.kind is OutboxKind.SEND_PERSONAL:
            found.setdefault(names.get(entry.lane, entry.lane), []).append(activity)
    return found


async def chronology(school: School, incident_id: int = 1) -> list[records.Event]:
    async with school.database.sessions() as session:
        return await records.events(session, incident_id)


async def incident(school: School, incident_id: int = 1) -> records.Incident:
    async with school.database.sessions() as session:
        found = await records.get(session, incident_id)
    assert found is not None
    return found


def plain(node: object) -> str:
    """What a person reads on a card (Markdown escapes taken out)."""
    return shown_text(node).replace("\\", "")


def receipt_text(result: Any) -> str:
    assert result.card is not None, result.message
    return plain(result.card.to_dict())


# --- urgent means now, whatever the hour ---------------------------------------------------------------------------


@pytest.mark.parametrize("night", NIGHTS)
async def test_out_of_hours_an_urgent_report_alerts_the_dsl_deputies_and_head_at_once(
    migrated_database_url: str, night: datetime
) -> None:
    school = await open_school(migrated_database_url, at=night)
    try:
        result = await school.report(SAM, category="pupil_safety", what_happened=SECRET)
        messages = await sent(school)
        assert set(messages) == {"channel", TOM.name, KIM.name, ANNA.name}
        for who in (TOM, KIM, ANNA):
            assert SECRET in card_text(messages[who.name][0])
        [post] = messages["channel"]
        assert post["summary"] == "Urgent: Restricted report INC-2026-0001"
        assert "Urgent" in shown_text(post) and "SECRET" not in card_text(post) and "Sam" not in card_text(post)
        text = receipt_text(result)
        for label in ("Designated Safeguarding Lead (Tom Reed)", "Deputy Designated Safeguarding Lead (Kim Lowe)",
                      "Head Teacher (Anna Smith)"):
            assert label in text
        assert "Alerted now" in text and "real time, day or night" in text
        saved = await incident(school)
        assert saved.escalate_due_at is not None and (saved.escalate_due_at - night).total_seconds() == 15 * 60
    finally:
        await school.close()


@pytest.mark.parametrize("night", NIGHTS)
async def test_out_of_hours_with_the_dsl_unreachable_the_head_has_it_at_once_and_the_reporter_is_told_who(
    migrated_database_url: str, night: datetime
) -> None:
    school = await open_school(migrated_database_url, at=night, chats=(SAM, ANNA, PRIYA, GRACE))  # no Tom, no Kim
    try:
        result = await school.report(SAM, category="negative_comment", risk=True, dsl_told="could_not_reach",
                                     what_happened=SECRET)
        messages = await sent(school)
        assert set(messages) == {"channel", ANNA.name}
        assert "Urgent: incident INC-2026-0001" in shown_text(messages["channel"][0])
        text = receipt_text(result)
        assert "Alerted now, with the full details: Head Teacher (Anna Smith)" in text
        assert "Please also tell them in person or by phone" in text
        assert "Designated Safeguarding Lead (Tom Reed)" in text and "Deputy Designated Safeguarding Lead (Kim Lowe)" \
            in text
        entries = await chronology(school)
        unreachable = [e.what for e in entries if e.kind is EventKind.NOT_REACHABLE]
        assert any("Tom Reed" in what for what in unreachable) and any("Kim Lowe" in what for what in unreachable)
        assert any(e.kind is EventKind.ROUTED and "Anna Smith" in e.what for e in entries)
    finally:
        await school.close()


async def test_out_of_hours_the_chain_is_followed_in_real_minutes_until_someone_takes_the_lead(school: School) -> None:
    await school.report(SAM, category="extremism", what_happened=SECRET)  # 02:00 on Sunday
    first = {name: len(found) for name, found in (await sent(school)).items()}
    school.clock.advance(minutes=14)
    assert await school.incidents.escalate_due() == 0
    school.clock.advance(minutes=1)  # 02:15 on Sunday: 15 real minutes, no school hours needed
    assert await school.incidents.escalate_due() == 1
    after = await sent(school)
    [escalated] = after[PRIYA.name]  # the chain's next step: the deputy head
    assert "You are next in the school's safeguarding chain" in card_text(escalated) and SECRET in card_text(escalated)
    assert {name: len(found) for name, found in after.items() if name != PRIYA.name} == first
    entry = (await chronology(school))[-1]
    assert entry.kind is EventKind.AUTO_ESCALATED and "step 4 (Deputy Head Teacher)" in entry.what
    assert "Priya Shah" in entry.what and "15 minutes (real time)" in (entry.why or "")
    assert await school.incidents.escalate_due() == 0  # once per step

    school.clock.advance(minutes=15)
    assert await school.incidents.escalate_due() == 1
    assert len((await sent(school))[GRACE.name]) == 1  # then the Chair of Governors
    school.clock.advance(minutes=15)
    assert await school.incidents.escalate_due() == 1  # nobody left: everyone alerted is reminded, once
    entries = await chronology(school)
    assert entries[-1].kind is EventKind.AUTO_ESCALATED and entries[-1].what.startswith("End of the safeguarding chain")
    assert (await incident(school)).escalate_due_at is None
    school.clock.advance(hours=5)
    assert await school.incidents.escalate_due() == 0


async def test_out_of_hours_a_report_the_bot_cannot_read_holds_up_no_other_urgent_report(
    school: School, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored report this version cannot read (a category it does not know: written by hand, or by a newer
    version) is logged with its id and left out; the chain of every other urgent report still moves on."""
    await school.report(SAM, category="extremism", what_happened=SECRET)  # 1
    await school.report(LEE, category="pupil_safety", what_happened=SECRET)  # 2
    async with school.database.transaction() as session:
        await session.execute(update(records.IncidentRow).where(records.IncidentRow.id == 1).values(
            category="sextortion"))
    school.clock.advance(minutes=15)
    with caplog.at_level(logging.ERROR, logger="services.incidents"):
        assert await school.incidents.escalate_due() == 1
    assert [getattr(r, "incident_id", None) for r in caplog.records if r.levelno >= logging.ERROR] == [1]
    assert any(e.kind is EventKind.AUTO_ESCALATED for e in await chronology(school, 2))
    assert len((await sent(school))[PRIYA.name]) == 1  # report 2 went on to the chain's next step


async def test_out_of_hours_taking_the_lead_stops_the_chain(school: School) -> None:
    await school.report(SAM, category="pupil_safety", what_happened=SECRET)
    await school.act(KIM, Verb.TAKE_LEAD, {"incident": 1})  # a deputy DSL acts at 02:05
    school.clock.advance(hours=2)
    assert await school.incidents.escalate_due() == 0
    assert PRIYA.name not in await sent(school)


async def test_out_of_hours_nobody_reachable_the_reporter_gets_the_emergency_steps_and_the_numbers(
    migrated_database_url: str,
) -> None:
    school = await open_school(migrated_database_url, chats=(SAM,), contacts=PHONES)
    try:
        result = await school.report(SAM, category="pupil_safety", what_happened=SECRET)
        text = receipt_text(result)
        assert "Nobody could be alerted through Teams. Act now:" in text and "999" in text
        assert "Designated Safeguarding Lead (Tom Reed): **01632 960001**" in text
        assert "Deputy Designated Safeguarding Lead (Kim Lowe): **ask the school office for this number**" in text
        assert "Children's social care / MASH (the local authority): **0300 123 4567**" in text
        assert "emergency duty team: **01632 960999**" in text and "**101**" in text
        assert list(await sent(school)) == ["channel"]  # the urgent notice still goes out
        entries = await chronology(school)
        steps = [e.what for e in entries if e.kind is EventKind.ROUTED and "Safeguarding chain, step" in e.what]
        assert [what.split(":")[0] for what in steps] == [
            "Safeguarding chain, step 4 (Deputy Head Teacher)", "Safeguarding chain, step 5 (Chair of Governors)"]
        assert (await incident(school)).escalate_due_at is not None  # it keeps trying

        await school.conversations.save(_chat(ANNA))  # the Head opens Policy Bot at 02:10
        school.clock.advance(minutes=15)
        assert await school.incidents.escalate_due() == 1
        [card] = (await sent(school))[ANNA.name]
        assert SECRET in card_text(card)
    finally:
        await school.close()


async def test_out_of_hours_a_delivery_that_failed_moves_the_chain_on_without_waiting(school: School) -> None:
    await school.report(SAM, category="pupil_safety", what_happened=SECRET)
    async with school.database.transaction() as session:  # Teams answered 403/404 for every alert (the outbox)
        await session.execute(update(OutboxRow).where(OutboxRow.kind == OutboxKind.SEND_PERSONAL)
                              .values(status=OutboxStatus.STALE))
    assert await school.incidents.escalate_due() == 1  # at once: no 15 minutes to wait
    assert len((await sent(school))[PRIYA.name]) == 1
    entries = await chronology(school)
    assert sum(1 for e in entries if e.kind is EventKind.NOT_REACHABLE and e.data.get("delivery_failed")) == 3
    assert await school.incidents.escalate_due() == 0  # noted once; the clock runs again


async def test_out_of_hours_an_urgent_allegation_stays_with_the_head_teacher(school: School) -> None:
    await school.report(SAM, category="allegation_about_staff", risk=True, what_happened=SECRET)
    assert set(await sent(school)) == {ANNA.name}
    school.clock.advance(minutes=15)
    assert await school.incidents.escalate_due() == 1  # the Head Teacher reminded, nobody else
    assert {name: len(found) for name, found in (await sent(school)).items()} == {ANNA.name: 2}


def test_out_of_hours_the_chain_and_numbers_are_checked_at_start_up() -> None:
    from bot.settings import Settings

    with pytest.raises(ValueError, match="POLICYBOT_SAFEGUARDING_CHAIN"):
        Settings(_env_file=None, safeguarding_chain="dsl,teachers")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="POLICYBOT_SAFEGUARDING_CHAIN"):
        Settings(_env_file=None, safeguarding_chain="dsl,staff")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="POLICYBOT_SAFEGUARDING_PHONE_DSL"):
        Settings(_env_file=None, safeguarding_phone_dsl="call Tom")  # type: ignore[call-arg]
    fine = Settings(_env_file=None, safeguarding_phone_dsl="+44 1632 960001")  # type: ignore[call-arg]
    assert IncidentSettings.from_settings(fine, calendar=IncidentSettings().calendar).contacts.dsl == "+44 1632 960001"


def _chat(who: Who) -> Any:
    from store.conversations import StoredConversation
    from tests.support.incidents_world import SERVICE_URL, reference_json

    return StoredConversation(
        conversation_id=personal_chat_id(who), kind="personal", aad_object_id=who.aad, user_name=who.name,
        teams_user_id=who.teams_id, tenant_id="tenant", team_id=None, channel_id=None, service_url=SERVICE_URL,
        reference=reference_json(personal_chat_id(who)), stale=False,
    )


# --- nobody receives a report about themselves ---------------------------------------------------------------------

EVERY_KIND = [Category.NEGATIVE_COMMENT, Category.OFFENSIVE_CONTENT, Category.BULLYING_STAFF, Category.COPYRIGHT,
              Category.DATA_BREACH, Category.STAFF_PUPIL_CONTACT, Category.PUPIL_SAFETY, Category.PRAISE]
HANDLING = [(Verb.VIEW, {}), (Verb.TAKE_LEAD, {}), (Verb.NOTE, {"note": "Nothing in it."}),
            (Verb.ESCALATE, {"agency": "police", "escalation_reason": "Threats"}),
            (Verb.CLOSE, {"outcome_kind": "resolved", "outcome": "Done"})]


async def assert_refused_and_audited(school: School, who: Who, *, kinds: tuple[str, ...] = ("personal", "channel"),
                                     reason: str = "about_them") -> None:
    before = await school.records()
    for kind in kinds:
        for verb, data in HANDLING:
            result = await school.act(who, verb, {"incident": 1, **data}, kind)
            assert result.card is None and result.message is not None, (verb, kind)
            assert "Only the people" in result.message and SECRET not in result.message
    assert await school.records() == before
    async with school.database.sessions() as session:
        refusals = [e for e in await trail.recent(session, actor_aad=who.aad) if e.outcome.value == "refused"]
    assert refusals and all(e.reason == reason for e in refusals), [e.reason for e in refusals]


async def open_reports_of(school: School, who: Who) -> str:
    match = school.router.match_text("open reports")
    assert match.handler is not None
    reply = await match.handler(CommandRequest(match.text, match.argument, actor(who)))
    return " ".join(plain(card.to_dict()) for card in reply.cards) + " ".join(reply.texts)


@pytest.mark.parametrize("category", EVERY_KIND, ids=[c.value for c in EVERY_KIND])
async def test_about_a_recipient_the_head_teacher_goes_to_the_chair_only(school: School, category: Category) -> None:
    result = await school.report(SAM, category=category.value, what_happened=SECRET, about_staff=ANNA.aad)
    messages = await sent(school)
    assert set(messages) == {GRACE.name}, category  # never the Head Teacher, never the channel
    assert SECRET in card_text(messages[GRACE.name][0])
    assert ANNA.aad not in {entry.lane for entry, _, _ in await school.outbox_activities()} - {ANNA.aad}
    text = receipt_text(result)
    assert "It is about the Head Teacher: it goes to the Chair of Governors only" in text
    assert "It is not posted in any channel." in text
    await assert_refused_and_audited(school, ANNA)
    await assert_refused_and_audited(school, TOM, reason="not_permitted")  # SLT and DSL do not see it either
    assert "INC-2026-0001" not in await open_reports_of(school, ANNA)
    assert "INC-2026-0001" in await open_reports_of(school, GRACE)
    view = await school.act(GRACE, Verb.VIEW, {"incident": 1})
    assert view.card is not None and "Anna Smith (Head Teacher" in plain(view.card.to_dict())


@pytest.mark.parametrize("category", EVERY_KIND, ids=[c.value for c in EVERY_KIND])
async def test_about_a_recipient_the_dsl_goes_to_the_head_only(school: School, category: Category) -> None:
    await school.report(SAM, category=category.value, what_happened=SECRET, about_staff=TOM.aad)
    messages = await sent(school)
    assert set(messages) == {ANNA.name}, category  # never the DSL, the deputy DSL, SLT or the channel
    await assert_refused_and_audited(school, TOM)
    await assert_refused_and_audited(school, KIM, kinds=("personal",), reason="not_permitted")
    assert "INC-2026-0001" not in await open_reports_of(school, TOM)
    assert "INC-2026-0001" in await open_reports_of(school, ANNA)


@pytest.mark.parametrize("category", [Category.NEGATIVE_COMMENT, Category.PRAISE, Category.DATA_BREACH,
                                      Category.EXTREMISM], ids=lambda c: c.value)
async def test_about_a_recipient_an_slt_member_goes_to_the_head_restricted_never_in_the_channel(
    school: School, category: Category
) -> None:
    await school.report(SAM, category=category.value, what_happened=SECRET, about_staff=PRIYA.aad)
    assert set(await sent(school)) == {ANNA.name}
    await assert_refused_and_audited(school, PRIYA)
    await assert_refused_and_audited(school, TOM, kinds=("personal",), reason="not_permitted")  # restricted
    assert "INC-2026-0001" not in await open_reports_of(school, PRIYA)
    assert "INC-2026-0001" not in await open_reports_of(school, TOM)
    assert (await school.act(ANNA, Verb.TAKE_LEAD, {"incident": 1})).card is not None


async def test_about_a_recipient_an_urgent_report_about_the_head_is_escalated_to_nobody_else(school: School) -> None:
    await school.report(SAM, category="pupil_safety", what_happened=SECRET, about_staff=ANNA.aad)
    for _ in range(4):
        school.clock.advance(minutes=15)
        await school.incidents.escalate_due()
    messages = await sent(school)
    assert set(messages) == {GRACE.name} and len(messages[GRACE.name]) == 2  # alerted, then reminded


async def test_about_a_recipient_named_in_the_text_is_asked_about_before_anything_is_sent(school: School) -> None:
    typed = "Mrs Anna Smith, the Head, is following two Year 5 pupils. Mr Reed knows."
    asked = await school.report(SAM, category="staff_pupil_contact", what_happened=typed)
    assert asked.card is not None
    card = asked.card.to_dict()
    text = card_text(card)
    assert "Is this report about Anna Smith?" in text and "Is this report about Tom Reed?" in text
    assert await school.outbox() == []  # nothing sent, nothing saved
    async with school.database.sessions() as session:
        assert await records.reported_by(session, SAM.aad) == []
    [button] = card["actions"]
    data = {**button["data"], "about_1": "yes", "about_2": "no"}
    receipt = await school.act(SAM, Verb.CONFIRM_SUBJECTS, data)
    assert "Report received: INC-2026-0001" in receipt_text(receipt)
    assert set(await sent(school)) == {GRACE.name}  # about the Head: the Chair only
    what = [e.what for e in await chronology(school) if e.kind is EventKind.REPORTED]
    assert any(w.startswith("The reporter confirmed it is about Anna Smith (Head Teacher") for w in what)
    assert "The reporter said it is not about Tom Reed, who is only mentioned" in what


async def test_about_a_recipient_no_sends_it_as_usual_and_is_recorded(school: School) -> None:
    asked = await school.report(SAM, category="staff_pupil_contact", what_happened="Mrs Smith liked a pupil's post.")
    assert asked.card is not None
    [button] = asked.card.to_dict()["actions"]
    receipt = await school.act(SAM, Verb.CONFIRM_SUBJECTS, {**button["data"], "about_1": "no"})
    assert "Report received" in receipt_text(receipt)
    assert set(await sent(school)) == {ANNA.name}
    assert any("not about Anna Smith" in e.what for e in await chronology(school))


async def test_about_a_recipient_an_unanswered_question_comes_back_and_sends_nothing(school: School) -> None:
    asked = await school.report(SAM, category="other", what_happened="Dr Reed was tagged in it.")
    assert asked.card is not None
    [button] = asked.card.to_dict()["actions"]
    again = await school.act(SAM, Verb.CONFIRM_SUBJECTS, dict(button["data"]))
    assert again.card is not None and "Answer the question for each person." in plain(again.card.to_dict())
    assert await school.outbox() == []


async def test_about_a_recipient_the_reporter_naming_themselves_or_plain_staff_is_not_asked(school: School) -> None:
    result = await school.report(ANNA, category="praise", what_happened="Anna Smith and Lee Carter ran the fair.")
    assert "Report received" in receipt_text(result)


async def test_about_a_recipient_crafted_card_data_cannot_let_the_subject_in(school: School) -> None:
    """The Head crafts every handling verb (personal chat and channel) on a report about her: refused, audited,
    nothing changed; a crafted confirmation naming someone else only routes around them."""
    await school.report(SAM, category="negative_comment", what_happened=SECRET, about_staff=ANNA.aad)
    await assert_refused_and_audited(school, ANNA)
    screenshot = await school.act(ANNA, Verb.SHOW_SCREENSHOT, {"incident": 1, "attachment": 1})
    assert screenshot.extra_cards == [] and screenshot.message is not None
    # Lee crafts a confirmation that it is "about" Grace and Tom: the report still never reaches Anna
    data = {"draft": "f" * 32, "risk": "no", "category": "about_head_teacher", "what_happened": SECRET,
            "asked": f"{GRACE.aad},{TOM.aad}", "about_1": "yes", "about_2": "yes"}
    receipt = await school.act(LEE, Verb.CONFIRM_SUBJECTS, data)
    assert "Report received: INC-2026-0002" in receipt_text(receipt)
    assert ANNA.name not in await sent(school)
    assert (await incident(school, 2)).status is Status.OPEN


async def test_about_a_recipient_report_to_slt_on_a_message_asks_in_its_window_too(school: School) -> None:
    """"Report to SLT" on a Teams message: the same question in the task module, answered there."""
    message = {"from": {"user": {"displayName": "A parent"}}, "body": {"contentType": "text", "content": SECRET}}
    data = {"draft": "d" * 32, "risk": "no", "category": "bullying_staff",
            "what_happened": "A parent says Mr Reed shouted at her child."}
    value = {"commandId": REPORT_MESSAGE_COMMAND_ID, "messagePayload": message, "data": data}
    asked = await message_extension_submit(school.incidents, value, actor(SAM))
    card = asked["task"]["value"]["card"]["content"]
    assert "Is this report about Tom Reed?" in card_text(card) and await school.outbox() == []
    [button] = card["actions"]
    assert button["type"] == "Action.Submit"  # a task module's button
    for answers, problem in (({}, True), ({"about_1": "yes"}, False)):
        value = {**value, "data": {**button["data"], **answers}}
        answer = await message_extension_submit(school.incidents, value, actor(SAM))
        text = card_text(answer["task"]["value"]["card"]["content"])
        assert ("Answer the question for each person." in text) is problem
    assert "Report received" in text
    assert set(await sent(school)) == {ANNA.name}  # about the DSL: the Head Teacher only, not the channel


async def test_about_a_recipient_the_audit_trail_never_shows_the_head_a_report_about_her(
    sqlite_url: str, connector: Any
) -> None:
    """``audit <reference>`` and ``audit <person>``: the Head Teacher reads the trail, but not the handling of a
    report about herself (who opened it, who was refused): as for a report she may not know exists."""
    from bot.app import SERVICES
    from domain.actors import Actor
    from domain.incidents import ReportDetails
    from tests.support import audit_world as world

    async with world.audit_world(sqlite_url, connector) as bot:
        incidents = bot.client.app[SERVICES].incidents
        head = world.ANNA["aadObjectId"]
        await incidents.report(Actor(world.SAM["aadObjectId"], "Sam Teacher", world.SAM["id"]), ReportDetails(
            category=Category.NEGATIVE_COMMENT, what_happened=SECRET, about_staff=[head]), "about-the-head")
        await bot.click(world.GRACE, "incident_view", {"incident": 1})
        await bot.click(world.ANNA, "incident_view", {"incident": 1})  # refused: about her
        for query in ("INC-2026-0001", "Grace Hall"):
            bot.connector.clear()
            await bot.say(world.ANNA, f"audit {query}")
            [card] = bot.cards()
            assert "INC-2026-0001" not in card_text(card).replace("Audit trail: INC-2026-0001", ""), query
        bot.connector.clear()
        await bot.say(world.JO, "audit INC-2026-0001")  # the DPO sees it all
        [card] = bot.cards()
        assert "Grace Hall" in card_text(card) and "about them" in card_text(card)


async def test_about_a_recipient_a_legal_hold_on_them_covers_the_report(school: School) -> None:
    """The retention run keeps a report a legal hold names: whom it is about counts, like who acted on it."""
    from store import retention as retention_store

    await school.report(SAM, category="negative_comment", what_happened=SECRET, about_staff=ANNA.aad,
                        about_others="a parent of a Year 5 pupil")
    async with school.database.sessions() as session:
        people, texts = await retention_store.incident_people(session, 1)
    assert ANNA.aad.lower() in {p.lower() for p in people if p}
    assert "Anna Smith" in texts and "a parent of a Year 5 pupil" in texts
