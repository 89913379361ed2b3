"""Real Bot Framework JWT validation on /api/messages, with locally served OpenID metadata and keys.

Each refused request must be answered 401/403, store nothing and send nothing.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.settings import Settings
from tests.fakes.activities import OTHER_TENANT, personal_activity
from tests.fakes.connector import FakeConnector
from tests.fakes.credentials import OUTBOUND_TOKEN, FixedTokenCredentialsFactory
from tests.fakes.openid import APP_ID, ISSUER, OpenIdServer, SigningKey, forge_token, public_pem, sign_token
from tests.http_helpers import running_bot, stored_state_rows


async def _post(settings: Settings, connector: FakeConnector, activity: dict, token: str | None):  # type: ignore[no-untyped-def]
    status, rows, _ = await _post_header(settings, activity, f"Bearer {token}" if token is not None else None)
    return status, rows


async def _post_header(settings: Settings, activity: dict[str, Any], header: str | None) -> tuple[int, int, Any]:
    """POST ``activity`` with ``header`` as the Authorization header: the status, state rows stored, the body."""
    headers = {"Authorization": header} if header is not None else {}
    async with running_bot(settings, credentials_factory=FixedTokenCredentialsFactory(APP_ID)) as client:
        response = await client.post("/api/messages", json=activity, headers=headers)
        body = await response.json() if response.content_type == "application/json" else await response.text()
        rows = await stored_state_rows(client)
    return response.status, rows, body


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


# --- Each claim of the Bot Connector token (issue 14) ------------------------------------------------------------
# Refused: 401 with nothing said but "unauthorized", nothing stored, nothing sent. The times are checked with the
# Bot Framework's 5-minute clock skew; only RS256 signatures are accepted; the token must say when it expires.

SKEW_S = 5 * 60
EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"


def _claims(url: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": APP_ID, "serviceurl": url, "nbf": now - 60, "iat": now - 60,
                              "exp": now + 3600}
    claims.update(changes)
    return claims


def _refused_claim_tokens(key: SigningKey, url: str) -> dict[str, str]:
    now = int(time.time())
    return {
        "no exp": sign_token(key, audience=APP_ID, service_url=url, omit=("exp",)),
        "exp not a number": sign_token(key, audience=APP_ID, service_url=url, extra={"exp": "next year"}),
        "exp a boolean": sign_token(key, audience=APP_ID, service_url=url, extra={"exp": True}),
        "exp beyond the skew": sign_token(key, audience=APP_ID, service_url=url, expires_in=-(SKEW_S + 60)),
        "nbf beyond the skew": sign_token(key, audience=APP_ID, service_url=url, extra={"nbf": now + SKEW_S + 60}),
        "nbf not a number": sign_token(key, audience=APP_ID, service_url=url, extra={"nbf": "now"}),
        "iat beyond the skew": sign_token(key, audience=APP_ID, service_url=url, extra={"iat": now + SKEW_S + 60}),
        "iat not a number": sign_token(key, audience=APP_ID, service_url=url, extra={"iat": "now"}),
        "no audience": sign_token(key, audience=APP_ID, service_url=url, omit=("aud",)),
        "another app's audience": sign_token(key, audience="99999999-2222-3333-4444-555555555555", service_url=url),
        "no issuer": sign_token(key, audience=APP_ID, service_url=url, omit=("iss",)),
        "another issuer": sign_token(key, audience=APP_ID, service_url=url, issuer="https://evil.example"),
        "the emulator's issuer": sign_token(key, audience=APP_ID, service_url=url, issuer=EMULATOR_ISSUER,
                                            extra={"ver": "1.0", "appid": APP_ID}),
        "no serviceurl": sign_token(key, audience=APP_ID, service_url=url, omit=("serviceurl",)),
        "another serviceurl": sign_token(key, audience=APP_ID, service_url="https://elsewhere.example/"),
        "alg none": forge_token({"alg": "none", "typ": "JWT", "kid": key.kid}, _claims(url), None),
        "alg HS256 keyed with the public key": forge_token(
            {"alg": "HS256", "typ": "JWT", "kid": key.kid}, _claims(url), public_pem(key)),
        "alg RS384": sign_token(key, audience=APP_ID, service_url=url, algorithm="RS384"),
        "alg RS512": sign_token(key, audience=APP_ID, service_url=url, algorithm="RS512"),
        "alg PS256": sign_token(key, audience=APP_ID, service_url=url, algorithm="PS256"),
    }


REFUSED_CLAIMS = [
    "no exp", "exp not a number", "exp a boolean", "exp beyond the skew", "nbf beyond the skew", "nbf not a number",
    "iat beyond the skew", "iat not a number", "no audience", "another app's audience", "no issuer", "another issuer",
    "the emulator's issuer", "no serviceurl", "another serviceurl", "alg none", "alg HS256 keyed with the public key",
    "alg RS384", "alg RS512", "alg PS256",
]


@pytest.mark.parametrize("case", REFUSED_CLAIMS)
async def test_each_claim_is_checked_and_a_refusal_is_a_bare_401(
    case: str, prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    token = _refused_claim_tokens(keys[0], connector.url)[case]
    status, rows, body = await _post_header(prod_settings, personal_activity(connector.url, text="help"),
                                            f"Bearer {token}")
    assert (status, body) == (401, {"error": "unauthorized"}), case
    assert rows == 0
    assert connector.sent() == []


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_nbf_and_iat_within_the_clock_skew_are_accepted(
    claim: str, prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    token = sign_token(keys[0], audience=APP_ID, service_url=connector.url,
                       extra={claim: int(time.time()) + SKEW_S - 60})
    status, _ = await _post(prod_settings, connector, personal_activity(connector.url, text="help"), token)
    assert status == 201


@pytest.mark.parametrize("header", [
    "Basic dXNlcjpwYXNz", "bearer x.y.z", "Bearer", "Bearer  two  spaces", "Bearer a.b.c extra", "\u00e9t\u00e9",
])
async def test_an_authorization_header_that_is_not_one_bearer_token_is_refused(
    header: str, prod_settings: Settings, connector: FakeConnector
) -> None:
    status, rows, body = await _post_header(prod_settings, personal_activity(connector.url, text="help"), header)
    assert (status, body) == (401, {"error": "unauthorized"})
    assert rows == 0


async def test_a_valid_token_with_a_bearer_of_the_right_shape_but_too_long_is_refused(
    prod_settings: Settings, connector: FakeConnector, keys: list[SigningKey]
) -> None:
    padding = "x" * 5000  # a real Bot Connector token is about 1.5 KB; this one stays under aiohttp's header limit
    token = sign_token(keys[0], audience=APP_ID, service_url=connector.url, extra={"padding": padding})
    status, rows, body = await _post_header(prod_settings, personal_activity(connector.url, text="help"),
                                            f"Bearer {token}")
    assert (status, body) == (401, {"error": "unauthorized"})
    assert rows == 0
