"""Outbound credentials for tests: the bot's own token to the (fake) connector.

In production botbuilder fetches this token from Entra ID, which tests cannot reach; this factory
hands out a fixed token for the one app id it knows, so replies still carry an Authorization header.
"""

from __future__ import annotations

from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory

OUTBOUND_TOKEN = "test-outbound-token"


class _FixedTokenCredentials(AppCredentials):
    def get_access_token(self, force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN


class FixedTokenCredentialsFactory(ServiceClientCredentialsFactory):
    def __init__(self, app_id: str) -> None:
        self._app_id = app_id

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self._app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):  # type: ignore[no-untyped-def]
        if app_id != self._app_id:
            raise PermissionError("unknown app id")
        return _FixedTokenCredentials(app_id=app_id, oauth_scope=oauth_scope)
