"""Photo consent: register versions, pupils, consent per purpose, do-not-photograph requests, check log.

Revision ID: 0003_consent
Revises: 0001_bot_state
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_consent"
down_revision = "0001_bot_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_register_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.Column("source_name", sa.String(300), nullable=False),
        sa.Column("encoding", sa.String(32), nullable=False),
        sa.Column("pupil_count", sa.Integer(), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("pupils_pruned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_register_versions")),
    )
    op.create_table(
        "consent_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["current_version_id"],
            ["consent_register_versions.id"],
            name=op.f("fk_consent_state_current_version_id_consent_register_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_state")),
    )
    op.create_table(
        "consent_pupils",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("preferred_first_name", sa.String(100), nullable=True),
        sa.Column("surname", sa.String(100), nullable=False),
        sa.Column("class_name", sa.String(50), nullable=False),
        sa.Column("year_group", sa.String(50), nullable=False),
        sa.Column("do_not_publish", sa.Boolean(), nullable=False),
        sa.Column("do_not_publish_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["consent_register_versions.id"],
            name=op.f("fk_consent_pupils_version_id_consent_register_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "pupil_id", name=op.f("pk_consent_pupils")),
    )
    op.create_table(
        "consent_pupil_consents",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "state IN ('granted', 'refused', 'not_asked', 'withdrawn')",
            name=op.f("ck_consent_pupil_consents_state"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id", "pupil_id"],
            ["consent_pupils.version_id", "consent_pupils.pupil_id"],
            name=op.f("fk_consent_pupil_consents_version_id_consent_pupils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "pupil_id", "purpose", name=op.f("pk_consent_pupil_consents")),
    )
    op.create_table(
        "consent_do_not_photograph",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pupil_id", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_do_not_photograph")),
    )
    op.create_index("ix_consent_do_not_photograph_pupil_id", "consent_do_not_photograph", ["pupil_id"])
    op.create_table(
        "consent_check_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_by", sa.String(200), nullable=False),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("account_name", sa.String(200), nullable=True),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("media", sa.String(16), nullable=False),
        sa.Column("pupil_ids", sa.JSON(), nullable=False),
        sa.Column("unresolved_count", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reason_codes", sa.JSON(), nullable=False),
        sa.Column("register_version_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_check_log")),
    )
    op.create_index("ix_consent_check_log_checked_at", "consent_check_log", ["checked_at"])
    # The single pointer row: no register yet.
    op.bulk_insert(
        sa.table(
            "consent_state",
            sa.column("id", sa.Integer()),
            sa.column("current_version_id", sa.Integer()),
            sa.column("revision", sa.Integer()),
        ),
        [{"id": 1, "current_version_id": None, "revision": 0}],
    )


def downgrade() -> None:
    op.drop_index("ix_consent_check_log_checked_at", table_name="consent_check_log")
    op.drop_table("consent_check_log")
    op.drop_index("ix_consent_do_not_photograph_pupil_id", table_name="consent_do_not_photograph")
    op.drop_table("consent_do_not_photograph")
    op.drop_table("consent_pupil_consents")
    op.drop_table("consent_pupils")
    op.drop_table("consent_state")
    op.drop_table("consent_register_versions")
