"""One row of the efficiency table that `python -m bench` prints: a figure of the project against a baseline
measured in the same run, their ratio, and the target the ratio (or the value) must meet."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    name: str  # what was measured, e.g. "API start p50 (booking)"
    value: float  # the project's figure
    unit: str  # "ms", "s", "KiB", "MiB", "/s", ...
    baseline: float | None  # the engine's (raw SDK, bare workflow) figure from the same run; None for absolutes
    baseline_name: str  # what the baseline is, e.g. "raw start_workflow p50"
    target: str  # as the table states it, e.g. "<= 2x" or "<= 1 GiB"
    ok: bool  # the target is met
    detail: str = ""  # counts and conditions, e.g. "300 starts, 16 clients"

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def ratio_figure(
    name: str, value: float, unit: str, baseline: float, baseline_name: str, at_most: float, detail: str = ""
) -> Figure:
    """A figure whose target is its ratio to the baseline being at most `at_most` (or, for a rate, at least)."""
    ratio = value / baseline if baseline else float("inf")
    return Figure(name, value, unit, baseline, baseline_name, f"<= {at_most:g}x", ratio <= at_most, detail)


def rate_figure(
    name: str, value: float, unit: str, baseline: float, baseline_name: str, at_least: float, detail: str = ""
) -> Figure:
    """A figure whose target is its ratio to the baseline being at least `at_least` (throughput)."""
    ratio = value / baseline if baseline else 0.0
    return Figure(name, value, unit, baseline, baseline_name, f">= {at_least:g}x", ratio >= at_least, detail)


def _number(value: float) -> str:
    """4 significant digits; a whole number (a count) in full, not as 1e+04."""
    return f"{value:.0f}" if float(value).is_integer() and abs(value) < 1e9 else f"{value:.4g}"


def render(figures: list[Figure]) -> str:
    """The table, one figure per line, with the ratio and whether its target is met."""
    header = f"{'figure':<52} {'value':>12} {'baseline':>12} {'ratio':>7}  {'target':<12} {'':<4} baseline is"
    lines = [header, "-" * len(header)]
    for figure in figures:
        baseline = "" if figure.baseline is None else f"{_number(figure.baseline)} {figure.unit}"
        ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}"
        verdict = "OK" if figure.ok else "MISS"
        lines.append(
            f"{figure.name:<52} {f'{_number(figure.value)} {figure.unit}':>12} {baseline:>12} {ratio:>7}  "
            f"{figure.target:<12} {verdict:<4} {figure.baseline_name}"
        )
        if figure.detail:
            lines.append(f"{'':<4}{figure.detail}")
    return "\n".join(lines)
