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
from domain.commands import command
from services.approvals import ApprovalDesk


def register_approvals(router: Router, desk: ApprovalDesk) -> None:
    """The desk's verbs and commands (the kinds register their own: accounts, photo exceptions)."""
    router.on_action(APPROVAL_DECIDE_VERB, desk.decide, payload=DecisionButton)
    router.on_action(APPROVAL_REFRESH_VERB, desk.refresh, payload=RequestButton)
    router.on_action(APPROVAL_WITHDRAW_VERB, desk.withdraw, payload=RequestButton)
    router.on_action(APPROVAL_EDIT_VERB, desk.edit, payload=RequestButton)
    router.on_command(command("my_requests"), desk.my_requests)
    router.on_command(command("delegate"), desk.delegate)
    router.on_command(command("end_delegation"), desk.end_delegation)
    router.on_command(command("approvals"), desk.pending_for_decider)
