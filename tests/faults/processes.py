"""Real processes for the fault tests: a Temporal dev server from the venv's `temporal` binary (its state in a file
of the test's temp directory, so it can be stopped and started again on the same port with everything it had), and
any command as a `Service` with a log of its own, on free loopback ports.

A process can be killed with SIGKILL, started again and waited for until it serves. Every child runs in a session of
its own and is killed by the kernel if the test process dies (PR_SET_PDEATHSIG).
"""

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from devstack import installed_binary
from settings import Settings
from tests.ports import free_port
from worker import data_converter
from workflows import search_attributes

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PR_SET_PDEATHSIG = 1
START_SECONDS = 90.0  # how long a process may take to serve, on two shared cores


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
