"""Staff know the policy (issue 17), on SQLite and PostgreSQL: the key points offered once a school day until
acknowledged, a changed policy asks again, the acknowledgement recorded; ``policy status`` counts and lists, and is
refused (and audited) to staff and the DPO; the gentle reminder after N school days, once; the review reminder once;
training recorded shows on a runner's standing, and SLT's follow-up runs until it is recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cards.acknowledgement import AcknowledgePayload
from cards.training import TrainingPayload
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.access import RefusalReason
from domain.acknowledgement import edition_of
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.policy_help import parse_policy
from domain.roles import Person, Role
from services.acknowledgement import PolicyAcknowledgements
from services.audit import AuditTrail
from services.requests import CardAction, CommandRequest
from services.training import TrainingRecords
from store import audit as trail_store
from store import conversations
from store.db import Database
from store.outbox import OutboxRow
from tests.support.incidents_world import SERVICE_URL, reference_json, shown_text

POLICY = """# Social Media Policy

## Staff

- Know the contents of and ensure that any use of social media is carried out in line with this policy.

## Monitoring

The school's social media accounts must be monitored regularly and frequently (including during holidays).

## Pupils

Pupils must not post malicious comments.
"""
CHANGED = POLICY.replace("regularly and frequently", "every school day")
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Who:
    aad: str
    name: str
    teams_id: str

    def actor(self, kind: str = "personal") -> Actor:
        return Actor(self.aad, self.name, self.teams_id, f"a:personal-{self.teams_id}", kind)


SAM = Who("00000000-0000-0000-0000-000000000101", "Sam Teacher", "29:staff-sam")
LEE = Who("00000000-0000-0000-0000-000000000102", "Lee Carter", "29:staff-lee")
ANNA = Who("00000000-0000-0000-0000-000000000201", "Anna Smith", "29:head-anna")
SOL = Who("00000000-0000-0000-0000-000000000204", "Sol Senior", "29:slt-sol")
JO = Who("00000000-0000-0000-0000-000000000205", "Jo Bell", "29:dpo-jo")
DIRECTORY = StaticRoleDirectory([
    DirectoryEntry(SAM.aad, SAM.name), DirectoryEntry(LEE.aad, LEE.name),
    DirectoryEntry(ANNA.aad, ANNA.name, frozenset({Role.HEAD_TEACHER, Role.SLT})),
    DirectoryEntry(SOL.aad, SOL.name, frozenset({Role.SLT})), DirectoryEntry(JO.aad, JO.name, frozenset({Role.DPO})),
], description="test")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def service(database: Database, clock: Clock, text: str = POLICY, **kwargs: Any) -> PolicyAcknowledgements:
    return PolicyAcknowledgements(database, DIRECTORY, edition=edition_of(parse_policy(text)),
                                  audit=AuditTrail(database), clock=clock, **kwargs)


async def opened_the_bot(database: Database, *people: Who) -> None:
    async with database.transaction() as session:
        for who in people:
            chat = f"a:personal-{who.teams_id}"
            await conversations.save_conversation(session, conversations.StoredConversation(
                conversation_id=chat, kind="personal", aad_object_id=who.aad, user_name=who.name,
                teams_user_id=who.teams_id, tenant_id="tenant", team_id=None, channel_id=None,
                service_url=SERVICE_URL, reference=reference_json(chat), stale=False))


def shown(card: Any) -> str:
    """What a person reads (markdown escapes taken off)."""
    return re.sub(r"\\(.)", r"\1", shown_text(card.to_dict()))


async def outbox(database: Database) -> list[OutboxRow]:
    async with database.sessions() as session:
        return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


def acknowledge(who: Who, version: str) -> CardAction:
    return CardAction(verb="policy_acknowledge", data={"version": version}, actor=who.actor(),
                      payload=AcknowledgePayload(version=version))


async def test_the_key_points_are_offered_once_a_school_day_quoted_verbatim_until_acknowledged(
        database: Database) -> None:
    clock = Clock(TUESDAY)
    acks = service(database, clock)
    card = await acks.offer(SAM.actor())
    assert card is not None and "Please read the school's Social Media Policy" in shown(card)
    assert [p.text for p in acks.edition.key_points] == [
        "Know the contents of and ensure that any use of social media is carried out in line with this policy.",
        "The school's social media accounts must be monitored regularly and frequently (including during holidays).",
    ]  # the pupils' section is not offered to staff; each point is the policy's own sentence
    assert all(point.text in POLICY for point in acks.edition.key_points)
    assert await acks.offer(SAM.actor()) is None  # not on every turn
    assert await acks.offer(SAM.actor("channel")) is None  # never in a channel
    clock.now = TUESDAY + timedelta(days=1)
    assert await acks.offer(SAM.actor()) is not None  # the next school day, again, until acknowledged
    result = await acks.acknowledge(acknowledge(SAM, acks.edition.version))
    assert result.card is not None and "Thank you: you have read the policy" in shown(result.card)
    again = await acks.acknowledge(acknowledge(SAM, acks.edition.version))
    assert again.card is not None and "already confirmed" in shown(again.card)
    clock.now = TUESDAY + timedelta(days=2)
    assert await acks.offer(SAM.actor()) is None
    on = await acks.acknowledged_on([SAM.aad])
    assert on == {SAM.aad.lower(): TUESDAY + timedelta(days=1)}


async def test_a_changed_policy_file_asks_again_and_an_old_button_records_nothing(database: Database) -> None:
    clock = Clock(TUESDAY)
    first = service(database, clock)
    await first.acknowledge(acknowledge(SAM, first.edition.version))
    changed = service(database, clock, CHANGED)
    assert changed.edition.version != first.edition.version
    card = await changed.offer(SAM.actor())
    assert card is not None and "has changed: please read it again" in shown(card)
    old = await changed.acknowledge(acknowledge(LEE, first.edition.version))
    assert old.card is not None and "earlier version" in shown(old.card)
    assert await changed.acknowledged_on([LEE.aad]) == {}


async def test_the_sample_policy_is_never_offered_as_the_schools(database: Database) -> None:
    sample = service(database, Clock(TUESDAY), "> SAMPLE. It is not the policy of any real school.\n\n" + POLICY)
    assert sample.edition.is_sample
    assert await sample.offer(SAM.actor()) is None


async def test_policy_status_counts_and_lists_and_is_refused_and_audited_to_others(database: Database) -> None:
    clock = Clock(TUESDAY)
    acks = service(database, clock, reminder_school_days=3, approved_on=date(2021, 2, 4), review_due=date(2023, 2, 4))
    await opened_the_bot(database, SAM, ANNA)
    await acks.acknowledge(acknowledge(SAM, acks.edition.version))
    reply = await acks.status(CommandRequest("policy status", "", ANNA.actor()))
    text = shown(reply.cards[0])
    assert "1 of 5 staff have confirmed reading the current version" in text
    assert "Not yet (4):" in text and "Anna Smith, Jo Bell, Lee Carter, Sol Senior" in text
    assert "Never opened the bot" in text and "Lee Carter" in text
    assert "after 3 school days" in text and "4 February 2021" in text
    for who in (SAM, JO):
        refused = await acks.status(CommandRequest("policy status", "", who.actor()))
        assert refused.texts == ["Only SLT and the Head Teacher can see who has read the policy. Nothing was shown."]
    async with database.sessions() as session:
        entries = await trail_store.recent(session, limit=10)
    refused_reason = RefusalReason.ROLE.value
    assert [(e.actor_name, e.outcome, e.reason) for e in entries if e.action == "policy_status"][:3] == [
        (JO.name, AuditOutcome.REFUSED, refused_reason), (SAM.name, AuditOutcome.REFUSED, refused_reason),
        (ANNA.name, AuditOutcome.VIEWED, "policy_acknowledgements")]


async def test_a_gentle_reminder_goes_after_n_school_days_once(database: Database) -> None:
    clock = Clock(TUESDAY)
    acks = service(database, clock, reminder_school_days=2)
    await opened_the_bot(database, SAM, LEE)
    await acks.offer(LEE.actor())
    await acks.acknowledge(acknowledge(SAM, acks.edition.version))
    assert await acks.send_reminders(TUESDAY) == 0
    assert await acks.send_reminders(TUESDAY + timedelta(days=1)) == 0  # one school day: not yet
    assert await acks.send_reminders(TUESDAY + timedelta(days=2)) == 1  # Lee; Sam has read it
    assert await acks.send_reminders(TUESDAY + timedelta(days=3)) == 0  # once per version
    sent = await outbox(database)
    assert len(sent) == 1 and "gentle reminder" in str(sent[0].activity)
    assert sent[0].target["conversation"]["id"] == f"a:personal-{LEE.teams_id}"  # type: ignore[index]


async def test_the_head_teacher_is_reminded_once_when_the_review_is_due(database: Database) -> None:
    acks = service(database, Clock(TUESDAY), approved_on=date(2024, 11, 25), review_due=date(2026, 11, 25))
    await opened_the_bot(database, ANNA)
    assert await acks.remind_review(TUESDAY) == 0  # not due yet
    assert await acks.remind_review(TUESDAY + timedelta(days=1)) == 1
    assert await acks.remind_review(TUESDAY + timedelta(days=8)) == 0
    [sent] = await outbox(database)
    assert "due for review" in str(sent.activity) and "25 November 2024" in str(sent.activity)


async def test_training_recorded_shows_and_the_follow_up_runs_until_it_is_recorded(database: Database) -> None:
    clock = Clock(TUESDAY)
    acks = service(database, clock)
    training = TrainingRecords(database, DIRECTORY, audit=AuditTrail(database), clock=clock, followup_school_days=2)
    await opened_the_bot(database, ANNA, SOL)
    standing = await training.standing([LEE.aad], acks.edition.version)
    assert standing[LEE.aad.lower()].training is None and standing[LEE.aad.lower()].acknowledged_at is None
    await training.follow_up([Person(LEE.aad, LEE.name)], "ACC-2026-0001")
    assert await training.send_followups(TUESDAY) == 2  # to each member of SLT who has opened the bot
    assert await training.send_followups(TUESDAY + timedelta(hours=2)) == 0  # not again the same day
    assert await training.send_followups(TUESDAY + timedelta(days=2)) == 2  # every 2 school days until recorded
    clock.now = TUESDAY + timedelta(days=2)
    typed = await training.command(CommandRequest("training", "Lee Carter 25/11/2026 Online safety for staff",
                                                  SOL.actor()))
    assert typed.texts == [] and "Training recorded for Lee Carter" in shown(typed.cards[0])
    assert "follow-up about their training has stopped" in shown(typed.cards[0])
    assert await training.send_followups(TUESDAY + timedelta(days=7)) == 0
    record = (await training.standing([LEE.aad], acks.edition.version))[LEE.aad.lower()].training
    assert record is not None and (record.trained_on, record.course) == (date(2026, 11, 25), "Online safety for staff")


@pytest.mark.parametrize(("argument", "said"), [
    ("Lee Carter 01/01/2030 Online safety", "in the future"),
    ("Lee Carter", "Type **training**"),
    ("Nobody Here 12/11/2026 Online safety", "not on the school's staff list"),
    ("Lee Carter 31/02/2026 Online safety", "not a date in the calendar"),
    ("Lee Carter 12/11/2026", "Say what the training was"),
])
async def test_typed_training_that_cannot_be_recorded_says_why(database: Database, argument: str, said: str) -> None:
    training = TrainingRecords(database, DIRECTORY, audit=AuditTrail(database), clock=Clock(TUESDAY))
    reply = await training.command(CommandRequest("training " + argument, argument, ANNA.actor()))
    assert reply.cards == [] and said in reply.texts[0]


async def test_the_training_form_resolves_the_person_through_the_directory_and_refuses_staff(
        database: Database) -> None:
    training = TrainingRecords(database, DIRECTORY, audit=AuditTrail(database), clock=Clock(TUESDAY))
    form = await training.command(CommandRequest("training", "", ANNA.actor()))
    assert "Record social media training" in shown(form.cards[0]) and LEE.name in shown(form.cards[0])

    def submit(who: Who, person: str) -> CardAction:
        payload = TrainingPayload(person=person, trained_on="2026-11-20", course="Online safety")
        return CardAction(verb="training_submit", data=payload.model_dump(), actor=who.actor(), payload=payload)

    crafted = await training.submit(submit(ANNA, "00000000-0000-0000-0000-00000000dead"))
    assert crafted.card is not None and "Choose who was trained" in shown(crafted.card)
    done = await training.submit(submit(ANNA, LEE.aad))
    assert done.card is not None and "Training recorded for Lee Carter" in shown(done.card)
    refused = await training.submit(submit(SAM, LEE.aad))
    assert refused.message is not None and refused.message.startswith("Only SLT and the Head Teacher")


async def test_the_worker_round_sends_reminders_follow_ups_and_the_review_each_once(database: Database) -> None:
    from bot.policy_reminders import PolicyReminders, PolicyRound

    clock = Clock(TUESDAY)
    acks = service(database, clock, reminder_school_days=1, review_due=date(2026, 11, 24))
    training = TrainingRecords(database, DIRECTORY, audit=AuditTrail(database), clock=clock)
    await opened_the_bot(database, LEE, ANNA, SOL)
    await acks.offer(LEE.actor())
    await training.follow_up([Person(LEE.aad, LEE.name)], "ACC-2026-0002")
    worker = PolicyReminders(acks, training, check_seconds=60)
    wednesday = TUESDAY + timedelta(days=1)
    # Everyone with a chat who has not read it (Lee, Anna, Sol), SLT's two follow-ups, the Head's review reminder.
    assert await worker.run_once(wednesday) == PolicyRound(reminded=3, followed_up=2, review=1)
    assert await worker.run_once(wednesday + timedelta(hours=1)) == PolicyRound()


@pytest.mark.parametrize(("approved", "due", "months", "expected"), [
    (date(2021, 2, 4), None, 24, date(2023, 2, 4)),
    (date(2024, 1, 31), None, 1, date(2024, 2, 28)),  # no 31 February: the month's last day it can be
    (date(2021, 2, 4), date(2022, 9, 1), 24, date(2022, 9, 1)),  # a set review date wins
    (None, None, 24, None),
])
def test_the_review_date_comes_from_the_settings(approved: date | None, due: date | None, months: int,
                                                 expected: date | None) -> None:
    from bot.settings import Settings

    settings = Settings(_env_file=None, policy_approved_on=approved, policy_review_due=due,
                        policy_review_months=months)
    assert settings.policy_review_date() == expected
