"""A failed statement's values stay out of the log (issue 14): no SQL parameters, no row PostgreSQL repeats.

The statement fails for real (a NOT NULL column left empty, on SQLite and on PostgreSQL) while its other values
hold a pupil's name, as a dialog's draft would; the error is logged as the app logs errors, and every record is
formatted as production writes it.
"""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from bot.logging_setup import JsonFormatter, quiet_libraries
from store.base import utcnow
from store.db import Database
from store.tables import BotStateRow

NAME = "Ophelia Featherstonehaugh"
log = logging.getLogger("tests.store.db_logging")


async def test_a_failed_statement_logs_neither_its_parameters_nor_the_row(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_libraries()  # as the app does when it starts
    caplog.set_level(logging.DEBUG)
    draft = json.dumps({"dialog": "do_not_photograph", "pupil": NAME})
    with pytest.raises(IntegrityError) as failure:
        async with database.transaction() as session:
            await session.execute(
                insert(BotStateRow).values(key=f"msteams/conversations/{NAME}/", etag=None, document=draft,
                                           updated_at=utcnow())
            )
    assert "hidden due to hide_parameters" in str(failure.value)
    try:
        raise failure.value
    except IntegrityError:
        log.exception("could not store the state")

    formatter = JsonFormatter()
    written = "\n".join(formatter.format(record) for record in caplog.records)
    assert "IntegrityError" in written  # the error itself is logged: what failed, in which statement
    assert "bot_state" in written
    assert "Featherstonehaugh" not in written
