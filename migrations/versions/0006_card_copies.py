"""Copies of cards posted for a record (updated together after a change).

Revision ID: 0006_card_copies
Revises: 0002_outbox
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_card_copies"
down_revision = "0002_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_copies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("audience", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_card_copies_outbox_id_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_copies")),
    )
    op.create_index(op.f("ix_card_copies_subject"), "card_copies", ["subject"])


def downgrade() -> None:
    op.drop_index(op.f("ix_card_copies_subject"), table_name="card_copies")
    op.drop_table("card_copies")
