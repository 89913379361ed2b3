"""Imports every table module so that the one metadata knows all tables (for Alembic)."""

from store import tables  # noqa: F401
