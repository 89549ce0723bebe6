"""The async engine and session factory; SQLite is the embedded default, PostgreSQL the production database.

Writes are short transactions that never wait on the network. On SQLite, whose database has one writer at a time:
- a write transaction (`sessions.begin()`) starts with `BEGIN IMMEDIATE`, so it takes the write lock before it
  reads: a read-then-write never fails half-way on a snapshot another writer made stale;
- within a process, writers queue on an asyncio lock instead of spinning in SQLite's busy handler, so the lock
  passes at once from one to the next; between processes (API and worker) the busy timeout does the waiting;
- reads (`sessions()`) start a plain deferred transaction and never block, thanks to WAL.
Waiting for a connection or a lock is bounded by a few seconds; past that the store counts as unavailable (503).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, cast

import asyncpg
from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.engine import URL, Connection, CursorResult, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from store.models import Base
from store.sqlite_driver import OneTripDBAPI

# How long a statement waits for SQLite's write lock held by another process, for a connection from the pool,
# and for PostgreSQL to accept a connection: all well inside a request's budget, so an outage answers fast.
BUSY_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 3.0
STATEMENT_TIMEOUT_SECONDS = 15.0
POOL_SIZE = 10
POOL_OVERFLOW = 20

_WRITE_OPTION = "partnerflow_write"


class StoreUnavailable(Exception):
    """The store could not be reached (refused, timed out, shutting down): an outage, not a refusal."""


def create_engine(database_url: str, *, schema: str | None = None) -> AsyncEngine:
    """`schema` puts a PostgreSQL engine's connections into that schema (tests isolate themselves this way)."""
    url = make_url(database_url)
    pool: dict[str, Any] = {"pool_timeout": POOL_TIMEOUT_SECONDS}
    if url.get_backend_name() != "sqlite":
        return create_async_engine(
            url,
            async_creator=_postgres_connector(url, schema),
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            **pool,
        )
    if schema is not None:
        raise ValueError("schema applies to PostgreSQL only; SQLite has one schema per file")
    in_memory = not url.database or url.database == ":memory:"
    if in_memory:
        pool = {}  # one shared connection (a StaticPool): nothing to size or wait for
    else:
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        pool |= {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if url.get_driver_name() == "aiosqlite":
        pool["module"] = OneTripDBAPI()
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, **pool)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN would start every write deferred; `_sqlite_begin` begins instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while one writer writes; NORMAL syncs at checkpoints, not every commit, which in
        # WAL mode still loses nothing when a process dies (only an OS crash or power cut can lose the last commits).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


