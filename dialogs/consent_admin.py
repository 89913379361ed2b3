"""The consent register in Teams: do not photograph, the data admin's commands, and the SharePoint sync.

Each verb is registered with its payload model (``cards/consent_admin.py``): the router validates the card data
before the use case (``services/consent_admin.py``) runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.settings import Settings
from cards.consent_admin import (
    CONSENT_REGISTER_ACTIVATE_VERB,
    DO_NOT_PHOTOGRAPH_CHOOSE_VERB,
    DO_NOT_PHOTOGRAPH_CLEAR_VERB,
    DO_NOT_PHOTOGRAPH_SUBMIT_VERB,
    ActivateSubmit,
    ClearSubmit,
    DoNotPhotographChoice,
    DoNotPhotographSubmit,
)
from cards.replies import CommandReply
from dialogs.router import AttachmentsRequest, Router
from directory.consent_sharepoint import SharePointConsentReader
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.roles import RoleDirectory
from services.consent_admin import (
    ACCESS,
    CONSENT_CSV,
    CONSENT_REGISTER,
    DO_NOT_PHOTOGRAPH,
    PHOTO_REQUESTS,
    PUPIL_CONSENT,
    ConsentAdmin,
)
from services.consent_sync import UPDATE_ACCESS, UPDATE_CONSENT_REGISTER, ConsentSync
from store.base import utcnow
from store.consent_store import ConsentStore
from store.conversations import ConversationStore
from store.db import Database


def register_consent_admin_routes(router: Router, admin: ConsentAdmin) -> None:
    """Each route with its declaration from ``services/consent_admin.py`` ``ACCESS``: the router checks it before the
    use case runs, and the use case checks the same declaration again."""
    router.on_command(command(DO_NOT_PHOTOGRAPH), admin.do_not_photograph, access=ACCESS[DO_NOT_PHOTOGRAPH])
    router.on_command(command(PHOTO_REQUESTS), admin.photo_requests, access=ACCESS[PHOTO_REQUESTS])
    router.on_command(command(CONSENT_REGISTER), admin.consent_register, access=ACCESS[CONSENT_REGISTER])
    router.on_command(command(PUPIL_CONSENT), admin.pupil_consent, access=ACCESS[PUPIL_CONSENT])
    router.on_action(DO_NOT_PHOTOGRAPH_SUBMIT_VERB, admin.on_submit, payload=DoNotPhotographSubmit,
                     access=ACCESS[DO_NOT_PHOTOGRAPH_SUBMIT_VERB])
    router.on_action(DO_NOT_PHOTOGRAPH_CHOOSE_VERB, admin.on_choose, payload=DoNotPhotographChoice,
                     access=ACCESS[DO_NOT_PHOTOGRAPH_CHOOSE_VERB])
    router.on_action(DO_NOT_PHOTOGRAPH_CLEAR_VERB, admin.on_clear, payload=ClearSubmit,
                     access=ACCESS[DO_NOT_PHOTOGRAPH_CLEAR_VERB])
    router.on_action(CONSENT_REGISTER_ACTIVATE_VERB, admin.on_activate, payload=ActivateSubmit,
                     access=ACCESS[CONSENT_REGISTER_ACTIVATE_VERB])

    async def consent_csv(request: AttachmentsRequest) -> CommandReply | None:
        """A CSV file sent in the personal chat is a consent register for the data admin (the router has checked
        the sender before this runs: anyone else's file is never downloaded)."""
        assert request.actor is not None  # the router refuses a message without an identity
        return await admin.receive_csv(request.actor, admin.csv_candidates(request.attachments), request.fetch)

    router.on_attachments(CONSENT_CSV, consent_csv, takes=lambda request: bool(admin.csv_candidates(
        request.attachments)), access=ACCESS[CONSENT_CSV])


def register_consent_admin(router: Router, *, database: Database, store: ConsentStore,
                           directory: RoleDirectory, settings: Any,
                           conversations: ConversationStore | None = None,
                           calendar: SchoolCalendar | None = None,
                           on_enqueued: Callable[[], None] | None = None,
                           clock: Callable[[], Any] = utcnow) -> ConsentAdmin:
    """Register the data admin's commands; ``calendar`` is the one the app built (else from ``settings``).

    ``conversations`` is no longer used (people's names are read in each use case's unit of work); it is accepted
    until the app factory stops passing it.
    """
    del conversations
    admin = ConsentAdmin(database, store, directory, settings,
                         calendar=calendar or settings.school_calendar(), on_enqueued=on_enqueued, clock=clock)
    register_consent_admin_routes(router, admin)
    return admin


def register_consent_sync(router: Router, *, store: ConsentStore, directory: RoleDirectory,
                          settings: Settings, calendar: SchoolCalendar | None = None,
                          reader: SharePointConsentReader | None = None,
                          interval_seconds: float | None = None) -> ConsentSync:
    """Build the sync, register `update consent register`, and return it (its `cleanup_ctx` runs the loop).

    Raises:
        SettingsError: the source is sharepoint and a setting it needs is missing or wrong.
    """
    sync = ConsentSync(store, directory, settings, trail=router.trail, calendar=calendar, reader=reader,
                       interval_seconds=interval_seconds)
    register_consent_sync_routes(router, sync)
    return sync


def register_consent_sync_routes(router: Router, sync: ConsentSync) -> None:
    router.on_command(command(UPDATE_CONSENT_REGISTER), sync.update_consent_register, access=UPDATE_ACCESS)
