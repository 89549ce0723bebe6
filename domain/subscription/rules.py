"""The subscription's rules: its state machine, what is due when, billing periods, commands, the read model.

Payment outcomes and dunning are in `domain.subscription.payments`.

Workflow validators call the `check_*` functions; the workflow performs the side effects that the
`apply_*` functions describe by their return values.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from domain.billing_calendar import add_months, periods_in_term
from domain.errors import CommandRefused
from domain.money import invoice_amounts
from domain.payments import masked, method_view
from domain.subscription import payments
from domain.subscription.config import SUBSCRIPTIONS, SubscriptionConfig
from domain.subscription.history import note
from domain.subscription.model import (
    BookedPlan,
    BookingRequest,
    CancelCommand,
    ChangePaymentMethodCommand,
    DunningView,
    ExportRequestCommand,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    ReinstateCommand,
    ScheduledPlanChange,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionView,
    SuspensionReason,
    UncancelCommand,
    check_method_fits_customer,
)

Status = SubscriptionStatus


class Event(StrEnum):
    TRIAL_ENDED_WITH_METHOD = "trial_ended_with_method"
    TRIAL_ENDED_WITHOUT_METHOD = "trial_ended_without_method"
    CANCELLED_IN_TRIAL = "cancelled_in_trial"
    CONTRACT_ENDED = "contract_ended"  # a cancelled contract reached its term end
    DUNNING_EXHAUSTED = "dunning_exhausted"
    REINSTATED = "reinstated"
    SUSPEND_MODE_ENDED = "suspend_mode_ended"


# The state machine (docs/architecture.md): (state, event) -> state.
TRANSITIONS: dict[tuple[Status, Event], Status] = {
    (Status.TRIALING, Event.TRIAL_ENDED_WITH_METHOD): Status.ACTIVE,
    (Status.TRIALING, Event.TRIAL_ENDED_WITHOUT_METHOD): Status.SUSPENDED,
    (Status.TRIALING, Event.CANCELLED_IN_TRIAL): Status.SUSPENDED,
    (Status.ACTIVE, Event.CONTRACT_ENDED): Status.SUSPENDED,
    (Status.ACTIVE, Event.DUNNING_EXHAUSTED): Status.SUSPENDED,
    (Status.SUSPENDED, Event.REINSTATED): Status.ACTIVE,
    (Status.SUSPENDED, Event.SUSPEND_MODE_ENDED): Status.TERMINATED,
}

SUSPENSION_REASONS = {
    Event.TRIAL_ENDED_WITHOUT_METHOD: SuspensionReason.NO_PAYMENT_METHOD,
    Event.CANCELLED_IN_TRIAL: SuspensionReason.CANCELLED,
    Event.CONTRACT_ENDED: SuspensionReason.CANCELLED,
    Event.DUNNING_EXHAUSTED: SuspensionReason.NON_PAYMENT,
}

REINSTATABLE = frozenset({SuspensionReason.NON_PAYMENT, SuspensionReason.NO_PAYMENT_METHOD})


class Step(StrEnum):
    """Timer-driven work that is due."""

    TRIAL_ENDING_NOTICE = "trial_ending_notice"
    TRIAL_END = "trial_end"
    INVOICE_PERIOD = "invoice_period"
    RENEW = "renew"
    END_CONTRACT = "end_contract"
    DUNNING_RETRY = "dunning_retry"
    SUSPEND_FOR_NON_PAYMENT = "suspend_for_non_payment"
    REINSTATE_PAID_UP = "reinstate_paid_up"
    TERMINATE = "terminate"
    PAYMENT_UNSETTLED = "payment_unsettled"


def book(
    subscription_id: str, request: BookingRequest, plan: BookedPlan, actor: str, now: datetime
) -> SubscriptionState:
    state = SubscriptionState(
        id=subscription_id,
        customer=request.customer,
        plan=plan,
        channel_partner_id=request.channel_partner_id,
        payment_method=request.payment_method,
        booked_at=now,
        trial_ends_at=now + timedelta(days=plan.trial_days),
    )
    note(state, actor, "booked", now, f"{plan.term_months}-month term, trial until {state.trial_ends_at.date()}")
    return state


def transition(state: SubscriptionState, event: Event, actor: str, now: datetime, detail: str | None = None) -> None:
    target = TRANSITIONS.get((state.status, event))
    assert target is not None, f"no transition from {state.status} on {event}"
    state.status = target
    if target == Status.SUSPENDED:
        state.suspension_reason = SUSPENSION_REASONS[event]
        state.suspended_at = now
        state.suspend_ends_at = now + SUBSCRIPTIONS.suspend_window
        state.next_invoice_at = None
    elif target == Status.ACTIVE:
        state.suspension_reason = None
        state.suspended_at = state.suspend_ends_at = None
    elif target == Status.TERMINATED:
        state.terminated_at = now
    note(state, actor, event.value, now, detail)


# --- what is due ----------------------------------------------------------------------------


def current_term_end(state: SubscriptionState) -> datetime | None:
    """Anchored on the contract's first day, so a term ending on a short month does not move later terms."""
    if state.contract_started_at is None or state.term_number == 0:
        return None
    start = state.contract_started_at
    return add_months(start, months_before_term(state) + state.plan.term_months, anchor_day=start.day)


