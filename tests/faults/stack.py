"""Real processes for the fault tests, each on free loopback ports with a log of its own:

- a Temporal dev server from the venv's `temporal` binary, its state in a file of the test's temp directory, so it can
  be stopped and started again on the same port with everything it had;
- a migrated store (a SQLite file in the temp directory, or a PostgreSQL database) with one live app in the catalogue;
- the worker (`python -m worker`) and the API (`uvicorn api.app:create_app --factory`) as separate processes, or the
  main job (`python -m devstack`) alone.

A process can be killed with SIGKILL, started again and waited for until it serves. Every child runs in a session of
its own and is killed by the kernel if the test process dies (PR_SET_PDEATHSIG); every context manager here stops
what it started, also when the test fails, and then prints the tail of every log so the failure can be read.
"""

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from devstack import installed_binary
from settings import Settings
from store import catalogue, migrate
from store.db import create_engine, create_session_factory
from worker import data_converter
from workflows import search_attributes

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The main job's default ports and the shared PostgreSQL cluster: someone else may be using them.
RESERVED_PORTS = frozenset({5432, 7233, 8000, 8233})
PR_SET_PDEATHSIG = 1
PRICES = {1: 1_990, 12: 1_490}  # the published app's plans: term in months -> monthly price in cents
START_SECONDS = 90.0  # how long a process may take to serve, on two shared cores


def free_port() -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    """The kernel kills the child if the test process dies without stopping it."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...); None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot): with the pid, it names one process, never a reused pid."""
    fields = _stat(pid)
    return int(fields[19]) if fields is not None else None


def descendants(pid: int) -> dict[int, int]:
    """Every living process below `pid` (children, their children, ...), from /proc: pid -> start time."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            started = start_time(child)
            if started is not None:
                found[child] = started
                todo.append(child)
    return found


def same_process_alive(pid: int, started: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == started


async def poll(
    read: Callable[[], Awaitable[T]], until: Callable[[T], bool], *, seconds: float, interval: float = 0.5
) -> tuple[T, bool]:
    """Reads until `until` holds or `seconds` pass: the last value read, and whether it held."""
    deadline = time.monotonic() + seconds
    while True:
        value = await read()
        if until(value):
            return value, True
        if time.monotonic() > deadline:
            return value, False
        await asyncio.sleep(interval)


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Service:
    """One child process, with its log (kept across restarts) and the pids it ran as."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)
    # Processes it started that may outlive it (the main job's dev server and workers), pid -> start time.
    offspring: dict[int, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is running already"
        with self.log.open("ab") as out:
            out.write(f"\n===== {self.name} starting at {datetime.now(UTC).isoformat()} =====\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.pids.append(self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def remember_offspring(self) -> None:
        if self.alive():
            self.offspring.update(descendants(self.pid))

    def kill(self) -> None:
        """kill -9: no clean-up, no goodbye; the process's session goes with it."""
        if self.process is None:
            return
        self.remember_offspring()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self, grace: float = 15.0) -> None:
        """Its graceful signal, SIGKILL after `grace`; then SIGKILL to whatever it left behind."""
        if self.alive():
            self.remember_offspring()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, self.stop_signal)
            try:
                assert self.process is not None
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not stop within {grace:.0f} s: killing it", flush=True)
        self.kill()
        self.reap_offspring()

    def offspring_alive(self) -> bool:
        return any(same_process_alive(pid, started) for pid, started in self.offspring.items())

    def reap_offspring(self) -> None:
        for pid, started in self.offspring.items():
            if same_process_alive(pid, started):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self.offspring.clear()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def died(self) -> AssertionError:
        code = self.process.returncode if self.process is not None else None
        return AssertionError(f"{self.name} exited ({code}); last lines of {self.log}:\n{tail(self.log)}")


