"""The audit log in the database: a hash chain that verifies, rows the database refuses to change, and
verification that names the first row someone changed or removed behind the database's back."""

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.audit import AuditDraft, EntryKind, Outcome, SystemAction
from store import audit, idempotency
from store.audit import LogFilter
from store.db import create_session_factory
from store.idempotency import ClaimState

AT = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=UTC)


def command(n: int, subject: str = "pm-anna", target: str = "onboarding-acme-crm") -> AuditDraft:
    return AuditDraft(
        kind=EntryKind.COMMAND,
        subject=subject,
        role="partner_manager",
        action="onboarding.advance",
        target=target,
        outcome=Outcome.ACCEPTED if n % 2 else Outcome.REFUSED,
        occurred_at=AT + timedelta(seconds=n),
        request_id=f"req-{n}",
        status_code=200 if n % 2 else 409,
        payload_digest="ab" * 32,
        detail=None if n % 2 else "criteria_unmet",
    )


def sessions_of(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


async def fill(engine: AsyncEngine, count: int) -> async_sessionmaker[AsyncSession]:
    sessions = sessions_of(engine)
    for n in range(1, count + 1):
        await audit.append(sessions, command(n))
    return sessions


async def as_dba(engine: AsyncEngine, statement: str) -> None:
    """Changes the table the way only someone who can drop the append-only triggers could."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            await connection.execute(text(statement))
            await connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            await connection.execute(text("DROP TRIGGER audit_log_no_update"))
            await connection.execute(text("DROP TRIGGER audit_log_no_delete"))
            await connection.execute(text(statement))


async def test_appended_entries_form_a_chain_that_verifies(migrated_database: AsyncEngine):
    sessions = await fill(migrated_database, 5)
    result = await audit.verify(sessions)
    assert result.ok and result.checked == 5 and result.first_broken is None
    read = [entry async for entry in audit.entries(sessions)]
    assert [entry.seq for entry in read] == [1, 2, 3, 4, 5]
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(read))
    assert read[0].occurred_at == AT + timedelta(seconds=1)
    assert result.last_hash == read[-1].hash


async def test_an_empty_log_verifies(migrated_database: AsyncEngine):
    result = await audit.verify(sessions_of(migrated_database))
    assert result.ok and result.checked == 0


async def test_concurrent_appends_keep_one_unbroken_chain(migrated_database: AsyncEngine):
    sessions = sessions_of(migrated_database)
    await asyncio.gather(*(audit.append(sessions, command(n)) for n in range(1, 21)))
    result = await audit.verify(sessions)
    assert result.ok and result.checked == 20


async def test_a_system_action_with_an_event_key_is_recorded_once(migrated_database: AsyncEngine):
    sessions = sessions_of(migrated_database)
    draft = AuditDraft(
        kind=EntryKind.SYSTEM,
        subject="system",
        role="system",
        action=SystemAction.INVOICE_ISSUED,
        target="subscription-cust-crm",
        outcome=Outcome.DONE,
        occurred_at=AT,
        event_key="invoice.issued:INV-1",
    )
    await audit.append(sessions, draft)
    await audit.append(sessions, draft)
    assert await audit.count(sessions) == 1


async def test_a_command_answered_twice_under_one_key_counts_once_and_the_second_reads_replayed(
    migrated_database: AsyncEngine,
):
    sessions = sessions_of(migrated_database)
    first = command(1).model_copy(update={"idempotency_key": "k-1", "event_key": "command:pm-anna:k-1"})
    second = first.model_copy(update={"request_id": "req-2"})
    await audit.enqueue(sessions, first)
    await audit.enqueue(sessions, second)
    await audit.drain(sessions)
    outcomes = [(entry.request_id, entry.outcome) async for entry in audit.entries(sessions)]
    assert outcomes == [("req-1", Outcome.ACCEPTED), ("req-2", Outcome.REPLAYED)]
    assert (await audit.verify(sessions)).ok


async def test_queued_entries_wait_outside_the_chain_until_a_sequencer_takes_them(migrated_database: AsyncEngine):
    sessions = sessions_of(migrated_database)
    for n in range(1, 4):
        await audit.enqueue(sessions, command(n))
    assert await audit.count(sessions) == 0
    assert (await audit.backlog(sessions)).queued == 3
    assert await audit.sequence(sessions, batch=2) == 2
    assert await audit.sequence(sessions, batch=2) == 1
    assert await audit.sequence(sessions) == 0
    assert ((await audit.backlog(sessions)).queued, await audit.count(sessions)) == (0, 3)
    assert [entry.request_id async for entry in audit.entries(sessions)] == ["req-1", "req-2", "req-3"]


async def test_concurrent_sequencers_never_fork_the_chain(migrated_database: AsyncEngine):
    sessions = sessions_of(migrated_database)
    other_process = sessions_of(migrated_database)  # a second pool, as another process would have
    await asyncio.gather(*(audit.enqueue(sessions, command(n)) for n in range(1, 41)))
    await asyncio.gather(
        *(audit.sequence(pool, batch=7) for _ in range(6) for pool in (sessions, other_process)),
        audit.drain(sessions),
    )
    await audit.drain(other_process)
    result = await audit.verify(sessions)
    assert result.ok and result.checked == 40


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET subject = 'someone-else'", "DELETE FROM audit_log"])
async def test_the_database_refuses_to_change_or_remove_audit_rows(migrated_database: AsyncEngine, statement: str):
    sessions = await fill(migrated_database, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        async with migrated_database.begin() as connection:
            await connection.execute(text(statement))
    assert (await audit.verify(sessions)).checked == 2


@pytest.mark.postgres
async def test_postgres_refuses_truncating_the_audit_log(backend: str, migrated_database: AsyncEngine):
    if backend != "postgres":
        pytest.skip("TRUNCATE triggers are PostgreSQL's")
    await fill(migrated_database, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        async with migrated_database.begin() as connection:
            await connection.execute(text("TRUNCATE audit_log"))


async def test_verify_names_the_first_row_whose_content_was_changed(migrated_database: AsyncEngine):
    sessions = await fill(migrated_database, 6)
    await as_dba(migrated_database, "UPDATE audit_log SET outcome = 'accepted', detail = NULL WHERE seq = 4")
    result = await audit.verify(sessions)
    assert not result.ok
    assert result.checked == 3
    assert result.first_broken is not None and result.first_broken.seq == 4
    assert "changed" in result.first_broken.reason


async def test_verify_names_the_row_after_one_that_was_removed(migrated_database: AsyncEngine):
    sessions = await fill(migrated_database, 5)
    await as_dba(migrated_database, "DELETE FROM audit_log WHERE seq = 3")
    result = await audit.verify(sessions)
    assert not result.ok and result.first_broken is not None
    assert result.first_broken.seq == 4
    assert "missing" in result.first_broken.reason


async def test_verify_notices_a_rewritten_row_even_when_its_hash_was_recomputed(migrated_database: AsyncEngine):
    # Someone who edits a row and fixes its own hash still breaks the link to the row after it.
    sessions = await fill(migrated_database, 4)
    await as_dba(migrated_database, "UPDATE audit_log SET hash = 'f' || substr(hash, 2) WHERE seq = 2")
    result = await audit.verify(sessions)
    assert result.first_broken is not None and result.first_broken.seq == 2


async def test_the_log_filters_by_subject_target_and_time(migrated_database: AsyncEngine):
    sessions = sessions_of(migrated_database)
    for n in range(1, 7):
        subject = "pm-anna" if n <= 3 else "pm-ben"
        await audit.append(sessions, command(n, subject=subject, target=f"onboarding-{n % 2}"))
    by_subject = await audit.page(sessions, LogFilter(subject="pm-ben"), 0, 10)
    assert [entry.seq for entry in by_subject] == [4, 5, 6]
    by_target = await audit.page(sessions, LogFilter(target="onboarding-1"), 0, 10)
    assert [entry.seq for entry in by_target] == [1, 3, 5]
    window = LogFilter(since=AT + timedelta(seconds=2), until=AT + timedelta(seconds=4))
    assert [entry.seq for entry in await audit.page(sessions, window, 0, 10)] == [2, 3]
    assert [entry.seq for entry in await audit.page(sessions, LogFilter(), 2, 2)] == [3, 4]


async def claim(sessions: async_sessionmaker[AsyncSession], subject: str, fingerprint: str) -> idempotency.Claim:
    async with sessions.begin() as session:
        return await idempotency.claim(session, subject, "key-1", fingerprint, AT)


async def answer(sessions: async_sessionmaker[AsyncSession], body: bytes) -> bool:
    async with sessions.begin() as session:
        return await idempotency.answer(session, "pm-anna", "key-1", 200, "application/json", body)


async def test_an_idempotency_key_runs_until_answered_then_replays_and_is_refused_for_another_request(
    migrated_database: AsyncEngine,
):
    sessions = sessions_of(migrated_database)
    assert (await claim(sessions, "pm-anna", "print-a")).state == ClaimState.RUN
    # Not answered yet (still running, or its process died): the same request runs again, idempotently.
    assert (await claim(sessions, "pm-anna", "print-a")).state == ClaimState.RUN
    assert await answer(sessions, b'{"ok":1}')
    again = await claim(sessions, "pm-anna", "print-a")
    assert (again.state, again.status_code, again.body) == (ClaimState.ANSWERED, 200, b'{"ok":1}')
    assert (await claim(sessions, "pm-anna", "print-b")).state == ClaimState.OTHER_REQUEST
    # Keys belong to their caller: another subject's identical key is a new claim.
    assert (await claim(sessions, "pm-ben", "print-b")).state == ClaimState.RUN


async def test_the_first_answer_to_a_key_is_the_one_kept(migrated_database: AsyncEngine):
    sessions = sessions_of(migrated_database)
    await claim(sessions, "pm-anna", "print-a")
    assert await answer(sessions, b'{"first":1}')
    assert not await answer(sessions, b'{"second":1}')
    assert (await claim(sessions, "pm-anna", "print-a")).body == b'{"first":1}'


async def test_concurrent_claims_of_one_key_leave_one_record(migrated_database: AsyncEngine):
    sessions = sessions_of(migrated_database)
    claims = await asyncio.gather(*(claim(sessions, "pm-anna", "print-a") for _ in range(16)))
    assert {found.state for found in claims} == {ClaimState.RUN}
    assert await answer(sessions, b"{}")
    assert not await answer(sessions, b"{}")
