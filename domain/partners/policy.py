"""A partner policy: the parts of the programme its owners change from year to year, for a backtest to try out."""

from itertools import pairwise
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from domain.partners.config import PROGRAMME, ContractKind, PointsRule, ProgrammeConfig, Tier
from domain.partners.rules import TIER_ORDER

Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class QualityLimits(BaseModel):
    """The thresholds a quarter's report is judged by. Not the payment grace: it is part of how a quarter was
    measured, and a backtest replays the measurements the reports recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_paid_on_time_share: Share | None = None
    max_churn_share: Share | None = None
    min_usage_share: Share | None = None


class PartnerPolicy(BaseModel):
    """Tier thresholds, points catalogue, quality thresholds and the bad-report streak that opens a review.

    What is omitted is today's: a field, a tier, a contract kind, or one part of a kind's points rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier_thresholds: dict[Tier, NonNegativeInt] = Field(
        default_factory=dict, description="Lowest points of each tier; basic starts at 0, each tier above higher"
    )
    points_catalogue: dict[ContractKind, PointsRule] = Field(default_factory=dict)
    quality: QualityLimits = QualityLimits()
    consecutive_bad_reports_for_review: int | None = Field(default=None, ge=1, le=40)

    @model_validator(mode="after")
    def _consistent_with_todays(self) -> Self:
        self.applied_to(PROGRAMME)  # raises ValueError for thresholds out of order
        return self

    def applied_to(self, base: ProgrammeConfig) -> ProgrammeConfig:
        """`base` with this policy's changes: the programme a replay runs under."""
        thresholds = dict(base.tier_thresholds) | self.tier_thresholds
        _check_thresholds(thresholds)
        catalogue = {
            kind: _merged(rule, self.points_catalogue.get(kind)) for kind, rule in base.points_catalogue.items()
        }
        quality = {name: value for name, value in self.quality if value is not None}
        streak = self.consecutive_bad_reports_for_review
        return base.model_copy(
            update={
                "tier_thresholds": tuple((tier, thresholds[tier]) for tier in reversed(TIER_ORDER)),
                "points_catalogue": catalogue,
                "quality": base.quality.model_copy(update=quality),
                "consecutive_bad_reports_for_review": streak or base.consecutive_bad_reports_for_review,
            }
        )

    @classmethod
    def of(cls, config: ProgrammeConfig) -> "PartnerPolicy":
        """The whole policy `config` runs (every field given), e.g. today's: what a backtest records it tried."""
        quality = config.quality
        return cls(
            tier_thresholds=dict(config.tier_thresholds),
            points_catalogue=dict(config.points_catalogue),
            quality=QualityLimits(
                min_paid_on_time_share=quality.min_paid_on_time_share,
                max_churn_share=quality.max_churn_share,
                min_usage_share=quality.min_usage_share,
            ),
            consecutive_bad_reports_for_review=config.consecutive_bad_reports_for_review,
        )


def _check_thresholds(thresholds: dict[Tier, int]) -> None:
    if thresholds[Tier.BASIC] != 0:
        raise ValueError("tier_thresholds: basic starts at 0 points, so that every partner has a tier")
    for lower, higher in pairwise(TIER_ORDER):
        if thresholds[higher] <= thresholds[lower]:
            raise ValueError(
                f"tier_thresholds: {higher.value} ({thresholds[higher]}) must start above "
                f"{lower.value} ({thresholds[lower]})"
            )


def _merged(today: PointsRule, given: PointsRule | None) -> PointsRule:
    """Today's rule with the parts `given` names: {"base": 600} changes the base and keeps the rest."""
    if given is None:
        return today
    return today.model_copy(update={name: getattr(given, name) for name in given.model_fields_set})
