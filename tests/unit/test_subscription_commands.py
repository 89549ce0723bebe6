"""Commands on a subscription (docs/architecture.md) and its read model: cancel, change the payment method, request an
export, reinstate; each refusal has its code."""

from collections.abc import Callable
from typing import Any

import pytest

from domain.errors import CommandRefused
from domain.subscription import rules
from domain.subscription.model import (
    CancelCommand,
    ChangePaymentMethodCommand,
    ChargeStatus,
    ExportRequestCommand,
    InvoiceStatus,
    ReinstateCommand,
    SubscriptionState,
    SubscriptionStatus,
    SuspensionReason,
)
from domain.subscription.rules import Event, Step

from .subscription_builders import (
    BOOKED_AT,
    CARD,
    DIRECT_DEBIT,
    OPERATOR,
    PHONE_BILL,
    SYSTEM,
    TELEKOM_NUMBER,
    active,
    booked,
    charge,
    days,
    drive,
    in_dunning,
    paid_contract,
    suspended_for_non_payment,
    utc,
)

S = SubscriptionStatus
START = utc(2025, 1, 31)


def refusal(check: Callable[[SubscriptionState, Any], None], state: SubscriptionState, command: Any) -> CommandRefused:
    with pytest.raises(CommandRefused) as excinfo:
        check(state, command)
    return excinfo.value


def cancel(reason: str | None = None) -> CancelCommand:
    return CancelCommand(actor=OPERATOR, reason=reason)


def terminated() -> SubscriptionState:
    state = booked(method=None)
    drive(state, BOOKED_AT + days(90))
    assert state.status == S.TERMINATED
    return state


def suspended_after_cancellation() -> SubscriptionState:
    state = booked()
    rules.apply_cancel(state, cancel(), BOOKED_AT + days(3))
    return state


def suspended_without_method() -> SubscriptionState:
    state = booked(method=None)
    drive(state, START)
    assert state.suspension_reason == SuspensionReason.NO_PAYMENT_METHOD
    return state


COMMANDS: list[tuple[Callable[[SubscriptionState, Any], None], Any]] = [
    (rules.check_cancel, cancel()),
    (rules.check_change_payment_method, ChangePaymentMethodCommand(actor=OPERATOR, payment_method=CARD)),
    (rules.check_export_request, ExportRequestCommand(actor=OPERATOR, export_id="exp-1")),
    (rules.check_reinstate, ReinstateCommand(actor=OPERATOR)),
]


# --- every command on an ended subscription ---------------------------------------------------


@pytest.mark.parametrize(("check", "command"), COMMANDS)
def test_every_command_is_refused_once_the_subscription_has_ended(check, command):
    refused = refusal(check, terminated(), command)
    assert refused.code == "subscription_ended"
    assert refused.details == {"status": S.TERMINATED}
    assert "has ended" in refused.message


# --- cancel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [booked, active, paid_contract, in_dunning])
def test_a_trial_or_a_running_contract_can_be_cancelled(build):
    rules.check_cancel(build(), cancel())


@pytest.mark.parametrize(
    "suspended", [suspended_for_non_payment, suspended_after_cancellation, suspended_without_method]
)
def test_cancelling_in_suspend_mode_is_refused_because_the_contract_has_ended(suspended):
    state = suspended()
    refused = refusal(rules.check_cancel, state, cancel())
    assert refused.code == "contract_ended"
    assert refused.details == {"status": S.SUSPENDED, "suspension_reason": state.suspension_reason}
    assert state.suspend_ends_at is not None and state.suspend_ends_at.isoformat() in refused.message


def test_a_second_cancellation_is_refused():
    state = paid_contract()
    rules.apply_cancel(state, cancel(), START + days(10))
    refused = refusal(rules.check_cancel, state, cancel())
    assert refused.code == "already_cancelled"
    assert refused.details == {"cancel_at": "2026-01-31T09:00:00+00:00"}


def test_cancelling_during_the_trial_ends_it_at_once_in_suspend_mode():
    state = booked()
    now = BOOKED_AT + days(3)
    rules.apply_cancel(state, cancel("too expensive"), now)
    assert state.status == S.SUSPENDED
    assert state.suspension_reason == SuspensionReason.CANCELLED
    assert (state.cancel_requested_at, state.suspended_at, state.suspend_ends_at) == (now, now, now + days(30))
    assert state.cancel_at is None and state.contract_started_at is None
    entry = state.history[-1]
    assert (entry.at, entry.actor, entry.action, entry.detail) == (now, OPERATOR, "cancelled_in_trial", "too expensive")
    assert rules.due_step(state, state.trial_ends_at) is None, "no contract starts after a cancelled trial"


