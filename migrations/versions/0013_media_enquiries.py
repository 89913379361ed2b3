"""Media enquiries: who is asking, their organisation, contact details, deadline and what it is about, one row per
report (``store/media_enquiries.py``; issue 15, gap 7).

Revision ID: 0013_media_enquiries
Revises: 0010_subject_access
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_media_enquiries"
down_revision = "0010_subject_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_media_enquiries",
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enquirer", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("deadline_date", sa.String(10), nullable=True),
        sa.Column("deadline_time", sa.String(5), nullable=True),
        sa.Column("about", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"],
                                name=op.f("fk_incident_media_enquiries_incident_id_incidents")),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_media_enquiries")),
    )


def downgrade() -> None:
    op.drop_table("incident_media_enquiries")
