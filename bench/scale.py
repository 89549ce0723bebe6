"""Scale: many open subscriptions on one dev server, and what a second worker process adds.

    .venv/bin/python -m bench --only scale [--quick]

One dev-server stack (bench.load_stack, SQLite store), in this order:

1. one worker process: a burst of bookings started at once, timed until the worker has processed the last
   (bench.load_phases.worker_rate: its row in `subscriptions` and its `provision` call in `connector_calls`);
2. a second worker process joins; the same burst again, timed alike: bookings/s with 2 processes against 1;
3. bookings are started until 10,000 (quick: 1,000) are open, and all are processed: each then waits on its trial's
   30-day timer, as a real subscription does;
4. the worker processes' resident memory (summed) with all of them open;
5. GET /subscriptions/{id} for random ones of them, sequentially, against the raw query of the same ones: p99.
"""

import asyncio
import os
import random
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from api.subscription_service import SUBSCRIPTIONS
from bench.figures import Figure, rate_figure
from bench.http_probe import Connection
from bench.load import work_directory
from bench.load_phases import (
    WorkerRate,
    booking_request,
    percentile,
    plan_of,
    start_booking,
    wait_processed,
    warm_up,
    worker_rate,
)
from bench.load_stack import Stack, descendants, running_stack, spawn_worker
from domain.ids import subscription_id
from domain.subscription.model import BookedPlan
from workflows.subscription import SubscriptionWorkflow

T = TypeVar("T")
TWO_WORKERS_AT_LEAST = 1.6
RSS_AT_MOST_MIB = 1024.0
READ_P99_AT_MOST_MS = 50.0
START_CONCURRENCY = 64
PATIENCE_SECONDS = 1_500.0


@dataclass(frozen=True)
class Size:
    open: int  # subscriptions open at the end
    burst: int  # bookings per rate measurement
    reads: int


FULL = Size(open=10_000, burst=600, reads=1_000)
QUICK = Size(open=1_000, burst=200, reads=200)


def rss_mib(pid: int) -> float:
    """Resident memory of one process, from /proc; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_rss_mib(stack: Stack) -> list[float]:
    """Each worker process's resident memory (with any children), MiB."""
    return [
        sum(rss_mib(pid) for pid in [service.process.pid, *descendants(service.process.pid)])
        for service in stack.services
        if service.name.startswith("worker")
    ]


async def _poller_count(stack: Stack) -> int:
    """The fewest distinct pollers on the workflow or the activity task queue."""
    counts = []
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        request = DescribeTaskQueueRequest(
            namespace=stack.temporal.namespace, task_queue=TaskQueue(name=stack.task_queue), task_queue_type=kind
        )
        answer = await stack.temporal.workflow_service.describe_task_queue(request)
        counts.append(len({poller.identity for poller in answer.pollers}))
    return min(counts)


async def add_worker(stack: Stack) -> None:
    """Starts one more worker process and waits until it polls both task queues."""
    before = await _poller_count(stack)
    spawn_worker(stack)
    deadline = time.monotonic() + 120
    while await _poller_count(stack) <= before:
        stack.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("the second worker process did not poll within 120 s")
        await asyncio.sleep(0.3)


async def book(stack: Stack, plan: BookedPlan, prefix: str, count: int) -> list[str]:
    """Starts `count` bookings as the API would (at most START_CONCURRENCY at once); their subscription ids."""
    gate = asyncio.Semaphore(START_CONCURRENCY)
    requests = [booking_request(f"{prefix}{number:05d}", stack.app_id) for number in range(count)]

    async def start(number: int) -> None:
        async with gate:
            await start_booking(stack.temporal, stack.task_queue, requests[number], plan)

    await asyncio.gather(*(start(number) for number in range(count)))
    return [subscription_id(request.customer.id, request.app_id) for request in requests]


async def cpu_percent(stack: Stack, work: Awaitable[T]) -> tuple[T, dict[str, float]]:
    """`work`'s result and each process's CPU use meanwhile, in % of one core."""
    before, began = stack.cpu(), time.perf_counter()
    result = await work
    after, wall = stack.cpu(), time.perf_counter() - began
    return result, {name: 100 * (after[name] - before.get(name, 0.0)) / wall for name in after}


def _cpu(used: dict[str, float]) -> str:
    return ", ".join(f"{name} {percent:.0f} %" for name, percent in used.items())


@dataclass
class Reads:
    api_p99_ms: float
    api_p50_ms: float
    raw_p99_ms: float
    raw_p50_ms: float
    count: int


async def reads(stack: Stack, subscriptions: list[str], count: int) -> Reads:
    """Sequential reads of random open subscriptions, through the API and raw, alternately."""
    chosen = random.Random(7).choices(subscriptions, k=count)
    api, raw = [], []
    headers = {"Authorization": f"Bearer {stack.keys.operator}"}
    async with Connection(f"{stack.api_url}/api/v1", headers) as http:
        for number, subscription in enumerate(chosen):
            began = time.perf_counter()
            if number % 2:
                await SUBSCRIPTIONS.handle(stack.temporal, subscription).query(SubscriptionWorkflow.view)
                raw.append(time.perf_counter() - began)
            else:
                await http.expect(200, "GET", f"/subscriptions/{subscription}")
                api.append(time.perf_counter() - began)
    return Reads(
        api_p99_ms=1000 * (percentile(api, 99) or 0.0),
        api_p50_ms=1000 * (percentile(api, 50) or 0.0),
        raw_p99_ms=1000 * (percentile(raw, 99) or 0.0),
        raw_p50_ms=1000 * (percentile(raw, 50) or 0.0),
        count=len(api),
    )


