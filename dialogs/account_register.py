"""``close account`` and ``transfer account`` (the Head Teacher and SLT, personal chat): the register's record of
an account's end (``services/account_register.py``). Each is registered with its declaration from that module's
``ACCESS``: the router checks it first (each refusal audited), and the service checks the same declaration again."""

from __future__ import annotations

from cards.replies import CommandReply
from dialogs.router import Router
from domain.account_register import Ending
from domain.commands import command
from services.account_register import ACCESS, CLOSE_ACCOUNT, TRANSFER_ACCOUNT, AccountRegister
from services.requests import CommandRequest


def register_account_register(router: Router, register: AccountRegister) -> None:
    async def close(request: CommandRequest) -> CommandReply:
        return await register.end(request.actor, Ending.CLOSED, request.argument)

    async def transfer(request: CommandRequest) -> CommandReply:
        return await register.end(request.actor, Ending.TRANSFERRED, request.argument)

    router.on_command(command(CLOSE_ACCOUNT), close, access=ACCESS[CLOSE_ACCOUNT])
    router.on_command(command(TRANSFER_ACCOUNT), transfer, access=ACCESS[TRANSFER_ACCOUNT])
