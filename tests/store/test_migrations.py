"""The migrations are the schema: they build exactly the models' tables, undo cleanly, and run from the CLI."""

import asyncio
import os
import sys

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from store import migrate
from store.db import create_engine
from store.models import Base

REPO_ROOT = migrate.ALEMBIC_INI.parent
VERSION_TABLE = "alembic_version"
MODEL_TABLES = frozenset(Base.metadata.tables)
HEAD = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
AT_HEAD = (MODEL_TABLES | {VERSION_TABLE}, HEAD)
AT_BASE = (frozenset({VERSION_TABLE}), None)


def _tables_and_revision(connection: Connection) -> tuple[frozenset[str], str | None]:
    revision = MigrationContext.configure(connection).get_current_revision()
    return frozenset(inspect(connection).get_table_names()), revision


async def tables_and_revision(engine: AsyncEngine) -> tuple[frozenset[str], str | None]:
    async with engine.connect() as connection:
        return await connection.run_sync(_tables_and_revision)


async def test_upgrade_to_head_creates_exactly_the_tables_of_the_models(migrated_database: AsyncEngine) -> None:
    assert await tables_and_revision(migrated_database) == AT_HEAD


async def test_migrated_schema_has_no_difference_from_the_models(migrated_database: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        # What `alembic revision --autogenerate` would write: empty means models and migrations agree.
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with migrated_database.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_migrations_downgrade_to_base_and_upgrade_to_head_again(migrated_database: AsyncEngine) -> None:

    await migrate.downgrade(migrated_database, "base")
    assert await tables_and_revision(migrated_database) == AT_BASE

    await migrate.upgrade(migrated_database, "head")
    assert await tables_and_revision(migrated_database) == AT_HEAD


async def test_alembic_upgrade_head_from_the_repository_root_migrates_the_database_named_by_database_url(
    fresh_database_url: str,
) -> None:
    # `python -m alembic` is the `alembic` console script, run by this interpreter so it finds the project.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "upgrade",
        "head",
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": fresh_database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode == 0, output.decode()

    engine = create_engine(fresh_database_url)
    try:
        assert await tables_and_revision(engine) == AT_HEAD
    finally:
        await engine.dispose()
