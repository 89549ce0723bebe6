"""The simulated year as data: `draw_year(seed, ...)` draws the same ISVs, onboardings, customers and partners, and
what each does on which day, every time. Nothing here talks to the stack.

Days count from the first moment of the simulated year; the driver gives each kind of action its hour of the day.
"""

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from demo import names
from demo.plan import (
    CANCEL_REASONS,
    FAILING_METHODS,
    HOLD_REASONS,
    REJECT_REASONS,
    balanced_categories,
    draw_contract,
    draw_customer,
    draw_enrolment,
    draw_terms,
    paying_method,
)
from domain.ids import onboarding_id, subscription_id
from domain.onboarding.config import ONBOARDING
from domain.partners.config import Tier
from domain.subscription.config import SUBSCRIPTIONS

PARTNER_MANAGER = "pm-anna"
ACCOUNT_MANAGER = "am-bernd"
TRIAL_DAYS = 30  # demo.plan.draw_terms gives every app a 30-day trial
STAGES = tuple(spec.id for spec in ONBOARDING.stages)
BUDGETS = {spec.id: spec.budget.days for spec in ONBOARDING.stages}


class Pace(StrEnum):
    """How an onboarding goes."""

    ON_TIME = "on_time"  # every stage within its budget
    LATE = "late"  # a stage or two overrun: live past the six-week target
    HELD = "held"  # on hold for a while in one stage (the clock stops), then on within budget
    REJECTED = "rejected"  # rejected in one stage


class Behaviour(StrEnum):
    """What a customer does after booking."""

    PAYS = "pays"
    CANCELS_IN_TRIAL = "cancels_in_trial"
    CANCELS = "cancels"  # in the contract: suspend mode at the term end
    NO_METHOD = "no_method"  # none at the trial end: suspended, then terminated
    FAILS_RECOVERS = "fails_recovers"  # a failing card, replaced before the first dunning retry
    FAILS_REINSTATED = "fails_reinstated"  # suspended for non-payment, then a new method and reinstated
    FAILS_TERMINATED = "fails_terminated"  # suspended for non-payment, then terminated


PACE_WEIGHTS = {Pace.ON_TIME: 50, Pace.LATE: 25, Pace.HELD: 10, Pace.REJECTED: 15}
BEHAVIOUR_WEIGHTS = {
    Behaviour.PAYS: 55,
    Behaviour.CANCELS_IN_TRIAL: 6,
    Behaviour.CANCELS: 10,
    Behaviour.NO_METHOD: 5,
    Behaviour.FAILS_RECOVERS: 8,
    Behaviour.FAILS_REINSTATED: 8,
    Behaviour.FAILS_TERMINATED: 8,
}
TERM_WEIGHTS = {1: 30, 12: 55, 24: 15}
TIER_WEIGHTS = {Tier.BASIC: 4, Tier.ADVANCED: 3, Tier.EXPERT: 2, Tier.EXPERT_PLUS: 1}
SOLD_BY_PARTNER = 0.25  # of bookings, when there are partners
# The first failed charge is at the trial end; retries follow on the days of SubscriptionConfig.dunning_retry_days,
# and the last failed retry suspends.
SUSPENDED_AFTER_DAYS = TRIAL_DAYS + SUBSCRIPTIONS.dunning_retry_days[-1]


@dataclass(frozen=True)
class Onboarding:
    id: str
    request: dict[str, Any]  # the body of POST /onboardings
    terms: dict[str, Any]  # the body of PUT .../commercial-terms
    pace: Pace
    start_day: int
    stage_days: tuple[int, ...]  # how long the partner manager takes in each stage, hold included
    hold: tuple[int, int, int] | None  # (stage index, day in the stage, days on hold)
    reject: tuple[int, int] | None  # (stage index, day in the stage)
    reason: str | None  # of the hold or the rejection

    @property
    def app_id(self) -> str:
        return str(self.request["app"]["id"])

    @property
    def live_day(self) -> int | None:
        """The day it is planned to go live (whether or not that is within the simulated year)."""
        return None if self.reject is not None else self.start_day + sum(self.stage_days)


@dataclass(frozen=True)
class Booking:
    id: str
    body: dict[str, Any]  # the body of POST /subscriptions
    behaviour: Behaviour
    day: int
    act_day: int | None  # when the customer acts on the behaviour (cancel, new method, reinstate)
    new_method: dict[str, Any] | None  # the method that pays, for those whose first one failed
    reason: str | None  # of the cancellation


