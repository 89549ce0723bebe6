"""Onboardings over Temporal: start one, list items from visibility; reads and commands go through the shared
workflow resource."""

from datetime import UTC, datetime
from http import HTTPStatus

from temporalio.client import Client, WorkflowExecution
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.errors import ApiError
from api.schemas import OnboardingListItem
from api.visibility import business_id, closed_at, started_at
from api.workflow_commands import WorkflowResource
from domain.ids import onboarding_id, onboarding_workflow_id
from domain.onboarding import rules
from domain.onboarding.model import OnboardingRequest, OnboardingView
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingInput, OnboardingWorkflow, search_attributes_of

ONBOARDINGS = WorkflowResource[OnboardingWorkflow, OnboardingView](
    kind="onboarding",
    workflow_id=onboarding_workflow_id,
    run=OnboardingWorkflow.run,
    view=OnboardingWorkflow.view,
    status_attribute=sa.ONBOARDING_STATUS,
    closed_code="onboarding_closed",
)


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


def list_item(execution: WorkflowExecution) -> OnboardingListItem:
    """One onboarding as visibility sees it: its search attributes, no personal data."""
    attributes = execution.typed_search_attributes
    return OnboardingListItem(
        id=business_id(execution, onboarding_workflow_id),
        isv_id=attributes.get(sa.ISV_ID),
        app_id=attributes.get(sa.APP_ID),
        stage=attributes.get(sa.ONBOARDING_STAGE),
        status=attributes.get(sa.ONBOARDING_STATUS),
        sla_status=attributes.get(sa.SLA_STATUS),
        partner_manager=attributes.get(sa.PARTNER_MANAGER),
        started_at=started_at(execution),
        closed_at=closed_at(execution),
    )
