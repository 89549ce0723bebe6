"""How much verifying the audit log's hash chain costs over merely reading the log, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.audit_verify [--entries 10000] [--postgres postgresql+asyncpg://...]

Appends N entries to a fresh, migrated database, then times a plain read of every entry (the baseline) and
`GET /audit/verify`'s work (read + recompute every hash) in the same run, and prints the ratio.
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import AuditDraft, EntryKind, Outcome, chain
from store import audit, migrate
from store.db import create_engine, create_session_factory
from store.models import AuditEntry


def _drafts(count: int) -> list[AuditDraft]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        AuditDraft(
            kind=EntryKind.COMMAND,
            subject="pm-anna",
            role="partner_manager",
            action="onboarding.complete_item",
            target=f"onboarding-acme-app-{n % 100}",
            outcome=Outcome.ACCEPTED,
            occurred_at=start + timedelta(seconds=n),
            request_id=uuid.uuid4().hex,
            status_code=200,
            payload_digest="ab" * 32,
        )
        for n in range(count)
    ]


async def _fill(engine: AsyncEngine, count: int) -> None:
    """Chains the entries in memory and inserts them in bulk: the benchmark is about reading, not appending."""
    rows, previous = [], None
    for draft in _drafts(count):
        previous = chain(draft, previous)
        rows.append(AuditEntry(**previous.model_dump()))
    async with create_session_factory(engine).begin() as session:
        session.add_all(rows)


async def _seconds(run: Awaitable[object]) -> float:
    started = time.perf_counter()
    await run
    return time.perf_counter() - started


async def _read_all(engine: AsyncEngine) -> int:
    return len([entry async for entry in audit.entries(create_session_factory(engine))])


async def measure(engine: AsyncEngine, count: int) -> tuple[float, float]:
    await migrate.upgrade(engine)
    await _fill(engine, count)
    sessions = create_session_factory(engine)
    await _read_all(engine)  # warm the cache and the connection pool alike for both
    read = await _seconds(_read_all(engine))
    verify = await _seconds(audit.verify(sessions))
    assert (await audit.verify(sessions)).checked == count
    return read, verify


def _report(backend: str, count: int, read: float, verify: float) -> None:
    print(
        f"{backend:10} {count:>7} entries: read {read:6.3f} s, verify {verify:6.3f} s, "
        f"verify/read = {verify / read:4.2f}x ({verify / count * 1e6:5.1f} us per entry)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--postgres", help="an admin URL; the benchmark uses a scratch schema it drops afterwards")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}")
        _report("sqlite", options.entries, *await measure(engine, options.entries))
        await engine.dispose()
    if options.postgres:
        schema = f"bench_{uuid.uuid4().hex}"
        admin = create_engine(options.postgres)
        async with admin.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_engine(options.postgres, schema=schema)
        try:
            _report("postgresql", options.entries, *await measure(engine, options.entries))
        finally:
            await engine.dispose()
            async with admin.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
