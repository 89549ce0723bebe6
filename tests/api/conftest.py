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
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.ids import onboarding_id, onboarding_workflow_id
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from settings import Settings
from store import migrate
from store.db import create_engine
from tests.conftest import test_settings
from worker import create_worker

# ISV ids carry a run-unique suffix: the dev server's visibility is shared by every test of the session.
T = TypeVar("T")

RUN = uuid.uuid4().hex[:6]
ISV_A = f"acme-{RUN}"
ISV_B = f"globex-{RUN}"

KEYS: dict[str, dict[str, Any]] = {
    "admin": {"subject": "admin-ada", "roles": ["admin"]},
    "pm": {"subject": "pm-anna", "roles": ["partner_manager"]},
    "auditor": {"subject": "auditor-aurel", "roles": ["auditor"]},
    "isv_a": {"subject": "isv-acme", "roles": ["isv"], "isv_id": ISV_A},
    "isv_b": {"subject": "isv-globex", "roles": ["isv"], "isv_id": ISV_B},
    "operator": {"subject": "operator-otto", "roles": ["operator"]},
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


def api_settings(database_url: str, **overrides: object) -> Settings:
    return test_settings(database_url, api_keys={key_of(role): grant for role, grant in KEYS.items()}, **overrides)


def assert_error(response: httpx.Response, status: int, code: str) -> Any:
    """Checks the one error shape and returns its details."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error["details"]


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
        return view

    async def command(self, onboarding: str, path: str, body: Any = None, as_role: str = "pm") -> httpx.Response:
        return await self.http.post(f"/api/v1/onboardings/{onboarding}/{path}", json=body, headers=auth(as_role))

    async def ok(self, onboarding: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self.command(onboarding, path, body)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def pass_stage(self, onboarding: str, stage: StageId) -> dict[str, Any]:
        """Meets every exit criterion of `stage` through the API, then advances."""
        if stage == StageId.COMMERCIAL:
            response = await self.http.put(
                f"/api/v1/onboardings/{onboarding}/commercial-terms", json=TERMS, headers=auth("pm")
            )
            assert response.status_code == 200, response.text
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
async def serving(env: WorkflowEnvironment, database_url: str) -> AsyncIterator[Api]:
    settings = api_settings(database_url)
    app = create_app(settings, temporal_client=env.client)
    # ASGITransport runs no lifespan; entering it here gives the app its shutdown (engine disposal).
    async with (
        app.router.lifespan_context(app),
        create_worker(env.client, settings),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        api = Api(http, env, settings)
        yield api
        await api.terminate_running()


async def migrated_database(directory: Path) -> str:
    url = f"sqlite+aiosqlite:///{directory / 'partnerflow.db'}"
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    return url


@pytest_asyncio.fixture(scope="module")
async def api(time_skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with serving(time_skipping_env, await migrated_database(tmp_path_factory.mktemp("api"))) as served:
        yield served


@pytest_asyncio.fixture(scope="module")
async def listing_api(
    dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    async with serving(dev_server_env, await migrated_database(tmp_path_factory.mktemp("api-dev"))) as served:
        yield served


def new_onboarding_id(isv: str = ISV_A) -> tuple[str, str]:
    """A fresh (app id, onboarding id) pair."""
    app = f"app-{uuid.uuid4().hex[:10]}"
    return app, onboarding_id(isv, app)
