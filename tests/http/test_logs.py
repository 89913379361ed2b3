"""No personal data in the logs (issue 14): no Authorization header contents at any length, no message text at any
level. The app runs through its factory; every record is read, formatted as production writes it (JSON lines).
"""

from __future__ import annotations

import logging

import pytest
from aiohttp import ClientSession

from bot.logging_setup import JsonFormatter
from bot.settings import Settings
from tests.fakes.activities import personal_activity
from tests.fakes.connector import FakeConnector
from tests.fakes.credentials import FixedTokenCredentialsFactory
from tests.fakes.openid import APP_ID
from tests.http_helpers import running_bot, stored_state_rows

MARKER = "Featherstonehaugh"  # a name nobody would log on purpose


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as production writes it (message, extras, exception), one per line."""
    formatter = JsonFormatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.mark.parametrize("length", [200, 5_000])
async def test_an_oversized_or_garbage_authorization_header_is_refused_and_not_logged(
    length: int, prod_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    header = f"Bearer {MARKER}" + "Q" * length
    async with running_bot(prod_settings, credentials_factory=FixedTokenCredentialsFactory(APP_ID)) as client:
        response = await client.post("/api/messages", json=personal_activity(connector.url, text="help"),
                                     headers={"Authorization": header})
        assert response.status == 401
        assert await response.json() == {"error": "unauthorized"}
        assert await stored_state_rows(client) == 0
    assert "request refused: unauthenticated" in caplog.text
    assert MARKER not in logged(caplog)
    assert "QQQQ" not in logged(caplog)


async def test_a_header_beyond_what_the_http_parser_reads_is_refused_and_not_logged(
    prod_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp's parser refuses a header line over 8190 bytes before any handler runs (400), and its error message
    repeats the first 100 bytes of the header: that message must not reach the log."""
    caplog.set_level(logging.DEBUG)
    header = f"Bearer {MARKER}" + "Q" * 20_000
    async with running_bot(prod_settings, credentials_factory=FixedTokenCredentialsFactory(APP_ID)) as client:
        # A client session of its own: the test client's would refuse to send such a header.
        async with ClientSession() as session, session.post(
            client.make_url("/api/messages"), json=personal_activity(connector.url, text="help"),
            headers={"Authorization": header},
        ) as response:
            assert response.status == 400
            await response.read()
        assert await stored_state_rows(client) == 0
    assert any(record.name == "aiohttp.server" for record in caplog.records)  # the refusal is still logged
    assert MARKER not in logged(caplog)


@pytest.mark.parametrize("text", [
    f"ask can Ophelia {MARKER} be photographed for the zebra newsletter?",
    f"what do I do if Ophelia {MARKER} tells me something worrying?",
    f"do not photograph Ophelia {MARKER}",
    f"zebra {MARKER} quux",
])
async def test_a_messages_text_is_not_logged_even_at_debug(
    text: str, dev_settings: Settings, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_bot(dev_settings) as client:
        response = await client.post("/api/messages", json=personal_activity(connector.url, text=text))
        assert response.status < 300
    assert connector.sent()  # the message was answered: its text went through the whole turn
    assert MARKER.casefold() not in logged(caplog).casefold()
