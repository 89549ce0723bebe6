"""`python -m bench`: the sections it runs, what it says about a missing one, and the page it writes."""

import pytest

from bench import __main__ as runner
from bench.figures import Figure, ratio_figure, render


def run_of(*figures: Figure) -> runner.Run:
    machine = {
        "nproc": 2,
        "python": "3.11.7",
        "platform": "Linux",
        "commit": "abc1234",
        "local_changes": False,
        "date": "2026-11-30 07:00 UTC",
        "load_average_1min": 0.5,
    }
    return runner.Run(machine, "python -m bench", list(figures))


async def test_a_section_whose_module_does_not_exist_is_skipped_with_a_message(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(runner.SECTIONS, "lifecycles", "bench.no_such_section")
    run = run_of()

    await runner.measure_all(["lifecycles"], quick=True, run=run)

    assert run.skipped == {"lifecycles": "bench.no_such_section does not exist"}
    assert "section lifecycles skipped: bench.no_such_section does not exist" in runner.report(run)


async def test_a_section_that_fails_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch):
    async def failing(quick: bool) -> list[Figure]:
        raise RuntimeError("the dev server died")

    async def working(quick: bool) -> list[Figure]:
        return [ratio_figure("API read p50", 5.0, "ms", 4.5, "raw query p50", 1.3)]

    sections = {"api": working, "scale": failing}
    monkeypatch.setattr(runner, "section", lambda name: sections[name])
    run = run_of()

    await runner.measure_all(["scale", "api"], quick=True, run=run)

    assert run.failed == {"scale": "RuntimeError: the dev server died"}
    assert [figure.name for figure in run.figures] == ["API read p50"]


def test_the_performance_page_names_the_command_the_machine_and_every_figure():
    run = run_of(ratio_figure("API read p50", 5.0, "ms", 4.5, "raw query p50", 1.3, "200 calls"))

    page = runner.performance_page(run)

    assert page.startswith("# Performance")
    assert "python -m bench" in page
    assert "nproc 2, Python 3.11.7" in page and "2026-11-30 07:00 UTC" in page
    assert "API read p50" in page and "200 calls" in page


def test_only_known_sections_are_accepted():
    assert runner.parse(["--only", "api,scale"]).only == ["api", "scale"]
    with pytest.raises(SystemExit):
        runner.parse(["--only", "api,nonsense"])


def test_counts_are_shown_in_full_and_measurements_to_four_digits():
    table = render(
        [
            Figure("open subscriptions held", 10_000.0, "", None, "", ">= 10000", True),
            ratio_figure("API read p50", 5.2481, "ms", 4.3172, "raw query p50", 1.3),
        ]
    )

    assert "10000" in table and "1e+04" not in table
    assert "5.248 ms" in table and "4.317 ms" in table
