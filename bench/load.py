"""Load benchmark: how many subscription bookings the stack takes per second, against what its worker can process.

    .venv/bin/python -m bench.load [--store sqlite|postgres] [--postgres-url URL] [--layout split|devstack]
                                   [--clients 16] [--seconds 45] [--direct 300] [--raw-seconds 5]
                                   [--drain-timeout 180] [--json FILE] [--keep-logs]

One run sets up everything itself in a temp directory, on free ports (never 7233/8233/8000): a scratch store
(a SQLite file, or a PostgreSQL database created for the run and dropped afterwards), migrated, with one live app
(1- and 12-month plans); a Temporal dev server; and the app, as `--layout split` (`python -m worker` and
`uvicorn api.app:create_app --factory`, two processes) or `--layout devstack` (`python -m devstack`, the main job,
reusing the dev server). After one untimed warm-up booking it measures, against the same servers:

1. raw start_workflow: `--clients` asyncio loops calling `client.start_workflow(SubscriptionWorkflow.run, ...)`
   with the API's input on one shared client, for `--raw-seconds`, while the worker processes what they start;
   starts/s and start latency p50/p99. The worker then works off that backlog before phase 2 (time reported).
2. worker processing: `--direct` bookings started at once; a booking is *processed* when its row is in the
   `subscriptions` table AND its `provision` call is in `connector_calls`, i.e. the workflow's first step (its
   snapshot and the ISV connector call) is done. Rate = processed ÷ (time of the last processed booking's
   provision row - first start).
3. API bookings: `--clients` closed loops, each its own httpx client, POSTing `/api/v1/subscriptions` (the README's
   booking, a fresh customer each) for `--seconds`; in-flight requests are awaited (client timeout 60 s).
   bookings/s = 201s ÷ (first request to last answer); latency p50/p95/p99/max over every request, unanswered
   ones at the time they took; non-2xx by status, 5xx, unanswered (timeouts, connection errors), requests over 10 s;
   per 5 s of the phase, the 201s answered and the slowest answer (a stall shows as a dip and a slow maximum).
4. afterwards: `GET /audit/verify`; `subscription.book` audit entries with outcome accepted since phase 3 began,
   against the number of 201s; lines of every process log matching `database is locked`, `Traceback`,
   `QueuePool limit`, ERROR and WARNING (scanned before the stack is stopped, so shutdown noise is not counted),
   and the most frequent such lines, ids and numbers masked.

The ratios: API bookings/s ÷ worker processing rate (target >= 0.8: the API should pass on most of what the worker
can do) and API p99 (target <= 1.5 s). The CPU rows give each process's use (with its children) per phase in % of
one core, and the whole machine's busy and iowait time in % of all cores: on shared cores, others' work shows there.
The exit status is 0 whenever the run completes, whatever the figures; 1 if it could not (a process died, say),
after printing the tail of that process's log; the temp directory with every log is then kept.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.load_phases import (
    TIMELINE_SECONDS,
    ApiBookings,
    RawStarts,
    WorkerRate,
    api_bookings,
    plan_of,
    processed,
    raw_starts,
    wait_processed,
    warm_up,
    worker_rate,
)
from bench.load_report import AuditCheck, LogScan, Table, check_audit, ms, scan_logs, scan_table, verdict
from bench.load_stack import REPO, Layout, ProcessDied, Stack, Store, machine_ticks, running_stack

T = TypeVar("T")
TARGET_RATIO = 0.8
TARGET_P99_SECONDS = 1.5
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class Figures:
    meta: dict[str, Any]
    raw: RawStarts | None = None
    worker: WorkerRate | None = None
    api: ApiBookings | None = None
    audit: AuditCheck | None = None
    logs: LogScan | None = None
    cpu_percent: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> process -> % of one core

    @property
    def ratio(self) -> float | None:
        if self.api is None or self.worker is None or not self.worker.bookings_per_second:
            return None
        return self.api.bookings_per_second / self.worker.bookings_per_second


class CpuMeter:
    """Each process's CPU use over a phase, as a percentage of one core."""

    def __init__(self, stack: Stack, figures: Figures) -> None:
        self.stack, self.figures = stack, figures

    async def measure(self, phase: str, work: Awaitable[T]) -> T:
        before, began, machine = self.stack.cpu(), time.perf_counter(), machine_ticks()
        result = await work
        after, wall = self.stack.cpu(), time.perf_counter() - began
        used = {name: 100 * (after[name] - before.get(name, 0.0)) / wall for name in after}
        # The whole machine, all cores = 100 %: other people's work on the shared cores, and time spent waiting
        # for the disk (the dev server's and SQLite's fsyncs), show up here and nowhere else.
        busy, iowait, total = (now - then for now, then in zip(machine_ticks(), machine, strict=True))
        used["machine busy %"] = 100 * busy / total if total else 0.0
        used["machine iowait %"] = 100 * iowait / total if total else 0.0
        self.figures.cpu_percent[phase] = used
        return result


