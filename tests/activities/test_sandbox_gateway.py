"""The payment sandbox decides by the test values docs/payments-sandbox.md documents, charges once per
idempotency key, and reports outcomes as signed webhooks to a real receiver on loopback, resent until taken."""

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from standardwebhooks import Webhook
from temporalio.client import Client

from activities.sandbox_gateway import TEST_CARDS, SandboxGateway, described, signed_webhook
from activities.webhook_outbox import RESEND_BACKOFF
from background import PeriodicJob, running
from domain.delivery import Backoff
from domain.payments import Card, PaymentMethodType, TokenizedMethod
from domain.payouts import TransferRequest
from domain.signing import LEGACY_SIGNATURE_HEADER, SignatureError, new_secret, verify, verify_standard
from domain.subscription.model import ChargeStatus
from store import models
from store.db import create_engine, create_session_factory
from tests.activities.builders import charge_request
from tests.activities.loopback import LoopbackServer, closed_port_url
from tests.conftest import test_settings
from tests.store.test_onboarding_activities import count
from worker import create_worker

DOC = Path(__file__).parents[2] / "docs" / "payments-sandbox.md"
SECRET = new_secret()
LEGACY_SECRET = "whsec-sandbox-legacy-test"


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


def documented_cards() -> dict[str, tuple[str, str]]:
    """The doc's test-card table: token -> (brand, last four)."""
    cards: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and ticked(cells[0]) and re.fullmatch(r"`[0-9]{4}`", cells[2]):
            cards |= {token: (cells[1], ticked(cells[2])[0]) for token in ticked(cells[0])}
    return cards


def transfer_request(isv_id: str, key: str | None = None) -> TransferRequest:
    return TransferRequest(
        idempotency_key=key or f"payout-{isv_id}-2026-03",
        isv_id=isv_id,
        month="2026-03",
        amount_cents=123_456,
        currency="EUR",
        reference=f"Partnerflow payout 2026-03 {isv_id}",
    )


def gateway(
    sessions: async_sessionmaker[AsyncSession], webhook_url: str | None = None, resend_backoff: Backoff = RESEND_BACKOFF
) -> SandboxGateway:
    return SandboxGateway(sessions, webhook_secret=SECRET, webhook_url=webhook_url, resend_backoff=resend_backoff)


# Milliseconds instead of seconds, so resends happen within a test.
QUICK = Backoff(first=timedelta(milliseconds=20), cap=timedelta(milliseconds=80), max_attempts=5)


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[models.OutgoingWebhook]:
    async with sessions() as session:
        return list((await session.scalars(select(models.OutgoingWebhook).order_by(models.OutgoingWebhook.id))).all())


async def resending_until(
    sandbox: SandboxGateway,
    sessions: async_sessionmaker[AsyncSession],
    settled: Callable[[list[models.OutgoingWebhook]], bool],
    seconds: float = 5,
) -> list[models.OutgoingWebhook]:
    """Runs the resend job (as the worker does) until the outbox is `settled`, then a while longer."""
    async with running([PeriodicJob("resends", 0.01, sandbox.outbox.resend_due)]):
        for _ in range(int(seconds / 0.02)):
            if settled(await outbox(sessions)):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # time for resends that should not happen
    return await outbox(sessions)


def delivered(rows: list[models.OutgoingWebhook]) -> bool:
    return all(row.state == "delivered" for row in rows)


def given_up(rows: list[models.OutgoingWebhook]) -> bool:
    return all(row.state == "undeliverable" for row in rows)


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
    assert await count(migrated_database, models.OutgoingWebhook) == 1


