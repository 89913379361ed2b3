"""Imports every table module so that the one metadata knows all tables (for Alembic)."""

from store import (  # noqa: F401
    acknowledgements,
    approvals,
    audit,
    card_copies,
    consent_store,
    conversations,
    dashboard,
    erasure,
    exports,
    incidents,
    media_enquiries,
    outbox,
    retention,
    safeguarding_record,
    tables,
    training,
)
