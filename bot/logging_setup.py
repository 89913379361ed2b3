"""Structured (JSON lines) logging. Never log tokens, headers, message text or personal data, at any level.

Two things the libraries would write are kept out here:

- PostgreSQL's ``DETAIL:`` line in a database error (``Failing row contains (...)``, ``Key (...)=(...) already
  exists``) repeats the row's values: ``JsonFormatter`` drops it from every logged exception. (The SQL parameters
  are not in the error at all: the engine is built with ``hide_parameters``, ``store/db.py``.)
- aiohttp's HTTP parser refuses a malformed request (a header line over its limit, say) before any handler runs,
  and logs an error whose message repeats the first 100 bytes of the line: an Authorization header's, say.
  ``quiet_libraries`` keeps the refusal and its kind, and drops the bytes and the client's address; it also keeps
  aiosqlite's DEBUG trace of every call (each statement with its parameters) out, whatever the level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import TypeAlias

from aiohttp.http_exceptions import HttpProcessingError

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_DB_ROW_DETAIL = re.compile(r"^([ \t]*)DETAIL:.*$", re.MULTILINE)
_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)

    def formatException(self, ei: _ExcInfo) -> str:  # noqa: N802 - logging's naming
        return _DB_ROW_DETAIL.sub(r"\1DETAIL: (not logged: the database repeats the row's values there)",
                                  super().formatException(ei))


class _HttpParserErrors(logging.Filter):
    """On ``aiohttp.server``: a request the HTTP parser refused is logged as its kind only (see the module)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "HTTP request refused by the parser: %s", (type(error).__name__,)
            record.exc_info, record.exc_text = None, None
        return True


def quiet_libraries() -> None:
    """Keep what aiohttp's parser repeats of a refused request, and aiosqlite's trace of each statement with its
    parameters, out of the log at any level (the app factory and ``configure_logging`` call it)."""
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(existing, _HttpParserErrors) for existing in server_log.filters):
        server_log.addFilter(_HttpParserErrors())


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party loggers that would print headers or bodies at INFO/DEBUG.
    for noisy in ("msrest", "urllib3", "azure", "aiohttp.access", "httpx", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_libraries()
