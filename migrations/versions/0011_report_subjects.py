"""Who an incident report is about (issue 15, gap 2): ``incident_subjects`` (``store/incidents.py``).

Staff chosen on the form (or confirmed from the names typed in it), with the roles they held when the report was
made, so the report is routed around them and never shown to them; pupils and others as typed.

Revision ID: 0011_report_subjects
Revises: 0010_subject_access
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_report_subjects"
down_revision = "0010_subject_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_subjects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("aad_object_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_subjects_incident_id", "incident_subjects", ["incident_id"])
    op.create_index("ix_incident_subjects_aad_object_id", "incident_subjects", ["aad_object_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_subjects_aad_object_id", table_name="incident_subjects")
    op.drop_index("ix_incident_subjects_incident_id", table_name="incident_subjects")
    op.drop_table("incident_subjects")
