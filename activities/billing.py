"""Billing side effects: invoices, charges through the payment gateway, payment outcomes, the revenue ledger."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.audit_trail import record_system_action, system_action
from activities.payment_gateway import InStoreGateway, PaymentGateway
from domain.audit import SystemAction
from domain.billing_calendar import month_key
from domain.ids import subscription_workflow_id
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    InvoiceIssue,
    InvoiceStatus,
    PaymentRecord,
    RevenueShareBooking,
    Settlement,
    SettlementResult,
)
from domain.subscription.records import charge_outcome_record
from store import audit, models
from store.db import insert_ignoring_conflict, insert_once


class BillingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: PaymentGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=names.SETTLE_INVOICE)
    async def settle_invoice(self, settlement: Settlement) -> SettlementResult:
        """One payment attempt on an invoice, and what its answer leads to in the store, in one activity:

        - a new invoice is stored once per number, with its `invoice.issued` audit entry;
        - the gateway charges once per idempotency key;
        - the outcome is written onto the invoice with its `payment recorded` audit entry and, for a successful
          charge, the ISV's revenue share is booked. A pending charge writes nothing: its webhook brings the outcome.

        With the embedded sandbox (an `InStoreGateway`) all of it is one store transaction, and the charge's webhook
        is posted after it commits. With a provider of its own (a network call, never inside a transaction) it is
        three: the invoice, the charge, the outcome. Either way the invoice is stored before any webhook about its
        charge can arrive, and every write is idempotent, so a retry after a crash anywhere in between issues,
        charges, records and books once; the gateway answers the retry with the first attempt's result, which the
        workflow applies.
        """
        charge = settlement.charge
        if isinstance(self._gateway, InStoreGateway) and charge is not None:
            async with self._sessions.begin() as session:
                recorded = await self._gateway.charge_in(session, charge)
                if settlement.issue is not None:  # stored with its outcome, in the same transaction as the charge
                    await _store_charged_invoice(session, settlement.issue, settlement, recorded.result)
                else:
                    await _record_outcome(session, settlement, recorded.result)
            await self._gateway.report(recorded)
            return SettlementResult(charge=recorded.result)
        if settlement.issue is not None:
            async with self._sessions.begin() as session:
                await _store_invoice(session, settlement.issue)
        if charge is None:
            return SettlementResult()
        result = await self._gateway.charge(charge)
        async with self._sessions.begin() as session:
            await _record_outcome(session, settlement, result)
        return SettlementResult(charge=result)

    @activity.defn(name=names.ISSUE_INVOICE)
    async def issue_invoice(self, issue: InvoiceIssue) -> None:
        """Stores the invoice once per number; a retry leaves the first copy (and any payment on it) alone."""
        await insert_once(self._sessions, models.InvoiceRow(**_invoice_values(issue)))
        # Recorded whether or not this attempt wrote the row: a retry after a crash between the two writes still
        # records the invoice, and the event key keeps it to one entry.
        await record_system_action(self._sessions, **_issued(issue))

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
            taken = await _take_payment_record(session, record)
        if taken is not None:
            await record_system_action(self._sessions, **taken.action())

    @activity.defn(name=names.BOOK_REVENUE_SHARE)
    async def book_revenue_share(self, booking: RevenueShareBooking) -> None:
        """Books the ISV's share of a paid invoice once, in the month of `booked_at` (what payouts sum)."""
        await insert_once(self._sessions, models.RevenueShare(**_booking_values(booking)))


async def _store_invoice(session: AsyncSession, issue: InvoiceIssue) -> None:
    """The invoice, unless stored before, and its audit entry (which the sequencer keeps once)."""
    await insert_ignoring_conflict(session, models.InvoiceRow, _invoice_values(issue))
    audit.enqueue_in(session, system_action(**_issued(issue)))


async def _store_charged_invoice(
    session: AsyncSession, issue: InvoiceIssue, settlement: Settlement, result: ChargeResult
) -> None:
    """A new invoice stored with its charge's outcome at once: what `_store_invoice` and then `_record_outcome`
    write (an open invoice takes any outcome), in fewer statements. A retry finds the row and the ledger entry of
    the first attempt, whose outcome is this same one (the gateway answers a repeated key with it), and leaves them
    be; its audit entries are dropped as repeats by their event keys."""
    values = _invoice_values(issue)
    record = charge_outcome_record(settlement.invoice_number, result, settlement.at)
    if record is not None:
        values |= _outcome_values(record)
    await insert_ignoring_conflict(session, models.InvoiceRow, values)
    entries = [system_action(**_issued(issue))]
    if record is not None:
        amounts = issue.invoice.amounts
        taken = _TakenRecord(record, False, amounts.gross_cents, SUBSCRIPTIONS.currency, issue.subscription_id)
        entries.append(system_action(**taken.action()))
    await audit.enqueue_all_in(session, entries)
    if record is None:
        return
    if settlement.revenue is not None and result.status == ChargeStatus.SUCCEEDED:
        await insert_ignoring_conflict(session, models.RevenueShare, _booking_values(settlement.revenue))


