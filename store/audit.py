"""The audit log in the database: queueing entries, chaining them, reading the chain in order, verifying it.

Writers never touch the chain's tail. A command or an activity only inserts its entry into `audit_queue` (in its
own transaction, or in the transaction of the change it records), which costs one short insert and waits for no
other writer's entry. The sequencer moves queued entries into `audit_log` in batches: one transaction reads the
tail, hashes the batch onto it in queue order and deletes the batch from the queue. Sequencers in several
processes take turns (PostgreSQL: a transaction-scoped advisory lock; SQLite: its single writer), so the chain
never forks; every process runs one, nudged right after it queues something, so an entry waits well under a second.

An entry whose `event_key` is already in the log (or earlier in the batch) is a repeat: a system action recorded
again by a retried activity is dropped; a command answered twice under one Idempotency-Key is chained as
`replayed`, so every request stays in the log while the command counts once.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Select, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from background import PeriodicJob
from domain.audit import (
    AuditDraft,
    BusinessIds,
    ChainCheck,
    ChainedEntry,
    EntryKind,
    Outcome,
    Verification,
    business_ids,
    chain,
    ids_of_target,
)
from store.db import as_utc, table_of
from store.models import App, AppClaim, AuditEntry, AuditQueueEntry, Subscription

# pg_advisory_xact_lock's key: any constant the project uses for nothing else.
_CHAIN_LOCK = 0x61756469745F6C6F  # "audit_lo"
SEQUENCE_BATCH = 500
_VERIFY_BATCH = 1_000


def _chained(row: AuditEntry) -> ChainedEntry:
    entry = ChainedEntry.model_validate(row, from_attributes=True)
    return entry.model_copy(update={"occurred_at": as_utc(entry.occurred_at)})


def _draft(row: AuditQueueEntry) -> AuditDraft:
    draft = AuditDraft.model_validate(row, from_attributes=True)
    return draft.model_copy(update={"occurred_at": as_utc(draft.occurred_at)})


# --- writing -------------------------------------------------------------------------------------


def enqueue_in(session: AsyncSession, draft: AuditDraft) -> None:
    """Queues `draft` in the caller's transaction: the entry exists exactly when the change it records does."""
    session.add(AuditQueueEntry(**draft.model_dump(), queued_at=datetime.now(UTC)))


async def enqueue_all_in(session: AsyncSession, drafts: list[AuditDraft]) -> None:
    """`enqueue_in` for several drafts at once, in one statement."""
    queued_at = datetime.now(UTC)
    rows = [{**draft.model_dump(), "queued_at": queued_at} for draft in drafts]
    await session.execute(insert(table_of(AuditQueueEntry)), rows)  # Core, not ORM: see insert_ignoring_conflict


async def enqueue(sessions: async_sessionmaker[AsyncSession], draft: AuditDraft) -> None:
    async with sessions.begin() as session:
        enqueue_in(session, draft)


async def sequence(
    sessions: async_sessionmaker[AsyncSession], *, wait: bool = True, batch: int = SEQUENCE_BATCH
) -> int:
    """Chains up to `batch` queued entries; the number taken from the queue (chained or dropped as repeats).

    `wait=False` gives up at once when another process's sequencer is at work (it takes our entries too)."""
    if not await _anything_queued(sessions):
        return 0  # a read, so an idle sequencer never takes SQLite's write lock
    async with sessions.begin() as session:
        if session.bind.dialect.name == "postgresql":
            lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
            took = await session.scalar(text(f"SELECT {lock}(:key)"), {"key": _CHAIN_LOCK})
            if took is False:
                return 0
        queued = (await session.scalars(select(AuditQueueEntry).order_by(AuditQueueEntry.id).limit(batch))).all()
        if not queued:
            return 0
        keys = {row.event_key for row in queued if row.event_key is not None}
        seen = set((await session.scalars(select(AuditEntry.event_key).where(AuditEntry.event_key.in_(keys)))).all())
        tail_row = await session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        tail = _chained(tail_row) if tail_row is not None else None
        for draft in await _with_business_ids(session, [_draft(row) for row in queued]):
            if draft.event_key is not None and draft.event_key in seen:
                if draft.kind != EntryKind.COMMAND:
                    continue  # a system action recorded again by a retried activity: the log keeps the first
                draft = draft.model_copy(update={"outcome": Outcome.REPLAYED.value, "event_key": None})
            elif draft.event_key is not None:
                seen.add(draft.event_key)
            tail = chain(draft, tail)
            session.add(AuditEntry(**tail.model_dump()))
        await session.execute(delete(AuditQueueEntry).where(AuditQueueEntry.id.in_([row.id for row in queued])))
        return len(queued)


