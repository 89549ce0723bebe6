"""Money in integer cents: VAT 19 %, commercial rounding (half up) and the ISV's revenue share."""

from decimal import Decimal

import pytest

from domain.money import InvoiceAmounts, invoice_amounts, percent_of, revenue_share_cents
from domain.subscription.config import SUBSCRIPTIONS

VAT = SUBSCRIPTIONS.vat_percent


def test_the_default_vat_rate_is_19_percent():
    assert VAT == 19.0


@pytest.mark.parametrize(
    ("net", "vat"),
    [
        (100, 19),
        (1_000, 190),
        (4_900, 931),
        (9_999, 1_900),  # 1899.81 rounds up
        (1, 0),  # 0.19 rounds down
        (2, 0),  # 0.38 rounds down
        (3, 1),  # 0.57 rounds up
    ],
)
def test_vat_is_19_percent_of_net_rounded_to_the_nearest_cent(net, vat):
    assert invoice_amounts(net, VAT).vat_cents == vat


@pytest.mark.parametrize(
    ("net", "vat"),
    [
        (50, 10),  # 9.5
        (150, 29),  # 28.5: banker's rounding would give 28
        (350, 67),  # 66.5: banker's rounding would give 66
        (1_050, 200),  # 199.5
        (10_050, 1_910),  # 1909.5
    ],
)
def test_vat_at_an_exact_half_cent_rounds_up(net, vat):
    assert invoice_amounts(net, VAT).vat_cents == vat


@pytest.mark.parametrize("net", [0, 1, 3, 50, 150, 999, 1_000, 4_900, 12_345, 99_999, 1_000_000])
def test_gross_is_exactly_net_plus_vat(net):
    amounts = invoice_amounts(net, VAT)
    assert amounts.net_cents == net
    assert amounts.gross_cents == amounts.net_cents + amounts.vat_cents


def test_an_invoice_for_a_monthly_price_of_9_99_eur_has_the_expected_amounts():
    assert invoice_amounts(999, VAT) == InvoiceAmounts(net_cents=999, vat_cents=190, gross_cents=1_189)


def test_the_export_fee_of_49_eur_net_is_58_31_eur_gross():
    assert invoice_amounts(SUBSCRIPTIONS.export_fee_net_cents, VAT) == InvoiceAmounts(
        net_cents=4_900, vat_cents=931, gross_cents=5_831
    )


def test_amounts_are_integer_cents():
    amounts = invoice_amounts(151, VAT)
    assert all(type(value) is int for value in (amounts.net_cents, amounts.vat_cents, amounts.gross_cents))
    assert type(revenue_share_cents(151, 12.5)) is int


def test_a_zero_net_amount_has_zero_vat_and_zero_gross():
    assert invoice_amounts(0, VAT) == InvoiceAmounts(net_cents=0, vat_cents=0, gross_cents=0)


def test_a_zero_vat_rate_leaves_gross_equal_to_net():
    assert invoice_amounts(1_234, 0) == InvoiceAmounts(net_cents=1_234, vat_cents=0, gross_cents=1_234)


def test_the_vat_rate_may_be_given_as_a_decimal():
    assert invoice_amounts(150, Decimal("19")).vat_cents == 29
    assert invoice_amounts(150, Decimal("19")) == invoice_amounts(150, 19.0)


@pytest.mark.parametrize(
    ("net", "share", "expected"),
    [
        (1_000, 20, 200),
        (1_000, 20.0, 200),
        (999, 30, 300),  # 299.7
        (1_001, 30, 300),  # 300.3
        (1_000, 100, 1_000),
        (1_000, 0, 0),
    ],
)
def test_the_revenue_share_is_the_negotiated_percentage_of_net(net, share, expected):
    assert revenue_share_cents(net, share) == expected


@pytest.mark.parametrize(
    ("net", "share", "expected"),
    [
        (1_000, 12.5, 125),
        (1_004, 12.5, 126),  # 125.5
        (1_012, 12.5, 127),  # 126.5: banker's rounding would give 126
        (4, 12.5, 1),  # 0.5
        (3, 12.5, 0),  # 0.375
        (1_000, 33.3, 333),
        (10_000, 0.25, 25),
        (200, 0.25, 1),  # 0.5
        (1_000, Decimal("17.75"), 178),  # 177.5
    ],
)
def test_a_fractional_revenue_share_is_rounded_half_up_to_the_cent(net, share, expected):
    assert revenue_share_cents(net, share) == expected


def test_the_revenue_share_is_taken_of_net_not_of_gross():
    amounts = invoice_amounts(1_000, VAT)
    assert revenue_share_cents(amounts.net_cents, 20) == 200
    assert revenue_share_cents(amounts.net_cents, 20) != percent_of(amounts.gross_cents, 20)


def test_the_revenue_share_of_a_zero_net_amount_is_zero():
    assert revenue_share_cents(0, 20) == 0
    assert revenue_share_cents(0, 12.5) == 0


def test_percentages_given_as_floats_are_taken_at_their_decimal_value_not_their_binary_approximation():
    # 1050 * 0.19 and 1012 * 0.125 are exact halves; a binary float product must not tip them down.
    assert percent_of(1_050, 19.0) == 200
    assert percent_of(1_012, 12.5) == 127
    assert percent_of(50, 1.1) == 1  # 0.55
    assert percent_of(5, 10.1) == 1  # 0.505
    # 33.3 and 22.7 are slightly below their decimal value in binary: 500 cents must still give 166.5 -> 167.
    assert percent_of(500, 33.3) == 167
    assert revenue_share_cents(500, 22.7) == 114  # 113.5
    assert revenue_share_cents(500, 0.3) == 2  # 1.5
