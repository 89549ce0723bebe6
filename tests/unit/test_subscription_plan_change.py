"""Plan changes (upgrade at once with proration, downgrade at the term's end), withdrawing a cancellation, and the
notice some days before the trial ends: the rules, with no I/O."""

import pytest

from domain.errors import CommandRefused
from domain.subscription import payments, plans, records, rules
from domain.subscription.model import (
    CancelCommand,
    ChangePlanCommand,
    Invoice,
    SubscriptionState,
    SubscriptionStatus,
    SuspensionReason,
    UncancelCommand,
)
from domain.subscription.plans import PlanChange, proration_cents
from domain.subscription.rules import Step

from .subscription_builders import OPERATOR, active, booked, days, drive, paid_contract, utc

MARCH_1 = utc(2025, 3, 1)  # a 1-month contract from here has a 31-day first period


def change(term_months: int, price: int) -> ChangePlanCommand:
    return ChangePlanCommand(actor=OPERATOR, term_months=term_months, monthly_price_cents=price)


def refusal_code(state: SubscriptionState, command: ChangePlanCommand) -> str:
    with pytest.raises(CommandRefused) as refused:
        plans.check_change_plan(state, command)
    return refused.value.code


# --- proration --------------------------------------------------------------------------------


def test_proration_charges_the_new_price_and_credits_the_old_for_the_unused_whole_days():
    start = utc(2025, 3, 1)
    # 21 of 31 days unused: credit 1990 x 21/31 = 1348.06 -> 1348, charge 1490 x 21/31 = 1009.35 -> 1009.
    assert proration_cents(1990, 1490, start, utc(2025, 4, 1), utc(2025, 3, 11)) == 1009 - 1348
    assert proration_cents(1490, 1990, start, utc(2025, 4, 1), utc(2025, 3, 11)) == 1348 - 1009


def test_proration_rounds_credit_and_charge_half_up_each_to_the_cent():
    start, end = utc(2025, 3, 1), utc(2025, 3, 9)  # 8 days; 1 unused: 100/8 = 12.5 -> 13, 300/8 = 37.5 -> 38
    assert proration_cents(0, 100, start, end, utc(2025, 3, 8)) == 13
    assert proration_cents(100, 0, start, end, utc(2025, 3, 8)) == -13
    assert proration_cents(100, 300, start, end, utc(2025, 3, 8)) == 38 - 13


def test_a_day_begun_counts_as_used_and_a_period_over_prorates_nothing():
    start, end = utc(2025, 3, 1), utc(2025, 3, 9)
    assert proration_cents(0, 800, start, end, start + days(2.5)) == 500  # 5 whole days left
    assert proration_cents(0, 800, start, end, start) == 800
    assert proration_cents(0, 800, start, end, end) == 0
    assert proration_cents(0, 800, start, end, end + days(3)) == 0


# --- what an upgrade and a downgrade are -------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "price", "kind"),
    [
        (24, 1490, PlanChange.UPGRADE),  # longer term, cheaper a month: still an upgrade
        (24, 2500, PlanChange.UPGRADE),
        (1, 1990, PlanChange.DOWNGRADE),
        (1, 2500, PlanChange.DOWNGRADE),  # shorter term, however priced
        (12, 2500, PlanChange.UPGRADE),  # same term, repriced dearer
        (12, 1000, PlanChange.DOWNGRADE),
        (12, 2000, None),
    ],
)
def test_the_term_decides_upgrade_or_downgrade_and_the_price_only_at_the_same_term(term, price, kind):
    assert plans.kind_of(active(12, price=2000).plan, change(term, price)) == kind


# --- upgrade ----------------------------------------------------------------------------------


def test_an_upgrade_applies_at_once_and_its_proration_is_on_the_next_invoice():
    state = active(1, MARCH_1, price=1990)
    drive(state, MARCH_1)  # the first period, 1 Mar - 1 Apr, invoiced at 19.90
    assert plans.apply_change_plan(state, change(12, 1490), utc(2025, 3, 11)) == PlanChange.UPGRADE

    assert (state.plan.term_months, state.plan.monthly_price_cents) == (12, 1490)
    assert state.pending_proration_cents == -339
    assert rules.current_term_end(state) == utc(2026, 3, 1), "the current term takes the new length from its start"
    issued: list[Invoice] = []
    drive(state, utc(2025, 5, 1), issued=issued)
    april, may = issued
    assert (april.proration_cents, april.amounts.net_cents, april.amounts.vat_cents) == (-339, 1151, 219)
    assert april.amounts.gross_cents == 1370
    assert (may.proration_cents, may.amounts.net_cents) == (0, 1490)
    assert state.pending_proration_cents == 0
    assert state.term_number == 1, "no renewal after the old 1-month term"


