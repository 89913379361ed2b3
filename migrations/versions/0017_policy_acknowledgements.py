"""Staff know the policy (issue 17): acknowledgements of each version of the policy, social media training records,
and the notices the bot sends once (the key points offered, reminders, training follow-ups, the review reminder).

Revision ID: 0017_policy_acknowledgements
Revises: 0010_subject_access
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_policy_acknowledgements"
down_revision = "0010_subject_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_acknowledgements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("aad_object_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_acknowledgements")),
        sa.UniqueConstraint("aad_object_id", "version", name="uq_policy_acknowledgements_person_version"),
    )
    op.create_index(op.f("ix_policy_acknowledgements_aad_object_id"), "policy_acknowledgements", ["aad_object_id"])
    op.create_table(
        "policy_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("aad_object_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_on", sa.Date(), nullable=True),
        sa.Column("times_sent", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_notices")),
        sa.UniqueConstraint("kind", "aad_object_id", "key", name="uq_policy_notices_kind_person_key"),
    )
    op.create_index(op.f("ix_policy_notices_aad_object_id"), "policy_notices", ["aad_object_id"])
    op.create_table(
        "training_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("aad_object_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("trained_on", sa.Date(), nullable=False),
        sa.Column("course", sa.String(200), nullable=False),
        sa.Column("recorded_by_aad", sa.String(64), nullable=False),
        sa.Column("recorded_by_name", sa.String(256), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_records")),
    )
    op.create_index(op.f("ix_training_records_aad_object_id"), "training_records", ["aad_object_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_training_records_aad_object_id"), table_name="training_records")
    op.drop_table("training_records")
    op.drop_index(op.f("ix_policy_notices_aad_object_id"), table_name="policy_notices")
    op.drop_table("policy_notices")
    op.drop_index(op.f("ix_policy_acknowledgements_aad_object_id"), table_name="policy_acknowledgements")
    op.drop_table("policy_acknowledgements")
