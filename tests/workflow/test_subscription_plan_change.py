"""Changes to a subscription's billing on the time-skipping server: the trial's ending notice, withdrawing a
cancellation, and plan changes (an upgrade at once with its proration on the next invoice, a downgrade at the term's
end)."""

import json
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from domain.subscription import rules
from domain.subscription.model import (
    BookedPlan,
    BookingRequest,
    CancelCommand,
    ChangePlanCommand,
    SubscriptionState,
    SubscriptionStatus,
    SuspensionReason,
    UncancelCommand,
)
from store import models
from tests.workflow.subscription_harness import ISV, METHODS, OPERATOR, PRICE_CENTS, SubscriptionHarness
from tests.workflow.test_subscription_workflow import refusal
from workflows.subscription import SubscriptionInput, SubscriptionWorkflow


def plan(term_months: int, price: int) -> ChangePlanCommand:
    return ChangePlanCommand(actor=OPERATOR, term_months=term_months, monthly_price_cents=price)


async def plan_events(subs: SubscriptionHarness, subscription: str) -> list[dict[str, Any]]:
    """The `plan_changed` calls the ISV's connector received, oldest first, with their times as datetimes."""
    calls = await subs.rows(
        models.ConnectorCallRow, models.ConnectorCallRow.id, subscription_id=subscription, action="plan_changed"
    )
    events = [json.loads(call.request_body)["payload"] for call in calls]
    return [event | {"effective_at": datetime.fromisoformat(event["effective_at"])} for event in events]


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- the trial's ending notice ------------------------------------------------------------------


async def test_the_trial_ending_notice_goes_out_3_days_before_the_trial_ends_once(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=METHODS["credit_card"])
    await subs.sleep_days(26.9)
    view = await subs.view(handle)
    assert await subs.count(models.Notification, subject_ref=view.id, kind="trial_ending") == 0

    await subs.sleep_days(0.2)  # 27.1 days in: the 30-day trial ends in under 3
    [notice] = await subs.rows(models.Notification, subject_ref=view.id, kind="trial_ending")
    # The card as the API stores it masked; booked here straight on the workflow, it has no brand to show.
    assert "the paid 12-month contract then starts" in notice.message and "paid by credit_card" in notice.message
    assert notice.recipient == f"customer-{view.customer.id}"
    sent_at = notice.created_at.replace(tzinfo=view.trial_ends_at.tzinfo)
    assert abs(sent_at - (view.trial_ends_at - timedelta(days=3))) < timedelta(seconds=1)
    [event] = await subs.rows(models.ConnectorCallRow, subscription_id=view.id, action="trial_will_end")
    assert '"payment_method_on_file":true' in event.request_body

    await subs.sleep_days(4)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.ACTIVE
    assert await subs.count(models.Notification, subject_ref=view.id, kind="trial_ending") == 1
    assert await subs.count(models.ConnectorCallRow, subscription_id=view.id, action="trial_will_end") == 1
    assert [entry.action for entry in view.history].count("trial_ending_noticed") == 1


async def test_the_trial_ending_notice_says_when_no_payment_method_is_on_file(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=None)
    await subs.sleep_days(27.5)
    view = await subs.view(handle)
    [notice] = await subs.rows(models.Notification, subject_ref=view.id, kind="trial_ending")
    assert "no payment method is on file" in notice.message
    [event] = await subs.rows(models.ConnectorCallRow, subscription_id=view.id, action="trial_will_end")
    assert '"payment_method_on_file":false' in event.request_body
    await subs.sleep_days(3)
    assert (await subs.view(handle)).suspension_reason == SuspensionReason.NO_PAYMENT_METHOD


async def carried_over_trial(subs: SubscriptionHarness, trial_days_left: float) -> SubscriptionState:
    """A trialing subscription as continue-as-new hands it to its next run: booked with that much of its trial left."""
    request = BookingRequest.model_validate(
        {
            "customer": {
                "id": f"cust-{uuid.uuid4().hex[:8]}",
                "name": "Beispiel GmbH",
                "employees": 5,
            },
            "app_id": subs.app_id,
            "term_months": 12,
            "payment_method": METHODS["credit_card"],
        }
    )
    plan = BookedPlan(
        app_id=subs.app_id,
        app_name="Acme CRM",
        isv_id=ISV,
        term_months=12,
        monthly_price_cents=PRICE_CENTS,
        revenue_share_percent=70,
        trial_days=30,
    )
    booked_at = await subs.env.get_current_time() - timedelta(days=30 - trial_days_left)
    return rules.book(f"{request.customer.id}-{subs.app_id}", request, plan, OPERATOR, booked_at)


