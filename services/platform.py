"""The bot's own commands: who am I, the bot's status (SLT), and choosing the SLT incident channel.

Each runs in at most one unit of work; roles are read from the directory before it. Who may use ``status`` and
``use this channel for incidents`` is declared here once (``STATUS``, ``USE_CHANNEL``): the router checks it before
the service runs, and the service checks it again (it is the authority wherever it is called from), each refusal
in the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from cards.platform import PlatformStatus, role_source_words, status_card, whoami_card
from cards.replies import CommandReply
from directory.static import StaticRoleDirectory
from domain.access import Access, only
from domain.actors import Actor
from domain.audit import RecordType
from domain.roles import DirectoryUnavailableError, Role, RoleDirectory, RoleLookup
from services.audit import AuditTrail, Gate
from services.requests import ChannelInfo
from store import conversations
from store import incidents as incident_records
from store.base import utcnow
from store.conversations import SchoolSettings
from store.db import Database
from store.outbox import backlog

_SLT = (Role.SLT, Role.HEAD_TEACHER)  # the Head Teacher leads SLT: she may do what SLT may
STATUS_COMMAND = "status"
USE_CHANNEL_COMMAND = "use_channel"
STATUS: Access = only(*_SLT, refusal="Only members of the Senior Leadership Team can see the bot's status. Type "
                                     "**whoami** to see your roles.")
USE_CHANNEL: Access = only(
    *_SLT, record=RecordType.SETTINGS,
    refusal="Only a member of the Senior Leadership Team can choose where incident reports go, because they can "
            "contain sensitive information. Please ask a member of SLT. Nothing was changed.")
_GENERAL = "General"  # Teams gives a team's General channel the team's own id, and sends no name for it


class Platform:
    """``whoami``, ``status`` and ``use this channel for incidents``."""

    def __init__(self, database: Database, directory: RoleDirectory, *, bot_name: str, slt_channel_id: str = "",
                 consent_status: Callable[[], Awaitable[str]] | None = None,
                 trail: AuditTrail | None = None) -> None:
        self._db = database
        self._directory = directory
        self._gate = Gate(directory, trail or AuditTrail(database))
        self._bot_name = bot_name
        self._slt_channel_id = slt_channel_id
        self._consent_status = consent_status

    async def whoami(self, actor: Actor) -> CommandReply:
        lookup = await self._directory.roles_of(actor.aad_object_id)
        return CommandReply(cards=[whoami_card(actor.name or "you", lookup, roles_from=role_source_words(lookup))])

    async def _roles_from(self, lookup: RoleLookup) -> str:
        """Where roles come from, for ``status``, in people's words (never a file name or a setting)."""
        words = role_source_words(lookup)
        if isinstance(self._directory, StaticRoleDirectory):
            try:
                heads = await self._directory.holders_of(Role.HEAD_TEACHER)
            except DirectoryUnavailableError:
                heads = []
            if not heads:
                words += (": nobody in it holds the Head Teacher's role yet, so nothing can be approved. Ask IT to "
                          "add the school's roles to it")
        return words

    async def status(self, actor: Actor) -> CommandReply:
        """SLT's view of the bot: the incident channel, where roles come from, the outbox, the consent register."""
        lookup = await self._directory.roles_of(actor.aad_object_id)
        refused = await self._gate.refused(STATUS_COMMAND, STATUS, actor, lookup=lookup)
        if refused is not None:
            return CommandReply(texts=[refused])
        consent_register = await self._consent_status() if self._consent_status else None  # its own reader
        async with self._db.sessions() as session:
            chosen = await conversations.get_setting(session, SchoolSettings.SLT_CHANNEL)
            waiting = await backlog(session)
            stale = await conversations.count_stale(session)
            reports = await incident_records.routing_health(session)
        channel_text = self._channel_words(json.loads(chosen) if chosen else None)
        oldest = waiting.oldest_pending_at
        return CommandReply(cards=[status_card(PlatformStatus(
            slt_channel=channel_text,
            role_source=await self._roles_from(lookup),
            outbox_pending=waiting.pending,
            outbox_oldest_pending_minutes=None if oldest is None else int((utcnow() - oldest).total_seconds() // 60),
            outbox_failed=waiting.failed + waiting.stale,
            stale_conversations=stale,
            consent_register=consent_register,
            reports_waiting_to_route=reports.waiting,
            reports_unreadable=reports.unreadable,
        ))])

    def _channel_words(self, chosen: dict[str, Any] | None) -> str:
        """The SLT channel as people know it: its name and its team's, never a Teams id."""
        add_it = f"add the bot to the channel and type @{self._bot_name} use this channel for incidents there"
        if chosen is None:
            if self._slt_channel_id:
                return f"the SLT channel set up by IT (name not known yet: {add_it})"
            return f"not chosen yet: SLT can type @{self._bot_name} use this channel for incidents in a team channel"
        channel = chosen.get("channel_name") or (
            _GENERAL if chosen.get("channel_id") and chosen.get("channel_id") == chosen.get("team_id") else None)
        team = chosen.get("team_name")
        if channel and team:
            return f"\u201c{channel}\u201d in the team \u201c{team}\u201d (chosen in Teams)"
        if channel:
            return (f"\u201c{channel}\u201d (chosen in Teams; its team's name is not known yet: type "
                    f"@{self._bot_name} use this channel for incidents there again)")
        return f"the SLT channel (name not known yet: {add_it})"

    async def use_channel(self, actor: Actor, channel: ChannelInfo | None) -> CommandReply:
        """SLT choose the team channel where incident cards go."""
        refused = await self._gate.refused(USE_CHANNEL_COMMAND, USE_CHANNEL, actor)
        if refused is not None:
            return CommandReply(texts=[refused])
        if channel is None:
            return CommandReply(texts=[
                "Type this in the team channel where SLT should receive incident reports, mentioning me: "
                f"**@{self._bot_name} use this channel for incidents**."
            ])
        chosen = {
            "channel_id": channel.channel_id,
            "channel_name": channel.channel_name,
            "team_id": channel.team_id,
            "team_name": channel.team_name,
            "conversation_id": channel.conversation_id,
            "service_url": channel.service_url,
            "tenant_id": channel.tenant_id,
        }
        async with self._db.transaction() as session:
            await conversations.set_setting(session, SchoolSettings.SLT_CHANNEL, json.dumps(chosen),
                                            actor.aad_object_id)
        return CommandReply(texts=[
            "Done: incident reports will be posted in this channel, with minimal detail. "
            "Restricted reports (allegations about staff, safeguarding) show here only as a notice; "
            "their details go privately to the people the policy names."
        ])