def months_before_term(state: SubscriptionState) -> int:
    """The contract's months before the current term: its earlier terms, all of the plan's length unless the plan
    changed (which then keeps count)."""
    if state.months_before_term is not None:
        return state.months_before_term
    return (state.term_number - 1) * state.plan.term_months


def trial_ending_notice_at(state: SubscriptionState, config: SubscriptionConfig = SUBSCRIPTIONS) -> datetime | None:
    """When the customer and the ISV hear that the trial will end, unless they have (or it has ended)."""
    if state.status != Status.TRIALING or state.trial_ending_noticed:
        return None
    return state.trial_ends_at - config.trial_ending_notice


def billing_period_start(state: SubscriptionState, index: int, config: SubscriptionConfig = SUBSCRIPTIONS) -> datetime:
    """Start of period `index` of the current term, on the contract's own day of the month."""
    assert state.term_started_at is not None and state.contract_started_at is not None
    months = index * config.billing_period_months
    return add_months(state.term_started_at, months, anchor_day=state.contract_started_at.day)


def due_step(
    state: SubscriptionState, now: datetime, config: SubscriptionConfig = SUBSCRIPTIONS, *, trial_notice: bool = True
) -> Step | None:
    """The next piece of timer-driven work whose time has come, if any.

    `trial_notice=False`: runs that started before the trial-ending notice existed keep to their recorded timers."""
    if state.status in (Status.ACTIVE, Status.SUSPENDED) and (
        (unsettled := payments.first_unsettled_by(state, config)) is not None and now >= unsettled
    ):
        return Step.PAYMENT_UNSETTLED
    match state.status:
        case Status.TRIALING:
            if now >= state.trial_ends_at:
                return Step.TRIAL_END  # a notice not sent by then is not sent at all
            notice_at = trial_ending_notice_at(state, config) if trial_notice else None
            return Step.TRIAL_ENDING_NOTICE if notice_at is not None and now >= notice_at else None
        case Status.ACTIVE:
            if state.dunning is not None:
                if not state.unpaid:
                    pass  # settled since; cleared when the payment was applied
                elif state.dunning.retries_done >= len(config.dunning_retry_days) and payments.arrears_failed(state):
                    return Step.SUSPEND_FOR_NON_PAYMENT
                elif (retry := payments.next_retry_at(state, config)) is not None and now >= retry:
                    return Step.DUNNING_RETRY
            if state.next_invoice_at is not None and now >= state.next_invoice_at:
                if state.period_index >= periods_in_term(state.plan.term_months, config.billing_period_months):
                    return Step.END_CONTRACT if state.cancel_at is not None else Step.RENEW
                return Step.INVOICE_PERIOD
            return None
        case Status.SUSPENDED:
            if state.suspension_reason == SuspensionReason.NON_PAYMENT and not state.unpaid:
                return Step.REINSTATE_PAID_UP
            return Step.TERMINATE if state.suspend_ends_at is not None and now >= state.suspend_ends_at else None
        case _:
            return None


