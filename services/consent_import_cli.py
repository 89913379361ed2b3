"""The data admin's import of the consent register from the command line (outside Teams).

::

    python -m services.consent_import_cli FILE --database-url URL [--mapping FILE] [--imported-by NAME]
        [--purposes FILE] [--dry-run] [--migrate] [--if-empty]
    python -m services.consent_import_cli --print-default-mapping

The file is read by `domain.consent_import.parse_register_csv` (all or nothing, every problem with its line
number) and stored by `ConsentStore.import_register` in one transaction, the previous version kept.

``--if-empty`` imports only into a register that has no version yet (``scripts/dev`` uses it to load the
Playground's sample register once, never over a register someone has imported since).

The file may be at most ``POLICYBOT_CONSENT_CSV_MAX_BYTES`` (the bot's settings, from the environment or ``.env``:
the limit Teams uploads and the SharePoint sync have too). It is read a megabyte at a time and refused as soon as
it passes the limit, before the rest is read.

Exit status 0 when imported (or, with --dry-run, readable), 1 when the file was rejected (too large, or each
problem printed with its line number; nothing changed), 2 for usage, settings or database errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings
from domain.consent import DEFAULT_CONFIG, ConsentPurposesFile
from domain.consent_import import (
    DEFAULT_MAPPING,
    ColumnMapping,
    ImportRejected,
    ParsedRegister,
    RegisterTooLarge,
    parse_register_csv,
    read_within,
)
from store.consent_store import ConsentStore, ConsentStoreError, RegisterVersion
from store.db import Database

PROG = "python -m services.consent_import_cli"
EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
READ_CHUNK_BYTES = 1024 * 1024


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Import the photo-consent register from an MIS export (CSV). All or nothing: a file "
        "with any unreadable row changes nothing, and every problem is listed with its line number.",
    )
    parser.add_argument("file", nargs="?", type=Path, help="the CSV export (UTF-8, UTF-8 with BOM or Windows-1252)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or os.environ.get("POLICYBOT_DATABASE_URL"),
        help="SQLAlchemy async URL (default: $DATABASE_URL)",
    )
    parser.add_argument("--mapping", type=Path, help="JSON column mapping (default: the documented default)")
    purposes_file = os.environ.get("POLICYBOT_CONSENT_PURPOSES_FILE")
    parser.add_argument(
        "--purposes", type=Path, default=Path(purposes_file) if purposes_file else None,
        help="JSON file of the school's consent purposes (default: $POLICYBOT_CONSENT_PURPOSES_FILE, else the "
             "default purposes)",
    )
    parser.add_argument(
        "--imported-by", default=os.environ.get("USER", "command line"), help="recorded with the version"
    )
    parser.add_argument("--dry-run", action="store_true", help="read and report only; store nothing")
    parser.add_argument("--migrate", action="store_true", help="bring the database schema up to date first")
    parser.add_argument(
        "--if-empty", action="store_true", help="import only if the register has no version yet (else do nothing)"
    )
    parser.add_argument("--print-default-mapping", action="store_true", help="print the default mapping as JSON")
    return parser


async def _store(url: str, parsed: ParsedRegister, args: argparse.Namespace) -> RegisterVersion | None:
    """Import ``parsed``; None when ``--if-empty`` was given and the register already has a version."""
    database = Database(url)
    try:
        if args.migrate:
            await database.migrate()
        store = ConsentStore(database)
        if args.if_empty and await store.versions():
            return None
        return await store.import_register(parsed, imported_by=args.imported_by, source_name=args.file.name)
    finally:
        await database.dispose()


def read_register_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, read a chunk at a time and no further than the chunk that passes ``max_bytes``.

    Raises:
        RegisterTooLarge: the file holds more than ``max_bytes``.
        OSError: the file cannot be read.
    """
    with path.open("rb") as file:
        return read_within(iter(lambda: file.read(READ_CHUNK_BYTES), b""), max_bytes)


def _max_bytes(settings: Settings | None) -> int:
    """The register size limit from the bot's settings (read from the environment and ``.env`` unless given)."""
    return (settings if settings is not None else Settings()).consent_csv_max_bytes


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None) -> int:
    """The data admin's import from the command line (see the module docstring).

    ``settings``: the bot's settings (for the size limit); read from the environment and ``.env`` when None.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    if args.print_default_mapping:
        out.write(DEFAULT_MAPPING.model_dump_json(indent=2) + "\n")
        return EXIT_OK
    if args.file is None:
        parser.print_usage(err)
        err.write("error: give the CSV file to import\n")
        return EXIT_USAGE
    if not args.dry_run and not args.database_url:
        err.write("error: give --database-url (or set DATABASE_URL), or use --dry-run\n")
        return EXIT_USAGE
    try:
        max_bytes = _max_bytes(settings)
    except ValidationError as error:
        names = ", ".join(sorted({str(problem["loc"][0]) for problem in error.errors() if problem["loc"]}))
        err.write(f"error: the bot's settings cannot be read ({names}): correct the POLICYBOT_* environment or .env\n")
        return EXIT_USAGE
    try:
        mapping = ColumnMapping.from_json_file(args.mapping) if args.mapping else DEFAULT_MAPPING
        config = ConsentPurposesFile.load(args.purposes) if args.purposes else DEFAULT_CONFIG
        data = read_register_file(args.file, max_bytes)
    except RegisterTooLarge as too_large:
        err.write(f"{args.file}: not imported: {too_large}. Export only the columns the register needs.\n")
        return EXIT_REJECTED
    except (OSError, ValueError) as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    parsed = parse_register_csv(data, mapping, config)
    if isinstance(parsed, ImportRejected):
        err.write(f"{args.file}: not imported, nothing changed ({parsed.error_count} problem(s)):\n")
        for problem in parsed.errors:
            err.write(f"  {problem}\n")
        if parsed.error_count > len(parsed.errors):
            err.write(f"  ... and {parsed.error_count - len(parsed.errors)} more\n")
        return EXIT_REJECTED
    for warning in parsed.warnings:
        err.write(f"warning: {warning}\n")
    if args.dry_run:
        out.write(f"{args.file}: {len(parsed.entries)} pupils readable ({parsed.encoding}); nothing stored\n")
        return EXIT_OK
    try:
        version = asyncio.run(_store(args.database_url, parsed, args))
    except (SQLAlchemyError, ConsentStoreError) as error:
        cause = error.__cause__ or error
        err.write(f"error: the database refused the import, nothing changed ({type(cause).__name__}: "
                  f"{(str(cause).splitlines() or [''])[0]}). Has it been migrated? Try --migrate.\n")
        return EXIT_USAGE
    if version is None:
        out.write(f"{args.file}: not imported: the register already has a version (--if-empty)\n")
        return EXIT_OK
    kept = f"; version {version.previous_version_id} is kept" if version.previous_version_id else ""
    out.write(
        f"{args.file}: imported as register version {version.id}: {version.pupil_count} pupils "
        f"({version.encoding}){kept}\n"
    )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
