"""Request and response bodies of the API that are not domain models.

Command bodies leave out `actor`: the API fills it in from the authenticated caller.
"""

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.params import IsoDateTime
from domain.catalogue import Category
from domain.ids import Slug
from domain.onboarding.config import StageId
from domain.onboarding.model import Comment, Endpoint, OnboardingStatus, PredictionBasis, Reason
from domain.onboarding.sla import SlaStatus

# --- onboarding commands ---------------------------------------------------------------------


class _Body(BaseModel):
    # Unknown fields (a typo, or an `actor` the caller may not choose) are refused rather than ignored.
    model_config = ConfigDict(extra="forbid")


class ChecklistBody(_Body):
    comment: Comment | None = None
    # provisioning_endpoint_registered only: the ISV's endpoint URL, or "local" (the embedded connector).
    value: Endpoint | None = None


class AdvanceBody(_Body):
    to_stage: StageId | None = None
    comment: Comment | None = None


class ReasonBody(_Body):
    reason: Reason


class ResumeBody(_Body):
    comment: Comment | None = None


class ReassignBody(_Body):
    partner_manager: Slug
    comment: Comment | None = None


# --- lists from Temporal visibility ----------------------------------------------------------

PageToken = Annotated[str, StringConstraints(max_length=4096)]

# Temporal retries a list call with a token it cannot parse for seconds before failing, so the API only passes
# on tokens it handed out: each carries a checksum of Temporal's token (integrity, not secrecy).
_TOKEN_CHECK = b"partnerflow-page-token"


def _checksum(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=8, key=_TOKEN_CHECK).digest()


def encode_page_token(raw: bytes | None) -> str | None:
    return base64.urlsafe_b64encode(_checksum(raw) + raw).decode() if raw else None


def decode_page_token(token: str) -> bytes:
    """Temporal's token inside `token`; ValueError when it is not one the API handed out."""
    try:
        data = base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError) as error:
        raise ValueError("page_token is not a token from an earlier page") from error
    check, raw = data[:8], data[8:]
    if not raw or not hmac.compare_digest(check, _checksum(raw)):
        raise ValueError("page_token is not a token from an earlier page")
    return raw


class PageQuery(BaseModel):
    """Paging of a list from Temporal visibility; the filters of each list extend it."""

    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(50, ge=1, le=100)
    page_token: PageToken | None = None

    @field_validator("page_token")
    @classmethod
    def _token_decodes(cls, token: str | None) -> str | None:
        if token is not None:
            decode_page_token(token)
        return token


class OnboardingFilters(PageQuery):
    """Query parameters of GET /onboardings; every value is an enum or a slug, so it is safe in a query."""

    stage: StageId | None = None
    status: OnboardingStatus | None = None
    sla_status: SlaStatus | None = None
    partner_manager: Slug | None = None
    isv_id: Slug | None = None
    misses_target: bool | None = Field(None, description="whose predicted go-live is (true) or is not after the target")
    predicted_before: IsoDateTime | None = Field(None, description="predicted to go live before this time")
    predicted_after: IsoDateTime | None = Field(None, description="predicted to go live at or after this time")
    sort: Literal["predicted_go_live"] | None = Field(
        None, description="by predicted go-live, earliest first, across pages (at most 1,000 matching: docs/api.md)"
    )

    @field_validator("predicted_before", "predicted_after")
    @classmethod
    def _within_visibility_range(cls, value: datetime | None) -> datetime | None:
        # Temporal's visibility parses four-digit years only; the rest of the range is of no use to a prediction.
        if value is not None and not 1970 <= value.year <= 9998:
            raise ValueError("must be a date-time between the years 1970 and 9998")
        return value


class OnboardingListItem(BaseModel):
    """One onboarding as Temporal visibility sees it: its search attributes, no personal data."""

    id: str
    isv_id: str | None
    app_id: str | None
    stage: str | None
    status: str | None
    sla_status: str | None
    partner_manager: str | None
    started_at: datetime
    closed_at: datetime | None
    # As of the onboarding's last change or deadline (docs/api.md, "Predicted go-live"). The basis is None for an
    # onboarding started before lists carried it; its view says it.
    predicted_go_live: datetime | None = None
    misses_target: bool | None = None
    prediction_basis: PredictionBasis | None = None


class OnboardingPage(BaseModel):
    items: list[OnboardingListItem]
    next_page_token: str | None


# --- catalogue -------------------------------------------------------------------------------


class AppFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category | None = None
    isv_id: Slug | None = None
    page_size: int = Field(50, ge=1, le=100)
    page_token: Slug | None = Field(None, description="`next_page_token` of the previous page")


class PlanOut(BaseModel):
    term_months: int
    monthly_price_cents: int


class AppOut(BaseModel):
    id: str
    isv_id: str
    name: str
    category: str
    revenue_share_percent: float | None = Field(description="Shown to staff and to the owning ISV only")
    trial_days: int
    listing_fee_cents: int
    plans: list[PlanOut]
    published_at: datetime


class AppList(BaseModel):
    items: list[AppOut]
    next_page_token: str | None = None