async def measure(stack: Stack, options: argparse.Namespace, figures: Figures) -> None:
    run = uuid.uuid4().hex[:6]
    operator = stack.keys.operator
    plan = await plan_of(stack.engine, stack.app_id)
    await warm_up(stack.api_url, operator, stack.app_id, stack.engine, run)
    cpu = CpuMeter(stack, figures)

    print(f"phase 1: raw start_workflow, {options.clients} clients, {options.raw_seconds} s", file=sys.stderr)
    figures.raw = raw = await cpu.measure(
        "raw starts",
        raw_starts(stack.temporal, stack.task_queue, stack.app_id, plan, options.clients, options.raw_seconds, run),
    )
    # The worker works off phase 1's starts first, so phase 2 times the worker alone on its own burst.
    began = time.perf_counter()
    _, raw.drained = await wait_processed(stack.engine, raw.prefix, raw.started, options.drain_timeout)
    raw.drain_seconds = time.perf_counter() - began

    print(f"phase 2: {options.direct} bookings started at once, worker processing", file=sys.stderr)
    figures.worker = await cpu.measure(
        "worker processing",
        worker_rate(
            stack.temporal,
            stack.engine,
            stack.task_queue,
            stack.app_id,
            plan,
            options.direct,
            run,
            options.drain_timeout,
        ),
    )

    print(f"phase 3: API bookings, {options.clients} clients, {options.seconds} s", file=sys.stderr)
    figures.api = api = await cpu.measure(
        "API bookings", api_bookings(stack.api_url, operator, stack.app_id, options.clients, options.seconds, run)
    )
    # A 201 means the workflow ran its first task, not its activities: how far the worker lags behind the API.
    api.processed_at_end = (await processed(stack.engine, api.prefix)).count

    print("phase 4: audit log", file=sys.stderr)
    figures.audit = await check_audit(stack.api_url, stack.keys.auditor, api.since, api.created)


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    return ""


def meta(options: argparse.Namespace) -> dict[str, Any]:
    return {
        "store": options.store,
        "layout": options.layout,
        "clients": options.clients,
        "seconds": options.seconds,
        "raw_seconds": options.raw_seconds,
        "direct": options.direct,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        # Others may be editing the checkout: say whether the code measured is exactly the commit.
        "local_changes": bool(_git("status", "--porcelain")),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        # The cores are shared: what else was running when the bench began.
        "load_average_1min": os.getloadavg()[0],
    }


def _detail(counts: dict[str, int]) -> str:
    return f" {counts}" if counts else ""


def render(figures: Figures) -> str:
    m, table = figures.meta, Table()
    table.rule("=")
    table.text(
        f"Partnerflow load benchmark: store {m['store']}, layout {m['layout']}, clients {m['clients']}, "
        f"seconds {m['seconds']}, direct {m['direct']}"
    )
    table.text(
        f"machine: nproc {m['nproc']}, Python {m['python']} ({m['platform']}); commit {m['commit'] or '-'}"
        f"{' + local changes' if m['local_changes'] else ''}; load avg {m['load_average_1min']:.2f}; {m['date']}"
    )
    table.rule()
    if (raw := figures.raw) is not None:
        errors = sum(raw.errors.values())
        table.row(
            "raw start_workflow (starts/s, p50, p99)",
            f"{raw.starts_per_second:7.1f} starts/s   p50 {ms(raw.p50_seconds)}   p99 {ms(raw.p99_seconds)}   "
            f"[{raw.started} starts in {raw.seconds:.1f} s, {errors} errors{_detail(raw.errors)}]",
        )
        backlog = "worked off" if raw.drained else "NOT worked off (timeout)"
        table.row("  its backlog, after the phase", f"{backlog} in {raw.drain_seconds or 0:.1f} s")
    if (worker := figures.worker) is not None:
        table.row(
            "worker processing (bookings/s)",
            f"{worker.bookings_per_second:7.1f} bookings/s   [{worker.processed}/{worker.started} processed"
            f"{'' if worker.complete else ' (TIMEOUT)'} in {worker.seconds:.2f} s from the first start; "
            f"starts took {worker.burst_seconds:.2f} s]",
        )
        table.row("", "processed = row in `subscriptions` AND `provision` row in `connector_calls`")
    if (api := figures.api) is not None:
        unanswered = sum(api.unanswered.values())
        table.row(
            "API bookings (bookings/s, p50, p99, errors)",
            f"{api.bookings_per_second:7.1f} bookings/s   p50 {ms(api.p50_seconds)}   p95 {ms(api.p95_seconds)}   "
            f"p99 {ms(api.p99_seconds)}   max {ms(api.max_seconds)}",
        )
        table.row(
            "",
            f"{api.requests} requests in {api.seconds:.1f} s: {api.created} x 201, non-2xx {api.non_2xx or 0}, "
            f"5xx {api.server_errors}, unanswered {unanswered}{_detail(api.unanswered)}, over 10 s {api.over_10s}",
        )
        table.row(
            "",
            f"its bookings processed by the worker when it ended: {api.processed_at_end} (201s: {api.created})",
        )
        table.row(f"  201s per {TIMELINE_SECONDS:.0f} s", " ".join(f"{w.created:>5}" for w in api.timeline))
        slowest = (f"{w.slowest_seconds:5.1f}" if w.slowest_seconds is not None else "    -" for w in api.timeline)
        table.row(f"  slowest answer per {TIMELINE_SECONDS:.0f} s (s)", " ".join(slowest))
    table.rule()
    if figures.ratio is not None:
        table.row(
            "API bookings/s ÷ worker processing rate",
            f"{figures.ratio:7.2f}     target >= {TARGET_RATIO}    {verdict(figures.ratio >= TARGET_RATIO)}",
        )
    if api is not None and api.p99_seconds is not None:
        table.row(
            "API p99",
            f"{api.p99_seconds:7.2f} s   target <= {TARGET_P99_SECONDS} s  "
            f"{verdict(api.p99_seconds <= TARGET_P99_SECONDS)}",
        )
    table.rule()
    if (audit := figures.audit) is not None:
        verified = json.dumps(audit.verify) if audit.verify is not None else f"FAILED {audit.verify_error}"
        table.row("audit verify", verified)
        created = api.created if api is not None else 0
        accepted = "-" if audit.accepted is None else str(audit.accepted)
        table.row(
            "audit subscription.book accepted vs 201s",
            f"{accepted} accepted vs {created} x 201   [all its entries by outcome: {audit.by_outcome}]"
            + (f" read FAILED {audit.read_error}" if audit.read_error else ""),
        )
        table.rule()
    if figures.cpu_percent:
        names = list(next(iter(figures.cpu_percent.values())))
        table.text("CPU per phase: each process (with its children) in % of one core; the machine in % of all cores")
        table.text(f"{'':<22}" + "".join(f"{name:>18}" for name in names))
        for phase, used in figures.cpu_percent.items():
            table.text(f"  {phase:<20}" + "".join(f"{used.get(name, 0):>18.0f}" for name in names))
        table.rule()
    if figures.logs is not None:
        scan_table(table, figures.logs)
    table.rule("=")
    return table.render()


