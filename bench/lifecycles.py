"""What a subscription's lifecycle costs against what the engine needs: `python -m bench.lifecycles [--quick]`.

Each figure compares the real SubscriptionWorkflow (real worker, fresh SQLite store, fresh time-skipping server)
with BareLifecycleWorkflow (bench/bare_lifecycle.py: the same timers, one trivial activity per invoice) measured in
the same run on the same kind of server:

- 50 full 12-month lifecycles (30-day trial, 12 monthly invoices, cancel mid-term, 30-day suspend mode, terminated):
  wall time, and activities and workflow tasks per lifecycle counted from the histories;
- worker memory per open workflow: a worker in a process of its own holds N subscriptions in their trial (all
  cached), its RSS growth divided by N;
- a trial-end storm: N trials ending at the same instant, all processed, no workflow task timing out.

The time-skipping server moves its clock only in `env.sleep` steps of at most 30 days (one `env.sleep` spanning months
over hundreds of workflows outlasted the RPC timeout), and results are read one at a time (many clients waiting on
results at once broke it).
"""

import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.bare_lifecycle import BareLifecycleWorkflow, bare_invoice
from bench.figures import Figure, ratio_figure, render
from devstack import time_skipping_server
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import BookedPlan, BookingRequest, CancelCommand, SubscriptionStatus
from settings import Settings
from store import catalogue, migrate, models
from store.db import create_engine, create_session_factory
from worker import create_worker, workflow_runner
from workflows.subscription import SubscriptionInput, SubscriptionWorkflow

ROOT = Path(__file__).resolve().parent.parent
ISV = "bench-isv"
APP = "bench-crm"
TRIAL_DAYS = 30
MONTHLY_PRICE_CENTS = 1_990
TERM_MONTHS = 12
CANCEL_AFTER_DAYS = TRIAL_DAYS + 150  # mid-term
LIFECYCLE_DAYS = TRIAL_DAYS + 366 + SUBSCRIPTIONS.suspend_days + 3  # past term end and suspend mode
CARD = {"type": "credit_card", "token": "tok_success"}
SLEEP_STEP_DAYS = 30
START_BATCH = 25


@dataclass
class Store:
    url: str
    engine: AsyncEngine
    directory: Path

    def settings(self, task_queue: str) -> Settings:
        return Settings.model_validate(
            {
                "database_url": self.url,
                "task_queue": task_queue,
                "export_dir": self.directory / "exports",
                "payout_schedule": False,
            }
        )

    async def count(self, model: Any, **where: Any) -> int:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        async with self.engine.connect() as connection:
            return int(await connection.scalar(query) or 0)

    async def reached(self, model: Any, total: int, **where: Any) -> bool:
        return await self.count(model, **where) >= total


async def until(condition: Callable[[], Awaitable[bool]], interval: float = 0.05) -> None:
    while True:
        if await condition():
            return
        await asyncio.sleep(interval)


@asynccontextmanager
async def fresh_store() -> AsyncIterator[Store]:
    """A migrated SQLite store with one published app."""
    with tempfile.TemporaryDirectory(prefix="bench-lifecycles-") as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'partnerflow.db'}"
        engine = create_engine(url)
        await migrate.upgrade(engine)
        prices = {TERM_MONTHS: MONTHLY_PRICE_CENTS}
        await catalogue.publish_live_app(create_session_factory(engine), ISV, APP, prices, datetime.now(UTC))
        try:
            yield Store(url, engine, Path(directory))
        finally:
            await engine.dispose()


def subscription_input(index: int, booked_at: datetime | None = None) -> SubscriptionInput:
    customer = f"cust-{index:05d}-{uuid.uuid4().hex[:6]}"
    request = BookingRequest.model_validate(
        {
            "customer": {"id": customer, "name": "Beispiel GmbH", "employees": 42},
            "app_id": APP,
            "term_months": TERM_MONTHS,
            "payment_method": CARD,
        }
    )
    plan = BookedPlan(
        app_id=APP,
        app_name="Bench CRM",
        isv_id=ISV,
        term_months=TERM_MONTHS,
        monthly_price_cents=MONTHLY_PRICE_CENTS,
        revenue_share_percent=70.0,
        trial_days=TRIAL_DAYS,
    )
    return SubscriptionInput(
        subscription_id=f"{customer}-{APP}", actor="bench", request=request, plan=plan, booked_at=booked_at
    )


