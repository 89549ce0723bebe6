"""Decoding payloads and failures with the client's data converter (so through its codec, encryption included) and
the serialization context Temporal used for each; one that cannot be decoded reads `<undecodable: reason>` instead of
failing the answer."""

from collections.abc import Sequence
from typing import Any

from pydantic_core import to_jsonable_python
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import ActivityTaskScheduledEventAttributes
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError, FailureError

from api.history.wording import shorten


def jsonable(value: Any) -> Any:
    try:
        return to_jsonable_python(value, fallback=repr, bytes_mode="base64")
    except Exception:  # anything a custom converter may hand back
        return repr(value)


def undecodable(problem: BaseException) -> str:
    reason = str(problem) or type(problem).__name__
    return f"<undecodable: {shorten(reason, 200)}>"


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
                decoded.append(undecodable(problem))
            else:
                decoded.append(jsonable(value))
        return decoded

    async def failure(self, failure: Failure, context: SerializationContext) -> dict[str, Any]:
        copy = Failure()
        copy.CopyFrom(failure)  # decode_failure decodes in place
        try:
            error = await self._converter.with_context(context).decode_failure(copy)
        except Exception as problem:
            return {"message": failure.message or undecodable(problem)}
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
            info["details"] = jsonable(list(error.details))
    if error.__cause__ is not None:
        info["cause"] = _failure_info(error.__cause__)
    return info


def one(values: list[Any]) -> Any:
    """A single argument or result as itself, several as a list, none as null."""
    if not values:
        return None
    return values[0] if len(values) == 1 else values
