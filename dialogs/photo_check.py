"""Can I post this photo? The question card, choosing between pupils of one name, and the personal-device
exception the Head Teacher decides (a kind of approval on the desk).

Each verb is registered with its payload model (``cards/consent.py``): the router validates the card data before
the use case (``services/photo_check.py``) runs.
"""

from __future__ import annotations

from typing import Any

from cards.consent import (
    DEVICE_EXCEPTION_RESUBMIT_VERB,
    EXCEPTION_RECHECK_VERB,
    PHOTO_CHECK_CHOOSE_VERB,
    PHOTO_CHECK_SUBMIT_VERB,
    REQUEST_DEVICE_EXCEPTION_VERB,
    DeviceExceptionResubmit,
    DeviceExceptionSubmit,
    ExceptionButton,
    PhotoCheckChoiceSubmit,
    PhotoCheckSubmit,
)
from dialogs.router import Router
from domain.access import staff
from domain.audit import RecordType
from domain.flows import Flow
from domain.roles import RoleDirectory
from services.approvals import ApprovalDesk, Clock
from services.photo_check import DeviceExceptions, PhotoChecks
from store.base import utcnow
from store.consent_store import ConsentStore
from store.db import Database


def register_consent(
    router: Router,
    *,
    database: Database,
    store: ConsentStore | None = None,
    desk: ApprovalDesk | None = None,
    settings: Any = None,
    clock: Clock = utcnow,
    directory: RoleDirectory | None = None,
) -> PhotoChecks:
    """Register the photo check and, with a desk, the personal-device exception kind on it.

    With a directory, a name not in the register is answered with the data administrators' names (who keep the
    register); without one, with the school office."""
    exceptions = None
    if desk is not None:
        exceptions = DeviceExceptions(
            database, days=int(getattr(settings, "device_exception_days", 7)),
            calendar=desk.calendar,
            clock=clock,
        )
        desk.register_kind(exceptions)
    checks = PhotoChecks(database, store or ConsentStore(database), desk=desk, exceptions=exceptions,
                         directory=directory)
    # Any member of staff, in their personal chat only: the question and the answer name pupils.
    check = staff(personal_only=True)
    own_exception = staff(personal_only=True, record=RecordType.APPROVAL_REQUEST, record_field="request_id")
    router.on_flow(Flow.CHECK_PHOTO.value, checks.start, access=check)
    router.on_action(PHOTO_CHECK_SUBMIT_VERB, checks.submit, payload=PhotoCheckSubmit, access=check)
    router.on_action(PHOTO_CHECK_CHOOSE_VERB, checks.choose, payload=PhotoCheckChoiceSubmit, access=check)
    router.on_action(REQUEST_DEVICE_EXCEPTION_VERB, checks.request_exception, payload=DeviceExceptionSubmit,
                     access=check)
    router.on_action(DEVICE_EXCEPTION_RESUBMIT_VERB, checks.resubmit, payload=DeviceExceptionResubmit,
                     access=own_exception)
    router.on_action(EXCEPTION_RECHECK_VERB, checks.recheck, payload=ExceptionButton, access=own_exception)
    return checks
