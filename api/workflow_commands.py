"""What every workflow-backed resource shares: one workflow per id, its view read by a query, its commands run as
Workflow Updates (and its events sent as signals), and one mapping of Temporal's answers to the API's.

Temporal says "not found" both for an id it never saw and for an Update or signal to a workflow that has
completed; the caller needs to tell them apart (404 vs 409), so a NOT_FOUND is followed by a `describe`.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Request
from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam, MethodSyncNoParam, MethodSyncSingleParam
from temporalio.workflow import UpdateMethodMultiParam

from api.command_trail import request_id_of
from api.errors import ApiError, invalid_request, not_found, refusal

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


def _update_id(request: Request, key: _IdempotencyKeyHeader = None) -> str:
    """A command's Temporal Update id: the caller's Idempotency-Key, so a retry is applied once by Temporal too;
    without one, the request id, so the audit log's entry and the Update in Temporal's history name each other."""
    return key or request_id_of(request.scope)


UpdateId = Annotated[str, Depends(_update_id)]


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

    async def fetch_view(self, client: Client, ident: str) -> ViewT:
        try:
            return await self.handle(client, ident).query(self.view)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise self.not_found(ident) from error
            raise

    async def run_update(
        self,
        client: Client,
        ident: str,
        update: UpdateMethodMultiParam[[WorkflowT, CommandT], ViewT],
        command: CommandT,
        update_id: str | None = None,
    ) -> ViewT:
        """Every command goes through here: a refusal becomes a 409 with the rule's code, a missing run a 404/409."""
        handle = self.handle(client, ident)
        return await self._answer(handle, ident, handle.execute_update(update, command, id=update_id))

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

    async def run(self, update: UpdateMethodMultiParam[[WorkflowT, CommandT], ViewT], command: CommandT) -> ViewT:
        return await self.resource.run_update(self.client, self.ident, update, command, self.update_id)
