"""Imports every table module so that the one metadata knows all tables (for Alembic)."""

from store import conversations, tables  # noqa: F401
from store import consent_store  # noqa: F401
from store import incidents  # noqa: F401
from store import approvals  # noqa: F401
from store import outbox  # noqa: F401
