"""Payments and dunning (docs/architecture.md): charge results, webhooks applied once, retries after 3 and 7 days,
suspension for non-payment, and reinstatement by paying the arrears."""

from datetime import datetime, timedelta

import pytest

from domain.subscription import payments, rules
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import (
    CancelCommand,
    ChargeStatus,
    Dunning,
    Invoice,
    InvoiceStatus,
    PaymentEventType,
    SubscriptionState,
    SubscriptionStatus,
    SuspensionReason,
)
from domain.subscription.payments import PaymentOutcome
from domain.subscription.rules import Step

from .subscription_builders import (
    DIRECT_DEBIT,
    OPERATOR,
    SYSTEM,
    active,
    charge,
    days,
    drive,
    event,
    fail,
    in_dunning,
    paid_contract,
    pending,
    perform,
    result,
    steps_of,
    suspended_for_non_payment,
    suspension_of,
    utc,
)

S = SubscriptionStatus
JUST_BEFORE = timedelta(microseconds=1)
START = utc(2025, 1, 31)  # the default contract start


def first_invoice(state: SubscriptionState) -> Invoice:
    return rules.issue_period_invoice(state, START)


# --- charge results ---------------------------------------------------------------------------


def test_a_successful_charge_pays_the_invoice():
    state = active()
    invoice = first_invoice(state)
    outcome = payments.apply_charge_result(state, invoice, result(ChargeStatus.SUCCEEDED, "pay-42"), START)
    assert outcome == PaymentOutcome.PAID
    assert (invoice.status, invoice.paid_at, invoice.payment_id) == (InvoiceStatus.PAID, START, "pay-42")
    assert state.unpaid == []
    assert state.last_invoice is not None and state.last_invoice.status == InvoiceStatus.PAID
    assert state.dunning is None


def test_a_failed_charge_leaves_the_invoice_unpaid_and_starts_dunning():
    state = active()
    invoice = first_invoice(state)
    outcome = payments.apply_charge_result(state, invoice, result(ChargeStatus.FAILED, "pay-1", "card declined"), START)
    assert outcome == PaymentOutcome.FAILED
    assert (invoice.status, invoice.failure_reason, invoice.paid_at) == (InvoiceStatus.FAILED, "card declined", None)
    assert state.unpaid == [invoice]
    assert state.dunning == Dunning(started_at=START)
    assert state.history[-1].action == "dunning_started"


def test_a_failed_charge_without_a_reason_says_the_payment_failed():
    state = active()
    invoice = first_invoice(state)
    payments.apply_charge_result(state, invoice, result(ChargeStatus.FAILED), START)
    assert invoice.failure_reason == "payment failed"


def test_a_pending_charge_waits_for_the_webhook_without_dunning():
    state = active()
    invoice = first_invoice(state)
    outcome = payments.apply_charge_result(state, invoice, result(ChargeStatus.PENDING, "pay-7"), START)
    assert outcome == PaymentOutcome.PENDING
    assert (invoice.status, invoice.payment_id) == (InvoiceStatus.OPEN, "pay-7")
    assert state.unpaid == [invoice] and state.dunning is None


def test_only_failed_and_never_charged_invoices_are_collected_again():
    state = active()
    failed, pending, never_charged = first_invoice(state), first_invoice(state), first_invoice(state)
    failed.attempts = 1
    payments.apply_charge_result(state, failed, result(ChargeStatus.FAILED, "pay-1"), START)
    pending.attempts = 1
    payments.apply_charge_result(state, pending, result(ChargeStatus.PENDING, "pay-2"), START)
    assert never_charged.attempts == 0
    assert [invoice.number for invoice in payments.to_collect(state)] == [failed.number, never_charged.number]


def test_a_pending_payment_is_not_charged_a_second_time():
    state = in_dunning()
    [invoice] = state.unpaid
    charge(state, invoice, ChargeStatus.PENDING, START + days(3))
    assert payments.to_collect(state) == [], "a pending payment waits for its webhook"


def test_a_payment_left_unsettled_for_5_days_fails_and_starts_dunning():
    state = active()
    invoice = first_invoice(state)
    invoice.attempts, invoice.last_attempt_at = 1, START
    payments.apply_charge_result(state, invoice, result(ChargeStatus.PENDING, "pay-9"), START)
    waiting_until = START + days(SUBSCRIPTIONS.pending_payment_days)

    assert rules.next_deadline(state) == min(waiting_until, state.next_invoice_at or waiting_until)
    assert rules.due_step(state, waiting_until - timedelta(microseconds=1)) is None
    assert rules.due_step(state, waiting_until) == Step.PAYMENT_UNSETTLED

    assert payments.expire_unsettled(state, waiting_until) == [invoice]
    assert invoice.status == InvoiceStatus.FAILED
    assert invoice.failure_reason is not None and "no outcome" in invoice.failure_reason
    assert state.dunning is not None and state.dunning.started_at == waiting_until
    assert rules.due_step(state, waiting_until) is None


