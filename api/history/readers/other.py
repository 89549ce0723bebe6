"""Markers, search attributes, child workflows, and anything else, named with the child or failure it carries.

Search attributes are the exception to decoding with the data converter: Temporal never runs them through a codec,
so they use its own decoder."""

from typing import Any

from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import decode_search_attributes

from api.history.decoding import Decoder, jsonable, one, undecodable
from api.history.events import temporal_name
from api.history.readers import Reader, Said
from api.history.wording import brief, failure_text, shorten, value_text


class OtherReaders:
    """Markers, search attributes and child workflows by kind; `other` for any event no reader knows."""

    def __init__(self, decoder: Decoder) -> None:
        self._decode = decoder

    def by_kind(self) -> dict[str, Reader]:
        return {
            "marker_recorded": self._marker,
            "upsert_workflow_search_attributes": self._search_attributes,
            "start_child_workflow_execution_initiated": self._child_initiated,
        }

    async def _marker(self, attributes: Any, _: HistoryEvent) -> Said:
        name = attributes.marker_name
        decoded = {
            key: one(await self._decode.values(payloads, self._decode.workflow()))
            for key, payloads in sorted(attributes.details.items())  # protobuf maps have no stable order
        }
        patch = decoded.get("patch-data", decoded.get("patch_data"))  # the SDK core's patch marker
        if isinstance(patch, dict) and isinstance(patch.get("id"), str):
            summary = f"patch {patch['id']} recorded (the code path this run takes)"
        else:
            summary = f"marker {name} recorded: {shorten(brief(decoded))}"
        return Said("system", summary, None, {"marker": name, "details": decoded})

    async def _search_attributes(self, attributes: Any, _: HistoryEvent) -> Said:
        try:
            values = {
                key: jsonable(value)
                for key, value in sorted(decode_search_attributes(attributes.search_attributes).items())
            }
        except Exception as problem:  # never a 500 for what a server stored
            return Said("system", f"search attributes set: {undecodable(problem)}", None)
        shown = ", ".join(
            f"{key}={brief(value[0] if isinstance(value, list) and len(value) == 1 else value)}"
            for key, value in values.items()
        )
        return Said("system", f"search attributes set: {shorten(shown)}", None, {"search_attributes": values})

    async def _child_initiated(self, attributes: Any, _: HistoryEvent) -> Said:
        child = attributes.workflow_id
        arguments = await self._decode.values(attributes.input, self._decode.workflow(child))
        summary = f"child workflow {attributes.workflow_type.name} {child} requested with input {value_text(arguments)}"
        details = {"workflow_type": attributes.workflow_type.name, "workflow_id": child, "input": one(arguments)}
        return Said("system", summary, "initiated", details)

    async def other(self, attributes: Any, event: HistoryEvent) -> Said:
        """Events this project's workflows do not produce today: named, with the child or failure they carry."""
        summary = temporal_name(event)
        details: dict[str, Any] = {}
        execution = getattr(attributes, "workflow_execution", None)
        if execution is not None and execution.workflow_id:
            details["workflow_id"] = execution.workflow_id
            summary += f" ({execution.workflow_id})"
        if _has(attributes, "failure"):
            failure = await self._decode.failure(attributes.failure, self._decode.workflow(details.get("workflow_id")))
            details["failure"] = failure
            summary += f": {failure_text(failure)}"
        elif _has(attributes, "result"):
            result = await self._decode.values(attributes.result, self._decode.workflow(details.get("workflow_id")))
            details["result"] = one(result)
            summary += f" with result {value_text(result)}"
        return Said("system", summary, None, details)


def _has(attributes: Any, name: str) -> bool:
    if attributes is None or name not in attributes.DESCRIPTOR.fields_by_name:
        return False
    try:
        return bool(attributes.HasField(name))
    except ValueError:  # a scalar field of that name: nothing to decode
        return False