def test_a_credit_larger_than_the_next_invoice_waits_for_the_one_after():
    state = active(1, MARCH_1, price=5000)
    drive(state, MARCH_1)
    plans.apply_change_plan(state, change(12, 1000), MARCH_1)  # all 31 days: credit 5000, charge 1000
    issued: list[Invoice] = []
    drive(state, utc(2025, 5, 1), issued=issued)
    assert [(i.proration_cents, i.amounts.net_cents) for i in issued] == [(-1000, 0), (-1000, 0)]
    assert state.pending_proration_cents == -2000


def test_in_the_trial_any_change_applies_at_once_without_proration():
    state = booked(term_months=12)
    assert plans.apply_change_plan(state, change(1, 1990), state.booked_at + days(2)) == PlanChange.IN_TRIAL
    assert state.plan.term_months == 1
    assert state.pending_proration_cents == 0 and state.scheduled_plan_change is None
    drive(state, state.trial_ends_at)
    assert state.last_invoice is not None and state.last_invoice.amounts.net_cents == 1990


# --- downgrade --------------------------------------------------------------------------------


def test_a_downgrade_waits_for_the_term_end_and_the_next_term_has_the_new_length():
    state = paid_contract(12, MARCH_1)
    assert plans.apply_change_plan(state, change(1, 2490), utc(2025, 6, 1)) == PlanChange.DOWNGRADE
    assert state.scheduled_plan_change is not None
    assert state.scheduled_plan_change.effective_at == utc(2026, 3, 1)
    assert state.plan.term_months == 12

    drive(state, utc(2026, 3, 1))
    assert (state.plan.term_months, state.plan.monthly_price_cents) == (1, 2490)
    assert state.scheduled_plan_change is None
    assert (state.term_number, state.term_started_at) == (2, utc(2026, 3, 1))
    assert state.last_invoice is not None and state.last_invoice.amounts.net_cents == 2490
    assert rules.current_term_end(state) == utc(2026, 4, 1)
    drive(state, utc(2026, 4, 1))
    assert (state.term_number, state.term_started_at) == (3, utc(2026, 4, 1))


def test_changing_back_to_the_current_plan_withdraws_a_scheduled_downgrade():
    state = paid_contract(12, MARCH_1)
    plans.apply_change_plan(state, change(1, 2490), utc(2025, 6, 1))
    assert refusal_code(state, change(1, 2490)) == "plan_change_scheduled"
    back = change(12, state.plan.monthly_price_cents)
    plans.check_change_plan(state, back)
    assert plans.apply_change_plan(state, back, utc(2025, 6, 2)) == PlanChange.WITHDRAWN
    assert state.scheduled_plan_change is None


# --- refusals ---------------------------------------------------------------------------------


def test_the_same_plan_a_suspension_an_end_and_a_scheduled_cancellation_refuse_a_change():
    state = paid_contract(12, MARCH_1)
    assert refusal_code(state, change(12, state.plan.monthly_price_cents)) == "same_plan"
    rules.apply_cancel(state, CancelCommand(actor=OPERATOR), utc(2025, 4, 1))
    assert refusal_code(state, change(24, 1000)) == "cancellation_scheduled"
    suspended = booked(method=None)
    drive(suspended, suspended.trial_ends_at)
    assert refusal_code(suspended, change(1, 1990)) == "subscription_suspended"
    suspended.status = SubscriptionStatus.TERMINATED
    assert refusal_code(suspended, change(1, 1990)) == "subscription_ended"


# --- uncancel ---------------------------------------------------------------------------------


def test_a_cancellation_for_the_term_end_can_be_withdrawn_until_then_and_the_contract_renews():
    state = paid_contract(1, MARCH_1)
    rules.apply_cancel(state, CancelCommand(actor=OPERATOR), utc(2025, 3, 5))
    assert state.cancel_at == utc(2025, 4, 1)
    rules.check_uncancel(state, UncancelCommand(actor=OPERATOR), utc(2025, 3, 31))
    rules.apply_uncancel(state, UncancelCommand(actor=OPERATOR), utc(2025, 3, 31))
    assert state.cancel_at is None and state.history[-1].action == "uncancelled"
    drive(state, utc(2025, 4, 1))
    assert (state.status, state.term_number) == (SubscriptionStatus.ACTIVE, 2)


