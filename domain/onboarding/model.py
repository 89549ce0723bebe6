"""Onboarding state, the commands that change it, and the read model built from it."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from domain.catalogue import Category, CommercialTerms
from domain.ids import Slug
from domain.onboarding.config import CriterionSource, StageId
from domain.onboarding.sla import SlaClock, SlaStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class OnboardingStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    REJECTED = "rejected"
    LIVE = "live"


CLOSED_STATUSES = frozenset({OnboardingStatus.REJECTED, OnboardingStatus.LIVE})


class IsvProfile(BaseModel):
    id: Slug
    name: Name
    contact_email: EmailStr


class AppProfile(BaseModel):
    id: Slug
    name: Name
    category: Category


class OnboardingRequest(BaseModel):
    """What a partner manager gives to start an onboarding."""

    isv: IsvProfile
    app: AppProfile
    partner_manager: Slug


class TickedItem(BaseModel):
    by: str
    at: datetime
    comment: str | None = None


class HistoryEntry(BaseModel):
    """One step of the onboarding: who did what, when, and why."""

    seq: int
    at: datetime
    actor: str
    action: str
    stage: StageId
    to_stage: StageId | None = None
    item: str | None = None
    comment: str | None = None


class NotificationKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"


class Notification(BaseModel):
    kind: NotificationKind
    stage: StageId
    at: datetime
    recipient: str
    message: str


# The predicted go-live (domain/onboarding/prediction.py).


class StageMedian(BaseModel):
    stage: StageId
    median: timedelta  # time in the stage, holds excluded
    samples: int  # completed onboardings that passed the stage


class MarketplaceHistory(BaseModel):
    """Per stage, the median time the marketplace's completed onboardings spent in it, as last read from the store."""

    stages: list[StageMedian] = Field(default_factory=list)

    def of(self, stage: StageId) -> StageMedian | None:
        return next((median for median in self.stages if median.stage == stage), None)


class MarketplaceHistoryRequest(BaseModel):
    """What the workflow asks the store for: the stage medians of the `window` most recent go-lives."""

    window: int


class StageBasis(StrEnum):
    STAGE_BUDGET = "stage_budget"
    MARKETPLACE_HISTORY = "marketplace_history"


class PredictionBasis(StrEnum):
    STAGE_BUDGETS = "stage_budgets"  # every remaining stage by its budget
    MARKETPLACE_HISTORY = "marketplace_history"  # every remaining stage by the marketplace's median
    MIXED = "mixed"  # some of each: `prediction_stages` says which
    WENT_LIVE = "went_live"  # no prediction: the onboarding's actual go-live


class StageForecast(BaseModel):
    """How long one of the remaining stages is expected to take, and from what."""

    stage: StageId
    basis: StageBasis
    expected_days: float
    samples: int  # completed onboardings behind the median; 0 for a budget


class GoLivePrediction(BaseModel):
    predicted_go_live: datetime
    basis: PredictionBasis
    misses_target: bool
    stages: list[StageForecast]


class OnboardingState(BaseModel):
    id: str
    isv: IsvProfile
    app: AppProfile
    partner_manager: str
    stage: StageId = StageId.IDENTIFICATION
    status: OnboardingStatus = OnboardingStatus.IN_PROGRESS
    clock: SlaClock
    ticked: dict[str, TickedItem] = Field(default_factory=dict)
    terms: CommercialTerms | None = None
    provisioning_endpoint: str | None = None
    reminded_stages: list[StageId] = Field(default_factory=list)
    escalated: bool = False
    history: list[HistoryEntry] = Field(default_factory=list)
    notifications: list[Notification] = Field(default_factory=list)
    finished_at: datetime | None = None
    sla_at_finish: SlaStatus | None = None
    marketplace_history: MarketplaceHistory | None = None

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


# Commands. Each carries the authenticated subject, so Temporal's history names who did it.


class Command(BaseModel):
    actor: str


Endpoint = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(local|https?://[^\s]{3,490})$")]


class ChecklistCommand(Command):
    item: str
    comment: Comment | None = None
    # For `provisioning_endpoint_registered`: the ISV's endpoint URL, or "local" for the embedded connector.
    value: Endpoint | None = None


class SetTermsCommand(Command):
    terms: CommercialTerms


class AdvanceCommand(Command):
    to_stage: StageId | None = None
    comment: Comment | None = None


class RejectCommand(Command):
    reason: Reason


class HoldCommand(Command):
    reason: Reason


class ResumeCommand(Command):
    comment: Comment | None = None


class ReassignCommand(Command):
    partner_manager: Slug
    comment: Comment | None = None


# The read model.


class ChecklistItemView(BaseModel):
    id: str
    title: str
    source: CriterionSource
    done: bool
    done_by: str | None = None
    done_at: datetime | None = None


class StageChecklistView(BaseModel):
    stage: StageId
    title: str
    budget_days: float
    items: list[ChecklistItemView]


class DeadlinesView(BaseModel):
    stage_due_at: datetime | None
    target_due_at: datetime


class OnboardingView(BaseModel):
    id: str
    isv: IsvProfile
    app: AppProfile
    partner_manager: str
    stage: StageId
    status: OnboardingStatus
    sla_status: SlaStatus
    started_at: datetime
    stage_started_at: datetime
    on_hold_since: datetime | None
    finished_at: datetime | None
    deadlines: DeadlinesView
    # None for a rejected onboarding; for a live one, its actual go-live (basis went_live).
    predicted_go_live: datetime | None = None
    prediction_basis: PredictionBasis | None = None
    misses_target: bool | None = None
    prediction_stages: list[StageForecast] = Field(default_factory=list)
    unmet_criteria: list[str]
    checklist: list[StageChecklistView]
    commercial_terms: CommercialTerms | None
    provisioning_endpoint: str | None = None
    notifications: list[Notification]
    history: list[HistoryEntry]


# What the onboarding hands its activities.


class OnboardingStarted(BaseModel):
    onboarding_id: str
    isv: IsvProfile
    at: datetime


class OnboardingStep(BaseModel):
    onboarding_id: str
    entry: HistoryEntry


class OnboardingNotice(BaseModel):
    onboarding_id: str
    notification: Notification


class AppPublication(BaseModel):
    onboarding_id: str
    isv: IsvProfile
    app: AppProfile
    terms: CommercialTerms
    at: datetime
    provisioning_endpoint: str | None = None
