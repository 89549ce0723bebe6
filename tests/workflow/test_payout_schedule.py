"""The monthly payout Schedule on a real dev server (the time-skipping server implements no Schedules)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    ScheduleRange,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.payouts import statement_view
from domain.billing_calendar import previous_month
from domain.payouts import PayoutStatementView, StatementStatus
from schedules import PAYOUT_SCHEDULE_ID, ensure_payout_schedule
from store import models
from store.db import create_session_factory
from tests.conftest import test_settings
from tests.workflow.test_payout_workflow import book, payout_worker, summary, transfers


async def delete_schedule(client: Client) -> None:
    try:
        await client.get_schedule_handle(PAYOUT_SCHEDULE_ID).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise


@pytest_asyncio.fixture
async def client(dev_server_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    await delete_schedule(dev_server_env.client)
    yield dev_server_env.client
    await delete_schedule(dev_server_env.client)


async def describe(client: Client) -> ScheduleDescription:
    return await client.get_schedule_handle(PAYOUT_SCHEDULE_ID).describe()


def start_action(description: ScheduleDescription) -> ScheduleActionStartWorkflow:
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    return action


async def test_the_schedule_starts_the_payout_at_2_on_the_1st_of_each_month_in_berlin(client: Client, sqlite_url: str):
    settings = test_settings(sqlite_url)
    await ensure_payout_schedule(client, settings)

    description = await describe(client)

    [calendar] = description.schedule.spec.calendars
    assert calendar.day_of_month == (ScheduleRange(1),)
    assert (calendar.hour, calendar.minute, calendar.second) == (
        (ScheduleRange(2),),
        (ScheduleRange(0),),
        (ScheduleRange(0),),
    )
    assert calendar.month == (ScheduleRange(1, 12),)
    assert description.schedule.spec.time_zone_name == "Europe/Berlin"
    action = start_action(description)
    assert (action.workflow, action.task_queue) == ("PayoutWorkflow", settings.task_queue)
    next_run = description.info.next_action_times[0].astimezone(UTC)
    assert next_run.day == 1 and next_run.hour in (0, 1)  # 02:00 in Berlin, summer or winter time


async def test_ensuring_the_schedule_again_leaves_it_as_it_is(client: Client, sqlite_url: str):
    settings = test_settings(sqlite_url)
    await ensure_payout_schedule(client, settings)
    await client.get_schedule_handle(PAYOUT_SCHEDULE_ID).pause(note="operator pause")
    before = await describe(client)

    await ensure_payout_schedule(client, settings)

    description = await describe(client)
    assert description.info.last_updated_at == before.info.last_updated_at
    assert description.schedule.state.paused
    assert start_action(description).task_queue == settings.task_queue


async def test_a_schedule_with_another_action_is_brought_up_to_date_and_keeps_its_state(
    client: Client, sqlite_url: str
):
    await ensure_payout_schedule(client, test_settings(sqlite_url, task_queue="old-queue"))
    await client.get_schedule_handle(PAYOUT_SCHEDULE_ID).pause(note="operator pause")
    settings = test_settings(sqlite_url)

    await ensure_payout_schedule(client, settings)

    description = await describe(client)
    assert start_action(description).task_queue == settings.task_queue
    assert description.schedule.state.paused
    assert description.schedule.state.note == "operator pause"


async def test_a_triggered_schedule_pays_the_previous_month(
    client: Client, sqlite_url: str, migrated_engine: AsyncEngine
):
    settings = test_settings(sqlite_url)
    sessions = create_session_factory(migrated_engine)
    month = previous_month(datetime.now(UTC))
    await book(sessions, ("acme", month, 1_999), ("acme", month, 1), ("globex", month, 4_217))
    await ensure_payout_schedule(client, settings)

    async with payout_worker(client, settings, sessions):
        await client.get_schedule_handle(PAYOUT_SCHEDULE_ID).trigger()
        statements = await transferred_statements(migrated_engine, month, count=2)

    assert summary(statements) == [
        ("acme", month, 2_000, 2, StatementStatus.TRANSFERRED),
        ("globex", month, 4_217, 1, StatementStatus.TRANSFERRED),
    ]
    assert await transfers(sessions) == {f"payout-acme-{month}": 2_000, f"payout-globex-{month}": 4_217}


async def test_a_run_caught_up_for_a_past_1st_pays_the_month_before_that_1st(
    client: Client, sqlite_url: str, migrated_engine: AsyncEngine
):
    settings = test_settings(sqlite_url)
    sessions = create_session_factory(migrated_engine)
    await book(sessions, ("acme", "2024-01", 1_234), ("acme", "2024-02", 99))
    await ensure_payout_schedule(client, settings)

    async with payout_worker(client, settings, sessions):
        # As after an outage: the run due on 1 Feb 2024, 02:00 in Berlin (01:00 UTC), starts today.
        backfill = ScheduleBackfill(
            start_at=datetime(2024, 2, 1, 0, 30, tzinfo=UTC),
            end_at=datetime(2024, 2, 1, 1, 30, tzinfo=UTC),
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
        )
        await client.get_schedule_handle(PAYOUT_SCHEDULE_ID).backfill(backfill)
        statements = await transferred_statements(migrated_engine, "2024-01", count=1)

    assert summary(statements) == [("acme", "2024-01", 1_234, 1, StatementStatus.TRANSFERRED)]
    assert await transfers(sessions) == {"payout-acme-2024-01": 1_234}


async def transferred_statements(engine: AsyncEngine, month: str, count: int) -> list[PayoutStatementView]:
    """The month's statements once `count` of them are transferred, polling the store for up to 15 s."""
    sessions = create_session_factory(engine)
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        async with sessions() as session:
            query = select(models.PayoutStatement).where(models.PayoutStatement.month == month)
            statements = [statement_view(row) for row in await session.scalars(query.order_by("isv_id"))]
        done = [s for s in statements if s.status == StatementStatus.TRANSFERRED]
        if len(done) >= count or asyncio.get_running_loop().time() > deadline:
            return statements
        await asyncio.sleep(0.2)