def machine_bound(rate: WorkerRate, cpu: dict[str, float]) -> str:
    """How much faster any number of worker processes could go on this machine, from a run's CPU use: its cores
    divided by the CPU all processes (Temporal's server, workers, API) spent per booking, against the run's rate.
    A worker process only pays off where it has cores the server does not need."""
    if not rate.processed:
        return "no booking processed"
    cores = os.cpu_count() or 1
    cpu_per_booking = sum(cpu.values()) / 100 * rate.seconds / rate.processed
    bound = cores / cpu_per_booking / rate.bookings_per_second
    return (
        f"this machine allows at most {bound:.2f}x: {cores} cores / {1000 * cpu_per_booking:.0f} ms CPU per booking "
        "in all processes"
    )


def _rate(rate: WorkerRate) -> str:
    complete = "" if rate.complete else " (TIMEOUT)"
    return f"{rate.processed}/{rate.started} processed{complete} in {rate.seconds:.1f} s"


async def measure_on(stack: Stack, size: Size) -> list[Figure]:
    run = f"{random.getrandbits(24):06x}"
    plan = await plan_of(stack.engine, stack.app_id)
    client, engine, queue, app = stack.temporal, stack.engine, stack.task_queue, stack.app_id
    await warm_up(stack.api_url, stack.keys.operator, app, engine, f"{run}a")
    one, one_cpu = await cpu_percent(
        stack, worker_rate(client, engine, queue, app, plan, size.burst, f"{run}1", PATIENCE_SECONDS)
    )
    await add_worker(stack)
    # The new process's first workflows pay its sandbox's imports: not what the burst measures.
    warm = await book(stack, plan, f"warm2-{run}-", 20)
    await wait_processed(engine, f"warm2-{run}-", len(warm), 120)
    two, two_cpu = await cpu_percent(
        stack, worker_rate(client, engine, queue, app, plan, size.burst, f"{run}2", PATIENCE_SECONDS)
    )

    opened = 2 + len(warm) + 2 * size.burst  # the warm-ups and both bursts are open subscriptions too
    prefix = f"open-{run}-"
    began = time.perf_counter()
    subscriptions = await book(stack, plan, prefix, max(size.open - opened, 0))
    processed, complete = await wait_processed(engine, prefix, len(subscriptions), PATIENCE_SECONDS)
    fill_seconds = time.perf_counter() - began
    open_now = opened + processed.count
    memory = workers_rss_mib(stack)
    # worker_rate's bookings (its customer ids are `direct-{run}-{number:05d}`) are open too.
    bursts = [subscription_id(f"direct-{run}{n}-{k:05d}", app) for n in (1, 2) for k in range(size.burst)]
    read = await reads(stack, subscriptions + bursts, size.reads)

    workers = len(memory)
    return [
        rate_figure(
            f"bookings processed/s, {workers} worker processes",
            two.bookings_per_second,
            "/s",
            one.bookings_per_second,
            "1 worker process, same burst",
            TWO_WORKERS_AT_LEAST,
            f"{size.burst} bookings at once each; 1: {_rate(one)}, CPU {_cpu(one_cpu)}; "
            f"{workers}: {_rate(two)}, CPU {_cpu(two_cpu)}; {machine_bound(one, one_cpu)}",
        ),
        Figure(
            f"open subscriptions held ({workers} worker processes)",
            float(open_now),
            "",
            None,
            "",
            f">= {size.open}",
            complete and open_now >= size.open,
            f"{len(subscriptions)} booked and processed in {fill_seconds:.0f} s, each waiting on its trial's timer",
        ),
        Figure(
            f"worker RSS with {open_now} open (sum of {workers})",
            sum(memory),
            "MiB",
            None,
            "",
            f"<= {RSS_AT_MOST_MIB:g} MiB",
            sum(memory) <= RSS_AT_MOST_MIB,
            "per process: " + ", ".join(f"{mib:.0f} MiB" for mib in memory),
        ),
        Figure(
            f"API read p99 (GET /subscriptions/{{id}}, {open_now} open)",
            read.api_p99_ms,
            "ms",
            read.raw_p99_ms,
            "raw query p99, same subscriptions",
            f"<= {READ_P99_AT_MOST_MS:g} ms",
            read.api_p99_ms <= READ_P99_AT_MOST_MS,
            f"{read.count} random subscriptions each, sequential; p50 API {read.api_p50_ms:.1f} ms vs raw "
            f"{read.raw_p50_ms:.1f} ms",
        ),
    ]


async def measure(quick: bool = False) -> list[Figure]:
    """Open subscriptions, worker memory, read p99 and 2 worker processes against 1, on a stack of their own."""
    with work_directory(keep=False) as directory:
        async with running_stack("sqlite", "split", "", directory, workers=1) as stack:
            return await stack.guard(measure_on(stack, QUICK if quick else FULL))
