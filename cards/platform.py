"""Cards for who-am-I and the SLT status overview."""

from __future__ import annotations

from dataclasses import dataclass

from cards.base import AdaptiveCard, Fact, FactSet, TextBlock, escape_markdown
from domain.roles import ROLE_TITLES, Role, RoleLookup

_STAFF_LIST = "the school's staff list"
_ENTRA = "Microsoft Entra groups"


def role_source_words(lookup: RoleLookup) -> str:
    """Where a person's roles come from, in people's words: the school's staff list (the roles file the bot is given)
    or Microsoft Entra groups (through Microsoft Graph); never a file name or a setting."""
    if not lookup.source.startswith("graph"):
        return _STAFF_LIST
    if lookup.degraded:
        return f"{_ENTRA} (not reachable just now: the roles last known)"
    return _ENTRA


def whoami_card(name: str, lookup: RoleLookup, *, roles_from: str | None = None) -> AdaptiveCard:
    """Who the sender is to the bot: their roles and where the roles come from.

    Args:
        roles_from: where the roles come from, in people's words (default: `role_source_words`).
    """
    titles = [ROLE_TITLES[role] for role in Role if role in lookup.roles]
    source = roles_from or role_source_words(lookup)
    body = [
        TextBlock(text=f"You are {escape_markdown(name, one_line=True)}", weight="Bolder", size="Medium"),
        FactSet(facts=[Fact(title="Roles", value=", ".join(titles)),
                       Fact(title="Roles from", value=escape_markdown(source, one_line=True))]),
    ]
    if lookup.degraded:
        body.append(
            TextBlock(
                text="\u26a0\ufe0f The school directory could not be reached just now, so these are the roles I "
                "last knew. Nothing extra is granted while it is unreachable.",
                weight="Bolder",
            )
        )
    return AdaptiveCard(fallback_text="Your roles", body=body)


@dataclass(frozen=True)
class PlatformStatus:
    slt_channel: str
    role_source: str
    outbox_pending: int
    outbox_oldest_pending_minutes: int | None
    outbox_failed: int
    stale_conversations: int
    consent_register: str | None = None  # the version in use and, with SharePoint, the list's last read
    reports_waiting_to_route: int = 0  # made while the school directory could not be reached
    reports_unreadable: int = 0  # stored with a value this version of the bot does not know


def status_card(status: PlatformStatus) -> AdaptiveCard:
    oldest = (
        "none waiting"
        if status.outbox_oldest_pending_minutes is None
        else f"oldest waiting {status.outbox_oldest_pending_minutes} min"
    )
    facts = [
        Fact(title="SLT incident channel", value=escape_markdown(status.slt_channel, one_line=True)),
        Fact(title="Roles from", value=escape_markdown(status.role_source, one_line=True)),
        Fact(title="Messages waiting to be delivered", value=f"{status.outbox_pending} ({oldest})"),
        Fact(title="Messages that could not be delivered", value=str(status.outbox_failed)),
        Fact(title="Chats the bot can no longer reach", value=str(status.stale_conversations)),
    ]
    if status.consent_register is not None:
        facts.append(Fact(title="Photo consent register", value=escape_markdown(status.consent_register)))
    if status.reports_waiting_to_route:
        facts.append(Fact(title="Reports waiting for the school directory", value=str(status.reports_waiting_to_route)))
    if status.reports_unreadable:
        facts.append(Fact(title="Reports the bot cannot read", value=str(status.reports_unreadable)))
    body = [TextBlock(text="Policy Bot status", weight="Bolder", size="Medium"), FactSet(facts=facts)]
    if status.reports_unreadable:
        body.append(
            TextBlock(
                text=f"\u26a0\ufe0f {status.reports_unreadable} stored incident report(s) hold a value this version of "
                "the bot does not know, so nobody is alerted about them and their chain does not move on. Ask IT "
                "today to check the bot's log, which names each one, and correct them.",
                weight="Bolder",
            )
        )
    if status.outbox_failed or status.stale_conversations:
        body.append(
            TextBlock(
                text="\u26a0\ufe0f Undelivered messages usually mean someone removed the app or left the school. "
                "Ask IT to check the bot's log for details.",
                weight="Bolder",
            )
        )
    return AdaptiveCard(fallback_text="Policy Bot status", body=body)
