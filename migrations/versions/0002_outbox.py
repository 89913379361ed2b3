"""The outbox: messages to deliver to Teams later (channel posts, proactive messages, card updates).

Revision ID: 0002_outbox
Revises: 0001_bot_state
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_outbox"
down_revision = "0001_bot_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "kind",
            sa.Enum("post_to_channel", "send_personal", "update_activity", name="outboxkind", native_enum=False,
                    length=32),
            nullable=False,
        ),
        sa.Column("lane", sa.String(512), nullable=False),
        sa.Column("target", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("activity", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("activity_id", sa.String(256), nullable=True),
        sa.Column("depends_on", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(255), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending", "delivered", "stale", "failed", name="outboxstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(36), nullable=True),
        sa.Column("delivered_activity_id", sa.String(256), nullable=True),
        sa.Column("delivered_conversation_id", sa.String(512), nullable=True),
        sa.Column("delivered_reference", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["depends_on"], ["outbox.id"], name=op.f("fk_outbox_depends_on_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_lane_status", "outbox", ["lane", "status"])


def downgrade() -> None:
    op.drop_index("ix_outbox_lane_status", table_name="outbox")
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