async def start_real(client: Client, task_queue: str, count: int, booked_at: datetime | None = None) -> list[Any]:
    async def start(index: int) -> Any:
        input = subscription_input(index, booked_at)
        return await client.start_workflow(
            SubscriptionWorkflow.run, input, id=f"subscription-{input.subscription_id}", task_queue=task_queue
        )

    return await _in_batches(start, count)


async def start_bare(client: Client, task_queue: str, count: int) -> list[Any]:
    async def start(index: int) -> Any:
        return await client.start_workflow(
            BareLifecycleWorkflow.run,
            args=[TRIAL_DAYS, TERM_MONTHS],
            id=f"bare-{index:05d}-{uuid.uuid4().hex[:6]}",
            task_queue=task_queue,
        )

    return await _in_batches(start, count)


async def _in_batches(start: Callable[[int], Awaitable[Any]], count: int) -> list[Any]:
    handles: list[Any] = []
    for first in range(0, count, START_BATCH):
        handles += await asyncio.gather(*(start(index) for index in range(first, min(first + START_BATCH, count))))
    return handles


async def sleep_days(env: WorkflowEnvironment, days: float) -> None:
    left = days
    while left > 0:
        step = min(SLEEP_STEP_DAYS, left)
        await env.sleep(timedelta(days=step))
        left -= step


@dataclass(frozen=True)
class HistoryCounts:
    activities: float
    workflow_tasks: float
    task_timeouts: int


async def history_counts(handles: Sequence[WorkflowHandle[Any, Any]]) -> HistoryCounts:
    """Per workflow on average (all runs of it, should it have continued as new); timeouts in total."""
    activities = tasks = timeouts = 0
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                activities += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                tasks += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                timeouts += 1
    count = max(len(handles), 1)
    return HistoryCounts(activities / count, tasks / count, timeouts)


def bare_worker(client: Client, task_queue: str, max_cached: int = 10_000) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareLifecycleWorkflow],
        activities=[bare_invoice],
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached,
    )


# --- (a) full lifecycles ----------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleRun:
    """A timed run (lifecycles or a storm) and what its histories counted."""

    seconds: float
    counts: HistoryCounts


async def _drive_lifecycles(
    env: WorkflowEnvironment, handles: list[Any], cancel: Callable[[Any], Awaitable[Any]], check: Callable[[Any], bool]
) -> None:
    await sleep_days(env, CANCEL_AFTER_DAYS)
    for handle in handles:
        await cancel(handle)
    await sleep_days(env, LIFECYCLE_DAYS - CANCEL_AFTER_DAYS)
    for handle in handles:
        result = await handle.result()
        if not check(result):
            raise RuntimeError(f"{handle.id} ended unexpectedly: {result!r}")


async def real_lifecycles(count: int) -> LifecycleRun:
    async with time_skipping_server() as env, fresh_store() as store:
        task_queue = f"bench-real-{uuid.uuid4().hex[:8]}"
        async with create_worker(env.client, store.settings(task_queue), max_cached_workflows=10_000):
            started = time.perf_counter()
            handles = await start_real(env.client, task_queue, count)
            await _drive_lifecycles(
                env,
                handles,
                lambda handle: handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor="bench")),
                lambda view: view.status == SubscriptionStatus.TERMINATED and view.invoices_issued == TERM_MONTHS,
            )
            seconds = time.perf_counter() - started
            return LifecycleRun(seconds, await history_counts(handles))


async def bare_lifecycles(count: int) -> LifecycleRun:
    async with time_skipping_server() as env:
        task_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
        async with bare_worker(env.client, task_queue):
            started = time.perf_counter()
            handles = await start_bare(env.client, task_queue, count)
            await _drive_lifecycles(
                env,
                handles,
                lambda handle: handle.execute_update(BareLifecycleWorkflow.cancel),
                lambda invoices: invoices == TERM_MONTHS,
            )
            seconds = time.perf_counter() - started
            return LifecycleRun(seconds, await history_counts(handles))


