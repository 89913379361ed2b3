"""Approvals in Teams: the decider's and requester's buttons and commands, for every kind of request.

Route → typed payload → service → card: each verb's payload model (``cards/approvals.py``) is validated by the
router before the approval desk (``services/approvals.py``) runs the use case in one unit of work and returns the
card to show. Data that does not fit is answered "out of date or not valid" and changes nothing.
"""

from __future__ import annotations

from cards.approvals import (
    APPROVAL_DECIDE_VERB,
    APPROVAL_EDIT_VERB,
    APPROVAL_REFRESH_VERB,
    APPROVAL_WITHDRAW_VERB,
    DecisionButton,
    RequestButton,
)
from dialogs.router import Router
from domain.access import staff
from domain.audit import RecordType
from domain.commands import command
from services.approvals import (
    APPROVALS,
    APPROVALS_COMMAND,
    DELEGATE,
    DELEGATE_COMMAND,
    END_DELEGATION,
    END_DELEGATION_COMMAND,
    ApprovalDesk,
)


def register_approvals(router: Router, desk: ApprovalDesk) -> None:
    """The desk's verbs and commands (the kinds register their own: accounts, photo exceptions).

    A request's buttons are open to any member of staff at the router: who may see or act on *this* request (the
    requester; the Head Teacher, or a deputy while a delegation is active, never on their own request or the Head's;
    SLT for the kinds they may see) is the desk's check against the request and delegation it loads, with the
    status card the person may see and the refusal in the audit trail.
    """
    request, field = RecordType.APPROVAL_REQUEST, "request_id"
    router.on_action(APPROVAL_DECIDE_VERB, desk.decide, payload=DecisionButton,
                     access=staff(record=request, record_field=field))
    router.on_action(APPROVAL_REFRESH_VERB, desk.refresh, payload=RequestButton,
                     access=staff(record=request, record_field=field))
    router.on_action(APPROVAL_WITHDRAW_VERB, desk.withdraw, payload=RequestButton,
                     access=staff(record=request, record_field=field))
    router.on_action(APPROVAL_EDIT_VERB, desk.edit, payload=RequestButton,
                     access=staff(record=request, record_field=field))
    router.on_command(command("my_requests"), desk.my_requests,
                      access=staff(personal_only=True, record=RecordType.APPROVAL_REQUEST))
    # Declared in services/approvals.py: the desk checks the same declarations again.
    router.on_command(command(DELEGATE_COMMAND), desk.delegate, access=DELEGATE)
    router.on_command(command(END_DELEGATION_COMMAND), desk.end_delegation, access=END_DELEGATION)
    router.on_command(command(APPROVALS_COMMAND), desk.pending_for_decider, access=APPROVALS)
