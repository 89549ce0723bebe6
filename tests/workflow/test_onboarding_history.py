"""Histories stay bounded and replayable: continue-as-new keeps the whole onboarding; replay is deterministic."""

from domain.onboarding.config import StageId
from domain.onboarding.model import AdvanceCommand, ChecklistCommand, OnboardingStatus, OnboardingView
from tests.workflow.conftest import PM, Harness, tick_stage, walk_to
from tests.workflow.replay import assert_replays
from workflows.onboarding import OnboardingWorkflow


async def test_continue_as_new_keeps_stage_checklist_and_history(small_history_harness: Harness):
    harness = small_history_harness
    handle = await harness.start(app="long-history")
    first_run = (await handle.describe()).run_id
    await walk_to(handle, StageId.FEASIBILITY)
    for _ in range(15):
        for command in (OnboardingWorkflow.complete_item, OnboardingWorkflow.undo_item):
            await handle.execute_update(command, ChecklistCommand(actor=PM, item="eu_hosting_confirmed"))
    await handle.execute_update(
        OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item="technical_assessment_passed")
    )

    latest = harness.client.get_workflow_handle(handle.id, result_type=OnboardingView)
    assert (await latest.describe()).run_id != first_run, "the history should have been continued as new"
    view = await latest.query(OnboardingWorkflow.view)
    assert view.stage == StageId.FEASIBILITY
    assert view.unmet_criteria == ["eu_hosting_confirmed", "data_export_confirmed"]
    assert [entry.seq for entry in view.history] == list(range(1, len(view.history) + 1))
    assert len(view.history) == 1 + 1 + 30 + 1  # start, advance, 15 tick/undo pairs, one tick

    await walk_to(latest, StageId.GO_LIVE)
    await tick_stage(latest, StageId.GO_LIVE)
    await latest.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM))
    assert (await latest.result()).status == OnboardingStatus.LIVE


async def test_a_finished_onboarding_replays_without_nondeterminism(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.GO_LIVE)
    await tick_stage(handle, StageId.GO_LIVE)
    await handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM))
    await handle.result()

    await assert_replays(await handle.fetch_history())
