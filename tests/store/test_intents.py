"""Command intents: recovery takes exactly those no request will settle (handed over, this process's own that it no
longer answers, a stopped process's), never a live request's; settling replaces an intent by its entry once."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.audit import AuditDraft, EntryKind, Outcome
from store import audit, intents
from store.db import create_session_factory
from store.intents import HEARTBEAT_STALE_AFTER
from store.models import CommandIntent

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ME, OTHER = "process-me", "process-other"


@pytest.fixture
def sessions(migrated_database: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(migrated_database)


async def write(
    sessions: async_sessionmaker[AsyncSession],
    request_id: str,
    owner: str | None,
    age: timedelta = timedelta(minutes=1),
    key: str | None = None,
) -> None:
    async with sessions.begin() as session:
        intents.record(
            session,
            CommandIntent(
                request_id=request_id,
                command_id=key or request_id,
                subject="pm-anna",
                role="partner_manager",
                action="onboarding.hold",
                target="onboarding-acme-crm",
                idempotency_key=key,
                payload_digest=None,
                started_at=NOW - age,
                owner=owner,
            ),
        )


def entry_for(intent: CommandIntent) -> AuditDraft:
    return AuditDraft(
        kind=EntryKind.COMMAND,
        subject=intent.subject,
        role=intent.role,
        action=intent.action,
        target=intent.target,
        outcome=Outcome.REPLAYED,
        occurred_at=NOW,
        request_id=intent.request_id,
    )


async def orphaned(sessions: async_sessionmaker[AsyncSession], live: set[str] | None = None) -> list[str]:
    found = await intents.orphans(sessions, owner=ME, live=live or set(), now=NOW)
    return sorted(intent.request_id for intent in found)


async def test_handed_over_and_own_unanswered_intents_are_orphans_but_live_requests_are_not(
    sessions: async_sessionmaker[AsyncSession],
):
    await intents.beat(sessions, ME, NOW)
    await write(sessions, "handed-over", None)
    await write(sessions, "mine-unanswered", ME)
    await write(sessions, "mine-running", ME)
    assert await orphaned(sessions, live={"mine-running"}) == ["handed-over", "mine-unanswered"]


async def test_a_stopped_process_intents_are_orphans_once_its_heartbeat_is_stale(
    sessions: async_sessionmaker[AsyncSession],
):
    await intents.beat(sessions, OTHER, NOW)
    await write(sessions, "other-running", OTHER)
    assert await orphaned(sessions) == []  # its heartbeat is fresh: it is answering that request

    await intents.beat(sessions, OTHER, NOW - HEARTBEAT_STALE_AFTER - timedelta(seconds=1))
    assert await orphaned(sessions) == ["other-running"]


async def test_a_young_intent_of_a_process_without_a_heartbeat_yet_is_left_alone(
    sessions: async_sessionmaker[AsyncSession],
):
    await write(sessions, "just-started", "process-new", age=timedelta(seconds=1))
    assert await orphaned(sessions) == []


async def test_settling_replaces_the_intent_by_its_entry_once(sessions: async_sessionmaker[AsyncSession]):
    await write(sessions, "req-1", ME)
    [intent] = await intents.orphans(sessions, owner=ME, live=set(), now=NOW)
    assert await intents.resolve(sessions, "req-1", entry_for(intent))
    assert not await intents.resolve(sessions, "req-1", entry_for(intent))
    await audit.drain(sessions)
    assert (await intents.count(sessions), await audit.count(sessions)) == (0, 1)


async def test_an_answered_command_settles_the_earlier_attempts_with_its_key_only(
    sessions: async_sessionmaker[AsyncSession],
):
    await write(sessions, "died", OTHER, age=timedelta(minutes=2), key="k-1")
    await write(sessions, "other-key", OTHER, age=timedelta(minutes=2), key="k-2")
    await write(sessions, "later", OTHER, age=timedelta(seconds=1), key="k-1")
    async with sessions.begin() as session:
        settled = await intents.settle_earlier_attempts(
            session, "pm-anna", "k-1", NOW - timedelta(minutes=1), entry_for
        )
    assert settled == 1
    await audit.drain(sessions)
    assert [entry.request_id async for entry in audit.entries(sessions)] == ["died"]
    assert await intents.count(sessions) == 2