async def alternating(
    bare: Callable[[], Awaitable[LifecycleRun]], real: Callable[[], Awaitable[LifecycleRun]], rounds: int
) -> tuple[list[LifecycleRun], list[LifecycleRun]]:
    """`rounds` runs of each, alternating, so that a busy moment of the machine skews neither."""
    bares: list[LifecycleRun] = []
    reals: list[LifecycleRun] = []
    for _ in range(rounds):
        bares.append(await bare())
        reals.append(await real())
    return bares, reals


def fastest(runs: list[LifecycleRun]) -> LifecycleRun:
    return min(runs, key=lambda run: run.seconds)


async def lifecycle_figures(count: int, rounds: int = 2) -> list[Figure]:
    """The best of `rounds` alternating runs of each."""
    bares, reals = await alternating(lambda: bare_lifecycles(count), lambda: real_lifecycles(count), rounds)
    bare, real = fastest(bares), fastest(reals)
    detail = (
        f"{count} lifecycles of {TERM_MONTHS} invoices each, best of {rounds} runs; per lifecycle: "
        f"{real.counts.activities:g} activities / {real.counts.workflow_tasks:g} workflow tasks "
        f"(bare {bare.counts.activities:g} / {bare.counts.workflow_tasks:g})"
    )
    return [
        ratio_figure(
            f"{count} 12-month lifecycles, time-skipped",
            real.seconds,
            "s",
            bare.seconds,
            "bare workflow, same timers, 1 activity/invoice",
            2.5,
            detail,
        ),
        Figure(
            "activities per lifecycle",
            real.counts.activities,
            "",
            bare.counts.activities,
            "bare workflow",
            "(count)",
            True,
        ),
        Figure(
            "workflow tasks per lifecycle",
            real.counts.workflow_tasks,
            "",
            bare.counts.workflow_tasks,
            "bare workflow",
            "(count)",
            True,
        ),
    ]


# --- (b) worker memory per open workflow ------------------------------------------------------


class WorkerProcess:
    """bench/lifecycle_worker.py in a process of its own, asked for its RSS over a pipe."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, kind: str, address: str, task_queue: str, store: Store, max_cached: int) -> "WorkerProcess":
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.lifecycle_worker",
            kind,
            address,
            task_queue,
            store.url,
            str(store.directory / "exports"),
            str(max_cached),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = cls(process)
        if await worker._line("ready") != "":
            raise RuntimeError(f"the {kind} worker process did not start")
        return worker

    async def _line(self, prefix: str = "") -> str:
        """The next line starting with `prefix` (without it); other output (logs) is skipped."""
        assert self._process.stdout is not None
        while True:
            line = (await self._process.stdout.readline()).decode()
            if not line:
                raise RuntimeError("the worker process ended")
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()

    async def rss_kib(self) -> int:
        assert self._process.stdin is not None
        self._process.stdin.write(b"rss\n")
        await self._process.stdin.drain()
        return int(await self._line("rss "))

    async def stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(b"stop\n")
        await self._process.stdin.drain()
        await self._process.wait()


async def _settled_real(store: Store, handles: Sequence[Any], total: int) -> None:
    """Every subscription has run its start (recorded, provisioned) and waits for its trial's end."""
    await until(lambda: store.reached(models.ConnectorCallRow, total, action="provision"))
    for handle in handles:
        await handle.query(SubscriptionWorkflow.view)


async def _settled_bare(handles: Sequence[Any]) -> None:
    for handle in handles:
        await handle.query(BareLifecycleWorkflow.invoices)


