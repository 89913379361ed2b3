"""The photo-consent register in the database: versions, do-not-photograph requests and the check log.

What the use cases call (collaborators through the constructor; one `ConsentStore` per app)::

    store = ConsentStore(database)
    outcome = await store.import_csv(data, imported_by=aad_id, source_name="export.csv")  # one transaction
    async with database.sessions() as session:                                 # a check: read ...
        register = await store.register_in(session)
    verdict = store.decide(register, request, school_accounts=names)            # ... decide in memory ...
    async with database.transaction() as session:                              # ... and log (the one write)
        await store.log_check_in(session, aad_id, verdict)
        # or: await store.record_do_not_photograph_in(session, pupil, requested_by=aad_id, note="...")

- An import replaces the current register in one transaction: either the whole new version becomes
  current or nothing changes. The previous version is kept (`keep_versions`, default 2, counting the
  current one) so the data admin can go back to it with `activate_version`.
- `register_in(session)` keeps the register in memory, keyed by version: a check asks the database one
  small question (has anything changed?) and decides in memory, so it stays fast on 50,000 pupils.
- A "do not photograph" request is kept apart from the imported versions, so a re-import made before the
  MIS was updated does not lose it; it applies to every check from the moment it is recorded until the
  data admin clears it.
- The check log keeps who checked, which pupils (by id), for which purpose and the answer; never the
  photo, never the names typed.

The command line that imports a register outside Teams is `services.consent_import_cli`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.consent import (
    DEFAULT_CONFIG,
    ConsentPolicyConfig,
    ConsentRecord,
    ConsentRegister,
    ConsentState,
    PhotoCheckRequest,
    Pupil,
    Purpose,
    RegisterEntry,
    ResolutionStatus,
    Verdict,
    check_photo,
)
from domain.consent_import import (
    DEFAULT_MAPPING,
    ColumnMapping,
    ImportRejected,
    ParsedRegister,
    parse_register_csv,
)
from store.base import Base, UtcDateTime, utcnow
from store.db import Database

_STATE_ROW_ID = 1  # consent_state has exactly one row: the pointer to the current version
_INSERT_CHUNK_ROWS = 5_000  # rows per executemany; keeps memory flat on a 50,000-pupil trust
_STATE_CHECK_SQL = "state IN ('granted', 'refused', 'not_asked', 'withdrawn')"  # ConsentState's values
_WROTE = "consent_store_wrote"  # session.info key: this unit of work changed consent data (nothing is cached from it)


# --- Tables ------------------------------------------------------------------------------------------


class ConsentRegisterVersionRow(Base):
    """One import of the register. Rows are never deleted; old versions lose only their pupils."""

    __tablename__ = "consent_register_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(200))
    source_name: Mapped[str] = mapped_column(String(300), default="")
    encoding: Mapped[str] = mapped_column(String(32), default="")
    pupil_count: Mapped[int] = mapped_column(Integer)
    purposes: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    warnings: Mapped[list[str]] = mapped_column(JSON)
    pupils_pruned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConsentStateRow(Base):
    """Which version is current, and a revision bumped by every change (the cache's stamp)."""

    __tablename__ = "consent_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("consent_register_versions.id"), nullable=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=0)


class ConsentPupilRow(Base):
    __tablename__ = "consent_pupils"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("consent_register_versions.id", ondelete="CASCADE"), primary_key=True
    )
    pupil_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    preferred_first_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    surname: Mapped[str] = mapped_column(String(100))
    class_name: Mapped[str] = mapped_column(String(50))
    year_group: Mapped[str] = mapped_column(String(50))
    do_not_publish: Mapped[bool] = mapped_column(Boolean)
    do_not_publish_reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # data admin and DSL only


