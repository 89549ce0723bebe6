"""Payment methods (docs/architecture.md): the IBAN check of SEPA direct debits (schwifty), tokens, and masking."""

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.payments import (
    Card,
    DirectDebit,
    PaymentMethod,
    PaymentMethodType,
    PhoneBill,
    TokenizedMethod,
    iban_is_valid,
    iban_problem,
    masked,
    method_view,
    normalize_iban,
)

# mypy reads the Annotated union as a type on a fresh cache and as a value on a warm one: the ignore covers both.
METHOD: TypeAdapter[DirectDebit | PhoneBill | TokenizedMethod] = TypeAdapter(PaymentMethod)  # type: ignore[arg-type, unused-ignore]

# Published example IBANs (IBAN registry / national banks).
VALID_IBANS = {
    "DE": "DE89370400440532013000",
    "AT": "AT611904300234573201",
    "FR": "FR1420041010050500013M02606",
    "NL": "NL91ABNA0417164300",
    "GB": "GB29NWBK60161331926819",
    "CH": "CH9300762011623852957",
}
# The IBAN registry's lengths of the countries above, for tests that build IBANs of the wrong length.
IBAN_LENGTHS = {"DE": 22, "AT": 20, "FR": 27, "NL": 18, "GB": 22, "CH": 21}


def with_check_digits(country: str, bban: str) -> str:
    """An IBAN with correct ISO 13616 mod-97 check digits, computed independently of the module under test."""
    rearranged = bban + country + "00"
    number = int("".join(str(int(char, 36)) for char in rearranged))
    return f"{country}{98 - number % 97:02d}{bban}"


def grouped(iban: str) -> str:
    """The printed form: groups of four separated by spaces."""
    return " ".join(iban[index : index + 4] for index in range(0, len(iban), 4))


def debit(iban: str, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "direct_debit",
        "iban": iban,
        "mandate_reference": "MANDATE-2025-0001",
        "account_holder": "Bäckerei Schmidt GmbH",
    } | overrides


# The IBAN check.


def test_the_check_digit_helper_reproduces_the_published_examples():
    for iban in VALID_IBANS.values():
        assert with_check_digits(iban[:2], iban[4:]) == iban


@pytest.mark.parametrize("iban", VALID_IBANS.values(), ids=VALID_IBANS.keys())
def test_valid_ibans_of_several_countries_are_accepted(iban):
    assert iban_is_valid(iban)
    assert iban_problem(iban) is None


@pytest.mark.parametrize("iban", VALID_IBANS.values(), ids=VALID_IBANS.keys())
def test_a_valid_iban_is_accepted_with_spaces_and_in_lowercase(iban):
    assert iban_is_valid(grouped(iban))
    assert iban_is_valid(iban.lower())
    assert iban_is_valid(grouped(iban).lower())
    assert iban_is_valid(f"  {grouped(iban)}  ")


@pytest.mark.parametrize("iban", VALID_IBANS.values(), ids=VALID_IBANS.keys())
def test_an_iban_is_normalized_to_uppercase_without_spaces(iban):
    assert normalize_iban(grouped(iban).lower()) == iban
    assert normalize_iban(iban) == iban


@pytest.mark.parametrize("iban", VALID_IBANS.values(), ids=VALID_IBANS.keys())
def test_a_direct_debit_stores_the_normalized_iban(iban):
    method = DirectDebit.model_validate(debit(grouped(iban).lower()))
    assert method.iban == iban


@pytest.mark.parametrize(
    "iban",
    [
        "DE88370400440532013000",  # check digits changed
        "DE00370400440532013000",
        "DE89370400440532013001",  # last digit changed
        "DE89370400440532031000",  # two digits swapped
        "AT621904300234573201",
        "GB28NWBK60161331926819",
        "GB29NWBK60161331926818",
        "NL91ABNA0417164301",
        "NL19ABNA0417164300",
    ],
)
def test_an_iban_with_wrong_check_digits_is_refused(iban):
    assert iban_problem(iban) == "the check digits are wrong (a typo in the IBAN?)"


