"""The auditor's reading of a workflow's Temporal history: its runs, and a timeline of plain-English entries."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

# Workflow ids come from business keys (`onboarding-{isv}-{app}`, `subscription-{customer}-{app}`, ...).
WORKFLOW_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,190}$"
# Temporal's run ids are UUIDs.
RUN_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# The CSV export's columns, in order.
CSV_COLUMNS = ("run_id", "event_id", "time", "type", "actor", "summary", "outcome")

RunStatus = Literal["running", "completed", "failed", "canceled", "terminated", "continued_as_new", "timed_out"]
# Where an entry comes from: Temporal's event history, or (merged in by time) the API's audit log.
EntrySource = Literal["temporal", "audit_log"]


class HistoryFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class HistoryRun(BaseModel):
    """One run of the workflow; a workflow that continued as new has several, oldest first."""

    run_id: str
    workflow_type: str
    started_at: datetime
    closed_at: datetime | None = None
    status: RunStatus
    continued_from_run_id: str | None = Field(default=None, description="The run this one continued as new from")
    event_count: int = Field(ge=0, description="Every event of the run in Temporal, including omitted ones")


class TimelineEntry(BaseModel):
    """One step of the workflow: who did what, when, with which arguments and outcome."""

    source: EntrySource = "temporal"
    run_id: str | None = Field(description="The Temporal run; null for entries that are not Temporal events")
    event_id: int | None = Field(description="The event's id within its run; null for entries from elsewhere")
    time: datetime = Field(description="When it happened, UTC")
    type: str = Field(
        description="Short snake-case kind, e.g. `workflow_started`, `update_accepted`, `update_completed`, "
        "`signal_received`, `activity_scheduled`, `activity_completed`, `timer_started`, `timer_fired`"
    )
    temporal_event_type: str | None = Field(
        default=None, description="Temporal's own name of the event, e.g. `WorkflowExecutionUpdateAccepted`"
    )
    actor: str = Field(
        description="Who: the subject named in the command; `timer` for timers; `system` for the workflow's own "
        "steps and activities; for signals the sender the payload or Temporal names"
    )
    summary: str = Field(description="Plain English, with the decoded arguments and results (shortened)")
    outcome: str | None = Field(
        default=None, description="e.g. `accepted`, `completed`, `failed`, `fired`, `canceled`, `timed_out`"
    )
    details: dict[str, Any] = Field(
        default_factory=dict, description="The decoded payloads in full: arguments, results, failures, durations"
    )

    @field_validator("time")
    @classmethod
    def _in_utc(cls, time: datetime) -> datetime:
        """Entries merge by time, so every time is aware and UTC (a naive one, e.g. read from SQLite, is UTC)."""
        return time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)


class WorkflowTimeline(BaseModel):
    """Temporal's event history of every run of one workflow as a timeline, oldest first."""

    workflow_id: str
    workflow_type: str
    runs: list[HistoryRun]
    events: list[TimelineEntry]
    omitted_events: int = Field(
        ge=0,
        description="Bookkeeping events left out of the timeline: workflow tasks scheduled, started and completed, "
        "and activity tasks started (their attempt is named on the activity's outcome)",
    )


class RawWorkflowHistory(BaseModel):
    """One run's history exactly as Temporal exports it (`temporal workflow show --output json`), replayable."""

    events: list[dict[str, Any]]
