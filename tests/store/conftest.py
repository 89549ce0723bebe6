"""Store fixtures: every store test runs on SQLite and on PostgreSQL (TEST_DATABASE_URL), each on a database
of its own, so tests never see each other's rows and may run in any order."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store import migrate
from store.db import create_engine
from tests.migrated import migrated_sqlite

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_admin_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: the PostgreSQL store tests need a server (CI sets it)")
    return url


@asynccontextmanager
async def postgres_admin() -> AsyncIterator[AsyncConnection]:
    """An autocommit connection to TEST_DATABASE_URL, for DDL that may not run in a transaction (CREATE DATABASE)."""
    engine = create_engine(postgres_admin_url())
    try:
        async with engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        await engine.dispose()


def scratch_name() -> str:
    # Lower-case hex only, so the name needs no quoting in DDL.
    return f"pf_test_{uuid.uuid4().hex}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        postgres_admin_url()
    return name


@pytest_asyncio.fixture
async def fresh_database(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of the test's own: a new SQLite file, or a new PostgreSQL schema
    (the engine's search_path) dropped with CASCADE afterwards."""
    schema = None if backend == "sqlite" else scratch_name()
    if schema is None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    else:
        async with postgres_admin() as admin:
            await admin.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_engine(postgres_admin_url(), schema=schema)
    try:
        yield engine
    finally:
        await engine.dispose()
        if schema is not None:
            async with postgres_admin() as admin:
                await admin.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest_asyncio.fixture
async def migrated_database(backend: str, tmp_path: Path, fresh_database: AsyncEngine) -> AsyncEngine:
    """An empty database brought to head by the migrations, as the main job and the compose `migrate` service do
    (on SQLite a copy of one migrated once per session: tests/migrated.py)."""
    if backend == "sqlite":
        await fresh_database.dispose()  # nothing connected yet; the file is replaced before anything does
        await migrated_sqlite(tmp_path / "store.db")
    else:
        await migrate.upgrade(fresh_database)
    return fresh_database


@pytest_asyncio.fixture
async def fresh_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL naming an empty database, for code that only takes DATABASE_URL (the `alembic` command line).

    The URL cannot carry a PostgreSQL search_path (asyncpg accepts none there), so on PostgreSQL this is
    a whole database of its own, created and then dropped.
    """
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'seam.db'}"
        return
    name = scratch_name()
    async with postgres_admin() as admin:
        await admin.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        async with postgres_admin() as admin:
            # FORCE: a connection the failed test left open must not keep the database alive.
            await admin.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
