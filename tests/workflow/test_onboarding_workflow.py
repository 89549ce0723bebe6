"""OnboardingWorkflow on the time-skipping server: stages, timers, holds, refusals, publication."""

from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.onboarding.config import ONBOARDING, StageId
from domain.onboarding.model import (
    AdvanceCommand,
    ChecklistCommand,
    HoldCommand,
    NotificationKind,
    OnboardingStatus,
    ReassignCommand,
    RejectCommand,
    ResumeCommand,
    SetTermsCommand,
)
from domain.onboarding.sla import SlaStatus
from store import models
from tests.workflow.conftest import PM, TERMS, Harness, pass_stage, tick_stage, walk_to
from workflows import search_attributes
from workflows.onboarding import OnboardingWorkflow


async def refusal(update: Awaitable[Any]) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await update
    assert isinstance(failed.value.cause, ApplicationError)
    return failed.value.cause


async def test_a_full_onboarding_goes_live_and_publishes_the_app(harness: Harness, migrated_engine: AsyncEngine):
    handle = await harness.start(app="acme-crm")
    await walk_to(handle, StageId.GO_LIVE)
    await tick_stage(handle, StageId.GO_LIVE)
    view = await handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM, comment="listed"))

    assert view.status == OnboardingStatus.LIVE
    assert view.sla_status == SlaStatus.ON_TRACK
    result = await handle.result()
    assert result.status == OnboardingStatus.LIVE
    assert [entry.action for entry in result.history if entry.action in ("advanced", "went_live")] == [
        "advanced",
        "advanced",
        "advanced",
        "advanced",
        "went_live",
    ]
    assert all(entry.actor == PM for entry in result.history)

    async with migrated_engine.connect() as connection:
        app = (await connection.execute(select(models.App).where(models.App.id == "acme-crm"))).one()
        plans = (await connection.execute(select(models.AppPlan).where(models.AppPlan.app_id == "acme-crm"))).all()
        steps = await connection.scalar(
            select(func.count())
            .select_from(models.OnboardingEvent)
            .where(models.OnboardingEvent.onboarding_id == result.id)
        )
    assert app.isv_id == "acme"
    assert app.revenue_share_percent == 70
    assert app.listing_fee_cents == 0
    assert app.trial_days == 30
    assert {(plan.term_months, plan.monthly_price_cents) for plan in plans} == {(1, 1_990), (12, 1_490)}
    assert steps == len(result.history)


async def test_a_stage_overrunning_its_budget_sends_one_reminder(harness: Harness, migrated_engine: AsyncEngine):
    handle = await harness.start()
    budget = ONBOARDING.stage(StageId.IDENTIFICATION).budget

    await harness.env.sleep(budget - timedelta(hours=1))
    assert (await handle.query(OnboardingWorkflow.view)).notifications == []

    await harness.env.sleep(timedelta(days=2))
    view = await handle.query(OnboardingWorkflow.view)
    assert [(n.kind, n.stage, n.recipient) for n in view.notifications] == [
        (NotificationKind.REMINDER, StageId.IDENTIFICATION, PM)
    ]
    assert view.sla_status == SlaStatus.AT_RISK
    assert (await handle.describe()).typed_search_attributes.get(search_attributes.SLA_STATUS) == "at_risk"
    async with migrated_engine.connect() as connection:
        rows = (
            await connection.execute(select(models.Notification).where(models.Notification.subject_ref == view.id))
        ).all()
    assert [(row.kind, row.recipient) for row in rows] == [("reminder", PM)]


async def test_missing_the_42_day_target_escalates_and_makes_it_overdue(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.INTEGRATION)

    await harness.env.sleep(timedelta(days=43))
    view = await handle.query(OnboardingWorkflow.view)

    assert view.sla_status == SlaStatus.OVERDUE
    described = await handle.describe()
    assert described.typed_search_attributes.get(search_attributes.SLA_STATUS) == "overdue"
    assert described.typed_search_attributes.get(search_attributes.ONBOARDING_STAGE) == "integration"
    kinds = [(n.kind, n.stage) for n in view.notifications]
    assert (NotificationKind.ESCALATION, StageId.INTEGRATION) in kinds
    assert kinds.count((NotificationKind.ESCALATION, StageId.INTEGRATION)) == 1
    assert (NotificationKind.REMINDER, StageId.INTEGRATION) in kinds


async def test_hold_stops_the_clock_and_resume_shifts_the_deadlines(harness: Harness):
    handle = await harness.start()
    before = (await handle.query(OnboardingWorkflow.view)).deadlines

    await handle.execute_update(OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="ISV restructuring"))
    await harness.env.sleep(timedelta(days=20))
    held = await handle.query(OnboardingWorkflow.view)
    assert held.status == OnboardingStatus.ON_HOLD
    assert held.notifications == [], "no reminder while the clock is stopped"
    assert held.sla_status == SlaStatus.ON_TRACK

    resumed = await handle.execute_update(OnboardingWorkflow.resume, ResumeCommand(actor=PM))
    shift = resumed.deadlines.target_due_at - before.target_due_at
    assert timedelta(days=20) <= shift < timedelta(days=20, minutes=5)
    assert resumed.deadlines.stage_due_at is not None and before.stage_due_at is not None
    assert resumed.deadlines.stage_due_at - before.stage_due_at == shift

    await harness.env.sleep(timedelta(days=4))
    assert (await handle.query(OnboardingWorkflow.view)).notifications == []
    await harness.env.sleep(timedelta(days=2))
    assert [n.kind for n in (await handle.query(OnboardingWorkflow.view)).notifications] == [NotificationKind.REMINDER]


