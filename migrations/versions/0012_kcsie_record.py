"""The safeguarding record KCSIE asks for: the account kept verbatim, the child's own words and the reporter's view,
the pupils a report is about, and the transfer to the school's safeguarding system.

- ``incident_statements``: the child's own words and the reporter's view (opinion), one row per report, written
  when the report is made. ``incident_pupils``: each pupil a report names, one row each. Both refuse UPDATE always,
  and DELETE unless the retention run has unlocked its transaction (``retention_unlock``, migration
  ``0009_retention``).
- ``incidents.what_happened`` (the reporter's account) refuses any change, for every code path and a direct UPDATE
  alike, except inside the retention run's unlocked transaction (which anonymises reports past their period).
- ``retention_reviews`` gains the transfer: when, to which system, its reference and who recorded it; the
  retention job knows a transferred report from it.

Revision ID: 0012_kcsie_record
Revises: 0010_subject_access
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_kcsie_record"
down_revision = "0010_subject_access"
branch_labels = None
depends_on = None

_UNLOCKED = "EXISTS (SELECT 1 FROM retention_unlock)"
_VERBATIM = "the account is kept verbatim: the reporter account cannot be changed (add a note instead)"
_APPEND_ONLY = "is append-only: the safeguarding record cannot be changed"
_TABLES = ("incident_statements", "incident_pupils")


def upgrade() -> None:
    op.create_table(
        "incident_statements",
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("child_words", sa.Text(), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"],
                                name=op.f("fk_incident_statements_incident_id_incidents")),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_statements")),
    )
    op.create_table(
        "incident_pupils",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by_aad", sa.String(64), nullable=True),
        sa.Column("added_by_name", sa.String(256), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"],
                                name=op.f("fk_incident_pupils_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_pupils")),
    )
    op.create_index(op.f("ix_incident_pupils_incident_id"), "incident_pupils", ["incident_id"])
    with op.batch_alter_table("retention_reviews") as batch:
        batch.add_column(sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("transferred_to", sa.String(60), nullable=True))
        batch.add_column(sa.Column("transfer_reference", sa.String(100), nullable=True))
        batch.add_column(sa.Column("transferred_by_name", sa.String(256), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
    else:
        _postgres_triggers()


def _sqlite_triggers() -> None:
    op.execute(
        "CREATE TRIGGER incidents_account_verbatim BEFORE UPDATE OF what_happened ON incidents "
        f"WHEN NEW.what_happened IS NOT OLD.what_happened AND NOT {_UNLOCKED} "
        f"BEGIN SELECT RAISE(ABORT, '{_VERBATIM}'); END"
    )
    for table in _TABLES:
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} {_APPEND_ONLY}'); END")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN NOT {_UNLOCKED} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} {_APPEND_ONLY}'); END")


def _postgres_triggers() -> None:
    op.execute(
        "CREATE FUNCTION incidents_account_verbatim() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF NEW.what_happened IS DISTINCT FROM OLD.what_happened AND NOT {_UNLOCKED} THEN "
        f"RAISE EXCEPTION '{_VERBATIM}'; END IF; RETURN NEW; END $$"
    )
    op.execute("CREATE TRIGGER incidents_account_verbatim BEFORE UPDATE ON incidents "
               "FOR EACH ROW EXECUTE FUNCTION incidents_account_verbatim()")
    op.execute(
        "CREATE FUNCTION kcsie_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' AND {_UNLOCKED} THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION '% {_APPEND_ONLY}', TG_TABLE_NAME; END $$"
    )
    for table in _TABLES:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION kcsie_record_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION kcsie_record_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS incidents_account_verbatim")
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS incidents_account_verbatim ON incidents")
        op.execute("DROP FUNCTION IF EXISTS incidents_account_verbatim()")
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS kcsie_record_append_only()")
    with op.batch_alter_table("retention_reviews") as batch:
        batch.drop_column("transferred_by_name")
        batch.drop_column("transfer_reference")
        batch.drop_column("transferred_to")
        batch.drop_column("transferred_at")
    op.drop_index(op.f("ix_incident_pupils_incident_id"), table_name="incident_pupils")
    op.drop_table("incident_pupils")
    op.drop_table("incident_statements")