class StoreSessions(async_sessionmaker[AsyncSession]):
    """Sessions for reads (`sessions()`) and for write transactions (`sessions.begin()`).

    A write transaction on SQLite takes the database's write lock at its start and holds this process's turn among
    writers until it ends; keep it short and never await anything but the store inside it.
    """

    def __init__(self, engine: AsyncEngine, turn_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._turn_timeout = turn_timeout
        self._writes = async_sessionmaker(engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False)
        self._writers = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        if self._writers is None:
            async with self._writes.begin() as session:
                yield session
            return
        try:
            await asyncio.wait_for(self._writers.acquire(), timeout=self._turn_timeout)
        except TimeoutError as error:
            raise PoolTimeoutError(f"no turn to write within {self._turn_timeout:g} s") from error
        try:
            async with self._writes.begin() as session:
                yield session
        finally:
            self._writers.release()


def _postgres_connector(url: URL, schema: str | None) -> Callable[[], Awaitable[Any]]:
    """Connects with bounded waits; a failure to connect becomes StoreUnavailable (asyncpg raises bare OSErrors)."""
    options: dict[str, Any] = {**url.translate_connect_args(username="user"), **url.query}
    # asyncpg takes no search_path from the URL, only as a server setting at connect time.
    server_settings = {"search_path": schema} if schema is not None else {}

    async def connect() -> Any:
        try:
            return await asyncpg.connect(
                **options,
                timeout=CONNECT_TIMEOUT_SECONDS,
                command_timeout=STATEMENT_TIMEOUT_SECONDS,
                server_settings=server_settings,
            )
        except Exception as error:
            raise StoreUnavailable(f"PostgreSQL at {url.host}:{url.port or 5432} cannot be reached: {error}") from error

    return connect


def create_session_factory(engine: AsyncEngine, turn_timeout: float = BUSY_TIMEOUT_SECONDS) -> StoreSessions:
    """`turn_timeout`: how long a write transaction waits for this process's other writers on SQLite. A request
    keeps the default, so that a store that is stuck answers 503 within seconds; a worker, whose activities come in
    bursts (a thousand trials ending at once) and are retried anyway, waits longer rather than fail attempts."""
    return StoreSessions(engine, turn_timeout)


# What the store raises when it cannot be used right now (down, unreachable, locked, out of connections), as
# opposed to a refusal of what was written (a unique key taken) or a bug; DBAPIError counts when it says the
# connection was lost (see is_outage).
OUTAGE_ERRORS: tuple[type[Exception], ...] = (StoreUnavailable, OperationalError, InterfaceError, PoolTimeoutError)


def is_outage(error: BaseException) -> bool:
    if isinstance(error, OUTAGE_ERRORS):
        return True
    return isinstance(error, DBAPIError) and not isinstance(error, IntegrityError) and error.connection_invalidated


class _SQLiteDoNothing(sqlite_dml.OnConflictDoNothing):
    # Only ever bare (no conflict target), so the class is the whole of its cache key.
    inherit_cache = True
    _traverse_internals: list[Any] = []


class _PostgresDoNothing(postgresql_dml.OnConflictDoNothing):
    inherit_cache = True
    _traverse_internals: list[Any] = []


class _SQLiteInsertIgnoringConflict(sqlite.Insert):
    """SQLAlchemy keeps the dialects' inserts with an ON CONFLICT clause out of its statement cache (the clause's
    arguments are not part of a cache key), so each would be compiled anew, which costs more than running it. Every
    statement of this class ends in the same bare `ON CONFLICT DO NOTHING`: cacheable."""

    inherit_cache = True

    def on_conflict_do_nothing(self, *_: Any, **__: Any) -> Self:
        self._post_values_clause = _SQLiteDoNothing()
        return self


class _PostgresInsertIgnoringConflict(postgresql.Insert):
    """As `_SQLiteInsertIgnoringConflict`, for PostgreSQL."""

    inherit_cache = True

    def on_conflict_do_nothing(self, *_: Any, **__: Any) -> Self:
        self._post_values_clause = _PostgresDoNothing()
        return self


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for statements that need none of the ORM's bookkeeping."""
    return cast(Table, model.__table__)


async def insert_ignoring_conflict(session: AsyncSession, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT that leaves an existing row with the same unique key alone (and waits for a concurrent insert of it to
    commit, on PostgreSQL), so a read right after it in the same transaction sees the one row that counts. True if
    this call wrote the row.

    The values go with the statement's execution, not into it: the statement is then the same every time and
    compiled once (and a Core insert skips the ORM's bulk-insert bookkeeping, which costs more than the statement
    itself while SQLite's write lock is held)."""
    postgres = session.bind.dialect.name == "postgresql"
    insert = _PostgresInsertIgnoringConflict if postgres else _SQLiteInsertIgnoringConflict
    result = await session.execute(insert(table_of(model)).on_conflict_do_nothing(), values)
    return bool(cast(CursorResult[Any], result).rowcount == 1)


async def insert_once(sessions: async_sessionmaker[AsyncSession], row: Base) -> bool:
    """Inserts `row` unless its unique key is taken; True if this call wrote it.

    Activities run at least once, so a retry finds the row of an earlier attempt and leaves it be.
    """
    try:
        async with sessions.begin() as session:
            session.add(row)
    except IntegrityError:
        return False
    return True


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