def test_a_cancellation_that_took_effect_or_none_at_all_cannot_be_withdrawn():
    def code(state: SubscriptionState, now) -> str:
        with pytest.raises(CommandRefused) as refused:
            rules.check_uncancel(state, UncancelCommand(actor=OPERATOR), now)
        return refused.value.code

    state = paid_contract(1, MARCH_1)
    assert code(state, utc(2025, 3, 5)) == "not_cancelled"
    rules.apply_cancel(state, CancelCommand(actor=OPERATOR), utc(2025, 3, 5))
    assert code(state, utc(2025, 4, 1)) == "cancellation_effective", "at the term's end it has taken effect"
    trial = booked()
    rules.apply_cancel(trial, CancelCommand(actor=OPERATOR), trial.booked_at + days(1))
    assert trial.suspension_reason == SuspensionReason.CANCELLED
    assert code(trial, trial.booked_at + days(2)) == "cancellation_effective"


# --- the trial's ending notice ------------------------------------------------------------------


def test_the_trial_ending_notice_is_due_3_days_before_the_trial_ends_once():
    state = booked()
    notice_at = state.trial_ends_at - days(3)
    assert rules.due_step(state, notice_at - days(0.001)) is None
    assert rules.due_step(state, notice_at) == Step.TRIAL_ENDING_NOTICE
    assert rules.due_step(state, notice_at, trial_notice=False) is None, "runs from before the notice keep quiet"
    state.trial_ending_noticed = True
    assert rules.due_step(state, notice_at) is None
    assert rules.due_step(state, state.trial_ends_at) == Step.TRIAL_END


def test_a_booking_with_less_trial_left_hears_at_once_and_one_whose_trial_ended_not_at_all():
    state = booked()
    assert rules.due_step(state, state.trial_ends_at - days(1)) == Step.TRIAL_ENDING_NOTICE
    assert rules.due_step(state, state.trial_ends_at) == Step.TRIAL_END


def test_the_notice_says_whether_a_payment_method_is_on_file():
    with_card = records.trial_ending_notice(booked(), utc(2025, 1, 28))
    assert with_card.kind == "trial_ending" and "Visa •••• 4242" in with_card.message
    without = records.trial_ending_notice(booked(method=None), utc(2025, 1, 28))
    assert "no payment method is on file" in without.message
    assert records.trial_ending_payload(booked(method=None))["payment_method_on_file"] is False


def test_the_isv_hears_the_plan_that_applies_and_nothing_personal():
    state = booked()
    at = utc(2025, 3, 10)
    payload = records.plan_changed_payload(state, "upgrade", at)
    assert payload == {
        "change": "upgrade",
        "term_months": state.plan.term_months,
        "monthly_price_cents": state.plan.monthly_price_cents,
        "effective_at": at.isoformat(),
    }
    assert state.customer.name not in str(payload)


# --- a proration the contract ended before a period invoice carried it -------------------------


def test_a_pending_charge_gets_an_invoice_of_its_own_when_the_contract_ends():
    state = booked()
    state.pending_proration_cents = 317
    ended = utc(2025, 4, 1)

    invoice = rules.settle_pending_proration(state, ended)

    assert invoice is not None
    assert (invoice.kind, invoice.amounts.net_cents, invoice.proration_cents) == ("proration", 317, 317)
    assert (invoice.issued_at, invoice.period_start) == (ended, None)
    assert state.pending_proration_cents == 0 and invoice in state.unpaid
    assert payments.books_revenue(invoice), "a proration is the app's revenue: the ISV earns its share"


def test_a_pending_credit_is_said_in_the_history_and_nothing_is_invoiced():
    state = booked()
    state.pending_proration_cents = -120

    assert rules.settle_pending_proration(state, utc(2025, 4, 1)) is None
    assert state.pending_proration_cents == 0 and state.unpaid == []
    assert (state.history[-1].action, state.history[-1].detail) == (
        "proration_credit_unused",
        "120 cents net: the contract ended first",
    )


def test_nothing_pending_settles_nothing():
    state = booked()
    history = list(state.history)
    assert rules.settle_pending_proration(state, utc(2025, 4, 1)) is None
    assert state.history == history and state.unpaid == []
