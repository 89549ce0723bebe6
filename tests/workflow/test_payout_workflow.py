"""PayoutWorkflow on the time-skipping server: exact monthly sums per ISV, one transfer per statement, re-runs.

The helpers at the top (a payout worker with the sandbox gateway, ledger seeding, the gateway's transfers) are
shared with the schedule and API tests of payouts.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.payouts import PayoutActivities
from activities.sandbox_gateway import TRANSFER_METHOD, SandboxGateway
from domain.billing_calendar import month_key, previous_month
from domain.payouts import PayoutStatementView, StatementStatus, payout_workflow_id
from settings import Settings
from store import models
from store.db import create_session_factory
from tests.conftest import test_settings
from worker import workflow_runner
from workflows.payout import PayoutInput, PayoutResult, PayoutWorkflow

ADMIN = "admin-ada"

# (isv, month, share cents) rows of the revenue ledger.
Booking = tuple[str, str, int]
PayoutHandle = WorkflowHandle[PayoutWorkflow, PayoutResult]

# --- shared helpers ------------------------------------------------------------------------------


def payout_activities(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> PayoutActivities:
    return PayoutActivities(sessions, SandboxGateway(sessions, webhook_secret=settings.payment_webhook_secrets))


def payout_worker(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Worker:
    """The payout part of the worker, built here so these tests do not depend on worker.py's registration."""
    activities = payout_activities(sessions, settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[PayoutWorkflow],
        activities=[activities.prepare_statements, activities.transfer],
        workflow_runner=workflow_runner(),
    )


async def book(sessions: async_sessionmaker[AsyncSession], *bookings: Booking) -> None:
    """Revenue-ledger rows as paid invoices book them."""
    async with sessions.begin() as session:
        for isv, month, share in bookings:
            number = f"inv-{uuid.uuid4().hex[:12]}"
            session.add(
                models.RevenueShare(
                    invoice_number=number,
                    subscription_id=f"subscription-cust-{isv}",
                    isv_id=isv,
                    app_id=f"{isv}-app",
                    month=month,
                    net_cents=share * 2,
                    share_percent=50,
                    share_cents=share,
                    booked_at=datetime.now(UTC),
                )
            )


async def transfers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """What the sandbox gateway paid out: amount by idempotency key (one row per key)."""
    async with sessions() as session:
        rows = await session.scalars(select(models.Payment).where(models.Payment.method_type == TRANSFER_METHOD))
        return {row.idempotency_key: row.amount_cents for row in rows}


def summary(statements: list[PayoutStatementView]) -> list[tuple[str, str, int, int, str]]:
    return [(s.isv_id, s.month, s.amount_cents, s.entries, s.status) for s in statements]


# --- fixtures ------------------------------------------------------------------------------------


@dataclass
class Payouts:
    env: WorkflowEnvironment
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]

    async def start(self, month: str | None, workflow_id: str) -> PayoutHandle:
        return await self.env.client.start_workflow(
            PayoutWorkflow.run,
            PayoutInput(month=month, actor=ADMIN),
            id=workflow_id,
            task_queue=self.settings.task_queue,
        )

    async def start_scheduled(self) -> PayoutHandle:
        """As the Schedule starts it: no month, and an id that is not the month's."""
        return await self.start(None, f"payout-monthly-{uuid.uuid4().hex[:8]}")

    async def run(self, month: str) -> PayoutResult:
        return await (await self.start(month, payout_workflow_id(month))).result()


@pytest_asyncio.fixture
async def payouts(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str, migrated_engine: AsyncEngine
) -> AsyncIterator[Payouts]:
    settings = test_settings(sqlite_url)
    sessions = create_session_factory(migrated_engine)
    harness = Payouts(time_skipping_env, settings, sessions)
    async with payout_worker(time_skipping_env.client, settings, sessions):
        yield harness


# --- a month's run -------------------------------------------------------------------------------

JANUARY, FEBRUARY = "2021-01", "2021-02"
LEDGER: list[Booking] = [
    ("acme", JANUARY, 1_393),
    ("acme", JANUARY, 1_043),
    ("acme", JANUARY, 697),
    ("globex", JANUARY, 2_099),
    ("globex", JANUARY, 1),
    ("acme", FEBRUARY, 1_393),
    ("globex", FEBRUARY, 2_099),
    ("globex", FEBRUARY, 2_099),
    ("globex", FEBRUARY, 333),
    ("initech", "2021-03", 5_000),  # another month: in neither payout
]


async def test_two_months_pay_each_isv_its_exact_shares_once(payouts: Payouts):
    await book(payouts.sessions, *LEDGER)

    january = await payouts.run(JANUARY)
    february = await payouts.run(FEBRUARY)

    assert january.month == JANUARY
    assert summary(january.statements) == [
        ("acme", JANUARY, 3_133, 3, StatementStatus.TRANSFERRED),
        ("globex", JANUARY, 2_100, 2, StatementStatus.TRANSFERRED),
    ]
    assert summary(february.statements) == [
        ("acme", FEBRUARY, 1_393, 1, StatementStatus.TRANSFERRED),
        ("globex", FEBRUARY, 4_531, 3, StatementStatus.TRANSFERRED),
    ]
    assert all(s.transfer_id and s.transferred_at for s in january.statements + february.statements)
    assert await transfers(payouts.sessions) == {
        "payout-acme-2021-01": 3_133,
        "payout-globex-2021-01": 2_100,
        "payout-acme-2021-02": 1_393,
        "payout-globex-2021-02": 4_531,
    }


