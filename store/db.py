"""The async engine and session factory; SQLite is the embedded default, PostgreSQL the production database."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from store.models import Base


def create_engine(database_url: str, *, schema: str | None = None) -> AsyncEngine:
    """`schema` puts a PostgreSQL engine's connections into that schema (tests isolate themselves this way)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # asyncpg takes no search_path from the URL, only as a server setting at connect time.
        connect_args = {"server_settings": {"search_path": schema}} if schema is not None else {}
        return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if schema is not None:
        raise ValueError("schema applies to PostgreSQL only; SQLite has one schema per file")
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the API read while the worker writes; foreign keys are off by default in SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


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
