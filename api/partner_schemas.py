"""Request and answer bodies of the partners resource that are not domain models.

Enrolment, contract events, the view and quality reports are the domain's own models; command bodies here leave
out `actor`: the API fills it in from the authenticated caller.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import PageQuery
from api.subscription_schemas import SubscriptionId
from domain.ids import Slug
from domain.partners.config import Tier
from domain.partners.model import Note, PartnerStatus, QualityReport, ReviewDecision

UsageShare = Annotated[float, Field(ge=0, le=1, description="Share of what was booked that is in use, 0..1")]


# --- commands --------------------------------------------------------------------------------


class ReviewDecisionBody(BaseModel):
    # Unknown fields (a typo, or an `actor` the caller may not choose) are refused rather than ignored.
    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision
    note: Note


class ContractAnswer(BaseModel):
    """What one contract event earned; a repeated reference id answers with its first award (`duplicate`)."""

    reference_id: str
    points_awarded: int
    duplicate: bool
    awarded_at: datetime
    points: int  # the programme year's total after this event


# --- usage reports -----------------------------------------------------------------------------


class UsageReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    usage_share: UsageShare
    subscription_id: SubscriptionId | None = None


class UsageReportOut(BaseModel):
    id: int
    partner_id: str
    subscription_id: str | None
    usage_share: float
    reported_by: str
    reported_at: datetime


# --- reads -----------------------------------------------------------------------------------


class PartnerFilters(PageQuery):
    """Query parameters of GET /partners; every value is an enum or a slug, so it is safe in a query."""

    tier: Tier | None = None
    account_manager: Slug | None = None
    status: PartnerStatus | None = None


class PartnerListItem(BaseModel):
    """One partner as Temporal visibility sees it: its search attributes, no name."""

    id: str
    tier: str | None
    account_manager: str | None
    status: str | None
    closed_at: datetime | None  # when the partnership ended


class PartnerPage(BaseModel):
    items: list[PartnerListItem]
    next_page_token: str | None


class QualityReportList(BaseModel):
    items: list[QualityReport]  # newest first
