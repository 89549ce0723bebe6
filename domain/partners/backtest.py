"""A policy backtest: a recorded programme year replayed under today's policy and under an alternative one.

The replay drives the live programme's own rules (domain.partners.rules): points per event, the quality report and
its bad streak, when a termination review opens, what a review decision does, and the year-end decision. Under
today's policy it reaches the recorded year-end decisions.

What people decided stays as recorded: a review decision applies to the review the replay has open at that moment
(a retain starts the bad streak again), and a termination ends the partnership under either policy. A review the
alternative opens that nobody decided stays open to the year end.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.partners import rules
from domain.partners.config import ContractKind, ProgrammeConfig, Tier
from domain.partners.model import (
    ContractEvent,
    DecideReview,
    PartnerState,
    PartnerStatus,
    QualityMetrics,
    ReviewDecision,
    TierChange,
    TierDecision,
)
from domain.partners.policy import PartnerPolicy

ProgrammeYear = Annotated[int, Field(ge=2000, le=2999)]


class BacktestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: ProgrammeYear
    policy: PartnerPolicy = PartnerPolicy()


# --- what the store recorded of a partner's year -------------------------------------------------


class LedgerGroup(BaseModel):
    """`count` identical events of the points ledger: points depend on kind, quantity and value only."""

    kind: ContractKind
    quantity: int
    monthly_value_cents: int
    count: int


class RecordedReport(BaseModel):
    period_end: datetime
    created_at: datetime
    metrics: QualityMetrics


class RecordedReviewDecision(BaseModel):
    at: datetime
    decision: ReviewDecision


class PartnerYear(BaseModel):
    """One partner's programme year as recorded: the tier it started in, the year's ledger, and every quality
    report and review decision up to the year end (earlier years' too: a bad streak carries over)."""

    partner_id: str
    name: str
    account_manager: str
    year: int
    start_tier: Tier
    contracts: list[LedgerGroup] = Field(default_factory=list)
    reports: list[RecordedReport] = Field(default_factory=list)
    review_decisions: list[RecordedReviewDecision] = Field(default_factory=list)


# --- the replay ----------------------------------------------------------------------------------


class Outcome(BaseModel):
    """A partner's year under one policy."""

    points: int
    decision: TierDecision | None  # None: the partnership ended during the year
    reviews: int  # termination reviews opened in the year


def replay(record: PartnerYear, config: ProgrammeConfig) -> Outcome:
    year_started_at, year_ends_at = rules.year_end(record.year - 1, config), rules.year_end(record.year, config)
    state = PartnerState(
        id=record.partner_id,
        name=record.name,
        account_manager=record.account_manager,
        tier=record.start_tier,
        enrolled_at=year_started_at,
        year=record.year,
        year_started_at=year_started_at,
        year_ends_at=year_ends_at,
        next_report_at=year_started_at,
        last_report_at=year_started_at,
    )
    state.points = sum(group.count * rules.points_for(_event(group), config) for group in record.contracts)
    reviews = 0
    steps: list[tuple[datetime, int, RecordedReport | RecordedReviewDecision]] = [
        *((report.created_at, 0, report) for report in record.reports),
        *((decision.at, 1, decision) for decision in record.review_decisions),
    ]
    for at, _, step in sorted(steps, key=lambda item: item[:2]):
        if isinstance(step, RecordedReport):
            rules.file_quality_report(state, step.metrics, at, config)
            if rules.review_due(state, config):
                rules.open_review(state, at, config)
                reviews += step.period_end > year_started_at  # a review of last year's last quarter is last year's
        elif state.open_review is not None or step.decision == ReviewDecision.TERMINATE:
            rules.apply_review_decision(state, DecideReview(actor="recorded", decision=step.decision, note="-"), at)
        if state.status == PartnerStatus.TERMINATED:
            return Outcome(points=state.points, decision=None, reviews=reviews)
    return Outcome(points=state.points, decision=rules.decide_year_end(state, year_ends_at, config), reviews=reviews)


def _event(group: LedgerGroup) -> ContractEvent:
    return ContractEvent(
        reference_id="replayed",
        kind=group.kind,
        quantity=group.quantity,
        monthly_value_cents=group.monthly_value_cents,
    )


# --- one partner, two policies -------------------------------------------------------------------


class Move(StrEnum):
    """The alternative's year-end tier against today's."""

    HIGHER = "higher"
    SAME = "same"
    LOWER = "lower"


class BacktestLine(BaseModel):
    partner_id: str
    start_tier: Tier
    points_today: int
    points_alternative: int
    tier_today: Tier | None  # None: the partnership ended during the year
    tier_alternative: Tier | None
    change_today: TierChange | None
    change_alternative: TierChange | None
    reviews_today: int
    reviews_alternative: int
    move: Move
    why: str


def compare(record: PartnerYear, today: ProgrammeConfig, alternative: ProgrammeConfig) -> BacktestLine:
    now, then = replay(record, today), replay(record, alternative)
    return BacktestLine(
        partner_id=record.partner_id,
        start_tier=record.start_tier,
        points_today=now.points,
        points_alternative=then.points,
        tier_today=now.decision.to_tier if now.decision else None,
        tier_alternative=then.decision.to_tier if then.decision else None,
        change_today=now.decision.change if now.decision else None,
        change_alternative=then.decision.change if then.decision else None,
        reviews_today=now.reviews,
        reviews_alternative=then.reviews,
        move=_move(now.decision, then.decision),
        why=_why(now, then),
    )


def _move(today: TierDecision | None, alternative: TierDecision | None) -> Move:
    if today is None or alternative is None:
        return Move.SAME
    order = rules.TIER_ORDER.index
    difference = order(alternative.to_tier) - order(today.to_tier)
    return Move.HIGHER if difference > 0 else Move.LOWER if difference < 0 else Move.SAME


def _why(today: Outcome, alternative: Outcome) -> str:
    why = f"today: {_reason(today)}; alternative: {_reason(alternative)}"
    if today.reviews != alternative.reviews:
        why += f"; termination reviews: {today.reviews} today, {alternative.reviews} under the alternative"
    return why


def _reason(outcome: Outcome) -> str:
    decision = outcome.decision
    if decision is None:
        return f"{outcome.points:,} points, the partnership ended during the year"
    start, end = decision.from_tier.value, decision.to_tier.value
    if decision.change == TierChange.UPGRADE:
        return f"{decision.points:,} points reach {end} (from {decision.reached_threshold:,}), up from {start}"
    if decision.change == TierChange.KEEP:
        return f"{decision.points:,} points keep {start} (needs {decision.kept_threshold:,})"
    return f"{decision.points:,} points miss {start} (needs {decision.kept_threshold:,}), down to {end}"


# --- totals --------------------------------------------------------------------------------------


class PolicyTotals(BaseModel):
    """One policy's year end over every partner."""

    tiers: dict[Tier, int] = Field(default_factory=lambda: dict.fromkeys(rules.TIER_ORDER, 0))
    upgrades: int = 0
    downgrades: int = 0
    kept: int = 0
    ended: int = 0  # partnerships that ended during the year
    termination_reviews: int = 0

    def add(self, tier: Tier | None, change: TierChange | None, reviews: int) -> "PolicyTotals":
        tiers = dict(self.tiers)
        if tier is not None:
            tiers[tier] += 1
        return PolicyTotals(
            tiers=tiers,
            upgrades=self.upgrades + (change == TierChange.UPGRADE),
            downgrades=self.downgrades + (change == TierChange.DOWNGRADE),
            kept=self.kept + (change == TierChange.KEEP),
            ended=self.ended + (change is None),
            termination_reviews=self.termination_reviews + reviews,
        )


class BacktestTotals(BaseModel):
    partners: int = 0
    today: PolicyTotals = PolicyTotals()
    alternative: PolicyTotals = PolicyTotals()
    higher: int = 0  # partners whose tier the alternative puts higher than today's policy does
    lower: int = 0

    def add(self, lines: list[BacktestLine]) -> "BacktestTotals":
        totals = self
        for line in lines:
            totals = BacktestTotals(
                partners=totals.partners + 1,
                today=totals.today.add(line.tier_today, line.change_today, line.reviews_today),
                alternative=totals.alternative.add(
                    line.tier_alternative, line.change_alternative, line.reviews_alternative
                ),
                higher=totals.higher + (line.move == Move.HIGHER),
                lower=totals.lower + (line.move == Move.LOWER),
            )
        return totals


def resolved(policy: PartnerPolicy, today: ProgrammeConfig) -> PartnerPolicy:
    """The whole alternative a request means: its changes over today's policy."""
    return PartnerPolicy.of(policy.applied_to(today))


# --- what the backtest workflow hands its activities ---------------------------------------------


class BacktestStart(BaseModel):
    backtest_id: str
    year: int


class PartnerYearQuery(BaseModel):
    """A page of the year's partners, in id order, after `after`."""

    year: int
    year_ends_at: datetime
    after: str | None = None
    limit: int


class PartnerYearPage(BaseModel):
    partners: list[PartnerYear]


class BacktestBatch(BaseModel):
    backtest_id: str
    lines: list[BacktestLine]
    done: int  # partners replayed so far, these included


class BacktestCompletion(BaseModel):
    backtest_id: str
    totals: BacktestTotals
    at: datetime