@pytest.mark.parametrize("noticed", [True, False])
async def test_a_run_continued_as_new_in_the_trial_sends_the_notice_once_across_runs(
    subs: SubscriptionHarness, noticed: bool
):
    state = await carried_over_trial(subs, trial_days_left=2)
    state.trial_ending_noticed = noticed
    await subs.client.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionInput(subscription_id=state.id, actor="system", state=state),
        id=f"subscription-{state.id}",
        task_queue=subs.settings.task_queue,
    )
    await subs.sleep_days(3)
    sent = await subs.count(models.Notification, subject_ref=state.id, kind="trial_ending")
    assert sent == (0 if noticed else 1), "the earlier run's notice is not repeated; one not sent yet goes at once"


# --- uncancel ---------------------------------------------------------------------------------


async def test_withdrawing_a_cancellation_before_the_term_end_keeps_the_subscription_renewing(
    subs: SubscriptionHarness,
):
    handle = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)
    cancelled = await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    assert cancelled.cancel_at == cancelled.current_term_end

    view = await handle.execute_update(SubscriptionWorkflow.uncancel, UncancelCommand(actor=OPERATOR))
    assert view.cancel_at is None and view.history[-1].action == "uncancelled"
    again = await refusal(handle.execute_update(SubscriptionWorkflow.uncancel, UncancelCommand(actor=OPERATOR)))
    assert again.type == "not_cancelled"

    await subs.sleep_days(31)
    view = await subs.view(handle)
    assert (view.status, view.term_number) == (SubscriptionStatus.ACTIVE, 2)
    [record] = await subs.rows(models.Subscription, subscription_id=view.id)
    assert record.cancel_at is None


async def test_a_cancellation_cannot_be_withdrawn_once_it_took_effect(subs: SubscriptionHarness):
    handle = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)
    await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    await subs.sleep_days(31)
    latest = subs.latest(handle)
    assert (await latest.query(SubscriptionWorkflow.view)).status == SubscriptionStatus.SUSPENDED

    refused = await refusal(latest.execute_update(SubscriptionWorkflow.uncancel, UncancelCommand(actor=OPERATOR)))
    assert refused.type == "cancellation_effective"


# --- plan changes -----------------------------------------------------------------------------


async def test_an_upgrade_applies_at_once_and_the_next_invoice_carries_its_proration(subs: SubscriptionHarness):
    handle = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31 + 10)
    before = await subs.view(handle)
    assert before.current_period_start is not None and before.current_period_end is not None

    view = await handle.execute_update(SubscriptionWorkflow.change_plan, plan(12, 1_490))

    assert (view.term_months, view.monthly_price_cents, view.scheduled_plan_change) == (12, 1_490, None)
    assert view.current_term_end is not None and view.contract_started_at is not None
    assert view.current_term_end.year == view.contract_started_at.year + 1
    upgraded = view.history[-1]
    assert upgraded.action == "plan_upgraded"
    # The period's unused whole days: the old price credited, the new one charged, each rounded half up to the cent.
    unused = (before.current_period_end - upgraded.at) // timedelta(days=1)
    days = (before.current_period_end - before.current_period_start).days
    expected = half_up(Decimal(1_490 * unused) / days) - half_up(Decimal(PRICE_CENTS * unused) / days)
    assert expected < 0 and view.pending_proration_cents == expected
    # The ISV hears of the new plan at once, to change what the customer is entitled to.
    assert await plan_events(subs, view.id) == [
        {"change": "upgrade", "term_months": 12, "monthly_price_cents": 1_490, "effective_at": upgraded.at}
    ]

    await subs.sleep_days(unused + 1)
    view = await subs.view(handle)
    invoices = await subs.rows(models.InvoiceRow, models.InvoiceRow.number, subscription_id=view.id)
    assert [(i.net_cents, i.status) for i in invoices[:1]] == [(PRICE_CENTS, "paid")]
    net = 1_490 + expected
    vat = half_up(Decimal(net) * 19 / 100)
    assert [(i.proration_cents, i.net_cents, i.vat_cents, i.gross_cents) for i in invoices[1:]] == [
        (expected, net, vat, net + vat)
    ]
    assert view.pending_proration_cents == 0
    assert (view.status, view.term_number) == (SubscriptionStatus.ACTIVE, 1), "no renewal after the old 1-month term"