class ConsentPupilConsentRow(Base):
    __tablename__ = "consent_pupil_consents"
    __table_args__ = (
        ForeignKeyConstraint(
            ["version_id", "pupil_id"],
            ["consent_pupils.version_id", "consent_pupils.pupil_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_STATE_CHECK_SQL, name="state"),
    )

    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pupil_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class ConsentDoNotPhotographRow(Base):
    """A request not to be photographed or filmed, recorded by any member of staff."""

    __tablename__ = "consent_do_not_photograph"
    __table_args__ = (Index("ix_consent_do_not_photograph_pupil_id", "pupil_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pupil_id: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cleared_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ConsentCheckLogRow(Base):
    """One "can I post this photo?" check: who, which pupils, which purpose, the answer. Never the photo."""

    __tablename__ = "consent_check_log"
    __table_args__ = (Index("ix_consent_check_log_checked_at", "checked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    checked_by: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(String(32))
    account_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    purposes: Mapped[list[str]] = mapped_column(JSON)
    device: Mapped[str] = mapped_column(String(32))
    media: Mapped[str] = mapped_column(String(16))
    pupil_ids: Mapped[list[str]] = mapped_column(JSON)
    unresolved_count: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(8))
    reason_codes: Mapped[list[str]] = mapped_column(JSON)
    register_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


# --- What the store hands out -----------------------------------------------------------------------


class ConsentStoreError(Exception):
    """Base of the store's errors; the message is safe to show to the data admin."""


class UnknownPupilError(ConsentStoreError):
    def __init__(self, pupil_id: str) -> None:
        super().__init__(f"no pupil with id {pupil_id!r} in the current consent register")
        self.pupil_id = pupil_id


class RegisterImportError(ConsentStoreError):
    """The database refused an import; the transaction was rolled back and nothing changed."""


class VersionNotAvailableError(ConsentStoreError):
    def __init__(self, version_id: int) -> None:
        super().__init__(f"register version {version_id} does not exist or its pupils are no longer kept")
        self.version_id = version_id


class RegisterVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    imported_at: datetime
    imported_by: str
    source_name: str
    encoding: str
    pupil_count: int
    purposes: tuple[Purpose, ...]
    warnings: tuple[str, ...]
    is_current: bool
    pupils_kept: bool
    previous_version_id: int | None = None  # set on the result of an import or activation


class DoNotPhotographRequest(BaseModel):
    """An open request; `note` is for the data admin (it never appears in a verdict)."""

    model_config = ConfigDict(frozen=True)

    id: int
    pupil_id: str
    pupil: Pupil | None  # None if the pupil has left the current register since
    requested_by: str
    note: str
    recorded_at: datetime
    already_open: bool = False  # returned by record_do_not_photograph: the pupil had an open request already


class CheckLogEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    checked_at: datetime
    checked_by: str
    destination: str
    account_name: str | None
    purposes: tuple[str, ...]
    device: str
    media: str
    pupil_ids: tuple[str, ...]
    unresolved_count: int
    verdict: str
    reason_codes: tuple[str, ...]
    register_version_id: int | None


def _open_requests_of(pupil_id: str) -> tuple[Any, ...]:
    """The conditions of a pupil's open do-not-photograph requests."""
    return (ConsentDoNotPhotographRow.pupil_id == pupil_id, ConsentDoNotPhotographRow.cleared_at.is_(None))


def _request_model(
    row: ConsentDoNotPhotographRow, pupil: Pupil | None, *, already_open: bool = False
) -> DoNotPhotographRequest:
    return DoNotPhotographRequest(id=row.id, pupil_id=row.pupil_id, pupil=pupil, requested_by=row.requested_by,
                                  note=row.note, recorded_at=row.recorded_at, already_open=already_open)


def _version_model(
    row: ConsentRegisterVersionRow, current_id: int | None, previous_id: int | None = None
) -> RegisterVersion:
    return RegisterVersion(
        id=row.id,
        imported_at=row.imported_at,
        imported_by=row.imported_by,
        source_name=row.source_name,
        encoding=row.encoding,
        pupil_count=row.pupil_count,
        purposes=tuple(Purpose.model_validate(p) for p in row.purposes),
        warnings=tuple(row.warnings),
        is_current=row.id == current_id,
        pupils_kept=row.pupils_pruned_at is None,
        previous_version_id=previous_id,
    )


def _chunks(rows: Sequence[dict[str, Any]], size: int = _INSERT_CHUNK_ROWS) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _build_register(
    version_id: int,
    purposes: tuple[Purpose, ...],
    pupil_rows: Sequence[Any],
    consent_rows: Sequence[Any],
) -> ConsentRegister:
    """The in-memory register from database rows (trusted: written by `import_register`)."""
    consents: dict[str, dict[str, ConsentRecord]] = {}
    records: dict[tuple[str, date | None], ConsentRecord] = {}
    for pupil_id, purpose, state, withdrawn_on in consent_rows:
        record = records.get((state, withdrawn_on))
        if record is None:
            record = records[(state, withdrawn_on)] = ConsentRecord(
                state=ConsentState(state), withdrawn_on=withdrawn_on
            )
        consents.setdefault(pupil_id, {})[purpose] = record
    entries = (
        RegisterEntry.model_construct(
            pupil=Pupil.model_construct(
                pupil_id=pupil_id,
                first_name=first_name,
                surname=surname,
                class_name=class_name,
                year_group=year_group,
                preferred_first_name=preferred,
            ),
            consents=consents.get(pupil_id, {}),
            do_not_publish=do_not_publish,
            do_not_publish_reason=reason,
        )
        for pupil_id, first_name, surname, class_name, year_group, preferred, do_not_publish, reason in pupil_rows
    )
    return ConsentRegister(entries, version=version_id, purposes=purposes)


async def _insert_rows(
    session: AsyncSession, version_id: int, pupils: list[dict[str, Any]], consents: list[dict[str, Any]]
) -> None:
    """Insert a version's rows inside the session's transaction, fast on a 50,000-pupil trust.

    PostgreSQL (asyncpg): COPY. Elsewhere: Core executemany (not the ORM's bulk path, which is ten times
    slower here).
    """
    connection = await session.connection()
    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (ConsentPupilRow.__table__, pupils),
        (ConsentPupilConsentRow.__table__, consents),
    ]
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "asyncpg":
        import asyncpg  # type: ignore[import-untyped]  # the driver in use here (it has no type information)

        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        for table, rows in tables:
            columns = [column.name for column in table.columns]
            records = [tuple(version_id if c == "version_id" else row[c] for c in columns) for row in rows]
            try:
                await driver.copy_records_to_table(table.name, records=records, columns=columns)
            except asyncpg.PostgresError as error:
                raise RegisterImportError(f"the database refused the rows ({type(error).__name__})") from error
        return
    for table, rows in tables:
        for chunk in _chunks(rows):
            await connection.execute(insert(table), [dict(row, version_id=version_id) for row in chunk])


class ConsentStore:
    """The consent register, do-not-photograph requests and the check log in one database.

    A repository with a cache. Its methods come in two kinds:

    - ``..._in(session, ...)`` run in the caller's unit of work: a use case opens one (``Database.unit_of_work``)
      and reads and writes through them, so its record and its outbox messages commit together;
    - the others open a unit of work of their own (the register import is one transaction; the rest are for the
      command line, the SharePoint sync and tests). They must not be called inside another unit of work
      (``NestedUnitOfWorkError``).

    The register is cached in memory, stamped with the state row's (version, revision): every change bumps the
    revision, so a reader sees a change by reading one small row. Nothing is cached from a session that wrote
    consent data (it might still roll back).

    Args:
        database: the application's database (SQLite or PostgreSQL), migrated to include 0003_consent.
        config: purposes and destination→purpose mapping used for checks.
        keep_versions: how many most recent versions keep their pupils (2: the current and the previous).
    """

    def __init__(
        self, database: Database, *, config: ConsentPolicyConfig = DEFAULT_CONFIG, keep_versions: int = 2
    ) -> None:
        if keep_versions < 2:
            raise ValueError("keep at least the current and the previous version")
        self._database = database
        self._config = config
        self._keep_versions = keep_versions
        self._base: ConsentRegister | None = None  # the current version's pupils, without requests
        self._cached: tuple[tuple[int | None, int], ConsentRegister] | None = None  # (version, revision)
        self._lock = asyncio.Lock()

    @property
    def config(self) -> ConsentPolicyConfig:
        """The purposes and the purpose each destination needs (the school's purposes file, or the default)."""
        return self._config

    # --- Import (one transaction of its own) ---------------------------------------------------------------

    async def import_csv(
        self,
        data: bytes,
        *,
        imported_by: str,
        source_name: str = "",
        mapping: ColumnMapping = DEFAULT_MAPPING,
    ) -> RegisterVersion | ImportRejected:
        """Read an MIS export and, only if every row is readable, make it the current register."""
        parsed = await asyncio.to_thread(parse_register_csv, data, mapping, self._config)
        if isinstance(parsed, ImportRejected):
            return parsed
        return await self.import_register(parsed, imported_by=imported_by, source_name=source_name)

    async def import_register(
        self, parsed: ParsedRegister, *, imported_by: str, source_name: str = ""
    ) -> RegisterVersion:
        """Replace the current register with `parsed` atomically (one transaction); keep the previous one.

        Raises:
            RegisterImportError: the database refused it (rolled back: the previous register stays current).
        """
        pupils = [
            {
                "pupil_id": e.pupil.pupil_id,
                "first_name": e.pupil.first_name,
                "preferred_first_name": e.pupil.preferred_first_name,
                "surname": e.pupil.surname,
                "class_name": e.pupil.class_name,
                "year_group": e.pupil.year_group,
                "do_not_publish": e.do_not_publish,
                "do_not_publish_reason": e.do_not_publish_reason,
            }
            for e in parsed.entries
        ]
        consents = [
            {"pupil_id": e.pupil.pupil_id, "purpose": purpose, "state": r.state.value, "withdrawn_on": r.withdrawn_on}
            for e in parsed.entries
            for purpose, r in e.consents.items()
        ]
        try:
            async with self._database.transaction() as session:
                state = await self._lock_state(session)
                version = ConsentRegisterVersionRow(
                    imported_by=imported_by,
                    source_name=source_name[:300],
                    encoding=parsed.encoding,
                    pupil_count=len(pupils),
                    purposes=[p.model_dump() for p in parsed.purposes],
                    warnings=list(parsed.warnings),
                )
                session.add(version)
                await session.flush()
                await _insert_rows(session, version.id, pupils, consents)
                previous_id = state.current_version_id
                state.current_version_id = version.id
                state.revision += 1
                await self._prune(session, version.id)
                result = _version_model(version, version.id, previous_id)
        except SQLAlchemyError as error:
            raise RegisterImportError(
                f"the database refused the import ({type(error).__name__}); nothing changed"
            ) from error
        # Committed: the new version's pupils are known without reading them back.
        self._base = await asyncio.to_thread(
            ConsentRegister, parsed.entries, version=result.id, purposes=parsed.purposes
        )
        return result

    async def _lock_state(self, session: AsyncSession) -> ConsentStateRow:
        """The pointer row, locked so that concurrent imports and requests queue up.

        An UPDATE that changes nothing comes first: it locks the row on PostgreSQL and, on SQLite, takes the write
        lock if the unit of work has not already, so the row read next is the latest and no other writer can change
        it before this transaction ends. The session is marked as having written consent data (nothing read in it
        afterwards is cached).
        """
        session.info[_WROTE] = True
        await session.execute(
            update(ConsentStateRow).where(ConsentStateRow.id == _STATE_ROW_ID)
            .values(revision=ConsentStateRow.revision).execution_options(synchronize_session=False)
        )
        state = (
            await session.execute(
                select(ConsentStateRow).where(ConsentStateRow.id == _STATE_ROW_ID).with_for_update()
            )
        ).scalar_one_or_none()
        if state is None:  # a database created without the migration's seed row
            state = ConsentStateRow(id=_STATE_ROW_ID, current_version_id=None, revision=0)
            session.add(state)
            await session.flush()
        return state

    async def _prune(self, session: AsyncSession, current_id: int) -> None:
        kept = (
            await session.execute(
                select(ConsentRegisterVersionRow.id)
                .where(ConsentRegisterVersionRow.pupils_pruned_at.is_(None))
                .order_by(ConsentRegisterVersionRow.id.desc())
            )
        ).scalars().all()
        keep = set(kept[: self._keep_versions]) | {current_id}
        old = [version_id for version_id in kept if version_id not in keep]
        if not old:
            return
        await session.execute(delete(ConsentPupilConsentRow).where(ConsentPupilConsentRow.version_id.in_(old)))
        await session.execute(delete(ConsentPupilRow).where(ConsentPupilRow.version_id.in_(old)))
        await session.execute(
            update(ConsentRegisterVersionRow)
            .where(ConsentRegisterVersionRow.id.in_(old))
            .values(pupils_pruned_at=utcnow())
        )

    # --- Versions -------------------------------------------------------------------------------------------

    async def activate_version_in(self, session: AsyncSession, version_id: int) -> RegisterVersion:
        """Make a kept earlier version current again (the data admin undoing a wrong import).

        Raises:
            VersionNotAvailableError: no such version, or its pupils are no longer kept.
        """
        state = await self._lock_state(session)
        version = await session.get(ConsentRegisterVersionRow, version_id)
        if version is None or version.pupils_pruned_at is not None:
            raise VersionNotAvailableError(version_id)
        previous_id = state.current_version_id
        state.current_version_id = version.id
        state.revision += 1
        return _version_model(version, version.id, previous_id)

    async def activate_version(self, version_id: int) -> RegisterVersion:
        """`activate_version_in`, in a unit of work of its own."""
        async with self._database.transaction() as session:
            return await self.activate_version_in(session, version_id)

    async def versions_in(self, session: AsyncSession) -> list[RegisterVersion]:
        """Every import, newest first."""
        current = await self._current_version_id(session)
        rows = (
            await session.execute(select(ConsentRegisterVersionRow).order_by(ConsentRegisterVersionRow.id.desc()))
        ).scalars().all()
        return [_version_model(row, current) for row in rows]

    async def versions(self) -> list[RegisterVersion]:
        """`versions_in`, in a reading unit of work of its own."""
        async with self._database.sessions() as session:
            return await self.versions_in(session)

    async def _current_version_id(self, session: AsyncSession) -> int | None:
        return (
            await session.execute(
                select(ConsentStateRow.current_version_id).where(ConsentStateRow.id == _STATE_ROW_ID)
            )
        ).scalar_one_or_none()

    # --- The register in memory ----------------------------------------------------------------------------

    async def register_in(self, session: AsyncSession) -> ConsentRegister:
        """The current register with open do-not-photograph requests, from memory unless it changed.

        One small query (the version and revision); the pupils are read again only when another version became
        current, the requests only when one was recorded or cleared.
        """
        stamp = await self._stamp_in(session)
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        async with self._lock:  # one task reads a changed register; the others wait and use it
            cached = self._cached
            if cached is not None and cached[0] == stamp:
                return cached[1]
            version_id = stamp[0]
            base = self._base
            if base is None or base.version != (version_id or 0):
                base = await self._read_version(session, version_id)
            blocked = (
                await session.execute(
                    select(ConsentDoNotPhotographRow.pupil_id).where(ConsentDoNotPhotographRow.cleared_at.is_(None))
                )
            ).scalars().all()
            register = base.with_do_not_photograph(blocked)
            if not session.info.get(_WROTE):
                self._base = base
                self._cached = (stamp, register)
            return register

    async def load_register(self) -> ConsentRegister:
        """`register_in`, in a reading unit of work of its own."""
        async with self._database.sessions() as session:
            return await self.register_in(session)

    async def _stamp_in(self, session: AsyncSession) -> tuple[int | None, int]:
        row = (
            await session.execute(
                select(ConsentStateRow.current_version_id, ConsentStateRow.revision).where(
                    ConsentStateRow.id == _STATE_ROW_ID
                )
            )
        ).one_or_none()
        return (row[0], row[1]) if row is not None else (None, 0)

    async def _read_version(self, session: AsyncSession, version_id: int | None) -> ConsentRegister:
        if version_id is None:
            return ConsentRegister((), version=0, purposes=self._config.purposes)
        version = await session.get(ConsentRegisterVersionRow, version_id)
        assert version is not None  # consent_state's foreign key
        pupil_rows = (
            await session.execute(
                select(
                    ConsentPupilRow.pupil_id,
                    ConsentPupilRow.first_name,
                    ConsentPupilRow.surname,
                    ConsentPupilRow.class_name,
                    ConsentPupilRow.year_group,
                    ConsentPupilRow.preferred_first_name,
                    ConsentPupilRow.do_not_publish,
                    ConsentPupilRow.do_not_publish_reason,
                ).where(ConsentPupilRow.version_id == version_id)
            )
        ).all()
        consent_rows = (
            await session.execute(
                select(
                    ConsentPupilConsentRow.pupil_id,
                    ConsentPupilConsentRow.purpose,
                    ConsentPupilConsentRow.state,
                    ConsentPupilConsentRow.withdrawn_on,
                ).where(ConsentPupilConsentRow.version_id == version_id)
            )
        ).all()
        purposes = tuple(Purpose.model_validate(p) for p in version.purposes)
        return await asyncio.to_thread(
            _build_register, version_id, purposes, [tuple(r) for r in pupil_rows], [tuple(r) for r in consent_rows]
        )

    # --- Checks ----------------------------------------------------------------------------------------------

    def decide(
        self,
        register: ConsentRegister,
        request: PhotoCheckRequest,
        *,
        school_accounts: Collection[str],
        device_exception_authorised: bool = False,
    ) -> Verdict:
        """The verdict on ``register`` with the school's purposes (`domain.consent.check_photo`); no I/O."""
        return check_photo(
            register,
            request,
            school_accounts=school_accounts,
            device_exception_authorised=device_exception_authorised,
            config=self._config,
        )

    async def check_photo(
        self,
        request: PhotoCheckRequest,
        *,
        checked_by: str,
        school_accounts: Collection[str],
        device_exception_authorised: bool = False,
        exception_authorised: Callable[[Verdict], Awaitable[bool]] | None = None,
    ) -> Verdict:
        """Decide on the current register and log the check: a read, then one write (the log).

        Args:
            exception_authorised: asked only when the personal device is the one reason for "no": whether
                the Head Teacher has authorised an exception that covers this verdict (the approvals). If it
                has, the check is decided again with the exception; only that final verdict is logged.
        """
        register = await self.load_register()
        verdict = self.decide(register, request, school_accounts=school_accounts,
                              device_exception_authorised=device_exception_authorised)
        if (
            exception_authorised is not None
            and verdict.can_request_device_exception
            and await exception_authorised(verdict)
        ):
            verdict = self.decide(register, request, school_accounts=school_accounts, device_exception_authorised=True)
        await self.log_check(checked_by, verdict)
        return verdict

    async def log_check_in(self, session: AsyncSession, checked_by: str, verdict: Verdict) -> int:
        """Record who checked which pupils for which purpose and the answer; returns the log id."""
        row = ConsentCheckLogRow(
            checked_by=checked_by,
            destination=verdict.destination.kind.value,
            account_name=verdict.destination.account_name,
            purposes=[p.key for p in verdict.purposes],
            device=verdict.device.value,
            media=verdict.media.value,
            pupil_ids=list(verdict.pupil_ids),
            unresolved_count=sum(1 for p in verdict.pupils if p.status is not ResolutionStatus.MATCHED),
            verdict=verdict.answer.value,
            reason_codes=sorted({reason.code.value for reason in verdict.all_reasons()}),
            register_version_id=verdict.register_version or None,
        )
        session.add(row)
        await session.flush()
        return row.id

    async def log_check(self, checked_by: str, verdict: Verdict) -> int:
        """`log_check_in`, in a unit of work of its own."""
        async with self._database.transaction() as session:
            return await self.log_check_in(session, checked_by, verdict)

    async def recent_checks(self, limit: int = 100) -> list[CheckLogEntry]:
        async with self._database.sessions() as session:
            rows = (
                await session.execute(
                    select(ConsentCheckLogRow).order_by(ConsentCheckLogRow.id.desc()).limit(limit)
                )
            ).scalars().all()
            return [
                CheckLogEntry(
                    id=r.id,
                    checked_at=r.checked_at,
                    checked_by=r.checked_by,
                    destination=r.destination,
                    account_name=r.account_name,
                    purposes=tuple(r.purposes),
                    device=r.device,
                    media=r.media,
                    pupil_ids=tuple(r.pupil_ids),
                    unresolved_count=r.unresolved_count,
                    verdict=r.verdict,
                    reason_codes=tuple(r.reason_codes),
                    register_version_id=r.register_version_id,
                )
                for r in rows
            ]

    # --- Do not photograph -----------------------------------------------------------------------------------

    async def record_do_not_photograph_in(
        self, session: AsyncSession, pupil: Pupil, requested_by: str, note: str = ""
    ) -> DoNotPhotographRequest:
        """Record at once that a pupil (or their parent) asked not to be photographed or filmed.

        Any member of staff may do this. Every later check says no for the pupil until the data admin clears
        the request (after updating the MIS). The caller tells the data admin in the same unit of work (e.g. its
        card through the outbox), so the request and its notification are committed together or not at all. If
        the pupil already has an open request (two people recording it at the same moment), that one is returned
        with `already_open` and nothing is added: the caller sends nothing either.

        Raises:
            UnknownPupilError: the pupil is not in the current register (it changed since it was read).
        """
        state = await self._lock_state(session)  # requests queue up here: the look-ups below see the others
        in_register = (await session.execute(
            select(ConsentPupilRow.pupil_id).where(ConsentPupilRow.version_id == state.current_version_id,
                                                   ConsentPupilRow.pupil_id == pupil.pupil_id)
        )).scalar_one_or_none()
        if in_register is None:
            raise UnknownPupilError(pupil.pupil_id)
        existing = (await session.execute(
            select(ConsentDoNotPhotographRow).where(*_open_requests_of(pupil.pupil_id))
            .order_by(ConsentDoNotPhotographRow.id).limit(1)
        )).scalar_one_or_none()
        if existing is not None:
            return _request_model(existing, pupil, already_open=True)
        row = ConsentDoNotPhotographRow(pupil_id=pupil.pupil_id, requested_by=requested_by, note=note[:2000])
        session.add(row)
        state.revision += 1
        await session.flush()
        return _request_model(row, pupil)

    async def record_do_not_photograph(
        self,
        pupil_id: str,
        requested_by: str,
        note: str = "",
        *,
        then: Callable[[AsyncSession, DoNotPhotographRequest], Awaitable[object]] | None = None,
    ) -> DoNotPhotographRequest:
        """`record_do_not_photograph_in` for a pupil id of the current register, in a unit of work of its own;
        ``then(session, request)`` runs in it for a new request.

        Raises:
            UnknownPupilError: the id is not in the current register.
        """
        entry = (await self.load_register()).get(pupil_id)
        if entry is None:
            raise UnknownPupilError(pupil_id)
        async with self._database.transaction() as session:
            result = await self.record_do_not_photograph_in(session, entry.pupil, requested_by, note)
            if then is not None and not result.already_open:
                await then(session, result)
        return result

    async def clear_do_not_photograph_in(self, session: AsyncSession, pupil_id: str, cleared_by: str) -> list[int]:
        """Close a pupil's open requests (the data admin, once the MIS says so); returns their ids, oldest first."""
        state = await self._lock_state(session)
        ids = list((await session.execute(
            select(ConsentDoNotPhotographRow.id).where(*_open_requests_of(pupil_id))
            .order_by(ConsentDoNotPhotographRow.id)
        )).scalars().all())
        if ids:
            await session.execute(
                update(ConsentDoNotPhotographRow)
                .where(ConsentDoNotPhotographRow.id.in_(ids))
                .values(cleared_at=utcnow(), cleared_by=cleared_by)
            )
            state.revision += 1
        return ids

    async def clear_do_not_photograph(
        self,
        pupil_id: str,
        cleared_by: str,
        *,
        then: Callable[[AsyncSession, list[int]], Awaitable[object]] | None = None,
    ) -> int:
        """`clear_do_not_photograph_in`, in a unit of work of its own; returns how many were closed.

        ``then(session, request_ids)`` runs in it when something was closed.
        """
        async with self._database.transaction() as session:
            ids = await self.clear_do_not_photograph_in(session, pupil_id, cleared_by)
            if ids and then is not None:
                await then(session, ids)
        return len(ids)

    async def open_requests_in(self, session: AsyncSession) -> list[DoNotPhotographRequest]:
        """The requests the data admin still has to carry into the MIS, oldest first (pupils from the current
        register; None for one who has left it)."""
        register = await self.register_in(session)
        rows = (
            await session.execute(
                select(ConsentDoNotPhotographRow)
                .where(ConsentDoNotPhotographRow.cleared_at.is_(None))
                .order_by(ConsentDoNotPhotographRow.id)
            )
        ).scalars().all()
        return [_request_model(r, entry.pupil if (entry := register.get(r.pupil_id)) else None) for r in rows]

    async def open_do_not_photograph_requests(self) -> list[DoNotPhotographRequest]:
        """`open_requests_in`, in a reading unit of work of its own."""
        async with self._database.sessions() as session:
            return await self.open_requests_in(session)

    async def pupil_count(self) -> int:
        async with self._database.sessions() as session:
            current = await self._current_version_id(session)
            if current is None:
                return 0
            return int(
                (
                    await session.execute(
                        select(func.count()).select_from(ConsentPupilRow).where(ConsentPupilRow.version_id == current)
                    )
                ).scalar_one()
            )
