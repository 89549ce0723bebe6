"""The workflow itself: how each run started and ended, cancellation asked of it, and workflow tasks that failed."""

from typing import Any

from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent

from api.history.decoding import Decoder, one
from api.history.events import enum_name
from api.history.readers import Reader, Said
from api.history.wording import actor_in, failure_text, shorten, value_text


class WorkflowReaders:
    """The workflow's own events; its start tells the decoder the workflow type."""

    def __init__(self, decoder: Decoder) -> None:
        self._decode = decoder

    def by_kind(self) -> dict[str, Reader]:
        return {
            "workflow_execution_started": self._started,
            "workflow_execution_completed": self._completed,
            "workflow_execution_failed": self._failed,
            "workflow_execution_timed_out": self._timed_out,
            "workflow_execution_terminated": self._terminated,
            "workflow_execution_canceled": self._canceled,
            "workflow_execution_cancel_requested": self._cancel_requested,
            "workflow_execution_continued_as_new": self._continued_as_new,
            "workflow_task_failed": self._workflow_task_failed,
            "workflow_task_timed_out": self._workflow_task_timed_out,
        }

    async def _started(self, attributes: Any, _: HistoryEvent) -> Said:
        workflow_type = attributes.workflow_type.name
        self._decode.workflow_type = workflow_type
        arguments = await self._decode.values(attributes.input, self._decode.workflow())
        actor = actor_in(arguments) or attributes.identity or "unknown"
        previous = attributes.continued_execution_run_id
        summary = f"{workflow_type} started by {actor}"
        if previous:
            summary += f", continuing run {previous}"
        details = {
            "workflow_type": workflow_type,
            "input": one(arguments),
            "identity": attributes.identity,
            "task_queue": attributes.task_queue.name,
            "continued_from_run_id": previous or None,
        }
        return Said(actor, f"{summary}, with input {value_text(arguments)}", "started", details)

    async def _completed(self, attributes: Any, _: HistoryEvent) -> Said:
        result = await self._decode.values(attributes.result, self._decode.workflow())
        return Said(
            "system", f"workflow completed with result {value_text(result)}", "completed", {"result": one(result)}
        )

    async def _failed(self, attributes: Any, _: HistoryEvent) -> Said:
        failure = await self._decode.failure(attributes.failure, self._decode.workflow())
        return Said("system", f"workflow failed: {failure_text(failure)}", "failed", {"failure": failure})

    async def _timed_out(self, attributes: Any, _: HistoryEvent) -> Said:
        return Said("system", "workflow timed out", "timed_out")

    async def _terminated(self, attributes: Any, _: HistoryEvent) -> Said:
        details = await self._decode.values(attributes.details, self._decode.workflow())
        actor = attributes.identity or "unknown"
        reason = attributes.reason or "no reason given"
        summary = f"workflow terminated by {actor}: {shorten(reason)}"
        return Said(
            actor,
            summary,
            "terminated",
            {"reason": attributes.reason, "identity": attributes.identity}
            | ({"details": one(details)} if details else {}),
        )

    async def _canceled(self, attributes: Any, _: HistoryEvent) -> Said:
        details = await self._decode.values(attributes.details, self._decode.workflow())
        return Said("system", "workflow canceled", "canceled", {"details": one(details)})

    async def _cancel_requested(self, attributes: Any, _: HistoryEvent) -> Said:
        requester = attributes.external_workflow_execution.workflow_id
        actor = f"workflow {requester}" if requester else attributes.identity or "unknown"
        cause = f": {attributes.cause}" if attributes.cause else ""
        return Said(actor, f"cancellation requested by {actor}{cause}", "requested", {"cause": attributes.cause})

    async def _continued_as_new(self, attributes: Any, _: HistoryEvent) -> Said:
        arguments = await self._decode.values(attributes.input, self._decode.workflow())
        new_run = attributes.new_execution_run_id
        summary = f"continued as new as run {new_run}, with input {value_text(arguments)}"
        return Said("system", summary, "continued_as_new", {"new_run_id": new_run, "input": one(arguments)})

    async def _workflow_task_failed(self, attributes: Any, _: HistoryEvent) -> Said:
        failure = await self._decode.failure(attributes.failure, self._decode.workflow())
        cause = enum_name(WorkflowTaskFailedCause, attributes.cause, "WORKFLOW_TASK_FAILED_CAUSE_").lower()
        summary = f"workflow task failed ({cause}): {failure_text(failure)}"
        return Said("system", summary, "failed", {"cause": cause, "failure": failure})

    async def _workflow_task_timed_out(self, attributes: Any, _: HistoryEvent) -> Said:
        return Said("system", "workflow task timed out; the worker did not answer in time", "timed_out")
