"""A partner logging tens of thousands of events a year: histories stay bounded and the total stays exact."""

import uuid

from domain.ids import partner_workflow_id
from domain.partners.model import Enrolment, RecordContracts
from tests.workflow.conftest import Harness
from tests.workflow.partner_harness import ACCOUNT_MANAGER, licences
from workflows.partner import PartnerInput, PartnerProgramWorkflow

EVENTS = 20_000
BATCH = 100


async def test_20000_events_in_one_year_continue_as_new_with_an_exact_total(small_history_harness: Harness):
    harness = small_history_harness
    partner = f"partner-{uuid.uuid4().hex[:8]}"
    enrolment = Enrolment(id=partner, name="Telesales Nord GmbH", account_manager=ACCOUNT_MANAGER, last_year_points=0)
    handle = await harness.client.start_workflow(
        PartnerProgramWorkflow.run,
        PartnerInput(partner_id=partner, actor=ACCOUNT_MANAGER, enrolment=enrolment),
        id=partner_workflow_id(partner),
        task_queue=harness.settings.task_queue,
    )
    first_run = (await handle.describe()).run_id
    latest = harness.client.get_workflow_handle(handle.id)
    for start in range(0, EVENTS, BATCH):
        # Every event: one Digital Phone licence (50 points); every 10th batch repeats the previous one's ids.
        first = start - BATCH if start and start % (10 * BATCH) == 0 else start
        events = [licences(f"lic-{n}", 1) for n in range(first, first + BATCH)]
        if first != start:
            await latest.execute_update(
                PartnerProgramWorkflow.record_contracts, RecordContracts(actor=ACCOUNT_MANAGER, events=events)
            )
            events = [licences(f"lic-{n}", 1) for n in range(start, start + BATCH)]
        await latest.execute_update(
            PartnerProgramWorkflow.record_contracts, RecordContracts(actor=ACCOUNT_MANAGER, events=events)
        )

    view = await latest.query(PartnerProgramWorkflow.view)
    assert view.events_counted == EVENTS
    assert view.points == EVENTS * 50
    assert (await latest.describe()).run_id != first_run, "the history should have been continued as new"
    runs = [execution async for execution in harness.client.list_workflows(f"WorkflowId = '{handle.id}'")]
    assert len(runs) > 1
    await latest.terminate("test finished")
