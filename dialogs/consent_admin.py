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
from domain.access import only, staff
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.roles import Role, RoleDirectory
from services.consent_admin import ConsentAdmin
from services.consent_sync import ConsentSync
from store.base import utcnow
from store.consent_store import ConsentStore
from store.conversations import ConversationStore
from store.db import Database

_ONLY_DATA_ADMIN_UPDATES = ("Only the data admin (school office) can update the consent register. Nothing changed. If "
                            "the register needs changing, tell the school office.")
_NOT_HERE = ("Please don't name pupils here. Tell me in our personal chat instead: open Policy Bot from the chat list "
             "and type **do not photograph** there. Nothing was recorded.")
_DATA_ADMIN_AND_DSL = ("Only the data admin (school office) and the Designated Safeguarding Lead can see this. To "
                       "check whether you may use a photo, type **can I post this photo?**")


def register_consent_admin_routes(router: Router, admin: ConsentAdmin) -> None:
    """Anyone may record a do-not-photograph wish (personal chat: it names a pupil); the register's keeping is the
    data admin's, and a pupil's record is for the data admin and the DSL."""
    record, register = RecordType.CONSENT_RECORD, RecordType.CONSENT_REGISTER
    router.on_command(command("do_not_photograph"), admin.do_not_photograph,
                      access=staff(personal_only=True, record=record, elsewhere=_NOT_HERE))
    router.on_command(command("photo_requests"), admin.photo_requests, access=only(
        Role.DATA_ADMIN, Role.DSL, personal_only=True, record=record, refusal=_DATA_ADMIN_AND_DSL))
    router.on_command(command("consent_register"), admin.consent_register, access=only(
        Role.DATA_ADMIN, Role.DSL, Role.DPO, personal_only=True, record=register, refusal=(
            "Only the data admin (school office), the Designated Safeguarding Lead and the Data Protection Officer "
            "can see the consent register's details. To check a photo, type **can I post this photo?**")))
    router.on_command(command("pupil_consent"), admin.pupil_consent, access=only(
        Role.DATA_ADMIN, Role.DSL, personal_only=True, record=record, refusal=_DATA_ADMIN_AND_DSL))
    router.on_action(DO_NOT_PHOTOGRAPH_SUBMIT_VERB, admin.on_submit, payload=DoNotPhotographSubmit,
                     access=staff(personal_only=True, record=record, elsewhere=_NOT_HERE))
    router.on_action(DO_NOT_PHOTOGRAPH_CHOOSE_VERB, admin.on_choose, payload=DoNotPhotographChoice,
                     access=staff(personal_only=True, record=record, record_field="choice", elsewhere=_NOT_HERE))
    router.on_action(DO_NOT_PHOTOGRAPH_CLEAR_VERB, admin.on_clear, payload=ClearSubmit, access=only(
        Role.DATA_ADMIN, personal_only=True, record=record, record_field="pupil_id", refusal=(
            "Only the data admin (school office) can close a do not photograph request, once the MIS is updated. "
            "Nothing changed.")))
    router.on_action(CONSENT_REGISTER_ACTIVATE_VERB, admin.on_activate, payload=ActivateSubmit, access=only(
        Role.DATA_ADMIN, personal_only=True, record=register, record_field="version", refusal=(
            "Only the data admin (school office) can change which consent register is current. Nothing changed.")))

    async def consent_csv(request: AttachmentsRequest) -> CommandReply | None:
        """A CSV file sent in the personal chat is a consent register for the data admin (the router has checked
        the sender before this runs: anyone else's file is never downloaded)."""
        assert request.actor is not None  # the router refuses a message without an identity
        return await admin.receive_csv(request.actor, admin.csv_candidates(request.attachments), request.fetch)

    router.on_attachments(
        "consent_csv", consent_csv, takes=lambda request: bool(admin.csv_candidates(request.attachments)),
        access=only(Role.DATA_ADMIN, personal_only=True, record=register, refusal=(
            "Only the data admin can import the consent register; your file was not read. If the register needs "
            "changing, tell the school office.")))


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
    sync = ConsentSync(store, directory, settings, calendar=calendar, reader=reader, interval_seconds=interval_seconds)
    register_consent_sync_routes(router, sync)
    return sync


def register_consent_sync_routes(router: Router, sync: ConsentSync) -> None:
    router.on_command(command("update_consent_register"), sync.update_consent_register, access=only(
        Role.DATA_ADMIN, personal_only=True, record=RecordType.CONSENT_REGISTER, refusal=_ONLY_DATA_ADMIN_UPDATES))
