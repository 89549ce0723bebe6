"""The demo marketplace as data: `build_plan(seed, scale)` draws the same ISVs, apps, onboardings, subscriptions and
channel partners every time, and nothing here talks to the stack.

Times are kept as "days ago", relative to the moment of seeding, so a plan drawn today and one drawn next month look
alike on their stacks.
"""

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from demo import names
from domain.catalogue import Category
from domain.ids import onboarding_id, subscription_id
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from domain.onboarding.model import OnboardingStatus
from domain.partners.config import PROGRAMME, ContractKind, LegacyLevel, Tier
from domain.partners.model import Enrolment
from domain.partners.rules import initial_tier
from domain.subscription.model import SubscriptionStatus


class Scale(StrEnum):
    SMALL = "small"  # one of everything, for tests
    DEFAULT = "default"  # 20+ ISVs, about 100 subscriptions, a dozen partners


# Where an onboarding is left: in its stage, on hold there, rejected there, or taken all the way live.
Outcome = OnboardingStatus


class Kind(StrEnum):
    """How a subscription is made, which decides the status it shows."""

    TRIAL = "trial"  # booked now through the API
    TRIAL_CANCELLED = "trial_cancelled"  # booked now, cancelled in its trial: suspend mode at once
    TRIAL_BACKDATED = "trial_backdated"  # booked days ago, its trial still running
    PAYING = "paying"  # booked 40-200 days ago with a method that pays: active, its past periods billed
    CANCEL_AT_TERM_END = "cancel_at_term_end"  # paying, then cancelled: active until its term ends
    DUNNING = "dunning"  # booked with a method that fails: active, in dunning with arrears
    NO_METHOD_SUSPENDED = "no_method_suspended"  # the trial ended without a payment method: suspend mode
    NO_METHOD_TERMINATED = "no_method_terminated"  # ... and suspend mode has ended too: terminated


EXPECTED_STATUS: dict[Kind, SubscriptionStatus] = {
    Kind.TRIAL: SubscriptionStatus.TRIALING,
    Kind.TRIAL_CANCELLED: SubscriptionStatus.SUSPENDED,
    Kind.TRIAL_BACKDATED: SubscriptionStatus.TRIALING,
    Kind.PAYING: SubscriptionStatus.ACTIVE,
    Kind.CANCEL_AT_TERM_END: SubscriptionStatus.ACTIVE,
    # A failed charge starts dunning at the moment it is made (now), not at the backdated period: the retries and
    # the suspension for non-payment are 3 and 7 days ahead, so a backdated failing method shows active in dunning.
    Kind.DUNNING: SubscriptionStatus.ACTIVE,
    Kind.NO_METHOD_SUSPENDED: SubscriptionStatus.SUSPENDED,
    Kind.NO_METHOD_TERMINATED: SubscriptionStatus.TERMINATED,
}

# Booking ages by kind, in days, kept two or more days clear of the moments that change the status (trial end at
# 30 days, end of suspend mode at 60), so the status is the same whenever within a day the plan is seeded.
BOOKED_DAYS_AGO: dict[Kind, tuple[float, float]] = {
    Kind.TRIAL: (0, 0),
    Kind.TRIAL_CANCELLED: (0, 0),
    Kind.TRIAL_BACKDATED: (2, 26),
    Kind.PAYING: (40, 200),
    Kind.CANCEL_AT_TERM_END: (40, 200),
    Kind.DUNNING: (33, 60),
    Kind.NO_METHOD_SUSPENDED: (34, 56),
    Kind.NO_METHOD_TERMINATED: (64, 180),
}


@dataclass(frozen=True)
class Slot:
    """The shape of one onboarding: where it is left and how many days ago it started (0: now, by the API)."""

    outcome: Outcome
    stage: StageId
    days_ago: float


_I, _F, _C = StageId.IDENTIFICATION, StageId.FEASIBILITY, StageId.COMMERCIAL
_N, _G = StageId.INTEGRATION, StageId.GO_LIVE
_LIVE, _OPEN, _HELD, _REJECTED = Outcome.LIVE, Outcome.IN_PROGRESS, Outcome.ON_HOLD, Outcome.REJECTED

