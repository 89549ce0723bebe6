"""Onboardings over Temporal: start one, read its view, and run a command as an Update with one error mapping."""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.errors import ApiError, not_found, refusal
from domain.ids import onboarding_id, onboarding_workflow_id
from domain.onboarding import rules
from domain.onboarding.model import Command, OnboardingRequest, OnboardingView
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingInput, OnboardingWorkflow, search_attributes_of

CommandT = TypeVar("CommandT", bound=Command)
OnboardingHandle = WorkflowHandle[OnboardingWorkflow, OnboardingView]


def onboarding_not_found(onboarding: str) -> ApiError:
    # The same answer for "does not exist" and "not yours", so ids cannot be probed.
    return not_found("onboarding_not_found", f"there is no onboarding {onboarding}")


def handle_of(client: Client, onboarding: str) -> OnboardingHandle:
    return client.get_workflow_handle_for(OnboardingWorkflow.run, onboarding_workflow_id(onboarding))


async def start(client: Client, task_queue: str, request: OnboardingRequest, actor: str) -> OnboardingView:
    """Starts the workflow with its search attributes set, so it is listable before its first task runs."""
    onboarding = onboarding_id(request.isv.id, request.app.id)
    now = datetime.now(UTC)
    initial = rules.start(onboarding, request, actor, now)
    try:
        handle = await client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(onboarding_id=onboarding, actor=actor, request=request),
            id=onboarding_workflow_id(onboarding),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                search_attributes_of(initial, rules.current_sla_status(initial, now).value)
            ),
        )
    except WorkflowAlreadyStartedError as error:
        raise ApiError(
            HTTPStatus.CONFLICT,
            "onboarding_exists",
            f"onboarding {onboarding} was already started; an app is onboarded once per ISV",
            {"onboarding_id": onboarding},
        ) from error
    return await handle.query(OnboardingWorkflow.view)


async def fetch_view(client: Client, onboarding: str) -> OnboardingView:
    try:
        return await handle_of(client, onboarding).query(OnboardingWorkflow.view)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise onboarding_not_found(onboarding) from error
        raise


async def run_update(
    client: Client,
    onboarding: str,
    update: UpdateMethodMultiParam[[OnboardingWorkflow, CommandT], OnboardingView],
    command: CommandT,
    update_id: str | None = None,
) -> OnboardingView:
    """Every command goes through here: a refusal becomes a 409 with the rule's code, a missing run a 404/409."""
    handle = handle_of(client, onboarding)
    try:
        return await handle.execute_update(update, command, id=update_id)
    except WorkflowUpdateFailedError as failed:
        raise refusal(failed) from failed
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        raise await _closed_or_missing(handle, onboarding) from error


async def _closed_or_missing(handle: OnboardingHandle, onboarding: str) -> ApiError:
    """An Update to a finished workflow is 'not found' to Temporal; to the caller it is a closed onboarding."""
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return onboarding_not_found(onboarding)
        raise
    status = description.typed_search_attributes.get(sa.ONBOARDING_STATUS)
    if status is None:
        status = description.status.name.lower() if description.status else "closed"
    return ApiError(
        HTTPStatus.CONFLICT,
        "onboarding_closed",
        f"onboarding {onboarding} is {status} and can no longer change",
        {"status": status},
    )