async def memory_per_workflow(kind: str, count: int) -> float:
    """KiB of worker RSS per open workflow: growth from `warm_up` to `warm_up + count` open workflows.

    The warm-up is large enough for the worker's fixed costs to have grown to their working size first (the store's
    connection pool and caches, the SDK's buffers): what is measured is what each further open workflow holds."""
    warm_up = max(100, count // 4)
    async with time_skipping_server() as env, fresh_store() as store:
        task_queue = f"bench-memory-{kind}-{uuid.uuid4().hex[:8]}"
        address = env.client.service_client.config.target_host
        worker = await WorkerProcess.start(kind, address, task_queue, store, max_cached=2 * (count + warm_up))
        try:
            first = await (start_real if kind == "real" else start_bare)(env.client, task_queue, warm_up)
            await (_settled_real(store, first, warm_up) if kind == "real" else _settled_bare(first))
            before = await worker.rss_kib()
            more = await (start_real if kind == "real" else start_bare)(env.client, task_queue, count)
            await (_settled_real(store, more, warm_up + count) if kind == "real" else _settled_bare(more))
            after = await worker.rss_kib()
        finally:
            await worker.stop()
        for handle in [*first, *more]:
            await handle.terminate("measured")
        return (after - before) / count


async def memory_figures(count: int) -> list[Figure]:
    bare = await memory_per_workflow("bare", count)
    real = await memory_per_workflow("real", count)
    return [
        ratio_figure(
            "worker memory per open workflow",
            real,
            "KiB",
            bare,
            "bare workflow, worker process of its own",
            2.0,
            f"RSS growth over {count} open workflows (in trial, all cached)",
        )
    ]


# --- (c) trial-end storm ----------------------------------------------------------------------


async def real_storm(count: int) -> LifecycleRun:
    async with time_skipping_server() as env, fresh_store() as store:
        task_queue = f"bench-storm-{uuid.uuid4().hex[:8]}"
        async with create_worker(env.client, store.settings(task_queue), max_cached_workflows=2 * count):
            booked_at = await env.get_current_time()
            handles = await start_real(env.client, task_queue, count, booked_at=booked_at)
            await _settled_real(store, handles, count)
            started = time.perf_counter()
            await sleep_days(env, TRIAL_DAYS + 1)
            await until(lambda: store.reached(models.RevenueShare, count))  # each first invoice paid and booked
            for handle in handles:
                view = await handle.query(SubscriptionWorkflow.view)
                if view.status != SubscriptionStatus.ACTIVE or view.invoices_issued != 1:
                    raise RuntimeError(f"{handle.id} did not start its contract: {view.status}")
            seconds = time.perf_counter() - started
            counts = await history_counts(handles)
            for handle in handles:
                await handle.terminate("measured")
            return LifecycleRun(seconds, counts)


async def bare_storm(count: int) -> LifecycleRun:
    async with time_skipping_server() as env:
        task_queue = f"bench-storm-bare-{uuid.uuid4().hex[:8]}"
        async with bare_worker(env.client, task_queue, max_cached=2 * count):
            handles = await start_bare(env.client, task_queue, count)
            await _settled_bare(handles)
            started = time.perf_counter()
            await sleep_days(env, TRIAL_DAYS + 1)
            for handle in handles:
                if await handle.query(BareLifecycleWorkflow.invoices) != 1:
                    raise RuntimeError(f"{handle.id} did not bill its first period")
            seconds = time.perf_counter() - started
            counts = await history_counts(handles)
            for handle in handles:
                await handle.terminate("measured")
            return LifecycleRun(seconds, counts)


async def storm_figures(count: int, rounds: int = 2) -> list[Figure]:
    bares, reals = await alternating(lambda: bare_storm(count), lambda: real_storm(count), rounds)
    bare, real = fastest(bares), fastest(reals)
    timed_out = sum(run.counts.task_timeouts for run in reals)
    bare_timed_out = sum(run.counts.task_timeouts for run in bares)
    ratio = ratio_figure(
        f"trial-end storm: {count} trials ending together",
        real.seconds,
        "s",
        bare.seconds,
        "bare workflow, same timers",
        2.0,
        f"all {count} processed (contract started, first invoice paid and booked) in each of {rounds} runs, best run",
    )
    timeouts = Figure(
        "workflow task timeouts in the storm",
        timed_out,
        "",
        bare_timed_out,
        "bare workflow",
        "= 0",
        timed_out == 0,
        f"WorkflowTaskTimedOut events in all {rounds} runs' histories",
    )
    return [ratio, timeouts]


async def measure(quick: bool = False) -> list[Figure]:
    lifecycles, memory, storm = (50, 300, 200) if quick else (50, 2_000, 1_000)
    figures = await lifecycle_figures(lifecycles)
    figures += await memory_figures(memory)
    figures += await storm_figures(storm)
    return figures


if __name__ == "__main__":
    figures = asyncio.run(measure(quick="--quick" in sys.argv[1:]))
    print(render(figures))
    sys.stdout.flush()
    os._exit(0 if all(figure.ok for figure in figures) else 1)  # temporalio/sdk-python#300 at teardown
