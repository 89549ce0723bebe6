"""The predicted go-live in the running workflow (time-skipping server): budgets without history, the marketplace's
medians once the store holds enough go-lives, and a hold moving it out."""

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.onboarding.config import ONBOARDING, StageId
from domain.onboarding.model import (
    HoldCommand,
    OnboardingStatus,
    OnboardingView,
    PredictionBasis,
    RejectCommand,
    ResumeCommand,
)
from tests.api.conftest import eventually
from tests.go_lives import record_go_lives
from tests.workflow.conftest import PM, Harness, pass_stage
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow

MINUTE = timedelta(minutes=1)


async def test_the_view_predicts_from_the_budgets_and_a_hold_moves_it_out(harness: Harness):
    handle = await harness.start()
    view = await handle.query(OnboardingWorkflow.view)
    assert view.prediction_basis == PredictionBasis.STAGE_BUDGETS
    assert view.predicted_go_live == view.started_at + ONBOARDING.target
    assert view.misses_target is False

    await handle.execute_update(OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="ISV restructuring"))
    await harness.env.sleep(timedelta(days=10))
    resumed = await handle.execute_update(OnboardingWorkflow.resume, ResumeCommand(actor=PM))

    assert resumed.predicted_go_live is not None
    moved = resumed.predicted_go_live - view.started_at - ONBOARDING.target
    assert timedelta(days=10) <= moved < timedelta(days=10) + MINUTE
    assert resumed.misses_target is False, "the hold moved the target as well"
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.PREDICTED_GO_LIVE) == resumed.predicted_go_live
    assert attributes.get(sa.MISSES_GO_LIVE_TARGET) is False


async def test_with_enough_recorded_go_lives_the_marketplace_median_wins(
    harness: Harness, migrated_engine: AsyncEngine
):
    await record_go_lives(migrated_engine, ONBOARDING.history_min_samples, dict.fromkeys(StageId, 2))
    handle = await harness.start()

    async def read() -> OnboardingView:
        return await handle.query(OnboardingWorkflow.view)

    view = await eventually(read, lambda view: view.prediction_basis == PredictionBasis.MARKETPLACE_HISTORY)

    assert view.predicted_go_live is not None
    expected = view.started_at + timedelta(days=10)
    assert expected <= view.predicted_go_live < expected + MINUTE
    assert [(forecast.expected_days, forecast.samples) for forecast in view.prediction_stages] == [
        (2, ONBOARDING.history_min_samples)
    ] * len(ONBOARDING.stages)


async def test_a_rejection_while_the_marketplace_history_is_read_ends_the_run_at_once(harness: Harness):
    handle = await harness.start()
    # Entering a stage reads the marketplace's history (an activity); the rejection arrives while it runs.
    await pass_stage(handle, StageId.IDENTIFICATION)
    await handle.execute_update(OnboardingWorkflow.reject, RejectCommand(actor=PM, reason="hosting outside the EU"))

    # Not at the stage's next deadline, days later: the time-skipping server would skip there and time out.
    ended = await asyncio.wait_for(handle.result(), timeout=20)

    assert ended.status == OnboardingStatus.REJECTED
    run = await handle.describe()
    assert run.close_time is not None and run.close_time - run.start_time < timedelta(hours=1)
