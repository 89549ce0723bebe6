"""Contract and billing rules (docs/architecture.md): monthly periods on the contract's day, terms that renew unless
cancelled, continuous invoice numbers, VAT in cents, the export fee, the ISV's revenue share."""

from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from domain.subscription import payments, rules
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import (
    CancelCommand,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    SubscriptionState,
    SubscriptionStatus,
    SuspensionReason,
)
from domain.subscription.rules import Step

from .subscription_builders import (
    BOOKED_AT,
    OPERATOR,
    SUB_ID,
    SYSTEM,
    active,
    booked,
    days,
    drive,
    paid_contract,
    plan,
    steps_of,
    suspension_of,
    utc,
)

S = SubscriptionStatus
JUST_BEFORE = timedelta(microseconds=1)
JAN_31 = utc(2025, 1, 31)  # BOOKED_AT + 30 days: the default contract start
FIRST_YEAR = [
    utc(2025, 1, 31),
    utc(2025, 2, 28),
    utc(2025, 3, 31),
    utc(2025, 4, 30),
    utc(2025, 5, 31),
    utc(2025, 6, 30),
    utc(2025, 7, 31),
    utc(2025, 8, 31),
    utc(2025, 9, 30),
    utc(2025, 10, 31),
    utc(2025, 11, 30),
    utc(2025, 12, 31),
]


def run(state: SubscriptionState, until: datetime) -> list[Invoice]:
    """Drives `state` up to `until` with every payment succeeding; the period invoices issued on the way."""
    invoices: list[Invoice] = []
    drive(state, until, issued=invoices)
    return invoices


def starts(invoices: list[Invoice]) -> list[datetime | None]:
    return [invoice.period_start for invoice in invoices]


def number(n: int) -> str:
    return f"{SUB_ID}-202501010900-{n:04d}"


# --- the contract starts ----------------------------------------------------------------------


def test_the_paid_contract_starts_with_its_first_term_and_its_first_period_due_at_once():
    state = booked()
    rules.start_contract(state, SYSTEM, JAN_31)
    assert state.status == S.ACTIVE
    assert (state.contract_started_at, state.term_started_at, state.term_number) == (JAN_31, JAN_31, 1)
    assert state.period_index == 0
    assert state.next_invoice_at == JAN_31
    assert rules.due_step(state, JAN_31) == Step.INVOICE_PERIOD
    entry = state.history[-1]
    assert (entry.at, entry.actor, entry.action) == (JAN_31, SYSTEM, "trial_ended_with_method")
    assert entry.detail == "paid 12-month contract starts"


def test_a_contract_started_from_suspend_mode_is_a_reinstatement():
    state = booked(method=None)
    drive(state, JAN_31)
    assert state.suspension_reason == SuspensionReason.NO_PAYMENT_METHOD
    later = JAN_31 + days(10)
    rules.start_contract(state, OPERATOR, later)
    assert state.status == S.ACTIVE
    assert suspension_of(state) == (None, None, None)
    assert (state.contract_started_at, state.term_number, state.next_invoice_at) == (later, 1, later)
    assert state.history[-1].action == "reinstated"


# --- monthly periods on the contract's own day ------------------------------------------------


def test_a_period_invoice_covers_one_month_and_schedules_the_next():
    state = active()
    invoice = rules.issue_period_invoice(state, JAN_31)
    assert (invoice.kind, invoice.issued_at) == (InvoiceKind.PERIOD, JAN_31)
    assert (invoice.period_start, invoice.period_end) == (JAN_31, utc(2025, 2, 28))
    assert state.period_index == 1
    assert state.next_invoice_at == utc(2025, 2, 28)
    assert invoice.status == InvoiceStatus.OPEN
    assert state.unpaid == [invoice] and state.last_invoice == invoice


def test_the_billing_period_is_monthly_by_default():
    assert SUBSCRIPTIONS.billing_period_months == 1


def test_a_late_invoice_still_bills_its_scheduled_period():
    state = paid_contract()
    invoice = rules.issue_period_invoice(state, utc(2025, 3, 2))
    assert (invoice.period_start, invoice.period_end) == (utc(2025, 2, 28), utc(2025, 3, 31))
    assert invoice.issued_at == utc(2025, 3, 2)
    assert state.next_invoice_at == utc(2025, 3, 31)


def test_monthly_periods_of_a_contract_started_on_the_31st_keep_the_31st_after_short_months():
    state = active(12, JAN_31)
    invoices = run(state, utc(2025, 12, 31))
    assert starts(invoices) == FIRST_YEAR
    assert [invoice.period_end for invoice in invoices] == [*FIRST_YEAR[1:], utc(2026, 1, 31)]


def test_the_periods_of_a_term_follow_each_other_without_gap_or_overlap():
    invoices = run(active(24, JAN_31), utc(2027, 1, 30))
    assert len(invoices) == 24
    assert all(a.period_end == b.period_start for a, b in pairwise(invoices))


