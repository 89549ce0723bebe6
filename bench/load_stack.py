"""Set-up and tear-down for `bench.load`: a scratch store, a Temporal dev server and the app's processes.

Everything lives in a temp directory and on free ports (never the main job's 7233/8233/8000), every child runs in
a session of its own (so the terminal's Ctrl-C reaches the bench first and it stops them in order) and gets SIGTERM
from the kernel if the bench dies without stopping it.
"""

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
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
Store = Literal["sqlite", "postgres"]
Layout = Literal["split", "devstack"]

REPO = Path(__file__).resolve().parent.parent
RESERVED_PORTS = frozenset({7233, 8233, 8000})  # the main job's defaults: someone else may be running it
PRICES = {1: 1_990, 12: 1_490}  # the published app's plans, as tests/api/conftest.py publishes them
PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 20.0
DEV_SERVER_ATTEMPTS = 3
STOP_ORDER = {"api": 0, "devstack": 0, "worker": 1, "temporal": 2}


class ProcessDied(RuntimeError):
    """A process of the stack exited while the bench still needed it."""


def free_port() -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def _die_with_parent() -> None:
    """The kernel sends the child SIGTERM if the bench dies without stopping it (SIGKILL, a crash)."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces); None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, at any depth: the main job may run its workers as child processes, in sessions
    of their own, which neither a process group signal nor the leader's own CPU time reaches."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc; 0 once it is gone."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def machine_ticks() -> tuple[int, int, int]:
    """All cores' (busy, iowait, total) clock ticks since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, iowait = values[3], values[4]
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle - iowait, iowait, total


