"""``close account`` and ``transfer account`` (the Head Teacher and SLT, personal chat): the register's record of
an account's end (``services/account_register.py``). The router checks first and audits each refusal; the service
checks again."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.access import only
from domain.account_register import Ending
from domain.audit import RecordType
from domain.commands import command
from domain.roles import Role
from services.account_register import AccountRegister
from services.requests import CommandRequest

_REFUSAL = "Only the Head Teacher and SLT can close or transfer a school account in the register. Nothing was changed."


def register_account_register(router: Router, register: AccountRegister) -> None:
    async def close(request: CommandRequest) -> CommandReply:
        return await register.end(request.actor, Ending.CLOSED, request.argument)

    async def transfer(request: CommandRequest) -> CommandReply:
        return await register.end(request.actor, Ending.TRANSFERRED, request.argument)

    access = only(Role.HEAD_TEACHER, Role.SLT, personal_only=True, record=RecordType.ACCOUNT, refusal=_REFUSAL)
    router.on_command(command("close_account"), close, access=access)
    router.on_command(command("transfer_account"), transfer, access=access)