def test_cancelling_a_running_contract_takes_effect_at_the_end_of_its_term():
    state = paid_contract(12)
    now = START + days(100)
    rules.apply_cancel(state, cancel("moving to another tool"), now)
    assert state.status == S.ACTIVE
    assert state.cancel_requested_at == now
    assert state.cancel_at == rules.current_term_end(state) == utc(2026, 1, 31)
    entry = state.history[-1]
    assert (entry.actor, entry.action) == (OPERATOR, "cancelled")
    assert entry.detail == "effective 2026-01-31 09:00:00+00:00: moving to another tool"


def test_cancelling_in_a_renewed_term_takes_effect_at_the_end_of_that_term():
    state = paid_contract(1)
    drive(state, utc(2025, 3, 31))
    assert state.term_number == 3
    rules.apply_cancel(state, cancel(), utc(2025, 4, 10))
    assert state.cancel_at == utc(2025, 4, 30)
    assert state.history[-1].detail == "effective 2025-04-30 09:00:00+00:00"
    drive(state, utc(2025, 5, 1))
    assert state.status == S.SUSPENDED and state.suspended_at == utc(2025, 4, 30)


# --- change the payment method ----------------------------------------------------------------


def change(method: Any) -> ChangePaymentMethodCommand:
    return ChangePaymentMethodCommand(actor=OPERATOR, payment_method=method)


def test_payment_by_phone_bill_needs_the_customers_telekom_number():
    refused = refusal(rules.check_change_payment_method, paid_contract(), change(PHONE_BILL))
    assert refused.code == "invalid_payment_method"
    assert refused.details == {"field": "type"}
    assert "Telekom customer number" in refused.message
    rules.check_change_payment_method(booked(telekom_customer_number=TELEKOM_NUMBER), change(PHONE_BILL))


@pytest.mark.parametrize("build", [booked, paid_contract, suspended_for_non_payment, suspended_without_method])
@pytest.mark.parametrize("method", [CARD, DIRECT_DEBIT], ids=["card", "direct_debit"])
def test_the_payment_method_can_be_changed_until_the_subscription_ends(build, method):
    rules.check_change_payment_method(build(), change(method))


def test_a_changed_payment_method_is_used_and_noted_masked():
    state = paid_contract()
    rules.apply_change_payment_method(state, change(DIRECT_DEBIT), START + days(2))
    assert state.payment_method == DIRECT_DEBIT
    entry = state.history[-1]
    assert (entry.at, entry.actor, entry.action) == (START + days(2), OPERATOR, "payment_method_changed")
    assert entry.detail == "direct_debit DE89…3000"


# --- export -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "status"), [(booked, "trialing"), (paid_contract, "active")])
def test_an_export_is_refused_outside_suspend_mode(build, status):
    refused = refusal(rules.check_export_request, build(), ExportRequestCommand(actor=OPERATOR, export_id="exp-1"))
    assert refused.code == "export_outside_suspend_mode"
    assert refused.details == {"status": S(status)}
    assert f"is {status}" in refused.message


@pytest.mark.parametrize(
    "suspended", [suspended_for_non_payment, suspended_after_cancellation, suspended_without_method]
)
def test_an_export_can_be_requested_in_suspend_mode_whatever_the_reason(suspended):
    rules.check_export_request(suspended(), ExportRequestCommand(actor=OPERATOR, export_id="exp-1"))


# --- reinstate --------------------------------------------------------------------------------


def reinstate() -> ReinstateCommand:
    return ReinstateCommand(actor=OPERATOR)


@pytest.mark.parametrize("build", [booked, paid_contract, suspended_after_cancellation])
def test_only_a_suspension_for_non_payment_or_a_missing_method_is_reinstatable(build):
    state = build()
    refused = refusal(rules.check_reinstate, state, reinstate())
    assert refused.code == "not_reinstatable"
    assert refused.details == {"status": state.status, "suspension_reason": state.suspension_reason}


def test_a_cancelled_subscription_says_why_it_cannot_be_reinstated():
    refused = refusal(rules.check_reinstate, suspended_after_cancellation(), reinstate())
    assert refused.message.endswith("is suspended (cancelled)")


def test_a_suspension_for_non_payment_is_reinstatable():
    rules.check_reinstate(suspended_for_non_payment(), reinstate())


def test_reinstating_needs_a_payment_method_on_file():
    state = suspended_without_method()
    refused = refusal(rules.check_reinstate, state, reinstate())
    assert refused.code == "no_payment_method"
    rules.apply_change_payment_method(state, change(CARD), START + days(1))
    rules.check_reinstate(state, reinstate())


def test_reinstating_after_a_trial_without_method_starts_the_paid_contract():
    state = suspended_without_method()
    rules.apply_change_payment_method(state, change(CARD), START + days(1))
    rules.start_contract(state, OPERATOR, START + days(2))
    assert state.status == S.ACTIVE and state.suspension_reason is None
    assert (state.contract_started_at, state.term_number) == (START + days(2), 1)
    assert rules.due_step(state, START + days(2)) == Step.INVOICE_PERIOD


# --- the read model ---------------------------------------------------------------------------


