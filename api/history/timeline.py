"""The timeline: every run's events told in order as entries, each run's summary, and entries of other sources (the
audit log's refused commands) merged in by time."""

import heapq
from collections.abc import Iterable, Sequence

from temporalio.client import Client
from temporalio.converter import DataConverter

from api.history.decoding import Decoder
from api.history.events import BOOKKEEPING, EVENT_TYPES, attributes_of, kind_of, temporal_name, time_of
from api.history.fetch import RunHistory, fetch_run, fetch_runs
from api.history.readers import Reader
from api.history.readers.activities import ActivityReaders
from api.history.readers.messages import MessageReaders
from api.history.readers.other import OtherReaders
from api.history.readers.timers import TimerReaders
from api.history.readers.workflow import WorkflowReaders
from api.history.schemas import HistoryRun, RunStatus, TimelineEntry, WorkflowTimeline
from api.history.triggers import timer_triggers
from domain.audit import ChainedEntry

RUN_STATUS: dict[str, RunStatus] = {
    "workflow_execution_completed": "completed",
    "workflow_execution_failed": "failed",
    "workflow_execution_timed_out": "timed_out",
    "workflow_execution_terminated": "terminated",
    "workflow_execution_canceled": "canceled",
    "workflow_execution_continued_as_new": "continued_as_new",
}


class RunReader:
    """Tells the events of one run, in order, as timeline entries."""

    def __init__(self, decoder: Decoder, run: RunHistory) -> None:
        self._run = run
        by_id = {event.event_id: event for event in run.events}
        self._activities = ActivityReaders(decoder, by_id)
        self._others = OtherReaders(decoder)
        self._readers: dict[str, Reader] = (
            WorkflowReaders(decoder).by_kind()
            | MessageReaders(decoder).by_kind()
            | self._activities.by_kind()
            | TimerReaders(by_id, timer_triggers(run.events)).by_kind()
            | self._others.by_kind()
        )

    async def entries(self) -> tuple[list[TimelineEntry], int]:
        """The run's entries, and how many bookkeeping events were left out."""
        entries: list[TimelineEntry] = []
        omitted = 0
        for event in self._run.events:
            kind = kind_of(event)
            if kind == "activity_task_started":
                self._activities.attempt_started(event.activity_task_started_event_attributes)
            if kind in BOOKKEEPING:
                omitted += 1
                continue
            reader = self._readers.get(kind)
            if reader is None:
                said = await self._others.other(attributes_of(event), event)
            else:
                said = await reader(attributes_of(event), event)
            entries.append(
                TimelineEntry(
                    run_id=self._run.run_id,
                    event_id=event.event_id,
                    time=time_of(event),
                    type=EVENT_TYPES.get(kind, kind),
                    temporal_event_type=temporal_name(event),
                    actor=said.actor,
                    summary=said.summary,
                    outcome=said.outcome,
                    details=said.details or {},
                )
            )
        return entries, omitted


def run_info(run: RunHistory) -> HistoryRun:
    last = run.events[-1]
    status = RUN_STATUS.get(kind_of(last), "running")
    return HistoryRun(
        run_id=run.run_id,
        workflow_type=run.workflow_type,
        started_at=time_of(run.events[0]),
        closed_at=time_of(last) if status != "running" else None,
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
