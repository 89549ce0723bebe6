"""POST /payments/webhook: signed by the provider (no API key), stored once, and told to the subscription.

Delivery when Temporal is away, concurrent copies and the relay: tests/api/test_payment_webhook_inbox.py."""

import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from activities.sandbox_gateway import signed_webhook
from api.app import create_app
from domain.signing import LEGACY_SIGNATURE_HEADER, WEBHOOK_SIGNATURE, new_secret
from store import models
from store.db import create_engine, create_session_factory
from tests.api.conftest import METHODS, Subscriptions, api_settings, assert_error, eventually


def event(subscription: str, invoice: str = "inv-1", **change: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "payment_id": f"pay_{uuid.uuid4().hex}",
        "invoice_number": invoice,
        "subscription_id": subscription,
        "occurred_at": "2026-01-01T00:00:00Z",
        "reason": None,
    } | change


async def post(subs: Subscriptions, payload: Any, secret: str | None = None, **signing: Any) -> httpx.Response:
    """Signed as the sandbox signs: Standard Webhooks with the receiver's secrets (or `secret`)."""
    body, headers = signed_webhook(secret or subs.api.settings.payment_webhook_secrets, payload, **signing)
    return await subs.api.http.post("/api/v1/payments/webhook", content=body, headers=headers)


async def stored_events(subs: Subscriptions, event_id: str) -> int:
    return await stored_count(subs.api.settings.database_url, event_id)


async def stored_count(database_url: str, event_id: str) -> int:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        query = select(func.count()).select_from(models.WebhookEvent).where(models.WebhookEvent.event_id == event_id)
        count = int(await connection.scalar(query) or 0)
    await engine.dispose()
    return count


async def stored_event(database_url: str, event_id: str) -> models.WebhookEvent:
    engine = create_engine(database_url)
    async with create_session_factory(engine)() as session:
        row = await session.scalar(select(models.WebhookEvent).where(models.WebhookEvent.event_id == event_id))
    await engine.dispose()
    assert row is not None, f"event {event_id} is not stored"
    return row


async def test_a_returned_payment_starts_dunning(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)
    [invoice] = (await subs.get(view["id"], "/invoices")).json()["items"]
    assert invoice["status"] == "paid"
    returned = event(view["id"], invoice["number"], type="payment.returned", reason="chargeback")

    response = await post(subs, returned)

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "event_id": returned["event_id"]}
    dunned = await eventually(lambda: subs.view(view["id"]), lambda view: view["dunning"] is not None)
    assert dunned["dunning"]["unpaid_invoices"] == [invoice["number"]]
    assert dunned["arrears_cents"] == 2368
    assert [entry["action"] for entry in dunned["history"]][-1] == "dunning_started"
    assert await stored_events(subs, returned["event_id"]) == 1


async def test_a_settled_pending_charge_marks_the_invoice_paid(subs: Subscriptions):
    view = await subs.book(payment_method={"type": "paypal", "token": "tok_pending"})
    await subs.sleep_days(31)
    [invoice] = (await subs.get(view["id"], "/invoices")).json()["items"]
    assert invoice["status"] == "open"

    assert (await post(subs, event(view["id"], invoice["number"]))).status_code == 202

    async def invoices() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await subs.get(view["id"], "/invoices")).json()["items"]
        return items

    [paid] = await eventually(invoices, lambda items: items[0]["status"] == "paid")
    assert paid["status"] == "paid" and paid["paid_at"] is not None


async def test_the_webhook_needs_no_api_key_and_ignores_one(subs: Subscriptions):
    view = await subs.book()
    payload = event(view["id"])
    body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, payload)
    response = await subs.api.http.post(
        "/api/v1/payments/webhook", content=body, headers=headers | {"Authorization": "Bearer not-a-key"}
    )
    assert response.status_code == 202, response.text


