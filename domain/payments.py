"""Payment methods (DESIGN.md §2.2) and the IBAN check of SEPA direct debits."""

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

# Lengths of IBANs by country (SEPA countries and a few more), from the IBAN registry.
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip


def normalize_iban(iban: str) -> str:
    return re.sub(r"\s+", "", iban).upper()


def iban_is_valid(iban: str) -> bool:
    """Country length and the ISO 13616 mod-97 check digits."""
    value = normalize_iban(iban)
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}", value):
        return False
    if IBAN_LENGTHS.get(value[:2]) != len(value):
        return False
    rearranged = value[4:] + value[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def _valid_iban(iban: str) -> str:
    value = normalize_iban(iban)
    if not iban_is_valid(value):
        raise ValueError("not a valid IBAN (country length or check digits wrong)")
    return value


Iban = Annotated[str, AfterValidator(_valid_iban)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PaymentMethodType(StrEnum):
    PHONE_BILL = "phone_bill"
    CREDIT_CARD = "credit_card"
    PAYPAL = "paypal"
    CLICKANDBUY = "clickandbuy"
    DIRECT_DEBIT = "direct_debit"


class DirectDebit(BaseModel):
    """A SEPA direct debit: the customer's IBAN and the mandate it signed."""

    type: Literal[PaymentMethodType.DIRECT_DEBIT]
    iban: Iban
    mandate_reference: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+?/:().,' -]{1,35}$")]
    account_holder: Text


class PhoneBill(BaseModel):
    """A line item on the customer's monthly Telekom fixed-line bill (needs the Telekom customer number)."""

    type: Literal[PaymentMethodType.PHONE_BILL]


class TokenizedMethod(BaseModel):
    """A card, PayPal or ClickandBuy account, known to us only as the gateway's token."""

    type: Literal[PaymentMethodType.CREDIT_CARD, PaymentMethodType.PAYPAL, PaymentMethodType.CLICKANDBUY]
    token: Annotated[str, StringConstraints(min_length=3, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$")]


PaymentMethod = Annotated[DirectDebit | PhoneBill | TokenizedMethod, Field(discriminator="type")]


def masked(method: DirectDebit | PhoneBill | TokenizedMethod) -> str:
    """How a method is shown in reads and logs: never the full IBAN or token."""
    match method:
        case DirectDebit(iban=iban):
            return f"direct_debit {iban[:4]}…{iban[-4:]}"
        case TokenizedMethod(type=kind, token=token):
            # Tokens may be as short as 3 characters: show the last 4 only when at least as many stay hidden.
            return f"{kind.value} …{token[-4:] if len(token) >= 8 else ''}"
        case _:
            return method.type.value
