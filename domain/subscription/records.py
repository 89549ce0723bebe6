"""What a subscription tells its activities and other workflows, built from its state: pure data mapping."""

from datetime import datetime

from domain.partners.config import ContractKind
from domain.partners.model import SignalledContractEvent
from domain.payments import PaymentMethod, masked
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    Invoice,
    InvoiceIssue,
    InvoiceStatus,
    NotificationRecord,
    NotifiedRecord,
    PaymentRecord,
    RevenueShareBooking,
    Settlement,
    SubscriptionRecord,
    SubscriptionState,
)
from domain.subscription.payments import UNEXPLAINED_FAILURE, books_revenue, charge_key, revenue_share_of


def booking_stamp(state: SubscriptionState) -> str:
    """Tells this booking apart from an earlier one of the same customer and app."""
    return f"{state.booked_at:%Y%m%d%H%M}"


def invoice_issue(state: SubscriptionState, invoice: Invoice) -> InvoiceIssue:
    return InvoiceIssue(
        subscription_id=state.id,
        customer_id=state.customer.id,
        app_id=state.plan.app_id,
        isv_id=state.plan.isv_id,
        channel_partner_id=state.channel_partner_id,
        invoice=invoice,
        due_at=invoice.issued_at,
    )


def charge_request(state: SubscriptionState, invoice: Invoice, method: PaymentMethod) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=charge_key(invoice),
        subscription_id=state.id,
        invoice_number=invoice.number,
        amount_cents=invoice.amounts.gross_cents,
        currency=SUBSCRIPTIONS.currency,
        method=method,
        telekom_customer_number=state.customer.telekom_customer_number,
        description=f"{state.plan.app_name} {invoice.kind.value} {invoice.number}",
    )


def payment_record(invoice: Invoice, at: datetime) -> PaymentRecord:
    return PaymentRecord(
        invoice_number=invoice.number,
        payment_id=invoice.payment_id or "",
        status=invoice.status,
        at=at,
        failure_reason=invoice.failure_reason,
    )


def charge_outcome_record(invoice_number: str, result: ChargeResult, at: datetime) -> PaymentRecord | None:
    """What the store records of a charge's answer: the invoice's status, payment and failure reason as
    `payments.apply_charge_result` sets them. Nothing for a pending charge: its webhook brings the outcome."""
    match result.status:
        case ChargeStatus.SUCCEEDED:
            return PaymentRecord(
                invoice_number=invoice_number, payment_id=result.payment_id, status=InvoiceStatus.PAID, at=at
            )
        case ChargeStatus.FAILED:
            return PaymentRecord(
                invoice_number=invoice_number,
                payment_id=result.payment_id,
                status=InvoiceStatus.FAILED,
                at=at,
                failure_reason=result.failure_reason or UNEXPLAINED_FAILURE,
            )
        case _:
            return None


def settlement(
    state: SubscriptionState,
    invoice: Invoice,
    method: PaymentMethod | None,
    at: datetime,
    *,
    new: bool,
) -> Settlement:
    """A payment attempt on `invoice` (stored first when `new`); no charge without a payment method."""
    return Settlement(
        invoice_number=invoice.number,
        issue=invoice_issue(state, invoice) if new else None,
        charge=charge_request(state, invoice, method) if method is not None else None,
        revenue=revenue_booking(state, invoice, at) if method is not None and books_revenue(invoice) else None,
        at=at,
    )


def revenue_booking(state: SubscriptionState, invoice: Invoice, at: datetime) -> RevenueShareBooking:
    return RevenueShareBooking(
        invoice_number=invoice.number,
        subscription_id=state.id,
        isv_id=state.plan.isv_id,
        app_id=state.plan.app_id,
        net_cents=invoice.amounts.net_cents,
        share_percent=state.plan.revenue_share_percent,
        share_cents=revenue_share_of(state, invoice),
        booked_at=at,
    )


def subscription_record(state: SubscriptionState, at: datetime) -> SubscriptionRecord:
    return SubscriptionRecord(
        subscription_id=state.id,
        customer_id=state.customer.id,
        customer_name=state.customer.name,
        app_id=state.plan.app_id,
        isv_id=state.plan.isv_id,
        channel_partner_id=state.channel_partner_id,
        status=state.status,
        suspension_reason=state.suspension_reason,
        term_months=state.plan.term_months,
        booked_at=state.booked_at,
        contract_started_at=state.contract_started_at,
        cancel_requested_at=state.cancel_requested_at,
        cancel_at=state.cancel_at,
        terminated_at=state.terminated_at,
        updated_at=at,
    )


def notified_record(state: SubscriptionState, notice: NotificationRecord, at: datetime) -> NotifiedRecord:
    return NotifiedRecord(record=subscription_record(state, at), notice=notice)


def notification(
    state: SubscriptionState, key: str, kind: str, message: str, at: datetime, recipient: str | None = None
) -> NotificationRecord:
    """A notice about this booking, sent once per `key`; to the customer unless someone else is named."""
    return NotificationRecord(
        key=f"subscription:{state.id}:{booking_stamp(state)}:{key}",
        subject_ref=state.id,
        kind=kind,
        recipient=recipient or f"customer-{state.customer.id}",
        message=message,
        at=at,
    )


def trial_ending_notice(state: SubscriptionState, at: datetime) -> NotificationRecord:
    """Tells the customer the trial ends, and what follows: the paid contract, or suspend mode without a method."""
    ends = f"{state.trial_ends_at:%Y-%m-%d %H:%M} UTC"
    trial = f"the trial of {state.plan.app_name} (subscription {state.id}) ends on {ends}"
    if state.payment_method is None:
        message = f"{trial}; no payment method is on file: without one the subscription goes into suspend mode then"
    else:
        message = (
            f"{trial}; the paid {state.plan.term_months}-month contract then starts at "
            f"{state.plan.monthly_price_cents} cents a month net, paid by {masked(state.payment_method)}"
        )
    return notification(state, "trial-ending", "trial_ending", message, at)


def trial_ending_payload(state: SubscriptionState) -> dict[str, object]:
    """What the ISV's connector hears with `trial_will_end`: ids and dates, no personal data."""
    return {
        "trial_ends_at": state.trial_ends_at.isoformat(),
        "payment_method_on_file": state.payment_method is not None,
        "term_months": state.plan.term_months,
    }


def plan_changed_payload(state: SubscriptionState, change: str, effective_at: datetime) -> dict[str, object]:
    """What the ISV's connector hears with `plan_changed`, once the new plan applies: the plan, no personal data."""
    return {
        "change": change,
        "term_months": state.plan.term_months,
        "monthly_price_cents": state.plan.monthly_price_cents,
        "effective_at": effective_at.isoformat(),
    }


def partner_points_event(state: SubscriptionState) -> SignalledContractEvent:
    """The contract event a channel partner earns points for when the subscription it sold is first paid."""
    return SignalledContractEvent(
        reference_id=f"subscription-{state.id}-{booking_stamp(state)}",
        kind=ContractKind.MARKETPLACE_SUBSCRIPTION,
        quantity=1,
        monthly_value_cents=state.plan.monthly_price_cents,
        actor=f"subscription-{state.id}",
    )