# Start ages put each open onboarding on track, at risk or overdue by the SLA (42-day target; on track in a stage
# needs a start no longer ago than the budgets before it: 0, 5, 12, 22, 36 days). Live ones come first, so that
# the first ten of them take the ten categories.
SLOTS: dict[Scale, tuple[Slot, ...]] = {
    Scale.DEFAULT: (
        *(Slot(_LIVE, _G, days) for days in (21, 24, 26, 28, 30, 31, 33, 35, 37, 39, 47, 55)),
        Slot(_OPEN, _I, 0),  # on track
        Slot(_OPEN, _I, 8),  # at risk: the 5-day stage overran
        Slot(_HELD, _I, 3),
        Slot(_OPEN, _F, 3),  # on track
        Slot(_OPEN, _F, 16),  # at risk: the remaining budgets no longer fit
        Slot(_OPEN, _F, 48),  # overdue
        Slot(_HELD, _F, 10),
        Slot(_OPEN, _C, 9),
        Slot(_OPEN, _C, 26),
        Slot(_OPEN, _C, 60),
        Slot(_HELD, _C, 20),
        Slot(_OPEN, _N, 18),
        Slot(_OPEN, _N, 33),
        Slot(_OPEN, _N, 45),
        Slot(_OPEN, _G, 30),
        Slot(_OPEN, _G, 39),
        Slot(_OPEN, _G, 52),
        Slot(_REJECTED, _F, 12),
        Slot(_REJECTED, _C, 25),
        Slot(_REJECTED, _N, 40),
    ),
    Scale.SMALL: (
        Slot(_LIVE, _G, 25),
        Slot(_LIVE, _G, 30),
        Slot(_OPEN, _I, 8),  # at risk
        Slot(_OPEN, _F, 3),  # on track
        Slot(_HELD, _C, 10),
        Slot(_OPEN, _N, 45),  # overdue
        Slot(_OPEN, _G, 30),
        Slot(_REJECTED, _F, 12),
    ),
}

ISV_COUNT = {Scale.DEFAULT: 22, Scale.SMALL: 4}
SUBSCRIPTION_COUNTS: dict[Scale, dict[Kind, int]] = {
    Scale.DEFAULT: {
        Kind.TRIAL: 22,
        Kind.TRIAL_CANCELLED: 4,
        Kind.TRIAL_BACKDATED: 10,
        Kind.PAYING: 40,
        Kind.CANCEL_AT_TERM_END: 4,
        Kind.DUNNING: 4,
        Kind.NO_METHOD_SUSPENDED: 7,
        Kind.NO_METHOD_TERMINATED: 9,
    },
    Scale.SMALL: dict.fromkeys(Kind, 1),
}
# One partner per tier at least, the higher tiers rarer.
PARTNER_TIERS: dict[Scale, tuple[Tier, ...]] = {
    Scale.DEFAULT: (
        Tier.EXPERT_PLUS,
        Tier.EXPERT_PLUS,
        Tier.EXPERT,
        Tier.EXPERT,
        Tier.EXPERT,
        Tier.ADVANCED,
        Tier.ADVANCED,
        Tier.ADVANCED,
        Tier.BASIC,
        Tier.BASIC,
        Tier.BASIC,
        Tier.BASIC,
    ),
    Scale.SMALL: (Tier.EXPERT_PLUS, Tier.EXPERT, Tier.ADVANCED, Tier.BASIC),
}

HOLD_REASONS = (
    "Waiting for the ISV's ISO 27001 certificate",
    "ISV's legal department is reviewing the marketplace contract",
    "ISV is moving its hosting to a data centre in Frankfurt first",
    "Integration team busy with their SSO provider migration until next month",
)
REJECT_REASONS = (
    "Hosting only outside the EU; no German or EU data centre planned",
    "Revenue share expectations not compatible with the marketplace terms",
    "ISV withdrew: no integration capacity before next year",
    "Overlaps with an app already in the catalogue; no distinct offering for SMEs",
)
CANCEL_REASONS = ("Nur getestet, kein Bedarf", "Zu teuer für unser Team", "Wir bleiben bei unserer alten Lösung")
TERM_END_REASONS = ("Wechsel zu einer Branchenlösung", "Betrieb wird zum Jahresende aufgegeben")

