"""The marketplace catalogue: portfolio categories, plans and commercial terms (docs/architecture.md)."""

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Category(StrEnum):
    SALES_MARKETING = "sales_marketing"
    CRM = "crm_customer_management"
    FINANCE_ACCOUNTING = "finance_accounting"
    HR = "hr"
    ERP_LOGISTICS = "erp_logistics"
    COMMUNICATION_COLLABORATION = "communication_collaboration"
    ANALYTICS_BI = "analytics_bi"
    OFFICE_ADMINISTRATION = "office_administration"
    ANTIVIRUS_SECURITY = "antivirus_security"
    ONLINE_STORAGE_BACKUP = "online_storage_backup"


class MarketplaceTerms(BaseModel):
    """Terms that hold for every app on the marketplace."""

    model_config = ConfigDict(frozen=True)

    contract_terms_months: tuple[int, ...] = (1, 12, 24)
    trial_days: int = 30
    listing_fee_cents: int = 0

    @property
    def trial(self) -> timedelta:
        return timedelta(days=self.trial_days)


MARKETPLACE = MarketplaceTerms()

Percent = Annotated[float, Field(ge=0, le=100)]

# A monthly price the store's 32-bit integer columns hold with VAT added (a gross invoice amount), with room to spare:
# 1,000,000.00 EUR a month.
MAX_MONTHLY_PRICE_CENTS = 100_000_000


class Plan(BaseModel):
    # The schema names the offered terms; the validator refuses any other with the rule's own message.
    term_months: int = Field(json_schema_extra={"enum": list(MARKETPLACE.contract_terms_months)})
    monthly_price_cents: int = Field(ge=0, le=MAX_MONTHLY_PRICE_CENTS)

    @field_validator("term_months")
    @classmethod
    def _term_is_offered(cls, term: int) -> int:
        if term not in MARKETPLACE.contract_terms_months:
            raise ValueError(f"term_months must be one of {list(MARKETPLACE.contract_terms_months)}")
        return term


class CommercialTerms(BaseModel):
    """What an ISV and the marketplace agree on in the commercial stage."""

    revenue_share_percent: Percent
    plans: list[Plan] = Field(min_length=1)
    # Fixed by the marketplace: accepted when given, if they are its values (the schema says which).
    trial_days: int = Field(default=MARKETPLACE.trial_days, json_schema_extra={"enum": [MARKETPLACE.trial_days]})
    listing_fee_cents: int = Field(
        default=MARKETPLACE.listing_fee_cents, json_schema_extra={"enum": [MARKETPLACE.listing_fee_cents]}
    )

    @field_validator("plans")
    @classmethod
    def _one_plan_per_term(cls, plans: list[Plan]) -> list[Plan]:
        terms = [plan.term_months for plan in plans]
        if len(terms) != len(set(terms)):
            raise ValueError("each term may be priced once")
        return sorted(plans, key=lambda plan: plan.term_months)

    @field_validator("trial_days")
    @classmethod
    def _every_app_has_the_marketplace_trial(cls, days: int) -> int:
        if days != MARKETPLACE.trial_days:
            raise ValueError(f"every app has a {MARKETPLACE.trial_days}-day free trial")
        return days

    @field_validator("listing_fee_cents")
    @classmethod
    def _no_listing_fee(cls, fee: int) -> int:
        if fee != MARKETPLACE.listing_fee_cents:
            raise ValueError("the marketplace charges no listing fee")
        return fee
