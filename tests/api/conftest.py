"""API tests: an ASGI client on the app, a real worker, and a migrated SQLite database.

The app, worker and database are shared by the tests of a module, since starting them is the expensive part;
every test starts onboardings with ids of its own, so tests stay independent. At the end of a module its running
onboardings are terminated, so no timers are left for other folders' tests on the shared time-skipping server.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from devstack import time_skipping_server
from domain.ids import onboarding_id, onboarding_workflow_id, partner_workflow_id, subscription_workflow_id
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from settings import Settings
from store import catalogue, models
from store.db import create_engine, create_session_factory
from telemetry import traced
from tests.conftest import test_settings
from tests.migrated import migrated_sqlite
from worker import create_worker

# ISV ids carry a run-unique suffix: the dev server's visibility is shared by every test of the session.
T = TypeVar("T")

RUN = uuid.uuid4().hex[:6]
ISV_A = f"acme-{RUN}"
ISV_B = f"globex-{RUN}"
OWN_PARTNER = f"sued-{RUN}"  # the channel partner of the "own_partner" key, enrolled by the partner tests

KEYS: dict[str, dict[str, Any]] = {
    "admin": {"subject": "admin-ada", "roles": ["admin"]},
    "pm": {"subject": "pm-anna", "roles": ["partner_manager"]},
    "auditor": {"subject": "auditor-aurel", "roles": ["auditor"]},
    "isv_a": {"subject": "isv-acme", "roles": ["isv"], "isv_id": ISV_A},
    "isv_b": {"subject": "isv-globex", "roles": ["isv"], "isv_id": ISV_B},
    "operator": {"subject": "operator-otto", "roles": ["operator"]},
    "account_manager": {"subject": "am-arno", "roles": ["account_manager"]},
    "channel_partner": {"subject": "partner-nord", "roles": ["channel_partner"], "partner_id": "telesales-nord"},
    "own_partner": {"subject": "partner-sued", "roles": ["channel_partner"], "partner_id": OWN_PARTNER},
}
PM = KEYS["pm"]["subject"]

TERMS: dict[str, Any] = {
    "revenue_share_percent": 70,
    "plans": [{"term_months": 1, "monthly_price_cents": 1990}, {"term_months": 12, "monthly_price_cents": 1490}],
}


def key_of(role: str) -> str:
    return f"key-{role}-{RUN}"


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_of(role)}"}


def api_settings(
    database_url: str, extra_keys: dict[str, dict[str, Any]] | None = None, **overrides: object
) -> Settings:
    grants = KEYS | (extra_keys or {})
    return test_settings(database_url, api_keys={key_of(role): grant for role, grant in grants.items()}, **overrides)


def assert_error(response: httpx.Response, status: int, code: str) -> Any:
    """Checks the one error shape and returns its details."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error["details"]