def test_a_contract_started_on_31_january_of_a_leap_year_is_billed_on_29_february():
    state = active(12, utc(2024, 1, 31))
    assert starts(run(state, utc(2024, 4, 30))) == [
        utc(2024, 1, 31),
        utc(2024, 2, 29),
        utc(2024, 3, 31),
        utc(2024, 4, 30),
    ]


def test_a_contract_started_on_29_february_is_billed_on_the_29th_and_on_28_february_in_common_years():
    state = active(12, utc(2024, 2, 29))
    invoices = run(state, utc(2025, 3, 29))
    assert starts(invoices)[:3] == [utc(2024, 2, 29), utc(2024, 3, 29), utc(2024, 4, 29)]
    assert starts(invoices)[-3:] == [utc(2025, 1, 29), utc(2025, 2, 28), utc(2025, 3, 29)]
    assert state.term_number == 2 and state.term_started_at == utc(2025, 2, 28)
    assert rules.current_term_end(state) == utc(2026, 2, 28)


@pytest.mark.parametrize(("index", "start"), list(enumerate([*FIRST_YEAR, utc(2026, 1, 31)])))
def test_billing_period_start_is_anchored_on_the_contract_day(index, start):
    assert rules.billing_period_start(active(12, JAN_31), index) == start


def test_an_invoice_is_due_at_the_exact_start_of_its_period():
    state = paid_contract()
    assert rules.due_step(state, utc(2025, 2, 28) - JUST_BEFORE) is None
    assert rules.due_step(state, utc(2025, 2, 28)) == Step.INVOICE_PERIOD


# --- terms and renewal ------------------------------------------------------------------------


def test_the_term_ends_after_its_months_on_the_contract_day():
    assert rules.current_term_end(booked()) is None, "no term during the trial"
    assert rules.current_term_end(active(1, JAN_31)) == utc(2025, 2, 28)
    assert rules.current_term_end(active(12, JAN_31)) == utc(2026, 1, 31)
    assert rules.current_term_end(active(24, JAN_31)) == utc(2027, 1, 31)
    assert rules.current_term_end(active(24, utc(2024, 2, 29))) == utc(2026, 2, 28)


def test_later_terms_end_on_the_contract_day_not_on_the_clamped_day_of_a_short_month():
    state = active(1, JAN_31)
    ends = []
    for term in range(1, 5):
        state.term_number = term
        ends.append(rules.current_term_end(state))
    assert ends == [utc(2025, 2, 28), utc(2025, 3, 31), utc(2025, 4, 30), utc(2025, 5, 31)]


def test_the_contract_renews_for_the_same_term_unless_cancelled():
    state = active(12, JAN_31)
    done = drive(state, utc(2026, 1, 31))
    assert steps_of(done) == [Step.INVOICE_PERIOD] * 12 + [Step.RENEW, Step.INVOICE_PERIOD]
    assert done[12] == (utc(2026, 1, 31), Step.RENEW)
    assert state.status == S.ACTIVE
    assert state.term_number == 2
    assert state.term_started_at == utc(2026, 1, 31)
    assert rules.current_term_end(state) == utc(2027, 1, 31)
    assert state.plan.term_months == 12


def test_the_term_end_is_due_at_its_exact_instant_as_renewal_or_as_the_end_of_a_cancelled_contract():
    state = active(12, JAN_31)
    drive(state, utc(2025, 12, 31))
    assert state.period_index == 12 and state.next_invoice_at == utc(2026, 1, 31)
    assert rules.due_step(state, utc(2026, 1, 31) - JUST_BEFORE) is None
    assert rules.due_step(state, utc(2026, 1, 31)) == Step.RENEW
    state.cancel_at = utc(2026, 1, 31)
    assert rules.due_step(state, utc(2026, 1, 31) - JUST_BEFORE) is None
    assert rules.due_step(state, utc(2026, 1, 31)) == Step.END_CONTRACT


def test_renewal_starts_the_next_term_at_the_end_of_the_last_one():
    state = active(12, JAN_31)
    drive(state, utc(2025, 12, 31))
    renewed_at = utc(2026, 1, 31, hour=10)
    rules.renew(state, renewed_at)
    assert state.term_started_at == utc(2026, 1, 31), "at the term end, not when the timer was served"
    assert (state.term_number, state.period_index, state.next_invoice_at) == (2, 0, utc(2026, 1, 31))
    entry = state.history[-1]
    assert (entry.at, entry.actor, entry.action, entry.detail) == (
        renewed_at,
        SYSTEM,
        "renewed",
        "term 2 from 2026-01-31",
    )


def test_a_one_month_contract_started_on_the_31st_renews_on_the_31st_whenever_the_month_has_one():
    state = active(1, JAN_31)
    invoices = run(state, utc(2025, 5, 31))
    assert starts(invoices) == [
        utc(2025, 1, 31),
        utc(2025, 2, 28),
        utc(2025, 3, 31),
        utc(2025, 4, 30),
        utc(2025, 5, 31),
    ]
    assert [invoice.period_end for invoice in invoices] == [
        utc(2025, 2, 28),
        utc(2025, 3, 31),
        utc(2025, 4, 30),
        utc(2025, 5, 31),
        utc(2025, 6, 30),
    ]
    assert state.term_number == 5 and state.term_started_at == utc(2025, 5, 31)


