"""The programme's rules: tiers by points, points per event, the year-end decision, quality and reviews."""

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from domain.billing_calendar import add_months
from domain.errors import CommandRefused
from domain.partners.config import PROGRAMME, ProgrammeConfig, Tier
from domain.partners.model import (
    ContractEvent,
    DecideReview,
    Enrolment,
    HistoryEntry,
    PartnerState,
    PartnerStatus,
    PartnerView,
    QualityMetrics,
    QualityReport,
    RecordContracts,
    Review,
    ReviewDecision,
    TierChange,
    TierDecision,
)

TIER_ORDER = (Tier.BASIC, Tier.ADVANCED, Tier.EXPERT, Tier.EXPERT_PLUS)


# --- tiers and points ------------------------------------------------------------------------


def threshold(tier: Tier, config: ProgrammeConfig = PROGRAMME) -> int:
    return dict(config.tier_thresholds)[tier]


def tier_for(points: int, config: ProgrammeConfig = PROGRAMME) -> Tier:
    return next(tier for tier, lowest in config.tier_thresholds if points >= lowest)


def initial_tier(enrolment: Enrolment, config: ProgrammeConfig = PROGRAMME) -> Tier:
    if enrolment.legacy_level is not None:
        return config.legacy_levels[enrolment.legacy_level]
    return tier_for(enrolment.last_year_points or 0, config)


def points_for(event: ContractEvent, config: ProgrammeConfig = PROGRAMME) -> int:
    rule = config.points_catalogue[event.kind]
    # Exact decimal arithmetic: in floats 0.7 points/EUR * 110 EUR is 76.99999999999999, floored to 76, not 77.
    value = Fraction(str(rule.per_euro_monthly)) * event.monthly_value_cents / 100
    return rule.base + rule.per_unit * event.quantity + math.floor(value)


def decide_year_end(state: PartnerState, now: datetime, config: ProgrammeConfig = PROGRAMME) -> TierDecision:
    """Missed the current tier's target: down to the tier the points reach; above a higher threshold: up."""
    reached = tier_for(state.points, config)
    order = TIER_ORDER.index
    change = (
        TierChange.UPGRADE
        if order(reached) > order(state.tier)
        else TierChange.DOWNGRADE
        if order(reached) < order(state.tier)
        else TierChange.KEEP
    )
    return TierDecision(
        partner_id=state.id,
        year=state.year,
        points=state.points,
        from_tier=state.tier,
        to_tier=reached,
        change=change,
        kept_threshold=threshold(state.tier, config),
        reached_threshold=threshold(reached, config),
        decided_at=now,
    )


# --- the programme year ----------------------------------------------------------------------


def year_end(year: int, config: ProgrammeConfig = PROGRAMME) -> datetime:
    """The instant programme year `year` ends: the day after its last day, 00:00 UTC."""
    return datetime(year, config.year_end_month, config.year_end_day, tzinfo=UTC) + timedelta(days=1)


def programme_year(now: datetime, config: ProgrammeConfig = PROGRAMME) -> int:
    return now.year if now < year_end(now.year, config) else now.year + 1


def next_quarter_end(after: datetime, config: ProgrammeConfig = PROGRAMME) -> datetime:
    """The next report date after `after`: the ends of the year's quarters (1 Apr, 1 Jul, 1 Oct, 1 Jan 00:00 UTC)."""
    moment = datetime(after.year, 1, 1, tzinfo=UTC)
    while moment <= after:
        moment = add_months(moment, config.quality_report_months)
    return moment


def enrol(enrolment: Enrolment, actor: str, now: datetime, config: ProgrammeConfig = PROGRAMME) -> PartnerState:
    year = programme_year(now, config)
    tier = initial_tier(enrolment, config)
    state = PartnerState(
        id=enrolment.id,
        name=enrolment.name,
        account_manager=enrolment.account_manager,
        tier=tier,
        enrolled_at=now,
        year=year,
        year_started_at=now,
        year_ends_at=year_end(year, config),
        last_year_points=enrolment.last_year_points or 0,
        next_report_at=next_quarter_end(now, config),
        last_report_at=now,
    )
    placement = (
        f"legacy level {enrolment.legacy_level.value}"
        if enrolment.legacy_level
        else f"{enrolment.last_year_points} points last year"
    )
    note(state, actor, "enrolled", now, f"tier {tier.value} by {placement}")
    return state


def start_next_year(state: PartnerState, decision: TierDecision, config: ProgrammeConfig = PROGRAMME) -> None:
    state.decisions = [*state.decisions[-9:], decision]
    state.tier = decision.to_tier
    state.last_year_points = state.points
    state.points = 0
    state.events_counted = 0
    state.year += 1
    state.year_started_at = state.year_ends_at
    state.year_ends_at = year_end(state.year, config)
    state.history = state.history[-50:]  # older years stay in Temporal's history and the store
    note(
        state,
        "system",
        f"tier_{decision.change.value}",
        decision.decided_at,
        f"{decision.year}: {decision.points} points, {decision.from_tier.value} -> {decision.to_tier.value}",
    )


def note(state: PartnerState, actor: str, action: str, at: datetime, detail: str | None = None) -> None:
    state.history.append(HistoryEntry(at=at, actor=actor, action=action, detail=detail))


