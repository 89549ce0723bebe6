"""Workflow histories for auditors: Temporal's events of every run of a workflow, decoded with the client's data
converter, told as a timeline in plain English, and exported as CSV or as Temporal's own replayable JSON.

Every payload goes through the data converter (so through its codec, encryption included) with the serialization
context Temporal used for it; one that cannot be decoded reads `<undecodable: reason>` instead of failing the answer.
Search attributes are the exception: Temporal never runs them through a codec, so they use its own decoder.
"""

import csv
import heapq
import io
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pydantic_core import to_jsonable_python
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType, SignalExternalWorkflowExecutionFailedCause, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import ActivityTaskScheduledEventAttributes, HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    WorkflowSerializationContext,
    decode_search_attributes,
)
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError, not_found
from api.history_schemas import CSV_COLUMNS, HistoryRun, RunStatus, TimelineEntry, WorkflowTimeline
from domain.audit import ChainedEntry

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

RUN_STATUS: dict[str, RunStatus] = {
    "workflow_execution_completed": "completed",
    "workflow_execution_failed": "failed",
    "workflow_execution_timed_out": "timed_out",
    "workflow_execution_terminated": "terminated",
    "workflow_execution_canceled": "canceled",
    "workflow_execution_continued_as_new": "continued_as_new",
}

# Senders of signals whose payload names no actor: the payment webhook is authenticated by the provider's signature.
SIGNAL_SENDERS = {"payment_event": "payment-provider"}

SUMMARY_VALUE_CHARS = 300  # decoded values are shortened to this in summaries; `details` keeps them whole
BRIEF_DEPTH = 3  # nesting shown in summaries
BRIEF_ITEMS = 5  # list items shown in summaries
MAX_RUNS = 10_000  # a guard for the walk back through continue-as-new


# --- fetching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunHistory:
    """Every event of one run."""

    run_id: str
    events: Sequence[HistoryEvent]

    @property
    def workflow_type(self) -> str:
        return str(self.events[0].workflow_execution_started_event_attributes.workflow_type.name)

    @property
    def continued_from(self) -> str | None:
        return self.events[0].workflow_execution_started_event_attributes.continued_execution_run_id or None


def workflow_not_found(workflow_id: str, run_id: str | None = None) -> ApiError:
    if run_id is None:
        return not_found("workflow_not_found", f"there is no workflow {workflow_id}")
    return not_found("workflow_not_found", f"workflow {workflow_id} has no run {run_id}")


async def fetch_run(client: Client, workflow_id: str, run_id: str | None = None) -> RunHistory:
    """One run: the latest when `run_id` is None. Unknown workflow or run: 404."""
    try:
        if run_id is None:
            run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        events = [event async for event in handle.fetch_history_events()]
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise workflow_not_found(workflow_id, run_id) from error
        raise
    if not events or not events[0].HasField("workflow_execution_started_event_attributes"):
        raise workflow_not_found(workflow_id, run_id)
    return RunHistory(run_id, events)


async def fetch_runs(client: Client, workflow_id: str) -> list[RunHistory]:
    """Every run still kept, oldest first: from the latest back through `continued_execution_run_id`."""
    runs = [await fetch_run(client, workflow_id)]
    seen = {runs[0].run_id}
    while (previous := runs[-1].continued_from) is not None and previous not in seen and len(runs) < MAX_RUNS:
        seen.add(previous)
        try:
            runs.append(await fetch_run(client, workflow_id, previous))
        except ApiError:  # older runs past the namespace's retention are gone; show what is kept
            break
    runs.reverse()
    return runs


async def raw_history_json(client: Client, workflow_id: str, run_id: str | None = None) -> str:
    """One run exactly as `temporal workflow show --output json` exports it; `WorkflowHistory.from_json` reads it."""
    run = await fetch_run(client, workflow_id, run_id)
    return WorkflowHistory(workflow_id, run.events).to_json()


# --- decoding ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    try:
        return to_jsonable_python(value, fallback=repr, bytes_mode="base64")
    except Exception:  # anything a custom converter may hand back
        return repr(value)


def _undecodable(problem: BaseException) -> str:
    reason = str(problem) or type(problem).__name__
    return f"<undecodable: {_shorten(reason, 200)}>"


