"""The replay gate: every history of the corpus, recorded from real runs of each workflow type's main paths, replays
with the current code, and every workflow type the worker runs has one (docs/workflow-changes.md)."""

from pathlib import Path

import pytest
from temporalio import workflow

from tests.workflow.replay import CORPUS, assert_replays, load_history, workflow_type
from worker import WORKFLOWS

RECORDED = sorted(CORPUS.glob("*/*.json"))
# The names histories record (a class's name unless its @workflow.defn gives another; the SDK has no public getter).
RUN_BY_THE_WORKER = {name for defined in WORKFLOWS if (name := workflow._Definition.must_from_class(defined).name)}


def recorded_name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", RECORDED, ids=recorded_name)
async def test_a_recorded_history_replays_with_the_current_code(path: Path):
    history = load_history(path)
    recorded_type = workflow_type(history)
    assert recorded_type in RUN_BY_THE_WORKER, (
        f"{recorded_name(path)} is a history of {recorded_type}, which worker.WORKFLOWS does not run: "
        f"a workflow type is removed only when no execution of it can be running; then remove its histories"
    )
    await assert_replays(history)


def test_every_workflow_type_the_worker_runs_has_a_recorded_history():
    recorded = {workflow_type(load_history(path)) for path in RECORDED}
    missing = sorted(RUN_BY_THE_WORKER - recorded)
    assert not missing, (
        f"no recorded history of {', '.join(missing)} in {CORPUS}: add its main paths to "
        "tests/workflow/record_histories.py and record them with scripts/record-histories (docs/workflow-changes.md)"
    )
