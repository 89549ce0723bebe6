"""The embedded payment provider sandbox, the default PaymentGateway.

Like a real provider's sandbox it decides by documented test values (docs/payments-sandbox.md), answers a
repeated idempotency key with its first result, and reports outcomes as signed webhooks.
"""

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.payments import DirectDebit, TokenizedMethod, normalize_iban
from domain.payouts import TransferRequest, TransferResult, TransferStatus
from domain.signing import SIGNATURE_HEADER, sign
from domain.subscription.model import ChargeRequest, ChargeResult, ChargeStatus, PaymentEvent, PaymentEventType
from store import models
from store.db import insert_once

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5.0
TRANSFER_METHOD = "transfer"  # payments.method_type of payouts


@dataclass(frozen=True)
class Outcome:
    status: ChargeStatus
    reason: str | None = None


SUCCEEDED = Outcome(ChargeStatus.SUCCEEDED)


def _failed(reason: str) -> Outcome:
    return Outcome(ChargeStatus.FAILED, reason)


# The test values; anything not listed succeeds. docs/payments-sandbox.md documents (and tests read) them.
TOKEN_OUTCOMES = {  # credit_card, paypal, clickandbuy
    "tok_success": SUCCEEDED,
    "tok_declined": _failed("card_declined"),
    "tok_insufficient_funds": _failed("insufficient_funds"),
    "tok_pending": Outcome(ChargeStatus.PENDING),
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


def signed_webhook(
    secret: str, event: BaseModel | Mapping[str, Any], timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook signed as the sandbox signs them (for tests and operators, too)."""
    body = json.dumps(to_jsonable_python(event), separators=(",", ":")).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, stamp, body)}


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
    """Records every attempt in `payments` under its unique idempotency key; posts webhooks when a URL is set."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        webhook_secret: str,
        webhook_url: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._sessions = sessions
        self._webhook_secret = webhook_secret
        self._webhook_url = webhook_url
        self._http = http

    async def charge(self, request: ChargeRequest) -> ChargeResult:
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
        payment, first = await self._record(attempt)
        result = ChargeResult(
            payment_id=payment.payment_id, status=ChargeStatus(payment.status), failure_reason=payment.failure_reason
        )
        # Only the first answer is reported: a repeated key is the same payment, not a new event.
        if first and self._webhook_url:
            await self._emit(self._webhook_url, webhook_event(request, result, payment.created_at))
        return result

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

    async def _record(self, attempt: models.Payment) -> tuple[models.Payment, bool]:
        """The attempt first recorded under this idempotency key, and whether it is this one."""
        if await insert_once(self._sessions, attempt):
            return attempt, True
        async with self._sessions() as session:
            first = await session.scalar(
                select(models.Payment).where(models.Payment.idempotency_key == attempt.idempotency_key)
            )
        if first is None:  # the conflict was not on the key: a real error, not a repeat
            raise RuntimeError(f"payment attempt {attempt.idempotency_key} could not be recorded")
        return first, False

    async def _emit(self, url: str, event: dict[str, Any]) -> None:
        body, headers = signed_webhook(self._webhook_secret, event)
        try:
            if self._http is not None:
                response = await self._http.post(url, content=body, headers=headers)
            else:
                async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS) as http:
                    response = await http.post(url, content=body, headers=headers)
            response.raise_for_status()
        except Exception as error:  # best effort: a receiver that is down or refuses never undoes the charge
            log.warning("payment webhook %s to %s failed: %s", event["event_id"], url, error)