class Decoder:
    """The client's data converter, with the serialization context Temporal encoded each payload with."""

    def __init__(self, converter: DataConverter, namespace: str, workflow_id: str) -> None:
        self._converter = converter
        self._namespace = namespace
        self.workflow_id = workflow_id
        self.workflow_type = ""

    def workflow(self, workflow_id: str | None = None) -> SerializationContext:
        return WorkflowSerializationContext(namespace=self._namespace, workflow_id=workflow_id or self.workflow_id)

    def activity(self, scheduled: ActivityTaskScheduledEventAttributes) -> SerializationContext:
        return ActivitySerializationContext(
            namespace=self._namespace,
            activity_id=scheduled.activity_id,
            activity_type=scheduled.activity_type.name,
            activity_task_queue=scheduled.task_queue.name,
            workflow_id=self.workflow_id,
            workflow_type=self.workflow_type,
            is_local=False,
        )

    async def values(self, payloads: Payloads | Sequence[Payload], context: SerializationContext) -> list[Any]:
        """Each payload decoded on its own, so one that cannot be decoded spoils nothing else."""
        converter = self._converter.with_context(context)
        items = payloads.payloads if isinstance(payloads, Payloads) else payloads
        decoded = []
        for payload in items:
            try:
                [value] = await converter.decode([payload])
            except Exception as problem:
                decoded.append(_undecodable(problem))
            else:
                decoded.append(_jsonable(value))
        return decoded

    async def failure(self, failure: Failure, context: SerializationContext) -> dict[str, Any]:
        copy = Failure()
        copy.CopyFrom(failure)  # decode_failure decodes in place
        try:
            error = await self._converter.with_context(context).decode_failure(copy)
        except Exception as problem:
            return {"message": failure.message or _undecodable(problem)}
        return _failure_info(error)


