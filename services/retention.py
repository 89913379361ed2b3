"""The retention schedule at work: the periodic run, ``retention preview``, and legal holds.

- ``run``: reads what is due (a read-only session), asks the directory who to tell (before any unit of work),
  then applies the plan in ONE unit of work: the run's row, the unlock of the append-only tables, every
  deletion, anonymisation and flag with its tombstone, the cards to the DPO and to whoever reviews a flagged
  report (through the outbox), all committed together or not at all. The plan is recomputed inside the unit of
  work, so what is applied is exactly what the schedule, the holds and the flags say at that moment.
- ``preview``: the same plan, computed the same way, shown to the DPO (personal chat only).
- Legal holds: the DPO or the Head Teacher places (``legal hold <what> because <why>``), releases and lists
  them (personal chat only). Each hold and release, and every refusal, is written to the audit trail.

Who may use each command is declared here once (``ACCESS``, by the router's command name): the router checks it
before the service runs, and each command checks the same declaration again (``services/audit.py`` ``Gate``: the
service is the authority wherever it is called from), each refusal in the audit trail.

A record under a legal hold is never touched, nor is one flagged for review. The append-only tables are
emptied of a record's rows only by the run, inside ``store.retention.unlocked`` (see migration
``0009_retention``); UPDATE of them stays refused to everyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cards.base import AdaptiveCard
from cards.replies import CommandReply
from cards.retention import holds_card, preview_card, review_card, run_report_card
from domain.access import Access, only
from domain.actors import Actor
from domain.approvals import ApprovalKind
from domain.audit import AuditEntry, AuditOutcome, RecordType
from domain.calendar import SchoolCalendar
from domain.incidents import Category, rule_for
from domain.retention import (
    INCIDENT_KINDS,
    Disposal,
    HoldCommandError,
    HoldKind,
    Holds,
    KeptItem,
    LegalHold,
    PlannedItem,
    RecordKind,
    RetentionPlan,
    RetentionSchedule,
    keeps_screenshots,
    looks_like_object_id,
    parse_hold,
    target_kind,
)
from domain.roles import DirectoryUnavailableError, Person, Role, RoleDirectory
from services.approvals import card_message
from services.audit import AuditTrail, Gate, refusal
from store import conversations
from store import retention as store
from store.base import utcnow
from store.db import Database
from store.outbox import OutboxMessage, enqueue

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DEFAULT_BATCH = 500  # records per kind per run: a run stays one short transaction; the next run continues

_INCIDENT_RULES = (RecordKind.INCIDENT_SAFEGUARDING, RecordKind.INCIDENT_ALLEGATION, RecordKind.INCIDENT_DATA_BREACH,
                   RecordKind.INCIDENT_GENERAL, RecordKind.INCIDENT_GOOD_NEWS,
                   RecordKind.INCIDENT_TRANSFERRED)  # put into the school's safeguarding system (KCSIE record)
_REQUEST_RULES = ((RecordKind.ACCOUNT_REQUESTS, ApprovalKind.NEW_ACCOUNT),
                  (RecordKind.PHOTO_EXCEPTION_REQUESTS, ApprovalKind.PERSONAL_DEVICE_PHOTO))
_ROW_RULES = (RecordKind.PHOTO_CHECK_LOG, RecordKind.CONSENT_REGISTER_VERSIONS, RecordKind.DO_NOT_PHOTOGRAPH_REQUESTS,
              RecordKind.DELEGATIONS, RecordKind.ACCOUNT_DRAFTS, RecordKind.AUDIT_TRAIL, RecordKind.CONVERSATION_STATE,
              RecordKind.CONVERSATION_REFERENCES, RecordKind.OUTBOX_CONTENT, RecordKind.ACTIVITY_LEDGER,
              RecordKind.LEGAL_HOLDS, RecordKind.SUBJECT_ACCESS_EXPORTS, RecordKind.CLOSED_ACCOUNTS,
              RecordKind.DATA_RIGHTS_REQUESTS)

# --- who may use each command (the router registers these; each command checks its own again) ---------------

RETENTION_PREVIEW = "retention_preview"
LEGAL_HOLD = "legal_hold"
RELEASE_LEGAL_HOLD = "release_legal_hold"
LEGAL_HOLDS = "legal_holds"

# The preview is the DPO's; holds are the DPO's and the Head Teacher's. Personal chat only: what they show is
# restricted.
_HOLDERS = only(Role.DPO, Role.HEAD_TEACHER, personal_only=True, record=RecordType.LEGAL_HOLD)
ACCESS: dict[str, Access] = {
    RETENTION_PREVIEW: only(Role.DPO, personal_only=True, record=RecordType.RETENTION, refusal=(
        "Only the Data Protection Officer can preview the retention schedule's next run. Nothing was shown.")),
    LEGAL_HOLD: _HOLDERS,
    RELEASE_LEGAL_HOLD: _HOLDERS,
    LEGAL_HOLDS: _HOLDERS,
}


@dataclass(frozen=True)
class RunOutcome:
    """What a run did (``run_id`` None: nothing was due)."""

    plan: RetentionPlan
    run_id: int | None = None
    dpo_told: int = 0
    reviewers_told: int = 0


@dataclass(frozen=True)
class _Recipients:
    dpo: tuple[Person, ...]
    reviewers: dict[Category, tuple[Person, ...]] | None  # None: the directory could not say: flag next run


class Retention:
    """The run, the preview and legal holds (``dialogs/retention.py`` routes the commands here)."""

    def __init__(self, database: Database, directory: RoleDirectory, *, schedule: RetentionSchedule,
                 calendar: SchoolCalendar, audit: AuditTrail | None = None, clock: Clock = utcnow,
                 batch: int = DEFAULT_BATCH, on_enqueued: Callable[[], None] | None = None) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._db = database
        self._directory = directory
        self.schedule = schedule
        self._calendar = calendar
        self._audit = audit or AuditTrail(database, clock=clock)
        self._gate = Gate(directory, self._audit)
        self._clock = clock
        self._batch = batch
        self._on_enqueued = on_enqueued

    # --- the plan ----------------------------------------------------------------------------------------------

    async def plan_in(self, session: AsyncSession, now: datetime) -> RetentionPlan:
        """What a run at ``now`` does, read in ``session`` (the preview and the run both use this)."""
        holds = await store.holds_in_force(session)
        flagged = await store.flagged_refs(session)
        removed = await store.removed_refs(session, _INCIDENT_RULES + tuple(k for k, _ in _REQUEST_RULES))
        items: list[PlannedItem] = []
        held: list[KeptItem] = []
        more = False
        anonymised: set[str] = set()
        for kind in _INCIDENT_RULES:
            rule = self.schedule.rule(kind)
            cutoff = rule.cutoff(now)
            if cutoff is None:
                continue
            categories = [c for c, k in INCIDENT_KINDS.items() if k is kind]
            if kind is RecordKind.INCIDENT_TRANSFERRED:  # flagged (settled by the transfer), not yet removed
                found = await store.transferred_incidents(session, cutoff=cutoff, skip_refs=removed,
                                                          limit=self._batch)
            else:
                found = await store.closed_incidents(
                    session, categories, cutoff=cutoff, by_received=kind is RecordKind.INCIDENT_ALLEGATION,
                    skip_refs=flagged | removed, limit=self._batch,
                )
            more |= len(found) >= self._batch
            for candidate in found:
                people, texts = await store.incident_people(session, int(candidate.id))
                if holds.covers(candidate.reference, candidate.people + people, candidate.texts + texts):
                    held.append(KeptItem(kind, candidate.reference))
                    continue
                items.append(_item(kind, rule.disposal, [candidate.id], candidate))
                if rule.disposal is Disposal.ANONYMISE and candidate.reference:
                    anonymised.add(candidate.reference)
        items += await self._screenshots(session, now, holds, anonymised, held)
        for kind, approval_kind in _REQUEST_RULES:
            cutoff = self.schedule.rule(kind).cutoff(now)
            if cutoff is None:
                continue
            found = await store.decided_requests(session, approval_kind, cutoff=cutoff, limit=self._batch)
            more |= len(found) >= self._batch
            for candidate in found:
                people, texts = await store.request_people(session, int(candidate.id))
                if holds.covers(candidate.reference, candidate.people + people, candidate.texts + texts):
                    held.append(KeptItem(kind, candidate.reference))
                    continue
                items.append(_item(kind, Disposal.DELETE, [candidate.id], candidate))
        for kind in _ROW_RULES:
            cutoff = self.schedule.rule(kind).cutoff(now)
            if cutoff is None:
                continue
            found = await store.old_rows(session, kind, cutoff=cutoff, limit=self._batch)
            more |= len(found) >= self._batch
            kept = [c for c in found if holds.covers(c.reference, c.people, c.texts)]
            if kept:
                held.append(KeptItem(kind, None, len(kept)))
            due = [c for c in found if c not in kept]
            if due:
                items.append(PlannedItem(
                    kind, Disposal.DELETE, tuple(c.id for c in due), None,
                    min((c.first_at for c in due if c.first_at), default=None),
                    max((c.last_at for c in due if c.last_at), default=None),
                ))
        return RetentionPlan(tuple(items), tuple(held), more)

    async def _screenshots(self, session: AsyncSession, now: datetime, holds: Holds, anonymised: set[str],
                           held: list[KeptItem]) -> list[PlannedItem]:
        rule = self.schedule.rule(RecordKind.INCIDENT_SCREENSHOTS)
        cutoff = rule.cutoff(now)
        if cutoff is None:
            return []
        categories = [c for c in Category if not keeps_screenshots(c)]
        found = await store.old_screenshots(session, categories, cutoff=cutoff, limit=self._batch)
        by_report: dict[str, list[store.Candidate]] = {}
        for candidate in found:
            if candidate.reference in anonymised:
                continue  # they go with the report
            if holds.covers(candidate.reference, candidate.people, candidate.texts):
                held.append(KeptItem(RecordKind.INCIDENT_SCREENSHOTS, candidate.reference))
                continue
            by_report.setdefault(candidate.reference or "", []).append(candidate)
        return [_item(RecordKind.INCIDENT_SCREENSHOTS, Disposal.DELETE, [c.id for c in shots], shots[0])
                for shots in by_report.values()]

    # --- the run -----------------------------------------------------------------------------------------------

    async def run(self) -> RunOutcome:
        """One run: nothing due is a read; anything due is one unit of work (see the module docstring)."""
        now = self._clock()
        async with self._db.sessions() as session:
            seen = await self.plan_in(session, now)
        if seen.is_empty:
            return RunOutcome(seen)
        recipients = await self._recipients(seen)
        async with self._db.transaction() as session:
            run_id = await store.start_run(session, now)
            plan = await self.plan_in(session, now)
            told = {category.value for category in recipients.reviewers or {}}
            if any(i.disposal is Disposal.FLAG and i.category not in told for i in plan.items):
                # nobody known to tell (the directory could not say): flag at the next run instead
                plan = RetentionPlan(tuple(i for i in plan.items if i.disposal is not Disposal.FLAG
                                           or i.category in told), plan.held, plan.more_to_do)
            if plan.is_empty:  # another instance's run did it first
                await store.finish_run(session, run_id, plan.counts())
                return RunOutcome(plan, run_id)
            async with store.unlocked(session, run_id):
                for item in plan.items:
                    await self._apply(session, item, run_id=run_id, now=now)
            await store.finish_run(session, run_id, plan.counts())
            dpo_told = await self._tell(session, recipients.dpo, run_report_card(
                plan, run_id=run_id, when=now, calendar=self._calendar), f"retention:{run_id}:dpo",
                "Retention run: what was removed")
            reviewers_told = 0
            flagged = plan.of(Disposal.FLAG)
            if flagged and recipients.reviewers is not None:
                for category, people in recipients.reviewers.items():
                    mine = [item for item in flagged if item.category == category.value]
                    if mine:
                        reviewers_told += await self._tell(
                            session, people, review_card(mine, calendar=self._calendar),
                            f"retention:{run_id}:review:{category.value}", "Records to transfer and review")
        if dpo_told or reviewers_told:
            self._wake()
        log.info("retention run", extra={"run_id": run_id, **plan.counts()})
        return RunOutcome(plan, run_id, dpo_told, reviewers_told)

    async def _apply(self, session: AsyncSession, item: PlannedItem, *, run_id: int, now: datetime) -> None:
        why = f"{self.schedule.rule(item.kind).period} after {self.schedule.rule(item.kind).starts} " \
              f"({item.kind.value})"
        if item.kind in _INCIDENT_RULES:
            assert item.reference is not None
            if item.disposal is Disposal.FLAG:
                await store.flag(session, item.kind, item.reference, why, now=now, run_id=run_id)
                return
            await store.anonymise_incident(session, int(item.ids[0]))
            await store.tombstone(session, run_id=run_id, kind=item.kind, action="anonymised", why=why, now=now,
                                  reference=item.reference, category=item.category, status=item.status,
                                  first_at=item.first_at, last_at=item.last_at)
            return
        if item.kind is RecordKind.INCIDENT_SCREENSHOTS:
            await store.delete_screenshots(session, [int(i) for i in item.ids])
            await store.tombstone(session, run_id=run_id, kind=item.kind, action="deleted", why=why, now=now,
                                  reference=item.reference, category=item.category, count=item.count,
                                  first_at=item.first_at, last_at=item.last_at)
            return
        if item.kind in (RecordKind.ACCOUNT_REQUESTS, RecordKind.PHOTO_EXCEPTION_REQUESTS):
            await store.delete_request(session, int(item.ids[0]))
            await store.tombstone(session, run_id=run_id, kind=item.kind, action="deleted", why=why, now=now,
                                  reference=item.reference, category=item.category, status=item.status,
                                  first_at=item.first_at, last_at=item.last_at)
            return
        await store.delete_rows(session, item.kind, item.ids, now=now)
        await store.tombstone(session, run_id=run_id, kind=item.kind, action="deleted", why=why, now=now,
                              count=item.count, first_at=item.first_at, last_at=item.last_at)

    async def _recipients(self, plan: RetentionPlan) -> _Recipients:
        try:
            dpo = tuple(await self._directory.holders_of(Role.DPO))
        except DirectoryUnavailableError:
            log.warning("retention: the directory cannot say who the DPO is; the run's card waits for none")
            dpo = ()
        categories = {Category(item.category) for item in plan.of(Disposal.FLAG) if item.category}
        reviewers: dict[Category, tuple[Person, ...]] | None = {}
        try:
            for category in sorted(categories):
                people: dict[str, Person] = {}
                for role in sorted(_reviewer_roles(category)):
                    for person in await self._directory.holders_of(role):
                        people.setdefault(person.aad_object_id.lower(), person)
                assert reviewers is not None
                reviewers[category] = tuple(people.values())
        except DirectoryUnavailableError:
            log.warning("retention: the directory cannot say who reviews flagged reports; flagging waits")
            reviewers = None
        return _Recipients(dpo, reviewers)

    async def _tell(self, session: AsyncSession, people: Sequence[Person], card: AdaptiveCard, key: str,
                    summary: str) -> int:
        chats = await conversations.personal_chats_of(session, [p.aad_object_id for p in people])
        told = 0
        for person in people:
            chat = chats.get(person.aad_object_id)
            if chat is None:
                log.warning("retention: a recipient has no personal chat with the bot", extra={"key": key})
                continue
            await enqueue(session, OutboxMessage.personal(chat.reference, card_message(card, summary),
                                                          dedupe_key=f"{key}:{person.aad_object_id}"))
            told += 1
        return told

    def _wake(self) -> None:
        if self._on_enqueued is not None:
            self._on_enqueued()

    # --- the DPO's preview -----------------------------------------------------------------------------------

    async def preview(self, actor: Actor) -> CommandReply:
        """``retention preview``: the DPO only, in the personal chat; anyone else is refused and audited."""
        refused = await self._refused(RETENTION_PREVIEW, actor)
        if refused is not None:
            return refused
        async with self._db.sessions() as session:
            plan = await self.plan_in(session, self._clock())
        return CommandReply(cards=[preview_card(plan, calendar=self._calendar)])

    # --- legal holds -------------------------------------------------------------------------------------------

    async def place_hold(self, actor: Actor, argument: str) -> CommandReply:
        """``legal hold <reference or person> because <reason>`` (the DPO or the Head Teacher)."""
        refused = await self._refused(LEGAL_HOLD, actor)
        if refused is not None:
            return refused
        try:
            wanted = parse_hold(argument)
        except HoldCommandError as problem:
            return CommandReply(texts=[str(problem)])
        person: Person | None = None
        if wanted.kind is HoldKind.PERSON:
            person, problem_text = await self._find_person(wanted.target)
            if problem_text:
                return CommandReply(texts=[problem_text])
        now = self._clock()
        async with self._db.transaction() as session:
            exists = wanted.kind is HoldKind.PERSON or await store.record_exists(session, wanted.kind, wanted.target)
            if not exists:
                await self._audit.record_in(session, refusal(
                    actor, LEGAL_HOLD, _record_type(wanted.kind), wanted.target, "not_found"))
                return CommandReply(texts=[f"I can't find {wanted.target}. Check the reference: reports look like "
                                           "INC-2026-0004, requests like ACC-2026-0002. Nothing was placed on hold."])
            target = person.aad_object_id if person and person.aad_object_id else (
                wanted.target if wanted.kind is not HoldKind.PERSON else "")
            name = person.name if person else (wanted.target if wanted.kind is HoldKind.PERSON else None)
            existing = await store.find_active_hold(session, wanted.kind, target, name)
            if existing is not None:
                return CommandReply(texts=[f"{existing.label} is already on legal hold (placed by "
                                           f"{existing.placed_by_name}). Nothing was changed."])
            hold = await store.place_hold(session, kind=wanted.kind, target=target, person_name=name,
                                          reason=wanted.reason, by_aad=actor.aad_object_id, by_name=actor.name,
                                          now=now)
            await self._audit.record_in(session, _hold_entry(actor, LEGAL_HOLD, hold))
        texts = [f"**{hold.label}** is on legal hold: the retention schedule will not remove it"
                 + (" or anything naming them" if hold.kind is HoldKind.PERSON else "")
                 + " until you type **release legal hold " + (hold.label) + "**."]
        if wanted.kind is HoldKind.PERSON and not target:
            texts.append("I could not find this person in the directory or among people who use the bot, so the hold "
                         "matches their name in records' text only. Use their Entra object id to hold records they "
                         "made too.")
        return CommandReply(texts=texts)

    async def release_hold(self, actor: Actor, argument: str) -> CommandReply:
        """``release legal hold <reference or person>`` (the DPO or the Head Teacher)."""
        refused = await self._refused(RELEASE_LEGAL_HOLD, actor)
        if refused is not None:
            return refused
        wanted = argument.strip()
        if not wanted:
            return CommandReply(texts=["Type **release legal hold** + the reference or the person held."])
        kind = target_kind(wanted)
        person: Person | None = None
        if kind is HoldKind.PERSON:
            person, _ = await self._find_person(wanted)
        now = self._clock()
        async with self._db.transaction() as session:
            target = wanted.upper() if kind is not HoldKind.PERSON else (person.aad_object_id if person else "")
            hold = await store.find_active_hold(session, kind, target, person.name if person else wanted)
            if hold is None and kind is HoldKind.PERSON and target:
                hold = await store.find_active_hold(session, kind, "", person.name if person else wanted)
            if hold is None:
                return CommandReply(texts=[f"{wanted} is not on legal hold. Type **legal holds** to see them."])
            await store.release_hold(session, hold.id, by_aad=actor.aad_object_id, by_name=actor.name, now=now)
            await self._audit.record_in(session, _hold_entry(actor, RELEASE_LEGAL_HOLD, hold))
        return CommandReply(texts=[f"The legal hold on **{hold.label}** is released: the retention schedule applies "
                                   "to it again from its next run."])

    async def list_holds(self, actor: Actor) -> CommandReply:
        """``legal holds``: every hold in force (the DPO or the Head Teacher)."""
        refused = await self._refused(LEGAL_HOLDS, actor)
        if refused is not None:
            return refused
        async with self._db.sessions() as session:
            holds = await store.active_holds(session)
        return CommandReply(cards=[holds_card(holds, calendar=self._calendar)])

    async def _refused(self, name: str, actor: Actor) -> CommandReply | None:
        """``ACCESS[name]`` checked for ``actor`` (the router's check, again); a refusal is in the trail. The
        record a command names is typed text, so the refusal names none (as the router's does)."""
        refused = await self._gate.refused(name, ACCESS[name], actor)
        return None if refused is None else CommandReply(texts=[refused])

    async def _find_person(self, typed: str) -> tuple[Person | None, str]:
        """The person a typed name or Entra id means: among people who use the bot and the role holders."""
        if looks_like_object_id(typed):
            known = {p.aad_object_id.lower(): p for p in await self._known_people()}
            return known.get(typed.lower(), Person(typed.lower(), typed)), ""
        wanted = " ".join(typed.split()).lower()
        people = await self._known_people()
        exact = {p.aad_object_id.lower(): p for p in people if p.name.lower() == wanted}
        if len(exact) == 1:
            return next(iter(exact.values())), ""
        if len(exact) > 1:
            return None, (f"More than one person is called {typed}: give their Entra object id instead. "
                          "Nothing was placed on hold.")
        return None, ""

    async def _known_people(self) -> list[Person]:
        async with self._db.sessions() as session:
            chats = await conversations.people_with_personal_chats(session)
        people = [Person(c.aad_object_id, c.name) for c in chats if c.name]
        for role in Role:
            if role is Role.STAFF:
                continue
            try:
                people += await self._directory.holders_of(role)
            except DirectoryUnavailableError:
                continue
        return people


def _item(kind: RecordKind, disposal: Disposal, ids: Sequence[int | str], candidate: store.Candidate) -> PlannedItem:
    return PlannedItem(kind, disposal, tuple(ids), candidate.reference, candidate.first_at, candidate.last_at,
                       candidate.category, candidate.status)


def _reviewer_roles(category: Category) -> frozenset[Role]:
    """Who transfers and reviews a flagged report: the DSL for safeguarding; for allegations, whoever the report's
    rule sends it to (the Head Teacher; the Chair of Governors when it concerns the Head Teacher)."""
    if INCIDENT_KINDS[category] is RecordKind.INCIDENT_SAFEGUARDING:
        return frozenset({Role.DSL})
    return rule_for(category).notify or frozenset({Role.HEAD_TEACHER})


def _record_type(kind: HoldKind) -> RecordType:
    return {HoldKind.INCIDENT: RecordType.INCIDENT, HoldKind.APPROVAL: RecordType.APPROVAL_REQUEST,
            HoldKind.PERSON: RecordType.LEGAL_HOLD}[kind]


def _hold_entry(actor: Actor, action: str, hold: LegalHold) -> AuditEntry:
    """A hold placed or released: the record (or the person's id) and the hold's id, never the typed reason."""
    return AuditEntry(
        actor_aad=actor.aad_object_id, actor_name=actor.name, action=action, record_type=_record_type(hold.kind),
        record_ref=(hold.target or None) if hold.kind is HoldKind.PERSON else hold.target,
        outcome=AuditOutcome.RECORDED, reason="released" if action.startswith("release") else "placed",
        detail={"hold_id": hold.id, "hold_kind": hold.kind.value},
    )


