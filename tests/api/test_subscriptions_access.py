"""Who may do what with subscriptions: operators and admins book and command, auditors read, an ISV reads the
subscriptions of its own apps only (another ISV's are not found), channel partners and managers may not."""

import pytest

from tests.api.conftest import METHODS, Subscriptions, assert_error, auth

COMMANDS = [
    ("POST", "cancel", None),
    ("POST", "export-request", {}),
    ("POST", "reinstate", None),
    ("PUT", "payment-method", METHODS["credit_card"]),
]


@pytest.mark.parametrize("role", ["operator", "admin"])
async def test_operators_and_admins_book_and_command(subs: Subscriptions, role: str):
    view = await subs.book(as_role=role)
    changed = await subs.ok(view["id"], "payment-method", METHODS["credit_card"], as_role=role, method="PUT")
    cancelled = await subs.ok(view["id"], "cancel", {"reason": "by " + role}, as_role=role)
    subject = "admin-ada" if role == "admin" else "operator-otto"
    assert changed["history"][-1]["actor"] == cancelled["history"][-1]["actor"] == subject


@pytest.mark.parametrize("role", ["auditor", "isv_a", "pm", "account_manager", "channel_partner"])
async def test_only_operators_and_admins_book_or_command(subs: Subscriptions, role: str):
    view = await subs.book()
    assert_error(await subs.post_booking(subs.body(), as_role=role), 403, "forbidden")
    for method, path, body in COMMANDS:
        assert_error(await subs.command(view["id"], path, body, as_role=role, method=method), 403, "forbidden")
    assert (await subs.view(view["id"]))["status"] == "trialing"


@pytest.mark.parametrize("role", ["pm", "account_manager", "channel_partner"])
async def test_managers_and_channel_partners_may_not_read_subscriptions(subs: Subscriptions, role: str):
    view = await subs.book(channel_partner_id="telesales-nord")
    for path in ("", "/invoices", "/exports/exp-1"):
        assert_error(await subs.get(view["id"], path, as_role=role), 403, "forbidden")
    assert_error(await subs.api.http.get("/api/v1/subscriptions", headers=auth(role)), 403, "forbidden")


async def test_subscriptions_need_an_api_key(subs: Subscriptions):
    view = await subs.book()
    for response in (
        await subs.api.http.get("/api/v1/subscriptions"),
        await subs.api.http.get(f"/api/v1/subscriptions/{view['id']}"),
        await subs.api.http.post("/api/v1/subscriptions", json=subs.body()),
        await subs.api.http.post(f"/api/v1/subscriptions/{view['id']}/cancel"),
    ):
        assert_error(response, 401, "unauthenticated")


async def test_an_auditor_reads_any_subscription_and_its_invoices(subs: Subscriptions):
    view = await subs.book(app_id=subs.other_app_id)
    read = await subs.get(view["id"], as_role="auditor")
    assert read.status_code == 200 and read.json()["id"] == view["id"]
    assert (await subs.get(view["id"], "/invoices", as_role="auditor")).json() == {"items": []}


async def test_an_isv_reads_its_own_apps_subscriptions_and_another_isvs_are_not_found(subs: Subscriptions):
    own = await subs.book(payment_method=METHODS["credit_card"])
    await subs.ok(own["id"], "cancel")
    [export] = (await subs.ok(own["id"], "export-request"))["exports"]
    theirs = await subs.book(app_id=subs.other_app_id)

    assert (await subs.get(own["id"], as_role="isv_a")).json()["id"] == own["id"]
    assert (await subs.get(own["id"], "/invoices", as_role="isv_a")).status_code == 200
    assert (await subs.get(own["id"], f"/exports/{export['export_id']}", as_role="isv_a")).status_code == 200

    # Not 403: the answer must not tell another ISV that the subscription exists.
    for path in ("", "/invoices", f"/exports/{export['export_id']}"):
        assert_error(await subs.get(own["id"], path, as_role="isv_b"), 404, "subscription_not_found")
        assert_error(await subs.get(theirs["id"], path, as_role="isv_a"), 404, "subscription_not_found")
    unknown = await subs.get(f"{own['id']}x", as_role="isv_b")
    other = await subs.get(own["id"], as_role="isv_b")
    assert unknown.json()["error"]["message"].replace(f"{own['id']}x", "") == other.json()["error"]["message"].replace(
        own["id"], ""
    )
