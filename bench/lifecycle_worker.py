"""A worker in a process of its own, for measuring what open workflows hold: `python -m bench.lifecycle_worker
KIND ADDRESS TASK_QUEUE DATABASE_URL EXPORT_DIR MAX_CACHED` (KIND: real or bare).

It prints `ready` once polling; then answers each `rss` line on stdin with `rss <resident set size in KiB>`, and
leaves on `stop` (or end of input).
"""

import asyncio
import gc
import os
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench.lifecycles import bare_worker
from settings import Settings
from worker import create_worker, data_converter


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def main(kind: str, address: str, task_queue: str, database_url: str, export_dir: str, max_cached: int) -> None:
    client = await Client.connect(address, data_converter=data_converter())
    worker: Worker
    if kind == "real":
        settings = Settings.model_validate(
            {
                "database_url": database_url,
                "task_queue": task_queue,
                "export_dir": Path(export_dir),
                "payout_schedule": False,
            }
        )
        worker = create_worker(client, settings, max_cached_workflows=max_cached)
    else:
        worker = bare_worker(client, task_queue, max_cached)
    loop = asyncio.get_running_loop()
    async with worker:
        print("ready", flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line == "rss":
                gc.collect()
                print(f"rss {rss_kib()}", flush=True)
            else:
                break


if __name__ == "__main__":
    kind, address, task_queue, database_url, export_dir, max_cached = sys.argv[1:7]
    asyncio.run(main(kind, address, task_queue, database_url, export_dir, int(max_cached)))
    sys.stdout.flush()
    os._exit(0)  # the SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300)
