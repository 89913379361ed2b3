"""The consent register's keeping in Teams (issue 7): what the data admin and any member of staff do to it.

Interface used by the app and the Teams edge (being built; see the issue):

- ``register_consent_admin(router, *, database, store, directory, conversations, settings, on_enqueued, clock)``
  registers the commands and verbs and returns a ``ConsentAdmin``.
- ``ConsentAdmin.csv_candidates(attachments)``: the CSV files among a personal-chat message's attachments.
- ``ConsentAdmin.receive_csv(actor, candidates, fetch)``: import one (data admin only) and answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.actions import ActionRouter, Actor, CommandReply
from bot.features.incidents import Fetch
from domain.roles import RoleDirectory
from store.base import utcnow
from store.consent_store import ConsentStore
from store.conversations import ConversationStore
from store.db import Database


class ConsentAdmin:
    def __init__(self, database: Database, store: ConsentStore, directory: RoleDirectory,
                 conversations: ConversationStore, settings: Any, *,
                 on_enqueued: Callable[[], None] | None = None, clock: Callable[[], Any] = utcnow) -> None:
        self._database = database
        self.store = store
        self._directory = directory
        self._conversations = conversations
        self._settings = settings
        self._on_enqueued = on_enqueued
        self._clock = clock

    def register(self, router: ActionRouter) -> None:
        pass

    def csv_candidates(self, attachments: list[dict[str, Any]]) -> list[Any]:
        return []

    async def receive_csv(self, actor: Actor, candidates: list[Any], fetch: Fetch) -> CommandReply:
        raise NotImplementedError


def register_consent_admin(router: ActionRouter, *, database: Database, store: ConsentStore,
                           directory: RoleDirectory, conversations: ConversationStore, settings: Any,
                           on_enqueued: Callable[[], None] | None = None,
                           clock: Callable[[], Any] = utcnow) -> ConsentAdmin:
    admin = ConsentAdmin(database, store, directory, conversations, settings, on_enqueued=on_enqueued, clock=clock)
    admin.register(router)
    return admin
