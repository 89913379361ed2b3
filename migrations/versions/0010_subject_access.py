"""Subject access exports waiting for the DPO's file consent (``store/exports.py``).

Revision ID: 0010_subject_access
Revises: 0009_retention
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_subject_access"
down_revision = "0009_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_access_exports",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("dpo_aad", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(128), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subject_access_exports_expires_at", "subject_access_exports", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_subject_access_exports_expires_at", table_name="subject_access_exports")
    op.drop_table("subject_access_exports")
