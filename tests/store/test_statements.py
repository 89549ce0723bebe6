"""How the store runs statements: each SQLite statement in one trip to its connection's thread, with the same results
as aiosqlite's own adapter, and inserts that ignore a conflict compiled once and then reused."""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine.default import CACHE_HIT, CACHE_MISS
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store import models
from store.db import create_session_factory, insert_ignoring_conflict, table_of

pytestmark = pytest.mark.asyncio


def _call(event_id: str, status: int = 200) -> dict[str, object]:
    return {
        "event_id": event_id,
        "app_id": "acme-crm",
        "action": "provision",
        "subscription_id": None,
        "endpoint": "local",
        "request_body": "{}",
        "status_code": status,
        "response_body": "{}",
        "created_at": datetime.now(UTC),
    }


async def test_an_insert_ignoring_conflict_writes_a_new_row_once_and_says_whether_it_wrote_it(
    migrated_database: AsyncEngine,
) -> None:
    sessions = create_session_factory(migrated_database)
    written = []
    for status in (200, 500):
        async with sessions.begin() as session:
            written.append(await insert_ignoring_conflict(session, models.ConnectorCallRow, _call("evt-1", status)))
    async with sessions() as session:
        calls = select(models.ConnectorCallRow.event_id, models.ConnectorCallRow.status_code)
        rows = (await session.execute(calls)).all()
    assert written == [True, False]
    assert [tuple(row) for row in rows] == [("evt-1", 200)]  # the first row stands


async def test_inserts_ignoring_conflict_are_compiled_once_then_taken_from_the_cache(
    migrated_database: AsyncEngine,
) -> None:
    sessions = create_session_factory(migrated_database)
    outcomes: list[Any] = []

    def cache_outcome(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if statement.startswith("INSERT INTO connector_calls"):
            outcomes.append(context.cache_hit)

    event.listen(migrated_database.sync_engine, "after_cursor_execute", cache_outcome)
    for index in range(3):
        async with sessions.begin() as session:
            await insert_ignoring_conflict(session, models.ConnectorCallRow, _call(f"evt-{index}"))
    assert outcomes == [CACHE_MISS, CACHE_HIT, CACHE_HIT]


async def test_a_statement_reports_rows_rowcount_and_errors_as_the_driver_does(migrated_database: AsyncEngine) -> None:
    sessions = create_session_factory(migrated_database)
    table = table_of(models.ConnectorCallRow)
    async with sessions.begin() as session:
        await session.execute(insert(table), [_call("evt-1"), _call("evt-2"), _call("evt-3")])
        updated = await session.execute(
            table.update().where(table.c.event_id.in_(["evt-1", "evt-2"])).values(status_code=202)
        )
        assert updated.rowcount == 2  # type: ignore[attr-defined]  # a CursorResult
    async with sessions() as session:
        counted = (await session.execute(text("SELECT status_code, count(*) FROM connector_calls GROUP BY 1"))).all()
    assert sorted(tuple(row) for row in counted) == [(200, 1), (202, 2)]
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            await session.execute(insert(table), [_call("evt-4"), _call("evt-1")])
    async with sessions() as session:  # the failed transaction left nothing behind
        assert await session.scalar(select(table.c.event_id).where(table.c.event_id == "evt-4")) is None
