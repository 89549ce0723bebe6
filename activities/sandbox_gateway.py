"""The embedded payment provider sandbox, the default PaymentGateway.

Like a real provider's sandbox it decides by documented test values (docs/payments-sandbox.md), answers a
repeated idempotency key with its first result, and reports outcomes as signed webhooks, resent until taken
(activities/webhook_outbox.py).
"""

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.payment_gateway import RecordedCharge
from activities.webhook_outbox import RESEND_BACKOFF, WebhookOutbox
from domain.delivery import Backoff
from domain.payments import Card, DirectDebit, PaymentMethodType, PhoneBill, TokenizedMethod, normalize_iban
from domain.payouts import TransferRequest, TransferResult, TransferStatus
from domain.signing import Signing
from domain.subscription.model import ChargeRequest, ChargeResult, ChargeStatus, PaymentEvent, PaymentEventType
from store import models
from store.db import insert_ignoring_conflict

TRANSFER_METHOD = "transfer"  # payments.method_type of payouts


@dataclass(frozen=True)
class Outcome:
    status: ChargeStatus
    reason: str | None = None


SUCCEEDED = Outcome(ChargeStatus.SUCCEEDED)


def _result(payment: models.Payment) -> ChargeResult:
    return ChargeResult(
        payment_id=payment.payment_id, status=ChargeStatus(payment.status), failure_reason=payment.failure_reason
    )


def _failed(reason: str) -> Outcome:
    return Outcome(ChargeStatus.FAILED, reason)


# The test values; anything not listed succeeds. docs/payments-sandbox.md documents (and tests read) them.
TOKEN_OUTCOMES = {  # credit_card, paypal, clickandbuy
    "tok_success": SUCCEEDED,
    "tok_declined": _failed("card_declined"),
    "tok_insufficient_funds": _failed("insufficient_funds"),
    "tok_pending": Outcome(ChargeStatus.PENDING),
}
# What the sandbox tells about a credit_card token, as a provider's token lookup does: the card's brand and last four
# digits (the providers' published test card numbers). Any other token is a card it cannot describe.
TEST_CARDS = {
    "tok_success": Card(brand="Visa", last4="4242"),
    "tok_visa": Card(brand="Visa", last4="4242"),
    "tok_mastercard": Card(brand="Mastercard", last4="4444"),
    "tok_amex": Card(brand="American Express", last4="0005"),
    "tok_declined": Card(brand="Visa", last4="0002"),
    "tok_insufficient_funds": Card(brand="Visa", last4="9995"),
    "tok_pending": Card(brand="Mastercard", last4="5100"),
}
IBAN_OUTCOMES = {  # direct_debit; valid IBANs, so they pass the mandate's IBAN check
    "DE89370400440532013000": SUCCEEDED,
    "DE49370400440000000051": _failed("insufficient_funds"),
    "DE22370400440000000052": _failed("mandate_revoked"),
}
TELEKOM_OUTCOMES = {"999999999": _failed("line_blocked")}  # phone_bill, by Telekom customer number
NO_TELEKOM_NUMBER = _failed("telekom_customer_number_missing")
TRANSFER_OUTCOMES = {"isv-account-closed": _failed("account_closed")}  # payouts, by ISV id
PENDING_SETTLES_AS = SUCCEEDED  # a pending charge's outcome, reported by webhook only


def charge_outcome(request: ChargeRequest) -> Outcome:
    match request.method:
        case TokenizedMethod(token=token):
            return TOKEN_OUTCOMES.get(token, SUCCEEDED)
        case DirectDebit(iban=iban):
            return IBAN_OUTCOMES.get(normalize_iban(iban), SUCCEEDED)
        case _:  # phone_bill: a line item on the customer's Telekom bill
            number = request.telekom_customer_number
            return TELEKOM_OUTCOMES.get(number, SUCCEEDED) if number else NO_TELEKOM_NUMBER


def described(method: DirectDebit | PhoneBill | TokenizedMethod) -> DirectDebit | PhoneBill | TokenizedMethod:
    """`method` with the gateway's description of its card (brand, last four), replacing any a caller gave: the
    sandbox's token lookup. Deterministic, so a retried command describes the same card."""
    if not isinstance(method, TokenizedMethod):
        return method
    card = TEST_CARDS.get(method.token) if method.type == PaymentMethodType.CREDIT_CARD else None
    return method.model_copy(update={"card": card})


def webhook_body(event: BaseModel | Mapping[str, Any]) -> bytes:
    return json.dumps(to_jsonable_python(event), separators=(",", ":")).encode()


def signed_webhook(
    secret: str | Sequence[str],
    event: BaseModel | Mapping[str, Any],
    timestamp: int | None = None,
    *,
    legacy_secret: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook signed as the sandbox signs them (for tests and operators, too): Standard
    Webhooks with `secret` (or each of several), and the legacy header too when `legacy_secret` is given."""
    body = webhook_body(event)
    stamp = int(time.time()) if timestamp is None else timestamp
    signing = Signing([secret] if isinstance(secret, str) else secret, legacy_secret)
    message_id = str(event.get("event_id") if isinstance(event, Mapping) else getattr(event, "event_id", ""))
    return body, {
        "Content-Type": "application/json",
        **signing.headers(message_id or f"msg_{uuid.uuid4().hex}", stamp, body),
    }


def webhook_event(request: ChargeRequest, result: ChargeResult, occurred_at: datetime) -> dict[str, Any]:
    """The provider's report of a charge: its outcome, or for a pending charge the outcome it settles with."""
    settled = (
        PENDING_SETTLES_AS if result.status == ChargeStatus.PENDING else Outcome(result.status, result.failure_reason)
    )
    event = PaymentEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        type=PaymentEventType.SUCCEEDED if settled.status == ChargeStatus.SUCCEEDED else PaymentEventType.FAILED,
        payment_id=result.payment_id,
        invoice_number=request.invoice_number,
        occurred_at=occurred_at,
        reason=settled.reason,
    )
    return {**event.model_dump(mode="json"), "subscription_id": request.subscription_id}