async def test_webhooks_carry_a_signature_that_verify_accepts(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with LoopbackServer() as receiver:
        result = await gateway(sessions, receiver.url).charge(charge_request("direct_debit", "DE89370400440532013000"))

    [webhook] = receiver.requests
    assert webhook.method == "POST"
    Webhook(SECRET).verify(webhook.body, dict(webhook.headers))  # as any Standard Webhooks receiver does
    with pytest.raises(SignatureError):
        verify_standard([new_secret()], webhook.headers, webhook.body)
    assert LEGACY_SIGNATURE_HEADER.lower() not in webhook.headers  # no legacy secret given: the transition is over
    event = webhook.json()
    assert webhook.headers["webhook-id"] == event["event_id"]
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
    [waiting] = await outbox(sessions)  # kept, to be resent
    assert (waiting.state, waiting.attempts, waiting.last_status) == ("pending", 1, None)
    assert waiting.last_error is not None and "ConnectError" in waiting.last_error


async def test_the_webhook_is_recorded_with_the_charge_it_reports(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with LoopbackServer() as receiver:
        result = await gateway(sessions, receiver.url).charge(charge_request("credit_card", "tok_declined"))

    [webhook] = await outbox(sessions)
    [sent] = receiver.requests
    assert (webhook.url, webhook.body.encode()) == (receiver.url, sent.body)
    assert (webhook.event_id, sent.json()["payment_id"]) == (sent.json()["event_id"], result.payment_id)
    assert (webhook.state, webhook.attempts, webhook.last_status, webhook.next_attempt_at) == (
        "delivered",
        1,
        200,
        None,
    )


@pytest.mark.parametrize("failures", [[500, 500], [408, 429], [503, 302]])
async def test_a_webhook_not_taken_is_resent_with_backoff_until_a_2xx_and_then_no_more(
    sessions: async_sessionmaker[AsyncSession], failures: list[int]
) -> None:
    async with LoopbackServer(statuses=[*failures, 202]) as receiver:
        sandbox = gateway(sessions, receiver.url, QUICK)
        await sandbox.charge(charge_request("credit_card", "tok_success"))
        [webhook] = await resending_until(sandbox, sessions, delivered)

    assert len(receiver.requests) == 3
    assert {request.body for request in receiver.requests} == {webhook.body.encode()}  # the same event each time
    for request in receiver.requests:  # each attempt signed anew, under the same message id
        assert verify_standard([SECRET], request.headers, request.body) == webhook.event_id
    assert (webhook.state, webhook.attempts, webhook.last_status, webhook.next_attempt_at) == (
        "delivered",
        3,
        202,
        None,
    )
    assert webhook.last_error == f"answered {failures[-1]}"  # what the last failed attempt got


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_a_webhook_refused_with_a_final_4xx_is_not_resent(
    sessions: async_sessionmaker[AsyncSession], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with LoopbackServer(statuses=[status]) as receiver:
        sandbox = gateway(sessions, receiver.url, QUICK)
        with caplog.at_level(logging.WARNING, logger="activities.webhook_outbox"):
            await sandbox.charge(charge_request("credit_card", "tok_success"))
            [webhook] = await resending_until(sandbox, sessions, given_up)

    assert len(receiver.requests) == 1
    assert (webhook.state, webhook.attempts, webhook.last_status, webhook.next_attempt_at) == (
        "undeliverable",
        1,
        status,
        None,
    )
    assert [record.getMessage() for record in caplog.records] == [
        f"payment webhook {webhook.event_id} refused by {receiver.url} (answered {status}); not resent"
    ]


async def test_resending_gives_up_after_the_last_attempt_and_logs_it_once(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    url = closed_port_url()
    sandbox = gateway(sessions, url, QUICK)
    with caplog.at_level(logging.WARNING, logger="activities.webhook_outbox"):
        await sandbox.charge(charge_request("credit_card", "tok_success"))
        [webhook] = await resending_until(sandbox, sessions, given_up)

    assert (webhook.state, webhook.attempts, webhook.delivered_at, webhook.next_attempt_at) == (
        "undeliverable",
        QUICK.max_attempts,
        None,
        None,
    )
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages  # the first failure, and the end; not every attempt
    assert messages[0].startswith(f"payment webhook {webhook.event_id} to {url} failed (ConnectError")
    assert messages[1].startswith(f"payment webhook {webhook.event_id} to {url} given up after 5 attempts")


async def test_the_worker_resends_what_its_receiver_has_not_taken(sqlite_url: str, client_of: Client) -> None:
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    async with LoopbackServer() as receiver:
        # A webhook whose first attempt failed a moment ago, as the charge left it.
        now = datetime.now(UTC)
        async with sessions.begin() as session:
            session.add(
                models.OutgoingWebhook(
                    event_id="evt_resend_1",
                    url=receiver.url,
                    body='{"event_id":"evt_resend_1"}',
                    state="pending",
                    attempts=1,
                    created_at=now,
                    next_attempt_at=now,
                    last_status=503,
                )
            )
        async with create_worker(client_of, test_settings(sqlite_url)):
            for _ in range(100):
                [webhook] = await outbox(sessions)
                if webhook.state == "delivered":
                    break
                await asyncio.sleep(0.05)
    await engine.dispose()

    assert [request.json() for request in receiver.requests] == [{"event_id": "evt_resend_1"}]
    assert (webhook.state, webhook.attempts, webhook.last_status) == ("delivered", 2, 200)


def test_the_sandbox_describes_every_documented_test_card_by_brand_and_last_four_digits() -> None:
    cards = documented_cards()
    assert cards.keys() == TEST_CARDS.keys()
    for token, (brand, last4) in cards.items():
        method = described(TokenizedMethod(type=PaymentMethodType.CREDIT_CARD, token=token))
        assert isinstance(method, TokenizedMethod)
        assert method.card == Card(brand=brand, last4=last4)


def test_the_sandbox_replaces_a_card_the_caller_claims_and_describes_no_other_method() -> None:
    claimed = Card(brand="Visa", last4="1111")
    unknown = described(TokenizedMethod(type=PaymentMethodType.CREDIT_CARD, token="tok_unlisted", card=claimed))
    paypal = described(TokenizedMethod(type=PaymentMethodType.PAYPAL, token="tok_success", card=claimed))
    assert isinstance(unknown, TokenizedMethod) and unknown.card is None
    assert isinstance(paypal, TokenizedMethod) and paypal.card is None


def test_signed_webhook_makes_a_body_and_headers_that_verify() -> None:
    event = {"event_id": "evt_manual_1", "type": "payment.succeeded", "payment_id": "pay_1", "invoice_number": "I-1"}

    now = int(time.time())

    body, headers = signed_webhook(SECRET, event, timestamp=now)

    assert verify_standard([SECRET], headers, body) == "evt_manual_1"
    assert (headers["webhook-timestamp"], headers["Content-Type"]) == (str(now), "application/json")
    _, with_legacy = signed_webhook(SECRET, event, timestamp=now, legacy_secret=LEGACY_SECRET)
    assert verify(LEGACY_SECRET, with_legacy[LEGACY_SIGNATURE_HEADER], body, now=now) == now


async def test_during_the_transition_the_sandbox_also_sends_the_legacy_signature(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with LoopbackServer() as receiver:
        sandbox = SandboxGateway(
            sessions, webhook_secret=[SECRET], legacy_webhook_secret=LEGACY_SECRET, webhook_url=receiver.url
        )
        await sandbox.charge(charge_request("credit_card", "tok_success"))

    [webhook] = receiver.requests
    verify(LEGACY_SECRET, webhook.headers[LEGACY_SIGNATURE_HEADER.lower()], webhook.body, now=int(time.time()))
    verify_standard([SECRET], webhook.headers, webhook.body)
