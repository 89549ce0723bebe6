"""What every workflow-backed resource shares: one workflow per id, its view read by a query, its commands run as
Workflow Updates (and its events sent as signals), and one mapping of Temporal's answers to the API's.

Temporal says "not found" both for an id it never saw and for an Update or signal to a workflow that has
completed; the caller needs to tell them apart (404 vs 409), so a NOT_FOUND is followed by a `describe`.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import RawValue, SearchAttributeKey
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam, MethodSyncNoParam, MethodSyncSingleParam
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import CurrentPrincipal
from api.errors import (
    RETRY_AFTER_SECONDS,
    ApiError,
    CommandPending,
    invalid_request,
    not_found,
    refusal,
    view_not_answered,
)
from api.request_id import request_id_of

Clock = Callable[[], Awaitable[datetime]]


async def wall_clock() -> datetime:
    """The time commands are accepted at; tests on Temporal's time-skipping server use that server's clock."""
    return datetime.now(UTC)


# How long a command waits for its Update before the API answers without its result (503 or 202). Longer than
# Temporal's workflow task timeout (10 s) plus the worker's sticky queue timeout (3 s): a worker that died holding
# the workflow's task delays a command by that long, and the command should still be answered.
DEFAULT_COMMAND_WAIT_SECONDS = 15.0

WorkflowT = TypeVar("WorkflowT")
ViewT = TypeVar("ViewT")
CommandT = TypeVar("CommandT", bound=BaseModel)
ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

_IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Sent again with the same body, the command is applied once and answers with the first result",
    ),
]


async def _update_id(request: Request, key: _IdempotencyKeyHeader = None) -> str:
    """A command's Temporal Update id: the caller's Idempotency-Key, so a retry is applied once by Temporal too;
    without one, the request id, so the audit log's entry and the Update in Temporal's history name each other."""
    return key or request_id_of(request.scope)


UpdateId = Annotated[str, Depends(_update_id)]


def _no_worker_answered(error: RPCError) -> bool:
    """A query whose deadline passed with no worker to answer it: the client's own deadline comes back as CANCELLED,
    the server's as DEADLINE_EXCEEDED saying so (any other DEADLINE_EXCEEDED is Temporal not answering)."""
    if error.status == RPCStatusCode.CANCELLED:
        return True
    return error.status == RPCStatusCode.DEADLINE_EXCEEDED and "before a worker" in error.message


@dataclass(frozen=True)
class CommandRef:
    """Who sends a command, the id Temporal knows it by (the Update id, or the marker in a started workflow's memo:
    the Idempotency-Key, or else the request id), and when the API accepted it: the command's business time."""

    actor: str
    command_id: str
    at: datetime


async def _current_command(request: Request, principal: CurrentPrincipal, update_id: UpdateId) -> CommandRef:
    clock: Clock = request.app.state.clock
    return CommandRef(actor=principal.subject, command_id=update_id, at=await clock())


CurrentCommand = Annotated[CommandRef, Depends(_current_command)]

# The memo key of a workflow started by a command: which command (and whose) started this run.
COMMAND_MEMO = "started_by_command"


@dataclass(frozen=True)
class StartedRun(Generic[WorkflowT, ResultT]):
    handle: WorkflowHandle[WorkflowT, ResultT]
    # True when this call started it; False when an earlier attempt of the same command did (its state may have
    # moved on since: ask the workflow rather than answer with the initial view).
    fresh: bool


async def start_once(
    client: Client,
    run: MethodAsyncSingleParam[WorkflowT, ArgT, ResultT],
    arg: ArgT,
    command: CommandRef,
    *,
    id: str,
    task_queue: str,
    **options: Any,
) -> StartedRun[WorkflowT, ResultT]:
    """Starts the workflow for `command`, or finds the run this same command started before.

    A command whose answer was lost (a crash, a timeout) is sent again with the same Idempotency-Key; the run it
    started names it in its memo, so the retry answers as the first attempt would have instead of "exists"."""
    memo = {COMMAND_MEMO: {"id": command.command_id, "by": command.actor}}
    try:
        handle = await client.start_workflow(run, arg, id=id, task_queue=task_queue, memo=memo, **options)
        return StartedRun(handle, True)
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle_for(run, id)
        if await started_by(handle, command.actor, command.command_id):
            return StartedRun(handle, False)
        raise


