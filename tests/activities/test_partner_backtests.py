"""Backtest activities read a programme year from the store page by page (the year's partners only, identical ledger
events grouped, reports and review decisions up to the year end) and write a batch's lines once."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.partner_backtests import PartnerBacktestActivities
from domain.partners.backtest import (
    BacktestBatch,
    BacktestStart,
    LedgerGroup,
    PartnerYearPage,
    PartnerYearQuery,
    compare,
)
from domain.partners.config import PROGRAMME, ContractKind, Tier
from domain.partners.model import ReviewDecision
from domain.partners.rules import year_end
from store import models
from tests.store.test_onboarding_activities import count, run_twice

YEAR = 2026
YEAR_START, YEAR_END = year_end(YEAR - 1), year_end(YEAR)
MARCH = datetime(2026, 3, 2, tzinfo=UTC)


def partner(partner_id: str, tier: str, year: int, status: str = "active") -> models.Partner:
    return models.Partner(
        id=partner_id,
        name=partner_id,
        account_manager="am",
        tier=tier,
        status=status,
        year=year,
        points=0,
        updated_at=MARCH,
    )


def award(partner_id: str, reference: str, quantity: int, year: int = YEAR) -> models.PointsLedgerEntry:
    return models.PointsLedgerEntry(
        partner_id=partner_id,
        reference_id=reference,
        year=year,
        kind=ContractKind.DIGITAL_PHONE_LICENSES.value,
        quantity=quantity,
        monthly_value_cents=0,
        points=quantity * 50,
        actor="am",
        awarded_at=MARCH,
    )


def report(partner_id: str, period_end: datetime) -> models.QualityReportRow:
    return models.QualityReportRow(
        partner_id=partner_id,
        period_start=period_end - timedelta(days=90),
        period_end=period_end,
        paid_on_time_share=0.5,
        usage_share=None,
        churn_share=None,
        invoices=2,
        active_subscriptions=0,
        cancellations=0,
        failing="paid_on_time_share",
        below_thresholds=True,
        bad_streak=1,
        created_at=period_end,
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        session.add_all(
            [
                # decided at the end of 2026 (now in 2027), still in 2026, in 2027 only, ended in 2025
                partner("a-decided", "expert", YEAR + 1),
                models.TierDecisionRow(
                    partner_id="a-decided",
                    year=YEAR,
                    points=1_000,
                    from_tier="advanced",
                    to_tier="basic",
                    change="downgrade",
                    decided_at=YEAR_END,
                ),
                partner("b-in-year", "advanced", YEAR),
                partner("c-next-year", "basic", YEAR + 1),
                partner("d-ended-before", "basic", YEAR - 1, status="terminated"),
                award("a-decided", "r1", 10),
                award("a-decided", "r2", 10),
                award("a-decided", "r3", 4),
                award("a-decided", "old", 99, year=YEAR - 1),
                report("b-in-year", YEAR_START),
                report("b-in-year", YEAR_START + timedelta(days=90)),
                report("b-in-year", YEAR_END + timedelta(days=90)),
                models.PartnerReviewEvent(partner_id="b-in-year", event="opened", actor="system", at=MARCH),
                models.PartnerReviewEvent(partner_id="b-in-year", event="retain", actor="am", at=MARCH),
            ]
        )


async def test_the_years_partners_come_page_by_page_with_what_the_store_recorded(
    migrated_database: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
):
    await seed(sessions)
    activities = PartnerBacktestActivities(sessions)
    environment = ActivityEnvironment()
    assert await environment.run(activities.count_partners, BacktestStart(backtest_id="bt-x", year=YEAR)) == 2

    query = PartnerYearQuery(year=YEAR, year_ends_at=YEAR_END, limit=1)
    first: PartnerYearPage = await environment.run(activities.load_partner_years, query)
    second: PartnerYearPage = await environment.run(
        activities.load_partner_years, query.model_copy(update={"after": "a-decided"})
    )
    last: PartnerYearPage = await environment.run(
        activities.load_partner_years, query.model_copy(update={"after": "b-in-year"})
    )

    [decided], [in_year] = first.partners, second.partners
    assert last.partners == []
    assert decided.start_tier == Tier.ADVANCED  # from the year-end decision, not the partner's tier now
    assert sorted(decided.contracts, key=lambda group: group.quantity) == [
        LedgerGroup(kind=ContractKind.DIGITAL_PHONE_LICENSES, quantity=4, monthly_value_cents=0, count=1),
        LedgerGroup(kind=ContractKind.DIGITAL_PHONE_LICENSES, quantity=10, monthly_value_cents=0, count=2),
    ]
    assert in_year.start_tier == Tier.ADVANCED
    assert [r.period_end for r in in_year.reports] == [YEAR_START, YEAR_START + timedelta(days=90)]
    assert [(d.at, d.decision) for d in in_year.review_decisions] == [(MARCH, ReviewDecision.RETAIN)]

    lines = [compare(record, PROGRAMME, PROGRAMME) for record in (decided, in_year)]
    batch = BacktestBatch(backtest_id="bt-x", lines=lines, done=2)
    await run_twice(activities.record_lines, batch)
    assert await count(migrated_database, models.PartnerBacktestLine) == 2
