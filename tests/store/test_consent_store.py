"""The consent store on SQLite and PostgreSQL alike: atomic imports, kept versions, the in-memory cache,
"do not photograph" requests, the check log, the migration and the command line.

Every test gets a fresh database from `tests/conftest.py` (`database_url`: a SQLite file, or a new
PostgreSQL database dropped afterwards), so these tests never meet another suite's rows.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from domain.consent import (
    Answer,
    Destination,
    Device,
    PhotoCheckRequest,
    ReasonCode,
    parse_pupil_names,
)
from domain.consent_import import ImportRejected, ParsedRegister, parse_register_csv
from services.consent_import_cli import main
from store.base import Base
from store.consent_store import (
    ConsentCheckLogRow,
    ConsentPupilRow,
    ConsentStateRow,
    ConsentStore,
    DoNotPhotographRequest,
    RegisterImportError,
    UnknownPupilError,
    VersionNotAvailableError,
)
from store.db import Database, alembic_config

DATA = Path(__file__).parent.parent / "data" / "consent"
REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "Holy Trinity Year 3"
STAFF = "00000000-0000-0000-0000-000000000101"
ADMIN = "00000000-0000-0000-0000-000000000201"
CONSENT_REVISION = "0003_consent"


def _upgrade_to_consent(sync_connection: Any) -> None:
    config = alembic_config(str(sync_connection.engine.url))
    config.attributes["connection"] = sync_connection
    command.upgrade(config, CONSENT_REVISION)  # only this branch: other features' migrations are theirs to test


async def migrate_consent(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade_to_consent)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await migrate_consent(db)
    yield db
    await db.dispose()


@pytest.fixture
def store(database: Database) -> ConsentStore:
    return ConsentStore(database)


def sample(name: str = "sims_export.csv") -> ParsedRegister:
    result = parse_register_csv((DATA / name).read_bytes())
    assert isinstance(result, ParsedRegister)
    return result


def photo(pupils: str, **changes: Any) -> PhotoCheckRequest:
    fields: dict[str, Any] = {
        "destination": Destination.school_account(ACCOUNT),
        "pupils": tuple(parse_pupil_names(pupils)),
        "device": Device.SCHOOL_DEVICE,
        "appropriately_dressed": True,
        "nobody_ridiculed": True,
        "not_in_toilet_or_changing_area": True,
    }
    fields.update(changes)
    return PhotoCheckRequest(**fields)


async def verdict_for(store: ConsentStore, pupils: str) -> Answer:
    verdict = await store.check_photo(photo(pupils), checked_by=STAFF, school_accounts=[ACCOUNT])
    return verdict.answer


# --- Import ---------------------------------------------------------------------------------------------


async def test_an_imported_register_loads_back_exactly(store: ConsentStore, database: Database) -> None:
    parsed = sample()
    version = await store.import_register(parsed, imported_by=ADMIN, source_name="sims_export.csv")
    assert version.is_current and version.pupil_count == 10 and version.previous_version_id is None
    fresh = ConsentStore(database)  # another bot instance: reads from the database, not from memory
    register = await fresh.load_register()
    assert register.version == version.id and len(register) == 10
    for entry in parsed.entries:
        assert register.get(entry.pupil.pupil_id) == entry


async def test_import_csv_parses_and_stores_or_rejects_without_change(store: ConsentStore) -> None:
    first = await store.import_csv((DATA / "sims_export.csv").read_bytes(), imported_by=ADMIN)
    assert not isinstance(first, ImportRejected)
    outcome = await store.import_csv((DATA / "malformed_rows.csv").read_bytes(), imported_by=ADMIN)
    assert isinstance(outcome, ImportRejected) and outcome.error_count == 6
    assert [v.id for v in await store.versions()] == [first.id]
    assert (await store.load_register()).version == first.id


async def test_a_failed_import_leaves_the_previous_register_intact(
    store: ConsentStore, database: Database
) -> None:
    first = await store.import_register(sample(), imported_by=ADMIN)
    good = sample("arbor_export_bom.csv")
    # Two rows for one pupil get past no parser, but if they did, the database refuses the whole import.
    broken = ParsedRegister(entries=(*good.entries, good.entries[0]), purposes=good.purposes, encoding="utf-8")
    with pytest.raises(RegisterImportError):
        await store.import_register(broken, imported_by=ADMIN)
    for reader in (store, ConsentStore(database)):
        register = await reader.load_register()
        assert register.version == first.id and len(register) == 10
    assert [v.id for v in await store.versions()] == [first.id]
    async with database.transaction() as session:
        versions_with_pupils = (await session.execute(select(ConsentPupilRow.version_id).distinct())).scalars().all()
    assert versions_with_pupils == [first.id]


async def test_the_previous_version_is_kept_and_can_be_made_current_again(
    store: ConsentStore, database: Database
) -> None:
    v1 = await store.import_register(sample(), imported_by=ADMIN)
    v2 = await store.import_register(sample("arbor_export_bom.csv"), imported_by=ADMIN)
    assert v2.previous_version_id == v1.id
    assert await verdict_for(store, "Kai Okafor") is Answer.YES
    assert await verdict_for(store, "Amelia Hughes") is Answer.NO  # not in the new register
    back = await store.activate_version(v1.id)
    assert back.is_current
    assert await verdict_for(store, "Amelia Hughes") is Answer.YES
    v3 = await store.import_register(sample("arbor_export_bom.csv"), imported_by=ADMIN)
    v4 = await store.import_register(sample(), imported_by=ADMIN)
    versions = {v.id: v for v in await store.versions()}
    assert [v.id for v in await store.versions()] == [v4.id, v3.id, v2.id, v1.id]  # rows are never deleted
    assert versions[v4.id].is_current and versions[v3.id].pupils_kept
    assert not versions[v2.id].pupils_kept and not versions[v1.id].pupils_kept
    with pytest.raises(VersionNotAvailableError):
        await store.activate_version(v1.id)
    async with database.transaction() as session:
        kept = set((await session.execute(select(ConsentPupilRow.version_id).distinct())).scalars().all())
    assert kept == {v3.id, v4.id}


async def test_concurrent_imports_both_land_and_one_is_current(store: ConsentStore, database: Database) -> None:
    other = ConsentStore(database)
    a, b = await asyncio.gather(
        store.import_register(sample(), imported_by=ADMIN),
        other.import_register(sample("arbor_export_bom.csv"), imported_by=ADMIN),
    )
    current = [v for v in await store.versions() if v.is_current]
    assert len(current) == 1 and current[0].id == max(a.id, b.id)
    register = await ConsentStore(database).load_register()
    assert len(register) == current[0].pupil_count
    # One after the other, not both over the same state: the second keeps the first, each change counts.
    assert sorted([a.previous_version_id or 0, b.previous_version_id or 0]) == [0, min(a.id, b.id)]
    async with database.transaction() as session:
        assert (await session.execute(select(ConsentStateRow.revision))).scalar_one() == 2


async def test_the_same_pupil_recorded_at_once_by_three_people_is_one_request_told_once(
    store: ConsentStore, database: Database
) -> None:
    await store.import_register(sample(), imported_by=ADMIN)
    told: list[int] = []

    async def tell(_session: object, request: DoNotPhotographRequest) -> None:
        told.append(request.id)

    results = await asyncio.gather(*(
        ConsentStore(database).record_do_not_photograph("A100000000001", requested_by=f"staff-{i}", then=tell)
        for i in range(3)
    ))
    [open_request] = await store.open_do_not_photograph_requests()
    assert sorted(r.already_open for r in results) == [False, True, True]
    assert {r.id for r in results} == {open_request.id} and told == [open_request.id]


async def test_concurrent_do_not_photograph_requests_each_count(store: ConsentStore, database: Database) -> None:
    await store.import_register(sample(), imported_by=ADMIN)
    pupils = [entry.pupil.pupil_id for entry in list((await store.load_register()).entries())[:4]]
    await asyncio.gather(*(ConsentStore(database).record_do_not_photograph(p, requested_by=ADMIN) for p in pupils))
    assert sorted(r.pupil_id for r in await store.open_do_not_photograph_requests()) == sorted(pupils)
    async with database.transaction() as session:  # the import, then each request: the caches' stamp moved 5 times
        assert (await session.execute(select(ConsentStateRow.revision))).scalar_one() == 5


# --- The register in memory -----------------------------------------------------------------------------


async def test_the_register_is_cached_until_something_changes(store: ConsentStore, database: Database) -> None:
    await store.import_register(sample(), imported_by=ADMIN)
    first = await store.load_register()
    assert await store.load_register() is first
    await ConsentStore(database).import_register(sample("arbor_export_bom.csv"), imported_by=ADMIN)
    second = await store.load_register()
    assert second is not first and len(second) == 5


async def test_with_no_register_every_check_is_no(store: ConsentStore) -> None:
    verdict = await store.check_photo(photo("Amelia Hughes"), checked_by=STAFF, school_accounts=[ACCOUNT])
    assert verdict.answer is Answer.NO
    assert verdict.pupils[0].reasons[0].code is ReasonCode.NOT_FOUND


# --- Do not photograph ------------------------------------------------------------------------------------


async def test_do_not_photograph_takes_effect_at_once_everywhere_and_survives_a_reimport(
    store: ConsentStore, database: Database
) -> None:
    await store.import_register(sample(), imported_by=ADMIN)
    other_instance = ConsentStore(database)
    assert await verdict_for(other_instance, "Amelia Hughes") is Answer.YES  # now cached there
    request = await store.record_do_not_photograph("A100000000001", requested_by=STAFF, note="mum asked at the gate")
    assert request.pupil is not None and request.pupil.first_name == "Amelia"
    for instance in (store, other_instance):
        verdict = await instance.check_photo(photo("Amelia Hughes"), checked_by=STAFF, school_accounts=[ACCOUNT])
        assert verdict.answer is Answer.NO
        assert [r.code for r in verdict.pupils[0].reasons] == [ReasonCode.DO_NOT_PHOTOGRAPH]
        assert "gate" not in verdict.model_dump_json()  # the note is for the data admin only
    await store.import_register(sample(), imported_by=ADMIN)  # the MIS was not updated yet
    assert await verdict_for(other_instance, "Amelia Hughes") is Answer.NO
    [open_request] = await store.open_do_not_photograph_requests()
    assert open_request.note == "mum asked at the gate" and open_request.requested_by == STAFF
    assert open_request.recorded_at.tzinfo is not None
    assert await store.clear_do_not_photograph("A100000000001", cleared_by=ADMIN) == 1
    assert await verdict_for(other_instance, "Amelia Hughes") is Answer.YES
    assert await store.open_do_not_photograph_requests() == []


async def test_do_not_photograph_for_an_unknown_pupil_is_refused(store: ConsentStore) -> None:
    await store.import_register(sample(), imported_by=ADMIN)
    with pytest.raises(UnknownPupilError):
        await store.record_do_not_photograph("NOPE", requested_by=STAFF)


# --- The check log -------------------------------------------------------------------------------------------


async def test_each_check_is_logged_with_who_which_pupils_purpose_and_answer(
    store: ConsentStore, database: Database
) -> None:
    version = await store.import_register(sample(), imported_by=ADMIN)
    await store.check_photo(photo("Amelia Hughes; Noor Nowhere"), checked_by=STAFF, school_accounts=[ACCOUNT])
    await store.check_photo(photo("Łucja Nowak"), checked_by=STAFF, school_accounts=[ACCOUNT])
    newest, oldest = await store.recent_checks()
    assert oldest.checked_by == STAFF and oldest.verdict == "no" and oldest.checked_at.tzinfo is not None
    assert oldest.pupil_ids == ("A100000000001",) and oldest.unresolved_count == 1
    assert oldest.purposes == ("school_social_media",) and oldest.account_name == ACCOUNT
    assert oldest.register_version_id == version.id and oldest.reason_codes == ("not_found",)
    assert newest.reason_codes == ("do_not_publish",)
    async with database.transaction() as session:
        rows = (await session.execute(select(ConsentCheckLogRow))).scalars().all()
    stored = " ".join(str(vars(row)) for row in rows)
    assert "Nowhere" not in stored and "Amelia" not in stored and "Court order" not in stored


# --- The migration --------------------------------------------------------------------------------------------


def _consent_differences(sync_connection: Any) -> list[Any]:
    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, Base.metadata)
        if "consent_" in repr(diff)
    ]


async def test_the_migration_creates_exactly_the_tables_the_models_describe(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_consent_differences)
    assert differences == []


async def test_the_migration_downgrades_cleanly(database: Database) -> None:
    def downgrade(sync_connection: Any) -> list[str]:
        config = alembic_config(str(sync_connection.engine.url))
        config.attributes["connection"] = sync_connection
        command.downgrade(config, "0001_bot_state")
        return [name for name in inspect(sync_connection).get_table_names() if name.startswith("consent_")]

    async with database.engine.begin() as connection:
        assert await connection.run_sync(downgrade) == []


async def test_the_state_row_is_seeded_by_the_migration(database: Database) -> None:
    async with database.transaction() as session:
        rows = (await session.execute(text("SELECT id, current_version_id, revision FROM consent_state"))).all()
    assert [tuple(row) for row in rows] == [(1, None, 0)]


# --- The command line (SQLite: it is the data admin's tool on the school's own machine) ----------------------


@pytest.fixture
def cli_database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def prepare() -> None:
        database = Database(url)
        await migrate_consent(database)
        await database.dispose()

    asyncio.run(prepare())
    return url


async def _versions(url: str) -> list[int]:
    database = Database(url)
    try:
        return [v.id for v in await ConsentStore(database).versions()]
    finally:
        await database.dispose()


def test_cli_imports_a_file(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(DATA / "sims_export.csv"), "--database-url", cli_database, "--imported-by", "office"])
    out = capsys.readouterr().out
    assert code == 0 and "imported as register version 1: 10 pupils (utf-8)" in out
    assert asyncio.run(_versions(cli_database)) == [1]


def test_cli_rejects_a_bad_file_with_line_numbers_and_changes_nothing(
    cli_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(DATA / "sims_export.csv"), "--database-url", cli_database]) == 0
    code = main([str(DATA / "malformed_rows.csv"), "--database-url", cli_database])
    err = capsys.readouterr().err
    assert code == 1
    assert "not imported, nothing changed (6 problem(s))" in err and "line 8: pupil id" in err
    assert asyncio.run(_versions(cli_database)) == [1]


def test_cli_if_empty_imports_only_into_an_empty_register(
    cli_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(DATA / "sims_export.csv"), "--database-url", cli_database, "--if-empty"]) == 0
    assert "imported as register version 1" in capsys.readouterr().out
    # A second run (scripts/dev starting again) leaves the register as it is, whatever the file.
    assert main([str(DATA / "sims_export.csv"), "--database-url", cli_database, "--if-empty"]) == 0
    assert "not imported: the register already has a version" in capsys.readouterr().out
    assert asyncio.run(_versions(cli_database)) == [1]
    # Without the flag the same file is a new version.
    assert main([str(DATA / "sims_export.csv"), "--database-url", cli_database]) == 0
    assert asyncio.run(_versions(cli_database)) == [2, 1]


def test_cli_with_a_mapping_file(cli_database: str) -> None:
    mapping = str(DATA / "custom_mapping.json")
    code = main([str(DATA / "custom_layout.csv"), "--database-url", cli_database, "--mapping", mapping])
    assert code == 0


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("POLICYBOT_DATABASE_URL", raising=False)
    assert main([]) == 2
    assert main([str(DATA / "sims_export.csv")]) == 2
    assert "--database-url" in capsys.readouterr().err
    assert main(["--print-default-mapping"]) == 0
    assert '"pupil_id"' in capsys.readouterr().out


def test_cli_on_an_unmigrated_database_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    assert main([str(DATA / "sims_export.csv"), "--database-url", url]) == 2
    assert "Has it been migrated?" in capsys.readouterr().err


def test_python_dash_m_runs_the_command_line() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "services.consent_import_cli", str(DATA / "sims_export.csv"), "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "10 pupils readable (utf-8); nothing stored" in completed.stdout
