"""Subscriptions through the API: booking on the catalogue's terms, reads and invoices on the workflow clock, and the
commands (cancel, payment method, export, reinstate), each answering with the workflow's view."""

import io
import zipfile
from typing import Any

from tests.api.conftest import ISV_A, METHODS, PRICES, Subscriptions, assert_error, auth


def actions(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["actor"], entry["action"]) for entry in view["history"]]


# --- booking ---------------------------------------------------------------------------------


async def test_booking_answers_201_with_the_view_on_the_catalogues_terms(subs: Subscriptions):
    body = subs.body(term_months=12, payment_method=METHODS["direct_debit"], channel_partner_id="telesales-nord")

    response = await subs.post_booking(body)

    assert response.status_code == 201, response.text
    view = response.json()
    assert view["id"] == f"{body['customer']['id']}-{subs.app_id}"
    assert (view["app_id"], view["isv_id"], view["channel_partner_id"]) == (subs.app_id, ISV_A, "telesales-nord")
    assert view["status"] == "trialing"
    assert (view["term_months"], view["monthly_price_cents"]) == (12, PRICES[12])
    assert view["payment_method"] == "direct_debit DE89…3000"  # masked: never the whole IBAN
    assert view["trial_ends_at"] > view["booked_at"]
    assert view["cancel_at"] is None
    assert actions(view) == [("operator-otto", "booked")]
    assert (await subs.view(view["id"])) == view


async def test_an_admin_books_without_a_payment_method_during_the_trial(subs: Subscriptions):
    view = await subs.book(as_role="admin")
    assert view["payment_method"] is None
    assert actions(view) == [("admin-ada", "booked")]


async def test_a_customer_can_book_the_app_again_once_the_earlier_subscription_ended(subs: Subscriptions):
    view = await subs.book()
    await subs.ok(view["id"], "cancel", {"reason": "trial was enough"})  # in the trial: suspend mode at once
    await subs.sleep_days(31)  # suspend mode ends: terminated, the workflow completes
    await subs.wait_until_ended(view["id"])
    ended = await subs.view(view["id"])
    assert ended["status"] == "terminated" and ended["terminated_at"] is not None

    again = await subs.book(customer=view["customer"]["id"])

    assert again["id"] == view["id"]
    assert again["status"] == "trialing"
    assert again["booked_at"] > view["booked_at"]


# --- reads and invoices ----------------------------------------------------------------------


async def test_after_the_trial_the_contract_is_active_and_its_first_invoice_paid(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    assert (await subs.get(view["id"], "/invoices")).json() == {"items": []}

    await subs.sleep_days(31)

    active = await subs.view(view["id"])
    assert active["status"] == "active"
    assert active["contract_started_at"] == view["trial_ends_at"]
    assert active["invoices_issued"] == 1
    assert active["next_invoice_at"] == active["current_period_end"]
    response = await subs.get(view["id"], "/invoices")
    assert response.status_code == 200, response.text
    [invoice] = response.json()["items"]
    assert invoice | {"number": None, "issued_at": None, "paid_at": None} == {
        "number": None,
        "kind": "period",
        "period_start": active["current_period_start"],
        "period_end": active["current_period_end"],
        "net_cents": 1990,
        "vat_cents": 378,
        "gross_cents": 2368,
        "proration_cents": 0,
        "currency": "EUR",
        "status": "paid",
        "issued_at": None,
        "paid_at": None,
        "failure_reason": None,
    }
    assert invoice["number"].startswith(view["id"])
    assert invoice["paid_at"] is not None


async def test_invoices_are_listed_in_number_order(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    await subs.sleep_days(30 + 3 * 31)
    items = (await subs.get(view["id"], "/invoices")).json()["items"]
    numbers = [item["number"] for item in items]
    assert len(numbers) == 4
    assert numbers == sorted(numbers)
    assert [item["period_start"] for item in items] == sorted(item["period_start"] for item in items)


# --- cancel ----------------------------------------------------------------------------------


async def test_cancelling_in_the_trial_suspends_at_once(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    cancelled = await subs.ok(view["id"], "cancel", {"reason": "no longer needed"})
    assert cancelled["status"] == "suspended"
    assert cancelled["suspension_reason"] == "cancelled"
    assert cancelled["suspend_ends_at"] is not None
    assert actions(cancelled)[-1] == ("operator-otto", "cancelled_in_trial")


async def test_cancelling_mid_term_takes_effect_at_the_end_of_the_term(subs: Subscriptions):
    view = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31 + 60)

    cancelled = await subs.ok(view["id"], "cancel")

    assert cancelled["status"] == "active"
    assert cancelled["cancel_at"] == cancelled["current_term_end"]
    assert cancelled["history"][-1]["action"] == "cancelled"
    again = await subs.command(view["id"], "cancel", {"reason": "twice"})
    assert assert_error(again, 409, "already_cancelled") == {"cancel_at": cancelled["cancel_at"].replace("Z", "+00:00")}


async def test_an_idempotency_key_applies_a_retried_cancel_once(subs: Subscriptions):
    view = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)

    first = await subs.command(view["id"], "cancel", key="cancel-1")
    retried = await subs.command(view["id"], "cancel", key="cancel-1")

    assert first.status_code == retried.status_code == 200, retried.text
    assert retried.json() == first.json()
    assert [action for _, action in actions(await subs.view(view["id"]))].count("cancelled") == 1


async def test_commands_on_an_ended_subscription_are_refused(subs: Subscriptions):
    view = await subs.book()
    await subs.ok(view["id"], "cancel")
    await subs.sleep_days(31)
    await subs.wait_until_ended(view["id"])

    # The workflow has completed, so Temporal itself refuses the Update: still a 409 with the reason.
    for method, path, body in (
        ("POST", "cancel", None),
        ("POST", "export-request", {}),
        ("POST", "reinstate", None),
        ("PUT", "payment-method", METHODS["credit_card"]),
    ):
        response = await subs.command(view["id"], path, body, method=method)
        assert assert_error(response, 409, "subscription_ended") == {"status": "terminated"}, path
    # It can still be read, invoices too.
    assert (await subs.view(view["id"]))["status"] == "terminated"
    assert (await subs.get(view["id"], "/invoices")).status_code == 200


# --- payment method --------------------------------------------------------------------------


async def test_a_card_shows_the_brand_and_last_four_digits_the_gateway_gives_for_its_token(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])  # tok_success: the sandbox's Visa 4242
    assert view["payment_method"] == "Visa •••• 4242"
    assert view["payment_method_details"] == {"type": "credit_card", "brand": "Visa", "last4": "4242"}
    assert "tok_success" not in str(view)

    mastercard = {"type": "credit_card", "token": "tok_mastercard"}
    changed = await subs.ok(view["id"], "payment-method", mastercard, method="PUT")
    assert changed["payment_method"] == "Mastercard •••• 4444"
    assert changed["history"][-1]["detail"] == "Mastercard •••• 4444"


