"""The audit log in the database: appending to the chain, reading it in order, verifying it.

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by its single writer. A
race that slips through (two writers reading the same tail) fails on the unique `prev_hash`/`seq` and is retried.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit import AuditDraft, ChainCheck, ChainedEntry, Verification, chain
from store.db import as_utc
from store.models import AuditEntry

# pg_advisory_xact_lock's key: any constant the project uses for nothing else.
_CHAIN_LOCK = 0x61756469745F6C6F  # "audit_lo"
_ATTEMPTS = 8
_VERIFY_BATCH = 1_000


def _chained(row: AuditEntry) -> ChainedEntry:
    entry = ChainedEntry.model_validate(row, from_attributes=True)
    return entry.model_copy(update={"occurred_at": as_utc(entry.occurred_at)})


def _row(entry: ChainedEntry) -> AuditEntry:
    return AuditEntry(**entry.model_dump())


async def _append_once(session: AsyncSession, draft: AuditDraft) -> ChainedEntry | None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    if draft.event_key is not None:
        seen = await session.scalar(select(AuditEntry.seq).where(AuditEntry.event_key == draft.event_key))
        if seen is not None:
            return None
    tail = await session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    entry = chain(draft, _chained(tail) if tail else None)
    session.add(_row(entry))
    return entry


async def append(sessions: async_sessionmaker[AsyncSession], draft: AuditDraft) -> ChainedEntry | None:
    """Adds `draft` at the end of the chain in a transaction of its own.

    None when an entry with the same `event_key` is already there: activities run at least once, so a retry of
    one that recorded its action leaves the log as it was.
    """
    for attempt in range(_ATTEMPTS):
        try:
            async with sessions.begin() as session:
                return await _append_once(session, draft)
        except (IntegrityError, OperationalError):
            # Another writer took the tail first (or SQLite's snapshot went stale): read the new tail and retry.
            if attempt == _ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class LogFilter:
    subject: str | None = None
    target: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Select[tuple[AuditEntry]], where: LogFilter) -> Select[tuple[AuditEntry]]:
    if where.subject is not None:
        query = query.where(AuditEntry.subject == where.subject)
    if where.target is not None:
        query = query.where(AuditEntry.target == where.target)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.outcome is not None:
        query = query.where(AuditEntry.outcome == where.outcome)
    if where.since is not None:
        query = query.where(AuditEntry.occurred_at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.occurred_at < where.until)
    return query


async def page(
    sessions: async_sessionmaker[AsyncSession], where: LogFilter, after_seq: int, limit: int
) -> list[ChainedEntry]:
    """Entries matching `where` after `after_seq`, oldest first."""
    query = _filtered(select(AuditEntry), where).where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq)
    async with sessions() as session:
        rows = (await session.scalars(query.limit(limit))).all()
    return [_chained(row) for row in rows]


async def entries(
    sessions: async_sessionmaker[AsyncSession], where: LogFilter | None = None, batch: int = _VERIFY_BATCH
) -> AsyncIterator[ChainedEntry]:
    """Every entry matching `where`, oldest first, read in batches so memory stays flat."""
    after = 0
    while True:
        rows = await page(sessions, where or LogFilter(), after, batch)
        for entry in rows:
            yield entry
        if len(rows) < batch:
            return
        after = rows[-1].seq


async def verify(sessions: async_sessionmaker[AsyncSession]) -> Verification:
    check = ChainCheck()
    async for entry in entries(sessions):
        if not check.add(entry):
            break
    return check.result()


async def count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