PRICES_CENTS = (990, 1490, 1990, 2490, 2990, 3990, 4990, 7990, 9990)
REVENUE_SHARES = (60, 65, 70, 70, 75, 80, 85)
TIER_POINTS: dict[Tier, tuple[int, int]] = {
    Tier.EXPERT_PLUS: (45_000, 90_000),
    Tier.EXPERT: (15_000, 44_990),
    Tier.ADVANCED: (7_500, 14_990),
    Tier.BASIC: (500, 7_490),
}
LEGACY_LEVELS: dict[Tier, tuple[LegacyLevel, ...]] = {
    tier: tuple(level for level, placed in PROGRAMME.legacy_levels.items() if placed == tier) for tier in Tier
}
FAILING_METHODS: tuple[dict[str, Any], ...] = (  # activities/sandbox_gateway.py's test values that fail
    {"type": "credit_card", "token": "tok_declined"},
    {"type": "credit_card", "token": "tok_insufficient_funds"},
    {"type": "direct_debit", "iban": "DE49370400440000000051", "mandate_reference": "MREF-0051"},
    {"type": "direct_debit", "iban": "DE22370400440000000052", "mandate_reference": "MREF-0052"},
)
ADVANCE_COMMENTS: dict[StageId, str] = {
    StageId.IDENTIFICATION: "Kick-off call held, profile complete",
    StageId.FEASIBILITY: "Technical assessment and hosting check done",
    StageId.COMMERCIAL: "Contract countersigned",
    StageId.INTEGRATION: "Provisioning, billing and SSO tested in staging",
    StageId.GO_LIVE: "Listing approved, live in the catalogue",
}


@dataclass(frozen=True)
class OnboardingPlan:
    id: str
    request: dict[str, Any]  # the body of POST /onboardings
    outcome: Outcome
    stage: StageId  # the stage it is left in (go_live for live ones)
    days_ago: float
    terms: dict[str, Any]  # the body of PUT .../commercial-terms
    ticks: tuple[str, ...]  # checklist items already ticked in the stage it is left in
    terms_in_stage: bool  # left in commercial: terms already agreed
    reason: str | None  # of the hold or the rejection

    @property
    def isv_id(self) -> str:
        return str(self.request["isv"]["id"])

    @property
    def app_id(self) -> str:
        return str(self.request["app"]["id"])

    @property
    def category(self) -> str:
        return str(self.request["app"]["category"])


@dataclass(frozen=True)
class SubscriptionPlan:
    id: str
    body: dict[str, Any]  # the body of POST /subscriptions
    kind: Kind
    days_ago: float
    reason: str | None = None  # of the cancellation
    export: bool = False  # a data export is requested in suspend mode

    @property
    def app_id(self) -> str:
        return str(self.body["app_id"])

    @property
    def expected_status(self) -> SubscriptionStatus:
        return EXPECTED_STATUS[self.kind]

    @property
    def backdated(self) -> bool:
        return self.days_ago > 0


@dataclass(frozen=True)
class PartnerPlan:
    enrolment: dict[str, Any]  # the body of POST /partners
    tier: Tier
    contracts: tuple[dict[str, Any], ...]  # bodies of POST /partners/{id}/contracts

    @property
    def id(self) -> str:
        return str(self.enrolment["id"])


@dataclass(frozen=True)
class Plan:
    seed: int
    scale: Scale
    onboardings: tuple[OnboardingPlan, ...]
    subscriptions: tuple[SubscriptionPlan, ...]
    partners: tuple[PartnerPlan, ...]

    @property
    def live(self) -> tuple[OnboardingPlan, ...]:
        return tuple(plan for plan in self.onboardings if plan.outcome == Outcome.LIVE)

    @property
    def isv_ids(self) -> list[str]:
        return sorted({plan.isv_id for plan in self.onboardings})


def build_plan(seed: int, scale: Scale, partner_manager: str = "pm-anna", account_manager: str = "am-bernd") -> Plan:
    """The whole marketplace for `seed`; `partner_manager` and `account_manager` (the subjects of the stack's keys)
    get most of the work, so their own lists in the console are full."""
    rng = random.Random(f"partnerflow-demo-{seed}-{scale.value}")
    onboardings = _onboardings(rng, scale, partner_manager)
    partners = _partners(rng, scale, account_manager)
    live = [plan for plan in onboardings if plan.outcome == Outcome.LIVE]
    subscriptions = _subscriptions(rng, scale, live, partners)
    return Plan(seed, scale, tuple(onboardings), tuple(subscriptions), tuple(partners))


