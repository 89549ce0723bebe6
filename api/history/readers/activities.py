"""Activities: what each was scheduled with, and how it ended, after how many attempts."""

from collections.abc import Mapping
from typing import Any

from temporalio.api.history.v1 import (
    ActivityTaskScheduledEventAttributes,
    ActivityTaskStartedEventAttributes,
    HistoryEvent,
)

from api.history.decoding import Decoder, one
from api.history.readers import Reader, Said
from api.history.wording import failure_text, value_text


class ActivityReaders:
    """Activity events, each outcome told with its activity's scheduling and the attempt that ended it."""

    def __init__(self, decoder: Decoder, by_id: Mapping[int, HistoryEvent]) -> None:
        self._decode = decoder
        self._by_id = by_id
        self._attempts: dict[int, int] = {}  # activity scheduled event id -> attempt that ended it

    def by_kind(self) -> dict[str, Reader]:
        return {
            "activity_task_scheduled": self._activity_scheduled,
            "activity_task_completed": self._activity_completed,
            "activity_task_failed": self._activity_failed,
            "activity_task_timed_out": self._activity_timed_out,
            "activity_task_cancel_requested": self._activity_cancel_requested,
            "activity_task_canceled": self._activity_canceled,
        }

    def attempt_started(self, attributes: ActivityTaskStartedEventAttributes) -> None:
        self._attempts[attributes.scheduled_event_id] = attributes.attempt

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
        details = {"activity_type": name, "activity_id": attributes.activity_id, "input": one(arguments)}
        return Said("system", f"activity {name} scheduled with input {value_text(arguments)}", "scheduled", details)

    async def _activity_completed(self, attributes: Any, _: HistoryEvent) -> Said:
        scheduled = self._scheduled(attributes.scheduled_event_id)
        result = await self._decode.values(attributes.result, self._decode.activity(scheduled))
        name = scheduled.activity_type.name
        summary = f"activity {name} completed{self._after_attempts(attributes.scheduled_event_id)}"
        summary += f" with result {value_text(result)}" if any(value is not None for value in result) else ""
        details = self._activity_details(attributes.scheduled_event_id) | {"result": one(result)}
        return Said("system", summary, "completed", details)

    async def _activity_failed(self, attributes: Any, _: HistoryEvent) -> Said:
        scheduled = self._scheduled(attributes.scheduled_event_id)
        failure = await self._decode.failure(attributes.failure, self._decode.activity(scheduled))
        name = scheduled.activity_type.name
        summary = (
            f"activity {name} failed{self._after_attempts(attributes.scheduled_event_id)}: {failure_text(failure)}"
        )
        return Said(
            "system", summary, "failed", self._activity_details(attributes.scheduled_event_id) | {"failure": failure}
        )

    async def _activity_timed_out(self, attributes: Any, _: HistoryEvent) -> Said:
        scheduled = self._scheduled(attributes.scheduled_event_id)
        failure = await self._decode.failure(attributes.failure, self._decode.activity(scheduled))
        name = scheduled.activity_type.name
        summary = f"activity {name} timed out: {failure_text(failure)}"
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
