"""The catalogue's rules: portfolio categories and commercial terms (docs/architecture.md)."""

import pytest
from pydantic import ValidationError

from domain.catalogue import MARKETPLACE, MAX_MONTHLY_PRICE_CENTS, Category, CommercialTerms, Plan
from domain.onboarding.model import AppProfile

from .builders import terms


def plans(*term_months: int) -> list[dict[str, int]]:
    return [{"term_months": term, "monthly_price_cents": 1_000} for term in term_months]


def test_the_category_enum_holds_exactly_the_10_portfolio_categories():
    assert len(Category) == 10
    assert {category.value for category in Category} == {
        "sales_marketing",
        "crm_customer_management",
        "finance_accounting",
        "hr",
        "erp_logistics",
        "communication_collaboration",
        "analytics_bi",
        "office_administration",
        "antivirus_security",
        "online_storage_backup",
    }


def test_an_app_outside_the_portfolio_categories_is_invalid():
    with pytest.raises(ValidationError):
        AppProfile(id="acme-game", name="Acme Game", category="games")


def test_the_marketplace_offers_terms_of_1_12_and_24_months_a_30_day_trial_and_no_listing_fee():
    assert MARKETPLACE.contract_terms_months == (1, 12, 24)
    assert MARKETPLACE.trial_days == 30
    assert MARKETPLACE.trial.days == 30
    assert MARKETPLACE.listing_fee_cents == 0


@pytest.mark.parametrize("share", [0, 0.0, 12.5, 100, 100.0])
def test_a_revenue_share_from_0_to_100_percent_inclusive_is_valid(share):
    assert terms(share=share).revenue_share_percent == share


def test_revenue_share_above_100_percent_is_invalid():
    with pytest.raises(ValidationError):
        terms(share=100.01)


def test_a_negative_revenue_share_is_invalid():
    with pytest.raises(ValidationError):
        terms(share=-0.01)


@pytest.mark.parametrize("term", [1, 12, 24])
def test_a_plan_of_1_12_or_24_months_is_valid(term):
    assert Plan(term_months=term, monthly_price_cents=500).term_months == term


@pytest.mark.parametrize("term", [0, 3, 6, 11, 36, -1])
def test_a_plan_of_any_other_term_is_invalid(term):
    with pytest.raises(ValidationError):
        Plan(term_months=term, monthly_price_cents=500)


def test_a_negative_price_is_invalid():
    with pytest.raises(ValidationError):
        Plan(term_months=12, monthly_price_cents=-1)


def test_a_price_up_to_the_store_limit_is_valid_and_above_it_invalid():
    assert Plan(term_months=1, monthly_price_cents=MAX_MONTHLY_PRICE_CENTS).monthly_price_cents == 100_000_000
    with pytest.raises(ValidationError, match="less than or equal"):
        Plan(term_months=1, monthly_price_cents=MAX_MONTHLY_PRICE_CENTS + 1)


def test_a_free_plan_is_valid():
    assert Plan(term_months=1, monthly_price_cents=0).monthly_price_cents == 0


def test_each_term_may_be_priced_only_once():
    with pytest.raises(ValidationError, match="each term may be priced once"):
        CommercialTerms(revenue_share_percent=20, plans=plans(12, 1, 12))


def test_terms_need_at_least_one_plan():
    with pytest.raises(ValidationError):
        CommercialTerms(revenue_share_percent=20, plans=[])


def test_a_single_plan_is_enough():
    assert [plan.term_months for plan in CommercialTerms(revenue_share_percent=20, plans=plans(12)).plans] == [12]


def test_plans_are_sorted_by_term():
    agreed = CommercialTerms(revenue_share_percent=20, plans=plans(24, 1, 12))
    assert [plan.term_months for plan in agreed.plans] == [1, 12, 24]


def test_the_trial_defaults_to_30_days_and_the_listing_fee_to_zero():
    agreed = CommercialTerms(revenue_share_percent=20, plans=plans(1))
    assert agreed.trial_days == 30
    assert agreed.listing_fee_cents == 0


def test_a_trial_of_30_days_may_be_stated():
    assert CommercialTerms(revenue_share_percent=20, plans=plans(1), trial_days=30).trial_days == 30


@pytest.mark.parametrize("trial_days", [0, 14, 29, 31, 60])
def test_a_trial_other_than_30_days_is_invalid(trial_days):
    with pytest.raises(ValidationError, match="30-day free trial"):
        CommercialTerms(revenue_share_percent=20, plans=plans(1), trial_days=trial_days)


@pytest.mark.parametrize("fee", [1, 100, -1])
def test_any_listing_fee_is_invalid(fee):
    with pytest.raises(ValidationError, match="no listing fee"):
        CommercialTerms(revenue_share_percent=20, plans=plans(1), listing_fee_cents=fee)


def test_terms_read_from_json_are_validated_the_same_way():
    with pytest.raises(ValidationError):
        CommercialTerms.model_validate_json(
            '{"revenue_share_percent": 101, "plans": [{"term_months": 1, "monthly_price_cents": 1}]}'
        )
    parsed = CommercialTerms.model_validate_json(
        '{"revenue_share_percent": 30, "plans": [{"term_months": 24, "monthly_price_cents": 1}, '
        '{"term_months": 1, "monthly_price_cents": 2}]}'
    )
    assert [plan.term_months for plan in parsed.plans] == [1, 24]