# --- onboardings --------------------------------------------------------------------------------


def _onboardings(rng: random.Random, scale: Scale, partner_manager: str) -> list[OnboardingPlan]:
    slots = SLOTS[scale]
    categories = balanced_categories(rng, len(slots))
    owners = _owners(rng, ISV_COUNT[scale], categories)
    used_names: set[str] = set()
    plans = []
    for slot, category, (isv_id, isv_name) in zip(slots, categories, owners, strict=True):
        app_name = rng.choice([name for name in names.APPS[category] if name not in used_names])
        used_names.add(app_name)
        app_id = f"{isv_id}-{names.slug(app_name)}"
        managers = (partner_manager, partner_manager, partner_manager, *names.PARTNER_MANAGERS)
        request = {
            "isv": {"id": isv_id, "name": isv_name, "contact_email": f"partner@{isv_id}.example"},
            "app": {"id": app_id, "name": app_name, "category": category.value},
            "partner_manager": rng.choice(managers),
        }
        checklist = [c.id for c in ONBOARDING.stage(slot.stage).criteria if c.source == CriterionSource.CHECKLIST]
        # A prefix, in the config's order: the endpoint is registered before the connector test can pass.
        ticks = () if slot.outcome == Outcome.LIVE else tuple(checklist[: rng.randint(0, max(len(checklist) - 1, 0))])
        reasons = HOLD_REASONS if slot.outcome == Outcome.ON_HOLD else REJECT_REASONS
        plans.append(
            OnboardingPlan(
                id=onboarding_id(isv_id, app_id),
                request=request,
                outcome=slot.outcome,
                stage=slot.stage,
                # Hours of jitter: starts that are not all at the same time of day (the SLA band is unchanged).
                days_ago=slot.days_ago + rng.uniform(0.0, 0.9) if slot.days_ago else 0.0,
                terms=draw_terms(rng),
                ticks=ticks,
                terms_in_stage=slot.stage == StageId.COMMERCIAL and rng.random() < 0.6,
                reason=rng.choice(reasons) if slot.outcome in (Outcome.ON_HOLD, Outcome.REJECTED) else None,
            )
        )
    return plans


def balanced_categories(rng: random.Random, count: int) -> list[Category]:
    """Each round of ten takes every category once: the first ten (the live apps) cover the portfolio, and no
    category has more apps than it has names."""
    categories: list[Category] = []
    while len(categories) < count:
        round_ = list(Category)
        rng.shuffle(round_)
        categories += round_
    return categories[:count]


def _owners(rng: random.Random, isv_count: int, categories: list[Category]) -> list[tuple[str, str]]:
    """The ISV of each app: every ISV has one, some have two, never two in the same category."""
    isvs = rng.sample(names.ISVS, isv_count)
    owners = isvs + rng.sample(isvs, len(categories) - isv_count)
    for _ in range(1_000):
        rng.shuffle(owners)
        pairs = {(isv[0], category) for isv, category in zip(owners, categories, strict=True)}
        if len(pairs) == len(owners):
            return owners
    raise RuntimeError("could not give each ISV apps of different categories")  # pragma: no cover


def draw_terms(rng: random.Random) -> dict[str, Any]:
    monthly = rng.choice(PRICES_CENTS)
    plans = [
        {"term_months": 1, "monthly_price_cents": monthly},
        {"term_months": 12, "monthly_price_cents": _price(monthly * 0.85)},
    ]
    if rng.random() < 0.5:
        plans.append({"term_months": 24, "monthly_price_cents": _price(monthly * 0.75)})
    return {"revenue_share_percent": rng.choice(REVENUE_SHARES), "trial_days": 30, "plans": plans}


def _price(cents: float) -> int:
    """A shelf price: whole euros less ten cents (14.90, 19.90 ...)."""
    return max(90, round(cents / 100) * 100 - 10)


# --- channel partners ---------------------------------------------------------------------------


