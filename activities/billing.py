"""Billing side effects: invoices, charges through the payment gateway, payment outcomes, the revenue ledger."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.audit_trail import record_system_action
from activities.payment_gateway import PaymentGateway
from domain.audit import SystemAction
from domain.billing_calendar import month_key
from domain.ids import subscription_workflow_id
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
        # Recorded whether or not this attempt wrote the row: a retry after a crash between the two writes still
        # records the invoice, and the event key keeps it to one entry.
        amounts = invoice.amounts
        await record_system_action(
            self._sessions,
            SystemAction.INVOICE_ISSUED,
            target=subscription_workflow_id(issue.subscription_id),
            at=invoice.issued_at,
            detail=(
                f"invoice {invoice.number} ({invoice.kind.value}) for app {issue.app_id} of ISV {issue.isv_id}: "
                f"{amounts.gross_cents} cents gross = {amounts.net_cents} net + {amounts.vat_cents} VAT "
                f"{SUBSCRIPTIONS.currency}"
            ),
            event_key=f"{SystemAction.INVOICE_ISSUED.value}:{invoice.number}",
        )

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

        Each outcome the invoice takes is recorded in the audit log once per (invoice, payment, status); stale
        news the invoice ignores is not.
        """
        async with self._sessions.begin() as session:
            invoice = await session.get(models.InvoiceRow, record.invoice_number)
            if invoice is None:
                raise ApplicationError(
                    f"invoice {record.invoice_number} is not in the store", type="unknown_invoice", non_retryable=True
                )
            same_payment = record.payment_id == invoice.payment_id
            returned = invoice.status == InvoiceStatus.PAID and record.status == InvoiceStatus.FAILED and same_payment
            if invoice.status == InvoiceStatus.PAID and not returned:
                # Only this very outcome, written by an earlier attempt, is still to be recorded in the audit log.
                taken = record.status == InvoiceStatus.PAID and same_payment
            else:
                invoice.status = record.status.value
                invoice.payment_id = record.payment_id
                invoice.paid_at = record.at if record.status == InvoiceStatus.PAID else None
                invoice.failure_reason = record.failure_reason if record.status == InvoiceStatus.FAILED else None
                taken = True
            gross_cents, currency, subscription_id = invoice.gross_cents, invoice.currency, invoice.subscription_id
        if not taken:
            return
        # The failure reason is the provider's free text, which may name the payer: it stays out of the log.
        await record_system_action(
            self._sessions,
            SystemAction.PAYMENT_RECORDED,
            target=subscription_workflow_id(subscription_id),
            at=record.at,
            detail=(
                f"payment {record.payment_id or '(none)'} of invoice {record.invoice_number} "
                f"{_payment_outcome(record.status, returned)}: {gross_cents} cents gross {currency}"
            ),
            event_key=(
                f"{SystemAction.PAYMENT_RECORDED.value}:{record.invoice_number}:{record.payment_id}:{record.status.value}"
            ),
        )

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


def _payment_outcome(status: InvoiceStatus, returned: bool) -> str:
    """How the audit log words an outcome; a return is a failure of a payment that had succeeded."""
    if returned:
        return "returned"
    return {InvoiceStatus.PAID: "succeeded", InvoiceStatus.FAILED: "failed"}.get(status, "pending")
