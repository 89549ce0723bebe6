"""A payment attempt is one activity (`billing.settle_invoice`): it issues a new invoice, charges it, records the
outcome and books the ISV's share, and a retry after a crash anywhere in it issues, charges, records and books once.
The store ends up exactly as the four activities it replaces left it, audit entries included."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.payment_gateway import InStoreGateway, RecordedCharge
from activities.sandbox_gateway import SandboxGateway
from domain.audit import SystemAction
from domain.money import invoice_amounts, revenue_share_cents
from domain.payments import TokenizedMethod
from domain.payouts import TransferRequest, TransferResult
from domain.subscription import payments, records
from domain.subscription.model import (
    BookedPlan,
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Settlement,
    SettlementResult,
    SubscriptionState,
    SubscriptionStatus,
)
from store import audit, models
from store.db import as_utc
from tests.activities.test_system_audit import logged

ISSUED = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)


def state(token: str = "tok_success") -> SubscriptionState:
    started = ISSUED - timedelta(days=31)
    return SubscriptionState(
        id="cust-1-crm-pro",
        customer=Customer(id="cust-1", name="Acme Bäckerei GmbH", employees=12),
        plan=BookedPlan(
            app_id="crm-pro",
            app_name="CRM Pro",
            isv_id="crm-isv",
            term_months=12,
            monthly_price_cents=1_990,
            revenue_share_percent=70,
            trial_days=30,
        ),
        payment_method=TokenizedMethod(type="credit_card", token=token),
        status=SubscriptionStatus.ACTIVE,
        booked_at=started - timedelta(days=30),
        trial_ends_at=started,
    )


def period_invoice(subscription: SubscriptionState, seq: int = 1) -> Invoice:
    invoice = Invoice(
        number=f"{subscription.id}-{seq:04d}",
        kind=InvoiceKind.PERIOD,
        issued_at=ISSUED,
        period_start=ISSUED,
        period_end=ISSUED + timedelta(days=30),
        amounts=invoice_amounts(1_990, 19),
    )
    subscription.unpaid.append(invoice)
    return invoice


def attempt(subscription: SubscriptionState, invoice: Invoice, *, new: bool = True) -> Settlement:
    """What the workflow hands the activity for the next payment attempt on `invoice`."""
    invoice.attempts += 1
    invoice.last_attempt_at = ISSUED
    return records.settlement(subscription, invoice, subscription.payment_method, ISSUED, new=new)


@pytest.fixture
def gateway(sessions: async_sessionmaker[AsyncSession]) -> SandboxGateway:
    return SandboxGateway(sessions, webhook_secret="whsec-test")


@pytest.fixture
def billing(sessions: async_sessionmaker[AsyncSession], gateway: SandboxGateway) -> BillingActivities:
    return BillingActivities(sessions, gateway)


class ProviderOfItsOwn:
    """A gateway outside the store (like a real provider): its charges cannot join the activity's transaction."""

    def __init__(self, sandbox: SandboxGateway) -> None:
        self.charges = 0
        self._sandbox = sandbox

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        self.charges += 1
        return await self._sandbox.charge(request)

    async def transfer(self, request: TransferRequest) -> TransferResult:
        return await self._sandbox.transfer(request)


async def settle(billing: BillingActivities, settlement: Settlement) -> SettlementResult:
    result: SettlementResult = await ActivityEnvironment().run(billing.settle_invoice, settlement)
    return result


