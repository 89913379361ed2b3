"""Retention: legal holds, records flagged for review, tombstones, runs, and the retention run's unlock.

The append-only tables stay append-only for every ordinary code path: UPDATE is refused on
``incident_events``, ``approval_events`` and ``audit_events`` as before, and DELETE is now refused on all
three (it was refused only on ``incident_events``; the other two allowed it) **unless** the deleting
transaction has a row in ``retention_unlock``. Only the retention run inserts one, as its transaction's first
write, and deletes it before it commits (``store/retention.py`` ``unlocked``), so no other transaction ever
sees it. On PostgreSQL a deferred constraint trigger also refuses to commit a transaction that leaves a row
there. TRUNCATE of ``incident_events`` stays refused.

Revision ID: 0009_retention
Revises: 0008_audit, 0005_approvals (it changes the approval history's triggers, so it also merges that branch:
``depends_on`` alone would leave 0005 a head of the scripts but not of the database, and ``/readyz`` compares them)
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_retention"
down_revision = ("0008_audit", "0005_approvals")
branch_labels = None
depends_on = None

_UNLOCKED = "EXISTS (SELECT 1 FROM retention_unlock)"
_INCIDENT_MESSAGE = "incident_events is append-only: the chronology cannot be changed or deleted"
_OLD_INCIDENT_MESSAGE = _INCIDENT_MESSAGE
_DELETE_MESSAGE = "is append-only: rows are removed only by the retention schedule"
_GUARDED = ("approval_events", "audit_events")


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("person_name", sa.String(256), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by_aad", sa.String(64), nullable=False),
        sa.Column("placed_by_name", sa.String(256), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by_aad", sa.String(64), nullable=True),
        sa.Column("released_by_name", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("ix_legal_holds_active", "legal_holds", ["released_at"])
    op.create_table(
        "retention_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_kind", sa.String(40), nullable=False),
        sa.Column("record_ref", sa.String(64), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_reviews")),
        sa.UniqueConstraint("record_ref", name=op.f("uq_retention_reviews_record_ref")),
    )
    op.create_table(
        "retention_tombstones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(40), nullable=False),
        sa.Column("record_ref", sa.String(64), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("category", sa.String(40), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_tombstones")),
    )
    op.create_index(op.f("ix_retention_tombstones_run_id"), "retention_tombstones", ["run_id"])
    op.create_index("ix_retention_tombstones_ref", "retention_tombstones", ["record_ref"])
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_table(
        "retention_unlock",
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_retention_unlock")),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
    else:
        _postgres_triggers()


def _sqlite_triggers() -> None:
    op.execute("DROP TRIGGER IF EXISTS incident_events_no_delete")
    op.execute(
        f"CREATE TRIGGER incident_events_no_delete BEFORE DELETE ON incident_events WHEN NOT {_UNLOCKED} "
        f"BEGIN SELECT RAISE(ABORT, '{_INCIDENT_MESSAGE}'); END"
    )
    for table in _GUARDED:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN NOT {_UNLOCKED} "
            f"BEGIN SELECT RAISE(ABORT, '{table} {_DELETE_MESSAGE}'); END"
        )


def _postgres_triggers() -> None:
    # The chronology's function keeps refusing UPDATE and TRUNCATE; DELETE passes only inside a retention run.
    op.execute(
        "CREATE OR REPLACE FUNCTION incident_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' AND {_UNLOCKED} THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION '{_INCIDENT_MESSAGE}'; END $$"
    )
    op.execute(
        "CREATE FUNCTION retention_delete_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {_UNLOCKED} THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION '% {_DELETE_MESSAGE}', TG_TABLE_NAME; END $$"
    )
    for table in _GUARDED:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION retention_delete_only()"
        )
    # A transaction may not commit with the unlock still in place.
    op.execute(
        "CREATE FUNCTION retention_unlock_released() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {_UNLOCKED} THEN RAISE EXCEPTION 'retention_unlock must be empty at commit'; END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER retention_unlock_released AFTER INSERT ON retention_unlock "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION retention_unlock_released()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        op.execute("DROP TRIGGER IF EXISTS incident_events_no_delete")
        op.execute(
            "CREATE TRIGGER incident_events_no_delete BEFORE DELETE ON incident_events "
            f"BEGIN SELECT RAISE(ABORT, '{_OLD_INCIDENT_MESSAGE}'); END"
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS retention_unlock_released ON retention_unlock")
        op.execute("DROP FUNCTION IF EXISTS retention_unlock_released()")
        for table in _GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
        op.execute("DROP FUNCTION IF EXISTS retention_delete_only()")
        op.execute(
            "CREATE OR REPLACE FUNCTION incident_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_OLD_INCIDENT_MESSAGE}'; END $$"
        )
    op.drop_table("retention_unlock")
    op.drop_table("retention_runs")
    op.drop_index("ix_retention_tombstones_ref", table_name="retention_tombstones")
    op.drop_index(op.f("ix_retention_tombstones_run_id"), table_name="retention_tombstones")
    op.drop_table("retention_tombstones")
    op.drop_table("retention_reviews")
    op.drop_index("ix_legal_holds_active", table_name="legal_holds")
    op.drop_table("legal_holds")
