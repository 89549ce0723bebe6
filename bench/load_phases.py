"""The measuring phases of `bench.load`: raw workflow starts, the worker's processing rate, API bookings."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy

from api.subscription_service import booked_plan
from domain.ids import subscription_id, subscription_workflow_id
from domain.subscription import rules
from domain.subscription.model import BookedPlan, BookingRequest, ConnectorAction
from store import models
from store.db import as_utc, create_session_factory
from workflows.subscription import SubscriptionInput, SubscriptionWorkflow, search_attributes_of

ACTOR = "operator-otto"  # the subject of the operator key the API bookings use
API_TIMEOUT_SECONDS = 60.0
SLOW_SECONDS = 10.0
POLL_SECONDS = 0.2


def booking_body(customer_id: str, app_id: str) -> dict[str, Any]:
    """The README walk-through's booking, for a customer of its own."""
    return {
        "customer": {
            "id": customer_id,
            "name": "Beispiel GmbH",
            "employees": 42,
            "telekom_customer_number": "12345678",
        },
        "app_id": app_id,
        "term_months": 12,
        "payment_method": {"type": "credit_card", "token": "tok_success"},
    }


def booking_request(customer_id: str, app_id: str) -> BookingRequest:
    return BookingRequest.model_validate(booking_body(customer_id, app_id))


async def plan_of(engine: AsyncEngine, app_id: str) -> BookedPlan:
    """The catalogue's terms, read the way the API reads them for each booking."""
    return await booked_plan(create_session_factory(engine), booking_request("probe", app_id))


async def start_booking(client: Client, task_queue: str, request: BookingRequest, plan: BookedPlan) -> None:
    """What api.subscription_service.book sends to Temporal, without the view query that follows it there (the
    query waits for the worker's first workflow task, so it is the worker's cost, not the start's)."""
    subscription = subscription_id(request.customer.id, request.app_id)
    initial = rules.book(subscription, request, plan, ACTOR, datetime.now(UTC))
    await client.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionInput(subscription_id=subscription, actor=ACTOR, request=request, plan=plan),
        id=subscription_workflow_id(subscription),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=TypedSearchAttributes(search_attributes_of(initial)),
    )


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least the first
    return ordered[int(rank) - 1]


# --- processed bookings in the store ------------------------------------------------------------


@dataclass
class Processed:
    count: int
    last_at: datetime | None  # when the last one's provision call was recorded (the worker's clock)


async def processed(engine: AsyncEngine, prefix: str) -> Processed:
    """Bookings whose customer id starts with `prefix` that the worker has processed: their row is in
    `subscriptions` AND their `provision` call is in `connector_calls` (the workflow's first step: its snapshot and the
    ISV connector call, one activity since `record-and-call-connector-in-one-activity`, two before).
    One indexed-table query per poll, so polling costs the store little."""
    sub, call = models.Subscription, models.ConnectorCallRow
    provisioned = (
        select(call.subscription_id, func.max(call.created_at).label("at"))
        .where(call.action == ConnectorAction.PROVISION.value, call.subscription_id.like(f"{prefix}%"))
        .group_by(call.subscription_id)
        .subquery()
    )
    query = (
        select(func.count(func.distinct(sub.subscription_id)), func.max(provisioned.c.at))
        .select_from(sub)
        .join(provisioned, provisioned.c.subscription_id == sub.subscription_id)
    )
    async with engine.connect() as connection:
        count, last_at = (await connection.execute(query)).one()
    return Processed(int(count), as_utc(last_at) if last_at is not None else None)


async def wait_processed(engine: AsyncEngine, prefix: str, expected: int, patience: float) -> tuple[Processed, bool]:
    """Polls until `expected` bookings are processed or `patience` seconds pass; True when all were."""
    deadline = time.monotonic() + patience
    while True:
        seen = await processed(engine, prefix)
        if seen.count >= expected:
            return seen, True
        if time.monotonic() > deadline:
            return seen, False
        await asyncio.sleep(POLL_SECONDS)


# --- phase 1: raw start rate ---------------------------------------------------------------------


@dataclass
class RawStarts:
    clients: int
    seconds: float
    started: int
    errors: dict[str, int]
    starts_per_second: float
    p50_seconds: float | None
    p99_seconds: float | None
    prefix: str
    drained: bool = False
    drain_seconds: float | None = None  # from the end of the phase until the worker had processed every start


