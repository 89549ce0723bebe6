"""Partner programme state, commands, reads, and what the programme hands its activities."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from domain.ids import Slug
from domain.onboarding.model import Name
from domain.partners.config import ContractKind, LegacyLevel, Tier

ReferenceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,119}$")]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Enrolment(BaseModel):
    """A channel partner joins: placed by last year's points, or by its level in the old programme."""

    id: Slug
    name: Name
    account_manager: Slug
    last_year_points: int | None = Field(default=None, ge=0)
    legacy_level: LegacyLevel | None = None

    @model_validator(mode="after")
    def _one_placement(self) -> "Enrolment":
        if self.last_year_points is None and self.legacy_level is None:
            raise ValueError("give last_year_points, or legacy_level for a partner of the old programme")
        return self


class ContractEvent(BaseModel):
    reference_id: ReferenceId
    kind: ContractKind
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    monthly_value_cents: int = Field(default=0, ge=0, le=100_000_000)


class TierChange(StrEnum):
    UPGRADE = "upgrade"
    KEEP = "keep"
    DOWNGRADE = "downgrade"


class TierDecision(BaseModel):
    """The year-end reclassification, with the figures behind it."""

    partner_id: str
    year: int
    points: int
    from_tier: Tier
    to_tier: Tier
    change: TierChange
    kept_threshold: int  # points the old tier needed
    reached_threshold: int  # lowest points of the new tier
    decided_at: datetime


class QualityMetrics(BaseModel):
    """Measured from the store for one quarter; None where there is nothing to measure."""

    paid_on_time_share: float | None = None
    usage_share: float | None = None  # None: no usage report was posted ("unknown")
    churn_share: float | None = None
    invoices: int = 0
    active_subscriptions: int = 0
    cancellations: int = 0


class QualityReport(BaseModel):
    partner_id: str
    period_start: datetime
    period_end: datetime
    metrics: QualityMetrics
    failing: list[str]  # names of the thresholds missed
    below_thresholds: bool
    bad_streak: int  # consecutive reports below the thresholds, this one included
    created_at: datetime


class ReviewDecision(StrEnum):
    RETAIN = "retain"
    TERMINATE = "terminate"


class Review(BaseModel):
    opened_at: datetime
    escalate_at: datetime
    escalated_at: datetime | None = None
    reason: str


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: str | None = None


class PartnerState(BaseModel):
    id: str
    name: str
    account_manager: str
    status: PartnerStatus = PartnerStatus.ACTIVE
    tier: Tier
    enrolled_at: datetime
    year: int
    year_started_at: datetime
    year_ends_at: datetime
    points: int = 0
    last_year_points: int = 0
    events_counted: int = 0
    next_report_at: datetime
    last_report_at: datetime
    bad_streak: int = 0
    open_review: Review | None = None
    decisions: list[TierDecision] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)  # decisions, reviews, enrolment: not each award
    terminated_at: datetime | None = None


# Commands.


class SignalledContractEvent(ContractEvent):
    """A contract event another workflow reports (a marketplace subscription sold by the partner)."""

    actor: str


class RecordContracts(BaseModel):
    actor: str
    events: list[ContractEvent] = Field(min_length=1, max_length=500)


class DecideReview(BaseModel):
    actor: str
    decision: ReviewDecision
    note: Note


class PointsAward(BaseModel):
    """One event's points, written to the ledger; a repeated reference id keeps the first award."""

    partner_id: str
    year: int
    reference_id: str
    kind: ContractKind
    quantity: int
    monthly_value_cents: int
    points: int
    actor: str
    at: datetime


class AwardResult(BaseModel):
    reference_id: str
    points_awarded: int
    duplicate: bool
    awarded_at: datetime


class RecordContractsResult(BaseModel):
    results: list[AwardResult]
    points: int  # the year's total after these events


# Reads.


class PartnerView(BaseModel):
    id: str
    name: str
    account_manager: str
    status: PartnerStatus
    tier: Tier
    year: int
    year_ends_at: datetime
    points: int
    last_year_points: int
    events_counted: int
    points_to_next_tier: int | None
    next_tier: Tier | None
    points_to_keep_tier: int
    projected_tier: Tier
    projection_basis: str = ""  # how projected_tier was projected (the pace, or the points so far early in the year)
    open_review: Review | None
    bad_streak: int
    next_report_at: datetime
    decisions: list[TierDecision]
    history: list[HistoryEntry]


# Activity inputs.


class PartnerRecord(BaseModel):
    partner_id: str
    name: str
    account_manager: str
    tier: Tier
    status: PartnerStatus
    year: int
    points: int
    updated_at: datetime


class QualityQuery(BaseModel):
    partner_id: str
    period_start: datetime
    period_end: datetime
    payment_grace_days: int


class ReviewRecord(BaseModel):
    partner_id: str
    event: str  # opened, escalated, retained, terminated
    actor: str
    at: datetime
    note: str | None = None
    recipient: str


class PointsAwardBatch(BaseModel):
    awards: list[PointsAward]


class AwardBatchResult(BaseModel):
    results: list[AwardResult]
