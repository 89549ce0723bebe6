"""`python -m simulation`: a year of a simulated marketplace on Temporal's time-skipping server, and its report.

    python -m simulation --isvs N --customers M --partners P [--seed S] [--months 12] [--json]

Everything runs in this process against a throwaway store in a temporary directory: no running stack is needed
or touched. The same seed draws the same marketplace and plays it out the same way.
"""

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from demo import exit_after
from simulation.report import render
from simulation.run import ProgressBar, simulate


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--isvs", type=int, default=10, help="ISVs, each onboarding one app")
    parser.add_argument("--customers", type=int, default=40, help="customers, each booking one live app")
    parser.add_argument("--partners", type=int, default=5, help="channel partners in the programme")
    parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same year")
    parser.add_argument("--months", type=int, default=12, help="how long to simulate, from the coming 1 January")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    for name in ("isvs", "customers", "partners"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} cannot be negative")
    if args.months < 1:
        parser.error("--months must be at least 1")
    return args


def core_logs_to_stderr() -> None:
    """The SDK's core writes its warnings to stdout; through Python's logging they go to stderr, so stdout holds the
    report alone (--json). Before any client exists: it is the process's default runtime."""
    core = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=core)))


async def run(args: argparse.Namespace) -> int:
    core_logs_to_stderr()
    with tempfile.TemporaryDirectory(prefix="partnerflow-simulation-") as directory:
        bar = ProgressBar(args.months, sys.stderr)
        report = await simulate(
            Path(directory), args.seed, args.isvs, args.customers, args.partners, args.months, bar.update
        )
        bar.done()
    print(json.dumps(report.as_json(), indent=2) if args.json else render(report), flush=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    exit_after(run(parse(argv)))


if __name__ == "__main__":
    main()
