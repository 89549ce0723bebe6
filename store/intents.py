"""Command intents: written before a command reaches Temporal, replaced by its audit entry once it is answered.

The pair makes the audit log complete without holding anything across the network: an intent and the entry that
replaces it are each one short transaction. An intent still here after its request ended belongs to a process that
died or stopped waiting; `orphans` hands it to recovery (api/intent_recovery.py), which asks Temporal what became of
the command and `resolve`s the intent with the entry it deserves.

Every API process keeps a heartbeat (`beat`), so an intent of a process whose heartbeat stopped is known to be
orphaned within seconds, while the requests a live process is still answering are left to it.
"""

from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit import AuditDraft, EntryKind, Outcome
from store import audit
from store.db import as_utc, insert_ignoring_conflict
from store.models import ApiProcess, CommandIntent

# A process whose heartbeat is older than this has stopped; an intent younger than this is never taken from its
# owner (its first heartbeat may still be on the way).
HEARTBEAT_STALE_AFTER = timedelta(seconds=15)
# Heartbeats of processes gone for longer than this are removed.
_FORGET_AFTER = timedelta(days=1)


def record(session: AsyncSession, intent: CommandIntent) -> None:
    session.add(intent)


def entry_of(
    intent: CommandIntent, outcome: Outcome, status_code: int | None, detail: str, event_key: str | None = None
) -> AuditDraft:
    """The audit entry of the command an intent stands for, once its outcome is known."""
    return AuditDraft(
        kind=EntryKind.COMMAND,
        subject=intent.subject,
        role=intent.role,
        action=intent.action,
        target=intent.target,
        outcome=outcome,
        occurred_at=as_utc(intent.started_at),
        request_id=intent.request_id,
        idempotency_key=intent.idempotency_key,
        status_code=status_code,
        payload_digest=intent.payload_digest,
        detail=detail,
        event_key=event_key,
    )


async def settle(session: AsyncSession, request_id: str, draft: AuditDraft) -> bool:
    """Replaces the intent by its entry, in the caller's transaction; False (and nothing queued) when the intent is
    gone already, i.e. recovery, or a retry of the same command, settled it first."""
    result = await session.execute(delete(CommandIntent).where(CommandIntent.request_id == request_id))
    if isinstance(result, CursorResult) and result.rowcount == 0:
        return False
    audit.enqueue_in(session, draft)
    return True


async def settle_earlier_attempts(
    session: AsyncSession,
    subject: str,
    key: str,
    before: datetime,
    entry_of: Callable[[CommandIntent], AuditDraft],
) -> int:
    """Settles the intents of earlier requests with this Idempotency-Key (a request that died, or gave up waiting),
    now that the command's outcome is known: each gets `entry_of(intent)`. The number settled."""
    earlier = (
        await session.scalars(
            select(CommandIntent).where(
                CommandIntent.subject == subject,
                CommandIntent.idempotency_key == key,
                CommandIntent.started_at < before,
            )
        )
    ).all()
    settled = 0
    for intent in earlier:
        settled += await settle(session, intent.request_id, entry_of(intent))
    return settled


async def resolve(sessions: async_sessionmaker[AsyncSession], request_id: str, draft: AuditDraft) -> bool:
    async with sessions.begin() as session:
        return await settle(session, request_id, draft)


async def hand_over(sessions: async_sessionmaker[AsyncSession], request_id: str) -> None:
    """No request waits for this command any more (it gave up waiting): recovery may settle it right away."""
    async with sessions.begin() as session:
        await session.execute(update(CommandIntent).where(CommandIntent.request_id == request_id).values(owner=None))


async def beat(sessions: async_sessionmaker[AsyncSession], owner: str, now: datetime) -> None:
    """This process is alive."""
    async with sessions.begin() as session:
        await insert_ignoring_conflict(session, ApiProcess, {"owner": owner, "beat_at": now})
        await session.execute(update(ApiProcess).where(ApiProcess.owner == owner).values(beat_at=now))
        await session.execute(delete(ApiProcess).where(ApiProcess.beat_at < now - _FORGET_AFTER))


async def orphans(
    sessions: async_sessionmaker[AsyncSession],
    *,
    owner: str,
    live: Collection[str],
    now: datetime,
    stale_after: timedelta = HEARTBEAT_STALE_AFTER,
    limit: int = 100,
) -> list[CommandIntent]:
    """Intents no request will settle: handed over; or this process's own that it no longer answers; or another
    process's whose heartbeat stopped."""
    alive = select(ApiProcess.owner).where(ApiProcess.beat_at >= now - stale_after)
    query = (
        select(CommandIntent)
        .where(
            or_(
                CommandIntent.owner.is_(None),
                CommandIntent.owner == owner,
                and_(CommandIntent.started_at < now - stale_after, CommandIntent.owner.not_in(alive)),
            )
        )
        .order_by(CommandIntent.started_at)
        .limit(limit)
    )
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    # Checked after the query: a request that started meanwhile wrote its intent after adding itself to `live`.
    return [row for row in rows if row.request_id not in live]


async def count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CommandIntent)) or 0)