def _failure_info(error: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {
        "message": error.message if isinstance(error, FailureError) else str(error),
        "kind": type(error).__name__,
    }
    if isinstance(error, ApplicationError):
        if error.type:
            info["type"] = error.type
        if error.details:
            info["details"] = _jsonable(list(error.details))
    if error.__cause__ is not None:
        info["cause"] = _failure_info(error.__cause__)
    return info


def _one(values: list[Any]) -> Any:
    """A single argument or result as itself, several as a list, none as null."""
    if not values:
        return None
    return values[0] if len(values) == 1 else values


# --- wording -------------------------------------------------------------------------------------


def _shorten(text: str, limit: int = SUMMARY_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _brief(value: Any, depth: int = 0) -> str:
    """A value as `{key=value, ...}`, three levels deep, empty fields left out, long lists cut after a few items."""
    if isinstance(value, dict):
        if depth >= BRIEF_DEPTH:
            return "{…}"
        return "{" + ", ".join(f"{k}={_brief(v, depth + 1)}" for k, v in value.items() if _shown(v)) + "}"
    if isinstance(value, list):
        if depth >= BRIEF_DEPTH:
            return f"[{len(value)} items]"
        shown = [_brief(item, depth + 1) for item in value[:BRIEF_ITEMS]]
        more = len(value) - BRIEF_ITEMS
        return "[" + ", ".join(shown + ([f"… {more} more"] if more > 0 else [])) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


def _shown(value: Any) -> bool:
    return value is not None and not (isinstance(value, list | dict) and not value)


def _value_text(values: list[Any]) -> str:
    return _shorten(", ".join(_brief(value) for value in values)) if values else "nothing"


def _arguments(values: list[Any]) -> str:
    """A command's arguments without its actor (named separately): `item="x", comment="y"`."""
    parts: list[str] = []
    for value in values:
        if isinstance(value, dict):
            parts += [f"{key}={_brief(item, 1)}" for key, item in value.items() if key != "actor" and _shown(item)]
        else:
            parts.append(_brief(value))
    return _shorten(", ".join(parts))


def _actor_in(values: list[Any]) -> str | None:
    """The subject a command names: every command model carries `actor`."""
    for value in values:
        if isinstance(value, dict) and isinstance(value.get("actor"), str) and value["actor"]:
            return str(value["actor"])
    return None


def _duration(delta: timedelta) -> str:
    """`30 days`, `2 days 4 h`, `90 s`: to the second, which is how long timers are meant."""
    seconds = round(delta.total_seconds())
    if seconds == 0:
        return f"{delta.total_seconds():.3f} s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} day{'' if days == 1 else 's'}" if days else "", f"{hours} h" if hours else ""]
    parts += [f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(part for part in parts if part)


def _failure_text(info: dict[str, Any]) -> str:
    text = str(info.get("message") or info.get("kind") or "failed")
    cause = info.get("cause")
    if isinstance(cause, dict) and cause.get("message"):
        text += f" (cause: {cause['message']})"
    return _shorten(text)


def _kind(event: HistoryEvent) -> str:
    return (event.WhichOneof("attributes") or "unknown").removesuffix("_event_attributes")


def _attributes(event: HistoryEvent) -> Any:
    name = event.WhichOneof("attributes")
    return getattr(event, name) if name else None


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    """An enum value's name without its prefix; a number this SDK does not know yet (a newer server) as the number."""
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return str(value)


def _temporal_name(event: HistoryEvent) -> str:
    name = _enum_name(EventType, event.event_type, "EVENT_TYPE_")
    return "".join(word.capitalize() for word in name.split("_"))


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


# --- what a timer triggered ------------------------------------------------------------------------

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
    task_id: int = getattr(_attributes(event), "workflow_task_completed_event_id", 0)
    return task_id != 0


def _workflow_tasks(events: Sequence[HistoryEvent]) -> list[_WorkflowTask]:
    tasks: list[_WorkflowTask] = []
    inputs: list[HistoryEvent] = []
    current: _WorkflowTask | None = None
    for event in events:
        kind = _kind(event)
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
    name = COMMAND_OUTCOMES.get(_kind(event))
    return int(getattr(_attributes(event), name)) if name else None


def timer_triggers(events: Sequence[HistoryEvent]) -> dict[int, list[HistoryEvent]]:
    """For each fired timer (by its TimerFired event id): the commands of the workflow task that followed, and of
    the tasks after it that ran only because those commands finished (an activity's result leading to the next)."""
    triggered: dict[int, list[HistoryEvent]] = {}
    chains: list[tuple[list[HistoryEvent], set[int]]] = []
    for task in _workflow_tasks(events):
        caused_by_chain = task.inputs and not task.handled_update
        for found, commands in chains:
            if caused_by_chain and all(_outcome_of(event) in commands for event in task.inputs):
                found += [event for event in task.commands if _kind(event) in TRIGGERED_KINDS]
                commands.update(event.event_id for event in task.commands)
        for fired in (event for event in task.inputs if _kind(event) == "timer_fired"):
            found = [event for event in task.commands if _kind(event) in TRIGGERED_KINDS]
            triggered[fired.event_id] = found
            chains.append((found, {event.event_id for event in task.commands}))
    return triggered


# --- the timeline ----------------------------------------------------------------------------------


class Said(NamedTuple):
    actor: str
    summary: str
    outcome: str | None = None
    details: dict[str, Any] | None = None


class RunReader:
    """Tells the events of one run, in order, as timeline entries."""

    def __init__(self, decoder: Decoder, run: RunHistory) -> None:
        self._decode = decoder
        self._run = run
        self._by_id = {event.event_id: event for event in run.events}
        self._attempts: dict[int, int] = {}  # activity scheduled event id -> attempt that ended it
        self._updates: dict[str, tuple[str, str]] = {}  # Update id -> (name, actor), from its UpdateAccepted
        self._triggered = timer_triggers(run.events)
        self._readers: dict[str, Callable[[Any, HistoryEvent], Awaitable[Said]]] = {
            "workflow_execution_started": self._started,
            "workflow_execution_completed": self._completed,
            "workflow_execution_failed": self._failed,
            "workflow_execution_timed_out": self._timed_out,
            "workflow_execution_terminated": self._terminated,
            "workflow_execution_canceled": self._canceled,
            "workflow_execution_cancel_requested": self._cancel_requested,
            "workflow_execution_continued_as_new": self._continued_as_new,
            "workflow_execution_signaled": self._signaled,
            "workflow_execution_update_admitted": self._update_admitted,
            "workflow_execution_update_accepted": self._update_accepted,
            "workflow_execution_update_rejected": self._update_rejected,
            "workflow_execution_update_completed": self._update_completed,
            "workflow_task_failed": self._workflow_task_failed,
            "workflow_task_timed_out": self._workflow_task_timed_out,
            "activity_task_scheduled": self._activity_scheduled,
            "activity_task_completed": self._activity_completed,
            "activity_task_failed": self._activity_failed,
            "activity_task_timed_out": self._activity_timed_out,
            "activity_task_cancel_requested": self._activity_cancel_requested,
            "activity_task_canceled": self._activity_canceled,
            "timer_started": self._timer_started,
            "timer_fired": self._timer_fired,
            "timer_canceled": self._timer_canceled,
            "marker_recorded": self._marker,
            "upsert_workflow_search_attributes": self._search_attributes,
            "signal_external_workflow_execution_initiated": self._signal_sent,
            "signal_external_workflow_execution_failed": self._signal_send_failed,
            "external_workflow_execution_signaled": self._signal_delivered,
            "start_child_workflow_execution_initiated": self._child_initiated,
        }

    async def entries(self) -> tuple[list[TimelineEntry], int]:
        """The run's entries, and how many bookkeeping events were left out."""
        entries: list[TimelineEntry] = []
        omitted = 0
        for event in self._run.events:
            kind = _kind(event)
            if kind == "activity_task_started":
                self._attempts[event.activity_task_started_event_attributes.scheduled_event_id] = (
                    event.activity_task_started_event_attributes.attempt
                )
            if kind in BOOKKEEPING:
                omitted += 1
                continue
            reader = self._readers.get(kind)
            if reader is None:
                said = await self._other(_attributes(event), event)
            else:
                said = await reader(_attributes(event), event)
            entries.append(
                TimelineEntry(
                    run_id=self._run.run_id,
                    event_id=event.event_id,
                    time=_time(event),
                    type=EVENT_TYPES.get(kind, kind),
                    temporal_event_type=_temporal_name(event),
                    actor=said.actor,
                    summary=said.summary,
                    outcome=said.outcome,
                    details=said.details or {},
                )
            )
        return entries, omitted

    # --- the workflow itself

    async def _started(self, attributes: Any, _: HistoryEvent) -> Said:
        workflow_type = attributes.workflow_type.name
        self._decode.workflow_type = workflow_type
        arguments = await self._decode.values(attributes.input, self._decode.workflow())
        actor = _actor_in(arguments) or attributes.identity or "unknown"
        previous = attributes.continued_execution_run_id
        summary = f"{workflow_type} started by {actor}"
        if previous:
            summary += f", continuing run {previous}"
        details = {
            "workflow_type": workflow_type,
            "input": _one(arguments),
            "identity": attributes.identity,
            "task_queue": attributes.task_queue.name,
            "continued_from_run_id": previous or None,
        }
        return Said(actor, f"{summary}, with input {_value_text(arguments)}", "started", details)

    async def _completed(self, attributes: Any, _: HistoryEvent) -> Said:
        result = await self._decode.values(attributes.result, self._decode.workflow())
        return Said(
            "system", f"workflow completed with result {_value_text(result)}", "completed", {"result": _one(result)}
        )

    async def _failed(self, attributes: Any, _: HistoryEvent) -> Said:
        failure = await self._decode.failure(attributes.failure, self._decode.workflow())
        return Said("system", f"workflow failed: {_failure_text(failure)}", "failed", {"failure": failure})

    async def _timed_out(self, attributes: Any, _: HistoryEvent) -> Said:
        return Said("system", "workflow timed out", "timed_out")

    async def _terminated(self, attributes: Any, _: HistoryEvent) -> Said:
        details = await self._decode.values(attributes.details, self._decode.workflow())
        actor = attributes.identity or "unknown"
        reason = attributes.reason or "no reason given"
        summary = f"workflow terminated by {actor}: {_shorten(reason)}"
        return Said(
            actor,
            summary,
            "terminated",
            {"reason": attributes.reason, "identity": attributes.identity}
            | ({"details": _one(details)} if details else {}),
        )

    async def _canceled(self, attributes: Any, _: HistoryEvent) -> Said:
        details = await self._decode.values(attributes.details, self._decode.workflow())
        return Said("system", "workflow canceled", "canceled", {"details": _one(details)})

    async def _cancel_requested(self, attributes: Any, _: HistoryEvent) -> Said:
        requester = attributes.external_workflow_execution.workflow_id
        actor = f"workflow {requester}" if requester else attributes.identity or "unknown"
        cause = f": {attributes.cause}" if attributes.cause else ""
        return Said(actor, f"cancellation requested by {actor}{cause}", "requested", {"cause": attributes.cause})

    async def _continued_as_new(self, attributes: Any, _: HistoryEvent) -> Said:
        arguments = await self._decode.values(attributes.input, self._decode.workflow())
        new_run = attributes.new_execution_run_id
        summary = f"continued as new as run {new_run}, with input {_value_text(arguments)}"
        return Said("system", summary, "continued_as_new", {"new_run_id": new_run, "input": _one(arguments)})

    async def _workflow_task_failed(self, attributes: Any, _: HistoryEvent) -> Said:
        failure = await self._decode.failure(attributes.failure, self._decode.workflow())
        cause = _enum_name(WorkflowTaskFailedCause, attributes.cause, "WORKFLOW_TASK_FAILED_CAUSE_").lower()
        summary = f"workflow task failed ({cause}): {_failure_text(failure)}"
        return Said("system", summary, "failed", {"cause": cause, "failure": failure})

    async def _workflow_task_timed_out(self, attributes: Any, _: HistoryEvent) -> Said:
        return Said("system", "workflow task timed out; the worker did not answer in time", "timed_out")

    # --- Updates and signals

    async def _update_admitted(self, attributes: Any, _: HistoryEvent) -> Said:
        name = attributes.request.input.name
        arguments = await self._decode.values(attributes.request.input.args, self._decode.workflow())
        actor = _actor_in(arguments) or attributes.request.meta.identity or "unknown"
        return Said(actor, f"Update {name} from {actor} admitted", "admitted", {"update": name})

    async def _update_accepted(self, attributes: Any, _: HistoryEvent) -> Said:
        request = attributes.accepted_request
        name = request.input.name
        arguments = await self._decode.values(request.input.args, self._decode.workflow())
        actor = _actor_in(arguments) or request.meta.identity or "unknown"
        self._updates[request.meta.update_id] = (name, actor)
        summary = f"Update {name} from {actor} accepted: {name}({_arguments(arguments)})"
        details = {
            "update": name,
            "update_id": request.meta.update_id,
            "arguments": _one(arguments),
            "identity": request.meta.identity,
        }
        return Said(actor, summary, "accepted", details)

    async def _update_rejected(self, attributes: Any, _: HistoryEvent) -> Said:
        request = attributes.rejected_request
        name = request.input.name
        arguments = await self._decode.values(request.input.args, self._decode.workflow())
        actor = _actor_in(arguments) or request.meta.identity or "unknown"
        failure = await self._decode.failure(attributes.failure, self._decode.workflow())
        summary = f"Update {name} from {actor} rejected: {_failure_text(failure)}"
        details = {
            "update": name,
            "update_id": request.meta.update_id,
            "arguments": _one(arguments),
            "failure": failure,
        }
        return Said(actor, summary, "rejected", details)

    async def _update_completed(self, attributes: Any, _: HistoryEvent) -> Said:
        # Paired by Update id: the time-skipping test server leaves `accepted_event_id` unset.
        name, actor = self._updates.get(attributes.meta.update_id, ("(unknown)", "unknown"))
        details: dict[str, Any] = {"update": name, "update_id": attributes.meta.update_id}
        if attributes.outcome.HasField("failure"):
            failure = await self._decode.failure(attributes.outcome.failure, self._decode.workflow())
            details["failure"] = failure
            return Said(actor, f"Update {name} from {actor} failed: {_failure_text(failure)}", "failed", details)
        result = await self._decode.values(attributes.outcome.success, self._decode.workflow())
        details["result"] = _one(result)
        return Said(
            actor, f"Update {name} from {actor} completed with result {_value_text(result)}", "completed", details
        )

    async def _signaled(self, attributes: Any, _: HistoryEvent) -> Said:
        name = attributes.signal_name
        arguments = await self._decode.values(attributes.input, self._decode.workflow())
        sender = attributes.external_workflow_execution.workflow_id
        actor = (
            _actor_in(arguments)
            or (f"workflow {sender}" if sender else None)
            or SIGNAL_SENDERS.get(name)
            or attributes.identity
            or "unknown"
        )
        summary = f"signal {name} from {actor}: {_value_text(arguments)}"
        details = {"signal": name, "arguments": _one(arguments), "identity": attributes.identity}
        return Said(actor, summary, "received", details)

    async def _signal_sent(self, attributes: Any, _: HistoryEvent) -> Said:
        target = attributes.workflow_execution.workflow_id
        arguments = await self._decode.values(attributes.input, self._decode.workflow(target))
        summary = f"signal {attributes.signal_name} sent to workflow {target}: {_value_text(arguments)}"
        return Said(
            "system",
            summary,
            "initiated",
            {"signal": attributes.signal_name, "workflow_id": target, "arguments": _one(arguments)},
        )

    async def _signal_send_failed(self, attributes: Any, _: HistoryEvent) -> Said:
        target = attributes.workflow_execution.workflow_id
        prefix = "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_"
        cause = _enum_name(SignalExternalWorkflowExecutionFailedCause, attributes.cause, prefix).lower()
        return Said("system", f"signal to workflow {target} failed: {cause}", "failed", {"workflow_id": target})

    async def _signal_delivered(self, attributes: Any, _: HistoryEvent) -> Said:
        target = attributes.workflow_execution.workflow_id
        return Said(
            "system",
            f"workflow {target} received the signal sent at event {attributes.initiated_event_id}",
            "delivered",
            {"workflow_id": target, "initiated_event_id": attributes.initiated_event_id},
        )

    # --- activities

    def _scheduled(self, scheduled_event_id: int) -> ActivityTaskScheduledEventAttributes:
        event = self._by_id.get(scheduled_event_id)
        if event is None:
            return ActivityTaskScheduledEventAttributes()
        return event.activity_task_scheduled_event_attributes

    def _activity_details(self, scheduled_event_id: int) -> dict[str, Any]:
        scheduled = self._scheduled(scheduled_event_id)
        details: dict[str, Any] = {
            "activity_type": scheduled.activity_type.name,
            "activity_id": scheduled.activity_id,
            "scheduled_event_id": scheduled_event_id,
        }
        if scheduled_event_id in self._attempts:
            details["attempt"] = self._attempts[scheduled_event_id]
        return details

    def _after_attempts(self, scheduled_event_id: int) -> str:
        attempt = self._attempts.get(scheduled_event_id, 1)
        return f" after {attempt} attempts" if attempt > 1 else ""

    async def _activity_scheduled(self, attributes: Any, event: HistoryEvent) -> Said:
        arguments = await self._decode.values(attributes.input, self._decode.activity(attributes))
        name = attributes.activity_type.name
        details = {"activity_type": name, "activity_id": attributes.activity_id, "input": _one(arguments)}
        return Said("system", f"activity {name} scheduled with input {_value_text(arguments)}", "scheduled", details)

    async def _activity_completed(self, attributes: Any, _: HistoryEvent) -> Said:
        scheduled = self._scheduled(attributes.scheduled_event_id)
        result = await self._decode.values(attributes.result, self._decode.activity(scheduled))
        name = scheduled.activity_type.name
        summary = f"activity {name} completed{self._after_attempts(attributes.scheduled_event_id)}"
        summary += f" with result {_value_text(result)}" if any(value is not None for value in result) else ""
        details = self._activity_details(attributes.scheduled_event_id) | {"result": _one(result)}
        return Said("system", summary, "completed", details)

    async def _activity_failed(self, attributes: Any, _: HistoryEvent) -> Said:
        scheduled = self._scheduled(attributes.scheduled_event_id)
        failure = await self._decode.failure(attributes.failure, self._decode.activity(scheduled))
        name = scheduled.activity_type.name
        summary = (
            f"activity {name} failed{self._after_attempts(attributes.scheduled_event_id)}: {_failure_text(failure)}"
        )
        return Said(
            "system", summary, "failed", self._activity_details(attributes.scheduled_event_id) | {"failure": failure}
        )

    async def _activity_timed_out(self, attributes: Any, _: HistoryEvent) -> Said:
        scheduled = self._scheduled(attributes.scheduled_event_id)
        failure = await self._decode.failure(attributes.failure, self._decode.activity(scheduled))
        name = scheduled.activity_type.name
        summary = f"activity {name} timed out: {_failure_text(failure)}"
        details = self._activity_details(attributes.scheduled_event_id) | {"failure": failure}
        return Said("system", summary, "timed_out", details)

    async def _activity_cancel_requested(self, attributes: Any, _: HistoryEvent) -> Said:
        name = self._scheduled(attributes.scheduled_event_id).activity_type.name
        details = self._activity_details(attributes.scheduled_event_id)
        return Said("system", f"cancellation of activity {name} requested", "requested", details)

    async def _activity_canceled(self, attributes: Any, _: HistoryEvent) -> Said:
        name = self._scheduled(attributes.scheduled_event_id).activity_type.name
        return Said(
            "system", f"activity {name} canceled", "canceled", self._activity_details(attributes.scheduled_event_id)
        )

    # --- timers

    def _timer_duration(self, started_event_id: int) -> timedelta:
        started = self._by_id.get(started_event_id)
        if started is None:
            return timedelta()
        return started.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()

    async def _timer_started(self, attributes: Any, event: HistoryEvent) -> Said:
        duration = attributes.start_to_fire_timeout.ToTimedelta()
        details = {
            "timer_id": attributes.timer_id,
            "duration_seconds": duration.total_seconds(),
            "fires_at": (_time(event) + duration).isoformat(),
        }
        return Said("timer", f"timer {attributes.timer_id} started for {_duration(duration)}", "started", details)

    async def _timer_fired(self, attributes: Any, event: HistoryEvent) -> Said:
        duration = self._timer_duration(attributes.started_event_id)
        triggered = [self._describe_command(command) for command in self._triggered.get(event.event_id, [])]
        summary = f"timer {attributes.timer_id} ({_duration(duration)}) fired"
        if triggered:
            summary += "; it triggered " + _shorten(", ".join(str(item["name"]) for item in triggered), 500)
        details = {
            "timer_id": attributes.timer_id,
            "duration_seconds": duration.total_seconds(),
            "started_event_id": attributes.started_event_id,
            "triggered": triggered,
        }
        return Said("timer", summary, "fired", details)

    async def _timer_canceled(self, attributes: Any, _: HistoryEvent) -> Said:
        duration = self._timer_duration(attributes.started_event_id)
        summary = f"timer {attributes.timer_id} ({_duration(duration)}) canceled before it fired"
        details = {"timer_id": attributes.timer_id, "duration_seconds": duration.total_seconds()}
        return Said("timer", summary, "canceled", details)

    def _describe_command(self, event: HistoryEvent) -> dict[str, Any]:
        kind = _kind(event)
        attributes = _attributes(event)
        if kind == "activity_task_scheduled":
            name = f"activity {attributes.activity_type.name}"
        elif kind == "timer_started":
            name = f"timer {attributes.timer_id} ({_duration(attributes.start_to_fire_timeout.ToTimedelta())})"
        elif kind == "start_child_workflow_execution_initiated":
            name = f"child workflow {attributes.workflow_type.name} {attributes.workflow_id}"
        elif kind == "signal_external_workflow_execution_initiated":
            name = f"signal {attributes.signal_name} to {attributes.workflow_execution.workflow_id}"
        else:
            name = EVENT_TYPES.get(kind, kind).replace("_", " ")
        return {"event_id": event.event_id, "type": EVENT_TYPES.get(kind, kind), "name": name}

    # --- markers, search attributes, child workflows, anything else

    async def _marker(self, attributes: Any, _: HistoryEvent) -> Said:
        name = attributes.marker_name
        decoded = {
            key: _one(await self._decode.values(payloads, self._decode.workflow()))
            for key, payloads in sorted(attributes.details.items())  # protobuf maps have no stable order
        }
        patch = decoded.get("patch-data", decoded.get("patch_data"))  # the SDK core's patch marker
        if isinstance(patch, dict) and isinstance(patch.get("id"), str):
            summary = f"patch {patch['id']} recorded (the code path this run takes)"
        else:
            summary = f"marker {name} recorded: {_shorten(_brief(decoded))}"
        return Said("system", summary, None, {"marker": name, "details": decoded})

    async def _search_attributes(self, attributes: Any, _: HistoryEvent) -> Said:
        try:
            values = {
                key: _jsonable(value)
                for key, value in sorted(decode_search_attributes(attributes.search_attributes).items())
            }
        except Exception as problem:  # never a 500 for what a server stored
            return Said("system", f"search attributes set: {_undecodable(problem)}", None)
        shown = ", ".join(
            f"{key}={_brief(value[0] if isinstance(value, list) and len(value) == 1 else value)}"
            for key, value in values.items()
        )
        return Said("system", f"search attributes set: {_shorten(shown)}", None, {"search_attributes": values})

    async def _child_initiated(self, attributes: Any, _: HistoryEvent) -> Said:
        child = attributes.workflow_id
        arguments = await self._decode.values(attributes.input, self._decode.workflow(child))
        summary = (
            f"child workflow {attributes.workflow_type.name} {child} requested with input {_value_text(arguments)}"
        )
        details = {"workflow_type": attributes.workflow_type.name, "workflow_id": child, "input": _one(arguments)}
        return Said("system", summary, "initiated", details)

    async def _other(self, attributes: Any, event: HistoryEvent) -> Said:
        """Events this project's workflows do not produce today: named, with the child or failure they carry."""
        summary = _temporal_name(event)
        details: dict[str, Any] = {}
        execution = getattr(attributes, "workflow_execution", None)
        if execution is not None and execution.workflow_id:
            details["workflow_id"] = execution.workflow_id
            summary += f" ({execution.workflow_id})"
        if _has(attributes, "failure"):
            failure = await self._decode.failure(attributes.failure, self._decode.workflow(details.get("workflow_id")))
            details["failure"] = failure
            summary += f": {_failure_text(failure)}"
        elif _has(attributes, "result"):
            result = await self._decode.values(attributes.result, self._decode.workflow(details.get("workflow_id")))
            details["result"] = _one(result)
            summary += f" with result {_value_text(result)}"
        return Said("system", summary, None, details)


def _has(attributes: Any, name: str) -> bool:
    if attributes is None or name not in attributes.DESCRIPTOR.fields_by_name:
        return False
    try:
        return bool(attributes.HasField(name))
    except ValueError:  # a scalar field of that name: nothing to decode
        return False


def run_info(run: RunHistory) -> HistoryRun:
    last = run.events[-1]
    status = RUN_STATUS.get(_kind(last), "running")
    return HistoryRun(
        run_id=run.run_id,
        workflow_type=run.workflow_type,
        started_at=_time(run.events[0]),
        closed_at=_time(last) if status != "running" else None,
        status=status,
        continued_from_run_id=run.continued_from,
        event_count=len(run.events),
    )


def refused_command_entries(refusals: Iterable[ChainedEntry]) -> list[TimelineEntry]:
    """The audit log's refused commands as timeline entries: a refused Update never reaches Temporal's history."""
    return [
        TimelineEntry(
            source="audit_log",
            run_id=None,
            event_id=None,
            time=entry.occurred_at,
            type="command_refused",
            actor=entry.subject,
            summary=f"{entry.action} by {entry.subject} refused: {entry.status_code} {entry.detail or ''}".rstrip(),
            outcome="refused",
            details={
                "action": entry.action,
                "status_code": entry.status_code,
                "code": entry.detail,
                "request_id": entry.request_id,
                "idempotency_key": entry.idempotency_key,
                "audit_seq": entry.seq,
            },
        )
        for entry in refusals
    ]


def merge_entries(temporal: Iterable[TimelineEntry], others: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """Other sources' entries (e.g. the audit log's refused commands) merged into Temporal's by time; Temporal's
    keep their order, and at the same instant come first."""
    return list(heapq.merge(temporal, sorted(others, key=lambda entry: entry.time), key=lambda entry: entry.time))


async def build_timeline(
    converter: DataConverter,
    namespace: str,
    workflow_id: str,
    runs: Sequence[RunHistory],
    others: Iterable[TimelineEntry] = (),
) -> WorkflowTimeline:
    decoder = Decoder(converter, namespace, workflow_id)
    entries: list[TimelineEntry] = []
    omitted = 0
    for run in runs:
        run_entries, run_omitted = await RunReader(decoder, run).entries()
        entries += run_entries
        omitted += run_omitted
    return WorkflowTimeline(
        workflow_id=workflow_id,
        workflow_type=runs[-1].workflow_type,
        runs=[run_info(run) for run in runs],
        events=merge_entries(entries, others),
        omitted_events=omitted,
    )


async def workflow_timeline(
    client: Client, workflow_id: str, run_id: str | None = None, others: Iterable[TimelineEntry] = ()
) -> WorkflowTimeline:
    """Every run (or the one asked for), oldest first, decoded with the client's data converter; `others` (entries
    of another source, e.g. the audit log's refused commands) are merged in by time."""
    runs = [await fetch_run(client, workflow_id, run_id)] if run_id else await fetch_runs(client, workflow_id)
    return await build_timeline(client.data_converter, client.namespace, workflow_id, runs, others)


# --- CSV -------------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Spreadsheets run a cell that starts like a formula; an apostrophe keeps it text (OWASP's advice)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def timeline_csv(entries: Iterable[TimelineEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.run_id or "",
                "" if entry.event_id is None else entry.event_id,
                entry.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                entry.type,
                _cell(entry.actor),
                _cell(entry.summary),
                entry.outcome or "",
            ]
        )
    return buffer.getvalue()