@pytest.mark.parametrize(
    ("country", "bban"),
    [
        ("DE", "37040044053201300"),  # 21 characters, one short
        ("DE", "3704004405320130000"),  # 23 characters, one too many
        ("AT", "190430023457320"),  # 19
        ("AT", "19043002345732010"),  # 21
        ("GB", "NWBK6016133192681"),  # 21
        ("NL", "ABNA041716430"),  # 17
        ("NL", "ABNA04171643000"),  # 19
        ("NL", "370400440532013000"),  # a German BBAN under the Dutch country code
    ],
)
def test_an_iban_of_the_wrong_length_for_its_country_is_refused_even_with_correct_check_digits(country, bban):
    iban = with_check_digits(country, bban)
    assert len(iban) != IBAN_LENGTHS[country]
    assert iban_problem(iban) == f"an IBAN of {country} has {IBAN_LENGTHS[country]} characters, not {len(iban)}"


@pytest.mark.parametrize(
    ("country", "bban", "structure"),
    [
        ("DE", "37040044053201300A", "8!n10!n"),  # a letter where a German account has digits only
        ("DE", "3704004A0532013000", "8!n10!n"),  # a letter in the bank code
        ("NL", "1234041716430A", "4!a10!n"),  # digits where a Dutch bank code has letters
        ("GB", "123460161331926819", "4!a6!n8!n"),
    ],
)
def test_an_iban_whose_account_part_breaks_its_countrys_structure_is_refused_despite_correct_check_digits(
    country, bban, structure
):
    iban = with_check_digits(country, bban)  # the right length, and mod-97 holds: what a length check lets through
    assert len(iban) == IBAN_LENGTHS[country]
    assert iban_problem(iban) == f"the account part (BBAN) does not have the structure of {country} ({structure})"


def test_an_iban_with_wrong_national_check_digits_is_refused_where_the_country_has_them():
    # A French RIB key (the last two digits of the BBAN) changed, the IBAN's own check digits recomputed.
    iban = with_check_digits("FR", VALID_IBANS["FR"][4:-2] + "07")
    assert iban_problem(iban) == "the national check digits of the FR account part (BBAN) are wrong"


def test_the_reason_for_refusing_an_iban_never_repeats_its_account_number():
    message = iban_problem(with_check_digits("DE", "37040044053201300A"))
    assert message is not None and "structure of DE" in message
    assert "053201300" not in message
    with pytest.raises(ValidationError) as refused:
        DirectDebit.model_validate(debit("DE88370400440532013000"))
    assert "check digits are wrong" in str(refused.value) and "0532013000" not in refused.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "iban",
    [
        with_check_digits("DE", "37040044053201300A"),  # the BBAN's structure
        with_check_digits("FR", VALID_IBANS["FR"][4:-2] + "07"),  # the national check digits
    ],
)
def test_a_held_iban_an_earlier_release_took_on_length_and_check_digits_alone_still_decodes(iban):
    # The account rules are checked where a new IBAN enters (the API); a running workflow's state must still decode.
    assert iban_problem(iban) is not None
    assert iban_problem(iban, account_rules=False) is None
    assert DirectDebit.model_validate(debit(iban)).iban == iban


@pytest.mark.parametrize(
    "iban",
    [
        with_check_digits("XX", "370400440532013000"),
        with_check_digits("US", "370400440532013000"),
        with_check_digits("ZZ", "NWBK60161331926819"),
    ],
)
def test_an_iban_of_an_unknown_country_is_refused_even_with_correct_check_digits(iban):
    assert iban_problem(iban) == f"{iban[:2]} is not a country with IBANs"


@pytest.mark.parametrize(
    "iban",
    [
        "DE89-3704-0044-0532-0130-00",
        "DE89.3704.0044.0532.0130.00",
        "DE8937040044053201300!",
        "DE89370400440532013_00",
        "DE89370400440532Ä13000",
        "DE89\uff13\uff17\uff10\uff1400440532013000",  # full-width digits
        "D189370400440532013000",  # a digit in the country code
        "DEA9370400440532013000",  # a letter in the check digits
        "",
        "DE",
        "DE89",
    ],
)
def test_an_iban_with_illegal_characters_or_no_account_is_refused(iban):
    assert not iban_is_valid(iban)


# The discriminated union of payment methods.