async def test_a_resent_event_is_answered_as_a_duplicate_with_a_2xx_and_stored_once(subs: Subscriptions):
    view = await subs.book()
    payload = event(view["id"])
    assert (await post(subs, payload)).status_code == 202

    resent = await post(subs, payload)  # signed anew: a valid signature does not make the event new

    # A 2xx, so a provider that resends until it gets one stops; nothing is stored or signalled again.
    assert resent.status_code == 200, resent.text
    assert resent.json() == {"event_id": payload["event_id"], "duplicate": True}
    assert await stored_events(subs, payload["event_id"]) == 1


async def test_the_stored_event_keeps_the_verified_body_the_request_id_and_its_delivery(subs: Subscriptions):
    view = await subs.book()
    payload = event(view["id"], extra_field_of_the_provider="kept")
    body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, payload)

    response = await subs.api.http.post("/api/v1/payments/webhook", content=body, headers=headers)

    assert response.status_code == 202, response.text
    row = await stored_event(subs.api.settings.database_url, payload["event_id"])
    assert row.payload == body.decode()
    assert row.request_id == response.headers["x-request-id"]
    assert (row.subscription_id, row.type, row.payment_id) == (view["id"], "payment.succeeded", payload["payment_id"])
    assert (row.state, row.attempts, row.next_attempt_at, row.last_error) == ("delivered", 1, None, None)
    assert row.delivered_at is not None and row.received_at <= row.delivered_at


async def test_a_standard_webhook_signed_with_the_secret_carries_the_event_id_and_is_accepted(subs: Subscriptions):
    view = await subs.book()
    payload = event(view["id"])
    body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, payload)
    assert headers["webhook-id"] == payload["event_id"]
    assert headers["webhook-signature"].startswith("v1,")
    assert LEGACY_SIGNATURE_HEADER not in headers

    response = await subs.api.http.post("/api/v1/payments/webhook", content=body, headers=headers)

    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("signing", "reason"),
    [
        ("wrong-secret", "does not match"),
        ("stale", "more than 300 seconds"),
        ("future", "more than 300 seconds"),
        ("missing-id", "headers are required"),
        ("missing-timestamp", "headers are required"),
        ("missing-signature", "headers are required"),
        ("malformed", "malformed"),
        ("not-base64", "malformed"),
        ("tampered", "does not match"),
        ("other-message-id", "does not match"),
    ],
)
async def test_a_bad_signature_is_refused(subs: Subscriptions, signing: str, reason: str):
    view = await subs.book()
    payload = event(view["id"])
    secrets = subs.api.settings.payment_webhook_secrets
    now = int(time.time())
    body, headers = signed_webhook(new_secret() if signing == "wrong-secret" else secrets, payload)
    if signing in ("stale", "future"):
        body, headers = signed_webhook(secrets, payload, timestamp=now + (-600 if signing == "stale" else 600))
    elif signing.startswith("missing-"):
        del headers[f"webhook-{signing.removeprefix('missing-')}"]
    elif signing == "malformed":
        headers[WEBHOOK_SIGNATURE] = "v1=abc"
    elif signing == "not-base64":
        headers[WEBHOOK_SIGNATURE] = "v1,abc"
    elif signing == "tampered":
        body = body.replace(b"payment.succeeded", b"payment.failed")
    elif signing == "other-message-id":
        headers["webhook-id"] = "evt_another"  # the id is signed too

    response = await subs.api.http.post("/api/v1/payments/webhook", content=body, headers=headers)

    assert_error(response, 400, "invalid_signature")
    assert reason in response.json()["error"]["message"]
    assert await stored_events(subs, payload["event_id"]) == 0, "a refused event is not recorded"


async def test_no_signature_at_all_is_refused_naming_the_headers(subs: Subscriptions):
    body, _ = signed_webhook(subs.api.settings.payment_webhook_secrets, event("cust-1-app"))
    response = await subs.api.http.post("/api/v1/payments/webhook", content=body)
    assert_error(response, 400, "invalid_signature")
    assert "webhook-id, webhook-timestamp and webhook-signature" in response.json()["error"]["message"]


