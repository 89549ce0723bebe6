"""Small builders for the domain unit tests: an onboarding at a given stage, commercial terms, times."""

from datetime import UTC, datetime, timedelta

from domain.catalogue import Category, CommercialTerms, Plan
from domain.onboarding import rules
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from domain.onboarding.model import (
    AdvanceCommand,
    AppProfile,
    ChecklistCommand,
    HoldCommand,
    IsvProfile,
    OnboardingRequest,
    OnboardingState,
    ResumeCommand,
    SetTermsCommand,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PM = "pm-anna"
ACTOR = "pm-anna"


def days(n: float) -> timedelta:
    return timedelta(days=n)


def at(day: float) -> datetime:
    """The instant `day` days after the onboarding started."""
    return T0 + days(day)


def request(partner_manager: str = PM, category: Category = Category.CRM) -> OnboardingRequest:
    return OnboardingRequest(
        isv=IsvProfile(id="acme", name="Acme GmbH", contact_email="partners@acme.example"),
        app=AppProfile(id="acme-crm", name="Acme CRM", category=category),
        partner_manager=partner_manager,
    )


def new_onboarding(now: datetime = T0, partner_manager: str = PM) -> OnboardingState:
    return rules.start("acme-acme-crm", request(partner_manager), ACTOR, now)


def terms(
    share: float = 20.0, plans: tuple[tuple[int, int], ...] = ((1, 1_000), (12, 900), (24, 800))
) -> CommercialTerms:
    return CommercialTerms(
        revenue_share_percent=share,
        plans=[Plan(term_months=term, monthly_price_cents=price) for term, price in plans],
    )


def tick(state: OnboardingState, item: str, now: datetime, actor: str = ACTOR) -> None:
    command = ChecklistCommand(actor=actor, item=item)
    rules.check_checklist(state, command)
    rules.apply_complete_item(state, command, now)


def checklist_items(stage: StageId) -> list[str]:
    """The items of `stage` a partner manager ticks by hand."""
    return [c.id for c in ONBOARDING.stage(stage).criteria if c.source == CriterionSource.CHECKLIST]


def meet_exit_criteria(state: OnboardingState, now: datetime) -> None:
    """Tick every checklist item of the current stage and, in the commercial stage, agree terms."""
    if state.stage == StageId.COMMERCIAL and state.terms is None:
        command = SetTermsCommand(actor=ACTOR, terms=terms())
        rules.check_set_terms(state, command)
        rules.apply_set_terms(state, command, now)
    for item in checklist_items(state.stage):
        tick(state, item, now)


def advance(state: OnboardingState, now: datetime, actor: str = ACTOR) -> None:
    """Meet the current stage's exit criteria and leave it, as a partner manager would."""
    meet_exit_criteria(state, now)
    command = AdvanceCommand(actor=actor)
    rules.check_advance(state, command)
    rules.apply_advance(state, command, now)


def onboarding_in(stage: StageId, now: datetime = T0) -> OnboardingState:
    """An onboarding started at `now` and advanced, all at `now`, to `stage` (nothing of `stage` done yet)."""
    state = new_onboarding(now)
    while state.stage != stage:
        advance(state, now)
    return state


def hold(state: OnboardingState, now: datetime, reason: str = "waiting for the ISV") -> None:
    command = HoldCommand(actor=ACTOR, reason=reason)
    rules.check_hold(state, command)
    rules.apply_hold(state, command, now)


def resume(state: OnboardingState, now: datetime) -> None:
    command = ResumeCommand(actor=ACTOR)
    rules.check_resume(state, command)
    rules.apply_resume(state, command, now)