class DevServer:
    """`temporal server start-dev` on fixed free ports with its state in `directory`: a restart keeps everything."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        command = [
            installed_binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(directory / "temporal.db"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(free_port()),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--log-level",
            "warn",
        ]
        command += search_attributes.dev_server_arguments()
        self.service = Service("temporal", command, dict(os.environ), directory / "temporal.log")

    def start(self) -> None:
        self.service.start()

    async def client(self, seconds: float = START_SECONDS) -> Client:
        """A client with the project's converter, once the server accepts connections."""
        deadline = time.monotonic() + seconds
        while True:
            if not self.service.alive():
                raise self.service.died()
            try:
                return await Client.connect(self.address, data_converter=data_converter(Settings()))
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def wait_down(self, seconds: float = 30.0) -> None:
        """Until the process has exited and its port is free, so it can start again on the same port."""
        deadline = time.monotonic() + seconds
        while self.service.alive() or listening(self.port):
            assert time.monotonic() < deadline, f"the dev server still runs or listens on {self.port}"
            await asyncio.sleep(0.2)


async def worker_polls(client: Client, task_queue: str, pid: int) -> bool:
    """Whether the worker process `pid` polls both the workflow and the activity task queue (the SDK's identity of
    a worker is `{pid}@{host}`)."""
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
            )
        )
        if not any(poller.identity.startswith(f"{pid}@") for poller in answer.pollers):
            return False
    return True


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


# --- PostgreSQL: a cluster of the test's own ---------------------------------------------------


class PgCluster:
    """A PostgreSQL cluster made for one test with Debian's postgresql-common tools, on a free port, trusting local
    connections; dropped afterwards. The shared cluster on 5432 is never touched."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.name = f"pf_fault_{uuid.uuid4().hex[:10]}"
        self.port = free_port()

    @staticmethod
    def unavailable() -> str | None:
        """Why a cluster of our own cannot be made here, or None."""
        tools = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster")
        missing = [tool for tool in tools if shutil.which(tool) is None]
        if missing:
            return f"postgresql-common is not installed ({', '.join(missing)} missing)"
        if os.geteuid() != 0:
            return "making a PostgreSQL cluster needs root (pg_createcluster runs initdb as the postgres user)"
        if not PgCluster.versions():
            return "no PostgreSQL server version is installed (/etc/postgresql is empty or missing)"
        return None

    @staticmethod
    def versions() -> list[str]:
        root = Path("/etc/postgresql")
        found = [entry.name for entry in root.iterdir() if entry.is_dir()] if root.is_dir() else []
        usable = [v for v in found if Path(f"/usr/lib/postgresql/{v}/bin/postgres").exists()]
        return sorted(usable, key=lambda v: [int(part) for part in v.split(".") if part.isdigit()])

    def _run(self, *command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"

    def create(self) -> None:
        self._run("pg_createcluster", self.version, self.name, "-p", str(self.port), "--", "--auth=trust")

    def start(self) -> None:
        self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "start")

    def stop(self) -> None:
        self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "stop", "-m", "fast")

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name], capture_output=True, timeout=120, check=False
        )

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def log(self) -> Path:
        return Path(f"/var/log/postgresql/postgresql-{self.version}-{self.name}.log")

    async def create_database(self, name: str) -> str:
        engine = create_engine(self.url("postgres"))
        try:
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text(f"CREATE DATABASE {name}"))
        finally:
            await engine.dispose()
        return make_url(self.url(name)).render_as_string(hide_password=False)


@contextlib.contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    reason = PgCluster.unavailable()
    if reason is not None:
        pytest.skip(f"no PostgreSQL cluster of our own can be made: {reason}")
    cluster = PgCluster(PgCluster.versions()[-1])
    try:
        try:
            cluster.create()
            cluster.start()
        except AssertionError as error:  # the machine will not let us (permissions, disk, a broken install)
            pytest.skip(f"no PostgreSQL cluster of our own can be made: {error}")
        yield cluster
    except BaseException:
        print(f"\n----- PostgreSQL {cluster.name}: {cluster.log} -----\n{tail(cluster.log)}", flush=True)
        raise
    finally:
        cluster.drop()
