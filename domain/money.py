"""Money in integer cents (EUR): VAT and revenue shares, rounded half up to the cent."""

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel


def percent_of(cents: int, percent: float | Decimal) -> int:
    """`percent` % of `cents`, rounded half up to a whole cent (commercial rounding)."""
    exact = Decimal(cents) * Decimal(str(percent)) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pro_rata_cents(cents: int, part: int, whole: int) -> int:
    """`part`/`whole` of `cents`, rounded half up to a whole cent (commercial rounding)."""
    exact = Decimal(cents) * Decimal(part) / Decimal(whole)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class InvoiceAmounts(BaseModel):
    net_cents: int
    vat_cents: int
    gross_cents: int


def invoice_amounts(net_cents: int, vat_percent: float | Decimal) -> InvoiceAmounts:
    vat = percent_of(net_cents, vat_percent)
    return InvoiceAmounts(net_cents=net_cents, vat_cents=vat, gross_cents=net_cents + vat)


def revenue_share_cents(net_cents: int, share_percent: float | Decimal) -> int:
    """The ISV's share of an invoice: the negotiated percentage of the net amount."""
    return percent_of(net_cents, share_percent)
