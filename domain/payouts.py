"""Monthly payouts: each ISV's revenue shares of a month, summed into one statement and transferred once."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from domain.billing_calendar import month_key, previous_month


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

    @field_validator("created_at", "transferred_at")
    @classmethod
    def _utc(cls, moment: datetime | None) -> datetime | None:
        # Built from store rows too (`from_attributes`), and SQLite hands back naive datetimes of UTC.
        return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


# --- months, ids and the statement rules -------------------------------------------------------

MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
Month = Annotated[str, StringConstraints(pattern=MONTH_PATTERN)]

CURRENCY = "EUR"


class StatementStatus(StrEnum):
    PREPARED = "prepared"
    TRANSFERRED = "transferred"
    FAILED = "failed"


# A statement's amount follows the ledger only until a transfer was attempted: after that the gateway holds the
# amount under the statement's idempotency key, so the statement stays as it was (see `plan_statements`).
FOLLOWS_LEDGER = frozenset({StatementStatus.PREPARED})
# Money moved: the statement is final, and no run transfers it again.
SETTLED = frozenset({StatementStatus.TRANSFERRED})


def payout_workflow_id(month: str) -> str:
    return f"payout-{month}"


def transfer_key(isv_id: str, month: str) -> str:
    """The gateway's idempotency key: one transfer per (ISV, month), whichever run or retry asks."""
    return f"payout-{isv_id}-{month}"


def month_has_ended(month: str, now: datetime) -> bool:
    """A month can be paid out once it is over (`yyyy-mm` keys order like the months they name)."""
    return month < month_key(now)


def payout_month(requested: str | None, now: datetime) -> str:
    """The month a run pays: the one asked for, or else the previous one (what the monthly schedule starts)."""
    return requested if requested is not None else previous_month(now)


def transfer_due(statement: PayoutStatementView) -> bool:
    return statement.status not in SETTLED


def transfer_request(statement: PayoutStatementView) -> TransferRequest:
    return TransferRequest(
        idempotency_key=transfer_key(statement.isv_id, statement.month),
        isv_id=statement.isv_id,
        month=statement.month,
        amount_cents=statement.amount_cents,
        currency=CURRENCY,
        reference=f"Partnerflow revenue share {statement.month}",
    )


class LedgerTotal(BaseModel):
    """One ISV's revenue shares of a month, as the ledger has them now."""

    isv_id: str
    amount_cents: int
    entries: int


class StatementPlan(BaseModel):
    """What a run does to a month's statements: create new ones, bring prepared ones up to date, and report
    late ledger entries of statements that no longer follow the ledger."""

    create: list[LedgerTotal] = Field(default_factory=list)
    update: list[LedgerTotal] = Field(default_factory=list)
    unsettled: list[LedgerTotal] = Field(default_factory=list)


def plan_statements(totals: list[LedgerTotal], existing: dict[str, PayoutStatementView]) -> StatementPlan:
    """Statements of a month from the ledger's totals and the statements made by earlier runs.

    Nothing to pay (no positive total) makes no statement. A prepared statement takes the ledger's current total,
    so entries booked late are paid with it. A transferred (or failed) one is kept as it is; entries booked after
    it are reported in `unsettled` as the difference, for an operator to settle, never transferred a second time.
    """
    plan = StatementPlan()
    for total in totals:
        statement = existing.get(total.isv_id)
        if statement is None:
            if total.amount_cents > 0:
                plan.create.append(total)
        elif statement.status in FOLLOWS_LEDGER:
            if (statement.amount_cents, statement.entries) != (total.amount_cents, total.entries):
                plan.update.append(total)
        elif (statement.amount_cents, statement.entries) != (total.amount_cents, total.entries):
            plan.unsettled.append(
                LedgerTotal(
                    isv_id=total.isv_id,
                    amount_cents=total.amount_cents - statement.amount_cents,
                    entries=total.entries - statement.entries,
                )
            )
    return plan
