"""Helpers to run the real app (through its factory) in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import SERVICES, create_app
from bot.settings import Settings
from store.tables import BotStateRow


@asynccontextmanager
async def running_bot(settings: Settings, **factory_kwargs: Any) -> AsyncIterator[TestClient]:
    app = create_app(settings, **factory_kwargs)
    async with TestClient(TestServer(app)) as client:
        yield client


async def stored_state_rows(client: TestClient) -> int:
    database = client.app[SERVICES].database
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(BotStateRow)) or 0)