def _partners(rng: random.Random, scale: Scale, account_manager: str) -> list[PartnerPlan]:
    tiers = PARTNER_TIERS[scale]
    chosen = rng.sample(names.PARTNERS, len(tiers))
    managers = (account_manager, account_manager, account_manager, *names.ACCOUNT_MANAGERS)
    plans = []
    for (partner_id, partner_name), tier in zip(chosen, tiers, strict=True):
        enrolment = draw_enrolment(rng, partner_id, partner_name, tier, rng.choice(managers))
        contracts = tuple(draw_contract(rng) for _ in range(rng.randint(1, 2 if scale == Scale.SMALL else 4)))
        plans.append(PartnerPlan(enrolment, tier, contracts))
    return plans


def draw_enrolment(rng: random.Random, partner_id: str, name: str, tier: Tier, account_manager: str) -> dict[str, Any]:
    """The body of POST /partners for a partner the programme places in `tier`: last year's points in the tier's
    range, or a level of the old programme that maps to it."""
    enrolment: dict[str, Any] = {"id": partner_id, "name": name, "account_manager": account_manager}
    legacy = LEGACY_LEVELS[tier]
    if legacy and rng.random() < 0.35:
        enrolment["legacy_level"] = rng.choice(legacy).value  # came over from the old programme
    else:
        low, high = TIER_POINTS[tier]
        enrolment["last_year_points"] = rng.randrange(low, high + 1, 10)
    placed = initial_tier(Enrolment.model_validate(enrolment))
    assert placed == tier, f"{partner_id} would be placed {placed}, not {tier}"
    return enrolment


