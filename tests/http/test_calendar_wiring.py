"""The app factory builds the school calendar once, from POLICYBOT_SCHOOL_*, and refuses one it cannot read."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import create_app
from bot.settings import Settings, SettingsError
from domain.calendar import SchoolCalendar
from tests.support.approvals import bot_settings


def test_the_app_builds_the_calendar_once_and_hands_it_to_every_feature(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[SchoolCalendar] = []
    original = Settings.school_calendar

    def counted(self: Settings) -> SchoolCalendar:
        calendar = original(self)
        built.append(calendar)
        return calendar

    monkeypatch.setattr(Settings, "school_calendar", counted)
    settings = bot_settings(sqlite_url).model_copy(update={"school_timezone": "Pacific/Auckland"})
    create_app(settings)
    # Approvals, reminders, incidents, the photo check's exceptions, the data admin and the consent sync all take
    # the factory's calendar: none of them builds its own.
    assert len(built) == 1
    assert built[0].timezone_name == "Pacific/Auckland"


@pytest.mark.parametrize(
    "change",
    [{"school_timezone": "Europe/Lundon"}, {"school_days": "weekdays"}, {"school_day_end": "07:00"}],
)
def test_the_app_refuses_to_start_with_a_calendar_it_cannot_read(sqlite_url: str, change: dict[str, Any]) -> None:
    with pytest.raises(SettingsError, match="POLICYBOT_SCHOOL_"):
        create_app(bot_settings(sqlite_url).model_copy(update=change))