def test_an_invoice_never_charged_is_not_waiting_for_a_provider():
    state = active(method=None)
    invoice = first_invoice(state)
    assert (invoice.status, invoice.attempts) == (InvoiceStatus.OPEN, 0)
    assert payments.unsettled_by(invoice) is None
    assert rules.due_step(state, START + days(30)) != Step.PAYMENT_UNSETTLED


def test_a_pending_retry_of_a_failed_invoice_is_open_again_not_failed():
    state = in_dunning()
    [invoice] = state.unpaid
    charge(state, invoice, ChargeStatus.PENDING, START + days(3))
    assert invoice.status == InvoiceStatus.OPEN
    assert state.dunning is not None, "the dunning goes on until the invoice is paid"


def test_a_further_failure_does_not_restart_dunning():
    state = in_dunning()
    second = rules.issue_period_invoice(state, utc(2025, 2, 28))
    charge(state, second, ChargeStatus.FAILED, utc(2025, 2, 28))
    assert state.dunning is not None and state.dunning.started_at == START
    assert [entry.action for entry in state.history].count("dunning_started") == 1


def test_dunning_starts_only_for_an_active_contract():
    state = suspended_for_non_payment()
    state.dunning = None
    fee = rules.issue_export_fee_invoice(state, START + days(10))
    assert charge(state, fee, ChargeStatus.FAILED, START + days(10)) == PaymentOutcome.FAILED
    assert fee.status == InvoiceStatus.FAILED
    assert state.dunning is None


def test_dunning_is_cleared_once_every_invoice_is_paid():
    state = in_dunning()
    [first] = state.unpaid
    second = rules.issue_period_invoice(state, utc(2025, 2, 28))
    charge(state, second, ChargeStatus.FAILED, utc(2025, 2, 28))
    charge(state, first, ChargeStatus.SUCCEEDED, utc(2025, 3, 1))
    assert state.dunning is not None and state.unpaid == [second], "one invoice is still unpaid"
    charge(state, second, ChargeStatus.SUCCEEDED, utc(2025, 3, 2))
    assert state.dunning is None and state.unpaid == []
    assert (state.history[-1].action, state.history[-1].detail) == ("dunning_cleared", "all invoices paid")


def test_each_charge_attempt_has_its_own_idempotency_key():
    state = active()
    invoice = first_invoice(state)
    invoice.attempts = 1
    assert payments.charge_key(invoice) == f"{invoice.number}-attempt-1"
    invoice.attempts = 2
    assert payments.charge_key(invoice) == f"{invoice.number}-attempt-2"


# --- the dunning calendar ---------------------------------------------------------------------


def test_dunning_retries_after_3_and_7_days_by_default():
    assert SUBSCRIPTIONS.dunning_retry_days == (3, 7)


def test_the_next_retry_counts_from_the_first_failure():
    state = in_dunning()
    assert state.dunning is not None
    assert payments.next_retry_at(state) == START + days(3)
    state.dunning.retries_done = 1
    assert payments.next_retry_at(state) == START + days(7)
    state.dunning.retries_done = 2
    assert payments.next_retry_at(state) is None
    state.dunning = None
    assert payments.next_retry_at(state) is None


def test_a_failed_payment_is_retried_after_3_and_7_days_then_suspended():
    state = in_dunning()
    assert rules.due_step(state, START + days(3) - JUST_BEFORE) is None
    assert rules.due_step(state, START + days(3)) == Step.DUNNING_RETRY
    perform(state, Step.DUNNING_RETRY, START + days(3), fail)

    assert rules.due_step(state, START + days(3)) is None
    assert rules.due_step(state, START + days(7) - JUST_BEFORE) is None
    assert rules.due_step(state, START + days(7)) == Step.DUNNING_RETRY
    perform(state, Step.DUNNING_RETRY, START + days(7), fail)

    assert rules.due_step(state, START + days(7)) == Step.SUSPEND_FOR_NON_PAYMENT
    perform(state, Step.SUSPEND_FOR_NON_PAYMENT, START + days(7))
    assert state.status == S.SUSPENDED
    assert state.suspension_reason == SuspensionReason.NON_PAYMENT
    assert state.suspended_at == START + days(7)
    assert state.suspend_ends_at == START + days(37)
    [invoice] = state.unpaid
    assert invoice.attempts == 3


