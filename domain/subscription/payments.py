"""Payments of a subscription's invoices: charge results, webhooks, pending payments, dunning, revenue share.

A payment outcome changes the invoice and the dunning state; the workflow performs the side effects
(ledger, notifications) that the returned `PaymentOutcome` asks for.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from domain.money import revenue_share_cents
from domain.subscription.config import SUBSCRIPTIONS, SubscriptionConfig
from domain.subscription.history import note
from domain.subscription.model import (
    ChargeResult,
    ChargeStatus,
    Dunning,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentEvent,
    PaymentEventType,
    SubscriptionState,
    SubscriptionStatus,
)

UNEXPLAINED_FAILURE = "payment failed"  # the failure reason when the provider gives none


def next_retry_at(state: SubscriptionState, config: SubscriptionConfig = SUBSCRIPTIONS) -> datetime | None:
    dunning = state.dunning
    if dunning is None or dunning.retries_done >= len(config.dunning_retry_days):
        return None
    return dunning.started_at + timedelta(days=config.dunning_retry_days[dunning.retries_done])


def arrears_failed(state: SubscriptionState) -> bool:
    return any(invoice.status == InvoiceStatus.FAILED for invoice in state.unpaid)


def unsettled_by(invoice: Invoice, config: SubscriptionConfig = SUBSCRIPTIONS) -> datetime | None:
    """When a pending payment (charged, no outcome yet) stops waiting for its webhook."""
    if invoice.status != InvoiceStatus.OPEN or invoice.last_attempt_at is None:
        return None
    return invoice.last_attempt_at + timedelta(days=config.pending_payment_days)


def first_unsettled_by(state: SubscriptionState, config: SubscriptionConfig) -> datetime | None:
    moments = [moment for invoice in state.unpaid if (moment := unsettled_by(invoice, config)) is not None]
    return min(moments) if moments else None


def expire_unsettled(
    state: SubscriptionState, now: datetime, config: SubscriptionConfig = SUBSCRIPTIONS
) -> list[Invoice]:
    """Pending payments past their wait fail like a declined one (and start dunning in an active contract)."""
    expired = [invoice for invoice in state.unpaid if (moment := unsettled_by(invoice, config)) and now >= moment]
    for invoice in expired:
        _failed(state, invoice, now, f"no outcome from the payment provider within {config.pending_payment_days} days")
    return expired


def to_collect(state: SubscriptionState) -> list[Invoice]:
    """Unpaid invoices a new payment attempt is due for: failed ones, and ones never charged (no method then).

    An invoice whose payment is pending waits for the provider's webhook; charging it again could take the
    money twice.
    """
    return [
        invoice
        for invoice in state.unpaid
        if invoice.status == InvoiceStatus.FAILED or (invoice.status == InvoiceStatus.OPEN and invoice.attempts == 0)
    ]


def find_unpaid(state: SubscriptionState, invoice_number: str) -> Invoice | None:
    return next((invoice for invoice in state.unpaid if invoice.number == invoice_number), None)


def charge_key(invoice: Invoice) -> str:
    return f"{invoice.number}-attempt-{invoice.attempts}"


class PaymentOutcome(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    PENDING = "pending"
    IGNORED = "ignored"  # a repeat or an event for an invoice that is settled already


def apply_charge_result(
    state: SubscriptionState, invoice: Invoice, result: ChargeResult, now: datetime
) -> PaymentOutcome:
    invoice.payment_id = result.payment_id
    match result.status:
        case ChargeStatus.SUCCEEDED:
            return _paid(state, invoice, now)
        case ChargeStatus.FAILED:
            return _failed(state, invoice, now, result.failure_reason or UNEXPLAINED_FAILURE)
        case _:
            invoice.status = InvoiceStatus.OPEN  # waiting for the provider's webhook, not a failure
            return PaymentOutcome.PENDING


def apply_payment_event(
    state: SubscriptionState, event: PaymentEvent, now: datetime
) -> tuple[PaymentOutcome, Invoice | None]:
    """A webhook's outcome: idempotent by event id, and by the invoice's state."""
    if event.event_id in state.seen_payment_events:
        return PaymentOutcome.IGNORED, None
    state.seen_payment_events = [*state.seen_payment_events[-199:], event.event_id]
    invoice = find_unpaid(state, event.invoice_number)
    if event.type == PaymentEventType.RETURNED:
        paid = state.last_invoice
        if invoice is not None or paid is None or paid.number != event.invoice_number:
            return PaymentOutcome.IGNORED, None
        returned = paid.model_copy(update={"paid_at": None})
        state.unpaid.append(returned)
        return _failed(state, returned, now, event.reason or "payment returned"), returned
    if invoice is None:
        return PaymentOutcome.IGNORED, None
    invoice.payment_id = event.payment_id
    if event.type == PaymentEventType.SUCCEEDED:
        return _paid(state, invoice, now), invoice
    return _failed(state, invoice, now, event.reason or UNEXPLAINED_FAILURE), invoice


def _paid(state: SubscriptionState, invoice: Invoice, now: datetime) -> PaymentOutcome:
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = now
    invoice.failure_reason = None
    state.unpaid = [other for other in state.unpaid if other.number != invoice.number]
    if state.last_invoice is not None and state.last_invoice.number == invoice.number:
        state.last_invoice = invoice
    if not state.unpaid and state.dunning is not None:
        state.dunning = None
        note(state, "system", "dunning_cleared", now, "all invoices paid")
    return PaymentOutcome.PAID


def _failed(state: SubscriptionState, invoice: Invoice, now: datetime, reason: str) -> PaymentOutcome:
    invoice.status = InvoiceStatus.FAILED
    invoice.failure_reason = reason
    if state.status == SubscriptionStatus.ACTIVE and state.dunning is None:
        state.dunning = Dunning(started_at=now)
        note(state, "system", "dunning_started", now, f"invoice {invoice.number}: {reason}")
    return PaymentOutcome.FAILED


def revenue_share_of(state: SubscriptionState, invoice: Invoice) -> int:
    return revenue_share_cents(invoice.amounts.net_cents, state.plan.revenue_share_percent)


def books_revenue(invoice: Invoice) -> bool:
    """The ISV earns its share on the app's own invoices (a period's, a proration's), not on the marketplace's export
    fee."""
    return invoice.kind in (InvoiceKind.PERIOD, InvoiceKind.PRORATION)
