"""The points catalogue: points per contract event, more for more valuable tariffs, kept as data."""

import pytest
from pydantic import ValidationError

from domain.partners import rules
from domain.partners.config import PROGRAMME, ContractKind, PointsRule
from domain.partners.model import ContractEvent

from .partner_builders import event

K = ContractKind


def test_the_catalogue_has_a_rule_for_every_contract_kind():
    assert set(PROGRAMME.points_catalogue) == set(ContractKind)


@pytest.mark.parametrize(
    ("kind", "monthly_value_cents", "points"),
    [
        (K.NEW_CUSTOMER_CONTRACT, 0, 500),
        (K.NEW_CUSTOMER_CONTRACT, 2_000, 540),  # 500 + 2 per euro
        (K.EXISTING_CUSTOMER_CONTRACT, 0, 200),
        (K.EXISTING_CUSTOMER_CONTRACT, 2_000, 220),  # 200 + 1 per euro
        (K.FIXED_LINE_ORDER, 0, 300),
        (K.FIXED_LINE_ORDER, 4_000, 340),  # 300 + 1 per euro
        (K.MARKETPLACE_SUBSCRIPTION, 0, 100),
        (K.MARKETPLACE_SUBSCRIPTION, 2_000, 140),  # 100 + 2 per euro
    ],
)
def test_a_contract_earns_its_base_points_plus_points_per_euro_of_monthly_value(kind, monthly_value_cents, points):
    assert rules.points_for(event(kind, monthly_value_cents=monthly_value_cents)) == points


@pytest.mark.parametrize(
    "kind",
    [K.NEW_CUSTOMER_CONTRACT, K.EXISTING_CUSTOMER_CONTRACT, K.FIXED_LINE_ORDER, K.MARKETPLACE_SUBSCRIPTION],
)
def test_a_more_valuable_tariff_earns_more_points(kind):
    cheap = rules.points_for(event(kind, monthly_value_cents=1_990))
    dear = rules.points_for(event(kind, monthly_value_cents=4_990))
    assert dear > cheap


def test_a_new_customer_earns_more_than_an_existing_customer_on_the_same_tariff():
    new = rules.points_for(event(K.NEW_CUSTOMER_CONTRACT, monthly_value_cents=3_000))
    existing = rules.points_for(event(K.EXISTING_CUSTOMER_CONTRACT, monthly_value_cents=3_000))
    assert (new, existing) == (560, 230)


@pytest.mark.parametrize(
    ("kind", "monthly_value_cents", "points"),
    [
        (K.NEW_CUSTOMER_CONTRACT, 1_999, 539),  # 39.98 -> 39
        (K.NEW_CUSTOMER_CONTRACT, 1, 500),  # 0.02 -> 0
        (K.EXISTING_CUSTOMER_CONTRACT, 1_999, 219),  # 19.99 -> 19
        (K.EXISTING_CUSTOMER_CONTRACT, 99, 200),  # 0.99 -> 0
        (K.FIXED_LINE_ORDER, 3_950, 339),  # 39.50 -> 39
        (K.MARKETPLACE_SUBSCRIPTION, 1_990, 139),  # 39.80 -> 39
        (K.MARKETPLACE_SUBSCRIPTION, 999, 119),  # 19.98 -> 19
    ],
)
def test_fractional_points_from_the_monthly_value_are_rounded_down(kind, monthly_value_cents, points):
    assert rules.points_for(event(kind, monthly_value_cents=monthly_value_cents)) == points


@pytest.mark.parametrize(("quantity", "points"), [(1, 50), (12, 600), (250, 12_500)])
def test_digital_phone_licences_earn_50_points_each(quantity, points):
    assert rules.points_for(event(K.DIGITAL_PHONE_LICENSES, quantity=quantity)) == points


@pytest.mark.parametrize(("quantity", "points"), [(1, 10), (100, 1_000), (4_500, 45_000)])
def test_unite_pool_volume_earns_10_points_per_unit(quantity, points):
    assert rules.points_for(event(K.UNITE_POOL_VOLUME, quantity=quantity)) == points


def test_licences_and_pool_volume_earn_by_quantity_not_by_monthly_value():
    assert rules.points_for(event(K.DIGITAL_PHONE_LICENSES, quantity=3, monthly_value_cents=9_900)) == 150
    assert rules.points_for(event(K.UNITE_POOL_VOLUME, quantity=3, monthly_value_cents=9_900)) == 30


def test_a_marketplace_subscription_sold_by_the_partner_earns_points():
    assert rules.points_for(event(K.MARKETPLACE_SUBSCRIPTION, monthly_value_cents=2_990)) == 159  # 100 + 59.8


def test_an_event_is_one_unit_without_monthly_value_unless_told():
    plain = ContractEvent(reference_id="ref-1", kind=K.DIGITAL_PHONE_LICENSES)
    assert (plain.quantity, plain.monthly_value_cents) == (1, 0)
    assert rules.points_for(plain) == 50


def test_the_catalogue_is_data_a_configuration_can_replace():
    config = PROGRAMME.model_copy(
        update={
            "points_catalogue": {
                **PROGRAMME.points_catalogue,
                K.FIXED_LINE_ORDER: PointsRule(base=1_000, per_unit=7, per_euro_monthly=1.5),
            }
        }
    )
    # 1,000 + 7 * 2 + floor(1.5 * 3.33) = 1,000 + 14 + 4
    assert rules.points_for(event(K.FIXED_LINE_ORDER, quantity=2, monthly_value_cents=333), config) == 1_018
    assert rules.points_for(event(K.FIXED_LINE_ORDER, quantity=2, monthly_value_cents=333)) == 303


def test_the_largest_allowed_event_is_counted_exactly():
    assert rules.points_for(event(K.NEW_CUSTOMER_CONTRACT, monthly_value_cents=100_000_000)) == 2_000_500
    assert rules.points_for(event(K.UNITE_POOL_VOLUME, quantity=1_000_000)) == 10_000_000


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity": 0},
        {"quantity": 1_000_001},
        {"monthly_value_cents": -1},
        {"monthly_value_cents": 100_000_001},
        {"reference_id": ""},
        {"reference_id": "-starts-with-a-dash"},
        {"reference_id": "has space"},
        {"reference_id": "x" * 121},
        {"kind": "mobile_contract"},
    ],
)
def test_an_event_outside_the_catalogues_bounds_is_invalid(fields):
    body = {"reference_id": "ref-1", "kind": K.FIXED_LINE_ORDER.value, **fields}
    with pytest.raises(ValidationError):
        ContractEvent.model_validate(body)


def test_a_reference_id_may_carry_the_source_systems_separators():
    assert ContractEvent(reference_id="sub:acme/crm-2025.01_7", kind=K.MARKETPLACE_SUBSCRIPTION).reference_id


@pytest.mark.parametrize(
    ("per_euro_monthly", "monthly_value_cents", "points"),
    [(0.7, 11_000, 77), (1.4, 5_500, 77), (2.3, 3_000, 69), (4.6, 1_500, 69)],
)
def test_a_configured_decimal_rate_floors_the_exact_value_not_a_float_approximation(
    per_euro_monthly, monthly_value_cents, points
):
    config = PROGRAMME.model_copy(
        update={
            "points_catalogue": {
                **PROGRAMME.points_catalogue,
                K.EXISTING_CUSTOMER_CONTRACT: PointsRule(per_euro_monthly=per_euro_monthly),
            }
        }
    )
    chosen = event(K.EXISTING_CUSTOMER_CONTRACT, monthly_value_cents=monthly_value_cents)
    assert rules.points_for(chosen, config) == points
