"""Subscription state, commands, reads, and what the subscription hands its activities."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from domain.catalogue import MARKETPLACE
from domain.ids import Slug
from domain.money import InvoiceAmounts
from domain.onboarding.model import Comment, Name
from domain.payments import PaymentMethod, PaymentMethodType, PaymentMethodView
from domain.subscription.config import SUBSCRIPTIONS

TelekomCustomerNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{6,12}$")]


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class SuspensionReason(StrEnum):
    NO_PAYMENT_METHOD = "no_payment_method"  # the trial ended without one
    CANCELLED = "cancelled"  # the contract ended by cancellation
    NON_PAYMENT = "non_payment"  # dunning ended without payment


class Customer(BaseModel):
    id: Slug
    name: Name
    # The eligibility rule below refuses larger businesses with its own message; the schema states the limit.
    employees: int = Field(ge=1, json_schema_extra={"maximum": SUBSCRIPTIONS.max_employees})
    telekom_customer_number: TelekomCustomerNumber | None = None

    @model_validator(mode="after")
    def _eligible(self) -> "Customer":
        if self.employees > SUBSCRIPTIONS.max_employees:
            raise ValueError(
                f"the marketplace serves businesses of up to {SUBSCRIPTIONS.max_employees} employees; "
                f"{self.employees} is over the limit"
            )
        return self


def check_method_fits_customer(method: PaymentMethod | None, customer: Customer) -> None:
    if method is not None and method.type == PaymentMethodType.PHONE_BILL and not customer.telekom_customer_number:
        raise ValueError("payment by phone bill needs the customer's Telekom customer number")


class BookingRequest(BaseModel):
    """What an operator gives to book an app for a customer."""

    customer: Customer
    app_id: Slug
    term_months: int = Field(json_schema_extra={"enum": list(MARKETPLACE.contract_terms_months)})
    payment_method: PaymentMethod | None = None
    channel_partner_id: Slug | None = None

    @field_validator("term_months")
    @classmethod
    def _term_is_offered(cls, term: int) -> int:
        if term not in MARKETPLACE.contract_terms_months:
            raise ValueError(f"term_months must be one of {list(MARKETPLACE.contract_terms_months)}")
        return term

    @field_validator("payment_method")
    @classmethod
    def _method_fits_customer(cls, method: PaymentMethod | None, info: ValidationInfo) -> PaymentMethod | None:
        customer = info.data.get("customer")  # absent when the customer itself was invalid
        if customer is not None:
            check_method_fits_customer(method, customer)
        return method


class BookedPlan(BaseModel):
    """The catalogue's terms at booking time; a contract keeps them for its life."""

    app_id: str
    app_name: str
    isv_id: str
    term_months: int
    monthly_price_cents: int
    revenue_share_percent: float
    trial_days: int


class InvoiceKind(StrEnum):
    PERIOD = "period"
    EXPORT_FEE = "export_fee"
    PRORATION = "proration"  # a plan change's proration the contract ended before a period invoice could carry


class InvoiceStatus(StrEnum):
    OPEN = "open"  # issued, payment under way
    PAID = "paid"
    FAILED = "failed"  # the last payment attempt failed; in dunning


class Invoice(BaseModel):
    number: str
    kind: InvoiceKind
    issued_at: datetime
    period_start: datetime | None = None
    period_end: datetime | None = None
    amounts: InvoiceAmounts
    # Of `amounts.net_cents`: a plan change's proration (a charge, or a credit below zero) billed with this period.
    proration_cents: int = 0
    status: InvoiceStatus = InvoiceStatus.OPEN
    payment_id: str | None = None
    attempts: int = 0
    last_attempt_at: datetime | None = None
    paid_at: datetime | None = None
    failure_reason: str | None = None


class Dunning(BaseModel):
    started_at: datetime
    retries_done: int = 0
    reminders_sent: int = 0


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: str | None = None


class ExportRecord(BaseModel):
    export_id: str
    requested_at: datetime
    requested_by: str
    fee_invoice: str
    file_name: str | None = None
    size_bytes: int | None = None


class ScheduledPlanChange(BaseModel):
    """A downgrade, which takes effect when the current term ends."""

    term_months: int
    monthly_price_cents: int
    effective_at: datetime


