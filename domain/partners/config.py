"""The partner programme as data: tiers and thresholds, legacy levels, the points catalogue, quality thresholds."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Tier(StrEnum):
    BASIC = "basic"
    ADVANCED = "advanced"
    EXPERT = "expert"
    EXPERT_PLUS = "expert_plus"


class LegacyLevel(StrEnum):
    """Levels of the old programme, for partners moving over."""

    BUSINESS = "business"
    BUSINESS_SILBER = "business_silber"
    GOLD = "gold"
    PREMIUM = "premium"


class ContractKind(StrEnum):
    NEW_CUSTOMER_CONTRACT = "new_customer_contract"
    EXISTING_CUSTOMER_CONTRACT = "existing_customer_contract"
    FIXED_LINE_ORDER = "fixed_line_order"
    DIGITAL_PHONE_LICENSES = "digital_phone_licenses"
    UNITE_POOL_VOLUME = "unite_pool_volume"
    MARKETPLACE_SUBSCRIPTION = "marketplace_subscription"


class PointsRule(BaseModel):
    """Points of one contract event: a base, per unit, and per euro of monthly value (valuable tariffs earn more)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: int = Field(default=0, ge=0, le=10_000_000)
    per_unit: int = Field(default=0, ge=0, le=10_000_000)
    per_euro_monthly: float = Field(default=0.0, ge=0, le=10_000, allow_inf_nan=False)


class QualityThresholds(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_paid_on_time_share: float = 0.90
    max_churn_share: float = 0.10
    min_usage_share: float = 0.30
    payment_grace_days: int = 14  # an invoice paid within this many days of its due date is on time


class ProgrammeConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Lowest points of each tier, highest tier first.
    tier_thresholds: tuple[tuple[Tier, int], ...] = (
        (Tier.EXPERT_PLUS, 45_000),
        (Tier.EXPERT, 15_000),
        (Tier.ADVANCED, 7_500),
        (Tier.BASIC, 0),
    )
    legacy_levels: dict[LegacyLevel, Tier] = {
        LegacyLevel.BUSINESS: Tier.BASIC,
        LegacyLevel.BUSINESS_SILBER: Tier.BASIC,
        LegacyLevel.GOLD: Tier.ADVANCED,
        LegacyLevel.PREMIUM: Tier.EXPERT,
    }
    points_catalogue: dict[ContractKind, PointsRule] = {
        ContractKind.NEW_CUSTOMER_CONTRACT: PointsRule(base=500, per_euro_monthly=2.0),
        ContractKind.EXISTING_CUSTOMER_CONTRACT: PointsRule(base=200, per_euro_monthly=1.0),
        ContractKind.FIXED_LINE_ORDER: PointsRule(base=300, per_euro_monthly=1.0),
        ContractKind.DIGITAL_PHONE_LICENSES: PointsRule(per_unit=50),
        ContractKind.UNITE_POOL_VOLUME: PointsRule(per_unit=10),
        ContractKind.MARKETPLACE_SUBSCRIPTION: PointsRule(base=100, per_euro_monthly=2.0),
    }
    # The programme year ends on 31 December (the year turns at 1 January 00:00 UTC).
    year_end_month: int = 12
    year_end_day: int = 31
    # Until this much of a partner's programme year has passed, a pace says nothing (a first contract an hour after
    # enrolment would project the highest tier): the projection is then the tier of the points so far.
    projection_min_days: int = 30
    quality_report_months: int = 3  # quarterly
    consecutive_bad_reports_for_review: int = 3
    review_escalation_days: int = 14
    review_escalation_recipient: str = "head-of-partner-sales"  # who hears of a review left undecided
    quality: QualityThresholds = QualityThresholds()


PROGRAMME = ProgrammeConfig()
