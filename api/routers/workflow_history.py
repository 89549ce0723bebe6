"""Workflow histories for auditors: Temporal's event history as a readable timeline across continue-as-new."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api import history
from api.deps import Sessions, TemporalClient, current_principal
from api.errors import ERROR_RESPONSES
from api.history.schemas import (
    CSV_COLUMNS,
    RUN_ID_PATTERN,
    WORKFLOW_ID_PATTERN,
    HistoryFormat,
    RawWorkflowHistory,
    WorkflowTimeline,
)
from store import audit
from store.audit import LogFilter

router = APIRouter(
    prefix="/audit/workflows",
    tags=["audit"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(current_principal)],
)
WorkflowIdPath = Annotated[
    str,
    Path(
        pattern=WORKFLOW_ID_PATTERN,
        description="e.g. `onboarding-{isv}-{app}`, `subscription-{customer}-{app}`, `partner-{id}`, "
        "`payout-{yyyy-mm}`",
    ),
]

_HISTORY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The timeline (JSON), the timeline as CSV (`format=csv`), or one run's raw history (`raw=true`)",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": ",".join(CSV_COLUMNS) + "\r\n",
            }
        },
    }
}


@router.get(
    "/{workflow_id}/history",
    response_model=WorkflowTimeline | RawWorkflowHistory,
    responses=_HISTORY_RESPONSES,
    summary="A workflow's history as a timeline, for auditors",
    description=(
        "Every run of the workflow across continue-as-new, oldest first: who did what (each Update and signal with "
        "its sender and decoded arguments and outcome), the activities with their inputs and results, the timers "
        "with their durations and what they triggered, and how each run ended. Workflow-task bookkeeping is left "
        "out and counted in `omitted_events`.\n\n"
        f"`format=csv` answers `text/csv` with the columns {', '.join(CSV_COLUMNS)}. "
        "`raw=true` answers one run's history exactly as `temporal workflow show --output json` exports it "
        "(payloads as stored, replayable with `temporalio.worker.Replayer`); it takes precedence over `format`. "
        "`run_id` restricts the timeline to one run, and picks the run `raw` answers (default: the latest). "
        "Commands the API refused (from the audit log) are merged in by time, with `source: audit_log`."
    ),
)
async def workflow_history(
    workflow_id: WorkflowIdPath,
    client: TemporalClient,
    sessions: Sessions,
    format: Annotated[HistoryFormat, Query(description="`json` (default) or `csv`")] = HistoryFormat.JSON,
    raw: Annotated[bool, Query(description="One run's history as Temporal exports it")] = False,
    run_id: Annotated[str | None, Query(pattern=RUN_ID_PATTERN, description="One run of the workflow")] = None,
) -> Response:
    if raw:
        exported = await history.raw_history_json(client, workflow_id, run_id)
        return Response(exported, media_type="application/json")
    # Refused commands never reach Temporal's history; the audit log has them, so the timeline shows them too.
    await audit.drain(sessions)
    refusals = (
        []
        if run_id
        else [entry async for entry in audit.entries(sessions, LogFilter(target=workflow_id, outcome="refused"))]
    )
    timeline = await history.workflow_timeline(client, workflow_id, run_id, history.refused_command_entries(refusals))
    if format == HistoryFormat.CSV:
        return Response(
            history.timeline_csv(timeline.events),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{workflow_id}-history.csv"'},
        )
    return Response(timeline.model_dump_json(), media_type="application/json")
