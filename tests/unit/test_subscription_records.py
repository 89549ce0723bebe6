"""What a subscription hands its activities and the partner programme, built from its state."""

from domain.partners.config import ContractKind
from domain.subscription import records, rules
from domain.subscription.model import InvoiceStatus

from .subscription_builders import BOOKED_AT, CARD, PRICE, SUB_ID, TELEKOM_NUMBER, active, booked, days


def test_a_charge_asks_for_the_gross_amount_in_euro_once_per_attempt():
    state = active()
    invoice = rules.issue_period_invoice(state, BOOKED_AT + days(30))
    invoice.attempts = 2
    request = records.charge_request(state, invoice, CARD)
    assert (request.amount_cents, request.currency) == (invoice.amounts.gross_cents, "EUR")
    assert request.amount_cents == 2_368
    assert request.idempotency_key == f"{invoice.number}-attempt-2"
    assert request.invoice_number == invoice.number and request.subscription_id == SUB_ID


def test_the_charge_carries_the_telekom_number_for_the_phone_bill():
    state = booked(telekom_customer_number=TELEKOM_NUMBER)
    invoice = rules.issue_period_invoice(active(), BOOKED_AT + days(30))
    assert records.charge_request(state, invoice, CARD).telekom_customer_number == TELEKOM_NUMBER


def test_a_revenue_booking_is_the_negotiated_share_of_the_net_amount():
    state = active()
    invoice = rules.issue_period_invoice(state, BOOKED_AT + days(30))
    booking = records.revenue_booking(state, invoice, BOOKED_AT + days(31))
    assert (booking.net_cents, booking.share_percent, booking.share_cents) == (PRICE, 70.0, 1_393)


def test_a_payment_record_carries_the_invoice_outcome():
    state = active()
    invoice = rules.issue_period_invoice(state, BOOKED_AT + days(30))
    invoice.status, invoice.failure_reason = InvoiceStatus.FAILED, "card declined"
    record = records.payment_record(invoice, BOOKED_AT + days(30))
    assert (record.status, record.failure_reason, record.payment_id) == (InvoiceStatus.FAILED, "card declined", "")


def test_notices_go_to_the_customer_once_per_key_and_booking():
    state = active()
    notice = records.notification(state, "suspended-1", "suspended", "in suspend mode", BOOKED_AT)
    assert notice.recipient == f"customer-{state.customer.id}"
    assert notice.key == f"subscription:{SUB_ID}:202501010900:suspended-1"
    assert records.notification(state, "x", "k", "m", BOOKED_AT, recipient="acme").recipient == "acme"


def test_the_partner_earns_points_for_a_marketplace_subscription_once_per_booking():
    state = active()
    event = records.partner_points_event(state)
    assert event.kind == ContractKind.MARKETPLACE_SUBSCRIPTION
    assert (event.quantity, event.monthly_value_cents) == (1, PRICE)
    assert event.reference_id == f"subscription-{SUB_ID}-202501010900"
    assert event.actor == f"subscription-{SUB_ID}"


def test_the_store_record_mirrors_the_subscription():
    state = active()
    record = records.subscription_record(state, BOOKED_AT + days(31))
    assert (record.subscription_id, record.status, record.term_months) == (SUB_ID, state.status, 12)
    assert record.contract_started_at == state.contract_started_at
