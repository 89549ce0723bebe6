"""Activity tests run on SQLite and on PostgreSQL (TEST_DATABASE_URL), with the store tests' fixtures."""

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.db import create_session_factory
from tests.store.conftest import backend, fresh_database, migrated_database

__all__ = ["backend", "fresh_database", "migrated_database", "sessions"]


@pytest.fixture
def sessions(migrated_database: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(migrated_database)