async def test_rejecting_ends_the_onboarding_with_the_reason(harness: Harness):
    handle = await harness.start()
    await handle.execute_update(OnboardingWorkflow.reject, RejectCommand(actor=PM, reason="hosting outside the EU"))

    result = await handle.result()
    assert result.status == OnboardingStatus.REJECTED
    assert result.history[-1].action == "rejected"
    assert result.history[-1].comment == "hosting outside the EU"


async def test_advancing_with_unmet_criteria_is_refused_naming_them(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.FEASIBILITY)
    await handle.execute_update(
        OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item="technical_assessment_passed")
    )

    refused = await refusal(handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM)))
    assert refused.type == "criteria_unmet"
    assert "eu_hosting_confirmed" in refused.message and "data_export_confirmed" in refused.message
    assert refused.details[0]["unmet"] == ["eu_hosting_confirmed", "data_export_confirmed"]
    assert (await handle.query(OnboardingWorkflow.view)).stage == StageId.FEASIBILITY


async def test_undoing_an_item_makes_its_criterion_unmet_again(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.FEASIBILITY)
    await tick_stage(handle, StageId.FEASIBILITY)
    view = await handle.execute_update(
        OnboardingWorkflow.undo_item, ChecklistCommand(actor=PM, item="eu_hosting_confirmed", comment="mistake")
    )
    assert view.unmet_criteria == ["eu_hosting_confirmed"]
    refused = await refusal(handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM)))
    assert refused.type == "criteria_unmet"


async def test_skipping_a_stage_is_refused(harness: Harness):
    handle = await harness.start()
    refused = await refusal(
        handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM, to_stage=StageId.COMMERCIAL))
    )
    assert refused.type == "stage_skip"
    assert (await handle.query(OnboardingWorkflow.view)).stage == StageId.IDENTIFICATION


async def test_an_item_of_another_stage_is_refused(harness: Harness):
    handle = await harness.start()
    refused = await refusal(
        handle.execute_update(OnboardingWorkflow.complete_item, ChecklistCommand(actor=PM, item="sso_tested"))
    )
    assert refused.type == "item_not_in_current_stage"
    assert refused.details[0]["item_stage"] == "integration"


async def test_terms_are_set_only_in_the_commercial_stage(harness: Harness):
    handle = await harness.start()
    refused = await refusal(handle.execute_update(OnboardingWorkflow.set_terms, SetTermsCommand(actor=PM, terms=TERMS)))
    assert refused.type == "terms_outside_commercial_stage"


async def test_advancing_on_hold_and_holding_twice_are_refused(harness: Harness):
    handle = await harness.start()
    refused = await refusal(handle.execute_update(OnboardingWorkflow.resume, ResumeCommand(actor=PM)))
    assert refused.type == "not_on_hold"
    await handle.execute_update(OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="waiting for documents"))
    refused = await refusal(handle.execute_update(OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="again")))
    assert refused.type == "already_on_hold"
    refused = await refusal(handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM)))
    assert refused.type == "on_hold"


async def test_reassigning_changes_the_partner_manager_and_refuses_the_same_one(harness: Harness):
    handle = await harness.start()
    view = await handle.execute_update(
        OnboardingWorkflow.reassign, ReassignCommand(actor=PM, partner_manager="pm-ben", comment="vacation")
    )
    assert view.partner_manager == "pm-ben"
    assert view.history[-1].comment == f"{PM} -> pm-ben: vacation"
    refused = await refusal(
        handle.execute_update(OnboardingWorkflow.reassign, ReassignCommand(actor=PM, partner_manager="pm-ben"))
    )
    assert refused.type == "already_assigned"


async def test_a_rejected_onboarding_refuses_every_command(harness: Harness):
    handle = await harness.start()
    await handle.execute_update(OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="checks"))
    await handle.execute_update(OnboardingWorkflow.reject, RejectCommand(actor=PM, reason="not viable"))
    # The workflow has ended; the Update reaches no running execution.
    with pytest.raises(Exception) as failed:
        await handle.execute_update(OnboardingWorkflow.resume, ResumeCommand(actor=PM))
    assert not isinstance(failed.value, AssertionError)
    assert (await handle.query(OnboardingWorkflow.view)).status == OnboardingStatus.REJECTED


async def test_an_update_sent_twice_with_one_id_is_applied_once(harness: Harness):
    handle = await harness.start()
    await walk_to(handle, StageId.FEASIBILITY)
    await tick_stage(handle, StageId.FEASIBILITY)
    first = await handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM), id="retry-1")
    second = await handle.execute_update(OnboardingWorkflow.advance, AdvanceCommand(actor=PM), id="retry-1")
    assert first.stage == second.stage == StageId.COMMERCIAL
    assert (await handle.query(OnboardingWorkflow.view)).stage == StageId.COMMERCIAL


async def test_an_earlier_overrun_puts_the_next_stage_at_risk_at_once(harness: Harness):
    handle = await harness.start()
    await harness.env.sleep(timedelta(days=20))
    view = await pass_stage(handle, StageId.IDENTIFICATION)
    # 20 of 42 days used; the remaining budgets (7+10+14+6 = 37 days) no longer fit.
    assert view.stage == StageId.FEASIBILITY
    assert view.sla_status == SlaStatus.AT_RISK