class SubscriptionState(BaseModel):
    id: str
    customer: Customer
    plan: BookedPlan
    channel_partner_id: str | None = None
    payment_method: PaymentMethod | None = None
    status: SubscriptionStatus = SubscriptionStatus.TRIALING
    suspension_reason: SuspensionReason | None = None
    booked_at: datetime
    trial_ends_at: datetime
    contract_started_at: datetime | None = None
    term_started_at: datetime | None = None
    term_number: int = 0
    # The contract's months before the current term, kept once a plan change made terms differ in length; None: the
    # earlier terms all had the plan's length.
    months_before_term: int | None = None
    period_index: int = 0  # the next billing period of the current term to invoice
    next_invoice_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    cancel_at: datetime | None = None
    suspended_at: datetime | None = None
    suspend_ends_at: datetime | None = None
    terminated_at: datetime | None = None
    invoice_seq: int = 0
    unpaid: list[Invoice] = Field(default_factory=list)  # invoices not (yet) paid
    invoices_issued: int = 0
    last_invoice: Invoice | None = None
    dunning: Dunning | None = None
    partner_points_signalled: bool = False
    trial_ending_noticed: bool = False
    scheduled_plan_change: ScheduledPlanChange | None = None
    # A plan change's proration not yet invoiced: billed (or credited, below zero) with the next period's invoice.
    pending_proration_cents: int = 0
    exports: list[ExportRecord] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    seen_payment_events: list[str] = Field(default_factory=list)


class SubscriptionInput(BaseModel):
    """SubscriptionWorkflow's input: a new booking (request, plan, actor) or a subscription carried over by
    continue-as-new (state)."""

    subscription_id: str
    actor: str
    request: BookingRequest | None = None
    plan: BookedPlan | None = None
    state: SubscriptionState | None = None
    # When the API accepted the booking: the initial state is computed from it, so the API can answer with that
    # state without waiting for a worker, and the workflow agrees. Absent in runs started before it existed.
    booked_at: datetime | None = None


# Commands (Updates); each carries the authenticated subject.


class SubscriptionCommand(BaseModel):
    actor: str


class CancelCommand(SubscriptionCommand):
    reason: Comment | None = None


class ChangePaymentMethodCommand(SubscriptionCommand):
    payment_method: PaymentMethod


class ExportRequestCommand(SubscriptionCommand):
    export_id: str


class ReinstateCommand(SubscriptionCommand):
    comment: Comment | None = None


class UncancelCommand(SubscriptionCommand):
    pass


class ChangePlanCommand(SubscriptionCommand):
    """The app's plan for `term_months`, at the catalogue's price when the change is asked for."""

    term_months: int
    monthly_price_cents: int


class PaymentEventType(StrEnum):
    SUCCEEDED = "payment.succeeded"
    FAILED = "payment.failed"
    RETURNED = "payment.returned"  # a SEPA return or chargeback after success


class PaymentEvent(BaseModel):
    """A payment provider's webhook, verified by the API and signalled to the subscription."""

    event_id: str
    type: PaymentEventType
    payment_id: str
    invoice_number: str
    occurred_at: datetime
    reason: str | None = None


# Reads.


class DunningView(BaseModel):
    started_at: datetime
    retries_done: int
    next_retry_at: datetime | None
    unpaid_invoices: list[str]


class SubscriptionView(BaseModel):
    id: str
    customer: Customer
    app_id: str
    isv_id: str
    channel_partner_id: str | None
    status: SubscriptionStatus
    suspension_reason: SuspensionReason | None
    term_months: int
    term_number: int
    monthly_price_cents: int
    payment_method: str | None  # masked: `direct_debit DE89…3000`, `Visa •••• 4242`, `paypal`
    # Absent from the answers of workers that predate it.
    payment_method_details: PaymentMethodView | None = None
    booked_at: datetime
    trial_ends_at: datetime
    contract_started_at: datetime | None
    current_term_start: datetime | None
    current_term_end: datetime | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    next_invoice_at: datetime | None
    cancel_at: datetime | None
    suspended_at: datetime | None
    suspend_ends_at: datetime | None
    terminated_at: datetime | None
    dunning: DunningView | None
    arrears_cents: int
    invoices_issued: int
    exports: list[ExportRecord]
    history: list[HistoryEntry]
    # Absent from the answers of workers that predate them.
    scheduled_plan_change: ScheduledPlanChange | None = None
    pending_proration_cents: int = 0