async def accepted_by(settings_changes: dict[str, Any], sqlite_url: str, body: bytes, headers: dict[str, str]) -> int:
    """The status a receiver configured with `settings_changes` answers (Temporal away: a good event is stored, 202)."""
    app = create_app(api_settings(sqlite_url, temporal_address="127.0.0.1:1", **settings_changes))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.post("/api/v1/payments/webhook", content=body, headers=headers)
    await app.state.engine.dispose()
    return response.status_code


async def test_during_a_rotation_a_webhook_signed_with_the_previous_secret_is_accepted(sqlite_url: str):
    current, previous = new_secret(), new_secret()
    rotating = {"payment_webhook_secrets": [current, previous]}
    by_previous = signed_webhook(previous, event("cust-1-app"))
    by_current = signed_webhook(current, event("cust-1-app"))
    by_both = signed_webhook([current, previous], event("cust-1-app"))  # as a sender signs during its rotation
    assert len(by_both[1]["webhook-signature"].split(" ")) == 2

    assert await accepted_by(rotating, sqlite_url, *by_previous) == 202
    assert await accepted_by(rotating, sqlite_url, *by_current) == 202
    assert await accepted_by(rotating, sqlite_url, *by_both) == 202
    # Once the rotation is over, the previous secret is refused.
    assert (
        await accepted_by({"payment_webhook_secrets": [current]}, sqlite_url, *signed_webhook(previous, event("x-y")))
        == 400
    )


async def test_the_legacy_signature_is_accepted_during_the_transition_and_refused_once_it_is_turned_off(
    sqlite_url: str,
):
    legacy_secret = "legacy-shared-secret"
    body, signed = signed_webhook(new_secret(), event("cust-1-app"), legacy_secret=legacy_secret)
    legacy_only = {"Content-Type": "application/json", LEGACY_SIGNATURE_HEADER: signed[LEGACY_SIGNATURE_HEADER]}
    transition = {"payment_webhook_secret": legacy_secret, "payment_webhook_legacy_signature": True}

    assert await accepted_by(transition, sqlite_url, body, legacy_only) == 202
    assert (
        await accepted_by(transition | {"payment_webhook_legacy_signature": False}, sqlite_url, body, legacy_only)
        == 400
    )
    # With a legacy signature by another secret, the event is refused during the transition too.
    assert await accepted_by({**transition, "payment_webhook_secret": "another"}, sqlite_url, body, legacy_only) == 400


async def test_a_standard_signature_decides_even_when_a_valid_legacy_header_comes_with_it(sqlite_url: str):
    legacy_secret = "legacy-shared-secret"
    body, headers = signed_webhook(new_secret(), event("cust-1-app"), legacy_secret=legacy_secret)
    assert await accepted_by({"payment_webhook_secret": legacy_secret}, sqlite_url, body, headers) == 400


async def test_an_event_for_an_unknown_subscription_is_not_found_kept_as_undeliverable_and_refused_again(
    subs: Subscriptions,
):
    payload = event(f"nobody-{subs.app_id}")
    first = await post(subs, payload)
    assert_error(first, 404, "subscription_not_found")
    row = await stored_event(subs.api.settings.database_url, payload["event_id"])
    assert (row.state, row.next_attempt_at) == ("undeliverable", None)
    assert row.last_error == first.json()["error"]["message"]
    # A resend gets the first answer again (not a 2xx duplicate), and nothing is stored twice.
    again = await post(subs, payload)
    assert again.json() == first.json()
    assert again.status_code == 404
    assert await stored_events(subs, payload["event_id"]) == 1


