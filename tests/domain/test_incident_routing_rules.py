"""The one routing function, the safeguarding chain's setting and the names read in a report (no I/O)."""

from __future__ import annotations

import pytest

from domain.incident_routing import (
    ROUTING_ROLES,
    AboutRecipient,
    ChainError,
    ChainStep,
    EmergencyContacts,
    NamedPerson,
    Subject,
    SubjectKind,
    authorise_report,
    may_handle,
    names_in_text,
    parse_chain,
    route_report,
)
from domain.incidents import ROUTING, AlreadyClosed, Category, ChannelView, NotPermitted, Permission, Status, Urgency
from domain.roles import Role

HEAD = Subject(SubjectKind.STAFF, "Anna Smith", "A-1", frozenset({Role.HEAD_TEACHER, Role.SLT}))
DSL = Subject(SubjectKind.STAFF, "Tom Reed", "T-1", frozenset({Role.DSL, Role.SLT}))
SLT = Subject(SubjectKind.STAFF, "Priya Shah", "P-1", frozenset({Role.SLT}))
TEACHER = Subject(SubjectKind.STAFF, "Lee Carter", "L-1")
PUPIL = Subject(SubjectKind.OTHER, "a Year 5 pupil")
CHAIN = parse_chain("dsl,deputy_dsl,head_teacher,deputy,chair_of_governors")


@pytest.mark.parametrize("category", list(Category), ids=[c.value for c in Category])
@pytest.mark.parametrize("urgency", [Urgency.URGENT, Urgency.STANDARD])
def test_about_a_recipient_in_every_category_routes_around_them(category: Category, urgency: Urgency) -> None:
    rule = ROUTING[category]
    about_head = route_report(rule, urgency, [HEAD], CHAIN)
    assert about_head.notify == about_head.handlers == {Role.CHAIR_OF_GOVERNORS}
    assert about_head.channel is ChannelView.NONE and about_head.about is AboutRecipient.HEAD_TEACHER
    assert not may_handle(about_head, "a-1", frozenset({Role.HEAD_TEACHER, Role.CHAIR_OF_GOVERNORS}))
    for subject in (DSL, SLT):
        route = route_report(rule, urgency, [subject, PUPIL], CHAIN)
        instead = Role.CHAIR_OF_GOVERNORS if category is Category.ABOUT_HEAD_TEACHER else Role.HEAD_TEACHER
        assert route.notify == route.handlers == {instead}
        assert route.channel is ChannelView.NONE and route.restricted
        assert route.chain == ((ChainStep(role=instead),) if urgency is Urgency.URGENT else ())
        assert not may_handle(route, subject.aad_object_id or "", frozenset(ROUTING_ROLES))
    plain = route_report(rule, urgency, [TEACHER], CHAIN)  # about a colleague with no role: the usual route
    assert plain.channel is rule.channel and not may_handle(plain, "L-1", frozenset(Role))


def test_urgent_safeguarding_alerts_the_dsl_deputies_and_head_with_the_chain_after() -> None:
    route = route_report(ROUTING[Category.PUPIL_SAFETY], Urgency.URGENT, (), CHAIN)
    assert route.notify == {Role.DSL, Role.DEPUTY_DSL, Role.HEAD_TEACHER} and route.safeguarding_alert
    assert route.chain == CHAIN
    standard = route_report(ROUTING[Category.BULLYING_PUPIL], Urgency.STANDARD, (), CHAIN)
    assert standard.notify == {Role.DSL} and Role.DEPUTY_DSL in standard.handlers and standard.chain == ()
    allegation = route_report(ROUTING[Category.ALLEGATION_ABOUT_STAFF], Urgency.URGENT, (), CHAIN)
    assert allegation.notify == {Role.HEAD_TEACHER} and allegation.chain == (ChainStep(role=Role.HEAD_TEACHER),)


def test_someone_the_chain_alerted_may_handle_it_and_closed_reports_stay_closed() -> None:
    route = route_report(ROUTING[Category.EXTREMISM], Urgency.URGENT, (), CHAIN)
    assert not may_handle(route, "x-1", frozenset({Role.DEPUTY}))
    assert may_handle(route, "X-1", frozenset({Role.DEPUTY}), alerted={"x-1"})
    with pytest.raises(NotPermitted):
        authorise_report(Permission.VIEW, route, Category.EXTREMISM, Status.OPEN, "x-1", frozenset({Role.DEPUTY}))
    with pytest.raises(AlreadyClosed):
        authorise_report(Permission.CLOSE, route, Category.EXTREMISM, Status.CLOSED, "t-1", frozenset({Role.DSL}))