# What the subscription hands its activities.


class SubscriptionRecord(BaseModel):
    """The store's copy of a subscription, for reports (quality, churn) that outlive the workflow."""

    subscription_id: str
    customer_id: str
    customer_name: str
    app_id: str
    isv_id: str
    channel_partner_id: str | None
    status: SubscriptionStatus
    suspension_reason: SuspensionReason | None
    term_months: int
    booked_at: datetime
    contract_started_at: datetime | None
    cancel_requested_at: datetime | None
    cancel_at: datetime | None
    terminated_at: datetime | None
    updated_at: datetime


class InvoiceIssue(BaseModel):
    subscription_id: str
    customer_id: str
    app_id: str
    isv_id: str
    channel_partner_id: str | None
    invoice: Invoice
    due_at: datetime


class ChargeRequest(BaseModel):
    """One payment attempt; `idempotency_key` makes a retried activity charge once."""

    idempotency_key: str
    subscription_id: str
    invoice_number: str
    amount_cents: int
    currency: str
    method: PaymentMethod
    telekom_customer_number: str | None = None
    description: str


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # the outcome arrives later as a webhook


class ChargeResult(BaseModel):
    payment_id: str
    status: ChargeStatus
    failure_reason: str | None = None


class PaymentRecord(BaseModel):
    """The outcome of a payment for an invoice, written to the store."""

    invoice_number: str
    payment_id: str
    status: InvoiceStatus
    at: datetime
    failure_reason: str | None = None


class RevenueShareBooking(BaseModel):
    invoice_number: str
    subscription_id: str
    isv_id: str
    app_id: str
    net_cents: int
    share_percent: float
    share_cents: int
    booked_at: datetime


class Settlement(BaseModel):
    """One payment attempt on an invoice and what its answer leads to in the store, carried out by one activity.

    `issue` is a new invoice, stored first; `charge` is None when no payment method is on file (the invoice stays
    open); `revenue` is booked when the charge succeeds (None for invoices that earn the ISV nothing). `at` is the
    business time of the attempt: of the invoice's payment outcome and of the booking.
    """

    invoice_number: str
    issue: InvoiceIssue | None = None
    charge: ChargeRequest | None = None
    revenue: RevenueShareBooking | None = None
    at: datetime


class SettlementResult(BaseModel):
    """The gateway's answer, for the workflow to apply with `payments.apply_charge_result`; None: not charged."""

    charge: ChargeResult | None = None


class ConnectorAction(StrEnum):
    PROVISION = "provision"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    EXPORT = "export"
    DEPROVISION = "deprovision"
    TRIAL_WILL_END = "trial_will_end"  # a notice only: nothing for the ISV to change yet
    PLAN_CHANGED = "plan_changed"  # the plan the customer is entitled to changed (an upgrade, a downgrade's term)
    TEST = "test"


class ConnectorCall(BaseModel):
    """A call to the ISV's provisioning endpoint; `event_id` lets the ISV (and we) apply it once."""

    event_id: str
    app_id: str
    action: ConnectorAction
    subscription_id: str | None = None
    customer_id: str | None = None
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class ConnectorReply(BaseModel):
    status_code: int
    body: dict[str, Any] = Field(default_factory=dict)


class ExportJob(BaseModel):
    export_id: str
    subscription_id: str
    requested_at: datetime
    isv_export: dict[str, Any] = Field(default_factory=dict)


class ExportFile(BaseModel):
    export_id: str
    file_name: str
    size_bytes: int


class NotificationRecord(BaseModel):
    key: str
    subject_ref: str
    kind: str
    recipient: str
    message: str
    at: datetime


class NotifiedRecord(BaseModel):
    """A snapshot of the subscription and the notice about the change it records, written by one activity."""

    record: SubscriptionRecord
    notice: NotificationRecord


class RecordedCall(BaseModel):
    """A lifecycle step that changes the subscription and tells the ISV (provision, suspend, deprovision): its
    snapshot (with the notice about it, if any) and the ISV connector call, run by one activity."""

    record: SubscriptionRecord
    notice: NotificationRecord | None = None
    call: ConnectorCall
