"""Billing side effects: invoices, charges through the payment gateway, payment outcomes, the revenue ledger."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.payment_gateway import PaymentGateway
from domain.billing_calendar import month_key
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import (
    ChargeRequest,
    ChargeResult,
    InvoiceIssue,
    InvoiceStatus,
    PaymentRecord,
    RevenueShareBooking,
)
from store import models
from store.db import insert_once


class BillingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: PaymentGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=names.ISSUE_INVOICE)
    async def issue_invoice(self, issue: InvoiceIssue) -> None:
        """Stores the invoice once per number; a retry leaves the first copy (and any payment on it) alone."""
        invoice = issue.invoice
        row = models.InvoiceRow(
            number=invoice.number,
            subscription_id=issue.subscription_id,
            customer_id=issue.customer_id,
            app_id=issue.app_id,
            isv_id=issue.isv_id,
            channel_partner_id=issue.channel_partner_id,
            kind=invoice.kind.value,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            net_cents=invoice.amounts.net_cents,
            vat_cents=invoice.amounts.vat_cents,
            gross_cents=invoice.amounts.gross_cents,
            currency=SUBSCRIPTIONS.currency,
            status=invoice.status.value,
            issued_at=invoice.issued_at,
            due_at=issue.due_at,
            paid_at=invoice.paid_at,
            payment_id=invoice.payment_id,
            failure_reason=invoice.failure_reason,
        )
        await insert_once(self._sessions, row)

    @activity.defn(name=names.CHARGE)
    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """The gateway charges once per idempotency key, so a retried activity never charges twice."""
        return await self._gateway.charge(request)

    @activity.defn(name=names.RECORD_PAYMENT)
    async def record_payment(self, record: PaymentRecord) -> None:
        """Writes a payment outcome onto its invoice.

        An invoice that is not paid takes each record as it comes (open, failed, paid). A paid invoice keeps
        its payment and `paid_at`: only a `failed` record of that same payment (a SEPA return or a
        chargeback after success) takes it back to failed. Failures of other payments are stale news (an
        earlier attempt's late webhook) and change nothing. Recording the same outcome twice is a no-op.
        """
        async with self._sessions.begin() as session:
            invoice = await session.get(models.InvoiceRow, record.invoice_number)
            if invoice is None:
                raise ApplicationError(
                    f"invoice {record.invoice_number} is not in the store", type="unknown_invoice", non_retryable=True
                )
            if invoice.status == InvoiceStatus.PAID and not (
                record.status == InvoiceStatus.FAILED and record.payment_id == invoice.payment_id
            ):
                return
            invoice.status = record.status.value
            invoice.payment_id = record.payment_id
            invoice.paid_at = record.at if record.status == InvoiceStatus.PAID else None
            invoice.failure_reason = record.failure_reason if record.status == InvoiceStatus.FAILED else None

    @activity.defn(name=names.BOOK_REVENUE_SHARE)
    async def book_revenue_share(self, booking: RevenueShareBooking) -> None:
        """Books the ISV's share of a paid invoice once, in the month of `booked_at` (what payouts sum)."""
        row = models.RevenueShare(
            invoice_number=booking.invoice_number,
            subscription_id=booking.subscription_id,
            isv_id=booking.isv_id,
            app_id=booking.app_id,
            month=month_key(booking.booked_at),
            net_cents=booking.net_cents,
            share_percent=booking.share_percent,
            share_cents=booking.share_cents,
            booked_at=booking.booked_at,
        )
        await insert_once(self._sessions, row)
