"""A throwaway stack for the simulation: a migrated SQLite store in a directory, Temporal's time-skipping server, a
worker with the real workflows and activities, and the API app called in process (httpx over ASGI) with the demo
keys, its clock the server's, so commands carry simulated time."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from demo.seeder import Api, callers_from
from devstack import DEMO_API_KEYS, time_skipping_server
from domain.payouts import payout_workflow_id
from settings import ApiKeyGrant, Settings
from store import migrate
from store.db import create_engine, create_session_factory
from worker import create_worker
from workflows.payout import PayoutInput, PayoutWorkflow

# One move of the clock over many timers outlasts the server's RPC timeout: it moves in steps of at most this.
SLEEP_STEP = timedelta(days=30)
POLL_SECONDS = 0.02
ACTOR = "simulation"


@dataclass
class Stack:
    env: WorkflowEnvironment
    api: Api
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sleep_until(self, moment: datetime) -> None:
        """Moves the server's clock to `moment`; the timers due by then fire, and their work is done on return."""
        while (left := moment - await self.now()) > timedelta():
            await self.env.sleep(min(left, SLEEP_STEP))

    async def taken_up(self, workflow_id: str) -> None:
        """Waits for a new workflow's first task: a start answers before it, and moving the clock right away would
        skip past that task's own timeout."""
        await self.env.client.get_workflow_handle(workflow_id).query("__stack_trace")

    async def run_payout(self, month: str) -> None:
        """A month's payout run, as the monthly Schedule starts one (the time-skipping server has no Schedules).

        Its end is polled rather than awaited: waiting on a result lets the server move its clock."""
        handle = await self.env.client.start_workflow(
            PayoutWorkflow.run,
            PayoutInput(month=month, actor=ACTOR),
            id=payout_workflow_id(month),
            task_queue=self.settings.task_queue,
        )
        while True:
            status = (await handle.describe()).status
            if status != WorkflowExecutionStatus.RUNNING:
                if status != WorkflowExecutionStatus.COMPLETED:
                    raise RuntimeError(f"the payout of {month} ended {status.name if status else 'unknown'}")
                return
            await asyncio.sleep(POLL_SECONDS)


def simulation_settings(database_url: str, directory: Path) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "task_queue": "simulation",
            "export_dir": directory / "exports",
            "api_keys": DEMO_API_KEYS,
            "payout_schedule": False,
            "payment_webhook_url": None,  # the charges' answers decide; no webhooks to a stack that is not there
        }
    )


@asynccontextmanager
async def throwaway_stack(directory: Path) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{directory / 'partnerflow.db'}"
    engine = create_engine(url)
    await migrate.upgrade(engine)
    settings = simulation_settings(url, directory)
    callers = callers_from({key: ApiKeyGrant.model_validate(grant) for key, grant in DEMO_API_KEYS.items()})
    try:
        async with time_skipping_server() as env:
            app = create_app(settings, temporal_client=env.client, clock=env.get_current_time)
            transport = httpx.ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),  # ASGITransport runs no lifespan: the app's jobs and shutdown
                create_worker(env.client, settings),
                httpx.AsyncClient(transport=transport, base_url="http://simulation", timeout=60.0) as http,
            ):
                yield Stack(env, Api(http, callers, key_prefix="simulation"), create_session_factory(engine), settings)
    finally:
        await engine.dispose()