def test_a_direct_debit_parses_as_a_direct_debit():
    method = METHOD.validate_python(debit("DE89 3704 0044 0532 0130 00"))
    assert isinstance(method, DirectDebit)
    assert method.type == PaymentMethodType.DIRECT_DEBIT
    assert method.iban == "DE89370400440532013000"
    assert method.mandate_reference == "MANDATE-2025-0001"
    assert method.account_holder == "Bäckerei Schmidt GmbH"


def test_a_phone_bill_parses_as_a_phone_bill():
    method = METHOD.validate_python({"type": "phone_bill"})
    assert isinstance(method, PhoneBill)
    assert method.type == PaymentMethodType.PHONE_BILL


@pytest.mark.parametrize(
    "kind", [PaymentMethodType.CREDIT_CARD, PaymentMethodType.PAYPAL, PaymentMethodType.CLICKANDBUY]
)
def test_card_paypal_and_clickandbuy_parse_as_tokenized_methods(kind):
    method = METHOD.validate_python({"type": kind.value, "token": "tok_sandbox_4242"})
    assert isinstance(method, TokenizedMethod)
    assert method.type == kind
    assert method.token == "tok_sandbox_4242"


def test_every_payment_method_type_of_the_design_is_offered():
    assert {kind.value for kind in PaymentMethodType} == {
        "phone_bill",
        "credit_card",
        "paypal",
        "clickandbuy",
        "direct_debit",
    }


def test_payment_methods_parse_from_json():
    assert isinstance(METHOD.validate_json('{"type": "paypal", "token": "pp_abc123"}'), TokenizedMethod)
    assert isinstance(METHOD.validate_json('{"type": "phone_bill"}'), PhoneBill)
    parsed = METHOD.validate_json(
        '{"type": "direct_debit", "iban": "nl91 abna 0417 1643 00", "mandate_reference": "M-1",'
        ' "account_holder": "Kanzlei Meier"}'
    )
    assert isinstance(parsed, DirectDebit)
    assert parsed.iban == "NL91ABNA0417164300"


def test_a_payment_method_round_trips_through_json():
    for data in (debit(VALID_IBANS["AT"]), {"type": "phone_bill"}, {"type": "clickandbuy", "token": "cab-0001"}):
        method = METHOD.validate_python(data)
        assert METHOD.validate_json(METHOD.dump_json(method)) == method


@pytest.mark.parametrize("data", [{"type": "cash"}, {"type": "bitcoin", "token": "abc123"}, {"token": "abc123"}, {}])
def test_an_unknown_or_missing_payment_method_type_is_refused(data):
    with pytest.raises(ValidationError):
        METHOD.validate_python(data)


def test_a_tokenized_method_needs_its_token():
    with pytest.raises(ValidationError):
        METHOD.validate_python({"type": "credit_card"})


@pytest.mark.parametrize(
    "iban",
    [
        "DE88370400440532013000",  # check digits
        with_check_digits("DE", "37040044053201300"),  # length
        with_check_digits("XX", "370400440532013000"),  # country
        "DE89-3704-0044-0532-0130-00",  # characters
        "",
    ],
)
def test_a_direct_debit_with_an_invalid_iban_is_a_validation_error(iban):
    with pytest.raises(ValidationError, match=r"not a valid IBAN"):
        METHOD.validate_python(debit(iban))
    with pytest.raises(ValidationError):
        DirectDebit.model_validate(debit(iban))


def test_a_direct_debit_needs_a_mandate_reference_and_an_account_holder():
    iban = VALID_IBANS["DE"]
    for missing in ("mandate_reference", "account_holder", "iban"):
        data = debit(iban)
        del data[missing]
        with pytest.raises(ValidationError):
            METHOD.validate_python(data)
    with pytest.raises(ValidationError):
        METHOD.validate_python(debit(iban, account_holder="   "))


@pytest.mark.parametrize("reference", ["M", "MANDATE-2025-0001", "ABC/123:(x).y,z'+?", "A" * 35])
def test_a_sepa_mandate_reference_of_up_to_35_sepa_characters_is_accepted(reference):
    assert DirectDebit.model_validate(debit(VALID_IBANS["DE"], mandate_reference=reference)).mandate_reference == (
        reference
    )


