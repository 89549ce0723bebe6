"""The integration criterion "connector test passed" is a real signed call to the registered endpoint."""

import socket

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.onboarding.config import CONNECTOR_TEST_ITEM, ENDPOINT_ITEM, StageId
from domain.onboarding.model import ChecklistCommand
from tests.workflow.conftest import PM, Harness, walk_to
from tests.workflow.replay import HISTORIES, assert_replays, load_history
from workflows.onboarding import OnboardingWorkflow


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_connector_test_against_the_local_connector_passes(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.INTEGRATION)
    await handle.execute_update(OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item=ENDPOINT_ITEM))
    view = await handle.execute_update(
        OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item=CONNECTOR_TEST_ITEM)
    )
    assert view.provisioning_endpoint == "local"
    assert CONNECTOR_TEST_ITEM not in view.unmet_criteria


async def test_a_failing_endpoint_leaves_the_connector_test_unticked_with_the_failure(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.INTEGRATION)
    endpoint = f"http://127.0.0.1:{closed_port()}/partnerflow"
    await handle.execute_update(
        OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item=ENDPOINT_ITEM, value=endpoint)
    )
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(
            OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item=CONNECTOR_TEST_ITEM)
        )
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "connector_test_failed"
    assert endpoint in cause.message
    view = await handle.query(OnboardingWorkflow.view)
    assert CONNECTOR_TEST_ITEM in view.unmet_criteria


async def test_the_connector_test_needs_a_registered_endpoint(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.INTEGRATION)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(
            OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item=CONNECTOR_TEST_ITEM)
        )
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "endpoint_not_registered"


async def test_registering_a_new_endpoint_makes_the_connector_test_due_again(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.INTEGRATION)
    await handle.execute_update(OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item=ENDPOINT_ITEM))
    await handle.execute_update(OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item=CONNECTOR_TEST_ITEM))
    view = await handle.execute_update(
        OnboardingWorkflow.complete_item,
        ChecklistCommand(actor=PM, item=ENDPOINT_ITEM, value="https://isv.example/partnerflow"),
    )
    assert view.provisioning_endpoint == "https://isv.example/partnerflow"
    assert CONNECTOR_TEST_ITEM in view.unmet_criteria


async def test_an_onboarding_recorded_before_the_real_connector_test_still_replays():
    """Running executions from before the change must not break: `workflow.patched` keeps their history valid."""
    await assert_replays(load_history(HISTORIES / "onboarding_before_connector_test.json"))
