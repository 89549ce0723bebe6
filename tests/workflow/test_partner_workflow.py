"""PartnerProgramWorkflow on the time-skipping server: points, the year end, quality reports, reviews."""

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.partners.config import ContractKind, Tier
from domain.partners.model import (
    DecideReview,
    PartnerStatus,
    ReviewDecision,
    SignalledContractEvent,
    TierChange,
)
from domain.partners.rules import next_quarter_end, year_end
from store import models
from tests.workflow.partner_harness import ACCOUNT_MANAGER, PartnerHandle, PartnerHarness, licences
from workflows.partner import PartnerProgramWorkflow


async def close_first_year(partners: PartnerHarness, handle: PartnerHandle) -> int:
    year = (await partners.view(handle)).year
    await partners.sleep_until(year_end(year) + timedelta(hours=1))
    return year


@pytest.mark.parametrize(
    ("last_year", "start_tier", "year_points", "end_tier", "change"),
    [
        (8_000, Tier.ADVANCED, 16_000, Tier.EXPERT, TierChange.UPGRADE),
        (8_000, Tier.ADVANCED, 7_500, Tier.ADVANCED, TierChange.KEEP),
        (50_000, Tier.EXPERT_PLUS, 10_000, Tier.ADVANCED, TierChange.DOWNGRADE),
    ],
)
async def test_at_year_end_the_partner_is_reclassified_by_the_years_points(
    partners: PartnerHarness, last_year: int, start_tier: Tier, year_points: int, end_tier: Tier, change: TierChange
):
    handle = await partners.enrol(last_year_points=last_year)
    assert (await partners.view(handle)).tier == start_tier
    result = await partners.record(handle, licences("lic-1", year_points // 50))
    assert result.points == year_points

    year = await close_first_year(partners, handle)
    view = await partners.view(handle)

    assert view.tier == end_tier
    assert view.year == year + 1
    assert view.points == 0
    assert view.last_year_points == year_points
    assert [(d.year, d.points, d.from_tier, d.to_tier, d.change) for d in view.decisions] == [
        (year, year_points, start_tier, end_tier, change)
    ]
    rows = await partners.rows(models.TierDecisionRow, partner_id=view.id)
    assert [(row.year, row.points, row.to_tier, row.change) for row in rows] == [(year, year_points, end_tier, change)]
    notices = await partners.rows(models.Notification, recipient=f"partner-{view.id}")
    assert any(f"{year_points:,}" in notice.message for notice in notices)


async def test_a_partner_enrolled_mid_year_is_reviewed_at_the_first_year_end(partners: PartnerHarness):
    handle = await partners.enrol(legacy_level="gold")
    view = await partners.view(handle)
    assert view.tier == Tier.ADVANCED
    assert view.year_ends_at == year_end(view.year)
    year = await close_first_year(partners, handle)
    decisions = (await partners.view(handle)).decisions
    assert [(d.year, d.points, d.to_tier) for d in decisions] == [(year, 0, Tier.BASIC)]


async def test_a_reference_id_counts_exactly_once(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=0)
    first = await partners.record(handle, licences("order-7", 10), licences("order-7", 99))
    assert [(r.points_awarded, r.duplicate) for r in first.results] == [(500, False), (500, True)]
    again = await partners.record(handle, licences("order-7", 3))
    assert [(r.points_awarded, r.duplicate) for r in again.results] == [(500, True)]
    assert again.points == 500
    assert (await partners.view(handle)).events_counted == 1
    assert len(await partners.rows(models.PointsLedgerEntry, reference_id="order-7")) == 1


async def test_a_marketplace_subscription_signalled_by_its_workflow_earns_points(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=0)
    event = SignalledContractEvent(
        reference_id="subscription-cust-1-crm-202611231200",
        kind=ContractKind.MARKETPLACE_SUBSCRIPTION,
        monthly_value_cents=1990,
        actor="subscription-cust-1-crm",
    )
    await handle.signal(PartnerProgramWorkflow.record_contract_event, event)
    await handle.signal(PartnerProgramWorkflow.record_contract_event, event)
    await partners.env.sleep(timedelta(seconds=5))
    view = await partners.view(handle)
    assert view.points == 100 + 39  # base 100 + 2 points per euro of 19.90 EUR a month
    rows = await partners.rows(models.PointsLedgerEntry, partner_id=view.id)
    assert [(row.actor, row.points) for row in rows] == [("subscription-cust-1-crm", 139)]


async def test_quality_reports_come_quarterly_and_never_change_points(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=0)
    await partners.record(handle, licences("lic-q", 20))
    enrolled_year = (await partners.view(handle)).year
    start = await partners.now()
    second_quarter_end = next_quarter_end(next_quarter_end(start))
    await partners.sleep_until(second_quarter_end + timedelta(hours=1))

    view = await partners.view(handle)
    reports = await partners.rows(models.QualityReportRow, partner_id=view.id)
    assert len(reports) == 2
    assert all(report.below_thresholds is False for report in reports), "no data: nothing fails"
    # The test server's clock is shared by the session, so a year end may or may not fall in these quarters.
    if view.year == enrolled_year:
        assert view.points == 1_000
    else:
        assert (view.points, view.last_year_points) == (0, 1_000)


async def bad_quarters(partners: PartnerHarness, handle: PartnerHandle, count: int) -> None:
    """Seeds an unpaid customer invoice in each of the next `count` quarters, then lives through them."""
    partner = (await partners.view(handle)).id
    moment = await partners.now()
    for _ in range(count):
        await partners.seed_unpaid_invoice(partner, moment + timedelta(hours=2))
        moment = next_quarter_end(moment)
    await partners.sleep_until(moment + timedelta(hours=1))


async def test_three_bad_quarters_open_a_review_and_retaining_keeps_the_partner(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=20_000)
    await bad_quarters(partners, handle, 3)
    view = await partners.view(handle)
    assert view.bad_streak == 3
    assert view.open_review is not None
    assert view.tier == Tier.BASIC  # the year end in between reclassified it; reports never touch points

    latest = partners.latest(handle)
    view = await latest.execute_update(
        PartnerProgramWorkflow.decide_review,
        DecideReview(actor=ACCOUNT_MANAGER, decision=ReviewDecision.RETAIN, note="new sales lead"),
    )
    assert view.open_review is None and view.bad_streak == 0
    assert view.status == PartnerStatus.ACTIVE
    events = [row.event for row in await partners.rows(models.PartnerReviewEvent, partner_id=view.id)]
    assert events == ["opened", "retain"]


async def test_terminating_ends_the_partnership_and_refuses_further_events(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=0)
    await bad_quarters(partners, handle, 3)
    latest = partners.latest(handle)
    await latest.execute_update(
        PartnerProgramWorkflow.decide_review,
        DecideReview(actor=ACCOUNT_MANAGER, decision=ReviewDecision.TERMINATE, note="quality"),
    )
    result = await latest.result()
    assert result.status == PartnerStatus.TERMINATED
    with pytest.raises(Exception) as refused:
        await partners.record(handle, licences("late", 1))
    assert not isinstance(refused.value, AssertionError)


async def test_an_undecided_review_escalates_after_14_days(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=0)
    await bad_quarters(partners, handle, 3)
    view = await partners.view(handle)
    assert view.open_review is not None
    await partners.sleep_until(view.open_review.escalate_at + timedelta(hours=1))

    view = await partners.view(handle)
    assert view.open_review is not None and view.open_review.escalated_at is not None
    escalations = await partners.rows(models.PartnerReviewEvent, partner_id=view.id, event="escalated")
    assert len(escalations) == 1
    notices = await partners.rows(models.Notification, recipient="head-of-partner-sales")
    assert len(notices) == 1


async def test_a_review_decision_without_an_open_review_is_refused(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=0)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            PartnerProgramWorkflow.decide_review,
            DecideReview(actor=ACCOUNT_MANAGER, decision=ReviewDecision.RETAIN, note="fine"),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "no_open_review"


async def test_two_consecutive_years_each_end_with_a_decision(partners: PartnerHarness):
    handle = await partners.enrol(last_year_points=0)
    await partners.record(handle, licences("y1", 160))  # 8,000 points: advanced
    first = await close_first_year(partners, handle)
    await partners.record(handle, licences("y2", 320))  # 16,000 points: expert
    await partners.sleep_until(year_end(first + 1) + timedelta(hours=1))
    view = await partners.view(handle)
    assert [(d.year, d.points, d.to_tier) for d in view.decisions] == [
        (first, 8_000, Tier.ADVANCED),
        (first + 1, 16_000, Tier.EXPERT),
    ]
    assert view.tier == Tier.EXPERT