@dataclass(frozen=True)
class Partner:
    enrolment: dict[str, Any]  # the body of POST /partners
    tier: Tier
    contracts: tuple[tuple[int, dict[str, Any]], ...]  # (day, body of POST /partners/{id}/contracts)

    @property
    def id(self) -> str:
        return str(self.enrolment["id"])


@dataclass(frozen=True)
class Year:
    seed: int
    days: int
    customers: int  # asked for; bookings has fewer when no app goes live in time
    onboardings: tuple[Onboarding, ...]
    bookings: tuple[Booking, ...]
    partners: tuple[Partner, ...]


def draw_year(seed: int, isvs: int, customers: int, partners: int, days: int) -> Year:
    rng = random.Random(f"partnerflow-simulation-{seed}")
    onboardings = _onboardings(rng, isvs, days)
    drawn_partners = _partners(rng, partners, days)
    bookings = _bookings(rng, customers, days, onboardings, drawn_partners)
    return Year(seed, days, customers, tuple(onboardings), tuple(bookings), tuple(drawn_partners))


def _unique(base: str, index: int, pool: int) -> str:
    """Names are reused past the end of their list, with the round as a suffix."""
    return base if index < pool else f"{base}-{index // pool + 1}"


# --- onboardings --------------------------------------------------------------------------------


def _onboardings(rng: random.Random, count: int, days: int) -> list[Onboarding]:
    categories = balanced_categories(rng, count)
    isvs = rng.sample(names.ISVS, min(count, len(names.ISVS)))
    plans = []
    for index, category in enumerate(categories):
        base_id, isv_name = isvs[index % len(isvs)]
        isv_id = _unique(base_id, index, len(isvs))
        app_name = rng.choice(names.APPS[category])
        app_id = f"{isv_id}-{names.slug(app_name)}"
        # The first one starts at once and goes live on time, so customers have an app to book early on.
        pace = Pace.ON_TIME if index == 0 else rng.choices(list(PACE_WEIGHTS), list(PACE_WEIGHTS.values()))[0]
        start_day = rng.randint(0, 3) if index == 0 else rng.randint(0, max(days - 14, 1))
        stage_days = [max(1, round(BUDGETS[stage] * rng.uniform(0.4, 0.95))) for stage in STAGES]
        hold = reject = None
        reason = None
        if pace == Pace.LATE:
            for stage in rng.sample(range(len(STAGES)), rng.randint(1, 2)):
                stage_days[stage] = round(BUDGETS[STAGES[stage]] * rng.uniform(1.8, 3.0))
            stage_days[-1] += max(0, sum(BUDGETS.values()) + 2 - sum(stage_days))  # past the target, surely
        elif pace == Pace.HELD:
            stage = rng.randrange(len(STAGES))
            hold = (stage, rng.randint(1, stage_days[stage]), rng.randint(5, 20))  # a day into the stage at least
            stage_days[stage] += hold[2]
            reason = rng.choice(HOLD_REASONS)
        elif pace == Pace.REJECTED:
            stage = rng.randrange(len(STAGES) - 1)
            reject = (stage, rng.randint(1, stage_days[stage]))
            reason = rng.choice(REJECT_REASONS)
        request = {
            "isv": {"id": isv_id, "name": isv_name, "contact_email": f"partner@{isv_id}.example"},
            "app": {"id": app_id, "name": app_name, "category": category.value},
            "partner_manager": PARTNER_MANAGER,
        }
        plans.append(
            Onboarding(
                onboarding_id(isv_id, app_id),
                request,
                draw_terms(rng),
                pace,
                start_day,
                tuple(stage_days),
                hold,
                reject,
                reason,
            )
        )
    return plans


# --- channel partners ---------------------------------------------------------------------------


def _partners(rng: random.Random, count: int, days: int) -> list[Partner]:
    chosen = rng.sample(names.PARTNERS, min(count, len(names.PARTNERS)))
    plans = []
    for index in range(count):
        base_id, name = chosen[index % len(chosen)]
        tier = rng.choices(list(TIER_WEIGHTS), list(TIER_WEIGHTS.values()))[0]
        enrolment = draw_enrolment(rng, _unique(base_id, index, len(chosen)), name, tier, ACCOUNT_MANAGER)
        drawn = [(rng.randrange(days), draw_contract(rng)) for _ in range(rng.randint(1, 8))]
        contracts = tuple(sorted(drawn, key=lambda pair: pair[0]))
        plans.append(Partner(enrolment, tier, _distinct_references(contracts)))
    return plans