async def started_by(handle: WorkflowHandle[Any, Any], actor: str, command_id: str) -> bool:
    """Whether the workflow's latest run was started by this command."""
    memo = await (await handle.describe()).memo()
    return memo.get(COMMAND_MEMO) == {"id": command_id, "by": actor}


@dataclass(frozen=True)
class ViewJson:
    """A workflow's view as its worker encoded it (the view model's JSON): answered as it is, with no validation
    into the model and no second serialisation on the read path; `fields` has what a read checks (who may see it)."""

    body: bytes
    fields: dict[str, Any]

    @classmethod
    def of(cls, payload: bytes) -> "ViewJson":
        return cls(payload, json.loads(payload))

    def response(self) -> Response:
        return Response(self.body, media_type="application/json")


@dataclass(frozen=True)
class WorkflowResource(Generic[WorkflowT, ViewT]):
    """One kind of resource backed by one workflow per id, e.g. onboardings or subscriptions."""

    kind: str  # names the resource in error codes and messages: "onboarding" -> "onboarding_not_found"
    workflow_id: Callable[[str], str]
    run: MethodAsyncSingleParam[WorkflowT, Any, ViewT]
    view: MethodSyncNoParam[WorkflowT, ViewT]
    # Where a completed workflow keeps its business status (e.g. "live", "terminated") for the 409's message.
    status_attribute: SearchAttributeKey[str]
    closed_code: str
    # Refusals that are about the request body rather than the process's state: code -> the field at fault (422).
    invalid_input: Mapping[str, str] = field(default_factory=dict)

    def not_found(self, ident: str) -> ApiError:
        # The same answer for "does not exist" and "not yours", so ids cannot be probed.
        return not_found(f"{self.kind}_not_found", f"there is no {self.kind} {ident}")

    def handle(self, client: Client, ident: str) -> WorkflowHandle[WorkflowT, ViewT]:
        # No run id: the latest run, which is the one that matters after continue-as-new.
        return client.get_workflow_handle_for(self.run, self.workflow_id(ident))

    async def fetch_view(self, client: Client, ident: str, wait: float = DEFAULT_COMMAND_WAIT_SECONDS) -> ViewT:
        # The view is a query its worker answers: a read waits for it as long as a command would (without a worker
        # the server would hold the query about 30 s).
        timeout = timedelta(seconds=wait)
        return await self._queried(ident, timeout, self.handle(client, ident).query(self.view, rpc_timeout=timeout))

    async def fetch_view_json(self, client: Client, ident: str, wait: float = DEFAULT_COMMAND_WAIT_SECONDS) -> ViewJson:
        """The view's JSON as the query answered it: for reads that pass it on unchanged."""
        # The query's name is its method's (the views are declared without a name of their own).
        name: str = self.view.__name__  # type: ignore[attr-defined]
        timeout = timedelta(seconds=wait)
        query = self.handle(client, ident).query(name, result_type=RawValue, rpc_timeout=timeout)
        raw = await self._queried(ident, timeout, query)
        return ViewJson.of(raw.payload.data)

    async def _queried(self, ident: str, waited: timedelta, query: Awaitable[ResultT]) -> ResultT:
        try:
            return await query
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise self.not_found(ident) from error
            if _no_worker_answered(error):
                raise view_not_answered(self.kind, waited) from error
            raise

    async def run_update(
        self,
        client: Client,
        ident: str,
        update: UpdateMethodMultiParam[[WorkflowT, CommandT], ResultT],
        command: CommandT,
        update_id: str | None = None,
        wait: float = DEFAULT_COMMAND_WAIT_SECONDS,
    ) -> ResultT:
        """Every command goes through here: a refusal becomes a 409 with the rule's code, a missing run a 404/409,
        and no answer within `wait` seconds a 503 (not taken up) or a 202 (taken up, still being carried out)."""
        handle = self.handle(client, ident)
        return await self._answer(handle, ident, _execute_within(handle, update, command, update_id, wait))

    async def send_signal(
        self, client: Client, ident: str, signal: MethodSyncSingleParam[WorkflowT, ArgT, None], arg: ArgT
    ) -> None:
        handle = self.handle(client, ident)
        await self._answer(handle, ident, handle.signal(signal, arg))

    async def _answer(self, handle: WorkflowHandle[WorkflowT, ViewT], ident: str, call: Awaitable[ResultT]) -> ResultT:
        try:
            return await call
        except WorkflowUpdateFailedError as failed:
            raise self._refused(failed) from failed
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            raise await self._missing_or_closed(handle, ident) from error

    def _refused(self, failed: WorkflowUpdateFailedError) -> ApiError:
        error = refusal(failed)
        location = self.invalid_input.get(error.code)
        if location is None:
            return error
        return invalid_request([{"field": location, "message": error.message}])

    async def _missing_or_closed(self, handle: WorkflowHandle[WorkflowT, ViewT], ident: str) -> ApiError:
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return self.not_found(ident)
            raise
        status = closed_status(description, self.status_attribute)
        return ApiError(
            HTTPStatus.CONFLICT,
            self.closed_code,
            f"{self.kind} {ident} is {status} and can no longer change",
            {"status": status},
        )