@contextlib.contextmanager
def work_directory(keep: bool) -> Iterator[Path]:
    """The run's temp directory: removed afterwards, unless the run failed or --keep-logs asks to keep it."""
    directory = Path(tempfile.mkdtemp(prefix="pf-load-"))
    failed = True
    try:
        yield directory
        failed = False
    finally:
        if failed or keep:
            print(f"logs kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


async def run(options: argparse.Namespace) -> Figures:
    figures = Figures(meta(options))
    store: Store = options.store
    layout: Layout = options.layout
    with work_directory(options.keep_logs) as directory:
        async with running_stack(store, layout, options.postgres_url, directory) as stack:
            print(f"stack up in {directory} ({', '.join(s.name for s in stack.services)})", file=sys.stderr)
            await stack.guard(measure(stack, options, figures))
            # Scanned while everything still runs: the dev server's complaints as it is stopped are not the load's.
            figures.logs = scan_logs({service.name: service.log for service in stack.services})
    return figures


def _write_json(path: Path, figures: Figures) -> None:
    payload = dataclasses.asdict(figures) | {"ratio": figures.ratio}
    payload["targets"] = {"ratio_min": TARGET_RATIO, "api_p99_max_seconds": TARGET_P99_SECONDS}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="an admin URL; the run makes its own DB")
    parser.add_argument("--layout", choices=["split", "devstack"], default="split")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of phases 1 and 3")
    parser.add_argument("--seconds", type=float, default=45, help="length of the API phase")
    parser.add_argument("--raw-seconds", type=float, default=5, help="length of the raw start phase")
    parser.add_argument("--direct", type=int, default=300, help="bookings started at once for the worker's rate")
    parser.add_argument("--drain-timeout", type=float, default=180, help="longest wait for the worker, seconds")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp directory with the process logs")
    return parser.parse_args(argv)


async def _main(options: argparse.Namespace) -> Figures:
    # Ctrl-C and SIGTERM cancel the main task, so every clean-up runs. SIGINT is taken explicitly as well: a shell
    # that starts the bench in the background has it ignored, and asyncio then leaves it so.
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    return await run(options)


def main() -> None:
    options = parse()
    status = 1
    try:
        figures = asyncio.run(_main(options))
    except ProcessDied as error:
        print(f"bench.load failed: {error}", file=sys.stderr)
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench.load interrupted; everything it started is stopped", file=sys.stderr)
        status = 130
    except Exception:
        traceback.print_exc()
    else:
        print(render(figures), flush=True)
        if options.json:
            _write_json(options.json, figures)
        status = 0
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300); all work is done.
    os._exit(status)


if __name__ == "__main__":
    main()
