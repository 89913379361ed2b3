"""The consent register read from a SharePoint list through Microsoft Graph (issue 7), when configured.

Interface used by the app (being built; see the issue):

- ``register_consent_sync(router, *, store, directory, settings)`` registers ``update consent register``
  (data admin) and returns a ``ConsentSync`` whose ``cleanup_ctx`` runs the periodic sync while the app runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.actions import ActionRouter
from domain.roles import RoleDirectory
from store.consent_store import ConsentStore


class ConsentSync:
    def __init__(self, store: ConsentStore, directory: RoleDirectory, settings: Any) -> None:
        self.store = store
        self._directory = directory
        self._settings = settings

    def register(self, router: ActionRouter) -> None:
        pass

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        yield


def register_consent_sync(router: ActionRouter, *, store: ConsentStore, directory: RoleDirectory,
                          settings: Any) -> ConsentSync:
    sync = ConsentSync(store, directory, settings)
    sync.register(router)
    return sync
