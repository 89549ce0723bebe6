"""The efficiency table: every section's figures against their same-run baselines, in one run.

    .venv/bin/python -m bench [--quick] [--only api,scale,lifecycles] [--json FILE] [--write-docs]

Sections, each on a stack of its own, in turn: `api` (bench.api_latency: API start, Update and read against the raw
SDK calls), `scale` (bench.scale: 10,000 open subscriptions, worker memory, read p99 and 2 worker processes against
1), `lifecycles` (bench.lifecycles: the subscription workflow against a bare one). `--quick` runs each smaller, for
development. `--write-docs` writes the table to docs/performance.md. The exit status is 0 when the run completes,
whatever the figures; 1 when a section could not run.
"""

import argparse
import asyncio
import importlib
import json
import os
import platform
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.figures import Figure, render
from bench.load import _git
from bench.load_stack import REPO

SECTIONS = {"api": "bench.api_latency", "scale": "bench.scale", "lifecycles": "bench.lifecycles"}
DOCS = REPO / "docs" / "performance.md"

Measure = Callable[[bool], Awaitable[list[Figure]]]


@dataclass
class Run:
    machine: dict[str, Any]
    command: str
    figures: list[Figure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # section -> why
    failed: dict[str, str] = field(default_factory=dict)  # section -> the error


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "local_changes": bool(_git("status", "--porcelain")),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def describe(run: Run) -> str:
    m = run.machine
    changes = " + local changes" if m["local_changes"] else ""
    return (
        f"machine: nproc {m['nproc']}, Python {m['python']} ({m['platform']}); commit {m['commit'] or '-'}{changes}; "
        f"load avg {m['load_average_1min']:.2f} at start; {m['date']}"
    )


def report(run: Run) -> str:
    lines = [render(run.figures), "", describe(run), f"command: {run.command}"]
    lines += [f"section {name} skipped: {why}" for name, why in run.skipped.items()]
    lines += [f"section {name} FAILED: {error}" for name, error in run.failed.items()]
    return "\n".join(lines)


def section(name: str) -> Measure | None:
    """The section's `measure`, or None when its module does not exist (yet)."""
    try:
        module = importlib.import_module(SECTIONS[name])
    except ModuleNotFoundError as missing:
        if missing.name != SECTIONS[name]:
            raise
        return None
    measure: Measure = module.measure
    return measure


async def measure_all(names: list[str], quick: bool, run: Run) -> None:
    for name in names:
        measure = section(name)
        if measure is None:
            run.skipped[name] = f"{SECTIONS[name]} does not exist"
            print(f"section {name}: skipped, {SECTIONS[name]} does not exist", file=sys.stderr)
            continue
        print(f"section {name} ({SECTIONS[name]}){' quick' if quick else ''}", file=sys.stderr)
        try:
            figures = await measure(quick)
        except Exception as error:
            traceback.print_exc()
            run.failed[name] = f"{type(error).__name__}: {str(error)[:500]}"
            continue
        run.figures.extend(figures)
        print(render(figures), file=sys.stderr)


HOW_TO_READ = """\
## How to read it

- Every ratio compares figures taken in the same run on the same machine, API and raw calls interleaved, so a
  machine that is busy with other work slows both sides alike; absolute milliseconds vary far more between runs.
- `api`: sequential requests over one keep-alive connection against the raw SDK call the API makes (the same start,
  Update or query) on the bench's own client. Reads answer the view's JSON as the workflow's query encoded it.
- `scale`: the worker processes keep at most `max_cached_workflows` (the SDK's default, 1,000) workflows each in
  memory; a read of one that was evicted replays its history first, which is what the read p99 shows.
- The rate of 2 worker processes against 1 is bounded on one machine by everything else that runs on its cores:
  above all the Temporal dev server, which spends more CPU per booking than a worker (the CPU of each process is in
  the detail line). With one worker neither the worker nor the server uses a whole core; the server's own
  persistence paces the bookings, and a second worker process has nothing to take over. The detail line ends with
  the most any number of worker processes could reach here: the machine's cores divided by the CPU all processes
  spend per booking. Where that bound is below the target, the target needs cores the server does not use: worker
  processes or replicas on other machines against a Temporal cluster or Temporal Cloud.
- `lifecycles`: the real workflow with its worker and a SQLite store against a bare workflow with the same timers
  and one no-op activity per invoice, both on a fresh time-skipping server, in the same process as the bench, whose
  CPU is what both take. Per lifecycle the workflow runs 12 settlements (invoice, charge, payment, revenue share:
  one activity and one store transaction each), 3 steps that record a snapshot and tell the ISV connector in one
  activity (booking, suspension with its notice, termination) and the cancel's snapshot: 16 activities; what is
  left of the gap is the store work those activities do, which the bare workflow does not have. Snapshots stay
  activities rather than local activities so that an auditor reads each one's input in the workflow's history.
- What made the store work cheaper: each SQLite statement is one trip to its connection's thread
  (`store/sqlite_driver.py`) instead of four; inserts that ignore a conflict are compiled once (SQLAlchemy leaves
  the dialects' ON CONFLICT inserts out of its statement cache) and get their values at execution; a change and
  its audit entry or notice are one transaction.
"""


def performance_page(run: Run) -> str:
    return (
        "# Performance\n\n"
        "The efficiency table: each figure of the project against a baseline measured in the same run (the raw\n"
        "Temporal SDK call, or a bare workflow), their ratio and the target. Written by the last run of\n\n"
        f"```sh\n{run.command}\n```\n\n"
        f"{describe(run)}\n\n"
        f"```\n{report(run)}\n```\n\n"
        f"{HOW_TO_READ}"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs of every section, for development")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        type=lambda value: [name.strip() for name in value.split(",") if name.strip()],
        help=f"comma-separated sections, of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--write-docs", action="store_true", help=f"write the table to {DOCS.relative_to(REPO)}")
    options = parser.parse_args(argv)
    unknown = [name for name in options.only if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {', '.join(SECTIONS)}")
    return options


async def _main(options: argparse.Namespace, run: Run) -> None:
    # Ctrl-C and SIGTERM cancel the main task, so every stack is taken down.
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    await measure_all(options.only, options.quick, run)


def main() -> None:
    options = parse()
    run = Run(machine(), "python -m bench " + " ".join(sys.argv[1:]))
    status = 1
    try:
        asyncio.run(_main(options, run))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench interrupted; everything it started is stopped", file=sys.stderr)
        status = 130
    else:
        print(report(run), flush=True)
        if options.json:
            payload = {**run.__dict__, "figures": [figure.as_dict() for figure in run.figures]}
            options.json.write_text(json.dumps(payload, indent=2) + "\n")
        if options.write_docs:
            DOCS.write_text(performance_page(run))
        status = 1 if run.failed else 0
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300); all work is done.
    os._exit(status)


if __name__ == "__main__":
    main()