async def _with_business_ids(session: AsyncSession, drafts: list[AuditDraft]) -> list[AuditDraft]:
    """The drafts with the business ids their writers left out: the id the target names, an onboarding's ISV and
    app, a subscription's customer, app, ISV and channel partner, from the store's records."""
    ids = [business_ids(draft).fill(ids_of_target(draft.target)) for draft in drafts]
    of_onboarding = await _onboarding_ids(
        session, {i.onboarding_id for i in ids if i.onboarding_id and not (i.isv_id and i.app_id)}
    )
    of_subscription = await _subscription_ids(
        session, {i.subscription_id for i in ids if i.subscription_id and not (i.customer_id and i.isv_id)}
    )
    ids = [
        i.fill(of_onboarding.get(i.onboarding_id or "", _NO_IDS)).fill(
            of_subscription.get(i.subscription_id or "", _NO_IDS)
        )
        for i in ids
    ]
    # A booking is chained before its workflow stores the subscription: its app (from the body) names the ISV.
    owners = await _app_owners(session, {i.app_id for i in ids if i.app_id and not i.isv_id})
    ids = [i.fill(BusinessIds(isv_id=owners.get(i.app_id or ""))) for i in ids]
    return [draft.model_copy(update=i.fields()) for draft, i in zip(drafts, ids, strict=True)]


_NO_IDS = BusinessIds()


async def _onboarding_ids(session: AsyncSession, onboarding_ids: set[str]) -> dict[str, BusinessIds]:
    """An onboarding's ISV and app: its app claim, or for apps published before claims existed, the catalogue."""
    if not onboarding_ids:
        return {}
    claims = select(AppClaim.onboarding_id, AppClaim.isv_id, AppClaim.app_id).where(
        AppClaim.onboarding_id.in_(onboarding_ids)
    )
    published = select(App.onboarding_id, App.isv_id, App.id).where(App.onboarding_id.in_(onboarding_ids))
    found: dict[str, BusinessIds] = {}
    for query in (published, claims):  # a claim, where there is one, has the last word
        for onboarding, isv, app in (await session.execute(query)).all():
            found[onboarding] = BusinessIds(onboarding_id=onboarding, isv_id=isv, app_id=app)
    return found


async def _app_owners(session: AsyncSession, app_ids: set[str]) -> dict[str, str]:
    """The ISV of each app: its claim, or its catalogue entry."""
    if not app_ids:
        return {}
    owners: dict[str, str] = {}
    for query in (
        select(App.id, App.isv_id).where(App.id.in_(app_ids)),
        select(AppClaim.app_id, AppClaim.isv_id).where(AppClaim.app_id.in_(app_ids)),
    ):
        owners |= dict((await session.execute(query)).tuples().all())
    return owners


async def _subscription_ids(session: AsyncSession, subscription_ids: set[str]) -> dict[str, BusinessIds]:
    """A subscription's customer, app, ISV and channel partner, as its latest booking names them."""
    if not subscription_ids:
        return {}
    row = Subscription
    query = (
        select(row.subscription_id, row.customer_id, row.app_id, row.isv_id, row.channel_partner_id)
        .where(row.subscription_id.in_(subscription_ids))
        .order_by(row.booked_at)
    )
    return {
        subscription: BusinessIds(
            subscription_id=subscription, customer_id=customer, app_id=app, isv_id=isv, partner_id=partner
        )
        for subscription, customer, app, isv, partner in (await session.execute(query)).all()
    }


# How often an idle process looks for queued entries: the longest an entry waits to be chained (the "maximum
# merge delay"), unless the log is read first (readers chain what is queued before they read).
SEQUENCE_INTERVAL_SECONDS = 0.25


def audit_sequencer(sessions: async_sessionmaker[AsyncSession]) -> PeriodicJob:
    """The job every process runs to chain what is queued (its own entries and, when it is first, others')."""
    return PeriodicJob("audit-sequencer", SEQUENCE_INTERVAL_SECONDS, lambda: sequence(sessions, wait=False))


async def _anything_queued(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return await session.scalar(select(AuditQueueEntry.id).limit(1)) is not None


async def drain(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Chains everything queued so far, e.g. before the log is read, so a reader sees every answered command."""
    while await sequence(sessions) == SEQUENCE_BATCH:
        pass


async def append(sessions: async_sessionmaker[AsyncSession], draft: AuditDraft) -> None:
    """Queues `draft` and chains it before returning (and whatever was queued before it)."""
    await enqueue(sessions, draft)
    await drain(sessions)


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    subject: str | None = None
    target: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    about: BusinessIds = field(default_factory=BusinessIds)  # every id given must match


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
    for column, value in where.about.fields().items():
        query = query.where(getattr(AuditEntry, column) == value)
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


@dataclass(frozen=True)
class Backlog:
    """What is not in the chain yet: queued entries, and the oldest one's age."""

    queued: int
    oldest_queued_at: datetime | None


async def backlog(sessions: async_sessionmaker[AsyncSession]) -> Backlog:
    async with sessions() as session:
        queued, oldest = (await session.execute(select(func.count(), func.min(AuditQueueEntry.queued_at)))).one()
    return Backlog(int(queued or 0), as_utc(oldest) if oldest is not None else None)