def _outcome_values(record: PaymentRecord) -> dict[str, Any]:
    """The columns a payment outcome sets on an invoice that is not paid."""
    return {
        "status": record.status.value,
        "payment_id": record.payment_id,
        "paid_at": record.at if record.status == InvoiceStatus.PAID else None,
        "failure_reason": record.failure_reason if record.status == InvoiceStatus.FAILED else None,
    }


async def _record_outcome(session: AsyncSession, settlement: Settlement, result: ChargeResult) -> None:
    """The charge's outcome on the invoice and in the audit log, and a successful charge's revenue share."""
    record = charge_outcome_record(settlement.invoice_number, result, settlement.at)
    if record is None:
        return
    taken = await _take_payment_record(session, record)
    if taken is not None:
        audit.enqueue_in(session, system_action(**taken.action()))
    if settlement.revenue is not None and result.status == ChargeStatus.SUCCEEDED:
        await insert_ignoring_conflict(session, models.RevenueShare, _booking_values(settlement.revenue))


def _invoice_values(issue: InvoiceIssue) -> dict[str, Any]:
    invoice = issue.invoice
    return {
        "number": invoice.number,
        "subscription_id": issue.subscription_id,
        "customer_id": issue.customer_id,
        "app_id": issue.app_id,
        "isv_id": issue.isv_id,
        "channel_partner_id": issue.channel_partner_id,
        "kind": invoice.kind.value,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "net_cents": invoice.amounts.net_cents,
        "vat_cents": invoice.amounts.vat_cents,
        "gross_cents": invoice.amounts.gross_cents,
        "proration_cents": invoice.proration_cents,
        "currency": SUBSCRIPTIONS.currency,
        "status": invoice.status.value,
        "issued_at": invoice.issued_at,
        "due_at": issue.due_at,
        "paid_at": invoice.paid_at,
        "payment_id": invoice.payment_id,
        "failure_reason": invoice.failure_reason,
    }


def _issued(issue: InvoiceIssue) -> dict[str, Any]:
    """The `invoice.issued` system action (the arguments of `record_system_action`)."""
    invoice, amounts = issue.invoice, issue.invoice.amounts
    return {
        "action": SystemAction.INVOICE_ISSUED,
        "target": subscription_workflow_id(issue.subscription_id),
        "at": invoice.issued_at,
        "detail": (
            f"invoice {invoice.number} ({invoice.kind.value}) for app {issue.app_id} of ISV {issue.isv_id}: "
            f"{amounts.gross_cents} cents gross = {amounts.net_cents} net + {amounts.vat_cents} VAT "
            f"{SUBSCRIPTIONS.currency}"
        ),
        "event_key": f"{SystemAction.INVOICE_ISSUED.value}:{invoice.number}",
    }


def _booking_values(booking: RevenueShareBooking) -> dict[str, Any]:
    return {
        "invoice_number": booking.invoice_number,
        "subscription_id": booking.subscription_id,
        "isv_id": booking.isv_id,
        "app_id": booking.app_id,
        "month": month_key(booking.booked_at),
        "net_cents": booking.net_cents,
        "share_percent": booking.share_percent,
        "share_cents": booking.share_cents,
        "booked_at": booking.booked_at,
    }


@dataclass(frozen=True)
class _TakenRecord:
    """A payment outcome the invoice took (or had taken from an earlier attempt of the same record)."""

    record: PaymentRecord
    returned: bool
    gross_cents: int
    currency: str
    subscription_id: str

    def action(self) -> dict[str, Any]:
        """The `payment recorded` system action (the arguments of `record_system_action`)."""
        # The failure reason is the provider's free text, which may name the payer: it stays out of the log.
        record = self.record
        return {
            "action": SystemAction.PAYMENT_RECORDED,
            "target": subscription_workflow_id(self.subscription_id),
            "at": record.at,
            "detail": (
                f"payment {record.payment_id or '(none)'} of invoice {record.invoice_number} "
                f"{_payment_outcome(record.status, self.returned)}: {self.gross_cents} cents gross {self.currency}"
            ),
            "event_key": (
                f"{SystemAction.PAYMENT_RECORDED.value}:{record.invoice_number}:{record.payment_id}:{record.status.value}"
            ),
        }


async def _take_payment_record(session: AsyncSession, record: PaymentRecord) -> _TakenRecord | None:
    """Writes `record` onto its invoice by the rules of `record_payment`; None when the invoice ignores it."""
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
        for column, value in _outcome_values(record).items():
            setattr(invoice, column, value)
        taken = True
    if not taken:
        return None
    return _TakenRecord(record, returned, invoice.gross_cents, invoice.currency, invoice.subscription_id)


def _payment_outcome(status: InvoiceStatus, returned: bool) -> str:
    """How the audit log words an outcome; a return is a failure of a payment that had succeeded."""
    if returned:
        return "returned"
    return {InvoiceStatus.PAID: "succeeded", InvoiceStatus.FAILED: "failed"}.get(status, "pending")
