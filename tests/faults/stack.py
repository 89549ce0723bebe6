"""The stacks the fault tests break, built from real processes (tests/faults/processes.py):

- a migrated store (a SQLite file in the temp directory, or a PostgreSQL database) with one live app in the catalogue;
- the worker (`python -m worker`) and the API (`uvicorn api.app:create_app --factory`) as separate processes, or the
  main job (`python -m devstack`) alone.

Every context manager here stops what it started, also when the test fails, and then prints the tail of every log so
the failure can be read.
"""

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from temporalio.client import Client

from settings import Settings
from store import catalogue, migrate
from store.db import create_engine, create_session_factory
from tests.faults.processes import (
    PYTHON,
    START_SECONDS,
    DevServer,
    Service,
    descendants,
    listening,
    tail,
    worker_polls,
)
from tests.ports import free_port
from worker import data_converter

PRICES = {1: 1_990, 12: 1_490}  # the published app's plans: term in months -> monthly price in cents


# --- the store ---------------------------------------------------------------------------------


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'partnerflow.db'}"


async def prepare_store(database_url: str) -> str:
    """Migrates the store and puts one live app with 1- and 12-month plans into the catalogue, as a go-live would;
    returns the app's id."""
    app_id = f"crm-{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await catalogue.publish_live_app(create_session_factory(engine), "acme", app_id, PRICES, datetime.now(UTC))
    finally:
        await engine.dispose()
    return app_id


async def rows(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of one query against the store, read by the test itself (not through the API)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql), params)
            return [tuple(row) for row in result.all()]
    finally:
        await engine.dispose()


# --- keys and settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    operator: str = field(default_factory=lambda: f"fault-operator-{uuid.uuid4().hex[:8]}")
    auditor: str = field(default_factory=lambda: f"fault-auditor-{uuid.uuid4().hex[:8]}")
    admin: str = field(default_factory=lambda: f"fault-admin-{uuid.uuid4().hex[:8]}")

    OPERATOR_SUBJECT = "operator-otto"

    def grants(self) -> dict[str, dict[str, Any]]:
        return {
            self.operator: {"subject": self.OPERATOR_SUBJECT, "roles": ["operator"]},
            self.auditor: {"subject": "auditor-eva", "roles": ["auditor"]},
            self.admin: {"subject": "admin-ada", "roles": ["admin"]},
        }


# --- the worker and the API as processes of their own -----------------------------------------


@dataclass
class SplitStack:
    """A dev server, one or more `python -m worker` processes and a uvicorn API, on one store."""

    directory: Path
    database_url: str
    server: DevServer
    keys: Keys
    app_id: str
    task_queue: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}")
    api_port: int = field(default_factory=free_port)
    workers: list[Service] = field(default_factory=list)
    api: Service | None = None
    client: Client | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # settings of the test, for every process

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def temporal(self) -> Client:
        assert self.client is not None, "the stack is not up"
        return self.client

    def env(self) -> dict[str, str]:
        data = self.directory / "data"
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.server.address,
            "TEMPORAL_NAMESPACE": "default",
            "TASK_QUEUE": self.task_queue,
            "API_KEYS": json.dumps(self.keys.grants()),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.api_port),
            "PAYOUT_SCHEDULE": "false",
            "DATA_DIR": str(data),
            "EXPORT_DIR": str(data / "exports"),
            "PAYMENT_WEBHOOK_URL": f"{self.api_url}/api/v1/payments/webhook",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",  # a killed process's last lines reach its log
            **self.overrides,
        }

    def services(self) -> list[Service]:
        return [self.server.service, *self.workers, *([self.api] if self.api else [])]

    def add_worker(self) -> Service:
        index = len(self.workers)
        service = Service(
            f"worker-{index}", [PYTHON, "-m", "worker"], self.env(), self.directory / f"worker-{index}.log"
        )
        self.workers.append(service)
        service.start()
        return service

    def add_api(self) -> Service:
        command = [PYTHON, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]
        self.api = Service("api", [*command, "--port", str(self.api_port)], self.env(), self.directory / "api.log")
        self.api.start()
        return self.api

    async def wait_api(self, seconds: float = START_SECONDS) -> None:
        assert self.api is not None
        await wait_healthy(self.api, self.api_url, seconds)

    async def wait_worker(self, worker: Service, seconds: float = START_SECONDS) -> None:
        """Until `worker` (its current process) polls both task queues."""
        deadline = time.monotonic() + seconds
        while not await worker_polls(self.temporal, self.task_queue, worker.pid):
            if not worker.alive():
                raise worker.died()
            assert time.monotonic() < deadline, (
                f"{worker.name} does not poll after {seconds:.0f} s:\n{tail(worker.log)}"
            )
            await asyncio.sleep(0.3)

    async def restart_worker(self, worker: Service) -> None:
        worker.start()
        await self.wait_worker(worker)

    def log_lines(self, needle: str) -> dict[str, list[str]]:
        """Lines containing `needle` in each process's log."""
        found: dict[str, list[str]] = {}
        for service in self.services():
            hits = [line for line in service.log_text().splitlines() if needle in line]
            if hits:
                found[service.name] = hits
        return found


