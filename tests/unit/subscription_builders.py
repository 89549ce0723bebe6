"""Small builders for the subscription rule tests: a booked subscription, a paid contract, a driver for its timers.

`drive` plays the workflow's part with no I/O: it wakes at `next_deadline`, performs every `due_step` the way
`SubscriptionWorkflow` does, and charges invoices with outcomes the test chooses.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from domain.catalogue import MARKETPLACE
from domain.payments import Card, DirectDebit, PaymentMethod, PaymentMethodType, PhoneBill, TokenizedMethod
from domain.subscription import payments, rules
from domain.subscription.model import (
    BookedPlan,
    BookingRequest,
    ChargeResult,
    ChargeStatus,
    Customer,
    Invoice,
    PaymentEvent,
    PaymentEventType,
    SubscriptionState,
    SuspensionReason,
)
from domain.subscription.rules import Event, Step

BOOKED_AT = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)  # the trial ends on 31 Jan 2025, 09:00
SUB_ID = "sub-1"
OPERATOR = "op-olga"
SYSTEM = "system"
PRICE = 1_990  # 19.90 EUR a month
SHARE = 70.0
TELEKOM_NUMBER = "4711081500"

CARD = TokenizedMethod(type=PaymentMethodType.CREDIT_CARD, token="tok_visa", card=Card(brand="Visa", last4="4242"))
DIRECT_DEBIT = DirectDebit(
    type=PaymentMethodType.DIRECT_DEBIT,
    iban="DE89370400440532013000",
    mandate_reference="MANDATE-1",
    account_holder="Bäckerei Schmidt GmbH",
)
PHONE_BILL = PhoneBill(type=PaymentMethodType.PHONE_BILL)

Charger = Callable[[Invoice], ChargeStatus]


def days(n: float) -> timedelta:
    return timedelta(days=n)


def utc(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


def customer(telekom_customer_number: str | None = None) -> Customer:
    return Customer(
        id="baeckerei-schmidt",
        name="Bäckerei Schmidt GmbH",
        employees=12,
        telekom_customer_number=telekom_customer_number,
    )


def plan(term_months: int = 12, price: int = PRICE, share: float = SHARE) -> BookedPlan:
    return BookedPlan(
        app_id="acme-crm",
        app_name="Acme CRM",
        isv_id="acme",
        term_months=term_months,
        monthly_price_cents=price,
        revenue_share_percent=share,
        trial_days=MARKETPLACE.trial_days,
    )


def booked(
    term_months: int = 12,
    method: PaymentMethod | None = CARD,
    booked_at: datetime = BOOKED_AT,
    telekom_customer_number: str | None = None,
    channel_partner_id: str | None = None,
    price: int = PRICE,
) -> SubscriptionState:
    """A subscription just booked: trialing, trial ends `trial_days` after `booked_at`."""
    request = booking_request(term_months, method, telekom_customer_number, channel_partner_id)
    return rules.book(SUB_ID, request, plan(term_months, price), OPERATOR, booked_at)


def booking_request(
    term_months: int = 12,
    method: PaymentMethod | None = CARD,
    telekom_customer_number: str | None = None,
    channel_partner_id: str | None = None,
) -> BookingRequest:
    return BookingRequest(
        customer=customer(telekom_customer_number),
        app_id="acme-crm",
        term_months=term_months,
        payment_method=method,
        channel_partner_id=channel_partner_id,
    )


def active(
    term_months: int = 12,
    contract_start: datetime = BOOKED_AT + days(30),
    method: PaymentMethod | None = CARD,
    price: int = PRICE,
) -> SubscriptionState:
    """A paid contract that started at its trial's end, `contract_start`; its first period is due then."""
    state = booked(term_months, method, booked_at=contract_start - days(MARKETPLACE.trial_days), price=price)
    rules.start_contract(state, SYSTEM, state.trial_ends_at)
    return state


def succeed(_: Invoice) -> ChargeStatus:
    return ChargeStatus.SUCCEEDED


def fail(_: Invoice) -> ChargeStatus:
    return ChargeStatus.FAILED


def pending(_: Invoice) -> ChargeStatus:
    return ChargeStatus.PENDING


def result(status: ChargeStatus, payment_id: str = "pay-1", reason: str | None = None) -> ChargeResult:
    return ChargeResult(payment_id=payment_id, status=status, failure_reason=reason)


def charge(state: SubscriptionState, invoice: Invoice, status: ChargeStatus, now: datetime) -> payments.PaymentOutcome:
    """One payment attempt, as the workflow makes it."""
    invoice.attempts += 1
    reason = "card declined" if status == ChargeStatus.FAILED else None
    return payments.apply_charge_result(state, invoice, result(status, payments.charge_key(invoice), reason), now)