class SandboxGateway:
    """Records every attempt in `payments` under its unique idempotency key; when a URL is set, records each new
    charge's webhook in the outbox with it and posts it at once; `outbox.resend_due` (a job of the worker) resends.

    Webhooks are signed as Standard Webhooks with `webhook_secret` (each of several, during a rotation) and, while the
    legacy signature's transition lasts, with `legacy_webhook_secret` in X-Partnerflow-Signature too."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        webhook_secret: str | Sequence[str],
        legacy_webhook_secret: str | None = None,
        webhook_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        resend_backoff: Backoff = RESEND_BACKOFF,
    ) -> None:
        self._sessions = sessions
        self._webhook_url = webhook_url
        secrets = [webhook_secret] if isinstance(webhook_secret, str) else webhook_secret
        signing = Signing(secrets, legacy_webhook_secret)
        self.outbox = WebhookOutbox(sessions, signing=signing, http=http, backoff=resend_backoff)

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        attempt, webhook = self._attempt(request)
        payment, first = await self._record(attempt, webhook)
        # Only the first answer is reported: a repeated key is the same payment, not a new event (its webhook row
        # went with the attempt that lost the race for the key).
        if first and webhook is not None:
            await self.outbox.send(webhook, attempt=1)
        return _result(payment)

    async def charge_in(self, session: AsyncSession, request: ChargeRequest) -> RecordedCharge:
        """`charge` inside the caller's write transaction (the sandbox is in-process: its charge is a row in the
        store), so the charge commits with the caller's own writes or not at all. Once that transaction has
        committed, `report` posts the webhook of a first charge; should it never run, the outbox resends it."""
        attempt, webhook = self._attempt(request)
        values = {column.key: getattr(attempt, column.key) for column in models.Payment.__table__.columns}
        values.pop("id")
        if await insert_ignoring_conflict(session, models.Payment, values):
            if webhook is not None:
                session.add(webhook)
            return RecordedCharge(_result(attempt), webhook)
        payment = await session.scalar(
            select(models.Payment).where(models.Payment.idempotency_key == request.idempotency_key)
        )
        if payment is None:  # the conflict was not on the key: a real error, not a repeat
            raise RuntimeError(f"payment attempt {request.idempotency_key} could not be recorded")
        return RecordedCharge(_result(payment))  # a repeat: the first attempt's answer, reported by it

    async def report(self, charge: RecordedCharge) -> None:
        if charge.webhook is not None:
            await self.outbox.send(charge.webhook, attempt=1)

    def _attempt(self, request: ChargeRequest) -> tuple[models.Payment, models.OutgoingWebhook | None]:
        """A new attempt under the request's key, and when a URL is set the webhook that reports it."""
        outcome = charge_outcome(request)
        attempt = models.Payment(
            idempotency_key=request.idempotency_key,
            payment_id=f"pay_{uuid.uuid4().hex}",
            invoice_number=request.invoice_number,
            method_type=request.method.type.value,
            amount_cents=request.amount_cents,
            currency=request.currency,
            status=outcome.status.value,
            failure_reason=outcome.reason,
            created_at=datetime.now(UTC),
        )
        webhook = None
        if self._webhook_url:
            # Recorded with the attempt, in its transaction: a charge is never kept without the webhook reporting it.
            reported = ChargeResult(payment_id=attempt.payment_id, status=outcome.status, failure_reason=outcome.reason)
            event = webhook_event(request, reported, attempt.created_at)
            webhook = self.outbox.entry(event["event_id"], self._webhook_url, webhook_body(event), attempt.created_at)
        return attempt, webhook

    async def transfer(self, request: TransferRequest) -> TransferResult:
        outcome = TRANSFER_OUTCOMES.get(request.isv_id, SUCCEEDED)
        attempt = models.Payment(
            idempotency_key=request.idempotency_key,
            payment_id=f"tr_{uuid.uuid4().hex}",
            invoice_number=None,
            method_type=TRANSFER_METHOD,
            amount_cents=request.amount_cents,
            currency=request.currency,
            status=outcome.status.value,
            failure_reason=outcome.reason,
            created_at=datetime.now(UTC),
        )
        payment, _ = await self._record(attempt)
        return TransferResult(
            transfer_id=payment.payment_id, status=TransferStatus(payment.status), failure_reason=payment.failure_reason
        )

    async def _record(
        self, attempt: models.Payment, webhook: models.OutgoingWebhook | None = None
    ) -> tuple[models.Payment, bool]:
        """The attempt first recorded under this idempotency key, and whether it is this one; `webhook` is recorded
        with it, or not at all."""
        try:
            async with self._sessions.begin() as session:
                session.add(attempt)
                if webhook is not None:
                    session.add(webhook)
            return attempt, True
        except IntegrityError:  # the key is taken (checked below): a repeat, or a concurrent first attempt
            pass
        async with self._sessions() as session:
            first = await session.scalar(
                select(models.Payment).where(models.Payment.idempotency_key == attempt.idempotency_key)
            )
        if first is None:  # the conflict was not on the key: a real error, not a repeat
            raise RuntimeError(f"payment attempt {attempt.idempotency_key} could not be recorded")
        return first, False
