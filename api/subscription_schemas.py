"""Request and answer bodies of the subscriptions and payment-webhook resources that are not domain models.

Command bodies leave out `actor`: the API fills it in from the authenticated caller.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.schemas import PageQuery
from domain.catalogue import MARKETPLACE
from domain.ids import ONBOARDING_ID_PATTERN, Slug
from domain.onboarding.model import Comment
from domain.subscription.model import InvoiceKind, InvoiceStatus, PaymentEvent, SubscriptionStatus
from store.db import as_utc

# A subscription is named "{customer}-{app}", two slugs long, like an onboarding "{isv}-{app}".
SUBSCRIPTION_ID_PATTERN = ONBOARDING_ID_PATTERN
# An export id becomes a file name: no paths (the export activity enforces the same).
EXPORT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"

SubscriptionId = Annotated[str, StringConstraints(pattern=SUBSCRIPTION_ID_PATTERN)]


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


# --- commands --------------------------------------------------------------------------------


class _Body(BaseModel):
    # Unknown fields (a typo, or an `actor` the caller may not choose) are refused rather than ignored.
    model_config = ConfigDict(extra="forbid")


class CancelBody(_Body):
    reason: Comment | None = None


class ExportRequestBody(_Body):
    """Empty: the export covers the subscription's data; its id comes from the Idempotency-Key or is new."""


class ReinstateBody(_Body):
    comment: Comment | None = None


class UncancelBody(_Body):
    """Empty: withdraws the cancellation scheduled for the term's end."""


class PlanChangeBody(_Body):
    """The app's plan to change to, by its term; its price is the catalogue's at the change."""

    term_months: int = Field(json_schema_extra={"enum": list(MARKETPLACE.contract_terms_months)})

    @field_validator("term_months")
    @classmethod
    def _term_is_offered(cls, term: int) -> int:
        if term not in MARKETPLACE.contract_terms_months:
            raise ValueError(f"term_months must be one of {list(MARKETPLACE.contract_terms_months)}")
        return term


# --- reads -----------------------------------------------------------------------------------


class SubscriptionFilters(PageQuery):
    """Query parameters of GET /subscriptions; every value is an enum or a slug, so it is safe in a query."""

    status: SubscriptionStatus | None = None
    app_id: Slug | None = None
    customer_id: Slug | None = None
    isv_id: Slug | None = None
    channel_partner_id: Slug | None = None


class SubscriptionListItem(BaseModel):
    """One subscription as Temporal visibility sees it: ids and status, no personal data."""

    id: str
    customer_id: str | None
    app_id: str | None
    isv_id: str | None
    channel_partner_id: str | None
    status: str | None
    started_at: datetime
    closed_at: datetime | None


class SubscriptionPage(BaseModel):
    items: list[SubscriptionListItem]
    next_page_token: str | None


class InvoiceOut(BaseModel):
    number: str
    kind: InvoiceKind
    period_start: UtcDatetime | None
    period_end: UtcDatetime | None
    net_cents: int
    vat_cents: int
    gross_cents: int
    # Of net_cents: a plan change's proration billed with this period (below zero a credit); docs/api.md.
    proration_cents: int
    currency: str
    status: InvoiceStatus
    issued_at: UtcDatetime
    paid_at: UtcDatetime | None
    failure_reason: str | None


class InvoiceList(BaseModel):
    items: list[InvoiceOut]


# --- payment webhook -------------------------------------------------------------------------


class PaymentWebhook(PaymentEvent):
    """A payment provider's event as posted (docs/payments-sandbox.md); fields it adds beyond these are ignored.

    The lengths are the store's columns, so an over-long id is a 422 rather than a database error.
    """

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    payment_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    invoice_number: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    subscription_id: SubscriptionId

    def payment_event(self) -> PaymentEvent:
        """What the subscription's workflow is told: the event without its routing."""
        return PaymentEvent.model_validate(self.model_dump(exclude={"subscription_id"}))


class WebhookAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    event_id: str


class WebhookDuplicate(BaseModel):
    """The answer to an event received before: it was stored then, and nothing new is done."""

    event_id: str
    duplicate: Literal[True] = True
