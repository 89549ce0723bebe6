"""The payment adapter: what the workflows need of a payment provider. The sandbox is the embedded default."""

from typing import Protocol

from domain.payouts import TransferRequest, TransferResult
from domain.subscription.model import ChargeRequest, ChargeResult


class PaymentGateway(Protocol):
    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charges once per `request.idempotency_key`; a repeated key answers the first result."""
        ...

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Pays out once per `request.idempotency_key`; a repeated key answers the first result."""
        ...
