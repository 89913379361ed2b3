"""Erasure and rectification requests (``store/erasure.py``) and closed or transferred school accounts
(``account_closures``, beside the account register in ``store/approvals.py``).

Revision ID: 0014_erasure
Revises: 0010_subject_access
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_erasure"
down_revision = "0010_subject_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_rights_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("dpo_aad", sa.String(64), nullable=False),
        sa.Column("dpo_name", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("subject", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("plan", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("counts", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_rights_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_data_rights_requests_reference")),
    )
    op.create_table(
        "account_closures",
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("transferred_to", sa.String(256), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("recorded_by_aad", sa.String(64), nullable=False),
        sa.Column("recorded_by_name", sa.String(256), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account_register.id"],
                                name=op.f("fk_account_closures_account_id_account_register")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_closures")),
    )


def downgrade() -> None:
    op.drop_table("account_closures")
    op.drop_table("data_rights_requests")
