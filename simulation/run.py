"""One simulated year from end to end: draw it, play it on a throwaway stack, read the report back."""

import time
from pathlib import Path
from typing import TextIO

from simulation.driver import Driver, Progress, days_in, year_start
from simulation.plan import draw_year
from simulation.report import YearReport, collect
from simulation.stack import throwaway_stack


async def simulate(
    directory: Path,
    seed: int,
    isvs: int,
    customers: int,
    partners: int,
    months: int = 12,
    progress: Progress | None = None,
) -> YearReport:
    began = time.monotonic()
    async with throwaway_stack(directory) as stack:
        start = year_start(await stack.now())
        year = draw_year(seed, isvs, customers, partners, days_in(start, months))
        driver = Driver(stack, year, start, months)
        await driver.run(progress)
        report = await collect(stack, year, start, months, driver.refused)
    report.seconds = time.monotonic() - began
    return report


class ProgressBar:
    """`[######------] month 3/12  25%  4.1 s` on one line of a terminal (stderr), rewritten as simulated time moves;
    into a pipe or a file, a line per month instead."""

    WIDTH = 30

    def __init__(self, months: int, stream: TextIO) -> None:
        self.months = months
        self.stream = stream
        self.began = time.monotonic()
        self.terminal = stream.isatty()
        self._shown = ""
        self._month = 0
        self._finished = False

    def update(self, share: float) -> None:
        month = min(int(share * self.months) + 1, self.months)
        filled = round(share * self.WIDTH)
        line = (
            f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] month {month}/{self.months}  {share:4.0%}  "
            f"{time.monotonic() - self.began:.1f} s"
        )
        if self.terminal:
            if line != self._shown:
                self._shown = line
                self.stream.write(f"\r{line}")
        elif month > self._month or (share >= 1.0 and not self._finished):
            self._month, self._finished = month, share >= 1.0
            self.stream.write(f"{line}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()
