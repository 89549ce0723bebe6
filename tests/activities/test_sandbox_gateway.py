"""The payment sandbox decides by the test values docs/payments-sandbox.md documents, charges once per
idempotency key, and reports outcomes as signed webhooks to a real receiver on loopback."""

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from activities.sandbox_gateway import SandboxGateway, signed_webhook
from domain.payouts import TransferRequest
from domain.signing import SIGNATURE_HEADER, SignatureError, verify
from domain.subscription.model import ChargeStatus
from store import models
from tests.activities.builders import charge_request
from tests.activities.loopback import LoopbackServer, closed_port_url
from tests.store.test_onboarding_activities import count

DOC = Path(__file__).parents[2] / "docs" / "payments-sandbox.md"
SECRET = "whsec-test"


@dataclass(frozen=True)
class Documented:
    method: str
    value: str | None  # None: "none on file"
    answer: str
    reason: str | None
    webhook: str | None


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def documented_values() -> list[Documented]:
    """The rows of the doc's test-value table, one per method a row names."""
    rows = []
    for line in DOC.read_text().splitlines():
        cells = line.strip().strip("|").split("|")
        if len(cells) != 5 or not ticked(cells[2]):  # other tables, the header and its rule
            continue
        value, reason, webhook = ticked(cells[1]), ticked(cells[3]), ticked(cells[4])
        for method in ticked(cells[0]):
            rows.append(
                Documented(
                    method=method,
                    value=value[0] if value else None,
                    answer=ticked(cells[2])[0],
                    reason=reason[0] if reason else None,
                    webhook=webhook[0] if webhook else None,
                )
            )
    return rows


def transfer_request(isv_id: str, key: str | None = None) -> TransferRequest:
    return TransferRequest(
        idempotency_key=key or f"payout-{isv_id}-2026-03",
        isv_id=isv_id,
        month="2026-03",
        amount_cents=123_456,
        currency="EUR",
        reference=f"Partnerflow payout 2026-03 {isv_id}",
    )


def gateway(sessions: async_sessionmaker[AsyncSession], webhook_url: str | None = None) -> SandboxGateway:
    return SandboxGateway(sessions, webhook_secret=SECRET, webhook_url=webhook_url)


async def test_every_documented_test_value_gives_its_documented_answer_and_webhook(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    documented = documented_values()
    assert {row.method for row in documented} == {
        "credit_card",
        "paypal",
        "clickandbuy",
        "direct_debit",
        "phone_bill",
        "transfer",
    }
    async with LoopbackServer() as receiver:
        sandbox = gateway(sessions, receiver.url)
        seen = []
        for row in documented:
            if row.method == "transfer":
                assert row.value is not None
                transfer = await sandbox.transfer(transfer_request(row.value))
                seen.append((row.method, row.value, transfer.status.value, transfer.failure_reason, None))
                continue
            sent = len(receiver.requests)
            charge = await sandbox.charge(charge_request(row.method, row.value))
            webhooks = [request.json()["type"] for request in receiver.requests[sent:]]
            seen.append((row.method, row.value, charge.status.value, charge.failure_reason, *webhooks))

    assert seen == [(row.method, row.value, row.answer, row.reason, row.webhook) for row in documented]


async def test_values_not_documented_succeed(sessions: async_sessionmaker[AsyncSession]) -> None:
    sandbox = gateway(sessions)
    other_iban = "DE75512108001245126199"  # valid, not a test value
    requests = [
        charge_request("credit_card", "tok_visa_4242"),
        charge_request("paypal", "tok_anything_else"),
        charge_request("direct_debit", other_iban),
        charge_request("phone_bill", "0301234567"),
    ]

    answers = [(await sandbox.charge(request)).status for request in requests]
    payout = await sandbox.transfer(transfer_request("acme"))

    assert answers == [ChargeStatus.SUCCEEDED] * len(requests)
    assert payout.status == "succeeded"
    assert payout.transfer_id.startswith("tr_")


async def test_a_repeated_idempotency_key_answers_the_first_result_and_records_one_payment(
    sessions: async_sessionmaker[AsyncSession], migrated_database: AsyncEngine
) -> None:
    async with LoopbackServer() as receiver:
        sandbox = gateway(sessions, receiver.url)
        first = await sandbox.charge(charge_request("credit_card", "tok_declined", key="inv-7-attempt-1"))
        # Same key, different card: still the first attempt's answer, as a real provider's idempotency does.
        again = await sandbox.charge(charge_request("credit_card", "tok_success", key="inv-7-attempt-1"))
        payout = await sandbox.transfer(transfer_request("acme", key="payout-acme-2026-03"))
        payout_again = await sandbox.transfer(transfer_request("acme", key="payout-acme-2026-03"))

    assert again == first
    assert first.payment_id.startswith("pay_")
    assert payout_again == payout
    assert await count(migrated_database, models.Payment) == 2
    assert len(receiver.requests) == 1  # the repeat is no new event


async def test_webhooks_carry_a_signature_that_verify_accepts(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with LoopbackServer() as receiver:
        result = await gateway(sessions, receiver.url).charge(charge_request("direct_debit", "DE89370400440532013000"))

    [webhook] = receiver.requests
    assert webhook.method == "POST"
    verify(SECRET, webhook.headers[SIGNATURE_HEADER.lower()], webhook.body, now=int(time.time()))
    with pytest.raises(SignatureError):
        verify("another-secret", webhook.headers[SIGNATURE_HEADER.lower()], webhook.body, now=int(time.time()))
    event = webhook.json()
    assert event.keys() == {
        "event_id",
        "type",
        "payment_id",
        "invoice_number",
        "subscription_id",
        "occurred_at",
        "reason",
    }
    assert (event["type"], event["payment_id"], event["invoice_number"], event["subscription_id"]) == (
        "payment.succeeded",
        result.payment_id,
        "INV-direct_debit-DE89370400440532013000",
        "acme-crm-pro",
    )


async def test_a_webhook_receiver_that_is_down_does_not_fail_the_charge(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    result = await gateway(sessions, closed_port_url()).charge(charge_request("paypal", "tok_success"))

    assert result.status == ChargeStatus.SUCCEEDED


def test_signed_webhook_makes_a_body_and_headers_that_verify() -> None:
    event = {"event_id": "evt_manual_1", "type": "payment.succeeded", "payment_id": "pay_1", "invoice_number": "I-1"}

    body, headers = signed_webhook(SECRET, event, timestamp=1_767_225_600)

    assert verify(SECRET, headers[SIGNATURE_HEADER], body, now=1_767_225_600) == 1_767_225_600
    assert headers["Content-Type"] == "application/json"
