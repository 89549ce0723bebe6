"""Payout side effects: a month's statements from the revenue ledger, and their transfers through the gateway."""

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import names
from activities.audit_trail import record_system_action
from activities.payment_gateway import PaymentGateway
from domain import payouts
from domain.audit import BusinessIds, SystemAction
from domain.payouts import LedgerTotal, PayoutStatementView, StatementStatus, TransferStatus
from store import models


def statement_view(row: models.PayoutStatement) -> PayoutStatementView:
    return PayoutStatementView.model_validate(row, from_attributes=True)


class PayoutActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: PaymentGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=names.PREPARE_PAYOUT_STATEMENTS)
    async def prepare_statements(self, month: str) -> list[PayoutStatementView]:
        """One statement per ISV with revenue shares in `month`; a re-run keeps what earlier runs made.

        Two runs racing on a new statement meet the unique (isv, month) key: the loser's transaction fails and
        Temporal retries it, and the retry finds the winner's row.
        """
        async with self._sessions.begin() as session:
            rows = {row.isv_id: row for row in await self._statement_rows(session, month)}
            plan = payouts.plan_statements(
                await self._ledger_totals(session, month), {isv: statement_view(row) for isv, row in rows.items()}
            )
            now = datetime.now(UTC)
            for total in plan.create:
                session.add(
                    models.PayoutStatement(
                        isv_id=total.isv_id,
                        month=month,
                        amount_cents=total.amount_cents,
                        entries=total.entries,
                        status=StatementStatus.PREPARED.value,
                        created_at=now,
                    )
                )
            for total in plan.update:
                rows[total.isv_id].amount_cents = total.amount_cents
                rows[total.isv_id].entries = total.entries
            await session.flush()
            statements = [statement_view(row) for row in await self._statement_rows(session, month)]
        for late in plan.unsettled:
            activity.logger.warning(
                "payout %s of %s is closed; %d later ledger entries (%d cents) are not in it",
                month,
                late.isv_id,
                late.entries,
                late.amount_cents,
            )
        return statements

    @activity.defn(name=names.TRANSFER_PAYOUT)
    async def transfer(self, statement: PayoutStatementView) -> PayoutStatementView:
        """Transfers a statement once: the gateway's idempotency key holds across retries and re-runs.

        A transferred statement is recorded in the audit log once per (ISV, month).
        """
        async with self._sessions() as session:
            row = await self._statement_row(session, statement)
            settled = statement_view(row) if row.status in payouts.SETTLED else None
            request = payouts.transfer_request(statement_view(row))
        if settled is not None:
            await self._record_transfer(settled)  # a retry after a crash before the audit write
            return settled
        # No transaction is open during the call: the gateway writes to the store itself (SQLite has one writer).
        result = await self._gateway.transfer(request)
        async with self._sessions.begin() as session:
            row = await self._statement_row(session, statement)
            row.transfer_id = result.transfer_id
            if result.status == TransferStatus.SUCCEEDED:
                row.status = StatementStatus.TRANSFERRED.value
                row.transferred_at = datetime.now(UTC)
            else:
                row.status = StatementStatus.FAILED.value
                activity.logger.warning(
                    "payout %s to %s failed: %s", row.month, row.isv_id, result.failure_reason or "no reason given"
                )
            transferred = statement_view(row)
        if transferred.status == StatementStatus.TRANSFERRED:
            await self._record_transfer(transferred)
        return transferred

    async def _record_transfer(self, statement: PayoutStatementView) -> None:
        """The statement's own `transferred_at` is the entry's time: the statement carries no workflow time, and
        the stored stamp is the same on every retry and agrees with what GET /payouts shows."""
        await record_system_action(
            self._sessions,
            SystemAction.PAYOUT_TRANSFERRED,
            target=payouts.payout_workflow_id(statement.month),
            at=statement.transferred_at or statement.created_at,
            detail=(
                f"revenue share {statement.month} to ISV {statement.isv_id}: {statement.amount_cents} cents "
                f"{payouts.CURRENCY}, {statement.entries} ledger entries, transfer {statement.transfer_id}"
            ),
            event_key=f"{SystemAction.PAYOUT_TRANSFERRED.value}:{statement.isv_id}:{statement.month}",
            about=BusinessIds(isv_id=statement.isv_id),  # the month's workflow pays every ISV
        )

    @staticmethod
    async def _ledger_totals(session: AsyncSession, month: str) -> list[LedgerTotal]:
        ledger = models.RevenueShare
        query = (
            select(ledger.isv_id, func.sum(ledger.share_cents), func.count())
            .where(ledger.month == month)
            .group_by(ledger.isv_id)
            .order_by(ledger.isv_id)
        )
        return [
            LedgerTotal(isv_id=isv_id, amount_cents=int(amount), entries=int(entries))
            for isv_id, amount, entries in (await session.execute(query)).all()
        ]

    @staticmethod
    async def _statement_rows(session: AsyncSession, month: str) -> list[models.PayoutStatement]:
        query = (
            select(models.PayoutStatement)
            .where(models.PayoutStatement.month == month)
            .order_by(models.PayoutStatement.isv_id)
        )
        return list((await session.scalars(query)).all())

    @staticmethod
    async def _statement_row(session: AsyncSession, statement: PayoutStatementView) -> models.PayoutStatement:
        row = await session.scalar(
            select(models.PayoutStatement).where(
                models.PayoutStatement.isv_id == statement.isv_id, models.PayoutStatement.month == statement.month
            )
        )
        if row is None:
            raise LookupError(f"no payout statement for {statement.isv_id} in {statement.month}")
        return row
