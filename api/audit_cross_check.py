"""The costly half of verification: every command Temporal accepted has its audit entry.

Walks every run of every workflow in the namespace (visibility), reads its history, and collects what the API's
commands did there: each accepted Update (by its Update id) and each workflow a command started (by the command id
in the run's memo, api/workflow_commands.py `start_once`). Each must match an `accepted` command entry in the log
with the same target and with that id as its Idempotency-Key or request id. It reads every history, so it is only
run when an auditor asks for it.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from api.workflow_commands import COMMAND_MEMO
from domain.audit import EntryKind, Outcome
from store import audit

MAX_LISTED = 100  # missing commands named in the answer; the count covers them all


class MissingEntry(BaseModel):
    workflow_id: str
    run_id: str
    command_id: str
    what: str = Field(description="`update <name>` or `start`")


class CrossCheck(BaseModel):
    runs: int
    commands: int = Field(description="accepted Updates and command-started runs found in Temporal's histories")
    missing_count: int
    missing: list[MissingEntry] = Field(description=f"the first {MAX_LISTED} commands without an accepted entry")


@dataclass(frozen=True)
class _Accepted:
    workflow_id: str
    run_id: str
    command_id: str
    what: str


async def cross_check(client: Client, sessions: async_sessionmaker[AsyncSession]) -> CrossCheck:
    recorded = await _recorded_commands(sessions)
    runs = commands = 0
    missing: list[MissingEntry] = []
    async for execution in client.list_workflows():
        runs += 1
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        events = [event async for event in handle.fetch_history_events()]
        async for accepted in _accepted_commands(client, execution.id, execution.run_id, events):
            commands += 1
            if (accepted.workflow_id, accepted.command_id) not in recorded:
                missing.append(MissingEntry(**accepted.__dict__))
    return CrossCheck(runs=runs, commands=commands, missing_count=len(missing), missing=missing[:MAX_LISTED])


async def _recorded_commands(sessions: async_sessionmaker[AsyncSession]) -> set[tuple[str, str]]:
    """(target, id) of every command entry that says the command ran: accepted, or refused by its Update's handler
    after the workflow accepted it (e.g. a failed connector test), by request id and by Idempotency-Key."""
    recorded: set[tuple[str, str]] = set()
    async for entry in audit.entries(sessions):
        if entry.kind != EntryKind.COMMAND or entry.outcome not in (Outcome.ACCEPTED, Outcome.REFUSED):
            continue
        for command_id in (entry.request_id, entry.idempotency_key):
            if command_id:
                recorded.add((entry.target, command_id))
    return recorded


async def _accepted_commands(
    client: Client, workflow_id: str, run_id: str, events: list[HistoryEvent]
) -> AsyncIterator[_Accepted]:
    for event in events:
        if event.HasField("workflow_execution_started_event_attributes"):
            started = event.workflow_execution_started_event_attributes
            payload = started.memo.fields.get(COMMAND_MEMO)
            # A run continued from another carries its memo over: only a fresh run was started by the command.
            if payload is not None and not started.continued_execution_run_id:
                [marker] = await client.data_converter.decode([payload])
                if isinstance(marker, dict) and isinstance(marker.get("id"), str):
                    yield _Accepted(workflow_id, run_id, marker["id"], "start")
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            yield _Accepted(workflow_id, run_id, request.meta.update_id, f"update {request.input.name}")
