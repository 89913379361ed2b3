"""Bot Framework authentication for `/api/messages`.

botbuilder's ``ConfigurationBotFrameworkAuthentication`` does the real JWT checks (issuer, audience,
signing keys from the OpenID metadata, channel endorsement, service URL claim, clock skew). This module
builds it from our settings, adds what botbuilder leaves out, and turns every way a token can be bad into a
typed refusal, because botbuilder lets some of them escape as ``jwt.DecodeError`` or ``IndexError`` (HTTP 500).

Added to botbuilder's checks (issue 14):

- the header is ``Bearer <token>`` and at most ``MAX_AUTHORIZATION_CHARS`` long;
- the token is signed with RS256 and nothing else (``none``, HMAC, RS384/512, PS*: refused before any key is read);
- its issuer is the Bot Connector's: a token claiming the emulator's or a skill's issuer would make botbuilder
  fetch Microsoft's login metadata (a request to the internet for an unsigned token) and is no channel's anyway;
- ``exp`` is required (botbuilder accepts a token without one: it would never expire), and ``exp``, ``nbf`` and
  ``iat`` are numbers, read on the signature-checked claims with the Bot Framework's 5-minute clock skew.

A refusal's reason is a fixed phrase or an exception's type: never the header or anything in the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, ServiceClientCredentialsFactory

from bot.settings import Settings

log = logging.getLogger(__name__)

_PUBLIC_CHANNEL_ISSUER = "https://api.botframework.com"
SIGNING_ALGORITHM = "RS256"  # what the Bot Connector signs with; nothing else is accepted
CLOCK_SKEW_S = 5 * 60  # the Bot Framework's own tolerance between its clock and ours
MAX_AUTHORIZATION_CHARS = 4096  # a Bot Connector token is about 1.5 KB


class Unauthenticated(Exception):
    """The request's bearer token is missing or not acceptable."""


class KeysUnavailable(Exception):
    """The Bot Framework signing keys could not be fetched, so no token can be checked now."""


@dataclass
class BotFrameworkConfig:
    """The attribute names botbuilder's configuration-driven authentication reads."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None = None
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None = None


def bot_framework_config(settings: Settings) -> BotFrameworkConfig:
    return BotFrameworkConfig(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        # Dev mode has no registration: botbuilder accepts an empty app id only as MultiTenant.
        APP_TYPE="MultiTenant" if settings.dev_mode else settings.app_type,
        APP_TENANTID=settings.app_tenant_id,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.openid_metadata_url or None,
        # With an overridden metadata URL botbuilder expects no issuer unless told: keep the public one.
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=settings.token_issuer
        or (_PUBLIC_CHANNEL_ISSUER if settings.openid_metadata_url else None),
    )


def build_authentication(
    settings: Settings, credentials_factory: ServiceClientCredentialsFactory | None = None
) -> ConfigurationBotFrameworkAuthentication:
    return ConfigurationBotFrameworkAuthentication(
        bot_framework_config(settings), credentials_factory=credentials_factory
    )


async def authenticate(
    authentication: ConfigurationBotFrameworkAuthentication,
    settings: Settings,
    activity: Activity,
    auth_header: str,
) -> AuthenticateRequestResult:
    """Check the request's token; raise ``Unauthenticated`` on any failure.

    In dev mode (no app id, loopback only, checked at start-up) botbuilder accepts a missing token.
    Outside dev mode a missing token is refused here before botbuilder sees it.
    """
    if not auth_header.strip():
        if not settings.dev_mode:
            raise Unauthenticated("no bearer token")
        return await _botbuilder_checks(authentication, activity, auth_header)
    _check_unverified(auth_header, expected_issuer(settings))
    result = await _botbuilder_checks(authentication, activity, auth_header)
    claims = result.claims_identity.claims if result.claims_identity is not None else None
    check_times(claims if isinstance(claims, Mapping) else {}, now=time.time())
    return result


async def _botbuilder_checks(
    authentication: ConfigurationBotFrameworkAuthentication, activity: Activity, auth_header: str
) -> AuthenticateRequestResult:
    try:
        return await authentication.authenticate_request(activity, auth_header)
    except requests.RequestException as exc:
        # The signing keys could not be fetched: not the caller's fault. Teams retries a 503.
        raise KeysUnavailable(type(exc).__name__) from exc
    except PermissionError as exc:
        raise Unauthenticated("token refused") from exc
    except (jwt.PyJWTError, IndexError, KeyError, ValueError) as exc:
        # Malformed token (DecodeError), unknown signing key id (IndexError), missing claims.
        raise Unauthenticated(type(exc).__name__) from exc
    except Exception as exc:  # noqa: BLE001 - botbuilder raises bare Exception for a failed endorsement
        raise Unauthenticated(type(exc).__name__) from exc


def expected_issuer(settings: Settings) -> str:
    """The issuer the Bot Connector's tokens carry (the public cloud's unless the settings name another)."""
    return bot_framework_config(settings).TO_BOT_FROM_CHANNEL_TOKEN_ISSUER or _PUBLIC_CHANNEL_ISSUER


def _check_unverified(auth_header: str, issuer: str) -> None:
    """What can be refused before any signing key is read: the header's shape, the algorithm, the issuer.

    Nothing read here is trusted: botbuilder then checks the signature, which covers the header and the claims.
    """
    if len(auth_header) > MAX_AUTHORIZATION_CHARS:
        raise Unauthenticated("authorization header too long")
    scheme, _, token = auth_header.partition(" ")
    if scheme != "Bearer" or not token or " " in token:
        raise Unauthenticated("not one bearer token")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthenticated(type(exc).__name__) from exc
    if header.get("alg") != SIGNING_ALGORITHM:
        raise Unauthenticated("signing algorithm not accepted")
    if claims.get("iss") != issuer:
        raise Unauthenticated("issuer not accepted")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def check_times(claims: Mapping[str, Any], *, now: float) -> None:
    """The token's times, on claims whose signature has been checked: ``exp`` required, ``nbf`` and ``iat`` (when
    present) not in the future, each a number, each with ``CLOCK_SKEW_S`` of tolerance.

    Raises:
        Unauthenticated: naming the claim, never its value.
    """
    if "exp" not in claims:
        raise Unauthenticated("token has no exp")
    expires = _number(claims["exp"])
    if expires is None:
        raise Unauthenticated("exp is not a number")
    if now > expires + CLOCK_SKEW_S:
        raise Unauthenticated("token expired")
    for claim in ("nbf", "iat"):
        if claim not in claims:
            continue
        when = _number(claims[claim])
        if when is None:
            raise Unauthenticated(f"{claim} is not a number")
        if when > now + CLOCK_SKEW_S:
            raise Unauthenticated(f"{claim} is in the future")