def next_deadline(
    state: SubscriptionState, config: SubscriptionConfig = SUBSCRIPTIONS, *, trial_notice: bool = True
) -> datetime | None:
    """When the workflow must wake up next, if nothing else happens first."""
    match state.status:
        case Status.TRIALING:
            notice_at = trial_ending_notice_at(state, config) if trial_notice else None
            return min(notice_at, state.trial_ends_at) if notice_at is not None else state.trial_ends_at
        case Status.ACTIVE:
            moments = [
                state.next_invoice_at,
                payments.next_retry_at(state, config),
                payments.first_unsettled_by(state, config),
            ]
            present = [moment for moment in moments if moment is not None]
            return min(present) if present else None
        case Status.SUSPENDED:
            unsettled = payments.first_unsettled_by(state, config)
            if state.suspend_ends_at is None or unsettled is None:
                return state.suspend_ends_at or unsettled
            return min(state.suspend_ends_at, unsettled)
        case _:
            return None


# --- contract and billing --------------------------------------------------------------------


def start_contract(state: SubscriptionState, actor: str, now: datetime) -> None:
    """The paid contract starts: first term, first period due now."""
    event = Event.TRIAL_ENDED_WITH_METHOD if state.status == Status.TRIALING else Event.REINSTATED
    state.contract_started_at = now
    state.term_started_at = now
    state.term_number = 1
    state.months_before_term = None
    state.period_index = 0
    transition(state, event, actor, now, f"paid {state.plan.term_months}-month contract starts")
    state.next_invoice_at = now


def issue_period_invoice(
    state: SubscriptionState, now: datetime, config: SubscriptionConfig = SUBSCRIPTIONS
) -> Invoice:
    start = billing_period_start(state, state.period_index, config)
    state.period_index += 1
    end = billing_period_start(state, state.period_index, config)
    state.next_invoice_at = end
    price = state.plan.monthly_price_cents
    # A plan change's proration is billed with the period; a credit larger than the period's price waits for the next.
    proration = max(state.pending_proration_cents, -price)
    state.pending_proration_cents -= proration
    return _issue(state, InvoiceKind.PERIOD, price + proration, now, start, end, config, proration)


def settle_pending_proration(
    state: SubscriptionState, now: datetime, config: SubscriptionConfig = SUBSCRIPTIONS
) -> Invoice | None:
    """When the contract ends no period invoice follows to carry a plan change's proration: a charge gets an invoice
    of its own; a credit left over (there are no refunds) is said in the history."""
    pending, state.pending_proration_cents = state.pending_proration_cents, 0
    if pending > 0:
        return _issue(state, InvoiceKind.PRORATION, pending, now, None, None, config, pending)
    if pending < 0:
        note(state, "system", "proration_credit_unused", now, f"{-pending} cents net: the contract ended first")
    return None


def issue_export_fee_invoice(
    state: SubscriptionState, now: datetime, config: SubscriptionConfig = SUBSCRIPTIONS
) -> Invoice:
    return _issue(state, InvoiceKind.EXPORT_FEE, config.export_fee_net_cents, now, None, None, config)


def _issue(
    state: SubscriptionState,
    kind: InvoiceKind,
    net_cents: int,
    now: datetime,
    start: datetime | None,
    end: datetime | None,
    config: SubscriptionConfig,
    proration_cents: int = 0,
) -> Invoice:
    state.invoice_seq += 1
    state.invoices_issued += 1
    invoice = Invoice(
        number=f"{state.id}-{state.booked_at:%Y%m%d%H%M}-{state.invoice_seq:04d}",
        kind=kind,
        issued_at=now,
        period_start=start,
        period_end=end,
        amounts=invoice_amounts(net_cents, config.vat_percent),
        proration_cents=proration_cents,
    )
    state.unpaid.append(invoice)
    state.last_invoice = invoice
    return invoice


