"""Turn an incoming Teams activity into a stored conversation reference (and back)."""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.core.teams.teams_activity_extensions import teams_get_channel_data
from botbuilder.schema import Activity, ConversationReference

from store.conversations import StoredConversation
from store.outbox import root_conversation_id


def _channel_data(activity: Activity):  # type: ignore[no-untyped-def]
    try:
        return teams_get_channel_data(activity)
    except Exception:  # noqa: BLE001 - malformed channelData: treat as none
        return None


def conversation_from_activity(activity: Activity) -> StoredConversation | None:
    """What to store so the bot can reach this conversation later; None when it cannot be reached."""
    if not activity.conversation or not activity.service_url:
        return None
    reference = TurnContext.get_conversation_reference(activity)
    data = _channel_data(activity)
    tenant_id = data.tenant.id if data and data.tenant else None
    team_id = data.team.id if data and data.team else None
    channel_id = data.channel.id if data and data.channel else None
    kind = activity.conversation.conversation_type or "personal"
    conversation_id = activity.conversation.id
    if kind == "channel":
        conversation_id = root_conversation_id(conversation_id)
        reference.conversation.id = conversation_id
        reference.activity_id = None
    # botbuilder drops the tenant from the reference: keep it, Teams needs it for proactive sends.
    reference.conversation.tenant_id = tenant_id
    sender = activity.from_property
    personal = kind == "personal"
    return StoredConversation(
        conversation_id=conversation_id,
        kind=kind,
        aad_object_id=sender.aad_object_id if personal and sender else None,
        user_name=sender.name if personal and sender else None,
        teams_user_id=sender.id if personal and sender else None,
        tenant_id=tenant_id,
        team_id=team_id,
        channel_id=channel_id,
        service_url=activity.service_url,
        reference=reference.serialize(),
        stale=False,
    )


def reference_of(stored: StoredConversation) -> ConversationReference:
    return ConversationReference().deserialize(stored.reference)
