"""Onboardings over Temporal: start one, list items from visibility; reads and commands go through the shared
workflow resource."""

from datetime import UTC, datetime
from http import HTTPStatus

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecution
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.errors import ApiError
from api.schemas import OnboardingFilters, OnboardingListItem
from api.visibility import business_id, closed_at, datetime_literal, literal, started_at
from api.workflow_commands import CommandRef, WorkflowResource, start_once
from domain.ids import onboarding_id, onboarding_workflow_id
from domain.onboarding import rules
from domain.onboarding.config import ONBOARDING
from domain.onboarding.model import OnboardingRequest, OnboardingStatus, OnboardingView
from domain.onboarding.prediction import predict
from store import models
from store.db import insert_once
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingInput, OnboardingWorkflow, prediction_attributes_of, search_attributes_of

ONBOARDINGS = WorkflowResource[OnboardingWorkflow, OnboardingView](
    kind="onboarding",
    workflow_id=onboarding_workflow_id,
    run=OnboardingWorkflow.run,
    view=OnboardingWorkflow.view,
    status_attribute=sa.ONBOARDING_STATUS,
    closed_code="onboarding_closed",
)


async def claim_app(sessions: async_sessionmaker[AsyncSession], request: OnboardingRequest) -> None:
    """Makes the app id the ISV's from now on, before its onboarding starts; 409 `app_id_taken` if another ISV's.

    Claiming again for the same ISV (a retried start) succeeds and keeps the first claim."""
    app_id, isv_id = request.app.id, request.isv.id
    owner = await app_owner(sessions, app_id)
    if owner is None:
        claim = models.AppClaim(
            app_id=app_id, isv_id=isv_id, onboarding_id=onboarding_id(isv_id, app_id), claimed_at=datetime.now(UTC)
        )
        # When ISVs race for a free id, the primary key lets one insert; every other one reads the winner.
        await insert_once(sessions, claim)
        owner = await app_owner(sessions, app_id)
    if owner != isv_id:
        raise ApiError(
            HTTPStatus.CONFLICT,
            "app_id_taken",
            f"app id {app_id} belongs to another ISV; app ids are global in the catalogue",
            {"app_id": app_id},
        )


async def app_owner(sessions: async_sessionmaker[AsyncSession], app_id: str) -> str | None:
    """The ISV an app id belongs to: its catalogue listing decides (apps published before claims existed have no
    claim), else its claim; None if it is free."""
    async with sessions() as session:
        listed = await session.scalar(select(models.App.isv_id).where(models.App.id == app_id))
        if listed is not None:
            return listed
        claimed = await session.scalar(select(models.AppClaim.isv_id).where(models.AppClaim.app_id == app_id))
    return claimed


async def start(client: Client, task_queue: str, request: OnboardingRequest, command: CommandRef) -> OnboardingView:
    """Starts the workflow with its search attributes set, so it is listable before its first task runs, and
    answers with the state it starts in, which the workflow computes alike (no wait for a worker)."""
    onboarding = onboarding_id(request.isv.id, request.app.id)
    now = command.at
    initial = rules.start(onboarding, request, command.actor, now)
    try:
        run = await start_once(
            client,
            OnboardingWorkflow.run,
            OnboardingInput(onboarding_id=onboarding, actor=command.actor, request=request, started_at=now),
            command,
            id=onboarding_workflow_id(onboarding),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                search_attributes_of(initial, rules.current_sla_status(initial, now).value)
                + prediction_attributes_of(predict(initial, now, ONBOARDING))
            ),
        )
    except WorkflowAlreadyStartedError as error:
        raise ApiError(
            HTTPStatus.CONFLICT,
            "onboarding_exists",
            f"onboarding {onboarding} was already started; an app is onboarded once per ISV",
            {"onboarding_id": onboarding},
        ) from error
    return rules.view(initial, now) if run.fresh else await run.handle.query(OnboardingWorkflow.view)


def list_item(execution: WorkflowExecution) -> OnboardingListItem:
    """One onboarding as visibility sees it: its search attributes, no personal data."""
    attributes = execution.typed_search_attributes
    # A rejected onboarding keeps its last prediction in visibility (workflows/onboarding.py): it has none.
    predicts = attributes.get(sa.ONBOARDING_STATUS) != OnboardingStatus.REJECTED
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
        predicted_go_live=attributes.get(sa.PREDICTED_GO_LIVE) if predicts else None,
        misses_target=attributes.get(sa.MISSES_GO_LIVE_TARGET) if predicts else None,
        prediction_basis=attributes.get(sa.PREDICTION_BASIS) if predicts else None,
    )


def prediction_conditions(filters: OnboardingFilters) -> list[str]:
    """The visibility clauses of the predicted go-live filters, which only onboardings with a prediction meet."""
    conditions = []
    if filters.misses_target is not None:
        conditions.append(f"{sa.MISSES_GO_LIVE_TARGET.name} = {str(filters.misses_target).lower()}")
    if filters.predicted_before is not None:
        conditions.append(f"{sa.PREDICTED_GO_LIVE.name} < {datetime_literal(filters.predicted_before)}")
    if filters.predicted_after is not None:
        conditions.append(f"{sa.PREDICTED_GO_LIVE.name} >= {datetime_literal(filters.predicted_after)}")
    if conditions:
        conditions.append(f"{sa.ONBOARDING_STATUS.name} != {literal(OnboardingStatus.REJECTED)}")
    return conditions


def by_predicted_go_live(items: list[OnboardingListItem]) -> list[OnboardingListItem]:
    """Earliest first, those without a prediction (rejected) last; SQL visibility cannot ORDER BY."""
    return sorted(items, key=lambda item: (item.predicted_go_live is None, item.predicted_go_live or item.started_at))
