"""Updates and signals: who sent each, with which arguments, and how it ended; signals the workflow sent."""

from typing import Any

from temporalio.api.enums.v1 import SignalExternalWorkflowExecutionFailedCause
from temporalio.api.history.v1 import HistoryEvent

from api.history.decoding import Decoder, one
from api.history.events import enum_name
from api.history.readers import Reader, Said
from api.history.wording import actor_in, arguments_text, failure_text, value_text

# Senders of signals whose payload names no actor: the payment webhook is authenticated by the provider's signature.
SIGNAL_SENDERS = {"payment_event": "payment-provider"}


class MessageReaders:
    """Updates and signals; an Update's completion is told with the name and actor of its acceptance."""

    def __init__(self, decoder: Decoder) -> None:
        self._decode = decoder
        self._updates: dict[str, tuple[str, str]] = {}  # Update id -> (name, actor), from its UpdateAccepted

    def by_kind(self) -> dict[str, Reader]:
        return {
            "workflow_execution_signaled": self._signaled,
            "workflow_execution_update_admitted": self._update_admitted,
            "workflow_execution_update_accepted": self._update_accepted,
            "workflow_execution_update_rejected": self._update_rejected,
            "workflow_execution_update_completed": self._update_completed,
            "signal_external_workflow_execution_initiated": self._signal_sent,
            "signal_external_workflow_execution_failed": self._signal_send_failed,
            "external_workflow_execution_signaled": self._signal_delivered,
        }

    async def _update_admitted(self, attributes: Any, _: HistoryEvent) -> Said:
        name = attributes.request.input.name
        arguments = await self._decode.values(attributes.request.input.args, self._decode.workflow())
        actor = actor_in(arguments) or attributes.request.meta.identity or "unknown"
        return Said(actor, f"Update {name} from {actor} admitted", "admitted", {"update": name})

    async def _update_accepted(self, attributes: Any, _: HistoryEvent) -> Said:
        request = attributes.accepted_request
        name = request.input.name
        arguments = await self._decode.values(request.input.args, self._decode.workflow())
        actor = actor_in(arguments) or request.meta.identity or "unknown"
        self._updates[request.meta.update_id] = (name, actor)
        summary = f"Update {name} from {actor} accepted: {name}({arguments_text(arguments)})"
        details = {
            "update": name,
            "update_id": request.meta.update_id,
            "arguments": one(arguments),
            "identity": request.meta.identity,
        }
        return Said(actor, summary, "accepted", details)

    async def _update_rejected(self, attributes: Any, _: HistoryEvent) -> Said:
        request = attributes.rejected_request
        name = request.input.name
        arguments = await self._decode.values(request.input.args, self._decode.workflow())
        actor = actor_in(arguments) or request.meta.identity or "unknown"
        failure = await self._decode.failure(attributes.failure, self._decode.workflow())
        summary = f"Update {name} from {actor} rejected: {failure_text(failure)}"
        details = {
            "update": name,
            "update_id": request.meta.update_id,
            "arguments": one(arguments),
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
            return Said(actor, f"Update {name} from {actor} failed: {failure_text(failure)}", "failed", details)
        result = await self._decode.values(attributes.outcome.success, self._decode.workflow())
        details["result"] = one(result)
        return Said(
            actor, f"Update {name} from {actor} completed with result {value_text(result)}", "completed", details
        )

    async def _signaled(self, attributes: Any, _: HistoryEvent) -> Said:
        name = attributes.signal_name
        arguments = await self._decode.values(attributes.input, self._decode.workflow())
        sender = attributes.external_workflow_execution.workflow_id
        actor = (
            actor_in(arguments)
            or (f"workflow {sender}" if sender else None)
            or SIGNAL_SENDERS.get(name)
            or attributes.identity
            or "unknown"
        )
        summary = f"signal {name} from {actor}: {value_text(arguments)}"
        details = {"signal": name, "arguments": one(arguments), "identity": attributes.identity}
        return Said(actor, summary, "received", details)

    async def _signal_sent(self, attributes: Any, _: HistoryEvent) -> Said:
        target = attributes.workflow_execution.workflow_id
        arguments = await self._decode.values(attributes.input, self._decode.workflow(target))
        summary = f"signal {attributes.signal_name} sent to workflow {target}: {value_text(arguments)}"
        return Said(
            "system",
            summary,
            "initiated",
            {"signal": attributes.signal_name, "workflow_id": target, "arguments": one(arguments)},
        )

    async def _signal_send_failed(self, attributes: Any, _: HistoryEvent) -> Said:
        target = attributes.workflow_execution.workflow_id
        prefix = "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_"
        cause = enum_name(SignalExternalWorkflowExecutionFailedCause, attributes.cause, prefix).lower()
        return Said("system", f"signal to workflow {target} failed: {cause}", "failed", {"workflow_id": target})

    async def _signal_delivered(self, attributes: Any, _: HistoryEvent) -> Said:
        target = attributes.workflow_execution.workflow_id
        return Said(
            "system",
            f"workflow {target} received the signal sent at event {attributes.initiated_event_id}",
            "delivered",
            {"workflow_id": target, "initiated_event_id": attributes.initiated_event_id},
        )