async def test_a_card_is_described_by_the_gateway_not_by_the_caller(subs: Subscriptions):
    claimed = {"type": "credit_card", "token": "tok_unknown_card", "card": {"brand": "Visa", "last4": "1111"}}
    view = await subs.book(payment_method=claimed)
    assert view["payment_method"] == "credit_card"  # a token the gateway cannot describe shows its type only
    assert view["payment_method_details"] == {"type": "credit_card", "brand": None, "last4": None}


async def test_paypal_shows_its_type_only(subs: Subscriptions):
    view = await subs.book(payment_method={"type": "paypal", "token": "tok_success"})
    assert view["payment_method"] == "paypal"
    assert view["payment_method_details"] == {"type": "paypal", "brand": None, "last4": None}


async def test_changing_the_payment_method_is_recorded_masked(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    changed = await subs.ok(view["id"], "payment-method", METHODS["direct_debit"], method="PUT")
    assert changed["payment_method"] == "direct_debit DE89…3000"
    assert actions(changed)[-1] == ("operator-otto", "payment_method_changed")
    by_phone = await subs.ok(view["id"], "payment-method", METHODS["phone_bill"], method="PUT")
    assert by_phone["payment_method"] == "phone_bill"


async def test_a_payment_method_with_an_invalid_iban_is_invalid(subs: Subscriptions):
    view = await subs.book()
    method = METHODS["direct_debit"] | {"iban": "DE89370400440532013001"}  # one check digit off
    response = await subs.command(view["id"], "payment-method", method, method="PUT")
    [detail] = assert_error(response, 422, "validation_error")
    assert detail["field"] == "body.direct_debit.iban"
    assert "IBAN" in detail["message"]


async def test_phone_bill_for_a_customer_without_a_telekom_number_is_invalid(subs: Subscriptions):
    view = await subs.book(telekom_customer_number=None)
    response = await subs.command(view["id"], "payment-method", METHODS["phone_bill"], method="PUT")
    [detail] = assert_error(response, 422, "validation_error")
    assert detail["field"] == "body.type"
    assert "Telekom customer number" in detail["message"]
    assert (await subs.view(view["id"]))["payment_method"] is None


# --- export in suspend mode --------------------------------------------------------------------


async def test_an_export_is_refused_outside_suspend_mode(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    details = assert_error(await subs.command(view["id"], "export-request", {}), 409, "export_outside_suspend_mode")
    assert details == {"status": "trialing"}


async def test_an_export_in_suspend_mode_is_produced_and_downloadable(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    await subs.ok(view["id"], "cancel")

    exported = await subs.ok(view["id"], "export-request", {}, key="export-1")
    retried = await subs.ok(view["id"], "export-request", {}, key="export-1")

    [export] = exported["exports"]
    assert retried["exports"] == [export], "a retried request exports once"
    assert export["requested_by"] == "operator-otto"
    assert export["file_name"] == f"{export['export_id']}.zip"
    download = await subs.get(view["id"], f"/exports/{export['export_id']}")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert len(download.content) == export["size_bytes"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert sorted(archive.namelist()) == ["invoices.csv", "invoices.json", "isv_export.json", "subscription.json"]
    fee = [item for item in (await subs.get(view["id"], "/invoices")).json()["items"] if item["kind"] == "export_fee"]
    assert [(item["net_cents"], item["gross_cents"]) for item in fee] == [(4900, 5831)]


async def test_an_export_is_downloadable_only_from_its_own_subscription(subs: Subscriptions):
    view = await subs.book()
    await subs.ok(view["id"], "cancel")
    [export] = (await subs.ok(view["id"], "export-request"))["exports"]
    other = await subs.book()

    response = await subs.get(other["id"], f"/exports/{export['export_id']}")
    assert_error(response, 404, "export_not_found")
    assert_error(await subs.get(view["id"], "/exports/exp-unknown"), 404, "export_not_found")
    fields = assert_error(await subs.get(view["id"], "/exports/.env"), 422, "validation_error")
    assert [detail["field"] for detail in fields] == ["path.export_id"]


# --- reinstate ---------------------------------------------------------------------------------


async def test_reinstating_is_refused_unless_suspended_for_non_payment(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    assert assert_error(await subs.command(view["id"], "reinstate"), 409, "not_reinstatable") == {
        "status": "trialing",
        "suspension_reason": None,
    }
    await subs.ok(view["id"], "cancel")
    details = assert_error(await subs.command(view["id"], "reinstate", {"comment": "please"}), 409, "not_reinstatable")
    assert details == {"status": "suspended", "suspension_reason": "cancelled"}


async def test_reinstating_after_non_payment_collects_the_arrears(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["declined_card"])
    await subs.sleep_days(30.5)  # the first invoice's payment fails: dunning
    dunned = await subs.view(view["id"])
    assert dunned["dunning"] is not None and dunned["arrears_cents"] == 2368
    await subs.sleep_days(7.5)  # both retries fail: suspended for non-payment
    assert (await subs.view(view["id"]))["suspension_reason"] == "non_payment"

    failed = await subs.command(view["id"], "reinstate", {"comment": "customer called"})
    assert assert_error(failed, 409, "payment_failed")["unpaid_invoices"]
    assert (await subs.view(view["id"]))["status"] == "suspended"

    await subs.ok(view["id"], "payment-method", METHODS["credit_card"], method="PUT")
    reinstated = await subs.ok(view["id"], "reinstate", {"comment": "new card"})
    assert reinstated["status"] == "active"
    assert reinstated["arrears_cents"] == 0 and reinstated["dunning"] is None


# --- 404 and 422 ----------------------------------------------------------------------------------


async def test_an_unknown_subscription_is_not_found(subs: Subscriptions):
    unknown = f"nobody-{subs.app_id}"
    assert_error(await subs.get(unknown), 404, "subscription_not_found")
    assert_error(await subs.get(unknown, "/invoices"), 404, "subscription_not_found")
    assert_error(await subs.get(unknown, "/exports/exp-1"), 404, "subscription_not_found")
    for method, path, body in (
        ("POST", "cancel", None),
        ("POST", "export-request", {}),
        ("POST", "reinstate", None),
        ("PUT", "payment-method", METHODS["credit_card"]),
    ):
        assert_error(await subs.command(unknown, path, body, method=method), 404, "subscription_not_found")


async def test_malformed_ids_and_bodies_are_invalid(subs: Subscriptions):
    def fields(response: Any) -> list[str]:
        return [detail["field"] for detail in assert_error(response, 422, "validation_error")]

    view = await subs.book()
    assert fields(await subs.get("Cust_1-crm")) == ["path.subscription_id"]
    assert fields(await subs.command(view["id"], "cancel", {"actor": "someone-else"})) == ["body.actor"]
    assert fields(await subs.command(view["id"], "export-request", {"format": "xml"})) == ["body.format"]
    assert fields(await subs.command(view["id"], "payment-method", {"type": "cash"}, method="PUT")) == ["body"]
    token = {"type": "paypal", "token": "x"}
    assert fields(await subs.command(view["id"], "payment-method", token, method="PUT")) == ["body.paypal.token"]
    response = await subs.api.http.post(
        f"/api/v1/subscriptions/{view['id']}/cancel",
        content=b"{",
        headers=auth("operator") | {"Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_error")