# --- quality ---------------------------------------------------------------------------------


def failing_thresholds(metrics: QualityMetrics, config: ProgrammeConfig = PROGRAMME) -> list[str]:
    """The thresholds a quarter missed; what could not be measured (no invoices, no usage report) misses nothing."""
    limits = config.quality
    failing = []
    if metrics.paid_on_time_share is not None and metrics.paid_on_time_share < limits.min_paid_on_time_share:
        failing.append("paid_on_time_share")
    if metrics.churn_share is not None and metrics.churn_share > limits.max_churn_share:
        failing.append("churn_share")
    if metrics.usage_share is not None and metrics.usage_share < limits.min_usage_share:
        failing.append("usage_share")
    return failing


def file_quality_report(
    state: PartnerState, metrics: QualityMetrics, now: datetime, config: ProgrammeConfig = PROGRAMME
) -> QualityReport:
    """Records a quarter's report; reports never change points, but three bad ones in a row open a review."""
    failing = failing_thresholds(metrics, config)
    state.bad_streak = state.bad_streak + 1 if failing else 0
    report = QualityReport(
        partner_id=state.id,
        period_start=state.last_report_at,
        period_end=state.next_report_at,
        metrics=metrics,
        failing=failing,
        below_thresholds=bool(failing),
        bad_streak=state.bad_streak,
        created_at=now,
    )
    state.last_report_at = state.next_report_at
    state.next_report_at = next_quarter_end(state.next_report_at, config)
    return report


def review_due(state: PartnerState, config: ProgrammeConfig = PROGRAMME) -> bool:
    return state.open_review is None and state.bad_streak >= config.consecutive_bad_reports_for_review


def open_review(state: PartnerState, now: datetime, config: ProgrammeConfig = PROGRAMME) -> Review:
    review = Review(
        opened_at=now,
        escalate_at=now + timedelta(days=config.review_escalation_days),
        reason=f"{state.bad_streak} consecutive quality reports below the thresholds",
    )
    state.open_review = review
    note(state, "system", "review_opened", now, review.reason)
    return review


def escalation_due(state: PartnerState, now: datetime) -> bool:
    review = state.open_review
    return review is not None and review.escalated_at is None and now >= review.escalate_at


def check_contracts(state: PartnerState, command: RecordContracts) -> None:
    check_active(state)


def check_active(state: PartnerState) -> None:
    if state.status == PartnerStatus.TERMINATED:
        raise CommandRefused("partnership_terminated", f"the partnership with {state.id} has been terminated")


def check_review_decision(state: PartnerState, command: DecideReview) -> None:
    check_active(state)
    if state.open_review is None:
        raise CommandRefused("no_open_review", f"partner {state.id} has no open termination review")


def apply_review_decision(state: PartnerState, command: DecideReview, now: datetime) -> None:
    state.open_review = None
    note(state, command.actor, f"review_{command.decision.value}", now, command.note)
    if command.decision == ReviewDecision.TERMINATE:
        state.status = PartnerStatus.TERMINATED
        state.terminated_at = now
    else:
        state.bad_streak = 0  # retained: the count of bad quarters starts again


# --- read model ------------------------------------------------------------------------------


def projection(state: PartnerState, now: datetime, config: ProgrammeConfig = PROGRAMME) -> tuple[Tier, str]:
    """The tier the year's points would reach at the current pace, and how it was projected. Before
    `projection_min_days` of the partner's programme year have passed, the points so far, not extrapolated."""
    elapsed = now - state.year_started_at
    length = state.year_ends_at - state.year_started_at
    if length <= timedelta() or elapsed < timedelta(days=config.projection_min_days):
        basis = f"the points so far: fewer than {config.projection_min_days} days of the programme year have passed"
        return tier_for(state.points, config), basis
    pace = max(length / elapsed, 1.0)
    basis = (
        f"the points so far at the pace of the {elapsed.days} days since {state.year_started_at:%Y-%m-%d}, "
        f"to the year end on {state.year_ends_at:%Y-%m-%d}"
    )
    return tier_for(math.floor(state.points * pace), config), basis


def projected_tier(state: PartnerState, now: datetime, config: ProgrammeConfig = PROGRAMME) -> Tier:
    return projection(state, now, config)[0]


def view(state: PartnerState, now: datetime, config: ProgrammeConfig = PROGRAMME) -> PartnerView:
    position = TIER_ORDER.index(state.tier)
    projected, basis = projection(state, now, config)
    next_tier = TIER_ORDER[position + 1] if position + 1 < len(TIER_ORDER) else None
    return PartnerView(
        id=state.id,
        name=state.name,
        account_manager=state.account_manager,
        status=state.status,
        tier=state.tier,
        year=state.year,
        year_ends_at=state.year_ends_at,
        points=state.points,
        last_year_points=state.last_year_points,
        events_counted=state.events_counted,
        points_to_next_tier=max(threshold(next_tier, config) - state.points, 0) if next_tier else None,
        next_tier=next_tier,
        points_to_keep_tier=max(threshold(state.tier, config) - state.points, 0),
        projected_tier=projected,
        projection_basis=basis,
        open_review=state.open_review,
        bad_streak=state.bad_streak,
        next_report_at=state.next_report_at,
        decisions=state.decisions,
        history=state.history,
    )
