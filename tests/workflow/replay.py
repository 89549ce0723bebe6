"""Replaying recorded histories with the current workflow code, as a worker runs it (docs/workflow-changes.md)."""

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from worker import WORKFLOWS, data_converter, workflow_runner

HISTORIES = Path(__file__).parent / "histories"
CORPUS = HISTORIES / "corpus"


def load_history(path: Path) -> WorkflowHistory:
    """A history saved by `WorkflowHistory.to_json()`; the file's stem stands in for the workflow id."""
    return WorkflowHistory.from_json(path.stem, path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


async def assert_replays(history: WorkflowHistory) -> None:
    """Raises on non-determinism: the current code would not produce the commands the history recorded."""
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(), workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
