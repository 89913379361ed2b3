"""Propose a school social media account: the business case form, its draft, and the account register.

The form's three buttons send an ``AccountFormButton`` (``cards/accounts.py``), validated by the router before the
accounts service (``services/accounts.py``) runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cards.accounts import (
    ACCOUNT_DISCARD_DRAFT_VERB,
    ACCOUNT_SAVE_DRAFT_VERB,
    ACCOUNT_SUBMIT_VERB,
    SEARCH_INVOKE,
    AccountFormButton,
    StaffSearch,
    search_response,
)
from dialogs.approvals import register_approvals
from dialogs.router import InvokeRequest, Router
from domain.access import staff
from domain.audit import RecordType
from domain.calendar import SchoolCalendar
from domain.commands import command
from domain.flows import Flow
from domain.roles import RoleDirectory
from services.accounts import AccountsFeature, AccountsWiring, RunnerRecordsLookup, build_accounts
from services.approvals import Clock
from store.base import utcnow
from store.conversations import ConversationStore, SchoolSettings
from store.db import Database


def register_account_routes(router: Router, accounts: AccountsFeature) -> None:
    """Any member of staff may propose an account (in their personal chat) and read the register; a form's
    buttons touch only the sender's own draft, or a request the desk checks is theirs; the runner slots' typeahead
    (`application/search`) answers names of staff, in the personal chat where the form is."""
    form = staff(personal_only=True, record=RecordType.APPROVAL_REQUEST, record_field="request_id")
    router.on_flow(Flow.PROPOSE_ACCOUNT.value, accounts.start, access=staff(personal_only=True))
    router.on_command(command("accounts"), accounts.list_accounts, access=staff(record=RecordType.ACCOUNT))
    router.on_action(ACCOUNT_SUBMIT_VERB, accounts.submit, payload=AccountFormButton, access=form)
    router.on_action(ACCOUNT_SAVE_DRAFT_VERB, accounts.save_draft, payload=AccountFormButton, access=form)
    router.on_action(ACCOUNT_DISCARD_DRAFT_VERB, accounts.discard_draft, payload=AccountFormButton, access=form)

    async def search_staff(request: InvokeRequest) -> dict[str, Any]:
        """The runner slots' typeahead (Teams' `application/search`): staff by name from the school's directory.
        What does not fit (not an object of text, another dataset) gets no results, never an error."""
        try:
            query = StaffSearch.model_validate(request.value)
        except ValidationError:
            return search_response([])
        people = await accounts.search_staff(query.text) if query.text.strip() else []
        return search_response([(person.aad_object_id, person.name) for person in people])

    router.on_invoke(SEARCH_INVOKE, search_staff, access=staff(personal_only=True))


def register_accounts(
    router: Router,
    *,
    database: Database,
    directory: RoleDirectory,
    conversations: ConversationStore,
    school_settings: SchoolSettings,
    settings: Any,
    runner_records: RunnerRecordsLookup,
    calendar: SchoolCalendar | None = None,
    clock: Clock = utcnow,
) -> AccountsWiring:
    """Build the approval desk and the accounts feature, and register their verbs, commands and flow.

    Args:
        runner_records: each runner's standing in the school's records (``TrainingRecords.records_for``): a business
            case shows these, never the applicant's word.
    """
    wiring = build_accounts(database=database, directory=directory, conversations=conversations,
                            school_settings=school_settings, settings=settings, runner_records=runner_records,
                            calendar=calendar, clock=clock)
    register_approvals(router, wiring.desk)
    register_account_routes(router, wiring.accounts)
    return wiring