async def test_an_event_for_an_ended_subscription_is_refused(subs: Subscriptions):
    view = await subs.book()
    await subs.ok(view["id"], "cancel")
    await subs.sleep_days(31)
    await subs.wait_until_ended(view["id"])
    payload = event(view["id"])
    assert assert_error(await post(subs, payload), 409, "subscription_ended") == {"status": "terminated"}
    assert (await stored_event(subs.api.settings.database_url, payload["event_id"])).state == "undeliverable"
    assert assert_error(await post(subs, payload), 409, "subscription_ended") == {"status": "terminated"}
    assert await stored_events(subs, payload["event_id"]) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "payment.refunded"}, "body.type"),
        ({"event_id": ""}, "body.event_id"),
        ({"event_id": "e" * 101}, "body.event_id"),
        ({"subscription_id": "../etc"}, "body.subscription_id"),
        ({"occurred_at": "yesterday"}, "body.occurred_at"),
    ],
)
async def test_a_signed_event_of_the_wrong_shape_is_invalid(subs: Subscriptions, change: dict[str, Any], field: str):
    details = assert_error(await post(subs, event("cust-1-app", **change)), 422, "validation_error")
    assert [detail["field"] for detail in details] == [field]


async def test_a_signed_body_that_is_not_an_event_is_invalid(subs: Subscriptions):
    details = assert_error(await post(subs, ["not", "an", "object"]), 422, "validation_error")
    assert details[0]["field"] == "body"
    assert_error(await post(subs, {"event_id": "evt_1"}), 422, "validation_error")


async def test_the_signature_is_checked_before_anything_is_stored_and_temporal_is_needed(sqlite_url: str):
    settings = api_settings(sqlite_url, temporal_address="127.0.0.1:1")
    app = create_app(settings)
    refused = event("cust-1-app")
    body, headers = signed_webhook("not-the-secret", refused)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.post("/api/v1/payments/webhook", content=body, headers=headers)
        assert_error(response, 400, "invalid_signature")
        assert not app.state.temporal.connected
        assert await stored_count(sqlite_url, refused["event_id"]) == 0
        # Signed right, it is stored and accepted although Temporal cannot be reached: the relay delivers it later.
        accepted = event("cust-1-app")
        body, headers = signed_webhook(settings.payment_webhook_secrets, accepted)
        response = await http.post("/api/v1/payments/webhook", content=body, headers=headers)
        assert response.status_code == 202, response.text
        row = await stored_event(sqlite_url, accepted["event_id"])
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.last_error is not None and "Temporal cannot be reached" in row.last_error
    await app.state.engine.dispose()


async def test_the_webhook_is_documented_without_bearer_security(subs: Subscriptions):
    schema = (await subs.api.http.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/payments/webhook"]["post"]
    assert "security" not in operation
    assert "400" in operation["responses"] and "401" not in operation["responses"]
    assert "security" in schema["paths"]["/api/v1/subscriptions"]["post"]


@pytest.mark.parametrize(
    ("header", "signature"),
    [
        (WEBHOOK_SIGNATURE, b"v1," + b"\xe9" * 44),
        (WEBHOOK_SIGNATURE, b"v1,\xe9\xe9"),
        ("webhook-timestamp", b"1e9"),
        ("webhook-id", b"evt_\xe9"),
        (LEGACY_SIGNATURE_HEADER, b"t=1,v1=" + b"\xe9" * 64),
    ],
    ids=["latin-1", "latin-1-short", "float-time", "latin-1-id", "legacy-latin-1"],
)
async def test_a_signature_header_that_is_not_what_senders_write_is_refused_as_invalid(
    subs: Subscriptions, header: str, signature: bytes
):
    # Raw latin-1 bytes, as any client may send them: a malformed signature like any other, never a 500.
    payload = event("cust-1-app")
    body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, payload)
    if header == LEGACY_SIGNATURE_HEADER:
        headers = {"Content-Type": "application/json"}
    raw = {name.encode(): value.encode() for name, value in headers.items()} | {header.encode(): signature}

    response = await subs.api.http.post("/api/v1/payments/webhook", content=body, headers=raw)

    assert_error(response, 400, "invalid_signature")
    assert "malformed" in response.json()["error"]["message"]
    assert await stored_events(subs, payload["event_id"]) == 0
