"""Bot Framework authentication for `/api/messages`.

botbuilder's ``ConfigurationBotFrameworkAuthentication`` does the real JWT checks (issuer, audience,
signing keys from the OpenID metadata, channel endorsement, service URL claim, clock skew). This module
builds it from our settings and turns every way a token can be bad into a typed refusal, because
botbuilder lets some of them escape as ``jwt.DecodeError`` or ``IndexError`` (HTTP 500).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import jwt
import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, ServiceClientCredentialsFactory

from bot.settings import Settings

log = logging.getLogger(__name__)

_PUBLIC_CHANNEL_ISSUER = "https://api.botframework.com"


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
    if not settings.dev_mode and not auth_header.strip():
        raise Unauthenticated("no bearer token")
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