def test_the_view_of_a_trial():
    state = booked(channel_partner_id="telesales-nord")
    view = rules.view(state)
    assert (view.id, view.app_id, view.isv_id, view.channel_partner_id) == (
        "sub-1",
        "acme-crm",
        "acme",
        "telesales-nord",
    )
    assert (view.status, view.term_months, view.term_number, view.monthly_price_cents) == (S.TRIALING, 12, 0, 1_990)
    assert (view.booked_at, view.trial_ends_at) == (BOOKED_AT, START)
    assert view.payment_method == "Visa •••• 4242"
    assert view.payment_method_details is not None
    assert (view.payment_method_details.brand, view.payment_method_details.last4) == ("Visa", "4242")
    assert view.contract_started_at is None
    assert (view.current_term_start, view.current_term_end) == (None, None)
    assert (view.current_period_start, view.current_period_end, view.next_invoice_at) == (None, None, None)
    assert (view.dunning, view.arrears_cents, view.invoices_issued) == (None, 0, 0)
    assert [entry.action for entry in view.history] == ["booked"]


def test_the_view_masks_the_payment_method_and_shows_none_without_one():
    assert rules.view(booked(method=DIRECT_DEBIT)).payment_method == "direct_debit DE89…3000"
    assert rules.view(booked(method=None)).payment_method is None
    view = rules.view(booked(method=PHONE_BILL, telekom_customer_number=TELEKOM_NUMBER))
    assert view.payment_method == "phone_bill"
    assert DIRECT_DEBIT.iban not in rules.view(booked(method=DIRECT_DEBIT)).model_dump_json()


def test_the_view_of_a_running_contract_shows_its_term_period_and_next_invoice():
    state = paid_contract(12)
    drive(state, utc(2025, 3, 31))
    view = rules.view(state)
    assert view.status == S.ACTIVE
    assert (view.contract_started_at, view.current_term_start, view.current_term_end) == (
        START,
        START,
        utc(2026, 1, 31),
    )
    assert (view.current_period_start, view.current_period_end) == (utc(2025, 3, 31), utc(2025, 4, 30))
    assert view.next_invoice_at == utc(2025, 4, 30)
    assert (view.invoices_issued, view.arrears_cents, view.dunning, view.cancel_at) == (3, 0, None, None)


def test_the_view_shows_the_dunning_and_the_arrears_of_failed_invoices_only():
    state = in_dunning()
    [failed] = state.unpaid
    open_fee = rules.issue_export_fee_invoice(state, START + days(1))
    assert open_fee.status == InvoiceStatus.OPEN
    view = rules.view(state)
    assert view.arrears_cents == 2_368
    assert view.dunning is not None
    assert (view.dunning.started_at, view.dunning.retries_done, view.dunning.next_retry_at) == (
        START,
        0,
        START + days(3),
    )
    assert view.dunning.unpaid_invoices == [failed.number, open_fee.number]
    charge(state, open_fee, ChargeStatus.FAILED, START + days(1))
    assert rules.view(state).arrears_cents == 2_368 + 5_831


def test_the_view_after_the_last_retry_shows_no_next_retry():
    state = in_dunning()
    assert state.dunning is not None
    state.dunning.retries_done = 2
    view = rules.view(state)
    assert view.dunning is not None and view.dunning.next_retry_at is None


def test_the_view_in_suspend_mode_shows_the_window_and_no_next_invoice():
    state = suspended_for_non_payment()
    view = rules.view(state)
    assert (view.status, view.suspension_reason) == (S.SUSPENDED, SuspensionReason.NON_PAYMENT)
    assert (view.suspended_at, view.suspend_ends_at) == (START + days(7), START + days(37))
    assert view.next_invoice_at is None
    assert view.current_term_end == utc(2026, 1, 31)
    assert view.arrears_cents == 2_368


def test_the_view_of_a_cancelled_contract_shows_when_it_ends():
    state = paid_contract()
    rules.apply_cancel(state, cancel(), START + days(5))
    assert rules.view(state).cancel_at == utc(2026, 1, 31)


def test_the_view_of_an_ended_subscription_shows_when_it_ended():
    state = terminated()
    view = rules.view(state)
    assert view.status == S.TERMINATED
    assert view.terminated_at == START + days(30)
    assert [entry.action for entry in view.history] == [
        "booked",
        Event.TRIAL_ENDED_WITHOUT_METHOD.value,
        Event.SUSPEND_MODE_ENDED.value,
    ]
    assert view.history[-1].actor == SYSTEM


def test_the_view_shows_a_next_invoice_only_for_an_active_contract():
    state = suspended_for_non_payment()
    state.next_invoice_at = utc(2025, 2, 28)
    assert rules.view(state).next_invoice_at is None
    trial = booked()
    trial.next_invoice_at = START
    assert rules.view(trial).next_invoice_at is None
    assert rules.view(paid_contract()).next_invoice_at == utc(2025, 2, 28)
