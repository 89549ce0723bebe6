"""Booking an app: SMEs up to 500 employees, terms of 1, 12 or 24 months, phone bill needs Telekom."""

from typing import Any

import pytest
from pydantic import ValidationError

from domain.catalogue import MARKETPLACE
from domain.payments import DirectDebit, PhoneBill, TokenizedMethod
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.model import BookingRequest, Customer, check_method_fits_customer

TELEKOM_NUMBER = "4711081500"
PHONE_BILL: dict[str, Any] = {"type": "phone_bill"}
CARD: dict[str, Any] = {"type": "credit_card", "token": "tok_visa_4242"}
DIRECT_DEBIT: dict[str, Any] = {
    "type": "direct_debit",
    "iban": "DE89 3704 0044 0532 0130 00",
    "mandate_reference": "MANDATE-1",
    "account_holder": "Bäckerei Schmidt GmbH",
}


def customer(employees: int = 12, telekom_customer_number: str | None = None, **overrides: Any) -> dict[str, Any]:
    return {
        "id": "baeckerei-schmidt",
        "name": "Bäckerei Schmidt GmbH",
        "employees": employees,
        "telekom_customer_number": telekom_customer_number,
    } | overrides


def booking(**overrides: Any) -> dict[str, Any]:
    return {"customer": customer(), "app_id": "acme-crm", "term_months": 12} | overrides


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(str(error["msg"]) for error in excinfo.value.errors())


# Eligibility: SMEs up to 500 employees.


def test_the_default_eligibility_limit_is_500_employees():
    assert SUBSCRIPTIONS.max_employees == 500


@pytest.mark.parametrize("employees", [1, 12, 250, 499, 500])
def test_a_customer_with_up_to_500_employees_is_eligible(employees):
    assert Customer.model_validate(customer(employees)).employees == employees


def test_a_customer_with_exactly_500_employees_can_book():
    request = BookingRequest.model_validate(booking(customer=customer(500)))
    assert request.customer.employees == 500


@pytest.mark.parametrize("employees", [501, 502, 1_000, 250_000])
def test_a_customer_over_500_employees_is_not_eligible(employees):
    with pytest.raises(ValidationError) as excinfo:
        Customer.model_validate(customer(employees))
    message = errors_of(excinfo)
    assert "500" in message
    assert str(employees) in message
    assert "over the limit" in message


def test_a_booking_for_a_customer_over_500_employees_is_refused_with_a_message_naming_the_limit():
    with pytest.raises(ValidationError) as excinfo:
        BookingRequest.model_validate(booking(customer=customer(501)))
    message = errors_of(excinfo)
    assert "up to 500 employees" in message
    assert "501 is over the limit" in message


@pytest.mark.parametrize("employees", [0, -1, -500])
def test_a_customer_needs_at_least_one_employee(employees):
    with pytest.raises(ValidationError) as excinfo:
        Customer.model_validate(customer(employees))
    assert [error["loc"] for error in excinfo.value.errors()] == [("employees",)]


@pytest.mark.parametrize("employees", ["many", 12.5, None])
def test_the_employee_count_is_a_whole_number(employees):
    with pytest.raises(ValidationError):
        Customer.model_validate(customer(employees))


def test_a_customer_needs_a_slug_id_and_a_name():
    with pytest.raises(ValidationError):
        Customer.model_validate(customer(id="Bäckerei Schmidt"))
    with pytest.raises(ValidationError):
        Customer.model_validate(customer(name="   "))


# The Telekom customer number and the phone bill.


@pytest.mark.parametrize("number", ["123456", "4711081500", "123456789012"])
def test_a_telekom_customer_number_has_6_to_12_digits(number):
    assert Customer.model_validate(customer(telekom_customer_number=number)).telekom_customer_number == number