async def raw_starts(
    client: Client, task_queue: str, app_id: str, plan: BookedPlan, clients: int, seconds: float, run: str
) -> RawStarts:
    """`clients` concurrent loops calling start_workflow on one shared client (as the API shares one) for
    `seconds`, with the worker running and processing what they start."""
    prefix = f"raw-{run}-"
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    started_at = time.perf_counter()
    deadline = started_at + seconds

    async def loop(number: int) -> None:
        sequence = 0
        while time.perf_counter() < deadline:
            request = booking_request(f"{prefix}{number:02d}-{sequence:06d}", app_id)
            sequence += 1
            began = time.perf_counter()
            try:
                await start_booking(client, task_queue, request, plan)
            except Exception as error:
                errors[type(error).__name__] += 1
            else:
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(loop(n) for n in range(clients)))
    elapsed = time.perf_counter() - started_at
    return RawStarts(
        clients=clients,
        seconds=elapsed,
        started=len(latencies),
        errors=dict(errors),
        starts_per_second=len(latencies) / elapsed,
        p50_seconds=percentile(latencies, 50),
        p99_seconds=percentile(latencies, 99),
        prefix=prefix,
    )


# --- phase 2: the worker's processing rate -------------------------------------------------------


@dataclass
class WorkerRate:
    requested: int
    started: int
    start_errors: dict[str, int]
    burst_seconds: float  # until every start call had returned
    processed: int
    complete: bool  # every started booking was processed before the timeout
    seconds: float  # from the first start to the last booking processed
    bookings_per_second: float


async def worker_rate(
    client: Client,
    engine: AsyncEngine,
    task_queue: str,
    app_id: str,
    plan: BookedPlan,
    count: int,
    run: str,
    patience: float,
) -> WorkerRate:
    """Starts `count` bookings at once, then times the worker from the first start until the last is processed.
    The end is the recorded time of the last `provision` row, so the poll interval does not blur it."""
    prefix = f"direct-{run}-"
    requests = [booking_request(f"{prefix}{n:05d}", app_id) for n in range(count)]  # built before the clock starts
    errors: Counter[str] = Counter()
    gate = asyncio.Semaphore(100)  # bounded, so the burst is not a wall of 300 simultaneous gRPC streams

    async def start(request: BookingRequest) -> bool:
        async with gate:
            try:
                await start_booking(client, task_queue, request, plan)
            except Exception as error:
                errors[type(error).__name__] += 1
                return False
            return True

    first_start = datetime.now(UTC)
    began = time.perf_counter()
    started = sum(await asyncio.gather(*(start(request) for request in requests)))
    burst = time.perf_counter() - began
    seen, complete = await wait_processed(engine, prefix, started, patience)
    last = seen.last_at
    seconds = (last - first_start).total_seconds() if last is not None else time.perf_counter() - began
    return WorkerRate(
        requested=count,
        started=started,
        start_errors=dict(errors),
        burst_seconds=burst,
        processed=seen.count,
        complete=complete,
        seconds=seconds,
        bookings_per_second=seen.count / seconds if seconds > 0 else 0.0,
    )


# --- phase 3: bookings through the API -----------------------------------------------------------


TIMELINE_SECONDS = 5.0


@dataclass
class Attempt:
    sent: float  # seconds since the phase began
    seconds: float
    status: int | None  # None: no answer (timeout or transport error)
    failure: str | None = None


@dataclass
class Window:
    """The answers that came back in one slice of the phase: a stall shows as few 201s and a slow maximum."""

    start: float
    created: int
    answers: int
    slowest_seconds: float | None