@dataclass
class Service:
    """One child process of the stack, with its log and the signal that stops it gracefully."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM

    def alive(self) -> bool:
        return self.process.poll() is None

    def died(self) -> ProcessDied:
        return ProcessDied(
            f"{self.name} (pid {self.process.pid}) exited with {self.process.returncode}; "
            f"last lines of {self.log}:\n{tail(self.log)}"
        )

    def tree_cpu_seconds(self) -> float:
        """CPU time of the process and of the children it runs now (those that exited are no longer counted)."""
        return sum(cpu_seconds(pid) for pid in [self.process.pid, *descendants(self.process.pid)])

    def stop(self) -> None:
        """Graceful signal to the whole process group, then SIGKILL after a grace period; then any descendant that
        outlived it (in a session of its own). Synchronous on purpose: a second Ctrl-C cancelling the bench's event
        loop must not leave a child behind half-stopped."""
        below = {pid: _stat(pid) for pid in descendants(self.process.pid)}
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, self.stop_signal)
            try:
                self.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not stop within {STOP_GRACE_SECONDS:.0f} s: killing it", file=sys.stderr)
        # Also reaps anything the leader left behind in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for pid, was in below.items():
            now = _stat(pid)
            # Same start time (field 22): still that process, not a new one that reuses its pid.
            if now is not None and was is not None and now[19] == was[19]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@dataclass
class Keys:
    operator: str = field(default_factory=lambda: f"load-operator-{uuid.uuid4().hex[:8]}")
    auditor: str = field(default_factory=lambda: f"load-auditor-{uuid.uuid4().hex[:8]}")
    partner_manager: str = field(default_factory=lambda: f"load-pm-{uuid.uuid4().hex[:8]}")

    def grants(self) -> dict[str, dict[str, Any]]:
        return {
            self.operator: {"subject": "operator-otto", "roles": ["operator"]},
            self.auditor: {"subject": "auditor-eva", "roles": ["auditor"]},
            self.partner_manager: {"subject": "pm-anna", "roles": ["partner_manager"]},
        }


@dataclass
class Stack:
    """What the phases use: the store, the bench's own Temporal client, the API's URL and keys."""

    store: Store
    layout: Layout
    directory: Path
    database_url: str
    engine: AsyncEngine
    temporal_address: str
    task_queue: str
    keys: Keys
    api_url: str = ""
    app_id: str = ""
    client: Client | None = None
    services: list[Service] = field(default_factory=list)

    @property
    def temporal(self) -> Client:
        assert self.client is not None, "the stack is not up"
        return self.client

    def check_alive(self) -> None:
        for service in self.services:
            if not service.alive():
                raise service.died()

    async def guard(self, work: Awaitable[T]) -> T:
        """Runs `work`, failing at once (with the log's tail) if a process of the stack exits meanwhile."""

        async def watch() -> None:
            while True:
                self.check_alive()
                await asyncio.sleep(0.5)

        task = asyncio.ensure_future(work)
        watcher = asyncio.create_task(watch())
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                watcher.result()  # raises ProcessDied
            return task.result()
        finally:
            task.cancel()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.gather(task, watcher, return_exceptions=True)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process of the stack (with its children), and by the bench itself."""
        used = {service.name: service.tree_cpu_seconds() for service in self.services}
        used["bench"] = cpu_seconds(os.getpid())
        return used


# --- the store ---------------------------------------------------------------------------------


def _run_in_own_loop(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs a coroutine on a fresh loop in a thread: clean-up that a cancelled event loop cannot interrupt."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, make()).result()


async def _admin(url: str, statement: str) -> None:
    # CREATE/DROP DATABASE may not run inside a transaction: autocommit.
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def scratch_database(store: Store, directory: Path, postgres_url: str) -> AsyncIterator[str]:
    """The URL of an empty database of the run's own: a SQLite file in the temp directory, or a PostgreSQL database
    created for the run and dropped afterwards. A database, not a schema: the worker and the API only take
    DATABASE_URL, and asyncpg accepts no search_path in a URL."""
    if store == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'partnerflow.db'}"
        return
    name = f"pf_load_{uuid.uuid4().hex}"  # lower-case hex: no quoting needed in DDL
    await _admin(postgres_url, f"CREATE DATABASE {name}")
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: connections a killed process left open must not keep the database alive.
        _run_in_own_loop(lambda: _admin(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def publish_app(engine: AsyncEngine) -> str:
    """Puts a live app with 1- and 12-month plans into the catalogue, as a go-live would."""
    app_id = f"crm-{uuid.uuid4().hex[:8]}"
    await catalogue.publish_live_app(create_session_factory(engine), "acme", app_id, PRICES, datetime.now(UTC))
    return app_id


# --- processes ---------------------------------------------------------------------------------


def spawn(name: str, command: list[str], log: Path, env: dict[str, str], stop: signal.Signals) -> Service:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Service(name, process, log, stop)


def dev_server_command(database: Path, port: int) -> list[str]:
    """As devstack.start_dev_server, on free ports and with its state in the run's temp directory."""
    command = [
        installed_binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(database),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
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
    return command


async def start_dev_server(directory: Path, services: list[Service]) -> tuple[str, Client]:
    """Starts the dev server and connects; its address and the bench's client. The server picks the ports of its
    internal services itself, and on a shared machine one may be taken before it binds it (it then panics at
    start): so a server that dies while starting is tried again, on other ports."""
    for attempt in range(1, DEV_SERVER_ATTEMPTS + 1):
        port = free_port()
        command = dev_server_command(directory / f"temporal-{attempt}.db", port)
        server = spawn("temporal", command, directory / "temporal.log", dict(os.environ), signal.SIGTERM)
        services.append(server)
        try:
            return f"127.0.0.1:{port}", await connect(f"127.0.0.1:{port}", server)
        except ProcessDied as died:
            services.remove(server)
            server.stop()
            if attempt == DEV_SERVER_ATTEMPTS:
                raise
            print(f"the dev server died while starting, trying other ports: {str(died)[-300:]}", file=sys.stderr)
    raise AssertionError("unreachable")


async def connect(address: str, server: Service) -> Client:
    deadline = time.monotonic() + 60
    while True:
        if not server.alive():
            raise server.died()
        try:
            return await Client.connect(address, data_converter=data_converter(Settings()))
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def _has_pollers(client: Client, task_queue: str) -> bool:
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
            )
        )
        if not answer.pollers:
            return False
    return True


