"""Partner policy backtests' side effects: reading what the store recorded of a programme year, page by page, and
keeping a backtest's lines, progress and totals."""

from typing import Any

from sqlalchemy import Select, func, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import names
from domain.partners.backtest import (
    BacktestBatch,
    BacktestCompletion,
    BacktestStart,
    LedgerGroup,
    PartnerYear,
    PartnerYearPage,
    PartnerYearQuery,
    RecordedReport,
    RecordedReviewDecision,
)
from domain.partners.config import Tier
from domain.partners.model import QualityMetrics, ReviewDecision
from store import models
from store.db import as_utc, insert_ignoring_conflict

DECISIONS = tuple(decision.value for decision in ReviewDecision)  # the review events people decided


def _year_partner_ids(year: int) -> Select[tuple[str]]:
    """The year's partners: in the year now (or when their partnership ended), or decided at its end."""
    in_year = select(models.Partner.id.label("partner_id")).where(models.Partner.year == year)
    decided = select(models.TierDecisionRow.partner_id).where(models.TierDecisionRow.year == year)
    ids = union(in_year, decided).subquery()
    return select(ids.c.partner_id)


class PartnerBacktestActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=names.COUNT_BACKTEST_PARTNERS)
    async def count_partners(self, start: BacktestStart) -> int:
        """How many partners the year has, kept on the backtest for its percentage."""
        async with self._sessions.begin() as session:
            total = int(
                await session.scalar(select(func.count()).select_from(_year_partner_ids(start.year).subquery())) or 0
            )
            await session.execute(
                update(models.PartnerBacktest)
                .where(models.PartnerBacktest.id == start.backtest_id)
                .values(partners_total=total)
            )
        return total

    @activity.defn(name=names.LOAD_PARTNER_YEARS)
    async def load_partner_years(self, query: PartnerYearQuery) -> PartnerYearPage:
        """A page of partners with their year's ledger (grouped), reports and review decisions, in five reads."""
        ids_query = _year_partner_ids(query.year)
        if query.after is not None:
            ids_query = ids_query.where(ids_query.selected_columns.partner_id > query.after)
        async with self._sessions() as session:
            ids = list((await session.scalars(ids_query.order_by("partner_id").limit(query.limit))).all())
            if not ids:
                return PartnerYearPage(partners=[])
            partners = {
                row.id: row for row in await session.scalars(select(models.Partner).where(models.Partner.id.in_(ids)))
            }
            start_tiers = await _start_tiers(session, ids, query.year)
            contracts = await _contracts(session, ids, query.year)
            reports = await _reports(session, ids, query)
            decisions = await _review_decisions(session, ids, query)
        return PartnerYearPage(
            partners=[
                PartnerYear(
                    partner_id=partner_id,
                    name=partners[partner_id].name if partner_id in partners else partner_id,
                    account_manager=partners[partner_id].account_manager if partner_id in partners else "",
                    year=query.year,
                    start_tier=start_tiers.get(partner_id) or Tier(partners[partner_id].tier),
                    contracts=contracts.get(partner_id, []),
                    reports=reports.get(partner_id, []),
                    review_decisions=decisions.get(partner_id, []),
                )
                for partner_id in ids
            ]
        )

    @activity.defn(name=names.RECORD_BACKTEST_LINES)
    async def record_lines(self, batch: BacktestBatch) -> None:
        """Writes the batch's lines once (a retry finds them) and how many partners are done."""
        async with self._sessions.begin() as session:
            for line in batch.lines:
                values: dict[str, Any] = line.model_dump(mode="json")
                await insert_ignoring_conflict(
                    session, models.PartnerBacktestLine, {"backtest_id": batch.backtest_id} | values
                )
            await session.execute(
                update(models.PartnerBacktest)
                .where(models.PartnerBacktest.id == batch.backtest_id)
                .values(partners_done=batch.done)
            )

    @activity.defn(name=names.COMPLETE_BACKTEST)
    async def complete(self, completion: BacktestCompletion) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(models.PartnerBacktest)
                .where(models.PartnerBacktest.id == completion.backtest_id)
                .values(
                    status="completed",
                    totals=completion.totals.model_dump(mode="json"),
                    partners_done=completion.totals.partners,
                    completed_at=completion.at,
                )
            )


async def _start_tiers(session: AsyncSession, ids: list[str], year: int) -> dict[str, Tier]:
    """The tier each partner went into the year with, where its year-end decision recorded it; a partner still in
    the year (or whose partnership ended in it) has that tier now."""
    decision = models.TierDecisionRow
    rows = await session.execute(
        select(decision.partner_id, decision.from_tier).where(decision.partner_id.in_(ids), decision.year == year)
    )
    return {partner_id: Tier(tier) for partner_id, tier in rows}


async def _contracts(session: AsyncSession, ids: list[str], year: int) -> dict[str, list[LedgerGroup]]:
    ledger = models.PointsLedgerEntry
    rows = await session.execute(
        select(ledger.partner_id, ledger.kind, ledger.quantity, ledger.monthly_value_cents, func.count())
        .where(ledger.partner_id.in_(ids), ledger.year == year)
        .group_by(ledger.partner_id, ledger.kind, ledger.quantity, ledger.monthly_value_cents)
    )
    grouped: dict[str, list[LedgerGroup]] = {}
    for partner_id, kind, quantity, value, count in rows:
        group = LedgerGroup(kind=kind, quantity=quantity, monthly_value_cents=value, count=count)
        grouped.setdefault(partner_id, []).append(group)
    return grouped


async def _reports(session: AsyncSession, ids: list[str], query: PartnerYearQuery) -> dict[str, list[RecordedReport]]:
    report = models.QualityReportRow
    rows = await session.scalars(
        select(report)
        .where(report.partner_id.in_(ids), report.period_end <= query.year_ends_at)
        .order_by(report.partner_id, report.period_end)
    )
    reports: dict[str, list[RecordedReport]] = {}
    for row in rows:
        # The row's measurement columns carry the metrics' own names.
        metrics = QualityMetrics.model_validate(row, from_attributes=True)
        recorded = RecordedReport(period_end=as_utc(row.period_end), created_at=as_utc(row.created_at), metrics=metrics)
        reports.setdefault(row.partner_id, []).append(recorded)
    return reports


async def _review_decisions(
    session: AsyncSession, ids: list[str], query: PartnerYearQuery
) -> dict[str, list[RecordedReviewDecision]]:
    review = models.PartnerReviewEvent
    rows = await session.execute(
        select(review.partner_id, review.event, review.at).where(
            review.partner_id.in_(ids), review.event.in_(DECISIONS), review.at <= query.year_ends_at
        )
    )
    decisions: dict[str, list[RecordedReviewDecision]] = {}
    for partner_id, event, at in rows:
        decisions.setdefault(partner_id, []).append(RecordedReviewDecision(at=as_utc(at), decision=event))
    return decisions