async def _execute_within(
    handle: WorkflowHandle[WorkflowT, Any],
    update: UpdateMethodMultiParam[[WorkflowT, CommandT], ResultT],
    command: CommandT,
    update_id: str | None,
    wait: float,
) -> ResultT:
    """Runs the Update, waiting at most `wait` seconds in all.

    The wait is bounded because an Update can take as long as the side effects its handler waits for (an activity
    retrying while the store is down), and a request must not be held for an outage. Either way the command is
    not lost: an Update the workflow accepted completes by itself, and one it has not taken up yet is still
    applied when its worker runs it; sending it again with the same Update id (Idempotency-Key) answers its outcome.
    """
    deadline = asyncio.get_running_loop().time() + wait
    try:
        started = await within(
            handle.start_update(update, command, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED), deadline
        )
    except TimeoutError as error:
        raise ApiError(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "command_not_taken_up",
            f"the workflow did not take up the command within {wait:g} s (its worker may be down or busy); it is "
            "applied when the worker runs it, unless refused: send it again with the same Idempotency-Key to learn "
            "its outcome",
            {"update_id": update_id},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from error
    try:
        return await within(started.result(), deadline)
    except TimeoutError as error:
        raise CommandPending(started.id) from error


async def within(call: Awaitable[ResultT], deadline: float) -> ResultT:
    """`call`, or TimeoutError once the loop's clock reaches `deadline`. The SDK turns the cancellation of a call
    in flight into RPCTimeoutOrCancelledError; at the deadline that is our timeout, not Temporal's failure."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(call, max(deadline - loop.time(), 0.0))
    except RPCTimeoutOrCancelledError as error:
        if loop.time() < deadline:
            raise
        raise TimeoutError from error


def closed_status(description: WorkflowExecutionDescription, attribute: SearchAttributeKey[str]) -> str:
    """The business status a workflow ended with; Temporal's own status when it did not end by itself."""
    execution_status = description.status
    if execution_status == WorkflowExecutionStatus.COMPLETED:
        status = description.typed_search_attributes.get(attribute)
        if status is not None:
            return status
    return execution_status.name.lower() if execution_status else "closed"


@dataclass(frozen=True)
class Commands(Generic[WorkflowT, ViewT]):
    """What every command of one request shares: the resource, the caller (as actor) and the Update id."""

    resource: WorkflowResource[WorkflowT, ViewT]
    client: Client
    ident: str
    actor: str
    update_id: str

    wait: float = DEFAULT_COMMAND_WAIT_SECONDS

    async def run(self, update: UpdateMethodMultiParam[[WorkflowT, CommandT], ResultT], command: CommandT) -> ResultT:
        return await self.resource.run_update(self.client, self.ident, update, command, self.update_id, self.wait)
