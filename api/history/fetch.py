"""Fetching a workflow's history from Temporal: one run, or every run still kept across continue-as-new, and one run
exactly as Temporal exports it."""

from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError, not_found

MAX_RUNS = 10_000  # a guard for the walk back through continue-as-new


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
