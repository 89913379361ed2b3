"""Approvals (requests, append-only history, delegations), account drafts and the account register.

Revision ID: 0005_approvals
Revises: 0006_card_copies
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_approvals"
down_revision = "0006_card_copies"
branch_labels = None
depends_on = None

_APPEND_ONLY = "approval history is append-only"


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("client_key", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("requester_aad", sa.String(64), nullable=False),
        sa.Column("requester_name", sa.String(256), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_aad", sa.String(64), nullable=True),
        sa.Column("decided_by_name", sa.String(256), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("decided_as", sa.String(32), nullable=True),
        sa.Column("last_reminded_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_approval_requests_reference")),
        sa.UniqueConstraint("client_key", name=op.f("uq_approval_requests_client_key")),
    )
    op.create_index(op.f("ix_approval_requests_requester_aad"), "approval_requests", ["requester_aad"])
    op.create_index("ix_approval_requests_state", "approval_requests", ["state"])

    op.create_table(
        "approval_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("actor_aad", sa.String(64), nullable=True),
        sa.Column("actor_name", sa.String(256), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["approval_requests.id"],
                                name=op.f("fk_approval_events_request_id_approval_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_events")),
    )
    op.create_index(op.f("ix_approval_events_request_id"), "approval_events", ["request_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION approval_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER approval_events_no_update BEFORE UPDATE ON approval_events "
            "FOR EACH ROW EXECUTE FUNCTION approval_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER approval_events_no_update BEFORE UPDATE ON approval_events "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        )

    op.create_table(
        "approval_delegations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("head_aad", sa.String(64), nullable=False),
        sa.Column("head_name", sa.String(256), nullable=False),
        sa.Column("deputy_aad", sa.String(64), nullable=False),
        sa.Column("deputy_name", sa.String(256), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_delegations")),
    )
    op.create_index(op.f("ix_approval_delegations_head_aad"), "approval_delegations", ["head_aad"])

    op.create_table(
        "account_drafts",
        sa.Column("owner_aad", sa.String(64), nullable=False),
        sa.Column("for_request", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_aad", "for_request", name=op.f("pk_account_drafts")),
    )

    op.create_table(
        "account_register",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("account_name", sa.String(256), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("approval_request_id", sa.Integer(), nullable=False),
        sa.Column("approval_reference", sa.String(32), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by_name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["approval_request_id"], ["approval_requests.id"],
                                name=op.f("fk_account_register_approval_request_id_approval_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_register")),
        sa.UniqueConstraint("approval_request_id", name=op.f("uq_account_register_approval_request_id")),
    )

    op.create_table(
        "account_administrators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("aad_object_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("training", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account_register.id"],
                                name=op.f("fk_account_administrators_account_id_account_register")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_administrators")),
    )
    op.create_index(op.f("ix_account_administrators_account_id"), "account_administrators", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_account_administrators_account_id"), table_name="account_administrators")
    op.drop_table("account_administrators")
    op.drop_table("account_register")
    op.drop_table("account_drafts")
    op.drop_index(op.f("ix_approval_delegations_head_aad"), table_name="approval_delegations")
    op.drop_table("approval_delegations")
    op.execute("DROP TRIGGER IF EXISTS approval_events_no_update" +
               (" ON approval_events" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS approval_events_append_only()")
    op.drop_index(op.f("ix_approval_events_request_id"), table_name="approval_events")
    op.drop_table("approval_events")
    op.drop_index("ix_approval_requests_state", table_name="approval_requests")
    op.drop_index(op.f("ix_approval_requests_requester_aad"), table_name="approval_requests")
    op.drop_table("approval_requests")
