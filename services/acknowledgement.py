"""Staff know the policy (issue 17): the key points offered beside an answer, the acknowledgement, ``policy status``
(SLT, the Head Teacher), the gentle reminder after N school days and the Head Teacher's review reminder.

- **Only the school's own policy**: while the bundled sample is in use (``POLICYBOT_POLICY_PATH`` not set) nobody is
  asked to confirm reading it and no reminder goes; ``policy status`` says so.
- **Offer** (``offer``): asked by the edge after a help card, a welcome or a policy answer in the personal chat. A
  member of staff who has not acknowledged the current version gets the key points at most once a school day
  (``policy_notices``, kind ``offer``: the school day it was last offered, set by a conditional UPDATE so two turns at
  once offer once). Never a gate: it is an extra card; nothing waits for it.
- **Acknowledge** (verb ``policy_acknowledge``, any member of staff in their personal chat): records who, which
  version, when; a button of an earlier version records nothing and shows the current key points.
- **Status** (``policy status``, SLT and the Head Teacher in the personal chat): the staff list (the directory's
  staff file, with everyone who has opened the bot, Graph listing no whole tenant) against the acknowledgements of
  the current version.
- **Reminders** (``send_reminders``, from ``bot/policy_reminders.py``): to a member of staff who has not acknowledged
  the current version ``reminder_school_days`` school days after it first reached them, once per version
  (``ack_reminder``), through the outbox. The review reminder goes to the Head Teacher once per review date.

Who may use each way in is declared here once (``ACCESS``): the router checks it before the service runs, and the
service checks the same declaration again (it is the authority wherever it is called from), each refusal in the
audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from cards.acknowledgement import (
    ACKNOWLEDGE_VERB,
    AcknowledgePayload,
    acknowledged_card,
    key_points_card,
    outdated_card,
    review_due_card,
    status_card,
)
from cards.base import AdaptiveCard
from cards.replies import ActionResult, CommandReply
from domain.access import Access, only, staff
from domain.acknowledgement import PolicyEdition
from domain.actors import Actor
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.roles import DirectoryUnavailableError, Person, Role, RoleDirectory
from services.audit import AuditTrail, Gate, view
from services.requests import CardAction, CommandRequest
from store import acknowledgements as store
from store import conversations
from store.base import utcnow
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

STATUS_COMMAND = "policy_status"
# Who has read the policy is for SLT and the Head Teacher; anyone may record their own acknowledgement. Both only in
# the personal chat (a list of names; the key points card is sent there).
ACCESS: dict[str, Access] = {
    STATUS_COMMAND: only(Role.SLT, Role.HEAD_TEACHER, personal_only=True, refusal=(
        "Only SLT and the Head Teacher can see who has read the policy. Nothing was shown.")),
    ACKNOWLEDGE_VERB: staff(personal_only=True),
}
DEFAULT_REMINDER_SCHOOL_DAYS = 5
_VERSION_SEEN = "version"  # a notice with no person: when this bot first served the version
MAX_STAFF_LISTED = 2000


def _message(card: AdaptiveCard, summary: str) -> dict[str, object]:
    return {"type": "message", "summary": summary, "attachments": [card.attachment()]}


@dataclass(frozen=True)
class StaffList:
    people: list[Person]
    chats: dict[str, str]  # lower-case aad -> name, for everyone with a personal chat
    source: str


class PolicyAcknowledgements:
    def __init__(self, database: Database, directory: RoleDirectory, *, edition: PolicyEdition, audit: AuditTrail,
                 calendar: SchoolCalendar | None = None,
                 reminder_school_days: int = DEFAULT_REMINDER_SCHOOL_DAYS,
                 approved_on: date | None = None, review_due: date | None = None,
                 clock: Callable[[], datetime] = utcnow, on_enqueued: Callable[[], None] | None = None) -> None:
        self._db = database
        self._directory = directory
        self.edition = edition
        self._audit = audit
        self._gate = Gate(directory, audit)
        self.calendar = calendar or SchoolCalendar()
        self._reminder_days = reminder_school_days
        self.approved_on = approved_on
        self.review_due = review_due
        self._clock = clock
        self._on_enqueued = on_enqueued or (lambda: None)

    # --- the offer ---------------------------------------------------------------------------------------------

    async def offer(self, actor: Actor) -> AdaptiveCard | None:
        """The key points for ``actor`` if they have not acknowledged this version and were not offered them today."""
        if self.edition.is_sample or not actor.aad_object_id or not actor.in_personal_chat:
            return None  # a sample is never offered as the school's policy
        now = self._clock()
        today = self.calendar.school_date(now)
        version = self.edition.version
        async with self._db.transaction() as session:
            if await store.acknowledgement_of(session, actor.aad_object_id, version) is not None:
                return None
            await store.open_notice(session, _VERSION_SEEN, "", version, now)
            notice = await store.open_notice(session, store.OFFER, actor.aad_object_id, version, now, actor.name)
            if notice.last_sent_on == today:
                return None
            if not await store.mark_sent(session, notice.id, today, last_sent_on=notice.last_sent_on):
                return None
            changed = bool(await store.acknowledgements_by(session, [actor.aad_object_id]))
        return key_points_card(self.edition, changed=changed)

    # --- the acknowledgement -----------------------------------------------------------------------------------

    async def acknowledge(self, action: CardAction) -> ActionResult:
        refused = await self._gate.refused(ACKNOWLEDGE_VERB, ACCESS[ACKNOWLEDGE_VERB], action.actor)
        if refused is not None:
            return ActionResult(message=refused)
        payload = action.payload
        assert isinstance(payload, AcknowledgePayload)  # the router validated it
        if payload.version != self.edition.version:
            return ActionResult(card=outdated_card(self.edition))
        now = self._clock()
        async with self._db.transaction() as session:
            ack, new = await store.acknowledge(session, action.actor.aad_object_id, action.actor.name,
                                               self.edition.version, now)
        if new:
            log.info("policy acknowledged", extra={"version": self.edition.version})
        return ActionResult(card=acknowledged_card(self.edition, ack.name, self.calendar.card_time(ack.acknowledged_at),
                                                   already=not new))

    async def acknowledged_on(self, aad_object_ids: list[str]) -> dict[str, datetime]:
        """When each of these people acknowledged the current version (lower-case ids; absent: not yet)."""
        async with self._db.sessions() as session:
            found = await store.acknowledgements_of_people(session, aad_object_ids, self.edition.version)
        return {aad: ack.acknowledged_at for aad, ack in found.items()}

    # --- policy status ------------------------------------------------------------------------------------------

    async def staff_list(self) -> StaffList:
        """The directory's staff file (Graph lists no whole tenant) with everyone who has opened the bot."""
        listed: list[Person] = []
        search = getattr(self._directory, "search_staff", None)
        if search is not None:
            try:
                listed = list(await search("", limit=MAX_STAFF_LISTED))
            except DirectoryUnavailableError:
                listed = []
        async with self._db.sessions() as session:
            chatting = await conversations.people_with_personal_chats(session)
        chats = {person.aad_object_id.lower(): person.name or person.aad_object_id for person in chatting}
        people: dict[str, Person] = {p.aad_object_id.lower(): p for p in listed}
        for aad, name in chats.items():
            if aad not in people:
                try:
                    if not await self._directory.is_in_directory(aad):
                        continue
                except DirectoryUnavailableError:
                    pass
                people[aad] = Person(aad_object_id=aad, name=name)
        source = (f"the school's staff list ({len(listed)}) and everyone who has opened the bot" if listed
                  else "everyone who has opened the bot")
        return StaffList(sorted(people.values(), key=lambda p: p.name.lower()), chats, source)

    async def status(self, request: CommandRequest) -> CommandReply:
        actor = request.actor
        refused = await self._gate.refused(STATUS_COMMAND, ACCESS[STATUS_COMMAND], actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        staff = await self.staff_list()
        async with self._db.sessions() as session:
            acks = await store.acknowledgements_of_version(session, self.edition.version)
        done = [(p.name, self.calendar.card_time(acks[p.aad_object_id.lower()].acknowledged_at))
                for p in staff.people if p.aad_object_id.lower() in acks]
        waiting = [p for p in staff.people if p.aad_object_id.lower() not in acks]
        counts = {"staff": len(staff.people), "acknowledged": len(done)}
        await self._audit.record(view(actor, STATUS_COMMAND, RecordType.NONE, self.edition.version,
                                      "policy_acknowledgements", counts))
        card = status_card(self.edition, acknowledged=done, waiting=[p.name for p in waiting],
                           never_opened=[p.name for p in waiting if p.aad_object_id.lower() not in staff.chats],
                           source=staff.source, reminder_days=self._reminder_days, approved_on=self.approved_on,
                           review_due=self.review_due)
        return CommandReply(cards=[card])

    # --- reminders ----------------------------------------------------------------------------------------------

    async def send_reminders(self, now: datetime | None = None) -> int:
        """A gentle reminder to each member of staff who has not acknowledged the current version ``N`` school days
        after it first reached them (the later of the bot first serving it and their first offer); once each."""
        now = now or self._clock()
        if self.edition.is_sample or not self.calendar.school_day_started(now):
            return 0
        version = self.edition.version
        staff = await self.staff_list()
        sent = 0
        async with self._db.transaction() as session:
            seen = await store.open_notice(session, _VERSION_SEEN, "", version, now)
            acks = await store.acknowledgements_of_version(session, version)
            for person in staff.people:
                aad = person.aad_object_id.lower()
                if aad in acks or aad not in staff.chats:
                    continue
                offer = await store.notice(session, store.OFFER, aad, version)
                start = max(seen.created_at, offer.created_at) if offer else seen.created_at
                if self.calendar.school_days_between(start, now) < self._reminder_days:
                    continue
                reminder = await store.open_notice(session, store.ACK_REMINDER, aad, version, now, person.name)
                if reminder.last_sent_on is not None:
                    continue
                chat = await conversations.personal_chat_of(session, aad)
                if chat is None or chat.stale:
                    continue
                if not await store.mark_sent(session, reminder.id, self.calendar.school_date(now), last_sent_on=None):
                    continue
                await enqueue(session, OutboxMessage.personal(
                    chat.reference, _message(key_points_card(self.edition, reminder=True),
                                             "A gentle reminder: please read the Social Media Policy"),
                    dedupe_key=f"policy-ack-reminder:{version}:{aad}"))
                sent += 1
        if sent:
            self._on_enqueued()
            log.info("policy reminders sent", extra={"sent": sent, "version": version})
        return sent

    async def remind_review(self, now: datetime | None = None) -> int:
        """The Head Teacher hears once (per review date) that the policy's review is due."""
        now = now or self._clock()
        due = self.review_due
        if due is None or self.calendar.school_date(now) < due or not self.calendar.school_day_started(now):
            return 0
        try:
            heads = await self._directory.holders_of(Role.HEAD_TEACHER)
        except DirectoryUnavailableError:
            return 0
        sent = 0
        async with self._db.transaction() as session:
            for head in heads:
                notice = await store.open_notice(session, store.REVIEW, head.aad_object_id, due.isoformat(), now,
                                                 head.name)
                if notice.last_sent_on is not None:
                    continue
                chat = await conversations.personal_chat_of(session, head.aad_object_id)
                if chat is None or chat.stale:
                    continue
                if not await store.mark_sent(session, notice.id, self.calendar.school_date(now), last_sent_on=None):
                    continue
                await enqueue(session, OutboxMessage.personal(
                    chat.reference, _message(review_due_card(self.approved_on, due),
                                             "The Social Media Policy is due for review"),
                    dedupe_key=f"policy-review:{due.isoformat()}:{head.aad_object_id.lower()}"))
                sent += 1
        if sent:
            self._on_enqueued()
        return sent
