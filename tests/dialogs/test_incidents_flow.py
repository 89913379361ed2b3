"""Reporting and handling incidents, as conversations with the feature (router in, cards and outbox out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.escalations import EscalationWorker
from cards.incidents import Verb
from domain.incident_routing import route_report
from domain.incidents import ROUTING, Category, ChannelView, EventKind, Status, urgency_for
from domain.roles import Role
from services.requests import CommandRequest
from store import incidents as records
from store import safeguarding_record as record_parts
from store.conversations import StoredConversation
from store.outbox import OutboxKind
from tests.fakes.graph import SchoolGraph
from tests.support.cardcheck import assert_valid_card
from tests.support.cardtext import input_values
from tests.support.incidents_world import (
    ANNA,
    GRACE,
    JO,
    LEE,
    PRIYA,
    ROLES_FILE,
    SAM,
    SERVICE_URL,
    TOM,
    Clock,
    School,
    actor,
    card_text,
    personal_chat_id,
    reference_json,
    shown_text,
)

SECRETS = {
    "what_happened": "SECRETWHAT [click](https://evil.example)",
    "involved": "SECRETWHO: two Year 6 pupils",
    "link": "https://secret.example/SECRETLINK",
    "when_detail": "SECRETWHEN after school",
}
HOLDERS = {
    Role.HEAD_TEACHER: {ANNA.name}, Role.DSL: {TOM.name}, Role.DPO: {JO.name},
    Role.CHAIR_OF_GOVERNORS: {GRACE.name}, Role.SLT: {ANNA.name, PRIYA.name, TOM.name},
}


@pytest.fixture
async def school(sqlite_url: str) -> AsyncIterator[School]:
    world = await School.open(sqlite_url)
    yield world
    await world.close()


async def chronology(school: School, incident_id: int = 1) -> list[records.Event]:
    async with school.database.sessions() as session:
        return await records.events(session, incident_id)


async def incident(school: School, incident_id: int = 1) -> records.Incident:
    async with school.database.sessions() as session:
        found = await records.get(session, incident_id)
    assert found is not None
    return found


# --- reporting ---------------------------------------------------------------------------------------------


async def test_someone_at_risk_gets_the_emergency_steps_first_then_the_report(school: School) -> None:
    reply = await school.router.flow_handler("report_incident")(  # type: ignore[misc]
        CommandRequest("report", "", actor(SAM))
    )
    first = reply.cards[0].to_dict()
    assert "immediate risk of harm" in card_text(first)
    draft = first["actions"][0]["data"]["draft"]

    steps = (await school.act(SAM, Verb.RISK, {"draft": draft, "risk": "yes"})).card
    assert steps is not None
    text = card_text(steps.to_dict())
    assert "999" in text and "child protection procedure" in text and "Tom Reed" in text
    assert "Have you told the DSL verbally?" in text

    categories = (await school.act(SAM, Verb.DSL_TOLD, {"draft": draft, "risk": "yes", "dsl_told": "not_yet"})).card
    assert categories is not None and "urgent" in card_text(categories.to_dict())

    form = (await school.act(SAM, Verb.CATEGORY, {"draft": draft, "risk": "yes", "dsl_told": "not_yet",
                                                   "category": "negative_comment"})).card
    assert form is not None
    assert "SLT decide how the school responds" in card_text(form.to_dict())

    receipt = (await school.act(SAM, Verb.SUBMIT, {"draft": draft, "risk": "yes", "dsl_told": "not_yet",
                                                    "category": "negative_comment", **SECRETS})).card
    assert receipt is not None
    assert "Report received: INC-2026-0001" in card_text(receipt.to_dict())
    saved = await incident(school)
    assert saved.immediate_risk and saved.dsl_told is not None and saved.dsl_told.value == "not_yet"
    assert saved.urgency.value == "urgent" and saved.escalate_due_at == datetime(2026, 11, 24, 10, 15, tzinfo=UTC)


async def test_no_risk_goes_straight_to_the_categories(school: School) -> None:
    card = (await school.act(SAM, Verb.RISK, {"draft": "0" * 32, "risk": "no"})).card
    assert card is not None  # the chooser's first plain question (tests/dialogs/test_incident_chooser.py)
    assert "Who or what is it about?" in card_text(card.to_dict()) and "A journalist or the media" in card_text(
        card.to_dict())


async def test_a_form_with_a_problem_comes_back_with_what_was_typed(school: School) -> None:
    result = await school.act(SAM, Verb.SUBMIT, {"draft": "1" * 32, "risk": "no", "category": "other",
                                                 "what_happened": "", "involved": "Kept this", "platform": "MySpace"})
    assert result.card is not None
    text = card_text(result.card.to_dict())
    assert "Say what happened." in text and "Kept this" in text
    assert await school.outbox() == []


TYPED = {
    "what_happened": "A pupil showed me a message from an adult.", "involved": "Year 5 class",
    "platform": "Instagram", "link": "https://example.test/post/1", "when_detail": "last night about 9pm",
    "actions_taken": "screenshot_kept,reported_to_platform", "child_words": "He said \"don't tell your mum\"",
    "opinion": "I think she is frightened.", "pupils": "Amy Lee\nBen Cole", "about_staff": LEE.aad,
    "about_others": "An adult outside the school",
}


@pytest.mark.parametrize(("problem", "change", "message"), [
    pytest.param("pupils", {"pupils": "Amy Lee\n" + "x" * 101}, "Give at most 30 pupils", id="a-pupil-too-long"),
    pytest.param("what_happened", {"what_happened": " "}, "Say what happened.", id="nothing-happened"),
    pytest.param("when_date", {"when_date": "2026-12-25"}, "future", id="a-date-in-the-future"),
])
async def test_a_form_with_a_problem_keeps_every_field_as_typed(
    school: School, problem: str, change: dict[str, str], message: str
) -> None:
    flow = {"draft": "2" * 32, "risk": "no", "category": "bullying_pupil"}
    sent = {**TYPED, "when_date": "2026-11-23", **change}
    result = await school.act(SAM, Verb.SUBMIT, {**flow, **sent})
    assert result.card is not None and await school.outbox() == []
    card = result.card.to_dict()
    assert_valid_card(card)  # the reference parser reads it as Teams would
    assert message in shown_text(card)
    kept = input_values(card)
    for field, value in sent.items():
        if field == problem and field != "pupils":
            continue  # the field at fault: a date in the future is not offered back, a blank stays blank
        assert kept[field] == value, field
    fixed = {key: value for key, value in kept.items() if value is not None}
    fixed.update({"pupils": TYPED["pupils"], "what_happened": TYPED["what_happened"], "when_date": "2026-11-23"})
    assert (await school.act(SAM, Verb.SUBMIT, {**flow, **fixed})).card is not None  # sent as kept, once fixed
    saved = await incident(school)
    assert (saved.what_happened, saved.involved, saved.when_detail) == (
        TYPED["what_happened"], TYPED["involved"], TYPED["when_detail"])
    async with school.database.sessions() as session:
        statement = await record_parts.statement(session, saved.id)
        pupils = [p.name for p in await record_parts.pupils(session, saved.id)]
        about = (await records.subjects_of(session, [saved.id]))[saved.id]
    assert (statement.child_words, statement.opinion, pupils) == (TYPED["child_words"], TYPED["opinion"],
                                                                  ["Amy Lee", "Ben Cole"])
    assert {s.aad_object_id for s in about} == {LEE.aad, None} and "An adult outside the school" in {
        s.name for s in about}
    assert {a.value for a in saved.actions_taken} == {"screenshot_kept", "reported_to_platform"}


@pytest.mark.parametrize("category", list(Category))
async def test_routing_per_category_who_gets_what_and_what_the_channel_never_shows(
    school: School, category: Category
) -> None:
    result = await school.report(SAM, category=category.value, **SECRETS)
    assert result.card is not None and "INC-2026-0001" in card_text(result.card.to_dict())
    rule = ROUTING[category]
    sent = await school.sent_to()

    route = route_report(rule, urgency_for(category, False))  # urgent: the DSL, deputy DSLs and the Head at once
    expected_people = set().union(*(HOLDERS[role] for role in route.notify if role in HOLDERS)) if route.notify \
        else set()
    assert {name for name in sent if name != "channel"} == expected_people
    for name in expected_people:
        [details] = sent[name]
        assert "SECRETWHAT" in card_text(details) and "SECRETWHO" in card_text(details)
        assert r"\[click\]\(https\[:\]//evil\[.\]example\)" in shown_text(details)  # shown, inert
        assert details["summary"] == "Incident report INC-2026-0001 for you"  # no detail in notifications

    if rule.channel is ChannelView.NONE:
        assert "channel" not in sent
        return
    [post] = sent["channel"]
    text = card_text(post)
    for secret in ("SECRET", "Sam Teacher", "Facebook", "Year 6", "evil.example"):
        assert secret not in text, f"the channel card shows {secret!r}"
    if rule.channel is ChannelView.RESTRICTED:
        assert "A restricted report exists" in text and rule.title not in text
        urgent = "Urgent: " if rule.urgent else ""
        assert post["summary"] == f"{urgent}Restricted report INC-2026-0001"
    else:
        assert rule.title in text and "INC-2026-0001" in text


async def test_without_an_slt_channel_slt_are_sent_the_report_personally(sqlite_url: str) -> None:
    school = await School.open(sqlite_url, slt_channel=False)
    try:
        await school.report(SAM, category="media_enquiry", **SECRETS)
        await school.report(SAM, category="pupil_safety", **SECRETS)
        sent = await school.sent_to()
        assert "channel" not in sent
        assert {name: len(messages) for name, messages in sent.items()} == {
            # Tom: SLT (media) and DSL (pupil safety); Anna: SLT (media) and Head Teacher (urgent pupil safety)
            ANNA.name: 2, PRIYA.name: 1, TOM.name: 2,
        }
    finally:
        await school.close()


async def test_people_who_never_opened_the_bot_are_named_to_the_reporter(sqlite_url: str) -> None:
    school = await School.open(sqlite_url, chats=(SAM, ANNA, PRIYA))  # Tom (DSL) has never opened the bot
    try:
        receipt = (await school.report(SAM, category="pupil_safety", **SECRETS)).card
        assert receipt is not None
        text = shown_text(receipt.to_dict())
        assert "Please also tell them in person" in text and r"Designated Safeguarding Lead \(Tom Reed\)" in text
        sent = await school.sent_to()
        # the restricted notice still goes out, and the Head Teacher is alerted at once (urgent: issue 15, gap 1)
        assert list(sent) == ["channel", ANNA.name]
        kinds = [e.kind for e in await chronology(school)]
        assert EventKind.NOT_REACHABLE in kinds
        # SLT's status can say who cannot be reached, until they open the bot.
        assert await school.incidents.unreachable_people() == [  # the deputy DSL is not in the Playground files
            "Deputy Designated Safeguarding Lead (Kim Lowe)", "Designated Safeguarding Lead (Tom Reed)"]
        await school.conversations.save(StoredConversation(
            conversation_id=personal_chat_id(TOM), kind="personal", aad_object_id=TOM.aad, user_name=TOM.name,
            teams_user_id=TOM.teams_id, tenant_id="tenant", team_id=None, channel_id=None,
            service_url=SERVICE_URL, reference=reference_json(personal_chat_id(TOM)), stale=False,
        ))
        assert await school.incidents.unreachable_people() == ["Deputy Designated Safeguarding Lead (Kim Lowe)"]
    finally:
        await school.close()


async def test_a_report_sent_twice_is_one_record_and_one_channel_post(school: School) -> None:
    draft = "2" * 32
    first = await school.report(SAM, category="negative_comment", draft=draft, **SECRETS)
    again = await school.act(SAM, Verb.SUBMIT, {"draft": draft, "risk": "no", "category": "negative_comment",
                                                 **SECRETS})
    assert first.card is not None and again.card is not None
    assert "INC-2026-0001" in card_text(again.card.to_dict())
    assert "already received" in card_text(again.card.to_dict())
    assert [e.kind for e in await school.outbox()] == [OutboxKind.POST_TO_CHANNEL]
    async with school.database.sessions() as session:
        assert len(await records.reported_by(session, SAM.aad)) == 1
    # Someone else cannot collide with Sam's draft: submissions are keyed by the authenticated reporter.
    await school.act(LEE, Verb.SUBMIT, {"draft": draft, "risk": "no", "category": "other", **SECRETS})
    async with school.database.sessions() as session:
        assert len(await records.reported_by(session, LEE.aad)) == 1


async def test_my_reports_shows_only_my_own(school: School) -> None:
    await school.report(SAM, category="praise")
    await school.report(LEE, category="media_enquiry", what_happened="LEESECRET")
    await school.report(SAM, category="copyright")
    handler, _ = school.router.match_command("my reports")  # type: ignore[misc]
    mine = card_text((await handler(CommandRequest("my reports", "", actor(SAM)))).cards[0].to_dict())
    assert "INC-2026-0001" in mine and "INC-2026-0003" in mine
    assert "INC-2026-0002" not in mine and "LEESECRET" not in mine and "Media enquiry" not in mine
    assert "Something happened online" not in mine  # their own list has no details either


# --- handling: authorisation on every action ------------------------------------------------------------------

HANDLING = [
    (Verb.VIEW, {}),
    (Verb.TAKE_LEAD, {}),
    (Verb.NOTE, {"note": "A note"}),
    (Verb.ESCALATE, {"agency": "police", "escalation_reason": "Threats", "external_reference": "CAD 1"}),
    (Verb.CLOSE, {"outcome_kind": "resolved", "outcome": "Done"}),
    (Verb.SHOW_SCREENSHOT, {"attachment": 1}),
]


@pytest.mark.parametrize(("verb", "data"), HANDLING, ids=[v.value for v, _ in HANDLING])
@pytest.mark.parametrize(
    ("category", "refused"),
    [
        ("negative_comment", (SAM, LEE, JO, GRACE)),  # staff, the DPO and the Chair are not SLT
        ("pupil_safety", (SAM, LEE, PRIYA, JO, GRACE)),  # SLT member without DSL/Head role refused too
        ("allegation_about_staff", (SAM, LEE, PRIYA, TOM, JO, GRACE)),  # the Head Teacher only
        ("about_head_teacher", (SAM, LEE, ANNA, PRIYA, TOM, JO)),  # the Chair only: never the Head
    ],
)
async def test_only_permitted_roles_can_act_and_a_refusal_changes_nothing(
    school: School, verb: Verb, data: dict, category: str, refused: tuple
) -> None:
    await school.report(SAM, category=category)
    before_events = await chronology(school)
    before_outbox = await school.outbox()
    for who in refused:
        for kind in ("personal", "channel"):
            # The card data names the Head Teacher: it makes no difference, the actor is who sent the invoke.
            result = await school.act(who, verb, {"incident": 1, "aadObjectId": ANNA.aad, **data}, kind)
            if verb is Verb.SHOW_SCREENSHOT and kind == "channel":
                assert result.message is not None and "personal chat" in result.message
                continue
            assert result.card is None and result.extra_cards == [], (who.name, kind)
            assert result.message is not None and "Only the people the policy names" in result.message
    assert await chronology(school) == before_events
    assert await school.outbox() == before_outbox
    assert (await incident(school)).status is Status.OPEN


async def test_the_chair_handles_a_report_about_the_head_teacher(school: School) -> None:
    await school.report(SAM, category="about_head_teacher", **SECRETS)
    result = await school.act(GRACE, Verb.TAKE_LEAD, {"incident": 1})
    assert result.card is not None and "Took the lead" in card_text(result.card.to_dict())
    assert (await incident(school)).lead_name == GRACE.name


# --- handling: what each action does ---------------------------------------------------------------------------


async def test_taking_the_lead_updates_every_copy_of_the_card(school: School) -> None:
    await school.report(SAM, category="offensive_content", **SECRETS)  # channel + the Head Teacher's card
    result = await school.act(PRIYA, Verb.TAKE_LEAD, {"incident": 1}, "channel")
    assert result.card is not None
    clicked = card_text(result.card.to_dict())
    assert "Priya Shah" in clicked and "SECRET" not in clicked  # the channel's own card stays minimal

    updates = [(e, activity) for e, activity, _ in await school.outbox_activities()
               if e.kind is OutboxKind.UPDATE_ACTIVITY]
    assert len(updates) == 2  # the channel post and the Head Teacher's personal card
    by_parent = {e.depends_on: activity for e, activity in updates}
    channel_post, head_card = sorted(by_parent)
    assert "SECRET" not in card_text(by_parent[channel_post]) and "Priya Shah" in card_text(by_parent[channel_post])
    assert "SECRETWHAT" in card_text(by_parent[head_card]) and "Took the lead" in card_text(by_parent[head_card])

    again = await school.act(TOM, Verb.TAKE_LEAD, {"incident": 1}, "channel")
    assert again.message == "Priya Shah already leads this report."
    assert [e.kind for e in await chronology(school)].count(EventKind.LEAD_TAKEN) == 1


async def test_notes_escalations_and_closing_go_into_the_chronology(school: School) -> None:
    await school.report(SAM, category="bullying_pupil", **SECRETS)
    school.clock.advance(minutes=5)
    await school.act(TOM, Verb.TAKE_LEAD, {"incident": 1})
    await school.act(TOM, Verb.NOTE, {"incident": 1, "note": "Spoke to both families."})
    await school.act(TOM, Verb.ESCALATE, {"incident": 1, "agency": "lado", "escalation_reason": "Advice sought",
                                          "external_reference": "LA-77"})
    school.clock.advance(minutes=5)
    closing = await school.act(TOM, Verb.CLOSE, {"incident": 1, "outcome_kind": "resolved",
                                                 "outcome": "OUTCOMESECRET: apologies made"})
    assert closing.message is not None and "The reporter is told" in closing.message
    entries = await chronology(school)
    assert [(e.kind, e.actor_name) for e in entries] == [
        (EventKind.REPORTED, SAM.name),
        (EventKind.ROUTED, "Policy Bot"),
        (EventKind.LEAD_TAKEN, TOM.name),
        (EventKind.NOTE_ADDED, TOM.name),
        (EventKind.ESCALATED, TOM.name),
        (EventKind.CLOSED, TOM.name),
        (EventKind.REPORTER_TOLD, "Policy Bot"),
    ]
    assert entries[3].why == "Spoke to both families."
    assert entries[4].what == "Escalated to LADO / local authority (their reference: LA-77)"
    assert entries[4].why == "Advice sought"
    assert entries[5].at == datetime(2026, 11, 24, 10, 10, tzinfo=UTC)
    # After closing, only notes: no second close, no escalation.
    late = await school.act(TOM, Verb.CLOSE, {"incident": 1, "outcome_kind": "resolved", "outcome": "again"})
    assert late.message == "This report is already closed. Nothing was changed."
    assert (await school.act(TOM, Verb.NOTE, {"incident": 1, "note": "Parents thanked us."})).card is not None


async def test_a_double_click_on_save_note_or_escalate_records_it_once(school: School) -> None:
    await school.report(SAM, category="negative_comment")
    for _ in range(2):  # two invokes (two activity ids): a double click, or Teams' slow-answer retry
        await school.act(ANNA, Verb.NOTE, {"incident": 1, "note": "Called the parent."}, "channel")
        await school.act(ANNA, Verb.ESCALATE, {"incident": 1, "agency": "police", "escalation_reason": "Threats"})
    school.clock.advance(minutes=3)
    await school.act(ANNA, Verb.NOTE, {"incident": 1, "note": "Called the parent."})  # later: a new note
    kinds = [e.kind for e in await chronology(school)]
    assert kinds.count(EventKind.NOTE_ADDED) == 2 and kinds.count(EventKind.ESCALATED) == 1
    updates = [e for e in await school.outbox() if e.kind is OutboxKind.UPDATE_ACTIVITY]
    assert len(updates) == 3  # the channel card, once per change that happened


async def test_the_reporter_is_told_it_is_closed_without_details(school: School) -> None:
    await school.report(SAM, category="negative_comment", **SECRETS)
    await school.act(ANNA, Verb.NOTE, {"incident": 1, "note": "NOTESECRET"}, "channel")
    escalated = await school.act(ANNA, Verb.ESCALATE, {"incident": 1, "agency": "police",
                                                        "escalation_reason": "Threats"}, "channel")
    closed = await school.act(ANNA, Verb.CLOSE, {"incident": 1, "outcome_kind": "no_further_action",
                                                 "outcome": "OUTCOMESECRET"}, "channel")
    # In the channel the card changes and nothing else is said: no "escalated to the police" for all to read.
    assert escalated.card is not None and escalated.message is None
    assert closed.card is not None and closed.message is None
    [told] = (await school.sent_to())[SAM.name]
    text = card_text(told)
    assert "Your report INC-2026-0001 is closed" in text
    for hidden in ("OUTCOMESECRET", "NOTESECRET", "Anna", "No further action", "SECRETWHAT"):
        assert hidden not in text


async def test_view_from_the_channel_sends_the_details_to_the_viewers_own_chat(school: School) -> None:
    await school.report(SAM, category="negative_comment", **SECRETS)
    result = await school.act(PRIYA, Verb.VIEW, {"incident": 1}, "channel")
    assert result.card is None and result.message is not None and "personal chat" in result.message
    [details] = (await school.sent_to())[PRIYA.name]
    assert "SECRETWHAT" in card_text(details)
    assert (await chronology(school))[-1].kind is EventKind.VIEWED
    in_chat = await school.act(PRIYA, Verb.VIEW, {"incident": 1}, "personal")
    assert in_chat.card is not None and "SECRETWHAT" in card_text(in_chat.card.to_dict())


# --- the escalation clock ------------------------------------------------------------------------------------


async def test_an_urgent_report_nobody_leads_goes_to_the_next_in_the_safeguarding_chain_once(school: School) -> None:
    await school.report(SAM, category="negative_comment", risk=True, **SECRETS)
    sent = await school.sent_to()
    assert {ANNA.name, TOM.name} <= set(sent)  # urgent: the DSL and the Head Teacher at once
    worker = EscalationWorker(school.incidents, poll_seconds=1)
    school.clock.advance(minutes=14)
    assert (await worker.run_once()).escalated == 0
    school.clock.advance(minutes=2)
    assert (await worker.run_once()).escalated == 1
    [card] = (await school.sent_to())[PRIYA.name]  # the next step of the chain: the deputy head
    assert "Escalated to you: nobody has taken the lead" in card_text(card) and "SECRETWHAT" in card_text(card)
    entry = (await chronology(school))[-1]
    assert entry.kind is EventKind.AUTO_ESCALATED and "Priya Shah" in entry.what
    assert (await worker.run_once()).escalated == 0  # once


async def test_escalation_survives_a_restart(sqlite_url: str) -> None:
    clock = Clock()
    first = await School.open(sqlite_url, clock=clock)
    await first.report(SAM, category="pupil_safety", **SECRETS)
    await first.close()  # the bot stops before the clock runs out

    clock.advance(minutes=45)
    second = await School.open(sqlite_url, clock=clock, chats=())  # a fresh process; chats are already stored
    try:
        assert await second.incidents.escalate_due() == 1
        assert set((await second.sent_to())) == {"channel", TOM.name, ANNA.name, PRIYA.name}
    finally:
        await second.close()


async def test_nothing_is_escalated_once_someone_has_taken_the_lead(school: School) -> None:
    await school.report(SAM, category="pupil_safety")
    await school.act(TOM, Verb.TAKE_LEAD, {"incident": 1})
    school.clock.advance(hours=3)
    assert await school.incidents.escalate_due() == 0


async def test_the_clock_runs_in_real_minutes_after_school_hours(sqlite_url: str) -> None:
    clock = Clock(datetime(2026, 11, 27, 16, 50, tzinfo=UTC))  # Friday 16:50 in London
    school = await School.open(sqlite_url, clock=clock)
    try:
        await school.report(SAM, category="extremism")
        clock.moment = datetime(2026, 11, 27, 17, 4, tzinfo=UTC)
        assert await school.incidents.escalate_due() == 0
        clock.moment = datetime(2026, 11, 27, 17, 5, tzinfo=UTC)  # 15 real minutes: not Monday morning
        assert await school.incidents.escalate_due() == 1
    finally:
        await school.close()


@pytest.mark.parametrize(("category", "to"), [("allegation_about_staff", {ANNA.name}),
                                              ("about_head_teacher", {GRACE.name})])
async def test_escalation_of_an_allegation_stays_with_the_people_it_belongs_to(
    school: School, category: str, to: set
) -> None:
    await school.report(SAM, category=category, risk=True)
    before = {name: len(messages) for name, messages in (await school.sent_to()).items()}
    school.clock.advance(hours=1)
    assert await school.incidents.escalate_due() == 1
    after = {name: len(messages) for name, messages in (await school.sent_to()).items()}
    assert {name for name in after if after[name] != before.get(name, 0)} == to


# --- a directory that cannot answer ----------------------------------------------------------------------------


async def test_a_report_made_while_the_directory_is_down_is_routed_when_it_is_back(sqlite_url: str) -> None:
    """The real Graph directory over a fake Graph (the Playground's people) that is down as the report is made."""
    graph = SchoolGraph.from_roles_file(ROLES_FILE)
    graph.down()
    school = await School.open(sqlite_url, directory=graph.directory)
    try:
        receipt = (await school.report(SAM, category="offensive_content", **SECRETS)).card
        assert receipt is not None and "could not be reached just now" in card_text(receipt.to_dict())
        assert list(await school.sent_to()) == ["channel"]  # the channel needs no directory
        assert await school.incidents.route_pending() == 0  # still down: it waits
        graph.recover()
        assert await school.incidents.route_pending() == 1
        assert await school.incidents.route_pending() == 0
        sent = await school.sent_to()
        assert len(sent["channel"]) == 1 and len(sent[ANNA.name]) == 1
    finally:
        await school.close()
        await graph.aclose()
