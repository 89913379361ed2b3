"""Who may use each way into the bot, and which record it touches: the declaration every route carries.

The one router (``dialogs/router.py``) refuses a route's registration without an ``Access`` and checks it before
any service runs: the sender's roles (from the directory, on the server) and the kind of conversation. Whether this
person may act on *this* record (the requester, the lead, a category's handlers) is checked again inside the use
case against the record it loaded. Card data only ever says which record; who acts is the authenticated sender.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.audit import RecordType
from domain.roles import ROLE_TITLES, Role

NO_IDENTITY = (
    "I couldn't tell who you are from this message, so I can't do that. Please use the bot from Teams "
    "signed in with your school account."
)


class RefusalReason(StrEnum):
    """Why the router refused (the audit trail's ``reason``)."""

    NO_IDENTITY = "no_identity"  # the activity carried no Entra identity
    ROLE = "role_not_held"  # none of the roles the route declares
    NOT_PERSONAL_CHAT = "not_personal_chat"  # a personal-chat-only route used in a channel or group chat


@dataclass(frozen=True)
class Access:
    """A route's declaration.

    Attributes:
        roles: any one of these admits the sender; ``{Role.STAFF}`` is any member of the school's tenant.
        personal_only: only in the sender's personal chat with the bot (pupils' names, restricted detail).
        record: the kind of record the route touches (``RecordType.NONE``: none, e.g. a form's next step).
        record_field: the payload field naming that record (a verb's card data), if any.
        refusal: what a sender without the roles is told (else a sentence made from ``roles``).
        elsewhere: what a sender is told outside their personal chat (else a general sentence).
    """

    roles: frozenset[Role]
    personal_only: bool = False
    record: RecordType = RecordType.NONE
    record_field: str | None = None
    refusal: str | None = None
    elsewhere: str | None = None

    def __post_init__(self) -> None:
        if not self.roles:
            raise ValueError("a route must admit at least one role (Role.STAFF: any member of staff)")
        if self.record_field is not None and self.record is RecordType.NONE:
            raise ValueError("a route naming a record field must say which kind of record it is")

    @property
    def any_staff(self) -> bool:
        return Role.STAFF in self.roles

    def refusal_reason(self, roles: frozenset[Role] | None, conversation_kind: str | None) -> RefusalReason | None:
        """None when the sender may use the route; else why not.

        Args:
            roles: the sender's roles from the directory (None: not looked up, because ``any_staff`` needs none).
            conversation_kind: ``personal``, ``channel`` or ``groupChat`` (None is taken for personal).
        """
        if self.personal_only and (conversation_kind or "personal") != "personal":
            return RefusalReason.NOT_PERSONAL_CHAT
        if not self.any_staff and not (roles or frozenset()) & self.roles:
            return RefusalReason.ROLE
        return None

    def refused_text(self, reason: RefusalReason) -> str:
        """The sentence a refused sender reads."""
        if reason is RefusalReason.NO_IDENTITY:
            return NO_IDENTITY
        if reason is RefusalReason.NOT_PERSONAL_CHAT:
            return self.elsewhere or _ONLY_IN_THE_CHAT
        if self.refusal:
            return self.refusal
        return f"Only {_titles(self.roles)} can do this. Nothing was changed or shown."


_ONLY_IN_THE_CHAT = ("I only do this in our personal chat, so nothing about it is shown to others here. Open Policy "
                     "Bot from the chat list and ask there. Nothing was changed.")


def _titles(roles: Iterable[Role]) -> str:
    titles = [f"the {ROLE_TITLES[role]}" for role in Role if role in set(roles)]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def staff(*, personal_only: bool = False, record: RecordType = RecordType.NONE, record_field: str | None = None,
          elsewhere: str | None = None) -> Access:
    """Any member of the school's tenant."""
    return Access(frozenset({Role.STAFF}), personal_only, record, record_field, elsewhere=elsewhere)


def only(*roles: Role, personal_only: bool = False, record: RecordType = RecordType.NONE,
         record_field: str | None = None, refusal: str | None = None, elsewhere: str | None = None) -> Access:
    """Holders of any of ``roles`` (never ``Role.STAFF``: use ``staff()``)."""
    if Role.STAFF in roles:
        raise ValueError("use staff() for a route any member of staff may use")
    return Access(frozenset(roles), personal_only, record, record_field, refusal, elsewhere)
