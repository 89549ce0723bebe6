"""The payment adapter: what the workflows need of a payment provider. The sandbox is the embedded default."""

from typing import Protocol

from domain.subscription.model import ChargeRequest, ChargeResult


class TransferRequest:  # placeholder replaced by the payouts work
    pass


class PaymentGateway(Protocol):
    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charges once per `request.idempotency_key`; a repeated key answers the first result."""
        ...
