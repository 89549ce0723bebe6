"""A worker on the time-skipping server and builders to drive onboardings through their stages."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.catalogue import CommercialTerms, Plan
from domain.ids import onboarding_id, onboarding_workflow_id
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from domain.onboarding.model import (
    AdvanceCommand,
    ChecklistCommand,
    OnboardingRequest,
    OnboardingView,
    SetTermsCommand,
)
from settings import Settings
from tests.conftest import binary, test_settings
from tests.workflow.partner_harness import partners  # noqa: F401  (the partner fixture)
from tests.workflow.subscription_harness import subs  # noqa: F401  (the subscription fixture)
from worker import create_worker, data_converter, ensure_search_attributes
from workflows.onboarding import OnboardingInput, OnboardingWorkflow

PM = "pm-anna"
TERMS = CommercialTerms(
    revenue_share_percent=70,
    plans=[Plan(term_months=1, monthly_price_cents=1_990), Plan(term_months=12, monthly_price_cents=1_490)],
)

OnboardingHandle = WorkflowHandle[OnboardingWorkflow, OnboardingView]


@dataclass
class Harness:
    env: WorkflowEnvironment
    settings: Settings

    @property
    def client(self) -> Client:
        return self.env.client

    async def start(self, app: str | None = None, isv: str = "acme") -> OnboardingHandle:
        app = app or f"app-{uuid.uuid4().hex[:8]}"
        request = OnboardingRequest.model_validate(
            {
                "isv": {"id": isv, "name": "Acme Software GmbH", "contact_email": "partners@acme.example"},
                "app": {"id": app, "name": "Acme CRM", "category": "crm_customer_management"},
                "partner_manager": PM,
            }
        )
        ident = onboarding_id(isv, app)
        handle = await self.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(onboarding_id=ident, actor=PM, request=request),
            id=onboarding_workflow_id(ident),
            task_queue=self.settings.task_queue,
        )
        return handle


@pytest_asyncio.fixture
async def harness(time_skipping_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[Harness]:
    settings = test_settings(sqlite_url)
    harness = Harness(time_skipping_env, settings)
    async with create_worker(time_skipping_env.client, settings):
        yield harness


async def tick_stage(handle: OnboardingHandle, stage: StageId, actor: str = PM) -> OnboardingView:
    """Meets every exit criterion of `stage`: terms for the derived ones, ticks for the rest."""
    view = await handle.query(OnboardingWorkflow.view)
    for criterion in ONBOARDING.stage(stage).criteria:
        if criterion.source == CriterionSource.CHECKLIST:
            view = await handle.execute_update(
                OnboardingWorkflow.complete_item, ChecklistCommand(actor=actor, item=criterion.id)
            )
    if stage == StageId.COMMERCIAL:
        view = await handle.execute_update(OnboardingWorkflow.set_terms, SetTermsCommand(actor=actor, terms=TERMS))
    return view


async def pass_stage(handle: OnboardingHandle, stage: StageId, actor: str = PM) -> OnboardingView:
    await tick_stage(handle, stage, actor)
    return await handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=actor, comment=f"{stage} done"))


async def walk_to(handle: OnboardingHandle, stage: StageId) -> OnboardingView:
    """Passes every stage before `stage`."""
    view = await handle.query(OnboardingWorkflow.view)
    while view.stage != stage:
        view = await pass_stage(handle, view.stage)
    return view


SUGGEST_CONTINUE_AS_NEW_AT = 60


@pytest_asyncio.fixture
async def small_history_harness(sqlite_url: str) -> AsyncIterator[Harness]:
    """A dev server that suggests continue-as-new after a few dozen events instead of 4,096."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=data_converter(),
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AT}",
        ],
    )
    await ensure_search_attributes(env.client)
    settings = test_settings(sqlite_url)
    async with create_worker(env.client, settings):
        yield Harness(env, settings)
    await env.shutdown()
