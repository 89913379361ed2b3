"""Conversation references, processed activities (duplicate deliveries), school settings.

Revision ID: 0004_conversations
Revises: 0001_bot_state
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_conversations"
down_revision = "0001_bot_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_refs",
        sa.Column("conversation_id", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("aad_object_id", sa.String(64), nullable=True),
        sa.Column("user_name", sa.String(256), nullable=True),
        sa.Column("teams_user_id", sa.String(256), nullable=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("team_id", sa.String(256), nullable=True),
        sa.Column("channel_id", sa.String(256), nullable=True),
        sa.Column("service_url", sa.String(512), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_refs")),
    )
    op.create_index(op.f("ix_conversation_refs_aad_object_id"), "conversation_refs", ["aad_object_id"])
    op.create_index("ix_conversation_refs_channel_id", "conversation_refs", ["channel_id"])
    op.create_table(
        "processed_activities",
        sa.Column("dedupe_key", sa.String(600), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("dedupe_key", name=op.f("pk_processed_activities")),
    )
    op.create_index(op.f("ix_processed_activities_claimed_at"), "processed_activities", ["claimed_at"])
    op.create_table(
        "school_settings",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_school_settings")),
    )


def downgrade() -> None:
    op.drop_table("school_settings")
    op.drop_index(op.f("ix_processed_activities_claimed_at"), table_name="processed_activities")
    op.drop_table("processed_activities")
    op.drop_index("ix_conversation_refs_channel_id", table_name="conversation_refs")
    op.drop_index(op.f("ix_conversation_refs_aad_object_id"), table_name="conversation_refs")
    op.drop_table("conversation_refs")
