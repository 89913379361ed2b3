"""Real Bot Framework JWT validation on /api/messages, with locally served OpenID metadata and keys.

Each refused request must be answered 401/403, store nothing and send nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.settings import Settings
from tests.fakes.activities import OTHER_TENANT, TENANT, personal_activity
from tests.fakes.connector import FakeConnector
from tests.fakes.credentials import OUTBOUND_TOKEN, FixedTokenCredentialsFactory
from tests.fakes.openid import OpenIdServer, SigningKey, sign_token
from tests.http_helpers import running_bot, stored_state_rows

APP_ID = "11111111-2222-3333-4444-555555555555"


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


async def _post(settings: Settings, connector: FakeConnector, activity: dict, token: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with running_bot(settings, credentials_factory=FixedTokenCredentialsFactory(APP_ID)) as client:
        response = await client.post("/api/messages", json=activity, headers=headers)
        rows = await stored_state_rows(client)
    return response.status, rows


async def test_valid_token_is_answered_with_the_bots_own_token(
    prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    token = sign_token(keys[0], audience=APP_ID, service_url=connector.url)
    status, rows = await _post(prod_settings, connector, personal_activity(connector.url, text="help"), token)
    assert status == 201
    assert rows > 0
    [delivery] = connector.sent()
    assert delivery.authorization == f"Bearer {OUTBOUND_TOKEN}"


async def test_token_expired_within_clock_skew_is_accepted(
    prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    token = sign_token(keys[0], audience=APP_ID, service_url=connector.url, expires_in=-120)
    status, _ = await _post(prod_settings, connector, personal_activity(connector.url, text="help"), token)
    assert status == 201


def _bad_tokens(key: SigningKey, other_key: SigningKey, url: str) -> dict[str, str | None]:
    return {
        "no token": None,
        "empty bearer": "",
        "garbage": "not.a.jwt",
        "random text": "hello",
        "wrong audience": sign_token(key, audience="99999999-2222-3333-4444-555555555555", service_url=url),
        "wrong issuer": sign_token(key, audience=APP_ID, service_url=url, issuer="https://evil.example"),
        "expired beyond skew": sign_token(key, audience=APP_ID, service_url=url, expires_in=-3600),
        "unknown key id": sign_token(key, audience=APP_ID, service_url=url, kid="no-such-key"),
        "signed by an unpublished key": sign_token(other_key, audience=APP_ID, service_url=url, kid=key.kid),
        "service url claim mismatch": sign_token(key, audience=APP_ID, service_url="https://elsewhere.example/"),
    }


BAD_TOKEN_CASES = [
    "no token", "empty bearer", "garbage", "random text", "wrong audience", "wrong issuer",
    "expired beyond skew", "unknown key id", "signed by an unpublished key", "service url claim mismatch",
]


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
async def test_bad_tokens_are_refused_and_nothing_is_stored_or_sent(
    case: str, prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    token = _bad_tokens(keys[0], SigningKey(), connector.url)[case]
    status, rows = await _post(prod_settings, connector, personal_activity(connector.url, text="help"), token)
    assert status == 401, case
    assert rows == 0
    assert connector.sent() == []


async def test_key_not_endorsed_for_teams_is_refused(
    prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    keys[0].endorsements = ["webchat"]
    token = sign_token(keys[0], audience=APP_ID, service_url=connector.url)
    status, rows = await _post(prod_settings, connector, personal_activity(connector.url, text="help"), token)
    assert status == 401
    assert rows == 0


async def test_valid_token_from_another_tenant_is_refused(
    prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    token = sign_token(keys[0], audience=APP_ID, service_url=connector.url)
    activity = personal_activity(connector.url, text="help", tenant=OTHER_TENANT)
    status, rows = await _post(prod_settings, connector, activity, token)
    assert status == 403
    assert rows == 0
    assert connector.sent() == []


async def test_unreachable_signing_keys_answer_503_so_teams_retries(
    prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey], openid: OpenIdServer
) -> None:
    token = sign_token(keys[0], audience=APP_ID, service_url=connector.url)
    openid.stop()
    status, rows = await _post(prod_settings, connector, personal_activity(connector.url, text="help"), token)
    assert status == 503
    assert rows == 0