@pytest.mark.parametrize(
    "number", ["", "12345", "1234567890123", "47110815OO", "4711 0815", "4711-0815", "+49471108", " 4711081500"]
)
def test_a_telekom_customer_number_of_other_length_or_characters_is_refused(number):
    with pytest.raises(ValidationError) as excinfo:
        Customer.model_validate(customer(telekom_customer_number=number))
    assert [error["loc"] for error in excinfo.value.errors()] == [("telekom_customer_number",)]


def test_the_telekom_customer_number_is_optional():
    assert Customer.model_validate(customer()).telekom_customer_number is None


def test_payment_by_phone_bill_without_a_telekom_customer_number_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        BookingRequest.model_validate(booking(payment_method=PHONE_BILL))
    assert "Telekom customer number" in errors_of(excinfo)


def test_payment_by_phone_bill_with_a_telekom_customer_number_is_accepted():
    request = BookingRequest.model_validate(
        booking(customer=customer(telekom_customer_number=TELEKOM_NUMBER), payment_method=PHONE_BILL)
    )
    assert isinstance(request.payment_method, PhoneBill)
    assert request.customer.telekom_customer_number == TELEKOM_NUMBER


@pytest.mark.parametrize("method", [CARD, DIRECT_DEBIT, {"type": "paypal", "token": "pp_123"}])
def test_other_payment_methods_need_no_telekom_customer_number(method):
    request = BookingRequest.model_validate(booking(payment_method=method))
    assert request.payment_method is not None
    assert request.payment_method.type == method["type"]


def test_a_booking_parses_the_payment_method_by_its_type():
    card = BookingRequest.model_validate(booking(payment_method=CARD)).payment_method
    debit = BookingRequest.model_validate(booking(payment_method=DIRECT_DEBIT)).payment_method
    assert isinstance(card, TokenizedMethod)
    assert isinstance(debit, DirectDebit)
    assert debit.iban == "DE89370400440532013000"


def test_a_booking_with_a_direct_debit_of_an_invalid_iban_is_refused():
    with pytest.raises(ValidationError):
        BookingRequest.model_validate(booking(payment_method=DIRECT_DEBIT | {"iban": "DE88370400440532013000"}))


def test_a_booking_during_the_trial_needs_no_payment_method():
    assert BookingRequest.model_validate(booking()).payment_method is None


def test_check_method_fits_customer_refuses_only_a_phone_bill_without_a_telekom_customer_number():
    without = Customer.model_validate(customer())
    with_number = Customer.model_validate(customer(telekom_customer_number=TELEKOM_NUMBER))
    phone_bill = PhoneBill.model_validate(PHONE_BILL)
    card = TokenizedMethod.model_validate(CARD)

    with pytest.raises(ValueError, match="Telekom customer number"):
        check_method_fits_customer(phone_bill, without)
    check_method_fits_customer(phone_bill, with_number)
    check_method_fits_customer(card, without)
    check_method_fits_customer(None, without)


# Terms.


@pytest.mark.parametrize("term", [1, 12, 24])
def test_a_booking_takes_a_term_of_1_12_or_24_months(term):
    assert MARKETPLACE.contract_terms_months == (1, 12, 24)
    assert BookingRequest.model_validate(booking(term_months=term)).term_months == term


@pytest.mark.parametrize("term", [0, -12, 2, 3, 6, 11, 13, 18, 36, 48])
def test_a_booking_with_any_other_term_is_refused(term):
    with pytest.raises(ValidationError) as excinfo:
        BookingRequest.model_validate(booking(term_months=term))
    assert "term_months must be one of [1, 12, 24]" in errors_of(excinfo)


def test_a_booking_needs_a_slug_app_id():
    with pytest.raises(ValidationError):
        BookingRequest.model_validate(booking(app_id="Acme CRM"))


def test_a_channel_partner_is_optional_and_a_slug():
    assert BookingRequest.model_validate(booking()).channel_partner_id is None
    assert BookingRequest.model_validate(booking(channel_partner_id="partner-42")).channel_partner_id == "partner-42"
    with pytest.raises(ValidationError):
        BookingRequest.model_validate(booking(channel_partner_id="Partner 42"))