async def test_re_running_a_month_transfers_nothing_twice(payouts: Payouts):
    await book(payouts.sessions, *LEDGER)
    first = await payouts.run(JANUARY)
    # An invoice of January paid late: the transferred statements stay as they were.
    await book(payouts.sessions, ("acme", JANUARY, 500))

    again = await payouts.run(JANUARY)

    assert again.statements == first.statements
    assert await transfers(payouts.sessions) == {"payout-acme-2021-01": 3_133, "payout-globex-2021-01": 2_100}


async def test_a_month_with_nothing_to_pay_makes_no_statement(payouts: Payouts):
    await book(payouts.sessions, ("acme", "2021-04", 0))

    result = await payouts.run("2021-04")

    assert result.statements == []
    assert await transfers(payouts.sessions) == {}


async def test_a_refused_transfer_marks_its_statement_failed_and_pays_the_others(payouts: Payouts):
    # The sandbox refuses transfers to this ISV (account closed).
    await book(payouts.sessions, ("isv-account-closed", "2021-05", 900), ("acme", "2021-05", 100))

    result = await payouts.run("2021-05")
    again = await payouts.run("2021-05")

    assert summary(result.statements) == [
        ("acme", "2021-05", 100, 1, StatementStatus.TRANSFERRED),
        ("isv-account-closed", "2021-05", 900, 1, StatementStatus.FAILED),
    ]
    assert summary(again.statements) == summary(result.statements)
    assert set(await transfers(payouts.sessions)) == {"payout-acme-2021-05", "payout-isv-account-closed-2021-05"}


async def test_a_month_that_has_not_ended_is_refused(payouts: Payouts):
    current = month_key(await payouts.env.get_current_time())
    await book(payouts.sessions, ("acme", current, 100))

    with pytest.raises(WorkflowFailureError) as failed:
        await payouts.run(current)

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "month_not_ended"
    assert await transfers(payouts.sessions) == {}


# --- the scheduled run (month None) --------------------------------------------------------------


async def test_a_scheduled_run_pays_the_previous_month_of_its_clock_under_the_months_id(payouts: Payouts):
    previous = previous_month(await payouts.env.get_current_time())
    await book(payouts.sessions, ("acme", previous, 1_111), ("acme", previous, 2_222), ("globex", previous, 3))

    result = await (await payouts.start_scheduled()).result()

    assert result.month == previous
    assert summary(result.statements) == [
        ("acme", previous, 3_333, 2, StatementStatus.TRANSFERRED),
        ("globex", previous, 3, 1, StatementStatus.TRANSFERRED),
    ]
    month_run = await payouts.env.client.get_workflow_handle(payout_workflow_id(previous)).describe()
    assert month_run.status == WorkflowExecutionStatus.COMPLETED
    assert month_run.parent_id is not None and month_run.parent_id.startswith("payout-monthly-")


@workflow.defn(sandboxed=False)  # defined in a test module, which the sandbox should not re-import
class MonthInFlight:
    """Holds a month's workflow id, as a long run of that month would; idle, so the test server skips time."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def test_a_scheduled_run_waits_out_a_run_of_the_month_in_flight(payouts: Payouts):
    previous = previous_month(await payouts.env.get_current_time())
    await book(payouts.sessions, ("acme", previous, 4_321))
    queue = f"in-flight-{uuid.uuid4()}"
    async with Worker(payouts.env.client, task_queue=queue, workflows=[MonthInFlight]):
        in_flight = await payouts.env.client.start_workflow(
            MonthInFlight.run, id=payout_workflow_id(previous), task_queue=queue
        )
        scheduled = await payouts.start_scheduled()
        await payouts.env.sleep(timedelta(minutes=3))
        assert await transfers(payouts.sessions) == {}

        await in_flight.terminate("the other run of the month is over")
        result = await scheduled.result()

    assert summary(result.statements) == [("acme", previous, 4_321, 1, StatementStatus.TRANSFERRED)]
    assert await transfers(payouts.sessions) == {f"payout-acme-{previous}": 4_321}


# --- the statements activity on its own: ledger entries booked after a statement was made ----------


async def test_a_prepared_statement_takes_late_entries_and_a_transferred_one_keeps_its_amount(
    sqlite_url: str, migrated_engine: AsyncEngine
):
    sessions = create_session_factory(migrated_engine)
    activities = payout_activities(sessions, test_settings(sqlite_url))
    env = ActivityEnvironment()
    await book(sessions, ("acme", "2021-06", 1_000))
    [prepared] = await env.run(activities.prepare_statements, "2021-06")

    await book(sessions, ("acme", "2021-06", 234))
    [updated] = await env.run(activities.prepare_statements, "2021-06")
    transferred = await env.run(activities.transfer, updated)
    again = await env.run(activities.transfer, updated)
    await book(sessions, ("acme", "2021-06", 66))
    [kept] = await env.run(activities.prepare_statements, "2021-06")

    assert (prepared.amount_cents, prepared.entries) == (1_000, 1)
    assert (updated.amount_cents, updated.entries, updated.status) == (1_234, 2, StatementStatus.PREPARED)
    assert transferred.status == StatementStatus.TRANSFERRED
    assert again == transferred
    assert kept == transferred
    assert await transfers(sessions) == {"payout-acme-2021-06": 1_234}
