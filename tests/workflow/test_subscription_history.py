"""Continue-as-new when Temporal suggests it mid-term loses nothing: dunning, pending cancellation, numbering."""

from datetime import UTC, datetime, timedelta

from domain.money import invoice_amounts
from domain.payments import Card, TokenizedMethod
from domain.subscription.model import (
    BookedPlan,
    ChangePaymentMethodCommand,
    Customer,
    Dunning,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionView,
)
from tests.workflow.conftest import Harness
from workflows.subscription import SubscriptionInput, SubscriptionWorkflow


def mid_term_state(now: datetime) -> SubscriptionState:
    """An active 12-month contract two months in: one invoice in dunning, cancelled for the term's end."""
    started = now - timedelta(days=61)
    failed = Invoice(
        number="cust-can-crm-can-202601010000-0002",
        kind=InvoiceKind.PERIOD,
        issued_at=now - timedelta(days=1),
        amounts=invoice_amounts(1990, 19),
        status=InvoiceStatus.FAILED,
        attempts=1,
        failure_reason="card_declined",
    )
    return SubscriptionState(
        id="cust-can-crm-can",
        customer=Customer(id="cust-can", name="Beispiel GmbH", employees=12),
        plan=BookedPlan(
            app_id="crm-can",
            app_name="Acme CRM",
            isv_id="acme",
            term_months=12,
            monthly_price_cents=1990,
            revenue_share_percent=70,
            trial_days=30,
        ),
        payment_method=TokenizedMethod(type="credit_card", token="tok_declined"),
        status=SubscriptionStatus.ACTIVE,
        booked_at=started - timedelta(days=30),
        trial_ends_at=started,
        contract_started_at=started,
        term_started_at=started,
        term_number=1,
        period_index=3,
        next_invoice_at=now + timedelta(days=20),
        cancel_requested_at=now - timedelta(days=2),
        cancel_at=started + timedelta(days=365),
        invoice_seq=3,
        invoices_issued=3,
        unpaid=[failed],
        last_invoice=failed,
        dunning=Dunning(started_at=now - timedelta(days=1)),
    )


async def test_continue_as_new_mid_term_keeps_dunning_cancellation_and_numbering(small_history_harness: Harness):
    harness = small_history_harness
    state = mid_term_state(datetime.now(UTC))
    handle = await harness.client.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionInput(subscription_id=state.id, actor="test", state=state),
        id=f"subscription-{state.id}",
        task_queue=harness.settings.task_queue,
    )
    first_run = (await handle.describe()).run_id
    for attempt in range(12):
        token = f"tok_declined_{attempt}"
        await handle.execute_update(
            SubscriptionWorkflow.change_payment_method,
            ChangePaymentMethodCommand(
                actor="operator-otto",
                payment_method=TokenizedMethod(
                    type="credit_card", token=token, card=Card(brand="Visa", last4=f"{attempt:04d}")
                ),
            ),
        )

    latest = harness.client.get_workflow_handle(handle.id, result_type=SubscriptionView)
    assert (await latest.describe()).run_id != first_run, "the history should have been continued as new"
    view = await latest.query(SubscriptionWorkflow.view)
    assert view.status == SubscriptionStatus.ACTIVE
    assert view.cancel_at == state.cancel_at
    assert view.dunning is not None
    assert state.dunning is not None and view.dunning.started_at == state.dunning.started_at
    assert view.dunning.unpaid_invoices == ["cust-can-crm-can-202601010000-0002"]
    assert view.invoices_issued == 3
    assert view.payment_method == "Visa •••• 0011"  # the last change, carried over
    assert [entry.action for entry in view.history].count("payment_method_changed") == 12
    await latest.terminate("test finished")
