"""The retention schedule in the running app: checked at start-up (an impossible value stops the bot, saying which),
its commands routed, its job a periodic worker whose first run waits for the bot to settle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import SERVICES, create_app
from bot.retention import RetentionWorker
from bot.settings import Settings, SettingsError
from dialogs.router import TextKind
from directory.static import StaticRoleDirectory
from domain.retention import RecordKind, build_schedule
from services.retention import Retention
from store.conversations import ProcessedActivityRow
from tests.http_helpers import running_bot
from tests.support.approvals import bot_settings
from tests.support.incidents_world import ROLES_FILE, TUESDAY_10AM, Clock, School


@pytest.mark.parametrize(("schedule", "message"), [
    ('{"incident_allegation": "5y"}', "incident_allegation: 5 years is shorter than the 10 years the law requires"),
    ('{"audit_trail": "-30d"}', "audit_trail: '-30d' is not a period"),
    ('{"photo_log": "1y"}', "'photo_log' is not a kind of record the bot keeps"),
    ('{"account_drafts": "0d"}', "account_drafts: 0 would remove each record as soon as it is made"),
])
def test_an_impossible_schedule_stops_the_bot_saying_what_to_change(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, schedule: str, message: str,
) -> None:
    monkeypatch.setenv("POLICYBOT_RETENTION_SCHEDULE", schedule)
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url)  # type: ignore[call-arg]
    with pytest.raises(SettingsError) as stopped:
        create_app(settings)
    assert str(stopped.value) == f"POLICYBOT_RETENTION_SCHEDULE: {message}" or message in str(stopped.value)
    assert str(stopped.value).startswith("POLICYBOT_RETENTION_SCHEDULE: ")


async def test_the_app_routes_the_retention_commands(sqlite_url: str) -> None:
    settings = bot_settings(sqlite_url).model_copy(update={"retention_schedule": {"audit_trail": "3y"}})
    async with running_bot(settings) as client:
        router = client.app[SERVICES].router
        for typed in ("retention preview", "legal hold INC-2026-0001 because a claim", "legal holds",
                      "release legal hold INC-2026-0001"):
            assert router.match_text(typed).kind is TextKind.COMMAND, typed
        commands = router.describe()["commands"]
        assert {name: commands[name]["owner"] for name in
                ("retention_preview", "legal_hold", "release_legal_hold", "legal_holds")} == dict.fromkeys(
            ("retention_preview", "legal_hold", "release_legal_hold", "legal_holds"), "dialogs.retention")


async def test_the_worker_waits_before_its_first_run_then_runs_the_schedule(sqlite_url: str) -> None:
    school = await School.open(sqlite_url, clock=Clock(TUESDAY_10AM))
    try:
        async with school.database.transaction() as session:  # a ledger entry from three days ago
            session.add(ProcessedActivityRow(dedupe_key="old", state="done",
                                             claimed_at=TUESDAY_10AM - timedelta(days=3)))
        retention = Retention(school.database, StaticRoleDirectory.from_file(ROLES_FILE), schedule=build_schedule(),
                              calendar=school.incidents.calendar, clock=school.clock.now)
        worker = RetentionWorker(retention, every_hours=24, first_run_delay_seconds=600)
        assert await worker.round() == 600  # nothing ran yet
        async with school.database.sessions() as session:
            assert await session.scalar(select(ProcessedActivityRow.dedupe_key)) == "old"
        assert await worker.round() is None  # ran; the next round in 24 hours
        async with school.database.sessions() as session:
            assert await session.scalar(select(ProcessedActivityRow.dedupe_key)) is None
        assert worker.every_seconds == 24 * 3600
        outcome = await worker.run_once()
        assert outcome.run_id is None and RecordKind.ACTIVITY_LEDGER not in {i.kind for i in outcome.plan.items}
    finally:
        await school.close()
