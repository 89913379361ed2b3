"""Staff know the policy (issue 17) and the business case's policy checks (issue 19, item 2), through the running app
with the school's own policy file: the key points offered beside the first help card, once; acknowledging records it;
reporting an incident is never held up; SLT record training; the Head Teacher's card shows each runner's
acknowledgement and training from the school's records; approving with an untrained runner asks to confirm, and SLT's
follow-up runs until the training is recorded."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from cards.accounts import ACCOUNT_SUBMIT_VERB
from cards.acknowledgement import ACKNOWLEDGE_VERB
from cards.approvals import APPROVAL_DECIDE_VERB
from store import acknowledgements as notices
from tests.fakes.connector import FakeConnector
from tests.support.approvals import (
    ANNA,
    LEE,
    PRIYA,
    SAM,
    accounts_bot,
    bot_settings,
    button,
    card_text,
    case_values,
    execute,
    meet,
    outbox_activities,
    outbox_card,
    say,
)

FORM_ID = "0123456789abcdef0123456789abcdef"
POLICY = """# Holy Trinity Social Media Policy

## Staff

- Know the contents of and ensure that any use of social media is carried out in line with this policy.

## Monitoring

The school's social media accounts must be monitored regularly and frequently (including during holidays).
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    policy = tmp_path / "social-media-policy.md"
    policy.write_text(POLICY, encoding="utf-8")
    return bot_settings(database_url).model_copy(update={"policy_path": policy})


def offered(connector: FakeConnector) -> list[dict[str, object]]:
    return [card for card in connector.cards() if "I have read the policy" in str(card)]


async def test_the_key_points_come_with_the_first_help_once_and_acknowledging_records_it(
        settings: Settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, _):
        await say(client, connector.url, SAM, "help")
        cards = connector.cards()
        assert len(cards) == 2  # the help card, then the key points beside it
        [offer] = offered(connector)
        text = card_text(offer)
        assert "Please read the school's Social Media Policy" in text
        assert "must be monitored regularly and frequently (including during holidays)" in text
        connector.clear()
        await say(client, connector.url, SAM, "help")
        assert offered(connector) == []  # not on every turn
        version = button(offer, "I have read the policy")["data"]["version"]
        done = await execute(client, connector.url, SAM, ACKNOWLEDGE_VERB, {"version": version})
        assert "Thank you: you have read the policy" in card_text(done["value"])


async def test_reporting_an_incident_is_never_held_up(settings: Settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings) as (client, _):
        await say(client, connector.url, LEE, "report")
        cards = connector.cards()
        assert cards and "immediate risk of harm" in card_text(cards[0])
        assert offered(connector) == []


async def test_the_head_sees_each_runners_records_and_confirms_an_untrained_runner_and_slt_follow_up(
        settings: Settings, connector: FakeConnector) -> None:
    async with accounts_bot(settings, trained=()) as (client, wiring):
        database = wiring.desk.database
        await meet(client, connector.url, ANNA, LEE, PRIYA)
        offer = offered(connector)[0]
        version = button(offer, "I have read the policy")["data"]["version"]
        await execute(client, connector.url, LEE, ACKNOWLEDGE_VERB, {"version": version})
        trained_on = date.today() - timedelta(days=3)
        connector.clear()
        await say(client, connector.url, PRIYA, f"training Lee Carter {trained_on:%d/%m/%Y} Online safety for staff")
        assert "Training recorded for Lee Carter" in card_text(connector.cards()[0])

        refused = await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {
            "form_id": FORM_ID, **case_values(holiday_monitoring="None")})
        assert "must be monitored regularly and frequently (including during holidays)" in card_text(refused["value"])
        await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        head_card = outbox_card((await outbox_activities(database))[0][1])
        shown = card_text(head_card)
        assert f"Lee Carter (runner):** read the policy on {date.today():%-d %b %Y}; trained on " \
               f"{trained_on:%-d %b %Y}" in shown
        assert f"trained on {trained_on:%-d %b %Y} (Online safety for staff)" in shown  # the details say what
        assert "Sam Teacher (runner):** has not confirmed reading the current policy; no training recorded" in shown

        asked = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, button(head_card, "Approve")["data"])
        assert "No social media training is recorded for Sam Teacher" in card_text(asked["value"])
        anyway = button(asked["value"], "Approve anyway: training to follow")
        approved = await execute(client, connector.url, ANNA, APPROVAL_DECIDE_VERB, anyway["data"])
        assert "Approved." in card_text(approved["value"])
        async with database.sessions() as session:
            [follow_up] = await notices.notices(session, notices.TRAINING_FOLLOWUP)
        assert follow_up.name == "Sam Teacher" and follow_up.closed_at is None

        await say(client, connector.url, PRIYA, f"training Sam Teacher {trained_on:%d/%m/%Y} Online safety")
        async with database.sessions() as session:
            assert await notices.notices(session, notices.TRAINING_FOLLOWUP) == []  # recorded: it stops


async def test_with_the_bundled_sample_policy_the_business_case_still_reads_the_records(
        database_url: str, connector: FakeConnector) -> None:
    from bot.app import policy_edition

    sample = bot_settings(database_url)
    edition = policy_edition(sample)
    assert edition.is_sample
    async with accounts_bot(sample, trained=(LEE,)) as (client, wiring):
        await meet(client, connector.url, ANNA, LEE)
        assert offered(connector) == []  # a sample is never offered as the school's policy
        await execute(client, connector.url, LEE, ACKNOWLEDGE_VERB, {"version": edition.version})
        await execute(client, connector.url, SAM, ACCOUNT_SUBMIT_VERB, {"form_id": FORM_ID, **case_values()})
        shown = card_text(outbox_card((await outbox_activities(wiring.desk.database))[0][1]))
        assert f"Lee Carter (runner):** read the policy on {date.today():%-d %b %Y}; trained on " in shown
        assert "Sam Teacher (runner):** has not confirmed reading the current policy; no training recorded" in shown