async def wait_ready(stack: Stack) -> None:
    """The API answers /health and a worker polls both the workflow and the activity task queue."""
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=2, trust_env=False) as http:
        while True:
            stack.check_alive()
            with contextlib.suppress(httpx.TransportError):
                healthy = (await http.get("/health")).status_code == 200
                if healthy and await _has_pollers(stack.temporal, stack.task_queue):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not come up within 120 s; logs in {stack.directory}")
            await asyncio.sleep(0.3)


def app_env(stack: Stack, api_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": stack.database_url,
        "TEMPORAL_ADDRESS": stack.temporal_address,
        "TEMPORAL_NAMESPACE": "default",
        "TASK_QUEUE": stack.task_queue,
        "API_KEYS": json.dumps(stack.keys.grants()),
        "PAYOUT_SCHEDULE": "false",
        "DATA_DIR": str(stack.directory / "data"),
        "API_HOST": "127.0.0.1",
        "API_PORT": str(api_port),
        "TEMPORAL_UI_PORT": str(free_port()),  # devstack only: the dev server already runs, so it is never used
        "PYTHONUNBUFFERED": "1",  # a dying process's last lines reach its log
    }


def spawn_worker(stack: Stack) -> Service:
    """One more `python -m worker` process on the stack's task queue (its API port is never used)."""
    number = sum(1 for service in stack.services if service.name.startswith("worker")) + 1
    name = "worker" if number == 1 else f"worker-{number}"
    env, python = app_env(stack, free_port()), sys.executable
    service = spawn(name, [python, "-m", "worker"], stack.directory / f"{name}.log", env, signal.SIGTERM)
    stack.services.append(service)
    return service


def start_app(stack: Stack, workers: int = 1) -> list[Service]:
    api_port = free_port()
    stack.api_url = f"http://127.0.0.1:{api_port}"
    env, python = app_env(stack, api_port), sys.executable
    if stack.layout == "devstack":
        # devstack finds the dev server listening and reuses it; SIGINT is its Ctrl-C (API, worker, in order).
        return [spawn("devstack", [python, "-m", "devstack"], stack.directory / "devstack.log", env, signal.SIGINT)]
    uvicorn = [python, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]
    uvicorn += ["--port", str(api_port)]
    for _ in range(workers):
        spawn_worker(stack)
    return [spawn("api", uvicorn, stack.directory / "api.log", env, signal.SIGTERM)]


@contextlib.asynccontextmanager
async def running_stack(
    store: Store, layout: Layout, postgres_url: str, directory: Path, workers: int = 1
) -> AsyncIterator[Stack]:
    """Brings the whole stack up in `directory` and always takes it down again: the app's processes (`workers`
    worker processes in the split layout), the dev server, the database."""
    services: list[Service] = []
    async with scratch_database(store, directory, postgres_url) as database_url:
        engine = create_engine(database_url)
        try:
            await migrate.upgrade(engine)
            app_id = await publish_app(engine)
            address, client = await start_dev_server(directory, services)
            stack = Stack(
                store=store,
                layout=layout,
                directory=directory,
                database_url=database_url,
                engine=engine,
                temporal_address=address,
                task_queue=f"load-{uuid.uuid4().hex[:8]}",
                keys=Keys(),
                app_id=app_id,
                client=client,
                services=services,
            )
            services.extend(start_app(stack, workers))
            await wait_ready(stack)
            yield stack
        finally:
            # The app's processes first (the API before the worker), then the dev server, as devstack stops them.
            for service in sorted(services, key=lambda s: STOP_ORDER.get(s.name.split("-")[0], 0)):
                service.stop()
            await engine.dispose()
