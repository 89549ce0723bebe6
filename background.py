"""Background jobs a process runs beside its main work (the audit sequencer, outbox deliveries, recoveries).

A job runs every `interval` seconds, or at once when its `wake` event is set. A failing run (the store or Temporal
down) is logged once per outage and retried on the next tick: a background job never takes its process down.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: float  # seconds between runs while nothing wakes it
    run: Callable[[], Awaitable[object]]
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def nudge(self) -> None:
        """Runs the job as soon as its loop is free, instead of at the next tick."""
        self.wake.set()


async def _loop(job: PeriodicJob, stopping: asyncio.Event) -> None:
    failing = False
    while not stopping.is_set():
        job.wake.clear()
        try:
            await job.run()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not failing:  # once per outage, not once per tick
                logger.warning("background job %s failed, retrying every %.1fs: %s", job.name, job.interval, error)
            failing = True
        else:
            if failing:
                logger.info("background job %s works again", job.name)
            failing = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(job.wake.wait(), timeout=job.interval)


@contextlib.asynccontextmanager
async def running(jobs: Sequence[PeriodicJob]) -> AsyncIterator[None]:
    """Runs `jobs` for as long as the block lasts; leaving it stops them (a run in progress is cancelled)."""
    stopping = asyncio.Event()
    tasks = [asyncio.create_task(_loop(job, stopping), name=f"job:{job.name}") for job in jobs]
    try:
        yield
    finally:
        stopping.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
