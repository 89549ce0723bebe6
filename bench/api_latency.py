"""How much the API adds to Temporal: each API call against the raw SDK call it makes, on one stack, in one run.

    .venv/bin/python -m bench --only api [--quick]

One dev-server stack (bench.load_stack: a SQLite store, a Temporal dev server, one `python -m worker` and the API
in a uvicorn process of its own). After a warm-up, sequential requests, each API call interleaved with its raw
counterpart so that both see the same machine:

- start: POST /onboardings vs `start_workflow(OnboardingWorkflow.run)`; POST /subscriptions vs
  `start_workflow(SubscriptionWorkflow.run)`, with the input and search attributes the API sends;
- Update: POST /onboardings/{id}/checklist/{item} vs `execute_update(OnboardingWorkflow.complete_item)`, both
  ticking feasibility items of the same onboardings;
- read: GET /onboardings/{id} vs `query(OnboardingWorkflow.view)`; GET /subscriptions/{id} vs
  `query(SubscriptionWorkflow.view)`.

API calls go over one keep-alive connection per caller (bench.http_probe), raw calls over the bench's SDK client.
"""

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy

from api.onboarding_service import ONBOARDINGS
from api.subscription_service import SUBSCRIPTIONS
from bench.figures import Figure, ratio_figure
from bench.http_probe import Connection
from bench.load import work_directory
from bench.load_phases import booking_body, booking_request, percentile, plan_of, start_booking
from bench.load_stack import Stack, running_stack
from domain.ids import onboarding_id, onboarding_workflow_id, subscription_id
from domain.onboarding import rules
from domain.onboarding.model import AdvanceCommand, ChecklistCommand, OnboardingRequest
from domain.subscription.model import BookedPlan
from workflows.onboarding import OnboardingInput, OnboardingWorkflow, search_attributes_of
from workflows.subscription import SubscriptionWorkflow

PARTNER_MANAGER = "pm-anna"  # the subject of the bench's partner manager key
TICKED = ("technical_assessment_passed", "eu_hosting_confirmed", "data_export_confirmed")
TARGETS = 20  # onboardings the Updates and reads spread over, so no history grows long
WARM_UP = 5
START_AT_MOST, UPDATE_AT_MOST, READ_AT_MOST = 2.0, 1.2, 1.3

Call = Callable[[int], Awaitable[Any]]


@dataclass
class Pair:
    """Latencies of an API call and of its raw SDK counterpart, sampled alternately."""

    api: list[float]
    raw: list[float]

    def figure(self, name: str, baseline_name: str, at_most: float) -> Figure:
        api50, raw50 = percentile(self.api, 50) or 0.0, percentile(self.raw, 50) or 0.0
        api99, raw99 = percentile(self.api, 99) or 0.0, percentile(self.raw, 99) or 0.0
        detail = (
            f"{len(self.api)} sequential calls each, interleaved; p99 API {api99 * 1000:.1f} ms vs raw "
            f"{raw99 * 1000:.1f} ms"
        )
        return ratio_figure(name, api50 * 1000, "ms", raw50 * 1000, baseline_name, at_most, detail)


async def _timed(call: Call, index: int) -> float:
    began = time.perf_counter()
    await call(index)
    return time.perf_counter() - began


async def interleaved(api: Call, raw: Call, count: int) -> Pair:
    """`count` calls of each, alternating which goes first, after `WARM_UP` untimed ones."""
    for index in range(WARM_UP):
        await api(-1 - index)
        await raw(-1 - index)
    pair = Pair([], [])
    for index in range(count):
        if index % 2:
            pair.raw.append(await _timed(raw, index))
            pair.api.append(await _timed(api, index))
        else:
            pair.api.append(await _timed(api, index))
            pair.raw.append(await _timed(raw, index))
    return pair


def onboarding_body(isv: str, app: str) -> dict[str, Any]:
    return {
        "isv": {"id": isv, "name": "Acme Software GmbH", "contact_email": "partners@acme.example"},
        "app": {"id": app, "name": "Acme CRM", "category": "crm_customer_management"},
        "partner_manager": PARTNER_MANAGER,
    }


async def start_onboarding(client: Client, task_queue: str, request: OnboardingRequest) -> str:
    """What api.onboarding_service.start sends to Temporal; the onboarding's id."""
    onboarding = onboarding_id(request.isv.id, request.app.id)
    now = datetime.now(UTC)
    initial = rules.start(onboarding, request, PARTNER_MANAGER, now)
    await client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(onboarding_id=onboarding, actor=PARTNER_MANAGER, request=request, started_at=now),
        id=onboarding_workflow_id(onboarding),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            search_attributes_of(initial, rules.current_sla_status(initial, now).value)
        ),
    )
    return onboarding


