"""Whether the roles of a member of staff a report is about were checked (issue 15 follow-up):
``incident_subjects.roles_checked`` (``store/incidents.py``).

False while the school directory (Microsoft Graph) could not say which roles they hold when the report was made: the
report is routed safe meanwhile and routed again, with the roles read and recorded, once the directory answers.
Reports made before this column are taken as checked (their roles were recorded from an answering directory or, at
worst, as the routing then used them).

Revision ID: 0019_subject_roles_checked
Revises: 0011_report_subjects
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_subject_roles_checked"
down_revision = "0011_report_subjects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident_subjects") as batch:
        batch.add_column(sa.Column("roles_checked", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("incident_subjects") as batch:
        batch.drop_column("roles_checked")
