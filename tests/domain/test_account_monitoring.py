"""Issue 19 (2): a business case that rules monitoring out is refused with the policy's own words ("must be monitored
regularly and frequently (including during holidays)"); an answer that says who checks it, and when, passes."""

from __future__ import annotations

import pytest

from domain.accounts import Q_MONITORING, FormField, validate_form
from tests.domain.test_accounts_domain import PEOPLE, complete


@pytest.mark.parametrize("answer", ["None", "none.", "N/A", "Nobody", "No one - school is closed", "Not monitored",
                                    "Term time only", "We don't check it in the holidays",
                                    "It is closed over the holidays", "-"])
def test_holiday_monitoring_that_rules_it_out_is_refused_with_the_policys_words(answer: str) -> None:
    check = validate_form(complete(holiday_monitoring=answer), PEOPLE)
    assert check.case is None
    said = check.errors[FormField.HOLIDAY_MONITORING.value]
    assert Q_MONITORING.text in said and "during the school holidays" in said


def test_term_time_monitoring_of_none_is_refused_too() -> None:
    check = validate_form(complete(monitoring_plan="none"), PEOPLE)
    assert check.case is None and "in term time" in check.errors[FormField.MONITORING_PLAN.value]


@pytest.mark.parametrize("answer", ["Lee checks twice a week", "Daily by Lee, including holidays",
                                    "Anna checks weekly; no posts are made in August",
                                    "Priya checks it every Monday; Lee in August"])
def test_a_real_holiday_plan_passes(answer: str) -> None:
    assert validate_form(complete(holiday_monitoring=answer), PEOPLE).case is not None
