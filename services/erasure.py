"""Erasure (UK GDPR Art. 17) and rectification (Art. 16) where the law allows: the DPO's ``erase`` and ``rectify``.

- ``erase <person> because <reason>`` (the DPO, personal chat): the person is found as ``subject access`` finds them
  (the directory's role holders, the names the records hold beside an Entra object id, the consent register's
  pupils); one read finds every record naming them and decides each (``domain/erasure.py``); the erasure is kept as
  a pending request (``data_rights_requests``) and the card shows what will be erased or anonymised and what is kept
  and why. Preparing it is audited (``erase``, ``viewed``, ``prepared``).
- The card's button (``erase_confirm``): ONE unit of work claims the request (a conditional UPDATE: a second click,
  or a second bot instance, finds it done and changes nothing), recomputes the plan against the records as they are
  now (a legal hold placed since keeps its records), removes, anonymises and redacts inside the retention store's
  ``unlocked`` (the append-only history goes only there), writes tombstones like the retention run's, forgets the
  person's names in the request, and writes the audit entry (``erase``, ``recorded``: counts and the person's ids,
  never a name).
- ``rectify <person>`` (the DPO): the names recorded for the person, each in a box; the button
  (``correct_confirm``) changes each edited name everywhere it is recorded for that person, in one unit of work,
  once. The audit entry says which kind of name, where and in how many records; the old and new values are not kept
  (the record holds the new one; the old one would be the inaccurate data the law asks to correct).

Who may use each way in is declared here once (``ACCESS``, by the router's names): the DPO, in the personal chat.
The router checks it before the service runs and the service checks the same declaration again (``services/audit.py``
``Gate``), each refusal audited; a button is also checked against its request: only the DPO who prepared it may
confirm it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cards.erasure import (
    CORRECT_CONFIRM_VERB,
    ERASE_CONFIRM_VERB,
    CorrectionForm,
    EraseConfirm,
    correct_card,
    corrected_card,
    erase_card,
    erased_card,
)
from cards.replies import ActionResult, CommandReply
from domain.access import Access, only
from domain.actors import Actor
from domain.audit import AuditEntry, AuditOutcome, RecordType
from domain.erasure import (
    NAME_TITLES,
    REQUEST_LIFETIME,
    Action,
    Correctable,
    Decision,
    ErasureCommandError,
    ErasureContext,
    ErasurePlan,
    NameKind,
    clean_name,
    parse_erase,
    plan_erasure,
    remaining_pupils,
    tombstone_kind,
)
from domain.retention import RecordKind, looks_like_object_id
from domain.roles import DirectoryUnavailableError, Role, RoleDirectory
from domain.subject_access import MIN_NAME_LENGTH, KnownPerson, Subject, subject_named
from services.audit import AuditTrail, Gate, refusal, safe_reference, view
from services.requests import CardAction
from store import erasure as store
from store import retention as retention_store
from store import subject_access as records
from store.base import utcnow
from store.db import Database

log = logging.getLogger(__name__)

ERASE = "erase"
CORRECT = "rectify"
_ONLY_DPO = "Only the Data Protection Officer can erase or correct a person's data. Nothing was changed."
_DPO = only(Role.DPO, personal_only=True, record=RecordType.SUBJECT_ACCESS, refusal=_ONLY_DPO)
_BUTTON = only(Role.DPO, personal_only=True, record=RecordType.SUBJECT_ACCESS, record_field="request_id",
               refusal=_ONLY_DPO)  # the card data names the prepared request
ACCESS: dict[str, Access] = {ERASE: _DPO, CORRECT: _DPO, ERASE_CONFIRM_VERB: _BUTTON, CORRECT_CONFIRM_VERB: _BUTTON}
_GONE = "That card is out of date: type the command again. Nothing was changed."
# children before their parents (foreign keys), the records that anonymise or delete their children last
_ORDER = ("incident_events", "incident_attachments", "approval_events", "consent_pupil_consents", "consent_check_log",
          "account_administrators", "account_drafts", "approval_delegations", "consent_do_not_photograph",
          "conversation_refs", "bot_state", "outbox", "consent_pupils", "approval_requests", "incidents")


class Erasure:
    def __init__(self, database: Database, directory: RoleDirectory, *, audit: AuditTrail,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._directory = directory
        self._audit = audit
        self._gate = Gate(directory, audit)
        self._clock = clock

    # --- erase -------------------------------------------------------------------------------------------------

    async def erase(self, actor: Actor, argument: str) -> CommandReply:
        refused = await self._gate.refused(ERASE, ACCESS[ERASE], actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        try:
            typed, reason = parse_erase(argument)
        except ErasureCommandError as problem:
            return CommandReply(texts=[str(problem)])
        known = await self._directory_people()
        now = self._clock()
        async with self._db.transaction() as session:
            await store.purge_expired(session, now)
            subject = await self._subject_in(session, typed, known)
            if subject is None:
                return CommandReply(texts=[f"I can't find anyone called {typed}. Nothing was erased."])
            plan, _ = await self._plan_in(session, subject, now)
            row = await store.create(session, kind=store.ERASE, dpo_aad=actor.aad_object_id, dpo_name=actor.name,
                                     reason=reason, subject=subject, plan=None, now=now,
                                     expires_at=now + REQUEST_LIFETIME)
            assert row.reference is not None
            await self._audit.record_in(session, view(
                actor, ERASE, RecordType.SUBJECT_ACCESS, row.reference, "prepared",
                {"records": len(plan.decisions), **_ids(subject)}))
        return CommandReply(cards=[erase_card(plan, label=subject.label, reference=row.reference,
                                              request_id=row.id, reason=reason)])

    async def confirm_erase(self, action: CardAction) -> ActionResult:
        payload = action.payload
        assert isinstance(payload, EraseConfirm)
        actor = action.actor
        refused = await self._button_refused(ERASE_CONFIRM_VERB, actor, payload.request_id)
        if refused is not None:
            return ActionResult(message=refused)
        now = self._clock()
        async with self._db.transaction() as session:
            row, problem = await self._claim(session, actor, payload.request_id, store.ERASE, ERASE_CONFIRM_VERB,
                                             now)
            if row is None:
                return ActionResult(message=problem)
            subject = store.subject_of(row.subject)
            assert subject is not None and row.reference is not None
            run_id = await retention_store.start_run(session, now)
            plan, context = await self._plan_in(session, subject, now, this_request=row.id)
            acting = sorted(plan.acting(), key=lambda d: _ORDER.index(d.table) if d.table in _ORDER else -1)
            async with retention_store.unlocked(session, run_id):
                for decision in acting:
                    await self._apply(session, decision, subject, now)
            if any(d.table in ("consent_pupils", "consent_pupil_consents") for d in acting):
                # a new current version: no bot instance keeps the pupil in its cached register
                await store.reissue_register(session, made_by=actor.aad_object_id, note=f"after {row.reference}",
                                             now=now)
            await self._tombstones(session, plan, context, run_id=run_id, reference=row.reference, now=now)
            counts = plan.counts()
            await retention_store.finish_run(session, run_id, {"erasure": row.reference, **counts})
            await store.finish(session, row.id, counts)
            await self._audit.record_in(session, AuditEntry(
                actor_aad=actor.aad_object_id, actor_name=actor.name, action=ERASE,
                record_type=RecordType.SUBJECT_ACCESS, record_ref=row.reference, outcome=AuditOutcome.RECORDED,
                reason="erased", detail={**counts, **_ids(subject)}))
            reference = row.reference
        log.info("erasure done", extra={"reference": reference, **counts})
        return ActionResult(card=erased_card(plan, label=subject.label, reference=reference))

    async def _apply(self, session: AsyncSession, decision: Decision, subject: Subject, now: datetime) -> None:
        if decision.table == "incidents" and decision.action is Action.ANONYMISE:
            await retention_store.anonymise_incident(session, int(decision.key))
        elif decision.table == "approval_requests":
            await retention_store.delete_request(session, int(decision.key))
        elif decision.table == "outbox":
            await retention_store.delete_rows(session, RecordKind.OUTBOX_CONTENT, [int(decision.key)], now=now)
        elif decision.table == "consent_check_log" and decision.action is Action.REDACT:
            pupils = [str(p) for p in decision.fields.get("pupil_ids") or []]
            await store.redact_check(session, int(decision.key), remaining_pupils(subject, pupils))
        elif decision.action is Action.DELETE:
            await store.delete_row(session, decision.table, decision.key)

    async def _tombstones(self, session: AsyncSession, plan: ErasurePlan, context: ErasureContext, *, run_id: int,
                          reference: str, now: datetime) -> None:
        why = f"erasure {reference}: at the person's request (UK GDPR Art. 17)"
        counted: dict[tuple[RecordKind, str], int] = {}
        for decision in plan.acting():
            kind = tombstone_kind(decision, context)
            if kind is None:
                continue  # removed with its report or request: their tombstone says so
            done = {Action.ANONYMISE: "anonymised", Action.DELETE: "deleted", Action.REDACT: "redacted"}[
                decision.action]
            f = decision.fields
            if decision.table == "incidents":
                await retention_store.tombstone(
                    session, run_id=run_id, kind=kind, action=done, why=why, now=now, reference=decision.reference,
                    category=f.get("category"), status=f.get("status"), first_at=f.get("received_at"),
                    last_at=f.get("closed_at"))
            elif decision.table == "approval_requests":
                await retention_store.tombstone(
                    session, run_id=run_id, kind=kind, action=done, why=why, now=now, reference=decision.reference,
                    category=f.get("kind"), status=f.get("state"), first_at=f.get("created_at"),
                    last_at=f.get("decided_at") or f.get("updated_at"))
            else:
                counted[(kind, done)] = counted.get((kind, done), 0) + 1
        for (kind, done), count in counted.items():
            await retention_store.tombstone(session, run_id=run_id, kind=kind, action=done, why=why, now=now,
                                            count=count)

    # --- rectify ------------------------------------------------------------------------------------------------

    async def correct(self, actor: Actor, argument: str) -> CommandReply:
        refused = await self._gate.refused(CORRECT, ACCESS[CORRECT], actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        typed = " ".join(argument.split())
        if len(typed) < MIN_NAME_LENGTH:
            return CommandReply(texts=["Type **rectify** + the person's full name (a pupil's as in the consent "
                                       "register) or their Entra object id."])
        known = await self._directory_people()
        now = self._clock()
        async with self._db.transaction() as session:
            await store.purge_expired(session, now)
            subject = await self._subject_in(session, typed, known)
            if subject is None:
                return CommandReply(texts=[f"I can't find anyone called {typed}. Nothing was changed."])
            fields = await store.correctable(session, subject)
            row = await store.create(session, kind=store.CORRECT, dpo_aad=actor.aad_object_id, dpo_name=actor.name,
                                     reason="", subject=subject, plan=[f.plain() for f in fields], now=now,
                                     expires_at=now + REQUEST_LIFETIME)
            assert row.reference is not None
            await self._audit.record_in(session, view(actor, CORRECT, RecordType.SUBJECT_ACCESS, row.reference,
                                                      "prepared", {"fields": len(fields), **_ids(subject)}))
        return CommandReply(cards=[correct_card(fields, label=subject.label, reference=row.reference,
                                                request_id=row.id)])

    async def confirm_correct(self, action: CardAction) -> ActionResult:
        payload = action.payload
        assert isinstance(payload, CorrectionForm)
        actor = action.actor
        refused = await self._button_refused(CORRECT_CONFIRM_VERB, actor, payload.request_id)
        if refused is not None:
            return ActionResult(message=refused)
        reason = " ".join(payload.reason.split())
        if not reason:
            return ActionResult(message="Give the reason for the correction. Nothing was changed.")
        now = self._clock()
        async with self._db.transaction() as session:
            current = await store.get(session, payload.request_id)
            offered = [Correctable.from_plain(f) for f in (current.plan or [])] if current is not None else []
            wanted: list[tuple[Correctable, str]] = []
            for field in offered:
                typed = payload.values.get(field.field_id)
                if typed is None:
                    continue
                new = clean_name(typed)
                if not new:
                    return ActionResult(message=f"{NAME_TITLES[field.kind]} cannot be empty. Nothing was changed.")
                if new != field.value:
                    wanted.append((field, new))
            row, problem = await self._claim(session, actor, payload.request_id, store.CORRECT,
                                             CORRECT_CONFIRM_VERB, now)
            if row is None:
                return ActionResult(message=problem)
            subject = store.subject_of(row.subject)
            assert subject is not None and row.reference is not None
            changed: list[tuple[str, int]] = []
            detail_fields: list[dict[str, Any]] = []
            for field, new in wanted:
                count = await store.correct(session, field, new)
                changed.append((f"{NAME_TITLES[field.kind]} ({', '.join(field.where)})", count))
                detail_fields.append({"kind": field.kind.value, "where": list(field.where), "records": count})
            if any(field.kind is not NameKind.STAFF for field, _ in wanted):  # every cached register follows
                await store.reissue_register(session, made_by=actor.aad_object_id, note=f"after {row.reference}",
                                             now=now)
            row.reason = reason
            counts = {"names": len(changed), "records": sum(c for _, c in changed)}
            await store.finish(session, row.id, counts)
            await self._audit.record_in(session, AuditEntry(
                actor_aad=actor.aad_object_id, actor_name=actor.name, action=CORRECT,
                record_type=RecordType.SUBJECT_ACCESS, record_ref=row.reference, outcome=AuditOutcome.RECORDED,
                reason="corrected", detail={"fields": detail_fields, **_ids(subject)}))
            reference = row.reference
        return ActionResult(card=corrected_card(label=subject.label, reference=reference, changed=changed))

    # --- shared -------------------------------------------------------------------------------------------------

    async def _button_refused(self, verb: str, actor: Actor, request_id: int) -> str | None:
        """``ACCESS[verb]`` checked for ``actor`` (the router's check, again), naming the request as the router does;
        whether they prepared it is checked on the request itself (``_claim``)."""
        return await self._gate.refused(verb, ACCESS[verb], actor, safe_reference(request_id))

    async def _claim(self, session: AsyncSession, actor: Actor, request_id: int, kind: str, action: str,
                     now: datetime) -> tuple[store.DataRightsRequestRow | None, str]:
        """The pending request, claimed by this unit of work; or None and what to say (a refusal audited)."""
        row = await store.get(session, request_id)
        if row is None or row.kind != kind:
            await self._audit.record_in(session, refusal(actor, action, RecordType.SUBJECT_ACCESS, str(request_id),
                                                         "not_found"))
            return None, _GONE
        if row.dpo_aad != actor.aad_object_id.lower():
            await self._audit.record_in(session, refusal(actor, action, RecordType.SUBJECT_ACCESS, row.reference,
                                                         "not_requester"))
            return None, "Only the Data Protection Officer who prepared this can confirm it. Nothing was changed."
        if not await store.claim(session, request_id, kind, now):
            await session.refresh(row)
            if row.state == store.DONE:
                return None, (f"{row.reference} was already carried out"
                              + (f" ({row.done_at:%d %b %Y %H:%M} UTC)" if row.done_at else "")
                              + ". Nothing more was changed.")
            await store.purge_expired(session, now)
            return None, "That card has expired (24 hours). Type the command again. Nothing was changed."
        return row, ""

    async def _plan_in(self, session: AsyncSession, subject: Subject, now: datetime, *,
                       this_request: int | None = None) -> tuple[ErasurePlan, ErasureContext]:
        found = [r for r in await records.records_naming(session, subject, [])
                 if not (r.table == "data_rights_requests" and r.key == str(this_request))]  # not the erasure itself
        incident_ids = [int(r.fields["id"]) for r in found if r.table == "incidents"] + [
            int(r.fields["incident_id"]) for r in found
            if r.table != "incidents" and isinstance(r.fields.get("incident_id"), int)]
        request_ids = [int(r.fields["id"]) for r in found if r.table == "approval_requests"] + [
            int(r.fields["request_id"]) for r in found
            if r.table == "approval_events" and r.fields.get("request_id") is not None]
        context = ErasureContext(
            incidents=await store.incidents_info(session, incident_ids),
            requests=await store.requests_info(session, request_ids),
            open_accounts=await store.open_account_ids(session),
            holds=await retention_store.holds_in_force(session), now=now)
        return plan_erasure(subject, found, context), context

    async def _subject_in(self, session: AsyncSession, typed: str, staff: list[KnownPerson]) -> Subject | None:
        recorded = await records.people_recorded(session)
        pupils: list[KnownPerson] = []
        for pupil in await records.all_pupils(session):
            pupils.append(KnownPerson(f"{pupil.first_name} {pupil.surname}", pupil_id=pupil.pupil_id))
            if pupil.preferred_first_name:
                pupils.append(KnownPerson(f"{pupil.preferred_first_name} {pupil.surname}", pupil_id=pupil.pupil_id))
        subject = subject_named(typed, staff + recorded + pupils, typed_is_id=looks_like_object_id(typed))
        return subject if subject.found else None

    async def _directory_people(self) -> list[KnownPerson]:
        people: list[KnownPerson] = []
        for role in Role:
            if role is Role.STAFF:
                continue
            try:
                people += [KnownPerson(p.name, p.aad_object_id) for p in await self._directory.holders_of(role)]
            except DirectoryUnavailableError:
                continue
        return people


def _ids(subject: Subject) -> dict[str, Any]:
    """The person as the audit trail names them: ids only, never a name (the trail keeps no typed text)."""
    return {"subject_ids": sorted(subject.aad_ids), "pupil_ids": sorted(subject.pupil_ids)}
