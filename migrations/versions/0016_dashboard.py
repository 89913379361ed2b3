"""The dashboard and the governors' termly report (issue 18): the indexes the figures are counted over, the photo
checks counted per day (``dashboard_check_days``), and the reports kept for the governing body's records
(``store/dashboard.py``).

The consent tables (``0003_consent``) are on another branch, so nothing here touches them: the photo check log is
already indexed by ``checked_at``, its days are counted into ``dashboard_check_days`` by the bot, and the
do-not-photograph requests are a few rows per pupil.

Revision ID: 0016_dashboard
Revises: 0010_subject_access
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_dashboard"
down_revision = "0010_subject_access"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_incidents_dashboard", "incidents",
     ["received_at", "category", "status", "urgency", "lead_at", "auto_escalated_at"]),
    ("ix_incident_events_kind_at", "incident_events", ["kind", "at"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "governors_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("period_title", sa.String(80), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by_aad", sa.String(64), nullable=False),
        sa.Column("generated_by_role", sa.String(40), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(128), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governors_reports")),
    )
    op.create_index(op.f("ix_governors_reports_reference"), "governors_reports", ["reference"])
    op.create_table(
        "dashboard_check_days",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("reasons", sa.String(400), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "verdict", "reasons", name=op.f("pk_dashboard_check_days")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_check_days")
    op.drop_index(op.f("ix_governors_reports_reference"), table_name="governors_reports")
    op.drop_table("governors_reports")
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