def event(
    kind: PaymentEventType,
    invoice: Invoice,
    at: datetime,
    event_id: str | None = None,
    reason: str | None = None,
) -> PaymentEvent:
    return PaymentEvent(
        event_id=event_id or f"evt-{kind.value}-{invoice.number}",
        type=kind,
        payment_id=f"pay-{invoice.number}",
        invoice_number=invoice.number,
        occurred_at=at,
        reason=reason,
    )


def perform(
    state: SubscriptionState, step: Step, now: datetime, charger: Charger = succeed, issued: list[Invoice] | None = None
) -> None:
    """Does what `SubscriptionProcess._do_due_steps` does for `step`, minus the side effects."""
    match step:
        case Step.TRIAL_ENDING_NOTICE:
            state.trial_ending_noticed = True
        case Step.TRIAL_END if state.payment_method is not None:
            rules.start_contract(state, SYSTEM, state.trial_ends_at)
        case Step.TRIAL_END:
            rules.transition(state, Event.TRIAL_ENDED_WITHOUT_METHOD, SYSTEM, state.trial_ends_at)
        case Step.INVOICE_PERIOD:
            invoice = rules.issue_period_invoice(state, now)
            if issued is not None:
                issued.append(invoice)
            if state.payment_method is not None:
                charge(state, invoice, charger(invoice), now)
        case Step.RENEW:
            rules.renew(state, now)
        case Step.END_CONTRACT:
            rules.transition(state, Event.CONTRACT_ENDED, SYSTEM, state.cancel_at or now, "cancelled at term end")
        case Step.DUNNING_RETRY:
            assert state.dunning is not None
            state.dunning.retries_done += 1
            for invoice in payments.to_collect(state):
                charge(state, invoice, charger(invoice), now)
        case Step.SUSPEND_FOR_NON_PAYMENT:
            rules.transition(state, Event.DUNNING_EXHAUSTED, SYSTEM, now, "dunning exhausted")
        case Step.REINSTATE_PAID_UP:
            rules.reinstate_after_payment(state, SYSTEM, now)
        case Step.TERMINATE:
            rules.transition(state, Event.SUSPEND_MODE_ENDED, SYSTEM, state.suspend_ends_at or now, "data deleted")


def drive(
    state: SubscriptionState,
    until: datetime,
    charger: Charger = succeed,
    start: datetime | None = None,
    issued: list[Invoice] | None = None,
) -> list[tuple[datetime, Step]]:
    """Wakes at each deadline up to and including `until` and performs what is due; returns the steps done.

    Period invoices issued on the way are appended to `issued` (the state keeps only the unpaid and the last).
    """
    now = start or max(entry.at for entry in state.history)
    done: list[tuple[datetime, Step]] = []
    for _ in range(10_000):
        step = rules.due_step(state, now)
        if step is None:
            deadline = rules.next_deadline(state)
            if deadline is None or deadline > until:
                return done
            now = max(now, deadline)
            continue
        done.append((now, step))
        perform(state, step, now, charger, issued)
    raise AssertionError(f"the subscription does not settle: {done[-5:]}")


def suspension_of(state: SubscriptionState) -> tuple[SuspensionReason | None, datetime | None, datetime | None]:
    """Reason, start and end of suspend mode (a function, so type narrowing from earlier asserts does not stick)."""
    return state.suspension_reason, state.suspended_at, state.suspend_ends_at


def steps_of(done: list[tuple[datetime, Step]]) -> list[Step]:
    return [step for _, step in done]


def paid_contract(term_months: int = 12, contract_start: datetime = BOOKED_AT + days(30)) -> SubscriptionState:
    """A paid contract whose first invoice is issued and paid at `contract_start`."""
    state = active(term_months, contract_start)
    drive(state, contract_start)
    return state


def in_dunning(term_months: int = 12, contract_start: datetime = BOOKED_AT + days(30)) -> SubscriptionState:
    """A paid contract whose first invoice failed at `contract_start`: dunning started then."""
    state = active(term_months, contract_start)
    drive(state, contract_start, charger=fail)
    return state


def suspended_for_non_payment(
    term_months: int = 12, contract_start: datetime = BOOKED_AT + days(30)
) -> SubscriptionState:
    """Dunning exhausted: the first invoice failed and both retries failed; suspended 7 days after the start."""
    state = in_dunning(term_months, contract_start)
    drive(state, contract_start + days(7), charger=fail)
    return state