async def count(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def stored(sessions: async_sessionmaker[AsyncSession], number: str) -> models.InvoiceRow:
    async with sessions() as session:
        row = await session.get(models.InvoiceRow, number)
    assert row is not None
    return row


async def assert_settled_once(sessions: async_sessionmaker[AsyncSession], invoice: Invoice, status: str) -> None:
    """One invoice, one charge, the outcome on the invoice, and each audit entry once."""
    row = await stored(sessions, invoice.number)
    assert row.status == status
    assert await count(sessions, models.InvoiceRow) == 1
    assert await count(sessions, models.Payment) == 1
    assert [entry.event_key for entry in await logged(sessions, SystemAction.INVOICE_ISSUED)] == [
        f"invoice.issued:{invoice.number}"
    ]
    assert [entry.event_key for entry in await logged(sessions, SystemAction.PAYMENT_RECORDED)] == [
        f"payment.recorded:{invoice.number}:{row.payment_id}:{status}"
    ]
    assert (await audit.verify(sessions)).ok


@pytest.mark.parametrize("in_store", [True, False], ids=["sandbox in the same transaction", "provider of its own"])
async def test_a_billing_period_is_issued_charged_recorded_and_booked_by_one_activity(
    sessions: async_sessionmaker[AsyncSession], gateway: SandboxGateway, in_store: bool
) -> None:
    billing = BillingActivities(sessions, gateway if in_store else ProviderOfItsOwn(gateway))
    subscription = state()
    invoice = period_invoice(subscription)

    settled = await settle(billing, attempt(subscription, invoice))

    assert settled.charge is not None and settled.charge.status == ChargeStatus.SUCCEEDED
    await assert_settled_once(sessions, invoice, "paid")
    row = await stored(sessions, invoice.number)
    assert (row.payment_id, as_utc(row.paid_at or ISSUED - timedelta(1)), row.gross_cents) == (
        settled.charge.payment_id,
        ISSUED,
        2_368,
    )
    async with sessions() as session:
        ledger = (await session.scalars(select(models.RevenueShare))).all()
    assert [(entry.invoice_number, entry.month, entry.share_cents) for entry in ledger] == [
        (invoice.number, "2026-03", revenue_share_cents(1_990, 70))
    ]


@pytest.mark.parametrize("in_store", [True, False], ids=["sandbox in the same transaction", "provider of its own"])
async def test_retrying_a_billing_period_after_a_crash_issues_charges_records_and_books_once(
    sessions: async_sessionmaker[AsyncSession], gateway: SandboxGateway, in_store: bool
) -> None:
    billing = BillingActivities(sessions, gateway if in_store else ProviderOfItsOwn(gateway))
    subscription = state()
    invoice = period_invoice(subscription)
    settlement = attempt(subscription, invoice)

    first = await settle(billing, settlement)
    again = await settle(billing, settlement)  # the worker died before Temporal heard of the first

    assert again == first, "the retry answers the first charge's result, which the workflow applies"
    await assert_settled_once(sessions, invoice, "paid")
    assert await count(sessions, models.RevenueShare) == 1


async def test_a_crash_after_the_charge_committed_but_before_its_webhook_went_out_is_settled_once(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = SandboxGateway(sessions, webhook_secret="whsec-test", webhook_url="http://127.0.0.1:9/payments")
    billing = BillingActivities(sessions, gateway)
    subscription = state()
    invoice = period_invoice(subscription)
    settlement = attempt(subscription, invoice)

    async def died(charge: RecordedCharge) -> None:
        raise RuntimeError("the worker died after the commit")

    monkeypatch.setattr(gateway, "report", died)
    with pytest.raises(RuntimeError):
        await settle(billing, settlement)
    monkeypatch.undo()
    settled = await settle(billing, settlement)

    assert settled.charge is not None and settled.charge.status == ChargeStatus.SUCCEEDED
    await assert_settled_once(sessions, invoice, "paid")
    assert await count(sessions, models.RevenueShare) == 1
    # The webhook went into the outbox with the charge: the resend job delivers it, once.
    assert await count(sessions, models.OutgoingWebhook) == 1


async def test_the_sandbox_is_charged_in_the_activitys_own_transaction(gateway: SandboxGateway) -> None:
    assert isinstance(gateway, InStoreGateway)
    assert not isinstance(ProviderOfItsOwn(gateway), InStoreGateway)


async def test_a_declined_charge_stores_the_failed_invoice_and_books_nothing(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    subscription = state("tok_declined")
    invoice = period_invoice(subscription)

    settled = await settle(billing, attempt(subscription, invoice))

    assert settled.charge is not None and settled.charge.status == ChargeStatus.FAILED
    await assert_settled_once(sessions, invoice, "failed")
    assert (await stored(sessions, invoice.number)).failure_reason == "card_declined"
    assert await count(sessions, models.RevenueShare) == 0
    # The workflow applies the answer with the same rules as ever: dunning starts.
    outcome = payments.apply_charge_result(subscription, invoice, settled.charge, ISSUED)
    assert outcome == payments.PaymentOutcome.FAILED and subscription.dunning is not None


async def test_a_dunning_retry_of_a_failed_invoice_records_its_outcome_and_books_the_share(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    subscription = state("tok_declined")
    invoice = period_invoice(subscription)
    declined = await settle(billing, attempt(subscription, invoice))
    assert declined.charge is not None
    payments.apply_charge_result(subscription, invoice, declined.charge, ISSUED)
    subscription.payment_method = TokenizedMethod(type="credit_card", token="tok_success")

    paid = await settle(billing, attempt(subscription, invoice, new=False))

    assert paid.charge is not None and paid.charge.status == ChargeStatus.SUCCEEDED
    row = await stored(sessions, invoice.number)
    assert (row.status, row.payment_id, row.failure_reason) == ("paid", paid.charge.payment_id, None)
    assert await count(sessions, models.InvoiceRow) == 1
    assert await count(sessions, models.Payment) == 2, "a new attempt is a new charge"
    assert await count(sessions, models.RevenueShare) == 1
    keys = [entry.event_key for entry in await logged(sessions, SystemAction.PAYMENT_RECORDED)]
    assert keys == [
        f"payment.recorded:{invoice.number}:{declined.charge.payment_id}:failed",
        f"payment.recorded:{invoice.number}:{paid.charge.payment_id}:paid",
    ]


async def test_a_pending_charge_leaves_the_invoice_open_for_its_webhook(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    subscription = state("tok_pending")
    invoice = period_invoice(subscription)

    settled = await settle(billing, attempt(subscription, invoice))

    assert settled.charge is not None and settled.charge.status == ChargeStatus.PENDING
    row = await stored(sessions, invoice.number)
    assert (row.status, row.payment_id) == ("open", None)
    assert await logged(sessions, SystemAction.PAYMENT_RECORDED) == []
    assert len(await logged(sessions, SystemAction.INVOICE_ISSUED)) == 1
    assert await count(sessions, models.RevenueShare) == 0


async def test_without_a_payment_method_the_invoice_is_only_issued(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    subscription = state()
    subscription.payment_method = None
    invoice = period_invoice(subscription)

    settled = await settle(billing, records.settlement(subscription, invoice, None, ISSUED, new=True))

    assert settled.charge is None
    assert (await stored(sessions, invoice.number)).status == "open"
    assert await count(sessions, models.Payment) == 0
    assert len(await logged(sessions, SystemAction.INVOICE_ISSUED)) == 1


async def test_an_export_fee_is_settled_without_a_revenue_share(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    subscription = state()
    invoice = period_invoice(subscription)
    invoice.kind = InvoiceKind.EXPORT_FEE

    settlement = attempt(subscription, invoice)
    await settle(billing, settlement)

    assert settlement.revenue is None
    assert (await stored(sessions, invoice.number)).status == "paid"
    assert await count(sessions, models.RevenueShare) == 0


@pytest.mark.parametrize("status", list(ChargeStatus))
def test_the_stored_outcome_of_a_charge_is_what_the_workflow_applies(status: ChargeStatus) -> None:
    """`records.charge_outcome_record` (what the activity stores) agrees with `payments.apply_charge_result` (what the
    workflow's state takes): the activity writes the outcome the old record_payment activity was handed."""
    subscription = state()
    invoice = period_invoice(subscription)
    result = ChargeResult(payment_id="pay_1", status=status, failure_reason=None)

    outcome = payments.apply_charge_result(subscription, invoice, result, ISSUED)
    stored_record = records.charge_outcome_record(invoice.number, result, ISSUED)

    if outcome == payments.PaymentOutcome.PENDING:
        assert stored_record is None
    else:
        assert stored_record == records.payment_record(invoice, ISSUED)
        assert stored_record is not None and stored_record.status != InvoiceStatus.OPEN