def renew(state: SubscriptionState, now: datetime) -> None:
    """Term end without cancellation: the contract renews for the same term."""
    new_start = current_term_end(state)
    assert new_start is not None
    if state.months_before_term is not None or state.scheduled_plan_change is not None:
        state.months_before_term = months_before_term(state) + state.plan.term_months
    state.term_started_at = new_start
    state.term_number += 1
    state.period_index = 0
    state.next_invoice_at = new_start
    note(state, "system", "renewed", now, f"term {state.term_number} from {new_start.date()}")
    if (change := state.scheduled_plan_change) is not None:
        apply_scheduled_plan(state, change, new_start)


def apply_scheduled_plan(state: SubscriptionState, change: ScheduledPlanChange, at: datetime) -> None:
    """A downgrade takes effect with the term it was scheduled for: that term has the new length and price."""
    old = state.plan
    state.plan = old.model_copy(
        update={"term_months": change.term_months, "monthly_price_cents": change.monthly_price_cents}
    )
    state.scheduled_plan_change = None
    note(
        state,
        "system",
        "plan_changed",
        at,
        f"{plan_label(old.term_months, old.monthly_price_cents)} -> "
        f"{plan_label(change.term_months, change.monthly_price_cents)}",
    )


def plan_label(term_months: int, monthly_price_cents: int) -> str:
    return f"{term_months}-month plan at {monthly_price_cents} cents a month"


def reinstate_after_payment(state: SubscriptionState, actor: str, now: datetime) -> None:
    """Arrears paid in suspend mode: the contract goes on; periods that fell in the suspension are not billed."""
    transition(state, Event.REINSTATED, actor, now, "arrears paid")
    state.dunning = None
    periods = periods_in_term(state.plan.term_months, SUBSCRIPTIONS.billing_period_months)
    while True:
        start = billing_period_start(state, state.period_index)
        if start >= now:
            state.next_invoice_at = start
            return
        if state.period_index < periods:
            state.period_index += 1
        elif state.cancel_at is None:
            renew(state, now)  # the term ended in suspend mode and renewed; its first periods fell in it too
        else:
            state.next_invoice_at = now  # a cancelled contract whose term ended: ending it is due
            return


# --- commands --------------------------------------------------------------------------------


def check_not_ended(state: SubscriptionState) -> None:
    if state.status == Status.TERMINATED:
        raise CommandRefused("subscription_ended", f"subscription {state.id} has ended", {"status": state.status})


def check_cancel(state: SubscriptionState, command: CancelCommand) -> None:
    check_not_ended(state)
    if state.status == Status.SUSPENDED:
        raise CommandRefused(
            "contract_ended",
            f"the contract has ended; subscription {state.id} is in suspend mode until "
            f"{state.suspend_ends_at.isoformat() if state.suspend_ends_at else 'its end'}",
            {"status": state.status, "suspension_reason": state.suspension_reason},
        )
    if state.cancel_at is not None:
        raise CommandRefused(
            "already_cancelled",
            f"subscription {state.id} is already cancelled for {state.cancel_at.isoformat()}",
            {"cancel_at": state.cancel_at.isoformat()},
        )


def apply_cancel(state: SubscriptionState, command: CancelCommand, now: datetime) -> None:
    state.cancel_requested_at = now
    if state.status == Status.TRIALING:
        transition(state, Event.CANCELLED_IN_TRIAL, command.actor, now, command.reason)
        return
    state.cancel_at = current_term_end(state)
    state.scheduled_plan_change = None  # the contract ends with this term: no later term to change
    note(
        state,
        command.actor,
        "cancelled",
        now,
        f"effective {state.cancel_at}" + (f": {command.reason}" if command.reason else ""),
    )


def check_uncancel(state: SubscriptionState, command: UncancelCommand, now: datetime) -> None:
    """Only a cancellation scheduled for the term's end can be withdrawn, and only until then."""
    check_not_ended(state)
    if state.cancel_at is not None and now < state.cancel_at:
        return
    if state.cancel_at is not None or state.suspension_reason == SuspensionReason.CANCELLED:
        raise CommandRefused(
            "cancellation_effective",
            f"the cancellation of subscription {state.id} has taken effect; it can no longer be withdrawn",
            {"status": state.status, "cancel_at": state.cancel_at.isoformat() if state.cancel_at else None},
        )
    raise CommandRefused(
        "not_cancelled", f"subscription {state.id} has no cancellation to withdraw", {"status": state.status}
    )