def test_a_24_month_term_bills_24_periods_before_it_renews():
    state = active(24, JAN_31)
    done = drive(state, utc(2027, 1, 31))
    assert steps_of(done) == [Step.INVOICE_PERIOD] * 24 + [Step.RENEW, Step.INVOICE_PERIOD]
    assert done[24] == (utc(2027, 1, 31), Step.RENEW)
    assert state.invoices_issued == 25


def test_cancellation_takes_effect_at_the_end_of_the_term():
    state = paid_contract(12, JAN_31)
    drive(state, JAN_31 + days(150))
    rules.apply_cancel(state, CancelCommand(actor=OPERATOR), JAN_31 + days(150))
    assert state.cancel_at == utc(2026, 1, 31)
    assert rules.view(state).status == S.ACTIVE, "the customer keeps the app until the term ends"

    done = drive(state, utc(2026, 2, 2))
    assert steps_of(done) == [Step.INVOICE_PERIOD] * 6 + [Step.END_CONTRACT]  # July to December
    assert state.status == S.SUSPENDED
    assert state.suspension_reason == SuspensionReason.CANCELLED
    assert state.suspended_at == utc(2026, 1, 31)
    assert state.suspend_ends_at == utc(2026, 3, 2)
    assert state.invoices_issued == 12 and state.term_number == 1


# --- invoice numbers and amounts --------------------------------------------------------------


def test_invoice_numbers_are_continuous_across_renewals():
    state = active(1, JAN_31)
    invoices = run(state, utc(2025, 12, 31))
    assert state.term_number == 12
    assert [invoice.number for invoice in invoices] == [number(n) for n in range(1, 13)]
    assert state.invoices_issued == state.invoice_seq == 12


def test_an_export_fee_invoice_takes_the_next_number_of_the_same_sequence():
    state = paid_contract()
    fee = rules.issue_export_fee_invoice(state, JAN_31 + days(3))
    assert fee.number == number(2)
    assert rules.issue_period_invoice(state, utc(2025, 2, 28)).number == number(3)


def test_a_period_invoice_of_19_90_eur_carries_19_percent_vat_in_cents():
    invoice = rules.issue_period_invoice(active(), JAN_31)
    assert invoice.amounts.model_dump() == {"net_cents": 1_990, "vat_cents": 378, "gross_cents": 2_368}
    assert SUBSCRIPTIONS.vat_percent == 19.0 and SUBSCRIPTIONS.currency == "EUR"


def test_a_period_invoice_bills_the_booked_monthly_price():
    invoice = rules.issue_period_invoice(active(price=4_999), JAN_31)
    assert invoice.amounts.model_dump() == {"net_cents": 4_999, "vat_cents": 950, "gross_cents": 5_949}


def test_the_export_fee_is_49_eur_net_plus_vat_and_bills_no_period():
    state = paid_contract()
    before = (state.period_index, state.next_invoice_at)
    fee = rules.issue_export_fee_invoice(state, JAN_31 + days(3))
    assert fee.amounts.model_dump() == {"net_cents": 4_900, "vat_cents": 931, "gross_cents": 5_831}
    assert (fee.kind, fee.issued_at, fee.period_start, fee.period_end) == (
        InvoiceKind.EXPORT_FEE,
        JAN_31 + days(3),
        None,
        None,
    )
    assert state.unpaid == [fee] and state.last_invoice == fee
    assert (state.period_index, state.next_invoice_at) == before, "the fee does not move the billing calendar"


# --- revenue share ----------------------------------------------------------------------------


def test_the_isv_earns_its_share_on_period_invoices_only():
    state = paid_contract()
    period = rules.issue_period_invoice(state, utc(2025, 2, 28))
    fee = rules.issue_export_fee_invoice(state, utc(2025, 3, 1))
    assert payments.books_revenue(period) is True
    assert payments.books_revenue(fee) is False


def test_the_revenue_share_is_the_negotiated_percent_of_net():
    state = active()
    invoice = rules.issue_period_invoice(state, JAN_31)
    assert payments.revenue_share_of(state, invoice) == 1_393  # 70 % of 19.90, not of the gross 23.68


def test_the_revenue_share_is_rounded_half_up_to_the_cent():
    state = active()
    state.plan = plan(share=12.5)
    invoice = rules.issue_period_invoice(state, JAN_31)
    assert payments.revenue_share_of(state, invoice) == 249  # 248.75
    state.plan = plan(share=0.0)
    assert payments.revenue_share_of(state, invoice) == 0


def test_the_booking_date_is_part_of_every_invoice_number():
    state = booked(booked_at=BOOKED_AT + days(1))
    rules.start_contract(state, SYSTEM, state.trial_ends_at)
    assert rules.issue_period_invoice(state, state.trial_ends_at).number == f"{SUB_ID}-202501020900-0001"
