"""Workflow histories for auditors: Temporal's events of every run of a workflow, decoded with the client's data
converter, told as a timeline in plain English, and exported as CSV or as Temporal's own replayable JSON.

The entry points the router and tests use; `schemas` has the answers' models.
"""

from api.history.csv_export import timeline_csv
from api.history.fetch import RunHistory, fetch_run, fetch_runs, raw_history_json, workflow_not_found
from api.history.timeline import build_timeline, merge_entries, refused_command_entries, run_info, workflow_timeline

__all__ = [
    "RunHistory",
    "build_timeline",
    "fetch_run",
    "fetch_runs",
    "merge_entries",
    "raw_history_json",
    "refused_command_entries",
    "run_info",
    "timeline_csv",
    "workflow_not_found",
    "workflow_timeline",
]
