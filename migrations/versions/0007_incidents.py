"""Incident reports: records, per-year reference counters, the append-only chronology, screenshots.

The chronology (``incident_events``) refuses UPDATE and DELETE in the database itself (a trigger on
SQLite and on PostgreSQL), so no code path, present or future, can rewrite what happened.

Revision ID: 0007_incidents
Revises: 0006_card_copies
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_incidents"
down_revision = "0006_card_copies"
branch_labels = None
depends_on = None

_APPEND_ONLY_MESSAGE = "incident_events is append-only: the chronology cannot be changed or deleted"


def upgrade() -> None:
    op.create_table(
        "incident_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_incident_counters")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("submission_key", sa.String(200), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("immediate_risk", sa.Boolean(), nullable=False),
        sa.Column("dsl_told", sa.String(20), nullable=True),
        sa.Column("reporter_aad", sa.String(64), nullable=False),
        sa.Column("reporter_name", sa.String(256), nullable=False),
        sa.Column("what_happened", sa.Text(), nullable=False),
        sa.Column("platform", sa.String(60), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("when_date", sa.String(10), nullable=True),
        sa.Column("when_detail", sa.Text(), nullable=False),
        sa.Column("involved", sa.Text(), nullable=False),
        sa.Column("actions_taken", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_author", sa.String(256), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lead_aad", sa.String(64), nullable=True),
        sa.Column("lead_name", sa.String(256), nullable=True),
        sa.Column("lead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_name", sa.String(256), nullable=True),
        sa.Column("outcome_kind", sa.String(32), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("escalate_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("screenshots_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("reference", name=op.f("uq_incidents_reference")),
        sa.UniqueConstraint("submission_key", name=op.f("uq_incidents_submission_key")),
        sa.UniqueConstraint("year", "number", name="uq_incidents_year_number"),
    )
    op.create_index(op.f("ix_incidents_reporter_aad"), "incidents", ["reporter_aad"])
    op.create_index(
        "ix_incidents_escalation_due", "incidents", ["urgency", "status", "auto_escalated_at", "escalate_due_at"]
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor_aad", sa.String(64), nullable=True),
        sa.Column("actor_name", sa.String(256), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    op.create_index(op.f("ix_incident_events_incident_id"), "incident_events", ["incident_id"])
    op.create_table(
        "incident_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_aad", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_name", sa.String(256), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_attachments_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_attachments")),
        sa.UniqueConstraint("incident_id", "sha256", name="uq_incident_attachments_incident_id"),
    )
    op.create_index(op.f("ix_incident_attachments_incident_id"), "incident_attachments", ["incident_id"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER incident_events_no_{operation.lower()} BEFORE {operation} ON incident_events "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION incident_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER incident_events_append_only BEFORE UPDATE OR DELETE ON incident_events "
        "FOR EACH ROW EXECUTE FUNCTION incident_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER incident_events_no_truncate BEFORE TRUNCATE ON incident_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION incident_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS incident_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS incident_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS incident_events_no_truncate ON incident_events")
        op.execute("DROP TRIGGER IF EXISTS incident_events_append_only ON incident_events")
        op.execute("DROP FUNCTION IF EXISTS incident_events_append_only()")
    op.drop_index(op.f("ix_incident_attachments_incident_id"), table_name="incident_attachments")
    op.drop_table("incident_attachments")
    op.drop_index(op.f("ix_incident_events_incident_id"), table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index("ix_incidents_escalation_due", table_name="incidents")
    op.drop_index(op.f("ix_incidents_reporter_aad"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("incident_counters")
