"""Each kind of request counts on its own; each copy of a request's card knows which version it shows.

- ``request_counters``: the last number given to a kind of request in a year (``ACC-2026-0004``,
  ``PHO-2026-0001``). Seeded from the references already given, so existing numbers stay valid and the next
  one of each kind follows the highest of that kind.
- ``card_copies.round``: the version (round) of the request a stored copy of its card shows, so a copy of an
  earlier version can say "Replaced by version N" (empty for copies stored before, and for incidents).

Revision ID: 0015_request_counters
Revises: 0010_subject_access
Create Date: 2026-12-06
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0015_request_counters"
down_revision = "0010_subject_access"
branch_labels = None
depends_on = None

_REFERENCE = re.compile(r"^[A-Z]+-(\d{4})-(\d+)$")


def upgrade() -> None:
    counters = op.create_table(
        "request_counters",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "year", name=op.f("pk_request_counters")),
    )
    op.add_column("card_copies", sa.Column("round", sa.Integer(), nullable=True))
    highest: dict[tuple[str, int], int] = {}
    for kind, reference in op.get_bind().execute(sa.text("SELECT kind, reference FROM approval_requests")):
        match = _REFERENCE.match(reference or "")
        if match:
            key = (str(kind), int(match[1]))
            highest[key] = max(highest.get(key, 0), int(match[2]))
    if highest:
        op.bulk_insert(counters, [{"kind": kind, "year": year, "last_number": number}
                                  for (kind, year), number in sorted(highest.items())])


def downgrade() -> None:
    with op.batch_alter_table("card_copies") as batch:
        batch.drop_column("round")
    op.drop_table("request_counters")