def apply_uncancel(state: SubscriptionState, command: UncancelCommand, now: datetime) -> None:
    assert state.cancel_at is not None
    note(state, command.actor, "uncancelled", now, f"renews at {state.cancel_at.isoformat()} instead of ending")
    state.cancel_at = state.cancel_requested_at = None


def check_change_payment_method(state: SubscriptionState, command: ChangePaymentMethodCommand) -> None:
    check_not_ended(state)
    try:
        check_method_fits_customer(command.payment_method, state.customer)
    except ValueError as error:
        raise CommandRefused("invalid_payment_method", str(error), {"field": "type"}) from error


def apply_change_payment_method(state: SubscriptionState, command: ChangePaymentMethodCommand, now: datetime) -> None:
    state.payment_method = command.payment_method
    note(state, command.actor, "payment_method_changed", now, masked(command.payment_method))


def check_export_request(state: SubscriptionState, command: ExportRequestCommand) -> None:
    check_not_ended(state)
    if state.status != Status.SUSPENDED:
        raise CommandRefused(
            "export_outside_suspend_mode",
            f"a data export can be requested in suspend mode only; subscription {state.id} is {state.status.value}",
            {"status": state.status},
        )


def check_reinstate(state: SubscriptionState, command: ReinstateCommand) -> None:
    check_not_ended(state)
    if state.status != Status.SUSPENDED or state.suspension_reason not in REINSTATABLE:
        raise CommandRefused(
            "not_reinstatable",
            f"only a subscription suspended for non-payment or for a missing payment method can be reinstated; "
            f"{state.id} is {state.status.value}"
            + (f" ({state.suspension_reason.value})" if state.suspension_reason else ""),
            {"status": state.status, "suspension_reason": state.suspension_reason},
        )
    if state.payment_method is None:
        raise CommandRefused("no_payment_method", "set a payment method before reinstating")


# --- read model ------------------------------------------------------------------------------


def view(state: SubscriptionState, config: SubscriptionConfig = SUBSCRIPTIONS) -> SubscriptionView:
    period: tuple[datetime, datetime] | None = None
    if state.term_started_at is not None and state.period_index > 0:
        period = (
            billing_period_start(state, state.period_index - 1, config),
            billing_period_start(state, state.period_index, config),
        )
    dunning = None
    if state.dunning is not None:
        dunning = DunningView(
            started_at=state.dunning.started_at,
            retries_done=state.dunning.retries_done,
            next_retry_at=payments.next_retry_at(state, config),
            unpaid_invoices=[invoice.number for invoice in state.unpaid],
        )
    return SubscriptionView(
        id=state.id,
        customer=state.customer,
        app_id=state.plan.app_id,
        isv_id=state.plan.isv_id,
        channel_partner_id=state.channel_partner_id,
        status=state.status,
        suspension_reason=state.suspension_reason,
        term_months=state.plan.term_months,
        term_number=state.term_number,
        monthly_price_cents=state.plan.monthly_price_cents,
        payment_method=masked(state.payment_method) if state.payment_method else None,
        payment_method_details=method_view(state.payment_method) if state.payment_method else None,
        booked_at=state.booked_at,
        trial_ends_at=state.trial_ends_at,
        contract_started_at=state.contract_started_at,
        current_term_start=state.term_started_at,
        current_term_end=current_term_end(state),
        current_period_start=period[0] if period else None,
        current_period_end=period[1] if period else None,
        next_invoice_at=state.next_invoice_at if state.status == Status.ACTIVE else None,
        cancel_at=state.cancel_at,
        suspended_at=state.suspended_at,
        suspend_ends_at=state.suspend_ends_at,
        terminated_at=state.terminated_at,
        dunning=dunning,
        arrears_cents=sum(
            invoice.amounts.gross_cents for invoice in state.unpaid if invoice.status == InvoiceStatus.FAILED
        ),
        invoices_issued=state.invoices_issued,
        exports=state.exports,
        history=state.history,
        scheduled_plan_change=state.scheduled_plan_change,
        pending_proration_cents=state.pending_proration_cents,
    )