class Probe:
    """The calls of one run: API calls over HTTP and their raw counterparts on the bench's own client."""

    def __init__(self, stack: Stack, plan: BookedPlan, pm: Connection, operator: Connection) -> None:
        self.stack, self.plan, self.pm, self.operator = stack, plan, pm, operator
        self.run = uuid.uuid4().hex[:6]
        self.onboardings: list[str] = []
        self.subscriptions: list[str] = []

    # --- starts -----------------------------------------------------------------------------------------------

    async def api_onboarding(self, index: int) -> None:
        isv, app = f"api{self.run}{index % 1000}", f"app{index + 10}"
        await self.pm.expect(201, "POST", "/onboardings", onboarding_body(isv, app))
        self.onboardings.append(onboarding_id(isv, app))

    async def raw_onboarding(self, index: int) -> None:
        request = OnboardingRequest.model_validate(onboarding_body(f"raw{self.run}{index % 1000}", f"app{index + 10}"))
        self.onboardings.append(await start_onboarding(self.stack.temporal, self.stack.task_queue, request))

    async def api_booking(self, index: int) -> None:
        customer = f"api-{self.run}-{index}"
        await self.operator.expect(201, "POST", "/subscriptions", booking_body(customer, self.stack.app_id))
        self.subscriptions.append(subscription_id(customer, self.stack.app_id))

    async def raw_booking(self, index: int) -> None:
        request = booking_request(f"raw-{self.run}-{index}", self.stack.app_id)
        await start_booking(self.stack.temporal, self.stack.task_queue, request, self.plan)
        self.subscriptions.append(subscription_id(request.customer.id, request.app_id))

    # --- Updates ----------------------------------------------------------------------------------------------

    def _target(self, index: int) -> str:
        return self.onboardings[index % TARGETS]

    async def into_feasibility(self) -> None:
        """The first onboardings leave identification (nothing there can be ticked by hand)."""
        for onboarding in self.onboardings[:TARGETS]:
            handle = ONBOARDINGS.handle(self.stack.temporal, onboarding)
            await handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PARTNER_MANAGER))

    async def api_tick(self, index: int) -> None:
        path = f"/onboardings/{self._target(index)}/checklist/{TICKED[index % len(TICKED)]}"
        await self.pm.expect(200, "POST", path, {})

    async def raw_tick(self, index: int) -> None:
        handle = ONBOARDINGS.handle(self.stack.temporal, self._target(index))
        command = ChecklistCommand(actor=PARTNER_MANAGER, item=TICKED[index % len(TICKED)])
        await handle.execute_update(OnboardingWorkflow.complete_item, command, id=uuid.uuid4().hex)

    # --- reads ------------------------------------------------------------------------------------------------

    async def api_read_onboarding(self, index: int) -> None:
        await self.pm.expect(200, "GET", f"/onboardings/{self._target(index)}")

    async def raw_read_onboarding(self, index: int) -> None:
        handle = ONBOARDINGS.handle(self.stack.temporal, self._target(index))
        await handle.query(OnboardingWorkflow.view)

    def _subscription(self, index: int) -> str:
        return self.subscriptions[index % TARGETS]

    async def api_read_subscription(self, index: int) -> None:
        await self.operator.expect(200, "GET", f"/subscriptions/{self._subscription(index)}")

    async def raw_read_subscription(self, index: int) -> None:
        handle = SUBSCRIPTIONS.handle(self.stack.temporal, self._subscription(index))
        await handle.query(SubscriptionWorkflow.view)


def api_connection(stack: Stack, key: str) -> Connection:
    return Connection(f"{stack.api_url}/api/v1", {"Authorization": f"Bearer {key}"})


async def measure_on(stack: Stack, count: int) -> list[Figure]:
    plan = await plan_of(stack.engine, stack.app_id)
    async with (
        api_connection(stack, stack.keys.partner_manager) as pm,
        api_connection(stack, stack.keys.operator) as op,
    ):
        probe = Probe(stack, plan, pm, op)
        starts = await interleaved(probe.api_onboarding, probe.raw_onboarding, count)
        bookings = await interleaved(probe.api_booking, probe.raw_booking, count)
        await probe.into_feasibility()
        ticks = await interleaved(probe.api_tick, probe.raw_tick, count)
        onboarding_reads = await interleaved(probe.api_read_onboarding, probe.raw_read_onboarding, count)
        subscription_reads = await interleaved(probe.api_read_subscription, probe.raw_read_subscription, count)
    return [
        starts.figure("API start p50 (POST /onboardings)", "raw start_workflow p50", START_AT_MOST),
        bookings.figure("API start p50 (POST /subscriptions)", "raw start_workflow p50", START_AT_MOST),
        ticks.figure("API Update p50 (checklist tick)", "raw execute_update p50", UPDATE_AT_MOST),
        onboarding_reads.figure("API read p50 (GET /onboardings/{id})", "raw query p50", READ_AT_MOST),
        subscription_reads.figure("API read p50 (GET /subscriptions/{id})", "raw query p50", READ_AT_MOST),
    ]


async def measure(quick: bool = False) -> list[Figure]:
    """The API's latency figures against the raw SDK's, from one stack of their own."""
    with work_directory(keep=False) as directory:
        async with running_stack("sqlite", "split", "", directory) as stack:
            return await stack.guard(measure_on(stack, 50 if quick else 200))
