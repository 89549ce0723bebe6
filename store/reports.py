"""Figures per month for the console's overview: paid revenue (net, and the ISVs' share of it) from the revenue
ledger, and what the payout runs transferred."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.payouts import StatementStatus
from store.models import PayoutStatement, RevenueShare


@dataclass(frozen=True)
class MonthFigures:
    month: str  # yyyy-mm
    paid_net_cents: int  # net of the invoices paid and booked in the month
    isv_share_cents: int  # the ISVs' share of it
    payouts_cents: int  # transferred to ISVs by the month's payout run


async def monthly(sessions: async_sessionmaker[AsyncSession], isv_id: str | None = None) -> list[MonthFigures]:
    """Every month with revenue or payouts, oldest first; `isv_id` limits both to one ISV."""
    revenue = select(RevenueShare.month, func.sum(RevenueShare.net_cents), func.sum(RevenueShare.share_cents))
    payouts = select(PayoutStatement.month, func.sum(PayoutStatement.amount_cents)).where(
        PayoutStatement.status == StatementStatus.TRANSFERRED.value
    )
    if isv_id is not None:
        revenue = revenue.where(RevenueShare.isv_id == isv_id)
        payouts = payouts.where(PayoutStatement.isv_id == isv_id)
    async with sessions() as session:
        booked = {
            month: (int(net), int(share))
            for month, net, share in await session.execute(revenue.group_by(RevenueShare.month))
        }
        paid = {month: int(amount) for month, amount in await session.execute(payouts.group_by(PayoutStatement.month))}
    return [
        MonthFigures(month, *booked.get(month, (0, 0)), paid.get(month, 0))
        for month in sorted(booked.keys() | paid.keys())
    ]
