"""Small builders for the partner programme rule tests: an enrolment, an enrolled partner, events, quarters."""

from datetime import UTC, datetime, timedelta

from domain.partners import rules
from domain.partners.config import ContractKind, LegacyLevel, Tier
from domain.partners.model import (
    ContractEvent,
    DecideReview,
    Enrolment,
    PartnerState,
    QualityMetrics,
    ReviewDecision,
)

PARTNER_ID = "telesales-nord"
AM = "am-anna"
SYSTEM = "system"
NEW_YEAR_2025 = datetime(2025, 1, 1, tzinfo=UTC)  # programme year 2025 starts
NEW_YEAR_2026 = datetime(2026, 1, 1, tzinfo=UTC)  # programme year 2025 ends, 2026 starts
MID_YEAR = datetime(2025, 8, 15, 10, 30, tzinfo=UTC)

GOOD = QualityMetrics(paid_on_time_share=0.97, usage_share=0.80, churn_share=0.02, invoices=40)
BAD = QualityMetrics(paid_on_time_share=0.70, usage_share=0.80, churn_share=0.02, invoices=40)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def enrolment(last_year_points: int | None = 0, legacy_level: LegacyLevel | None = None) -> Enrolment:
    return Enrolment(
        id=PARTNER_ID,
        name="Telesales Nord GmbH",
        account_manager=AM,
        last_year_points=last_year_points,
        legacy_level=legacy_level,
    )


def enrolled(
    last_year_points: int | None = 0, legacy_level: LegacyLevel | None = None, at: datetime = NEW_YEAR_2025
) -> PartnerState:
    return rules.enrol(enrolment(last_year_points, legacy_level), AM, at)


def partner(tier: Tier, points: int = 0, at: datetime = NEW_YEAR_2025) -> PartnerState:
    """A partner enrolled at `at` in `tier` that has collected `points` this year."""
    state = enrolled(last_year_points=rules.threshold(tier), at=at)
    assert state.tier == tier
    state.points = points
    return state


def event(
    kind: ContractKind, quantity: int = 1, monthly_value_cents: int = 0, reference_id: str = "ref-1"
) -> ContractEvent:
    return ContractEvent(
        reference_id=reference_id, kind=kind, quantity=quantity, monthly_value_cents=monthly_value_cents
    )


def decision(choice: ReviewDecision, note: str = "talked to the partner") -> DecideReview:
    return DecideReview(actor=AM, decision=choice, note=note)


def file_reports(state: PartnerState, *metrics: QualityMetrics) -> list[int]:
    """Files one report per metrics, each at its due date; the bad streak after each."""
    streaks = []
    for quarter in metrics:
        streaks.append(rules.file_quality_report(state, quarter, state.next_report_at).bad_streak)
    return streaks
