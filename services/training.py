"""Social media training records (issue 17): SLT and the Head Teacher record them (``training``, or its form); a
business case shows each runner's training from these records; a runner approved with training to follow is followed
up with SLT until their training is recorded.

Who may record is declared here once (``ACCESS``: SLT and the Head Teacher, in the personal chat): the router checks it
before the service runs, and the service checks the same declaration again (it is the authority wherever it is called
from), each refusal in the audit trail. The person is always resolved through the directory (the staff file or Graph,
and whoever has opened the bot): a form's id or a typed name never stands for itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from cards.replies import ActionResult, CommandReply
from cards.training import (
    TRAINING_SUBMIT_VERB,
    TrainingPayload,
    training_followup_card,
    training_form_card,
    training_recorded_card,
)
from domain.access import Access, only
from domain.accounts import RunnerRecord
from domain.actors import Actor
from domain.calendar import SchoolCalendar
from domain.roles import DirectoryUnavailableError, Person, Role, RoleDirectory
from domain.training import TrainingProblem, TrainingRecord, check_course, latest, parse_date, parse_typed
from services.audit import AuditTrail, Gate
from services.requests import CardAction, CommandRequest
from store import acknowledgements as notices
from store import conversations
from store import training as store
from store.base import utcnow
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

COMMAND = "training"
# The typed command and its form: SLT and the Head Teacher (who follow runners' training up), in the personal chat.
RECORDING: Access = only(Role.SLT, Role.HEAD_TEACHER, personal_only=True, refusal=(
    "Only SLT and the Head Teacher can record social media training. Nothing was recorded."))
ACCESS: dict[str, Access] = {COMMAND: RECORDING, TRAINING_SUBMIT_VERB: RECORDING}
DEFAULT_FOLLOWUP_SCHOOL_DAYS = 5  # SLT hear again each school week until the training is recorded
_MAX_CHOICES = 200


@dataclass(frozen=True)
class RunnerStanding:
    """What a business case shows for a runner: when they acknowledged the current policy, their latest training."""

    acknowledged_at: datetime | None
    training: TrainingRecord | None


class TrainingRecords:
    def __init__(self, database: Database, directory: RoleDirectory, *, audit: AuditTrail,
                 calendar: SchoolCalendar | None = None, followup_school_days: int = DEFAULT_FOLLOWUP_SCHOOL_DAYS,
                 clock: Callable[[], datetime] = utcnow, on_enqueued: Callable[[], None] | None = None) -> None:
        self._db = database
        self._directory = directory
        self._gate = Gate(directory, audit)
        self.calendar = calendar or SchoolCalendar()
        self._followup_days = followup_school_days
        self._clock = clock
        self._on_enqueued = on_enqueued or (lambda: None)

    async def _refused(self, actor: Actor, name: str) -> str | None:
        """``ACCESS[name]`` checked for ``actor`` (the router's check, again); a refusal is in the trail."""
        return await self._gate.refused(name, ACCESS[name], actor)

    async def _people(self) -> list[Person]:
        """Who can be named: the staff file's people and everyone who has opened the bot."""
        found: dict[str, Person] = {}
        search = getattr(self._directory, "search_staff", None)
        if search is not None:
            try:
                for person in await search("", limit=_MAX_CHOICES):
                    found[person.aad_object_id.lower()] = person
            except DirectoryUnavailableError:
                pass
        async with self._db.sessions() as session:
            for chat in await conversations.people_with_personal_chats(session):
                found.setdefault(chat.aad_object_id.lower(), Person(chat.aad_object_id, chat.name or "Unknown"))
        return sorted(found.values(), key=lambda p: p.name.lower())[:_MAX_CHOICES]

    async def _staff_member(self, aad_object_id: str) -> Person | None:
        lookup = getattr(self._directory, "staff_member", None)
        if lookup is not None:
            person: Person | None
            try:
                person = await lookup(aad_object_id)
            except DirectoryUnavailableError:
                person = None
            if person is not None:
                return person
        return next((p for p in await self._people() if p.aad_object_id.lower() == aad_object_id.lower()), None)

    async def _named(self, name: str) -> list[Person]:
        wanted = " ".join(name.split()).lower()
        candidates: dict[str, Person] = {p.aad_object_id.lower(): p for p in await self._people()}
        search = getattr(self._directory, "search_staff", None)
        if search is not None:
            try:
                for person in await search(name, limit=10):
                    candidates.setdefault(person.aad_object_id.lower(), person)
            except DirectoryUnavailableError:
                pass
        exact = [p for p in candidates.values() if p.name.lower() == wanted]
        return exact or [p for p in candidates.values() if wanted in p.name.lower()]

    def _form(self, people: list[Person], values: dict[str, str] | None = None,
              problem: str | None = None) -> CommandReply:
        return CommandReply(cards=[training_form_card([(p.aad_object_id, p.name) for p in people], values=values,
                                                      problem=problem)])

    async def command(self, request: CommandRequest) -> CommandReply:
        said = await self._refused(request.actor, COMMAND)
        if said:
            return CommandReply(texts=[said])
        if not request.argument.strip():
            return self._form(await self._people())
        today = self.calendar.school_date(self._clock())
        try:
            typed = parse_typed(request.argument, today)
        except TrainingProblem as problem:
            return CommandReply(texts=[str(problem)])
        found = await self._named(typed.person)
        if not found:
            return CommandReply(texts=[f"{typed.person!r} is not on the school's staff list, and has not opened the "
                                       "bot. Check the name, or use the form: type **training**."])
        if len(found) > 1:
            names = ", ".join(p.name for p in found[:6])
            return CommandReply(texts=[f"Several people match {typed.person!r}: {names}. Type the full name."])
        record, closed = await self.record(request.actor, found[0], typed.trained_on, typed.course)
        return CommandReply(cards=[training_recorded_card(record, self.calendar.card_time(record.recorded_at),
                                                          followups_closed=closed)])

    async def submit(self, action: CardAction) -> ActionResult:
        said = await self._refused(action.actor, TRAINING_SUBMIT_VERB)
        if said:
            return ActionResult(message=said)
        payload = action.payload
        assert isinstance(payload, TrainingPayload)  # the router validated it
        values = {"person": payload.person, "trained_on": payload.trained_on, "course": payload.course}
        person = await self._staff_member(payload.person) if payload.person.strip() else None
        try:
            if person is None:
                raise TrainingProblem("Choose who was trained from the staff list.")
            if not payload.trained_on.strip():
                raise TrainingProblem("Say when the training took place.")
            trained_on = parse_date(payload.trained_on, self.calendar.school_date(self._clock()))
            course = check_course(payload.course)
        except TrainingProblem as problem:
            return ActionResult(card=self._form(await self._people(), values, str(problem)).cards[0])
        record, closed = await self.record(action.actor, person, trained_on, course)
        return ActionResult(card=training_recorded_card(record, self.calendar.card_time(record.recorded_at),
                                                        followups_closed=closed))

    async def record(self, actor: Actor, person: Person, trained_on: date, course: str) -> tuple[TrainingRecord, int]:
        """Record the training; the follow-ups about this person's training stop."""
        now = self._clock()
        async with self._db.transaction() as session:
            record = await store.add(session, aad_object_id=person.aad_object_id, name=person.name,
                                     trained_on=trained_on, course=course, recorded_by_aad=actor.aad_object_id,
                                     recorded_by_name=actor.name, now=now)
            closed = await notices.close_notices(session, notices.TRAINING_FOLLOWUP, person.aad_object_id, now)
        log.info("training recorded", extra={"followups_closed": closed})
        return record, closed

    # --- what the business case shows ---------------------------------------------------------------------------

    async def standing(self, aad_object_ids: list[str], version: str) -> dict[str, RunnerStanding]:
        """Each runner's acknowledgement of the current policy and latest training (keys in lower case)."""
        async with self._db.sessions() as session:
            trained = await store.of_people(session, aad_object_ids)
            acks = await notices.acknowledgements_of_people(session, aad_object_ids, version)
        result: dict[str, RunnerStanding] = {}
        for aad in aad_object_ids:
            key = aad.lower()
            ack = acks.get(key)
            result[key] = RunnerStanding(ack.acknowledged_at if ack else None, latest(trained.get(key, [])))
        return result

    async def runner_records(self, aad_object_ids: list[str], version: str) -> dict[str, RunnerRecord]:
        """For a business case: each runner's acknowledgement date of policy ``version`` (on the school's calendar)
        and latest training (keys in lower case)."""
        found = await self.standing(aad_object_ids, version)
        return {aad: RunnerRecord(
            acknowledged_on=self.calendar.school_date(s.acknowledged_at) if s.acknowledged_at else None,
            trained_on=s.training.trained_on if s.training else None,
            course=s.training.course if s.training else None,
        ) for aad, s in found.items()}

    def records_for(self, version: str) -> Callable[[list[str]], Awaitable[dict[str, RunnerRecord]]]:
        """The business case's lookup (``services.accounts.RunnerRecordsLookup``) for the policy in use (its
        ``PolicyEdition.version``: the school's file, or the bundled sample's)."""

        async def lookup(aad_object_ids: list[str]) -> dict[str, RunnerRecord]:
            return await self.runner_records(aad_object_ids, version)

        return lookup

    # --- follow-ups ---------------------------------------------------------------------------------------------

    async def follow_up(self, runners: list[Person], reference: str) -> None:
        """Runners approved with training to follow: SLT hear about each until it is recorded."""
        now = self._clock()
        async with self._db.transaction() as session:
            for runner in runners:
                await notices.open_notice(session, notices.TRAINING_FOLLOWUP, runner.aad_object_id, reference, now,
                                          runner.name)
        self._on_enqueued()

    async def send_followups(self, now: datetime | None = None) -> int:
        """Each open follow-up whose runner is still untrained goes to SLT, then every ``N`` school days; one whose
        runner has been trained since is closed."""
        now = now or self._clock()
        if not self.calendar.school_day_started(now):
            return 0
        today = self.calendar.school_date(now)
        try:
            slt = await self._directory.holders_of(Role.SLT)
        except DirectoryUnavailableError:
            return 0
        sent = 0
        async with self._db.transaction() as session:
            open_ones = await notices.notices(session, notices.TRAINING_FOLLOWUP)
            trained = await store.of_people(session, [n.aad_object_id for n in open_ones])
            chats = await conversations.personal_chats_of(session, [p.aad_object_id for p in slt])
            for notice in open_ones:
                if trained.get(notice.aad_object_id):
                    await notices.close_notices(session, notices.TRAINING_FOLLOWUP, notice.aad_object_id, now)
                    continue
                if notice.last_sent_on is not None:
                    if notice.last_sent_on == today or self.calendar.school_days_between(
                            self.calendar.start_of(notice.last_sent_on), now) < self._followup_days:
                        continue
                if not await notices.mark_sent(session, notice.id, today, last_sent_on=notice.last_sent_on):
                    continue
                card = training_followup_card(notice.name or "a runner", notice.key,
                                              self.calendar.card_time(notice.created_at))
                for person in slt:
                    chat = chats.get(person.aad_object_id)
                    if chat is None or chat.stale:
                        continue
                    await enqueue(session, OutboxMessage.personal(
                        chat.reference,
                        {"type": "message", "summary": f"Training to follow: {notice.name}",
                         "attachments": [card.attachment()]},
                        dedupe_key=f"training-followup:{notice.id}:{today.isoformat()}:{person.aad_object_id.lower()}"))
                    sent += 1
        if sent:
            self._on_enqueued()
        return sent