def test_suspension_for_non_payment_waits_for_the_last_retry():
    state = in_dunning()
    assert state.dunning is not None
    state.dunning.retries_done = 1
    assert rules.due_step(state, START + days(6)) is None, "one retry is left"


def test_suspension_for_non_payment_follows_only_a_failed_last_retry():
    state = in_dunning()
    drive(state, START + days(3), charger=fail)
    done = drive(state, START + days(20), charger=pending)
    assert steps_of(done) == [Step.DUNNING_RETRY]
    assert state.status == S.ACTIVE, "the last retry is still pending"
    assert rules.due_step(state, START + days(20)) is None
    assert rules.next_deadline(state) == state.next_invoice_at == utc(2025, 2, 28)

    [invoice] = state.unpaid
    payments.apply_payment_event(state, event(PaymentEventType.FAILED, invoice, START + days(21)), START + days(21))
    assert rules.due_step(state, START + days(21)) == Step.SUSPEND_FOR_NON_PAYMENT


def test_a_successful_retry_ends_dunning_and_the_contract_goes_on():
    state = in_dunning()
    done = drive(state, utc(2025, 2, 28))
    assert steps_of(done) == [Step.DUNNING_RETRY, Step.INVOICE_PERIOD]
    assert state.status == S.ACTIVE and state.dunning is None and state.unpaid == []


def test_a_dunning_whose_invoices_were_paid_schedules_no_retry():
    state = paid_contract()
    state.dunning = Dunning(started_at=START, retries_done=2)
    assert rules.due_step(state, START + days(7)) is None
    state.dunning = Dunning(started_at=START)
    assert rules.due_step(state, START + days(3)) is None


def test_an_invoice_falling_due_during_dunning_is_still_issued():
    state = in_dunning()
    assert state.dunning is not None
    state.dunning.retries_done = 1
    state.next_invoice_at = START + days(5)
    assert rules.due_step(state, START + days(5)) == Step.INVOICE_PERIOD


# --- webhooks ---------------------------------------------------------------------------------


def test_a_succeeded_webhook_pays_a_pending_invoice():
    state = active()
    drive(state, START, charger=pending)
    [invoice] = state.unpaid
    outcome, applied = payments.apply_payment_event(state, event(PaymentEventType.SUCCEEDED, invoice, START), START)
    assert (outcome, applied) == (PaymentOutcome.PAID, invoice)
    assert (invoice.status, invoice.payment_id, invoice.paid_at) == (InvoiceStatus.PAID, f"pay-{invoice.number}", START)
    assert state.unpaid == []


def test_a_failed_webhook_fails_a_pending_invoice_and_starts_dunning():
    state = active()
    drive(state, START, charger=pending)
    [invoice] = state.unpaid
    at = START + days(1)
    outcome, applied = payments.apply_payment_event(
        state, event(PaymentEventType.FAILED, invoice, at, reason="insufficient funds"), at
    )
    assert (outcome, applied) == (PaymentOutcome.FAILED, invoice)
    assert (invoice.status, invoice.failure_reason) == (InvoiceStatus.FAILED, "insufficient funds")
    assert state.dunning == Dunning(started_at=at)


def test_a_webhook_event_is_applied_once():
    state = active()
    drive(state, START, charger=pending)
    [invoice] = state.unpaid
    failed = event(PaymentEventType.FAILED, invoice, START, event_id="evt-1")
    assert payments.apply_payment_event(state, failed, START)[0] == PaymentOutcome.FAILED
    payments.apply_charge_result(state, invoice, result(ChargeStatus.PENDING), START + days(1))
    assert payments.apply_payment_event(state, failed, START + days(1)) == (PaymentOutcome.IGNORED, None)
    assert invoice.status == InvoiceStatus.OPEN, "the replay changed nothing"
    assert state.seen_payment_events == ["evt-1"]


def test_a_second_event_for_a_paid_invoice_is_ignored():
    state = active()
    drive(state, START, charger=pending)
    [invoice] = state.unpaid
    payments.apply_payment_event(state, event(PaymentEventType.SUCCEEDED, invoice, START, event_id="evt-1"), START)
    late_failure = event(PaymentEventType.FAILED, invoice, START, event_id="evt-2")
    assert payments.apply_payment_event(state, late_failure, START) == (PaymentOutcome.IGNORED, None)
    assert invoice.status == InvoiceStatus.PAID and state.dunning is None


