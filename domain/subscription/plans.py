"""Changing a subscription's plan (another term of the same app, at the catalogue's price): what is an upgrade, what
a downgrade, and the proration of an upgrade.

- In the trial nothing is billed yet: any change applies at once, with nothing to prorate.
- The term is the customer's commitment, so a longer term is an upgrade and a shorter one a downgrade whatever the
  monthly price; at the same term (the catalogue repriced it) a dearer price is an upgrade, a cheaper one a downgrade.
- An upgrade applies at once: the current term takes the new length, counted from its start, and the new price. The
  billing period under way was invoiced in advance at the old price, so its unused part is credited and the new
  price charged for it (`proration_cents`), on the next period's invoice.
- A downgrade applies when the current term ends (`ScheduledPlanChange`); a change back to the current plan before
  then withdraws it.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import CommandRefused
from domain.money import pro_rata_cents
from domain.subscription.config import SUBSCRIPTIONS, SubscriptionConfig
from domain.subscription.history import note
from domain.subscription.model import (
    BookedPlan,
    ChangePlanCommand,
    ScheduledPlanChange,
    SubscriptionState,
    SubscriptionStatus,
)
from domain.subscription.rules import (
    billing_period_start,
    check_not_ended,
    current_term_end,
    months_before_term,
    plan_label,
)

DAY = timedelta(days=1)


class PlanChange(StrEnum):
    IN_TRIAL = "in_trial"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    WITHDRAWN = "downgrade_withdrawn"  # back to the current plan: the scheduled downgrade is off


def kind_of(current: BookedPlan, command: ChangePlanCommand) -> PlanChange | None:
    """Upgrade or downgrade from the current plan; None for the same plan."""
    old = (current.term_months, current.monthly_price_cents)
    new = (command.term_months, command.monthly_price_cents)
    if new == old:
        return None
    # Tuples compare the term first, then the price: a longer term wins whatever it costs a month.
    return PlanChange.UPGRADE if new > old else PlanChange.DOWNGRADE


def proration_cents(
    old_period_cents: int, new_period_cents: int, period_start: datetime, period_end: datetime, at: datetime
) -> int:
    """What an upgrade at `at` adds to the next invoice (net; below zero a credit): the new price for the period's
    unused part, less the old price for it.

    The unused part is the whole days from `at` to the period's end (a day begun counts as used) over the period's
    days. Credit and charge are each rounded half up to a whole cent, then subtracted: what the invoice shows adds up.
    """
    period_days = (period_end - period_start) // DAY
    unused_days = max(0, min((period_end - at) // DAY, period_days))
    if period_days <= 0 or unused_days == 0:
        return 0
    credit = pro_rata_cents(old_period_cents, unused_days, period_days)
    charge = pro_rata_cents(new_period_cents, unused_days, period_days)
    return charge - credit


def check_change_plan(state: SubscriptionState, command: ChangePlanCommand) -> None:
    check_not_ended(state)
    if state.status == SubscriptionStatus.SUSPENDED:
        raise CommandRefused(
            "subscription_suspended",
            f"subscription {state.id} is in suspend mode; its plan cannot change",
            {"status": state.status, "suspension_reason": state.suspension_reason},
        )
    if state.cancel_at is not None:
        raise CommandRefused(
            "cancellation_scheduled",
            f"subscription {state.id} is cancelled for {state.cancel_at.isoformat()}; withdraw the cancellation first",
            {"cancel_at": state.cancel_at.isoformat()},
        )
    scheduled = state.scheduled_plan_change
    if kind_of(state.plan, command) is None and scheduled is None:
        raise CommandRefused(
            "same_plan",
            f"subscription {state.id} is on the {plan_label(command.term_months, command.monthly_price_cents)} already",
            {"term_months": command.term_months},
        )
    if scheduled is not None and (scheduled.term_months, scheduled.monthly_price_cents) == (
        command.term_months,
        command.monthly_price_cents,
    ):
        raise CommandRefused(
            "plan_change_scheduled",
            f"subscription {state.id} changes to this plan on {scheduled.effective_at.isoformat()} already",
            {"term_months": command.term_months, "effective_at": scheduled.effective_at.isoformat()},
        )


def apply_change_plan(
    state: SubscriptionState, command: ChangePlanCommand, now: datetime, config: SubscriptionConfig = SUBSCRIPTIONS
) -> PlanChange:
    old, kind = state.plan, kind_of(state.plan, command)
    new_label = plan_label(command.term_months, command.monthly_price_cents)
    if kind is None:
        state.scheduled_plan_change = None
        note(state, command.actor, PlanChange.WITHDRAWN.value, now, f"stays on the {new_label}")
        return PlanChange.WITHDRAWN
    if kind == PlanChange.DOWNGRADE and state.status == SubscriptionStatus.ACTIVE:
        effective_at = current_term_end(state)
        assert effective_at is not None
        state.scheduled_plan_change = ScheduledPlanChange(
            term_months=command.term_months, monthly_price_cents=command.monthly_price_cents, effective_at=effective_at
        )
        note(state, command.actor, "plan_downgrade_scheduled", now, f"to the {new_label} from {effective_at.date()}")
        return kind
    proration = _upgrade_proration(state, command, now, config) if state.status == SubscriptionStatus.ACTIVE else 0
    if state.term_number > 0:  # the current term takes the new length from its start; the earlier ones keep theirs
        state.months_before_term = months_before_term(state)
    state.plan = old.model_copy(
        update={"term_months": command.term_months, "monthly_price_cents": command.monthly_price_cents}
    )
    state.scheduled_plan_change = None
    state.pending_proration_cents += proration
    if state.status == SubscriptionStatus.TRIALING:
        note(state, command.actor, "plan_changed", now, f"to the {new_label}, in the trial")
        return PlanChange.IN_TRIAL
    note(state, command.actor, "plan_upgraded", now, f"to the {new_label}; proration {proration} cents net")
    return kind


def _upgrade_proration(
    state: SubscriptionState, command: ChangePlanCommand, now: datetime, config: SubscriptionConfig
) -> int:
    """The proration of the billing period under way (invoiced in advance), if one is."""
    if state.period_index == 0:
        return 0  # the term's first period is not invoiced yet: it is billed at the new price
    start = billing_period_start(state, state.period_index - 1, config)
    end = billing_period_start(state, state.period_index, config)
    # What a period invoice bills (rules.issue_period_invoice): the monthly price.
    return proration_cents(state.plan.monthly_price_cents, command.monthly_price_cents, start, end, now)
