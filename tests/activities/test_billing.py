"""Billing activities are safe to retry: one invoice per number, one ledger row per invoice, and payment
outcomes that never take a paid invoice back except by its own payment's return."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.sandbox_gateway import SandboxGateway
from domain.money import revenue_share_cents
from domain.subscription.model import (
    ChargeStatus,
    InvoiceIssue,
    InvoiceStatus,
    PaymentRecord,
    RevenueShareBooking,
)
from store import models
from tests.activities.builders import charge_request, invoice_issue
from tests.store.test_onboarding_activities import count, run_twice

ISSUED = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
PAID = ISSUED + timedelta(hours=1)  # already April: the ledger month follows the booking


def issue(number: str = "acme-crm-pro-0001") -> InvoiceIssue:
    return invoice_issue(number, ISSUED)


def outcome(status: InvoiceStatus, payment_id: str, reason: str | None = None) -> PaymentRecord:
    return PaymentRecord(
        invoice_number="acme-crm-pro-0001", payment_id=payment_id, status=status, at=PAID, failure_reason=reason
    )


@pytest.fixture
def billing(sessions: async_sessionmaker[AsyncSession]) -> BillingActivities:
    return BillingActivities(sessions, SandboxGateway(sessions, webhook_secret="whsec-test"))


async def stored_invoice(sessions: async_sessionmaker[AsyncSession]) -> models.InvoiceRow:
    async with sessions() as session:
        invoice = await session.get(models.InvoiceRow, "acme-crm-pro-0001")
    assert invoice is not None
    return invoice


async def test_issuing_the_same_invoice_twice_keeps_one_invoice(
    billing: BillingActivities, migrated_database: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await run_twice(billing.issue_invoice, issue())

    assert await count(migrated_database, models.InvoiceRow) == 1
    invoice = await stored_invoice(sessions)
    assert (invoice.net_cents, invoice.vat_cents, invoice.gross_cents, invoice.currency, invoice.status) == (
        1_990,
        378,
        2_368,
        "EUR",
        "open",
    )


async def test_recording_a_paid_payment_twice_sets_status_payment_and_paid_at_once(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ActivityEnvironment().run(billing.issue_invoice, issue())

    await run_twice(billing.record_payment, outcome(InvoiceStatus.PAID, "pay_1"))

    invoice = await stored_invoice(sessions)
    assert (invoice.status, invoice.payment_id, invoice.failure_reason) == ("paid", "pay_1", None)
    assert invoice.paid_at is not None and invoice.paid_at.replace(tzinfo=UTC) == PAID


async def test_a_failure_of_another_payment_leaves_a_paid_invoice_paid(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    environment = ActivityEnvironment()
    await environment.run(billing.issue_invoice, issue())
    await environment.run(billing.record_payment, outcome(InvoiceStatus.FAILED, "pay_1", "card_declined"))
    await environment.run(billing.record_payment, outcome(InvoiceStatus.PAID, "pay_2"))

    # The first attempt's failure, reported again late (a webhook after the retry's success).
    await environment.run(billing.record_payment, outcome(InvoiceStatus.FAILED, "pay_1", "card_declined"))

    invoice = await stored_invoice(sessions)
    assert (invoice.status, invoice.payment_id, invoice.failure_reason) == ("paid", "pay_2", None)


async def test_a_return_of_the_paying_payment_takes_the_invoice_back_to_failed(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    environment = ActivityEnvironment()
    await environment.run(billing.issue_invoice, issue())
    await environment.run(billing.record_payment, outcome(InvoiceStatus.PAID, "pay_1"))

    await environment.run(billing.record_payment, outcome(InvoiceStatus.FAILED, "pay_1", "returned: MD06"))

    invoice = await stored_invoice(sessions)
    assert (invoice.status, invoice.paid_at, invoice.failure_reason) == ("failed", None, "returned: MD06")


async def test_a_payment_for_an_invoice_not_in_the_store_is_a_non_retryable_error(billing: BillingActivities) -> None:
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(billing.record_payment, outcome(InvoiceStatus.PAID, "pay_1"))

    assert (refused.value.type, refused.value.non_retryable) == ("unknown_invoice", True)


async def test_booking_the_same_revenue_share_twice_keeps_one_ledger_row_in_the_booking_month(
    billing: BillingActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    booking = RevenueShareBooking(
        invoice_number="acme-crm-pro-0001",
        subscription_id="acme-crm-pro",
        isv_id="crm-isv",
        app_id="crm-pro",
        net_cents=1_990,
        share_percent=72.5,
        share_cents=revenue_share_cents(1_990, 72.5),
        booked_at=PAID,
    )

    await run_twice(billing.book_revenue_share, booking)

    async with sessions() as session:
        rows = (await session.scalars(select(models.RevenueShare))).all()
    assert [(row.month, row.net_cents, row.share_percent, row.share_cents) for row in rows] == [
        ("2026-04", 1_990, 72.5, 1_443)
    ]


async def test_charging_goes_through_the_gateway_once_per_idempotency_key(
    billing: BillingActivities, migrated_database: AsyncEngine
) -> None:
    request = charge_request("credit_card", "tok_insufficient_funds", key="acme-crm-pro-0001-attempt-1")

    first = await ActivityEnvironment().run(billing.charge, request)
    again = await ActivityEnvironment().run(billing.charge, request)

    assert (first.status, first.failure_reason) == (ChargeStatus.FAILED, "insufficient_funds")
    assert again == first
    assert await count(migrated_database, models.Payment) == 1