@pytest.mark.parametrize("kind", list(PaymentEventType))
def test_an_event_for_an_unknown_invoice_is_ignored(kind):
    state = active()
    drive(state, START, charger=pending)
    [invoice] = state.unpaid
    stranger = event(kind, invoice.model_copy(update={"number": "other-0001"}), START)
    assert payments.apply_payment_event(state, stranger, START) == (PaymentOutcome.IGNORED, None)
    assert state.unpaid == [invoice] and invoice.status == InvoiceStatus.OPEN and state.dunning is None


def test_the_memory_of_seen_events_is_bounded():
    state = active()
    drive(state, START, charger=pending)
    [invoice] = state.unpaid
    for n in range(250):
        payments.apply_payment_event(state, event(PaymentEventType.FAILED, invoice, START, event_id=f"evt-{n}"), START)
    assert len(state.seen_payment_events) == 200
    assert state.seen_payment_events[-1] == "evt-249" and state.seen_payment_events[0] == "evt-50"


def test_a_returned_direct_debit_reopens_the_invoice_and_starts_dunning():
    state = active(method=DIRECT_DEBIT)
    drive(state, START)
    paid = state.last_invoice
    assert paid is not None and paid.status == InvoiceStatus.PAID and state.unpaid == []
    at = START + days(5)
    outcome, returned = payments.apply_payment_event(
        state, event(PaymentEventType.RETURNED, paid, at, reason="MD06 refund request"), at
    )
    assert outcome == PaymentOutcome.FAILED
    assert returned is not None and returned.number == paid.number
    assert (returned.status, returned.paid_at, returned.failure_reason) == (
        InvoiceStatus.FAILED,
        None,
        "MD06 refund request",
    )
    assert state.unpaid == [returned]
    assert state.dunning == Dunning(started_at=at)
    assert rules.view(state).arrears_cents == 2_368


def test_a_return_without_a_reason_says_the_payment_was_returned():
    state = paid_contract()
    assert state.last_invoice is not None
    _, returned = payments.apply_payment_event(
        state, event(PaymentEventType.RETURNED, state.last_invoice, START), START
    )
    assert returned is not None and returned.failure_reason == "payment returned"


def test_a_returned_invoice_that_is_paid_again_clears_the_dunning():
    state = paid_contract()
    assert state.last_invoice is not None
    _, returned = payments.apply_payment_event(
        state, event(PaymentEventType.RETURNED, state.last_invoice, START), START
    )
    assert returned is not None
    again = event(PaymentEventType.SUCCEEDED, returned, START + days(2), event_id="evt-paid-again")
    assert payments.apply_payment_event(state, again, START + days(2)) == (PaymentOutcome.PAID, returned)
    assert state.unpaid == [] and state.dunning is None
    assert state.last_invoice is returned and returned.status == InvoiceStatus.PAID


def test_only_the_last_paid_invoice_can_be_returned():
    state = paid_contract()
    drive(state, utc(2025, 2, 28))
    last = state.last_invoice
    assert last is not None and last.period_start == utc(2025, 2, 28) and last.number.endswith("-0002")
    earlier = last.model_copy(update={"number": last.number[:-4] + "0001"})
    assert payments.apply_payment_event(state, event(PaymentEventType.RETURNED, earlier, START), START) == (
        PaymentOutcome.IGNORED,
        None,
    )
    assert state.unpaid == [] and state.dunning is None


def test_a_return_of_an_invoice_that_is_still_unpaid_is_ignored():
    state = in_dunning()
    [invoice] = state.unpaid
    returned = event(PaymentEventType.RETURNED, invoice, START + days(1))
    assert payments.apply_payment_event(state, returned, START + days(1)) == (PaymentOutcome.IGNORED, None)
    assert state.unpaid == [invoice]


def test_a_return_before_any_invoice_is_ignored():
    state = active()
    invoice = rules.issue_period_invoice(active(), START)
    assert payments.apply_payment_event(state, event(PaymentEventType.RETURNED, invoice, START), START) == (
        PaymentOutcome.IGNORED,
        None,
    )


# --- reinstatement after paying the arrears ---------------------------------------------------


def pay_arrears(state: SubscriptionState, at: datetime) -> None:
    for invoice in list(state.unpaid):
        charge(state, invoice, ChargeStatus.SUCCEEDED, at)


