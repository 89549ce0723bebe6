"""A subscription's lifecycle costs close to what the engine needs: a billing period is one activity, a suspension's
snapshot and notice one more, and the store (invoices, ledger, audit log, notices) holds exactly what it held before."""

from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from activities import names
from domain.audit import SystemAction
from domain.subscription.model import CancelCommand, SubscriptionStatus
from store import audit, models
from store.db import create_session_factory
from tests.workflow.subscription_harness import (
    DECLINED_CARD,
    METHODS,
    OPERATOR,
    SubscriptionHandle,
    SubscriptionHarness,
)
from worker import WORKFLOWS, data_converter, workflow_runner
from workflows.subscription import SubscriptionWorkflow

OLD_PER_PERIOD = {names.ISSUE_INVOICE, names.CHARGE, names.RECORD_PAYMENT, names.BOOK_REVENUE_SHARE}


async def activities_of(handle: SubscriptionHandle) -> Counter[str]:
    scheduled: Counter[str] = Counter()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return scheduled


async def audit_actions(subs: SubscriptionHarness, subscription_id: str) -> Counter[str]:
    sessions = create_session_factory(subs.engine)
    await audit.drain(sessions)
    target = f"subscription-{subscription_id}"
    return Counter([entry.action async for entry in audit.entries(sessions, audit.LogFilter(target=target))])


async def test_a_billing_period_is_one_activity(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=METHODS["credit_card"])
    await subs.sleep_days(30 + 31 + 1)

    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.ACTIVE and view.invoices_issued == 2
    scheduled = await activities_of(handle)
    assert scheduled[names.SETTLE_INVOICE] == 2
    assert not OLD_PER_PERIOD & set(scheduled), scheduled
    invoices = await subs.rows(models.InvoiceRow, subscription_id=view.id)
    assert [invoice.status for invoice in invoices] == ["paid", "paid"]
    assert await subs.count(models.RevenueShare, subscription_id=view.id) == 2


async def test_a_full_12_month_lifecycle_leaves_every_record_once_and_replays(subs: SubscriptionHarness):
    handle = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
    await subs.sleep_days(30 + 150)
    await handle.execute_update(SubscriptionWorkflow.cancel, CancelCommand(actor=OPERATOR))
    await subs.sleep_days(365 - 150 + 2 + 31)
    view = await handle.result()
    assert view.status == SubscriptionStatus.TERMINATED and view.invoices_issued == 12

    scheduled = await activities_of(handle)
    # 12 periods; the booking, the trial's ending notice, the suspension (with its notice) and the termination each
    # recorded with the call telling the ISV of it (provision, trial_will_end, suspend, deprovision); the cancel's
    # snapshot on its own.
    assert scheduled == Counter(
        {
            names.SETTLE_INVOICE: 12,
            names.RECORD_AND_CALL_CONNECTOR: 4,
            names.RECORD_SUBSCRIPTION: 1,
        }
    )
    assert await subs.count(models.InvoiceRow, subscription_id=view.id, status="paid") == 12
    assert await subs.count(models.RevenueShare, subscription_id=view.id) == 12
    assert await subs.count(models.Payment) == 12
    assert await subs.count(models.Notification, kind="suspended") == 1
    assert [row.status for row in await subs.rows(models.Subscription, subscription_id=view.id)] == ["terminated"]
    assert await audit_actions(subs, view.id) == Counter(
        {
            SystemAction.INVOICE_ISSUED.value: 12,
            SystemAction.PAYMENT_RECORDED.value: 12,
            SystemAction.SUBSCRIPTION_SUSPENDED.value: 1,
            SystemAction.SUBSCRIPTION_TERMINATED.value: 1,
            SystemAction.DATA_DELETED.value: 1,
        }
    )

    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(), workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(await handle.fetch_history())
    assert result.replay_failure is None


async def test_a_failed_charge_still_dunns_notifies_and_suspends(subs: SubscriptionHarness):
    handle = await subs.book(term_months=1, payment_method=DECLINED_CARD)
    await subs.sleep_days(30.5)
    view = await subs.view(handle)
    assert view.dunning is not None and view.arrears_cents == 2368
    assert await subs.count(models.Notification, kind="payment_failed") == 1

    await subs.sleep_days(3.2 + 4)
    view = await subs.view(handle)
    assert view.status == SubscriptionStatus.SUSPENDED
    scheduled = await activities_of(handle)
    # the first charge and two dunning retries: one activity each, and a notice of each failure
    assert scheduled[names.SETTLE_INVOICE] == 3
    assert scheduled[names.SEND_NOTIFICATION] == 3
    assert not OLD_PER_PERIOD & set(scheduled), scheduled
    invoices = await subs.rows(models.InvoiceRow, subscription_id=view.id)
    assert [invoice.status for invoice in invoices] == ["failed"]
    assert await subs.count(models.RevenueShare, subscription_id=view.id) == 0
    assert await subs.count(models.Notification, kind="suspended") == 1
    assert (await audit_actions(subs, view.id))[SystemAction.PAYMENT_RECORDED.value] == 3


async def test_a_channel_partners_points_still_follow_the_first_paid_period(subs: SubscriptionHarness):
    handle = await subs.book(payment_method=METHODS["credit_card"], channel_partner_id="telesales-nord")
    await subs.sleep_days(31)
    view = await subs.view(handle)
    assert "partner_points_pending" in [entry.action for entry in view.history]
    assert await subs.count(models.Notification, kind="partner_points_pending") == 1
