"""The payment adapter: what the workflows need of a payment provider. The sandbox is the embedded default."""

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from domain.payouts import TransferRequest, TransferResult
from domain.subscription.model import ChargeRequest, ChargeResult
from store.models import OutgoingWebhook


class PaymentGateway(Protocol):
    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charges once per `request.idempotency_key`; a repeated key answers the first result."""
        ...

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Pays out once per `request.idempotency_key`; a repeated key answers the first result."""
        ...


@dataclass(frozen=True)
class RecordedCharge:
    """A charge recorded in a caller's transaction: its result, and the webhook to post once that transaction has
    committed (None for a repeated key, whose first attempt reported it, or when no webhooks are sent)."""

    result: ChargeResult
    webhook: OutgoingWebhook | None = None


@runtime_checkable
class InStoreGateway(Protocol):
    """A gateway whose charges are rows in our own store (the embedded sandbox), so that a charge can commit in the
    same transaction as what follows from it. A real provider is a network call and never runs in a transaction."""

    async def charge_in(self, session: AsyncSession, request: ChargeRequest) -> RecordedCharge:
        """`charge` within `session`'s write transaction: once per idempotency key, like `charge`."""
        ...

    async def report(self, charge: RecordedCharge) -> None:
        """Posts the webhook of a charge whose transaction has committed (resent by the outbox should this fail)."""
        ...