async def test_a_proration_the_contract_ended_before_billing_is_invoiced_when_it_ends(subs: SubscriptionHarness):
    handle = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31 + 10)
    # The catalogue repriced the monthly plan: the dearer price is an upgrade at the same term, prorated ...
    upgraded = await handle.execute_update(SubscriptionWorkflow.change_plan, plan(1, PRICE_CENTS + 600))
    proration = upgraded.pending_proration_cents
    assert proration > 0
    # ... and the contract ends with this term, before a period invoice could carry the proration.
    cancelled = await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    assert cancelled.cancel_at == cancelled.current_term_end

    await subs.sleep_days(25)
    view = await subs.view(handle)

    assert view.status == SubscriptionStatus.SUSPENDED and view.pending_proration_cents == 0
    invoices = await subs.rows(models.InvoiceRow, models.InvoiceRow.number, subscription_id=view.id)
    assert [(i.kind, i.net_cents, i.proration_cents, i.status) for i in invoices] == [
        ("period", PRICE_CENTS, 0, "paid"),
        ("proration", proration, proration, "paid"),
    ]
    shares = await subs.rows(models.RevenueShare, subscription_id=view.id)
    assert sorted(row.net_cents for row in shares) == sorted([PRICE_CENTS, proration])


async def test_a_downgrade_takes_effect_at_the_term_end(subs: SubscriptionHarness):
    handle = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31 + 200)
    view = await handle.execute_update(SubscriptionWorkflow.change_plan, plan(1, 2_490))
    assert view.scheduled_plan_change is not None
    assert view.scheduled_plan_change.effective_at == view.current_term_end
    assert (view.term_months, view.monthly_price_cents, view.pending_proration_cents) == (12, PRICE_CENTS, 0)
    assert await plan_events(subs, view.id) == [], "nothing changes for the ISV before the term ends"
    term_end = view.current_term_end

    await subs.sleep_days(365 - 200 + 1)
    view = await subs.view(handle)
    assert (view.term_number, view.term_months, view.monthly_price_cents) == (2, 1, 2_490)
    assert view.scheduled_plan_change is None
    assert await plan_events(subs, view.id) == [
        {"change": "downgrade", "term_months": 1, "monthly_price_cents": 2_490, "effective_at": term_end}
    ]
    invoices = await subs.rows(models.InvoiceRow, models.InvoiceRow.number, subscription_id=view.id)
    assert [i.net_cents for i in invoices] == [PRICE_CENTS] * 12 + [2_490]


async def test_a_plan_change_in_the_trial_is_told_to_the_isv_and_a_withdrawn_downgrade_is_not(
    subs: SubscriptionHarness,
):
    trialing = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
    view = await trialing.execute_update(SubscriptionWorkflow.change_plan, plan(1, 2_490))
    assert [event["change"] for event in await plan_events(subs, view.id)] == ["in_trial"]

    paying = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)
    await paying.execute_update(SubscriptionWorkflow.change_plan, plan(1, 2_490))
    view = await paying.execute_update(SubscriptionWorkflow.change_plan, plan(12, PRICE_CENTS))
    assert view.history[-1].action == "downgrade_withdrawn"
    assert await plan_events(subs, view.id) == []


async def test_plan_changes_are_refused_for_the_same_plan_a_cancelled_or_a_suspended_subscription(
    subs: SubscriptionHarness,
):
    handle = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)
    same = await refusal(handle.execute_update(SubscriptionWorkflow.change_plan, plan(1, PRICE_CENTS)))
    assert same.type == "same_plan"
    await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    cancelled = await refusal(handle.execute_update(SubscriptionWorkflow.change_plan, plan(12, 1_490)))
    assert cancelled.type == "cancellation_scheduled"

    unpaid = await subs.book(payment_method=None)
    await subs.sleep_days(31)
    suspended = await refusal(unpaid.execute_update(SubscriptionWorkflow.change_plan, plan(1, PRICE_CENTS)))
    assert suspended.type == "subscription_suspended"
    history = [entry.action for entry in (await subs.view(handle)).history]
    assert "plan_upgraded" not in history and "plan_downgrade_scheduled" not in history