@pytest.mark.parametrize("text", ["dsl,teachers", "dsl,staff", "", "dsl,dsl", ",".join(["dsl"] * 11), "dsl;head"])
def test_a_chain_the_bot_cannot_use_is_refused(text: str) -> None:
    with pytest.raises(ChainError):
        parse_chain(text)


def test_a_chain_may_name_a_person() -> None:
    steps = parse_chain("dsl, 00000000-0000-0000-0000-0000000000AB ,Head_Teacher")
    assert steps == (ChainStep(role=Role.DSL), ChainStep(aad_object_id="00000000-0000-0000-0000-0000000000ab"),
                     ChainStep(role=Role.HEAD_TEACHER))


PEOPLE = [NamedPerson("a-1", "Anna Smith", frozenset({Role.HEAD_TEACHER})),
          NamedPerson("t-1", "Tom Reed", frozenset({Role.DSL})),
          NamedPerson("l-1", "Lee Carter", frozenset()),
          NamedPerson("m-1", "Mary Anne Jones", frozenset({Role.SLT}))]


@pytest.mark.parametrize(("text", "found"), [
    ("Mrs Anna Smith, the Head, follows two pupils", ["a-1"]),
    ("mrs smith liked it", ["a-1"]),
    ("Mr. Reed and Mrs Smith", ["a-1", "t-1"]),
    ("Dr Reed", ["t-1"]),
    ("Mary Jones shared it", ["m-1"]),
    ("Mary Anne  Jones shared it", ["m-1"]),
    ("Mr Carter posted it", []),  # no role: reports about him follow their category
    ("Smithson and Reedy", []),
    ("Anna told Tom", []),  # first names alone are too common to ask about
    ("Mrs Smith's post", ["a-1"]),
])
def test_names_of_role_holders_are_found_in_what_was_typed(text: str, found: list[str]) -> None:
    assert [person.aad_object_id for person in names_in_text([text], PEOPLE)] == found


def test_numbers_nobody_configured_say_to_ask_the_office() -> None:
    lines = dict(EmergencyContacts(dsl="01632 960001").lines(dsl_names=["Tom Reed"], allegation=True))
    assert lines["Designated Safeguarding Lead (Tom Reed)"] == "01632 960001"
    assert lines["Children's social care / MASH (the local authority)"] == "ask the school office for this number"
    assert lines["Police, if anyone is in immediate danger"] == "999" and "LADO (an allegation about a member of " \
        "staff)" in lines


UNCHECKED = Subject(SubjectKind.STAFF, "Lee Carter", "L-1", roles_known=False)  # the directory could not say


@pytest.mark.parametrize("category", [c for c in Category if c is not Category.ABOUT_HEAD_TEACHER],
                         ids=lambda c: c.value)
@pytest.mark.parametrize("urgency", [Urgency.URGENT, Urgency.STANDARD])
def test_roles_unknown_go_to_the_safeguarding_leads_and_head_only_never_the_channel(
    category: Category, urgency: Urgency
) -> None:
    route = route_report(ROUTING[category], urgency, [UNCHECKED, PUPIL], CHAIN)
    assert route.recheck and route.about is AboutRecipient.ROLES_UNKNOWN and route.channel is ChannelView.NONE
    assert route.notify == route.handlers == {Role.DSL, Role.DEPUTY_DSL, Role.HEAD_TEACHER}
    assert not may_handle(route, "l-1", frozenset({Role.DSL}))
    assert not may_handle(route, "p-1", frozenset({Role.SLT, Role.DEPUTY}))
    assert route.explanation is not None and "checked again" in route.explanation
    steps = [step.role for step in route.chain]
    assert steps == ([Role.DSL, Role.DEPUTY_DSL, Role.HEAD_TEACHER, Role.CHAIR_OF_GOVERNORS]
                     if urgency is Urgency.URGENT else [])  # never the deputy head (SLT)


def test_roles_known_in_part_are_used_at_once_and_still_checked_again() -> None:
    head_last_known = Subject(SubjectKind.STAFF, "Anna Smith", "A-1", frozenset({Role.HEAD_TEACHER}), roles_known=False)
    route = route_report(ROUTING[Category.OFFENSIVE_CONTENT], Urgency.STANDARD, [head_last_known], CHAIN)
    assert route.notify == {Role.CHAIR_OF_GOVERNORS} and route.recheck
    checked = route_report(ROUTING[Category.OFFENSIVE_CONTENT], Urgency.STANDARD, [HEAD], CHAIN)
    assert not checked.recheck and checked.notify == route.notify
    assert not route_report(ROUTING[Category.OFFENSIVE_CONTENT], Urgency.STANDARD, [TEACHER], CHAIN).recheck
