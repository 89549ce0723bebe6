"""Monthly payouts: each ISV's revenue shares of a month, summed into one statement and transferred once."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class TransferRequest(BaseModel):
    idempotency_key: str
    isv_id: str
    month: str
    amount_cents: int
    currency: str
    reference: str


class TransferStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TransferResult(BaseModel):
    transfer_id: str
    status: TransferStatus
    failure_reason: str | None = None


class PayoutStatementView(BaseModel):
    isv_id: str
    month: str
    amount_cents: int
    entries: int
    status: str
    transfer_id: str | None
    created_at: datetime
    transferred_at: datetime | None
