"""Timers: how long each was set for, and what the ones that fired triggered."""

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from temporalio.api.history.v1 import HistoryEvent

from api.history.events import EVENT_TYPES, attributes_of, kind_of, time_of
from api.history.readers import Reader, Said
from api.history.wording import duration_text, shorten


class TimerReaders:
    """Timer events; a fired timer names the commands it triggered (see `timer_triggers`)."""

    def __init__(self, by_id: Mapping[int, HistoryEvent], triggered: Mapping[int, Sequence[HistoryEvent]]) -> None:
        self._by_id = by_id
        self._triggered = triggered

    def by_kind(self) -> dict[str, Reader]:
        return {
            "timer_started": self._timer_started,
            "timer_fired": self._timer_fired,
            "timer_canceled": self._timer_canceled,
        }

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
            "fires_at": (time_of(event) + duration).isoformat(),
        }
        return Said("timer", f"timer {attributes.timer_id} started for {duration_text(duration)}", "started", details)

    async def _timer_fired(self, attributes: Any, event: HistoryEvent) -> Said:
        duration = self._timer_duration(attributes.started_event_id)
        triggered = [self._describe_command(command) for command in self._triggered.get(event.event_id, [])]
        summary = f"timer {attributes.timer_id} ({duration_text(duration)}) fired"
        if triggered:
            summary += "; it triggered " + shorten(", ".join(str(item["name"]) for item in triggered), 500)
        details = {
            "timer_id": attributes.timer_id,
            "duration_seconds": duration.total_seconds(),
            "started_event_id": attributes.started_event_id,
            "triggered": triggered,
        }
        return Said("timer", summary, "fired", details)

    async def _timer_canceled(self, attributes: Any, _: HistoryEvent) -> Said:
        duration = self._timer_duration(attributes.started_event_id)
        summary = f"timer {attributes.timer_id} ({duration_text(duration)}) canceled before it fired"
        details = {"timer_id": attributes.timer_id, "duration_seconds": duration.total_seconds()}
        return Said("timer", summary, "canceled", details)

    def _describe_command(self, event: HistoryEvent) -> dict[str, Any]:
        kind = kind_of(event)
        attributes = attributes_of(event)
        if kind == "activity_task_scheduled":
            name = f"activity {attributes.activity_type.name}"
        elif kind == "timer_started":
            name = f"timer {attributes.timer_id} ({duration_text(attributes.start_to_fire_timeout.ToTimedelta())})"
        elif kind == "start_child_workflow_execution_initiated":
            name = f"child workflow {attributes.workflow_type.name} {attributes.workflow_id}"
        elif kind == "signal_external_workflow_execution_initiated":
            name = f"signal {attributes.signal_name} to {attributes.workflow_execution.workflow_id}"
        else:
            name = EVENT_TYPES.get(kind, kind).replace("_", " ")
        return {"event_id": event.event_id, "type": EVENT_TYPES.get(kind, kind), "name": name}
