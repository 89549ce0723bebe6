"""Temporal's history events by kind: the snake-case kind of an event, its attributes, its time, its name in Temporal
and in the timeline, and which kinds are bookkeeping the timeline leaves out."""

from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

# Workflow-task events say only that the worker ran; an activity's start is named on its outcome (the attempt).
BOOKKEEPING = frozenset(
    {"workflow_task_scheduled", "workflow_task_started", "workflow_task_completed", "activity_task_started"}
)

# Timeline types: Temporal's event names, shortened (`WorkflowExecutionUpdateAccepted` -> `update_accepted`).
EVENT_TYPES = {
    "workflow_execution_started": "workflow_started",
    "workflow_execution_completed": "workflow_completed",
    "workflow_execution_failed": "workflow_failed",
    "workflow_execution_timed_out": "workflow_timed_out",
    "workflow_execution_terminated": "workflow_terminated",
    "workflow_execution_canceled": "workflow_canceled",
    "workflow_execution_cancel_requested": "workflow_cancel_requested",
    "workflow_execution_continued_as_new": "workflow_continued_as_new",
    "workflow_execution_signaled": "signal_received",
    "workflow_execution_update_admitted": "update_admitted",
    "workflow_execution_update_accepted": "update_accepted",
    "workflow_execution_update_rejected": "update_rejected",
    "workflow_execution_update_completed": "update_completed",
    "activity_task_scheduled": "activity_scheduled",
    "activity_task_completed": "activity_completed",
    "activity_task_failed": "activity_failed",
    "activity_task_timed_out": "activity_timed_out",
    "activity_task_cancel_requested": "activity_cancel_requested",
    "activity_task_canceled": "activity_canceled",
    "upsert_workflow_search_attributes": "search_attributes_upserted",
    "signal_external_workflow_execution_initiated": "signal_sent",
    "signal_external_workflow_execution_failed": "signal_send_failed",
    "external_workflow_execution_signaled": "signal_delivered",
    "start_child_workflow_execution_initiated": "child_workflow_initiated",
    "start_child_workflow_execution_failed": "child_workflow_start_failed",
    "child_workflow_execution_started": "child_workflow_started",
    "child_workflow_execution_completed": "child_workflow_completed",
    "child_workflow_execution_failed": "child_workflow_failed",
    "child_workflow_execution_canceled": "child_workflow_canceled",
    "child_workflow_execution_timed_out": "child_workflow_timed_out",
    "child_workflow_execution_terminated": "child_workflow_terminated",
}


def kind_of(event: HistoryEvent) -> str:
    return (event.WhichOneof("attributes") or "unknown").removesuffix("_event_attributes")


def attributes_of(event: HistoryEvent) -> Any:
    name = event.WhichOneof("attributes")
    return getattr(event, name) if name else None


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """An enum value's name without its prefix; a number this SDK does not know yet (a newer server) as the number."""
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return str(value)


def temporal_name(event: HistoryEvent) -> str:
    name = enum_name(EventType, event.event_type, "EVENT_TYPE_")
    return "".join(word.capitalize() for word in name.split("_"))


def time_of(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)
