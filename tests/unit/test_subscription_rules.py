"""The subscription's state machine and its timers: what is allowed, what is due, when to wake up."""

from datetime import timedelta
from itertools import product

import pytest

from domain.subscription import rules
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import SubscriptionStatus, SuspensionReason
from domain.subscription.rules import TRANSITIONS, Event, Step

from .subscription_builders import (
    BOOKED_AT,
    CARD,
    OPERATOR,
    SYSTEM,
    active,
    booked,
    booking_request,
    days,
    drive,
    fail,
    in_dunning,
    paid_contract,
    plan,
    steps_of,
    suspended_for_non_payment,
    suspension_of,
)

S = SubscriptionStatus
JUST_BEFORE = timedelta(microseconds=1)

ALLOWED = {
    (S.TRIALING, Event.TRIAL_ENDED_WITH_METHOD): S.ACTIVE,
    (S.TRIALING, Event.TRIAL_ENDED_WITHOUT_METHOD): S.SUSPENDED,
    (S.TRIALING, Event.CANCELLED_IN_TRIAL): S.SUSPENDED,
    (S.ACTIVE, Event.CONTRACT_ENDED): S.SUSPENDED,
    (S.ACTIVE, Event.DUNNING_EXHAUSTED): S.SUSPENDED,
    (S.SUSPENDED, Event.REINSTATED): S.ACTIVE,
    (S.SUSPENDED, Event.SUSPEND_MODE_ENDED): S.TERMINATED,
}
REFUSED = [pair for pair in product(S, Event) if pair not in ALLOWED]


# --- booking ----------------------------------------------------------------------------------


def test_a_booked_subscription_is_trialing_for_30_days():
    state = booked()
    assert state.status == S.TRIALING
    assert state.booked_at == BOOKED_AT
    assert state.trial_ends_at == BOOKED_AT + days(30)
    assert state.term_number == 0 and state.contract_started_at is None and state.next_invoice_at is None
    assert state.invoices_issued == 0 and state.unpaid == [] and state.dunning is None


def test_a_booking_keeps_the_customer_plan_method_and_partner_and_notes_who_booked():
    request = booking_request(24, channel_partner_id="telesales-nord")
    state = rules.book("sub-9", request, plan(24), OPERATOR, BOOKED_AT)
    assert state.id == "sub-9"
    assert state.plan == plan(24)
    assert state.payment_method == CARD
    assert state.channel_partner_id == "telesales-nord"
    assert state.customer.id == "baeckerei-schmidt"
    [entry] = state.history
    assert (entry.at, entry.actor, entry.action) == (BOOKED_AT, OPERATOR, "booked")
    assert entry.detail == "24-month term, trial until 2025-01-31"


# --- the transition table ---------------------------------------------------------------------


def test_the_transition_table_is_the_state_diagram_of_the_design():
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("status", "event"), list(ALLOWED))
def test_every_allowed_transition_moves_to_its_target_and_is_noted(status, event):
    state = booked()
    state.status = status
    now = BOOKED_AT + days(40)
    rules.transition(state, event, OPERATOR, now, "why")
    assert state.status == ALLOWED[(status, event)]
    assert (state.history[-1].at, state.history[-1].actor, state.history[-1].action) == (now, OPERATOR, event.value)
    assert state.history[-1].detail == "why"


@pytest.mark.parametrize(("status", "event"), REFUSED)
def test_every_other_transition_is_refused(status, event):
    state = booked()
    state.status = status
    history = list(state.history)
    with pytest.raises(AssertionError, match=f"no transition from {status} on {event}"):
        rules.transition(state, event, OPERATOR, BOOKED_AT)
    assert state.status == status
    assert state.history == history


def test_a_terminated_subscription_has_no_way_out():
    assert not [pair for pair in TRANSITIONS if pair[0] == S.TERMINATED]


# --- suspend mode -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "event", "reason"),
    [
        (S.TRIALING, Event.TRIAL_ENDED_WITHOUT_METHOD, SuspensionReason.NO_PAYMENT_METHOD),
        (S.TRIALING, Event.CANCELLED_IN_TRIAL, SuspensionReason.CANCELLED),
        (S.ACTIVE, Event.CONTRACT_ENDED, SuspensionReason.CANCELLED),
        (S.ACTIVE, Event.DUNNING_EXHAUSTED, SuspensionReason.NON_PAYMENT),
    ],
)
def test_suspend_mode_records_its_reason_and_lasts_30_days(status, event, reason):
    state = active()
    state.status = status
    now = BOOKED_AT + days(45)
    rules.transition(state, event, SYSTEM, now)
    assert state.status == S.SUSPENDED
    assert state.suspension_reason == reason
    assert state.suspended_at == now
    assert state.suspend_ends_at == now + days(30)
    assert state.next_invoice_at is None, "nothing is billed in suspend mode"


def test_the_suspend_mode_window_defaults_to_30_days():
    assert SUBSCRIPTIONS.suspend_days == 30
    assert SUBSCRIPTIONS.suspend_window == days(30)


def test_reinstatement_clears_the_suspension():
    state = suspended_for_non_payment()
    assert state.suspended_at is not None
    rules.transition(state, Event.REINSTATED, OPERATOR, state.suspended_at + days(3))
    assert state.status == S.ACTIVE
    assert suspension_of(state) == (None, None, None)


def test_the_end_of_suspend_mode_terminates_the_subscription_at_that_instant():
    state = suspended_for_non_payment()
    assert state.suspend_ends_at is not None
    rules.transition(state, Event.SUSPEND_MODE_ENDED, SYSTEM, state.suspend_ends_at)
    assert state.status == S.TERMINATED
    assert state.terminated_at == state.suspend_ends_at
    assert state.suspension_reason == SuspensionReason.NON_PAYMENT, "the reason stays on record"