@pytest.mark.parametrize("reference", ["", "A" * 36, "MANDAT-Ä-1", "M_1", "M#1", "M@1"])
def test_a_mandate_reference_outside_the_sepa_character_set_or_too_long_is_refused(reference):
    with pytest.raises(ValidationError):
        DirectDebit.model_validate(debit(VALID_IBANS["DE"], mandate_reference=reference))


# Tokens.


@pytest.mark.parametrize("token", ["abc", "tok_visa_4242", "pp-ABC-123", "A1_b2-C3", "x" * 200])
def test_a_token_of_3_to_200_letters_digits_underscores_and_hyphens_is_accepted(token):
    assert TokenizedMethod.model_validate({"type": "credit_card", "token": token}).token == token


@pytest.mark.parametrize(
    "token", ["", "ab", "x" * 201, "tok visa", "tok.visa", "tok/visa", "tok+visa", "tok_visa\n", "tök_visa", "4242;--"]
)
def test_a_token_outside_the_pattern_is_refused(token):
    with pytest.raises(ValidationError):
        TokenizedMethod.model_validate({"type": "credit_card", "token": token})


def test_a_direct_debit_is_not_a_tokenized_method():
    with pytest.raises(ValidationError):
        TokenizedMethod.model_validate({"type": "direct_debit", "token": "tok_visa_4242"})


# Masking.


@pytest.mark.parametrize("iban", VALID_IBANS.values(), ids=VALID_IBANS.keys())
def test_a_masked_direct_debit_shows_only_the_ends_of_the_iban(iban):
    shown = masked(DirectDebit.model_validate(debit(iban)))
    assert shown == f"direct_debit {iban[:4]}…{iban[-4:]}"
    assert iban not in shown
    assert iban[4:-4] not in shown


@pytest.mark.parametrize("country", sorted(IBAN_LENGTHS))
def test_a_masked_direct_debit_never_reveals_the_full_iban_even_for_the_shortest_ibans(country):
    bban = "1" * (IBAN_LENGTHS[country] - 4)
    iban = with_check_digits(country, bban)
    # Built without validation: "1"s break the structure of some countries' BBANs, which masking does not care about.
    method = DirectDebit.model_construct(
        type=PaymentMethodType.DIRECT_DEBIT, iban=iban, mandate_reference="M-1", account_holder="Kanzlei Meier"
    )
    shown = masked(method)
    assert iban not in shown
    assert bban not in shown


def test_a_card_the_gateway_described_shows_its_brand_and_last_four_digits():
    visa = Card(brand="Visa", last4="4242")
    card = TokenizedMethod(type=PaymentMethodType.CREDIT_CARD, token="tok_success", card=visa)
    assert masked(card) == "Visa •••• 4242"
    assert method_view(card).model_dump() == {"type": "credit_card", "brand": "Visa", "last4": "4242"}


@pytest.mark.parametrize("token", ["abc", "tok_success", "tok_visa_4242", "ABCDEFGHJKLMNPQRSTUVWXYZ"])
@pytest.mark.parametrize(
    "kind", [PaymentMethodType.CREDIT_CARD, PaymentMethodType.PAYPAL, PaymentMethodType.CLICKANDBUY]
)
def test_a_token_without_a_described_card_shows_its_type_only(kind, token):
    method = TokenizedMethod(type=kind, token=token)
    assert masked(method) == kind.value  # never "credit_card …cess": a token's characters say nothing of the card
    assert method_view(method).model_dump() == {"type": kind.value, "brand": None, "last4": None}


def test_a_masked_phone_bill_is_just_its_type():
    assert masked(PhoneBill(type=PaymentMethodType.PHONE_BILL)) == "phone_bill"


def test_a_card_is_never_taken_from_the_request_schema():
    schema = METHOD.json_schema(mode="validation")
    assert "card" not in schema["$defs"]["TokenizedMethod"]["properties"]


@pytest.mark.parametrize("last4", ["424", "42424", "42a2", ""])
def test_a_card_has_exactly_four_last_digits(last4):
    with pytest.raises(ValidationError):
        Card(brand="Visa", last4=last4)