def timeline(attempts: list[Attempt]) -> list[Window]:
    windows: dict[int, list[Attempt]] = {}
    for attempt in attempts:
        windows.setdefault(int((attempt.sent + attempt.seconds) // TIMELINE_SECONDS), []).append(attempt)
    last = max(windows, default=-1)
    return [
        Window(
            start=index * TIMELINE_SECONDS,
            created=sum(1 for a in windows.get(index, []) if a.status == 201),
            answers=len(windows.get(index, [])),
            slowest_seconds=max((a.seconds for a in windows.get(index, [])), default=None),
        )
        for index in range(last + 1)
    ]


@dataclass
class ApiBookings:
    clients: int
    window_seconds: float  # new requests were sent during this long
    seconds: float  # from the first request to the last answer (or timeout)
    requests: int
    created: int  # 201s
    bookings_per_second: float
    p50_seconds: float | None
    p95_seconds: float | None
    p99_seconds: float | None
    max_seconds: float | None
    non_2xx: dict[str, int]
    server_errors: int  # 5xx
    unanswered: dict[str, int]  # by exception: timeouts, connection errors
    over_10s: int
    since: str  # ISO time just before the first request, for the audit log query
    prefix: str
    error_samples: dict[str, str] = field(default_factory=dict)  # one answer body per non-2xx status
    processed_at_end: int | None = None  # of the 201s, how many the worker had processed when the phase ended
    timeline: list[Window] = field(default_factory=list)  # by the time each answer came


async def api_bookings(api_url: str, key: str, app_id: str, clients: int, seconds: float, run: str) -> ApiBookings:
    """`clients` closed loops, each on its own httpx client, POSTing a booking for a fresh customer until
    `seconds` have passed; requests in flight then are awaited (up to the 60 s client timeout)."""
    prefix = f"api-{run}-"
    attempts: list[Attempt] = []
    samples: dict[str, str] = {}
    since = datetime.now(UTC)
    began = time.perf_counter()
    deadline = began + seconds

    async def loop(number: int) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            base_url=api_url, headers=headers, timeout=API_TIMEOUT_SECONDS, trust_env=False
        ) as http:
            sequence = 0
            while time.perf_counter() < deadline:
                body = booking_body(f"{prefix}{number:02d}-{sequence:06d}", app_id)
                sequence += 1
                sent = time.perf_counter()
                try:
                    response = await http.post("/api/v1/subscriptions", json=body)
                except httpx.HTTPError as error:
                    attempts.append(Attempt(sent - began, time.perf_counter() - sent, None, type(error).__name__))
                    continue
                attempts.append(Attempt(sent - began, time.perf_counter() - sent, response.status_code))
                if not response.is_success:
                    samples.setdefault(str(response.status_code), response.text[:300])

    await asyncio.gather(*(loop(n) for n in range(clients)))
    elapsed = time.perf_counter() - began
    # Unanswered requests count with the time they were given: dropping them would flatter the tail.
    latencies = [attempt.seconds for attempt in attempts]
    created = sum(1 for attempt in attempts if attempt.status == 201)
    non_2xx = Counter(str(a.status) for a in attempts if a.status is not None and not 200 <= a.status < 300)
    return ApiBookings(
        clients=clients,
        window_seconds=seconds,
        seconds=elapsed,
        requests=len(attempts),
        created=created,
        bookings_per_second=created / elapsed,
        p50_seconds=percentile(latencies, 50),
        p95_seconds=percentile(latencies, 95),
        p99_seconds=percentile(latencies, 99),
        max_seconds=max(latencies, default=None),
        non_2xx=dict(sorted(non_2xx.items())),
        server_errors=sum(1 for a in attempts if a.status is not None and a.status >= 500),
        unanswered=dict(Counter(a.failure for a in attempts if a.failure is not None)),
        over_10s=sum(1 for a in attempts if a.seconds > SLOW_SECONDS),
        since=since.isoformat(),
        prefix=prefix,
        error_samples=samples,
        timeline=timeline(attempts),
    )


async def warm_up(api_url: str, key: str, app_id: str, engine: AsyncEngine, run: str) -> None:
    """One booking through the API, processed by the worker, before anything is timed: first-use costs
    (imports in the workflow sandbox, connection pools) are not what the phases measure."""
    prefix = f"warm-{run}-"
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=API_TIMEOUT_SECONDS, trust_env=False
    ) as http:
        response = await http.post("/api/v1/subscriptions", json=booking_body(f"{prefix}0", app_id))
    if response.status_code != 201:
        raise RuntimeError(f"the warm-up booking failed: {response.status_code} {response.text[:500]}")
    _, done = await wait_processed(engine, prefix, 1, 60)
    if not done:
        raise RuntimeError("the worker did not process the warm-up booking within 60 s")
