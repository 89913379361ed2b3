"""Fixtures of the HTTP tests that validate real tokens: local OpenID metadata and keys, production-like settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.settings import Settings
from tests.fakes.activities import TENANT
from tests.fakes.openid import APP_ID, OpenIdServer, SigningKey


@pytest.fixture
def keys() -> list[SigningKey]:
    return [SigningKey()]


@pytest.fixture
def openid(keys: list[SigningKey]) -> Iterator[OpenIdServer]:
    server = OpenIdServer(keys).start()
    yield server
    server.stop()


@pytest.fixture
def prod_settings(sqlite_url: str, openid: OpenIdServer) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_id=APP_ID,
        app_password="not-used-in-tests",
        app_type="SingleTenant",
        app_tenant_id=TENANT,
        database_url=sqlite_url,
        openid_metadata_url=openid.metadata_url,
    )
