"""What booking refuses: 422 for input no booking may have, 409 for what the catalogue or an open booking forbids."""

from typing import Any

import pytest

from tests.api.conftest import METHODS, Subscriptions, assert_error


def details_of(response: Any) -> list[dict[str, str]]:
    details: list[dict[str, str]] = assert_error(response, 422, "validation_error")
    return details


async def test_a_customer_over_500_employees_is_refused_naming_the_limit(subs: Subscriptions):
    [detail] = details_of(await subs.post_booking(subs.body(employees=501)))
    assert detail["field"] == "body.customer"
    assert "up to 500 employees" in detail["message"] and "501" in detail["message"]
    assert (await subs.post_booking(subs.body(employees=500))).status_code == 201


async def test_a_direct_debit_with_an_invalid_iban_is_refused(subs: Subscriptions):
    method = METHODS["direct_debit"] | {"iban": "DE00 1234"}
    [detail] = details_of(await subs.post_booking(subs.body(payment_method=method)))
    assert detail["field"] == "body.payment_method.direct_debit.iban"


async def test_an_iban_that_breaks_its_countrys_account_structure_is_refused_saying_so(subs: Subscriptions):
    # Mod-97 holds and the length is German, but a German account number has digits only.
    method = METHODS["direct_debit"] | {"iban": "DE05 3704 0044 0532 0130 0A"}
    [detail] = details_of(await subs.post_booking(subs.body(payment_method=method)))
    assert detail["field"] == "body.payment_method.direct_debit.iban"
    assert "the account part (BBAN) does not have the structure of DE" in detail["message"]


async def test_phone_bill_without_a_telekom_customer_number_is_refused(subs: Subscriptions):
    body = subs.body(payment_method=METHODS["phone_bill"], telekom_customer_number=None)
    [detail] = details_of(await subs.post_booking(body))
    assert detail["field"] == "body.payment_method"
    assert "Telekom customer number" in detail["message"]
    with_number = subs.body(payment_method=METHODS["phone_bill"])
    assert (await subs.post_booking(with_number)).json()["payment_method"] == "phone_bill"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"term_months": 6}, "body.term_months"),
        ({"app_id": "Acme CRM"}, "body.app_id"),
        ({"channel_partner_id": "Nord!"}, "body.channel_partner_id"),
        ({"actor": "someone"}, None),  # booking bodies may carry more fields; the actor is still the caller
    ],
    ids=["unoffered-term", "app-not-a-slug", "partner-not-a-slug", "extra-field"],
)
async def test_malformed_booking_fields_are_invalid(subs: Subscriptions, change: dict[str, Any], field: str | None):
    response = await subs.post_booking(subs.body() | change)
    if field is None:
        assert response.status_code == 201, response.text
        assert response.json()["history"][0]["actor"] == "operator-otto"
        return
    assert [detail["field"] for detail in details_of(response)] == [field]


async def test_a_malformed_customer_is_invalid(subs: Subscriptions):
    body = subs.body(customer="Beispiel GmbH", employees=0, telekom_customer_number="12")
    fields = sorted(detail["field"] for detail in details_of(await subs.post_booking(body)))
    assert fields == ["body.customer.employees", "body.customer.id", "body.customer.telekom_customer_number"]


async def test_an_app_that_is_not_live_is_refused(subs: Subscriptions):
    details = assert_error(await subs.post_booking(subs.body(app_id="still-onboarding")), 409, "app_not_live")
    assert details == {"app_id": "still-onboarding"}


async def test_a_term_the_app_does_not_offer_is_refused_naming_the_offered_terms(subs: Subscriptions):
    response = await subs.post_booking(subs.body(term_months=24))
    details = assert_error(response, 409, "plan_not_offered")
    assert details == {"app_id": subs.app_id, "term_months": 24, "offered_terms": [1, 12]}
    assert "1, 12" in response.json()["error"]["message"]


async def test_a_second_booking_while_one_is_open_is_refused(subs: Subscriptions):
    view = await subs.book()
    again = await subs.post_booking(subs.body(customer=view["customer"]["id"], term_months=12))
    assert assert_error(again, 409, "subscription_exists") == {"subscription_id": view["id"]}
    # The same customer may book another app.
    other = await subs.book(customer=view["customer"]["id"], app_id=subs.other_app_id)
    assert other["id"] == f"{view['customer']['id']}-{subs.other_app_id}"
