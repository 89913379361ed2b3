"""Each kind of request counts on its own (issue 19, item 5), on SQLite and PostgreSQL: the first personal-device
exception is PHO-…-0001 whatever account requests came before; concurrent submissions of both kinds get distinct,
gap-free numbers per kind; a rolled-back submission gives its number back; numbers given before the counters stay
valid (the migration seeds each counter past them)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from sqlalchemy import text

from domain.approvals import ApprovalKind, ApprovalRecord
from store import approvals as store
from store.db import Database, alembic_config
from tests.support.approvals import SAM, TUESDAY_10AM
from tests.support.migrations import schema_differences, tables_after_downgrade

NOW = TUESDAY_10AM


async def new_request(database: Database, kind: ApprovalKind) -> ApprovalRecord:
    async with database.transaction() as session:
        request, _ = await store.create_request(session, kind=kind, requester_aad=SAM.aad, requester_name=SAM.name,
                                                payload={}, now=NOW)
    return request


async def test_each_kind_counts_on_its_own(database: Database) -> None:
    first_accounts = [await new_request(database, ApprovalKind.NEW_ACCOUNT) for _ in range(2)]
    photo = await new_request(database, ApprovalKind.PERSONAL_DEVICE_PHOTO)
    account = await new_request(database, ApprovalKind.NEW_ACCOUNT)
    assert [r.reference for r in first_accounts] == ["ACC-2026-0001", "ACC-2026-0002"]
    assert photo.reference == "PHO-2026-0001"  # not PHO-2026-0003: it shares no counter with account requests
    assert account.reference == "ACC-2026-0003"


async def test_concurrent_submissions_of_both_kinds_get_gap_free_distinct_numbers_per_kind(database: Database) -> None:
    kinds = [ApprovalKind.NEW_ACCOUNT, ApprovalKind.PERSONAL_DEVICE_PHOTO] * 6
    made = await asyncio.gather(*(new_request(database, kind) for kind in kinds))
    for kind, prefix in ((ApprovalKind.NEW_ACCOUNT, "ACC"), (ApprovalKind.PERSONAL_DEVICE_PHOTO, "PHO")):
        numbers = sorted(r.reference for r in made if r.kind is kind)
        assert numbers == [f"{prefix}-2026-{n:04d}" for n in range(1, 7)]


async def test_a_submission_that_rolls_back_gives_its_number_back(database: Database) -> None:
    await new_request(database, ApprovalKind.NEW_ACCOUNT)
    try:
        async with database.transaction() as session:
            await store.create_request(session, kind=ApprovalKind.NEW_ACCOUNT, requester_aad=SAM.aad,
                                       requester_name=SAM.name, payload={}, now=NOW)
            raise RuntimeError("the rest of the unit of work failed")
    except RuntimeError:
        pass
    assert (await new_request(database, ApprovalKind.NEW_ACCOUNT)).reference == "ACC-2026-0002"


async def test_the_counters_table_and_column_match_the_models_and_downgrade(database: Database) -> None:
    assert await schema_differences(database, {"request_counters", "card_copies"}) == []
    left = await tables_after_downgrade(database, "0015_request_counters@0010_subject_access")
    assert "request_counters" not in left and "card_copies" in left


async def test_numbers_given_before_the_counters_stay_valid_and_the_next_follows_them(database: Database) -> None:
    """Before the counters, a request's number was its row id, shared by every kind (PHO-2026-0003 after two
    account requests). The migration seeds each kind's counter from the references already given."""
    await tables_after_downgrade(database, "0015_request_counters@0010_subject_access")
    async with database.engine.begin() as connection:
        for row_id, kind, reference in ((1, "new_account", "ACC-2026-0001"), (2, "new_account", "ACC-2026-0002"),
                                        (3, "personal_device_photo", "PHO-2026-0003")):
            await connection.execute(text(
                "INSERT INTO approval_requests (id, reference, kind, state, round, requester_aad, requester_name, "
                "payload, created_at, updated_at) VALUES (:id, :reference, :kind, 'approved', 1, :aad, :name, '{}', "
                ":now, :now)"), {"id": row_id, "reference": reference, "kind": kind, "aad": SAM.aad, "name": SAM.name,
                                 "now": NOW})

        def upgrade(sync_connection: Any) -> None:
            config = alembic_config(str(sync_connection.engine.url))
            config.attributes["connection"] = sync_connection
            command.upgrade(config, "0015_request_counters")

        await connection.run_sync(upgrade)
    if database.engine.dialect.name == "postgresql":  # the rows above named their ids: move the sequence on
        async with database.engine.begin() as connection:
            await connection.execute(text(
                "SELECT setval(pg_get_serial_sequence('approval_requests', 'id'), 3)"))
    assert (await new_request(database, ApprovalKind.NEW_ACCOUNT)).reference == "ACC-2026-0003"
    assert (await new_request(database, ApprovalKind.PERSONAL_DEVICE_PHOTO)).reference == "PHO-2026-0004"
    async with database.sessions() as session:
        old = await store.get_request(session, 3)
    assert old is not None and old.reference == "PHO-2026-0003"  # still valid, still found by its reference