def test_paying_the_arrears_in_suspend_mode_reinstates_the_contract():
    state = suspended_for_non_payment()
    pay_arrears(state, utc(2025, 2, 20))
    assert rules.due_step(state, utc(2025, 2, 20)) == Step.REINSTATE_PAID_UP
    rules.reinstate_after_payment(state, SYSTEM, utc(2025, 2, 20))
    assert state.status == S.ACTIVE
    assert suspension_of(state) == (None, None, None)
    assert state.dunning is None
    assert (state.period_index, state.next_invoice_at) == (1, utc(2025, 2, 28)), "the next period is billed as usual"
    entry = state.history[-1]
    assert (entry.actor, entry.action, entry.detail) == (SYSTEM, "reinstated", "arrears paid")


def test_periods_that_fell_in_the_suspension_are_not_billed():
    state = suspended_for_non_payment()  # since 7 Feb
    pay_arrears(state, utc(2025, 3, 5))
    rules.reinstate_after_payment(state, OPERATOR, utc(2025, 3, 5))
    assert state.period_index == 2, "the period from 28 Feb is skipped"
    assert state.next_invoice_at == utc(2025, 3, 31)
    done = drive(state, utc(2025, 3, 31))
    assert done == [(utc(2025, 3, 31), Step.INVOICE_PERIOD)]
    assert state.last_invoice is not None and state.last_invoice.period_start == utc(2025, 3, 31)
    assert state.invoices_issued == 2


def test_a_reinstatement_at_the_exact_start_of_a_period_bills_that_period_now():
    state = suspended_for_non_payment()
    pay_arrears(state, utc(2025, 2, 28))
    rules.reinstate_after_payment(state, SYSTEM, utc(2025, 2, 28))
    assert (state.period_index, state.next_invoice_at) == (1, utc(2025, 2, 28))
    assert rules.due_step(state, utc(2025, 2, 28)) == Step.INVOICE_PERIOD


def test_a_term_that_ended_in_suspend_mode_renews_and_its_skipped_periods_are_not_billed():
    state = suspended_for_non_payment(term_months=1)  # the 1-month term ended on 28 Feb, in suspend mode
    now = utc(2025, 3, 7)
    pay_arrears(state, now)
    rules.reinstate_after_payment(state, SYSTEM, now)
    assert state.status == S.ACTIVE
    assert (state.term_number, state.term_started_at) == (2, utc(2025, 2, 28))
    assert state.next_invoice_at == utc(2025, 3, 31), "not in the past, and not for the period from 28 Feb"
    assert rules.due_step(state, now) is None
    done = drive(state, utc(2025, 3, 31))
    assert steps_of(done) == [Step.RENEW, Step.INVOICE_PERIOD]
    assert state.last_invoice is not None
    assert (state.last_invoice.period_start, state.last_invoice.period_end) == (utc(2025, 3, 31), utc(2025, 4, 30))
    assert state.invoices_issued == 2


def test_a_cancelled_contract_whose_term_ended_in_suspend_mode_ends_at_once_on_reinstatement():
    state = in_dunning(term_months=1)
    rules.apply_cancel(state, CancelCommand(actor=OPERATOR), START + days(1))
    assert state.cancel_at == utc(2025, 2, 28)
    drive(state, START + days(7), charger=fail)
    assert state.suspension_reason == SuspensionReason.NON_PAYMENT
    now = utc(2025, 3, 5)
    pay_arrears(state, now)
    rules.reinstate_after_payment(state, SYSTEM, now)
    assert state.next_invoice_at == now
    assert rules.due_step(state, now) == Step.END_CONTRACT


def test_the_suspend_mode_timer_reinstates_by_itself_once_the_arrears_are_paid():
    state = suspended_for_non_payment()
    pay_arrears(state, utc(2025, 3, 5))
    done = drive(state, utc(2025, 3, 31), start=utc(2025, 3, 5))
    assert steps_of(done) == [Step.REINSTATE_PAID_UP, Step.INVOICE_PERIOD]
    assert state.status == S.ACTIVE and state.term_number == 1


def test_reinstatement_forgets_the_dunning_of_the_suspended_contract():
    state = suspended_for_non_payment()
    state.unpaid.clear()  # settled outside the gateway, say by bank transfer
    assert state.dunning is not None
    rules.reinstate_after_payment(state, OPERATOR, utc(2025, 2, 20))
    assert state.dunning is None
    assert payments.next_retry_at(state) is None
