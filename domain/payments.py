"""Payment methods and the IBAN check of SEPA direct debits (schwifty: the IBAN registry's rules)."""

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema
from schwifty import IBAN
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    SchwiftyException,
)

# Letters and digits only: schwifty would also drop other separators, which a typed-in IBAN never needs.
_IBAN_CHARACTERS = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")


def normalize_iban(iban: str) -> str:
    return re.sub(r"\s+", "", iban).upper()


def iban_problem(iban: str, *, account_rules: bool = True) -> str | None:
    """What is wrong with `iban`, or None for a valid one: every country's length from the IBAN registry and the
    ISO 13616 check digits; with `account_rules`, also the country's BBAN structure and, where it has them, its
    national check digits (schwifty).

    New IBANs are checked with the account rules where they enter (the API: `api/payment_methods.py`). The models
    that hold an IBAN check without them: a running workflow's state holds IBANs an earlier release took with the
    length and check digits alone, and must still decode.

    The messages never repeat the account number: they end up in error answers and logs.
    """
    value = normalize_iban(iban)
    if not _IBAN_CHARACTERS.fullmatch(value):
        return "an IBAN is a country code, 2 check digits and the account (BBAN), in letters and digits only"
    country = value[:2]
    try:
        parsed = IBAN(value, allow_invalid=True)
        spec = parsed.spec
    except InvalidCountryCode:
        return f"{country} is not a country with IBANs"
    if len(value) != spec.iban_length:
        return f"an IBAN of {country} has {spec.iban_length} characters, not {len(value)}"
    if not account_rules:
        return None if _iso_check_digits_hold(value) else _WRONG_CHECK_DIGITS
    try:
        parsed.validate(validate_bban=True)
    except InvalidLength:
        return f"an IBAN of {country} has {spec.iban_length} characters, not {len(value)}"
    except InvalidStructure:
        return f"the account part (BBAN) does not have the structure of {country} ({spec.bban_spec})"
    except InvalidChecksumDigits:
        return _WRONG_CHECK_DIGITS
    except InvalidBBANChecksum:
        return f"the national check digits of the {country} account part (BBAN) are wrong"
    except SchwiftyException as error:  # any other rule of the registry
        return f"not a valid IBAN: {type(error).__name__}"
    return None


_WRONG_CHECK_DIGITS = "the check digits are wrong (a typo in the IBAN?)"


def _iso_check_digits_hold(value: str) -> bool:
    """ISO 13616: the IBAN with its first four characters moved to the end, letters as 10 to 35, is 1 modulo 97."""
    return int("".join(str(int(char, 36)) for char in value[4:] + value[:4])) % 97 == 1


def iban_is_valid(iban: str) -> bool:
    return iban_problem(iban) is None


def _valid_iban(iban: str) -> str:
    problem = iban_problem(iban, account_rules=False)
    if problem is not None:
        raise ValueError(f"not a valid IBAN: {problem}")
    return normalize_iban(iban)


# An IBAN as the models hold it: length and check digits (see iban_problem for the account rules, checked on entry).
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


class Card(BaseModel):
    """What the gateway tells about the card behind a token, as payment providers do: never the card number."""

    brand: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]


class TokenizedMethod(BaseModel):
    """A card, PayPal or ClickandBuy account, known to us only as the gateway's token."""

    type: Literal[PaymentMethodType.CREDIT_CARD, PaymentMethodType.PAYPAL, PaymentMethodType.CLICKANDBUY]
    token: Annotated[str, StringConstraints(min_length=3, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$")]
    # A card's brand and last four digits as the gateway describes the token (the API asks it, replacing whatever a
    # caller sent, hence not in the request schema). None for other methods, unknown tokens and methods set earlier.
    card: SkipJsonSchema[Card | None] = None


PaymentMethod = Annotated[DirectDebit | PhoneBill | TokenizedMethod, Field(discriminator="type")]


class PaymentMethodView(BaseModel):
    """A payment method as reads show it: its type and, for a card the gateway described, brand and last four."""

    type: PaymentMethodType
    brand: str | None = None
    last4: str | None = None


def masked(method: DirectDebit | PhoneBill | TokenizedMethod) -> str:
    """How a method is shown in reads and logs: never the full IBAN, and never any of a token (its characters are
    the gateway's, not the card's); a described card as `Visa •••• 4242`."""
    match method:
        case DirectDebit(iban=iban):
            return f"direct_debit {iban[:4]}…{iban[-4:]}"
        case TokenizedMethod(card=Card(brand=brand, last4=last4)):
            return f"{brand} •••• {last4}"
        case _:
            return method.type.value


def method_view(method: DirectDebit | PhoneBill | TokenizedMethod) -> PaymentMethodView:
    card = method.card if isinstance(method, TokenizedMethod) else None
    return PaymentMethodView(type=method.type, brand=card and card.brand, last4=card and card.last4)
