"""What a timer triggered: a run's events grouped into workflow tasks (what arrived, what the workflow did), and the
commands each fired timer set off, directly or through the outcomes of those commands."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.api.history.v1 import HistoryEvent

from api.history.events import BOOKKEEPING, attributes_of, kind_of

# An input to a workflow task that is the outcome of an earlier command: kind -> the field naming that command.
COMMAND_OUTCOMES = {
    "activity_task_completed": "scheduled_event_id",
    "activity_task_failed": "scheduled_event_id",
    "activity_task_timed_out": "scheduled_event_id",
    "activity_task_canceled": "scheduled_event_id",
    "child_workflow_execution_started": "initiated_event_id",
    "child_workflow_execution_completed": "initiated_event_id",
    "child_workflow_execution_failed": "initiated_event_id",
    "child_workflow_execution_canceled": "initiated_event_id",
    "child_workflow_execution_timed_out": "initiated_event_id",
    "child_workflow_execution_terminated": "initiated_event_id",
    "start_child_workflow_execution_failed": "initiated_event_id",
    "external_workflow_execution_signaled": "initiated_event_id",
    "signal_external_workflow_execution_failed": "initiated_event_id",
}
# Commands worth naming as what a timer set off.
TRIGGERED_KINDS = frozenset(
    {
        "activity_task_scheduled",
        "timer_started",
        "start_child_workflow_execution_initiated",
        "signal_external_workflow_execution_initiated",
        "workflow_execution_continued_as_new",
        "workflow_execution_completed",
        "workflow_execution_failed",
    }
)
UPDATE_KINDS = frozenset(
    {"workflow_execution_update_accepted", "workflow_execution_update_rejected", "workflow_execution_update_completed"}
)


@dataclass
class _WorkflowTask:
    inputs: list[HistoryEvent] = field(default_factory=list)  # what arrived since the task before
    commands: list[HistoryEvent] = field(default_factory=list)  # what the workflow did in it
    handled_update: bool = False  # Updates arrive inside the task, not as events before it


def _is_command(event: HistoryEvent) -> bool:
    """Events the workflow itself wrote name the workflow task that made them."""
    task_id: int = getattr(attributes_of(event), "workflow_task_completed_event_id", 0)
    return task_id != 0


def _workflow_tasks(events: Sequence[HistoryEvent]) -> list[_WorkflowTask]:
    tasks: list[_WorkflowTask] = []
    inputs: list[HistoryEvent] = []
    current: _WorkflowTask | None = None
    for event in events:
        kind = kind_of(event)
        if kind == "workflow_task_completed":
            current = _WorkflowTask(inputs=inputs)
            tasks.append(current)
            inputs = []
        elif kind in BOOKKEEPING or kind.startswith("workflow_task_"):
            continue
        elif current is not None and _is_command(event):
            # A command: written right after the task that made it. (Not looked up by the id it names: the
            # time-skipping test server names the task's WorkflowTaskStarted there, not its WorkflowTaskCompleted.)
            current.commands.append(event)
        elif kind in UPDATE_KINDS:
            if current is not None:
                current.handled_update = True
        else:
            inputs.append(event)
    return tasks


def _outcome_of(event: HistoryEvent) -> int | None:
    name = COMMAND_OUTCOMES.get(kind_of(event))
    return int(getattr(attributes_of(event), name)) if name else None


def timer_triggers(events: Sequence[HistoryEvent]) -> dict[int, list[HistoryEvent]]:
    """For each fired timer (by its TimerFired event id): the commands of the workflow task that followed, and of
    the tasks after it that ran only because those commands finished (an activity's result leading to the next)."""
    triggered: dict[int, list[HistoryEvent]] = {}
    chains: list[tuple[list[HistoryEvent], set[int]]] = []
    for task in _workflow_tasks(events):
        caused_by_chain = task.inputs and not task.handled_update
        for found, commands in chains:
            if caused_by_chain and all(_outcome_of(event) in commands for event in task.inputs):
                found += [event for event in task.commands if kind_of(event) in TRIGGERED_KINDS]
                commands.update(event.event_id for event in task.commands)
        for fired in (event for event in task.inputs if kind_of(event) == "timer_fired"):
            found = [event for event in task.commands if kind_of(event) in TRIGGERED_KINDS]
            triggered[fired.event_id] = found
            chains.append((found, {event.event_id for event in task.commands}))
    return triggered