async def ids_across_pages(read_page: Callable[[str], Awaitable[dict[str, Any]]], query: str) -> list[str]:
    """Every id a list answers for `query`, following next_page_token through pages of two."""
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = await read_page(f"{query}&page_size=2" + (f"&page_token={token}" if token else ""))
        seen += [item["id"] for item in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    return seen


async def eventually(read: Callable[[], Awaitable[T]], until: Callable[[T], bool], seconds: float = 5) -> T:
    """Reads until `until` holds: for results that arrive a moment later (visibility, activities after timers)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await read()
        if until(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


@dataclass
class Api:
    """The app under test, with helpers that drive an onboarding through it as a partner manager."""

    http: httpx.AsyncClient
    env: WorkflowEnvironment
    settings: Settings
    started: list[str] = field(default_factory=list)
    app: FastAPI | None = None

    def request_body(self, isv: str = ISV_A, app: str | None = None, partner_manager: str = PM) -> dict[str, Any]:
        return {
            "isv": {"id": isv, "name": "Acme Software GmbH", "contact_email": "partners@acme.example"},
            "app": {
                "id": app or f"app-{uuid.uuid4().hex[:10]}",
                "name": "Acme CRM",
                "category": "crm_customer_management",
            },
            "partner_manager": partner_manager,
        }

    async def start(self, as_role: str = "pm", **body: Any) -> dict[str, Any]:
        request = self.request_body(**body)
        response = await self.http.post("/api/v1/onboardings", json=request, headers=auth(as_role))
        assert response.status_code == 201, response.text
        view: dict[str, Any] = response.json()
        self.started.append(view["id"])
        await self.taken_up(onboarding_workflow_id(view["id"]))
        return view

    async def taken_up(self, workflow_id: str) -> None:
        """Waits for a worker to run the new workflow's first task. A start answers before that; on the time-skipping
        server a test that moved the clock right away would skip past the task's own timeout."""
        if self.env.supports_time_skipping:
            await self.env.client.get_workflow_handle(workflow_id).query("__stack_trace")

    async def command(self, onboarding: str, path: str, body: Any = None, as_role: str = "pm") -> httpx.Response:
        return await self.http.post(f"/api/v1/onboardings/{onboarding}/{path}", json=body, headers=auth(as_role))

    async def accepted(self, method: str, url: str, body: Any = None) -> dict[str, Any]:
        """Sends a partner manager's command that must be accepted, as a careful client does: with an Idempotency-Key,
        sent again while the API answers 202 (still being carried out: a slow machine, a short command wait)."""
        headers = auth("pm") | {"Idempotency-Key": uuid.uuid4().hex}
        response = await self.http.request(method, url, json=body, headers=headers)
        for _ in range(40):
            if response.status_code != 202:
                break
            await asyncio.sleep(0.25)
            response = await self.http.request(method, url, json=body, headers=headers)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def ok(self, onboarding: str, path: str, body: Any = None) -> dict[str, Any]:
        return await self.accepted("POST", f"/api/v1/onboardings/{onboarding}/{path}", body)

    async def pass_stage(self, onboarding: str, stage: StageId) -> dict[str, Any]:
        """Meets every exit criterion of `stage` through the API, then advances."""
        if stage == StageId.COMMERCIAL:
            await self.accepted("PUT", f"/api/v1/onboardings/{onboarding}/commercial-terms", TERMS)
        for criterion in ONBOARDING.stage(stage).criteria:
            if criterion.source == CriterionSource.CHECKLIST:
                await self.ok(onboarding, f"checklist/{criterion.id}")
        return await self.ok(onboarding, "advance", {"comment": f"{stage.value} done"})

    async def walk_to(self, onboarding: str, stage: StageId) -> None:
        for spec in ONBOARDING.stages[: ONBOARDING.index(stage)]:
            await self.pass_stage(onboarding, spec.id)

    async def terminate_running(self) -> None:
        """A workflow left running without its worker would stall time skipping for later tests."""
        for onboarding in self.started:
            handle = self.env.client.get_workflow_handle(onboarding_workflow_id(onboarding))
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("api tests finished")


@asynccontextmanager
async def serving(
    env: WorkflowEnvironment,
    directory: Path,
    extra_keys: dict[str, dict[str, Any]] | None = None,
    *,
    api_tracing: TracerProvider | None = None,
    worker_tracing: TracerProvider | None = None,
    **overrides: object,
) -> AsyncIterator[Api]:
    """The app and a worker on `env`, with a migrated database and the export directory under `directory`; each
    traced with its own tracer provider when given one (telemetry.py)."""
    database = await migrated_database(directory)
    settings = api_settings(database, extra_keys, **{"export_dir": directory / "exports", **overrides})
    # On the time-skipping server, commands are accepted at its time, as the workflows see it.
    clock = env.get_current_time if env.supports_time_skipping else None
    app = create_app(settings, temporal_client=env.client, clock=clock, tracer_provider=api_tracing)
    # ASGITransport runs no lifespan; entering it here gives the app its shutdown (engine disposal).
    async with (
        app.router.lifespan_context(app),
        create_worker(traced(env.client, worker_tracing), settings),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        api = Api(http, env, settings, app=app)
        yield api
        await api.terminate_running()


async def migrated_database(directory: Path) -> str:
    return await migrated_sqlite(directory / "partnerflow.db")


@pytest_asyncio.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A server per module, as long-lived as the module's app and worker: a workflow whose worker is gone (another
    module's) would hold up the clock these tests move."""
    async with time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture(scope="module")
async def api(time_skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with serving(time_skipping_env, tmp_path_factory.mktemp("api")) as served:
        yield served


@pytest_asyncio.fixture(scope="module")
async def listing_api(
    dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    async with serving(dev_server_env, tmp_path_factory.mktemp("api-dev")) as served:
        yield served


def new_onboarding_id(isv: str = ISV_A) -> tuple[str, str]:
    """A fresh (app id, onboarding id) pair."""
    app = f"app-{uuid.uuid4().hex[:10]}"
    return app, onboarding_id(isv, app)


# --- subscriptions ---------------------------------------------------------------------------

PRICES = {1: 1_990, 12: 1_490}  # the published app's plans: term in months -> monthly price in cents
METHODS: dict[str, dict[str, Any]] = {
    "credit_card": {"type": "credit_card", "token": "tok_success"},
    "declined_card": {"type": "credit_card", "token": "tok_declined"},
    "direct_debit": {
        "type": "direct_debit",
        "iban": "DE89370400440532013000",
        "mandate_reference": "MANDATE-0001",
        "account_holder": "Beispiel GmbH",
    },
    "phone_bill": {"type": "phone_bill"},
}


async def publish_app(database_url: str, isv_id: str) -> str:
    """Puts a live app with 1- and 12-month plans into the catalogue, as a go-live would; returns its id."""
    app_id = f"crm-{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    await catalogue.publish_live_app(create_session_factory(engine), isv_id, app_id, PRICES, datetime.now(UTC))
    await engine.dispose()
    return app_id


@dataclass
class Subscriptions:
    """Books subscriptions of ISV A's (or B's) live app through the API and commands them as an operator."""

    api: Api
    app_id: str
    other_app_id: str  # ISV B's
    booked: list[str] = field(default_factory=list)

    def body(
        self,
        *,
        customer: str | None = None,
        app_id: str | None = None,
        term_months: int = 1,
        payment_method: dict[str, Any] | None = None,
        employees: int = 42,
        telekom_customer_number: str | None = "12345678",
        **more: Any,
    ) -> dict[str, Any]:
        return {
            "customer": {
                "id": customer or f"cust-{uuid.uuid4().hex[:8]}",
                "name": "Beispiel GmbH",
                "employees": employees,
                "telekom_customer_number": telekom_customer_number,
            },
            "app_id": app_id or self.app_id,
            "term_months": term_months,
            "payment_method": payment_method,
            **more,
        }

    async def post_booking(self, body: dict[str, Any], as_role: str = "operator") -> httpx.Response:
        response = await self.api.http.post("/api/v1/subscriptions", json=body, headers=auth(as_role))
        if response.status_code == 201:
            self.booked.append(response.json()["id"])
            await self.api.taken_up(subscription_workflow_id(response.json()["id"]))
        return response

    async def book(self, as_role: str = "operator", **body: Any) -> dict[str, Any]:
        response = await self.post_booking(self.body(**body), as_role)
        assert response.status_code == 201, response.text
        view: dict[str, Any] = response.json()
        return view

    async def get(self, subscription: str, path: str = "", as_role: str = "operator") -> httpx.Response:
        return await self.api.http.get(f"/api/v1/subscriptions/{subscription}{path}", headers=auth(as_role))

    async def view(self, subscription: str) -> dict[str, Any]:
        response = await self.get(subscription)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def command(
        self,
        subscription: str,
        path: str,
        body: Any = None,
        as_role: str = "operator",
        method: str = "POST",
        key: str | None = None,
    ) -> httpx.Response:
        headers = auth(as_role) | ({"Idempotency-Key": key} if key else {})
        url = f"/api/v1/subscriptions/{subscription}/{path}"
        return await self.api.http.request(method, url, json=body, headers=headers)

    async def ok(self, subscription: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        response = await self.command(subscription, path, body, **options)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def sleep_days(self, days: float) -> None:
        await sleep_days(self.api.env, days)

    async def wait_until_ended(self, subscription: str) -> None:
        await self.api.env.client.get_workflow_handle(subscription_workflow_id(subscription)).result()

    async def finish(self) -> None:
        """Terminates what the test left running, so its timers do not slow later tests' time skipping."""
        if self.api.env.supports_time_skipping:
            # The test server must settle refused Updates while the worker still runs (tests/workflow/conftest.py).
            await self.api.env.sleep(timedelta(seconds=1))
        for subscription in self.booked:
            handle = self.api.env.client.get_workflow_handle(subscription_workflow_id(subscription))
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("api tests finished")


@asynccontextmanager
async def booking(api: Api) -> AsyncIterator[Subscriptions]:
    subscriptions = Subscriptions(
        api, await publish_app(api.settings.database_url, ISV_A), await publish_app(api.settings.database_url, ISV_B)
    )
    yield subscriptions
    await subscriptions.finish()


@pytest_asyncio.fixture
async def subs(api: Api) -> AsyncIterator[Subscriptions]:
    async with booking(api) as subscriptions:
        yield subscriptions


@pytest_asyncio.fixture
async def listing_subs(listing_api: Api) -> AsyncIterator[Subscriptions]:
    async with booking(listing_api) as subscriptions:
        yield subscriptions


# --- partners --------------------------------------------------------------------------------

AM = KEYS["account_manager"]["subject"]


async def sleep_days(env: WorkflowEnvironment, days: float) -> None:
    """Moves the test server's clock in steps of at most 30 days (one long skip outlasts the RPC timeout)."""
    left = days
    while left > 0:
        step = min(30.0, left)
        await env.sleep(timedelta(days=step))
        left -= step


async def seed_sold_subscription(api: Api, partner: str, isv_id: str, subscription: str, at: datetime) -> str:
    """The store's record of a subscription the partner sold for an app of `isv_id`, as the subscription
    workflow's activity writes it: all a usage report is checked against."""
    engine = create_engine(api.settings.database_url)
    async with create_session_factory(engine).begin() as session:
        session.add(
            models.Subscription(
                subscription_id=subscription,
                customer_id=subscription.split("-crm")[0],
                customer_name="Beispiel GmbH",
                app_id="crm",
                isv_id=isv_id,
                channel_partner_id=partner,
                status="active",
                term_months=12,
                booked_at=at,
                updated_at=at,
            )
        )
    await engine.dispose()
    return subscription


def new_partner_id() -> str:
    return f"partner-{uuid.uuid4().hex[:10]}"


@dataclass
class Partners:
    """Enrols channel partners through the API and commands them as an account manager."""

    api: Api
    enrolled: list[str] = field(default_factory=list)

    def body(
        self, *, partner_id: str | None = None, account_manager: str = AM, last_year_points: int | None = 0, **more: Any
    ) -> dict[str, Any]:
        body = {
            "id": partner_id or new_partner_id(),
            "name": "Telesales Nord GmbH",
            "account_manager": account_manager,
            "last_year_points": last_year_points,
            **more,
        }
        return {name: value for name, value in body.items() if value is not None}

    async def post_enrolment(self, body: dict[str, Any], as_role: str = "account_manager") -> httpx.Response:
        response = await self.api.http.post("/api/v1/partners", json=body, headers=auth(as_role))
        if response.status_code == 201:
            self.enrolled.append(response.json()["id"])
            await self.api.taken_up(partner_workflow_id(response.json()["id"]))
        return response

    async def enrol(self, as_role: str = "account_manager", **body: Any) -> dict[str, Any]:
        response = await self.post_enrolment(self.body(**body), as_role)
        assert response.status_code == 201, response.text
        view: dict[str, Any] = response.json()
        return view

    async def get(self, partner: str, path: str = "", as_role: str = "account_manager") -> httpx.Response:
        return await self.api.http.get(f"/api/v1/partners/{partner}{path}", headers=auth(as_role))

    async def view(self, partner: str, as_role: str = "account_manager") -> dict[str, Any]:
        response = await self.get(partner, as_role=as_role)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def post(
        self, partner: str, path: str, body: Any = None, as_role: str = "account_manager", key: str | None = None
    ) -> httpx.Response:
        headers = auth(as_role) | ({"Idempotency-Key": key} if key else {})
        return await self.api.http.post(f"/api/v1/partners/{partner}/{path}", json=body, headers=headers)

    async def contract(
        self,
        partner: str,
        reference_id: str | None = None,
        kind: str = "digital_phone_licenses",
        as_role: str = "account_manager",
        key: str | None = None,
        **more: Any,
    ) -> httpx.Response:
        """A contract event; by default Digital Phone licences (50 points each by the default catalogue)."""
        event = {"reference_id": reference_id or f"ref-{uuid.uuid4().hex[:10]}", "kind": kind, **more}
        return await self.post(partner, "contracts", event, as_role=as_role, key=key)

    async def seed_unpaid_invoice(self, partner: str, issued_at: datetime) -> None:
        """An invoice of one of the partner's customers that was never paid: bad payment behaviour."""
        number = f"inv-{uuid.uuid4().hex[:10]}"
        engine = create_engine(self.api.settings.database_url)
        async with create_session_factory(engine).begin() as session:
            session.add(
                models.InvoiceRow(
                    number=number,
                    subscription_id=f"cust-x-{number}",
                    customer_id="cust-x",
                    app_id="crm",
                    isv_id=ISV_A,
                    channel_partner_id=partner,
                    kind="period",
                    net_cents=1990,
                    vat_cents=378,
                    gross_cents=2368,
                    currency="EUR",
                    status="failed",
                    issued_at=issued_at,
                    due_at=issued_at,
                )
            )
        await engine.dispose()

    async def wait_until_ended(self, partner: str) -> None:
        await self.api.env.client.get_workflow_handle(partner_workflow_id(partner)).result()

    async def finish(self) -> None:
        """Terminates what the test left running, so its timers do not slow later tests' time skipping."""
        if self.api.env.supports_time_skipping:
            # The test server must settle refused Updates while the worker still runs (tests/workflow/conftest.py).
            await self.api.env.sleep(timedelta(seconds=1))
        for partner in self.enrolled:
            handle = self.api.env.client.get_workflow_handle(partner_workflow_id(partner))
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("api tests finished")


@asynccontextmanager
async def enrolling(api: Api) -> AsyncIterator[Partners]:
    partners = Partners(api)
    yield partners
    await partners.finish()


@pytest_asyncio.fixture
async def partners(api: Api) -> AsyncIterator[Partners]:
    async with enrolling(api) as enrolled:
        yield enrolled


@pytest_asyncio.fixture
async def listing_partners(listing_api: Api) -> AsyncIterator[Partners]:
    async with enrolling(listing_api) as enrolled:
        yield enrolled