def draw_contract(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(
        [
            ContractKind.NEW_CUSTOMER_CONTRACT,
            ContractKind.EXISTING_CUSTOMER_CONTRACT,
            ContractKind.FIXED_LINE_ORDER,
            ContractKind.DIGITAL_PHONE_LICENSES,
            ContractKind.UNITE_POOL_VOLUME,
        ]
    )
    event: dict[str, Any] = {"reference_id": f"AUF-{rng.randrange(100_000, 1_000_000)}", "kind": kind.value}
    match kind:
        case ContractKind.DIGITAL_PHONE_LICENSES:
            event["quantity"] = rng.randint(5, 120)
        case ContractKind.UNITE_POOL_VOLUME:
            event["quantity"] = rng.randrange(50, 2_001, 50)
        case _:
            event["monthly_value_cents"] = rng.choice((2_990, 4_990, 7_990, 12_990, 19_990, 39_990))
    return event


# --- subscriptions ------------------------------------------------------------------------------


def _subscriptions(
    rng: random.Random, scale: Scale, live: list[OnboardingPlan], partners: list[PartnerPlan]
) -> list[SubscriptionPlan]:
    kinds = [kind for kind, count in SUBSCRIPTION_COUNTS[scale].items() for _ in range(count)]
    rng.shuffle(kinds)
    # Some apps sell better than others.
    popularity = [rng.uniform(0.3, 3.0) for _ in live]
    customers: list[dict[str, Any]] = []
    taken: set[str] = set()
    plans: list[SubscriptionPlan] = []
    first_paying = True
    for kind in kinds:
        failing = kind == Kind.DUNNING
        customer = _returning_customer(rng, customers) if not failing and rng.random() < 0.15 else None
        if customer is None:
            customer = draw_customer(rng, {c["id"] for c in customers})
            customers.append(customer)
        app = _pick_app(rng, live, popularity, customer["id"], taken)
        ident = subscription_id(customer["id"], app.app_id)
        taken.add(ident)
        body: dict[str, Any] = {
            "customer": customer,
            "app_id": app.app_id,
            "term_months": _term(rng, app, kind),
            "payment_method": _method(rng, kind, customer),
        }
        # Partners sell some of them; one paying subscription at least, so a partner earns points by itself.
        if kind in (Kind.PAYING, Kind.TRIAL, Kind.TRIAL_BACKDATED) and (
            (kind == Kind.PAYING and first_paying) or rng.random() < 0.2
        ):
            weights = [{Tier.EXPERT_PLUS: 4, Tier.EXPERT: 3, Tier.ADVANCED: 2, Tier.BASIC: 1}[p.tier] for p in partners]
            body["channel_partner_id"] = rng.choices(partners, weights)[0].id
        first_paying = first_paying and kind != Kind.PAYING
        low, high = BOOKED_DAYS_AGO[kind]
        plans.append(
            SubscriptionPlan(
                id=ident,
                body=body,
                kind=kind,
                days_ago=rng.uniform(low, high) if high else 0.0,
                reason=_cancel_reason(rng, kind),
                export=kind == Kind.TRIAL_CANCELLED and rng.random() < 0.5,
            )
        )
    return plans


def draw_customer(rng: random.Random, ids: set[str]) -> dict[str, Any]:
    while True:
        (trade, legal), surname, town = rng.choice(names.TRADES), rng.choice(names.SURNAMES), rng.choice(names.TOWNS)
        ident = names.slug(f"{trade} {surname} {town}")
        if ident not in ids:
            break
    employees = rng.choices(
        [rng.randint(1, 9), rng.randint(10, 49), rng.randint(50, 249), rng.randint(250, 500)], [40, 35, 20, 5]
    )[0]
    customer: dict[str, Any] = {"id": ident, "name": f"{trade} {surname}{legal}", "employees": employees}
    if rng.random() < 0.7:  # Telekom fixed-line customers can pay by phone bill
        customer["telekom_customer_number"] = str(rng.randrange(10_000_000, 1_000_000_000))
    return customer


def _returning_customer(rng: random.Random, customers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A customer who books a second app."""
    return rng.choice(customers) if customers else None


def _pick_app(
    rng: random.Random, live: list[OnboardingPlan], popularity: list[float], customer: str, taken: set[str]
) -> OnboardingPlan:
    """A live app this customer has not booked yet (one subscription per customer and app)."""
    pairs = zip(live, popularity, strict=True)
    open_apps = [(app, weight) for app, weight in pairs if subscription_id(customer, app.app_id) not in taken]
    return rng.choices([app for app, _ in open_apps], [weight for _, weight in open_apps])[0]


def _term(rng: random.Random, app: OnboardingPlan, kind: Kind) -> int:
    offered = [plan["term_months"] for plan in app.terms["plans"]]
    if kind == Kind.CANCEL_AT_TERM_END:
        offered = [term for term in offered if term > 1]  # a term end months away, so it stays active meanwhile
    weights = [{1: 30, 12: 55, 24: 15}[term] for term in offered]
    return int(rng.choices(offered, weights)[0])


def _method(rng: random.Random, kind: Kind, customer: dict[str, Any]) -> dict[str, Any] | None:
    match kind:
        case Kind.NO_METHOD_SUSPENDED | Kind.NO_METHOD_TERMINATED:
            return None
        case Kind.DUNNING:
            method = dict(rng.choice(FAILING_METHODS))
            if method["type"] == "direct_debit":
                method["account_holder"] = customer["name"]
            return method
        case Kind.TRIAL | Kind.TRIAL_BACKDATED | Kind.TRIAL_CANCELLED if rng.random() < 0.3:
            return None  # still deciding how to pay
        case _:
            return paying_method(rng, customer)


def paying_method(rng: random.Random, customer: dict[str, Any]) -> dict[str, Any]:
    """Any token or valid IBAN the sandbox does not list pays (docs/payments-sandbox.md)."""
    kind = rng.choices(["credit_card", "direct_debit", "phone_bill", "paypal"], [35, 30, 20, 15])[0]
    if kind == "phone_bill" and "telekom_customer_number" in customer:
        return {"type": "phone_bill"}
    if kind == "direct_debit":
        return {
            "type": "direct_debit",
            "iban": german_iban(rng),
            "mandate_reference": f"MREF-{rng.randrange(10_000_000, 100_000_000)}",
            "account_holder": customer["name"],
        }
    token_type = "paypal" if kind == "paypal" else "credit_card"
    return {"type": token_type, "token": f"tok_{rng.getrandbits(48):012x}"}


def german_iban(rng: random.Random) -> str:
    """A valid German IBAN (ISO 13616 check digits) for a random bank code and account."""
    bban = f"{rng.randrange(10_000_000, 100_000_000)}{rng.randrange(0, 10**10):010d}"
    check = 98 - int(f"{bban}131400") % 97  # "DE00" moved to the end, letters as numbers (D=13, E=14)
    return f"DE{check:02d}{bban}"


def _cancel_reason(rng: random.Random, kind: Kind) -> str | None:
    if kind == Kind.TRIAL_CANCELLED:
        return rng.choice(CANCEL_REASONS)
    if kind == Kind.CANCEL_AT_TERM_END:
        return rng.choice(TERM_END_REASONS)
    return None