async def wait_healthy(service: Service, url: str, seconds: float = START_SECONDS) -> None:
    """Until `url`/health answers 200."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=2, trust_env=False) as http:
        while True:
            if not service.alive():
                raise service.died()
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/health")).status_code == 200:
                    return
            assert time.monotonic() < deadline, (
                f"{service.name} is not healthy after {seconds:.0f} s:\n{tail(service.log)}"
            )
            await asyncio.sleep(0.3)


def _report(services: list[Service]) -> None:
    """The tail of every log, printed so a failing test shows what each process said."""
    for service in services:
        print(f"\n----- {service.name} (pids {service.pids}): {service.log} -----\n{tail(service.log, 80)}", flush=True)


@contextlib.contextmanager
def _stopping(services: Callable[[], list[Service]]) -> Iterator[None]:
    """Stops every service at the end, first to last (the API before the workers before Temporal); on failure
    prints their logs first."""
    try:
        yield
    except BaseException:
        _report(services())
        raise
    finally:
        for service in services():
            service.stop()


@contextlib.asynccontextmanager
async def split_stack(
    directory: Path, *, database_url: str | None = None, workers: int = 1, **env: str
) -> AsyncIterator[SplitStack]:
    """The whole stack up and serving: the dev server, `workers` worker processes and the API."""
    database_url = database_url or sqlite_url(directory)
    app_id = await prepare_store(database_url)
    stack = SplitStack(directory, database_url, DevServer(directory), Keys(), app_id, overrides=dict(env))

    def stop_order() -> list[Service]:
        return [*([stack.api] if stack.api else []), *stack.workers, stack.server.service]

    with _stopping(stop_order):
        stack.server.start()
        stack.client = await stack.server.client()
        for _ in range(workers):
            stack.add_worker()
        stack.add_api()
        for worker in stack.workers:
            await stack.wait_worker(worker)
        await stack.wait_api()
        yield stack


# --- the main job ------------------------------------------------------------------------------


@dataclass
class MainJob:
    """`python -m devstack` on its own free ports, with its data directory and SQLite store in `directory`."""

    directory: Path
    keys: Keys
    app_id: str
    temporal_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    service: Service | None = None
    client: Client | None = None

    @property
    def database_url(self) -> str:
        return sqlite_url(self.directory)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def env(self) -> dict[str, str]:
        environment = {
            **os.environ,
            "DATA_DIR": str(self.directory / "data"),
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_UI_PORT": str(self.ui_port),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.api_port),
            "API_KEYS": json.dumps(self.keys.grants()),
            "WORKER_PROCESSES": "1",
            "PYTHONUNBUFFERED": "1",
        }
        environment.pop("PAYMENT_WEBHOOK_URL", None)  # the main job points the sandbox at its own API
        return environment

    def start(self) -> None:
        if self.service is None:
            command = [PYTHON, "-m", "devstack"]
            self.service = Service("devstack", command, self.env(), self.directory / "devstack.log", signal.SIGINT)
        self.service.start()

    async def wait_ready(self, seconds: float = START_SECONDS) -> None:
        """The API answers /health and a worker process polls the main job's task queue."""
        assert self.service is not None
        await wait_healthy(self.service, self.api_url, seconds)
        if self.client is None:
            self.client = await Client.connect(self.temporal_address, data_converter=data_converter(Settings()))
        deadline = time.monotonic() + seconds
        while True:
            workers = [pid for pid in descendants(self.service.pid) if _is_worker(pid)]
            if any([await worker_polls(self.client, Settings().task_queue, pid) for pid in workers]):
                return
            if not self.service.alive():
                raise self.service.died()
            assert time.monotonic() < deadline, f"no worker of the main job polls:\n{tail(self.service.log)}"
            await asyncio.sleep(0.3)

    async def kill(self) -> None:
        """kill -9 of the main job's process; its dev server and workers go with it (PR_SET_PDEATHSIG) and are
        waited for, so a restart finds the ports free."""
        assert self.service is not None
        self.service.kill()
        self.client = None
        deadline = time.monotonic() + 30
        while self.service.offspring_alive() or listening(self.temporal_port):
            if time.monotonic() > deadline:
                self.service.reap_offspring()  # they did not follow their parent: the test notes it
                raise AssertionError("the main job's dev server or workers outlived it by 30 s")
            await asyncio.sleep(0.2)
        self.service.offspring.clear()  # all gone: nothing to reap

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(grace=30)


def _is_worker(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-m", b"worker"]
    except (OSError, IndexError):
        return False


@contextlib.asynccontextmanager
async def main_job(directory: Path) -> AsyncIterator[MainJob]:
    app_id = await prepare_store(sqlite_url(directory))
    job = MainJob(directory, Keys(), app_id)
    with _stopping(lambda: [job.service] if job.service else []):
        job.start()
        await job.wait_ready()
        yield job
