"""The retention schedule: one rule per kind with its source; the school's changes checked; legal holds typed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.incidents import Category
from domain.retention import (
    DEFAULT_RULES,
    INCIDENT_KINDS,
    Disposal,
    HoldCommandError,
    HoldKind,
    Holds,
    LegalHold,
    Period,
    RecordKind,
    RetentionScheduleError,
    build_schedule,
    parse_hold,
)

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_every_kind_has_exactly_one_rule_with_a_source() -> None:
    assert sorted(rule.kind for rule in DEFAULT_RULES) == sorted(RecordKind)
    for rule in DEFAULT_RULES:
        assert rule.source.strip(), rule.kind
        assert (rule.period is None) == (rule.disposal in (Disposal.WITH_RECORD, Disposal.KEEP)), rule.kind


def test_every_incident_category_follows_one_rule_and_child_protection_is_never_deleted() -> None:
    assert set(INCIDENT_KINDS) == set(Category)
    schedule = build_schedule()
    for category in (Category.PUPIL_SAFETY, Category.EXTREMISM, Category.INAPPROPRIATE_IMAGE,
                     Category.BULLYING_PUPIL, Category.ALLEGATION_ABOUT_STAFF, Category.ABOUT_HEAD_TEACHER,
                     Category.STAFF_PUPIL_CONTACT):
        assert schedule.rule(INCIDENT_KINDS[category]).disposal is Disposal.FLAG, category
    safeguarding = schedule.rule(RecordKind.INCIDENT_SAFEGUARDING)
    assert "date of birth + 25 years" in safeguarding.source and "IRMS" in safeguarding.source
    assert "KCSIE" in schedule.rule(RecordKind.INCIDENT_ALLEGATION).source


def test_the_school_changes_a_period() -> None:
    schedule = build_schedule({"audit_trail": "3y", "photo_check_log": "18 months", "OUTBOX_CONTENT": "0d"})
    assert schedule.rule(RecordKind.AUDIT_TRAIL).period == Period(3, "y")
    assert schedule.rule(RecordKind.PHOTO_CHECK_LOG).period == Period(18, "m")
    assert schedule.rule(RecordKind.OUTBOX_CONTENT).period == Period(0, "d")
    assert build_schedule().rule(RecordKind.AUDIT_TRAIL).period == Period(2, "y")  # the defaults are untouched


@pytest.mark.parametrize(("overrides", "message"), [
    ({"audit_trail": "-1y"}, "audit_trail: '-1y' is not a period"),
    ({"audit_trail": "soon"}, "audit_trail: 'soon' is not a period"),
    ({"audit_trail": "0d"}, "audit_trail: 0 would remove each record as soon as it is made"),
    ({"incident_allegation": "9y"}, "incident_allegation: 9 years is shorter than the 10 years the law requires"),
    ({"incident_allegation": "119m"}, "shorter than the 10 years"),
    ({"pupil_photos": "1y"}, "'pupil_photos' is not a kind of record the bot keeps"),
    ({"incident_chronology": "1y"}, "incident_chronology: has no period of its own"),
])
def test_an_impossible_schedule_is_refused_saying_what_to_change(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(RetentionScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_schedule(overrides)


def test_calendar_periods() -> None:
    leap = datetime(2024, 2, 29, tzinfo=UTC)
    assert Period(1, "y").after(leap) == datetime(2025, 2, 28, tzinfo=UTC)
    assert Period(1, "m").before(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert Period(90, "d").before(NOW) == datetime(2026, 9, 7, 10, 0, tzinfo=UTC)
    assert Period(120, "m").at_least(Period(10, "y")) and not Period(3651, "d").at_least(Period(10, "y"))
    assert build_schedule().rule(RecordKind.ACCOUNT_REGISTER).cutoff(NOW) is None  # kept: the bot never acts


@pytest.mark.parametrize(("typed", "kind", "target", "reason"), [
    ("INC-2026-0004 because the LADO is investigating", HoldKind.INCIDENT, "INC-2026-0004",
     "the LADO is investigating"),
    ("acc-2026-0002 BECAUSE a claim", HoldKind.APPROVAL, "ACC-2026-0002", "a claim"),
    ("Alex Brown because of an allegation", HoldKind.PERSON, "Alex Brown", "of an allegation"),
])
def test_a_hold_as_typed(typed: str, kind: HoldKind, target: str, reason: str) -> None:
    wanted = parse_hold(typed)
    assert (wanted.kind, wanted.target, wanted.reason) == (kind, target, reason)


@pytest.mark.parametrize("typed", ["INC-2026-0004", "because a claim", "INC-2026-0004 because ", "Al because x"])
def test_a_hold_without_a_target_or_a_reason_is_refused(typed: str) -> None:
    with pytest.raises(HoldCommandError):
        parse_hold(typed)


def test_holds_cover_a_reference_a_person_by_id_and_a_person_by_name() -> None:
    def hold(kind: HoldKind, target: str, name: str | None = None, released: datetime | None = None) -> LegalHold:
        return LegalHold(1, kind, target, name, "why", "Jo Bell", NOW, released)

    holds = Holds((hold(HoldKind.INCIDENT, "INC-2026-0004"), hold(HoldKind.PERSON, "AAD-1", "Alex Brown"),
                   hold(HoldKind.APPROVAL, "ACC-2026-0001", released=NOW)))
    assert holds.covers("inc-2026-0004")
    assert holds.covers("INC-2026-0005", people=("aad-1",))
    assert holds.covers(None, texts=("Seen with ALEX BROWN in the park",))
    assert not holds.covers("ACC-2026-0001")  # released
    assert holds.covers(None, texts=("alex\n brown",))  # however the name was typed
    assert not holds.covers("INC-2026-0005", people=("aad-2",), texts=("Alex Browning",))  # a whole name only
