"""Who sees what of an approval request, and who may decide it (issue 14, items 1 to 3).

Each person sees a request in the view the policy allows them: its requester everything they sent, whoever may
decide it everything with the buttons, SLT the kind's SLT facts (never a pupil's name); anyone else nothing, refused
and audited. A deputy acting for the Head Teacher never decides the Head's own request. Each time a request with
pupils' names is shown to someone other than its requester, the audit trail says so. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from cards.approvals import APPROVAL_DECIDE_VERB, APPROVAL_EDIT_VERB, APPROVAL_REFRESH_VERB, APPROVAL_WITHDRAW_VERB
from cards.replies import ActionResult, CommandReply
from directory.static import DirectoryEntry, StaticRoleDirectory
from domain.accounts import StaffMember, validate_form
from domain.approvals import ApprovalKind, ApprovalRecord, ApprovalState, HistoryEvent
from domain.audit import AuditEntry, AuditOutcome, RecordType
from domain.roles import Role
from services.accounts import AccountsWiring
from services.audit import AuditTrail
from services.requests import CommandRequest
from store import approvals as store
from store.db import Database
from store.outbox import OutboxKind
from tests.support.approvals import (
    ANNA,
    EXCEPTION_CIRCUMSTANCES,
    EXCEPTION_PUPILS,
    LEE,
    NOWHERE,
    PRIYA,
    SAM,
    TOM,
    TUESDAY_10AM,
    FakeClock,
    Person,
    card_text,
    case_values,
    click,
    outbox_activities,
    outbox_card,
    save_chat,
    seeded,
    submit_case,
    submit_photo_exception,
    with_photo_exceptions,
)

DEV = Person("Dev Patel", "00000000-0000-0000-0000-000000000205", "29:deputy-dev")  # a deputy, not in SLT
PHOTO_SECRETS = (*(name for _, name, _ in EXCEPTION_PUPILS), EXCEPTION_CIRCUMSTANCES)
ACCOUNT_SECRETS = ("Share Year 6 learning with families", "Checked daily at 4pm")  # the aim, the monitoring plan
REFUSED_VIEW = "You can't see this request"


def roles() -> StaticRoleDirectory:
    return StaticRoleDirectory([
        DirectoryEntry(ANNA.aad, ANNA.name, frozenset({Role.HEAD_TEACHER, Role.SLT})),
        DirectoryEntry(PRIYA.aad, PRIYA.name, frozenset({Role.DEPUTY, Role.SLT})),
        DirectoryEntry(TOM.aad, TOM.name, frozenset({Role.SLT, Role.DSL})),
        DirectoryEntry(DEV.aad, DEV.name, frozenset({Role.DEPUTY})),
    ], description="test")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TUESDAY_10AM)


@pytest.fixture
async def built(database: Database, clock: FakeClock) -> AccountsWiring:
    """The desk with both kinds (accounts, personal-device photo exceptions); everyone has opened the bot."""
    wired = with_photo_exceptions(await seeded(database, clock, directory_=roles()), clock)
    for person in (TOM, DEV):
        await save_chat(wired.desk._conversations, person, NOWHERE)  # noqa: SLF001 - test set-up
    return wired


async def submit_account(built: AccountsWiring, requester: Person = SAM) -> ApprovalRecord:
    people = {p.aad: StaffMember(p.aad, p.name) for p in (SAM, LEE)}
    case = validate_form(case_values(), people).case
    assert case is not None
    return (await built.desk.submit(ApprovalKind.NEW_ACCOUNT, requester.actor(),
                                    case.model_dump(mode="json"))).request


def command(person: Person, text: str, argument: str = "") -> CommandRequest:
    return CommandRequest(text=text, argument=argument, actor=person.actor())


def shown(answer: ActionResult | CommandReply) -> str:
    """Everything the person is shown."""
    if isinstance(answer, CommandReply):
        return " | ".join([*answer.texts, *(card_text(card.to_dict()) for card in answer.cards)])
    return " | ".join([answer.message or "", card_text(answer.card.to_dict()) if answer.card is not None else ""])


def buttons(answer: ActionResult) -> list[str]:
    return [action.title for action in (answer.card.actions or [])] if answer.card is not None else []


async def approvals(built: AccountsWiring, database: Database, person: Person) -> list[str]:
    """What ``approvals`` shows ``person``: its answer in the turn, else what it sent to their chat (the line saying
    how many wait, then each card, through the outbox)."""
    before = {e.id for e, _, _ in await outbox_activities(database)}
    reply = await built.desk.pending_for_decider(command(person, "approvals"))
    sent = [a for e, a, _ in await outbox_activities(database)
            if e.id not in before and e.kind is OutboxKind.SEND_PERSONAL and e.lane == person.chat_id]
    assert not (sent and (reply.texts or reply.cards))
    return [*reply.texts, *(card_text(c.to_dict()) for c in reply.cards),
            *((a or {}).get("text") or card_text(outbox_card(a)) for a in sent)]


async def refresh(built: AccountsWiring, person: Person, request_id: int) -> ActionResult:
    return await built.desk.refresh(click(person, APPROVAL_REFRESH_VERB, {"request_id": request_id}))


async def decide(built: AccountsWiring, person: Person, request_id: int, decision: str = "approve",
                 comment: str = "") -> ActionResult:
    return await built.desk.decide(click(person, APPROVAL_DECIDE_VERB, {
        "request_id": request_id, "round": 1, "decision": decision, "comment": comment}))


async def trail(database: Database) -> list[AuditEntry]:
    """The audit trail, oldest first."""
    return list(reversed(await AuditTrail(database).recent(limit=200)))


async def refusals_in_history(database: Database, request_id: int) -> list[tuple[str | None, str]]:
    async with database.sessions() as session:
        return [(e.actor_name, e.detail["reason"]) for e in await store.history(session, request_id)
                if e.event is HistoryEvent.REFUSED]


async def state_of(database: Database, request_id: int) -> ApprovalState:
    async with database.sessions() as session:
        request = await store.get_request(session, request_id)
    assert request is not None
    return request.state


# --- item 1: nobody reads a request that is not theirs to see ---------------------------------------------


async def test_a_member_of_staff_asking_for_someone_elses_photo_exception_sees_nothing_and_is_audited(
    built: AccountsWiring, database: Database
) -> None:
    request = await submit_photo_exception(built)
    answer = await refresh(built, LEE, request.id)
    text = shown(answer)
    assert REFUSED_VIEW in text and buttons(answer) == []
    for secret in (*PHOTO_SECRETS, SAM.name, request.reference, "Photo on a personal device"):
        assert secret not in text
    assert [(e.actor_aad, e.action, e.record_type, e.record_ref, e.outcome, e.reason) for e in await trail(database)
            ] == [(LEE.aad, APPROVAL_REFRESH_VERB, RecordType.APPROVAL_REQUEST, request.reference, AuditOutcome.REFUSED,
                   "not_allowed_to_see")]
    assert await refusals_in_history(database, request.id) == [(LEE.name, "not_allowed_to_see")]

    # An id that names no request is answered as such, and the attempt is recorded with the id it claimed.
    missing = await refresh(built, LEE, request.id + 100)
    assert missing.message == "I can't find that request."
    last = (await trail(database))[-1]
    assert (last.actor_aad, last.record_ref, last.reason, last.detail["claimed_request_id"]) == (
        LEE.aad, None, "no_such_request", request.id + 100)


@pytest.mark.parametrize("kind", [ApprovalKind.PERSONAL_DEVICE_PHOTO, ApprovalKind.NEW_ACCOUNT])
async def test_each_person_sees_the_view_the_policy_allows_them(
    built: AccountsWiring, database: Database, kind: ApprovalKind
) -> None:
    photo = kind is ApprovalKind.PERSONAL_DEVICE_PHOTO
    request = await (submit_photo_exception(built) if photo else submit_account(built))
    secrets = PHOTO_SECRETS if photo else ACCOUNT_SECRETS
    details = [] if photo else ["Show details"]  # an account shows a short summary first, the rest on request

    async def sees(person: Person) -> tuple[str, list[str]]:
        answer = await refresh(built, person, request.id)
        return shown(answer), buttons(answer)

    text, actions = await sees(SAM)  # the requester: everything they sent, and Withdraw
    assert all(secret in text for secret in secrets) and actions == ["Withdraw", *details]
    text, actions = await sees(ANNA)  # the Head Teacher: everything, and the decision
    assert all(secret in text for secret in secrets) and actions == ["Approve", "Reject", "Ask for changes", *details]
    for person in (TOM, PRIYA):  # SLT (Priya is a deputy with no delegation running): their view, no pupil's name
        text, actions = await sees(person)
        assert "For SLT to consider with the Head Teacher" in text and actions == []
        assert not any(secret in text for secret in secrets), person
    for person in (LEE, DEV):  # staff; a deputy with no delegation running, not in SLT
        text, actions = await sees(person)
        assert REFUSED_VIEW in text and actions == [] and not any(secret in text for secret in secrets)

    await built.desk.delegate(command(ANNA, "delegate to Dev until Friday", "Dev until Friday"))
    text, actions = await sees(DEV)  # acting for the Head: the decider's view
    assert all(secret in text for secret in secrets) and actions == ["Approve", "Reject", "Ask for changes", *details]
    assert "You are deciding for Anna Smith, the Head Teacher, while they are away" in text

    rejected = await decide(built, DEV, request.id, "reject", "Not this term, sorry")
    assert "Rejected." in shown(rejected)
    text, _ = await sees(TOM)  # SLT see the outcome, not who decided nor why
    assert "Status: Rejected" in text and "Not this term" not in text and DEV.name not in text
    text, _ = await sees(SAM)
    assert "Not this term, sorry" in text and DEV.name in text
    assert [r for _, r in await refusals_in_history(database, request.id)] == ["not_allowed_to_see"] * 2


async def test_a_click_on_decide_by_someone_who_may_not_shows_no_more_than_they_may_see(
    built: AccountsWiring, database: Database
) -> None:
    request = await submit_photo_exception(built)
    staff = await decide(built, LEE, request.id)
    slt = await decide(built, TOM, request.id)
    for answer in (staff, slt):
        text = shown(answer)
        assert "Only the Head Teacher, or a deputy while the Head Teacher has delegated" in text
        assert buttons(answer) == [] and not any(secret in text for secret in PHOTO_SECRETS)
    assert "For SLT to consider" in shown(slt) and "For SLT to consider" not in shown(staff)
    assert await state_of(database, request.id) is ApprovalState.PENDING
    assert [(e.actor_aad, e.action, e.outcome, e.reason) for e in await trail(database)] == [
        (LEE.aad, APPROVAL_DECIDE_VERB, AuditOutcome.REFUSED, "not_a_decider"),
        (TOM.aad, APPROVAL_DECIDE_VERB, AuditOutcome.REFUSED, "not_a_decider")]


async def test_approvals_lists_only_what_the_person_may_decide_and_a_refusal_is_audited(
    built: AccountsWiring, database: Database
) -> None:
    only_deciders = ["Only the Head Teacher, or a deputy while approvals are delegated to them, decides requests. "
                     "Type **my requests** to see yours."]
    reply = await built.desk.pending_for_decider(command(LEE, "approvals"))
    assert reply.texts == only_deciders and reply.cards == []
    reply = await built.desk.pending_for_decider(command(DEV, "approvals"))  # a deputy, no delegation running
    assert reply.texts == only_deciders and reply.cards == []
    reply = await built.desk.delegate(command(LEE, "delegate to Priya until Friday", "Priya until Friday"))
    assert reply.texts == ["Only the Head Teacher can delegate approvals."]
    reply = await built.desk.end_delegation(command(TOM, "end delegation"))
    assert reply.texts == ["Only the Head Teacher can end a delegation of approvals."]
    # Who holds none of a command's roles is refused by its declaration (the router's check, made again by the desk);
    # a deputy is admitted by it and refused by the desk while no delegation runs.
    assert [(e.actor_aad, e.action, e.record_type, e.outcome, e.reason) for e in await trail(database)] == [
        (LEE.aad, "approvals", RecordType.APPROVAL_REQUEST, AuditOutcome.REFUSED, "role_not_held"),
        (DEV.aad, "approvals", RecordType.NONE, AuditOutcome.REFUSED, "not_a_decider"),
        (LEE.aad, "delegate", RecordType.DELEGATION, AuditOutcome.REFUSED, "role_not_held"),
        (TOM.aad, "end_delegation", RecordType.DELEGATION, AuditOutcome.REFUSED, "role_not_held")]


# --- item 2: nobody decides a request they made, or one made by the person they act for -------------------


async def test_a_deputy_acting_for_the_head_cannot_decide_the_heads_own_request(
    built: AccountsWiring, database: Database
) -> None:
    heads = await submit_account(built, requester=ANNA)
    staffs = await submit_case(built)
    await built.desk.delegate(command(ANNA, "delegate to Priya until Friday", "Priya until Friday"))

    to_priya = [card_text(outbox_card(a)) for e, a, _ in await outbox_activities(database)
                if e.kind is OutboxKind.SEND_PERSONAL and e.lane == PRIYA.chat_id]
    assert not any(heads.reference in text for text in to_priya)  # the Head's request is not sent to her to decide
    staffs_reference = (await _request(database, staffs)).reference
    assert any(staffs_reference in text for text in to_priya)
    assert await built.desk.route_pending() == 0

    for decision, comment in (("approve", ""), ("reject", "No"), ("request_changes", "More")):
        answer = await decide(built, PRIYA, heads.id, decision, comment)
        text = shown(answer)
        assert "Anna Smith made this request" in text
        assert "nobody decides a request made by the person they act for" in text
        assert "The policy does not say who decides a request from the Head Teacher" in text and "ask SLT" in text
        assert "Nothing was changed." in text and buttons(answer) == []
    assert await state_of(database, heads.id) is ApprovalState.PENDING
    assert [r for _, r in await refusals_in_history(database, heads.id)] == ["acting_for_requester"] * 3
    assert [(e.actor_aad, e.record_ref, e.reason) for e in await trail(database)] == [
        (PRIYA.aad, heads.reference, "acting_for_requester")] * 3

    listed = await approvals(built, database, PRIYA)
    assert listed[0] == "1 request waiting:" and len(listed) == 2 and heads.reference not in " | ".join(listed)
    seen = await refresh(built, PRIYA, heads.id)  # she is in SLT: SLT's view, no buttons
    assert "For SLT to consider" in shown(seen) and buttons(seen) == []
    # The Head cannot decide it either; the deputy decides everyone else's.
    own = await decide(built, ANNA, heads.id)
    assert "You can't decide your own request" in shown(own) and "ask SLT" in shown(own)
    assert "Approved." in shown(await decide(built, PRIYA, staffs))
    assert await state_of(database, heads.id) is ApprovalState.PENDING


# --- item 4: the audit trail -------------------------------------------------------------------------------


async def test_each_view_of_pupils_names_by_someone_other_than_the_requester_is_recorded(
    built: AccountsWiring, database: Database
) -> None:
    photo = await submit_photo_exception(built)
    account = await submit_account(built)
    await refresh(built, SAM, photo.id)  # the requester: the names are theirs
    await refresh(built, TOM, photo.id)  # SLT's view has none
    await refresh(built, ANNA, account.id)  # an account names no pupil
    assert await trail(database) == []

    await refresh(built, ANNA, photo.id)
    listed = await approvals(built, database, ANNA)
    assert listed[0] == "2 requests waiting:" and len(listed) == 3
    await decide(built, ANNA, photo.id)
    viewed = [(e.actor_aad, e.action, e.record_type, e.record_ref, e.outcome, e.reason, e.detail)
              for e in await trail(database)]
    assert viewed == [
        (ANNA.aad, action, RecordType.APPROVAL_REQUEST, photo.reference, AuditOutcome.VIEWED, "pupil_names",
         {"view": "decider"})
        for action in (APPROVAL_REFRESH_VERB, "approvals", APPROVAL_DECIDE_VERB)]


async def test_the_desks_refusals_are_in_the_audit_trail_as_well_as_the_requests_history(
    built: AccountsWiring, database: Database
) -> None:
    request_id = await submit_case(built)
    request = await _request(database, request_id)
    await decide(built, ANNA, 4242)  # no such request
    await built.desk.withdraw(click(LEE, APPROVAL_WITHDRAW_VERB, {"request_id": request_id, "round": 1}))
    await built.desk.edit(click(LEE, APPROVAL_EDIT_VERB, {"request_id": request_id, "round": 1}))
    await built.desk.edit(click(SAM, APPROVAL_EDIT_VERB, {"request_id": request_id, "round": 1}))  # not asked yet
    await decide(built, ANNA, request_id)
    await decide(built, ANNA, request_id, "reject", "late")  # already approved
    async with database.sessions() as session:
        history = [(e.actor_name, e.detail["reason"]) for e in await store.refusals(session)]
    entries = await trail(database)
    assert [(e.actor_name, e.reason) for e in entries] == history == [
        (ANNA.name, "no_such_request"), (LEE.name, "not_the_requester"), (LEE.name, "not_the_requester"),
        (SAM.name, "not_allowed_now"), (ANNA.name, "not_pending")]
    assert [(e.action, e.record_ref, e.outcome) for e in entries] == [
        (APPROVAL_DECIDE_VERB, None, AuditOutcome.REFUSED), (APPROVAL_WITHDRAW_VERB, request.reference,
                                                             AuditOutcome.REFUSED),
        (APPROVAL_EDIT_VERB, request.reference, AuditOutcome.REFUSED),
        (APPROVAL_EDIT_VERB, request.reference, AuditOutcome.REFUSED),
        (APPROVAL_DECIDE_VERB, request.reference, AuditOutcome.REFUSED)]
    assert entries[0].detail["claimed_request_id"] == 4242
    assert all("comment" not in e.detail for e in entries)  # nothing a person typed


async def _request(database: Database, request_id: int) -> ApprovalRecord:
    async with database.sessions() as session:
        request = await store.get_request(session, request_id)
    assert request is not None
    return request