def _distinct_references(
    contracts: tuple[tuple[int, dict[str, Any]], ...],
) -> tuple[tuple[int, dict[str, Any]], ...]:
    """A reference id counts once per partner; a second draw of the same one would earn nothing."""
    seen: set[str] = set()
    kept = []
    for day, event in contracts:
        if event["reference_id"] not in seen:
            seen.add(event["reference_id"])
            kept.append((day, event))
    return tuple(kept)


# --- customers ----------------------------------------------------------------------------------


def _bookings(
    rng: random.Random, count: int, days: int, onboardings: list[Onboarding], partners: list[Partner]
) -> list[Booking]:
    """Each customer books one app that is live on the booking day; none can book before the first app is live,
    and a booking leaves time for its trial to end within the year."""
    live = sorted(
        ((day, plan) for plan in onboardings if (day := plan.live_day) is not None and day < days - 1),
        key=lambda pair: pair[0],
    )
    if not live:
        return []
    first, last = live[0][0] + 1, max(live[0][0] + 1, days - TRIAL_DAYS - 10)
    popularity = {plan.id: rng.uniform(0.3, 3.0) for _, plan in live}  # some apps sell better than others
    taken: set[str] = set()
    plans = []
    for _ in range(count):
        day = rng.randint(first, last)
        open_apps = [plan for live_day, plan in live if live_day < day]
        app = rng.choices(open_apps, [popularity[plan.id] for plan in open_apps])[0]
        customer = draw_customer(rng, taken)
        taken.add(customer["id"])
        behaviour = rng.choices(list(BEHAVIOUR_WEIGHTS), list(BEHAVIOUR_WEIGHTS.values()))[0]
        offered = [plan["term_months"] for plan in app.terms["plans"]]
        body: dict[str, Any] = {
            "customer": customer,
            "app_id": app.app_id,
            "term_months": rng.choices(offered, [TERM_WEIGHTS[term] for term in offered])[0],
            "payment_method": _first_method(rng, behaviour, customer),
        }
        if partners and rng.random() < SOLD_BY_PARTNER:
            body["channel_partner_id"] = rng.choice(partners).id
        act_day = _act_day(rng, behaviour, day, days)
        new_method = paying_method(rng, customer) if behaviour in _FIXED else None
        reason = rng.choice(CANCEL_REASONS) if behaviour in (Behaviour.CANCELS, Behaviour.CANCELS_IN_TRIAL) else None
        ident = subscription_id(customer["id"], app.app_id)
        plans.append(Booking(ident, body, behaviour, day, act_day, new_method, reason))
    return plans


_FIXED = (Behaviour.FAILS_RECOVERS, Behaviour.FAILS_REINSTATED)


def _first_method(rng: random.Random, behaviour: Behaviour, customer: dict[str, Any]) -> dict[str, Any] | None:
    match behaviour:
        case Behaviour.NO_METHOD:
            return None
        case Behaviour.FAILS_RECOVERS | Behaviour.FAILS_REINSTATED | Behaviour.FAILS_TERMINATED:
            method = dict(rng.choice(FAILING_METHODS))
            if method["type"] == "direct_debit":
                method["account_holder"] = customer["name"]
            return method
        case _:
            return paying_method(rng, customer)


def _act_day(rng: random.Random, behaviour: Behaviour, day: int, days: int) -> int | None:
    match behaviour:
        case Behaviour.CANCELS_IN_TRIAL:
            return day + rng.randint(1, TRIAL_DAYS - 2)
        case Behaviour.CANCELS:
            return rng.randint(day + TRIAL_DAYS + 1, max(day + TRIAL_DAYS + 1, days - 1))
        case Behaviour.FAILS_RECOVERS:
            return day + TRIAL_DAYS + 1  # after the first failed charge, before the first retry
        case Behaviour.FAILS_REINSTATED:
            return day + SUSPENDED_AFTER_DAYS + rng.randint(1, SUBSCRIPTIONS.suspend_days - 2)
        case _:
            return None