# --- the trial's end --------------------------------------------------------------------------


@pytest.mark.parametrize("method", [CARD, None])
def test_the_trial_end_is_due_at_its_exact_instant_with_or_without_a_method(method):
    state = booked(method=method)
    state.trial_ending_noticed = True  # the notice some days before (test_subscription_plan_change.py)
    assert rules.due_step(state, state.trial_ends_at - JUST_BEFORE) is None
    assert rules.due_step(state, state.trial_ends_at) == Step.TRIAL_END
    assert rules.due_step(state, state.trial_ends_at + days(3)) == Step.TRIAL_END


def test_a_trial_with_a_payment_method_starts_the_paid_contract_at_its_end():
    state = booked()
    done = drive(state, state.trial_ends_at)
    assert steps_of(done) == [Step.TRIAL_ENDING_NOTICE, Step.TRIAL_END, Step.INVOICE_PERIOD]
    assert state.status == S.ACTIVE
    assert state.contract_started_at == state.term_started_at == state.trial_ends_at
    assert state.term_number == 1
    assert state.invoices_issued == 1


def test_a_trial_without_a_payment_method_ends_in_suspend_mode():
    state = booked(method=None)
    done = drive(state, state.trial_ends_at + days(1))
    assert steps_of(done) == [Step.TRIAL_ENDING_NOTICE, Step.TRIAL_END]
    assert state.status == S.SUSPENDED
    assert state.suspension_reason == SuspensionReason.NO_PAYMENT_METHOD
    assert state.suspended_at == state.trial_ends_at
    assert state.suspend_ends_at == state.trial_ends_at + days(30)
    assert state.contract_started_at is None and state.invoices_issued == 0


def test_a_trial_without_a_payment_method_ends_terminated_after_30_days_of_suspend_mode():
    state = booked(method=None)
    done = drive(state, state.trial_ends_at + days(60))
    assert steps_of(done) == [Step.TRIAL_ENDING_NOTICE, Step.TRIAL_END, Step.TERMINATE]
    assert state.status == S.TERMINATED
    assert state.terminated_at == state.trial_ends_at + days(30)


# --- suspend mode's timers --------------------------------------------------------------------


def test_suspend_mode_ends_exactly_when_its_window_does():
    state = booked(method=None)
    drive(state, state.trial_ends_at)
    assert state.suspend_ends_at is not None
    assert rules.due_step(state, state.suspend_ends_at - JUST_BEFORE) is None
    assert rules.due_step(state, state.suspend_ends_at) == Step.TERMINATE


def test_a_non_payment_suspension_is_lifted_as_soon_as_nothing_is_unpaid():
    state = suspended_for_non_payment()
    assert state.suspended_at is not None
    assert rules.due_step(state, state.suspended_at + days(1)) is None, "arrears still open"
    state.unpaid.clear()
    assert rules.due_step(state, state.suspended_at + days(1)) == Step.REINSTATE_PAID_UP
    assert rules.due_step(state, state.suspended_at + days(40)) == Step.REINSTATE_PAID_UP, "even past the window"


@pytest.mark.parametrize("reason", [SuspensionReason.CANCELLED, SuspensionReason.NO_PAYMENT_METHOD])
def test_other_suspensions_are_not_lifted_by_an_empty_ledger(reason):
    state = suspended_for_non_payment()
    state.suspension_reason = reason
    state.unpaid.clear()
    assert state.suspended_at is not None and state.suspend_ends_at is not None
    assert rules.due_step(state, state.suspended_at + days(1)) is None
    assert rules.due_step(state, state.suspend_ends_at) == Step.TERMINATE


def test_nothing_is_due_once_terminated():
    state = booked(method=None)
    drive(state, state.trial_ends_at + days(60))
    assert state.status == S.TERMINATED
    assert rules.due_step(state, state.trial_ends_at + days(1_000)) is None
    assert rules.next_deadline(state) is None


# --- when to wake up --------------------------------------------------------------------------


def test_a_trial_wakes_up_for_its_ending_notice_then_at_its_end():
    state = booked()
    assert rules.next_deadline(state) == state.trial_ends_at - days(3)
    state.trial_ending_noticed = True
    assert rules.next_deadline(state) == state.trial_ends_at


def test_an_active_contract_wakes_up_for_its_next_invoice():
    state = paid_contract()
    assert state.dunning is None
    assert rules.next_deadline(state) == state.next_invoice_at == BOOKED_AT + days(30 + 28)  # 28 Feb


def test_an_active_contract_in_dunning_wakes_up_for_the_earlier_of_retry_and_invoice():
    state = in_dunning()
    started = BOOKED_AT + days(30)
    assert rules.next_deadline(state) == started + days(3)
    state.next_invoice_at = started + days(2)
    assert rules.next_deadline(state) == started + days(2)


def test_an_active_contract_with_nothing_scheduled_has_no_deadline():
    state = active()
    state.next_invoice_at = None
    assert rules.next_deadline(state) is None


def test_suspend_mode_wakes_up_at_its_end():
    state = suspended_for_non_payment()
    assert rules.next_deadline(state) == state.suspend_ends_at == BOOKED_AT + days(30 + 7 + 30)


def test_a_failed_contract_wakes_up_at_each_step_of_dunning_and_then_in_suspend_mode():
    state = active()
    start = BOOKED_AT + days(30)
    done = drive(state, start + days(40), charger=fail)
    assert done == [
        (start, Step.INVOICE_PERIOD),
        (start + days(3), Step.DUNNING_RETRY),
        (start + days(7), Step.DUNNING_RETRY),
        (start + days(7), Step.SUSPEND_FOR_NON_PAYMENT),
        (start + days(37), Step.TERMINATE),
    ]
