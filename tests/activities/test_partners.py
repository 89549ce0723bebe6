"""Partner programme activities are safe to retry: every reference id counts once in the points ledger (and a
retried batch answers as its first attempt did), decisions, reports and review steps are written once with one
notification each, the partner's row follows its newest snapshot, and quality is measured exactly from the store."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities import partners as partner_activities
from activities.partners import PartnerActivities
from domain.partners.config import PROGRAMME, ContractKind, Tier
from domain.partners.model import (
    AwardBatchResult,
    AwardResult,
    PartnerRecord,
    PartnerStatus,
    PointsAward,
    PointsAwardBatch,
    QualityMetrics,
    QualityQuery,
    QualityReport,
    ReviewRecord,
    TierChange,
    TierDecision,
)
from store import models
from tests.store.test_onboarding_activities import count, run_twice

PARTNER = "telco-partner"
OTHER = "other-partner"
AWARDED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LATER = AWARDED + timedelta(days=1)
Q1_START = datetime(2026, 1, 1, tzinfo=UTC)
Q1_END = datetime(2026, 4, 1, tzinfo=UTC)
GRACE = PROGRAMME.quality.payment_grace_days


@pytest.fixture
def activities(sessions: async_sessionmaker[AsyncSession]) -> PartnerActivities:
    return PartnerActivities(sessions)


def award(reference_id: str, points: int = 700, actor: str = "am-berta", at: datetime = AWARDED) -> PointsAward:
    return PointsAward(
        partner_id=PARTNER,
        year=2026,
        reference_id=reference_id,
        kind=ContractKind.NEW_CUSTOMER_CONTRACT,
        quantity=1,
        monthly_value_cents=10_000,
        points=points,
        actor=actor,
        at=at,
    )


async def award_batch(activities: PartnerActivities, *awards: PointsAward) -> list[AwardResult]:
    result: AwardBatchResult = await ActivityEnvironment().run(
        activities.award_points, PointsAwardBatch(awards=list(awards))
    )
    return result.results


def answers(results: Sequence[AwardResult]) -> list[tuple[str, int, bool, datetime]]:
    return [(r.reference_id, r.points_awarded, r.duplicate, r.awarded_at) for r in results]


async def ledger(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[int, str]]:
    async with sessions() as session:
        rows = await session.scalars(select(models.PointsLedgerEntry))
        return {row.reference_id: (row.points, row.actor) for row in rows}


async def notifications(sessions: async_sessionmaker[AsyncSession]) -> list[models.Notification]:
    async with sessions() as session:
        return list(await session.scalars(select(models.Notification).order_by(models.Notification.key)))


async def seed(sessions: async_sessionmaker[AsyncSession], *rows: models.Base) -> None:
    async with sessions.begin() as session:
        session.add_all(rows)


# --- points ----------------------------------------------------------------------------------


async def test_a_repeated_reference_id_keeps_the_first_award_and_answers_duplicate_with_its_points(
    activities: PartnerActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await award_batch(activities, award("ctr-1", points=700))
    repeat = await award_batch(activities, award("ctr-1", points=900, actor="am-carl", at=LATER))

    assert answers(first) == [("ctr-1", 700, False, AWARDED)]
    assert answers(repeat) == [("ctr-1", 700, True, AWARDED)]
    assert await ledger(sessions) == {"ctr-1": (700, "am-berta")}


async def test_a_retried_batch_answers_exactly_like_its_first_attempt(
    activities: PartnerActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await award_batch(activities, award("ctr-old", points=500))
    batch = (award("ctr-old", points=800, at=LATER), award("ctr-new", points=300, at=LATER))

    first_attempt = await award_batch(activities, *batch)
    retry = await award_batch(activities, *batch)

    expected = [("ctr-old", 500, True, AWARDED), ("ctr-new", 300, False, LATER)]
    assert answers(first_attempt) == expected
    assert answers(retry) == expected
    assert await ledger(sessions) == {"ctr-old": (500, "am-berta"), "ctr-new": (300, "am-berta")}


async def test_the_second_of_a_reference_id_twice_in_one_batch_is_a_duplicate_of_the_first_on_every_attempt(
    activities: PartnerActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    batch = (award("ctr-1", points=700), award("ctr-2", points=200), award("ctr-1", points=999))

    first_attempt = await award_batch(activities, *batch)
    retry = await award_batch(activities, *batch)

    expected = [("ctr-1", 700, False, AWARDED), ("ctr-2", 200, False, AWARDED), ("ctr-1", 700, True, AWARDED)]
    assert answers(first_attempt) == expected
    assert answers(retry) == expected
    assert await ledger(sessions) == {"ctr-1": (700, "am-berta"), "ctr-2": (200, "am-berta")}


async def test_a_batch_of_500_events_writes_500_ledger_rows(
    activities: PartnerActivities, migrated_database: AsyncEngine
) -> None:
    results = await award_batch(activities, *(award(f"ctr-{n:04d}", points=n) for n in range(500)))

    assert [r.points_awarded for r in results] == list(range(500))
    assert not any(r.duplicate for r in results)
    assert await count(migrated_database, models.PointsLedgerEntry) == 500


async def test_a_reference_id_written_between_the_read_and_the_insert_is_a_duplicate_and_the_rest_is_written(
    activities: PartnerActivities, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    await award_batch(activities, award("ctr-raced", points=400, actor="am-carl"))
    read = partner_activities._ledger_entries
    reads = 0

    async def stale_first_read(session: AsyncSession, awards: Sequence[PointsAward]) -> Any:
        # The bulk path's read misses the row, as if a concurrent call committed it just after: its insert fails.
        nonlocal reads
        reads += 1
        return {} if reads == 1 else await read(session, awards)

    monkeypatch.setattr(partner_activities, "_ledger_entries", stale_first_read)
    results = await award_batch(activities, award("ctr-raced", points=800), award("ctr-fresh", points=100))

    assert answers(results) == [("ctr-raced", 400, True, AWARDED), ("ctr-fresh", 100, False, AWARDED)]
    assert await ledger(sessions) == {"ctr-raced": (400, "am-carl"), "ctr-fresh": (100, "am-berta")}


async def test_concurrent_batches_with_the_same_reference_ids_award_each_exactly_once(
    activities: PartnerActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    references = [f"ctr-{n:03d}" for n in range(50)]
    callers = [("am-berta", AWARDED), ("am-carl", LATER)]
    batches = [[award(ref, points=10, actor=actor, at=at) for ref in references] for actor, at in callers]

    berta, carl = await asyncio.gather(*(award_batch(activities, *batch) for batch in batches))

    stored = await ledger(sessions)
    assert sorted(stored) == references
    for mine, theirs in zip(berta, carl, strict=True):
        assert sorted([mine.duplicate, theirs.duplicate]) == [False, True]  # exactly one call wrote each


# --- tier decisions --------------------------------------------------------------------------


def decision(year: int = 2026, points: int = 16_200) -> TierDecision:
    return TierDecision(
        partner_id=PARTNER,
        year=year,
        points=points,
        from_tier=Tier.ADVANCED,
        to_tier=Tier.EXPERT,
        change=TierChange.UPGRADE,
        kept_threshold=7_500,
        reached_threshold=15_000,
        decided_at=datetime(year + 1, 1, 1, tzinfo=UTC),
    )


async def test_a_tier_decision_is_recorded_once_per_year_and_notifies_the_partner_with_the_figures(
    activities: PartnerActivities, migrated_database: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await run_twice(activities.record_tier_decision, decision())
    await run_twice(activities.record_tier_decision, decision(points=99_999))  # a second decision on the same year

    async with sessions() as session:
        stored = await session.scalar(select(models.TierDecisionRow))
    assert stored is not None
    assert (stored.year, stored.points, stored.from_tier, stored.to_tier, stored.change) == (
        2026,
        16_200,
        "advanced",
        "expert",
        "upgrade",
    )
    [note] = await notifications(sessions)
    assert (note.key, note.recipient, note.kind) == (
        f"partner:{PARTNER}:tier:2026",
        f"partner-{PARTNER}",
        "partner_tier_decision",
    )
    for figure in ("2026", "16,200", "advanced", "expert", "upgrade", "7,500", "15,000"):
        assert figure in note.message

    await run_twice(activities.record_tier_decision, decision(year=2027, points=3_000))
    assert await count(migrated_database, models.TierDecisionRow) == 2
    assert await count(migrated_database, models.Notification) == 2


# --- quality measurement ---------------------------------------------------------------------


def invoice(number: str, issued: datetime, paid: datetime | None, partner: str = PARTNER) -> models.InvoiceRow:
    return models.InvoiceRow(
        number=number,
        subscription_id=f"{number}-sub",
        customer_id="acme",
        app_id="crm-pro",
        isv_id="crm-isv",
        channel_partner_id=partner,
        kind="period",
        net_cents=1_000,
        vat_cents=190,
        gross_cents=1_190,
        currency="EUR",
        status="paid" if paid else "open",
        issued_at=issued,
        due_at=issued + timedelta(days=14),
        paid_at=paid,
    )


def subscription(
    name: str,
    booked: datetime,
    *,
    cancel_requested: datetime | None = None,
    terminated: datetime | None = None,
    partner: str = PARTNER,
) -> models.Subscription:
    return models.Subscription(
        subscription_id=name,
        customer_id="acme",
        customer_name="Acme Bäckerei GmbH",
        app_id="crm-pro",
        isv_id="crm-isv",
        channel_partner_id=partner,
        status="terminated" if terminated else "active",
        term_months=1,
        booked_at=booked,
        contract_started_at=booked,
        cancel_requested_at=cancel_requested,
        terminated_at=terminated,
        updated_at=booked,
    )


def usage(share: float, reported: datetime, partner: str = PARTNER) -> models.UsageReport:
    return models.UsageReport(partner_id=partner, usage_share=share, reported_by="crm-isv", reported_at=reported)


def day(month: int, day_of_month: int, year: int = 2026) -> datetime:
    return datetime(year, month, day_of_month, tzinfo=UTC)


def q1_query(partner: str = PARTNER) -> QualityQuery:
    return QualityQuery(partner_id=partner, period_start=Q1_START, period_end=Q1_END, payment_grace_days=GRACE)


async def test_quality_is_measured_from_the_partners_invoices_subscriptions_and_usage_reports_of_the_period(
    activities: PartnerActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed(
        sessions,
        # Due by the period's end: five count, three of them paid within due date + grace.
        invoice("on-time-at-the-last-grace-instant", Q1_START, paid=Q1_START + timedelta(days=14 + GRACE)),
        invoice("paid-early", day(1, 10), paid=day(1, 12)),
        invoice("paid-within-grace", day(2, 1), paid=day(2, 15) + timedelta(days=GRACE - 1)),
        invoice("late-beyond-grace", day(2, 1), paid=day(2, 15) + timedelta(days=GRACE, seconds=1)),
        invoice("unpaid-but-due", day(3, 1), paid=None),
        # Not counted: due after the period, issued before or at its end, another partner's customer.
        invoice("not-due-yet", day(3, 25), paid=None),
        invoice("issued-last-quarter", day(12, 20, 2025), paid=day(12, 21, 2025)),
        invoice("issued-at-the-end", Q1_END, paid=None),
        invoice("other-partners", day(1, 10), paid=None, partner=OTHER),
        # Active at some point in the period: three, one of them cancelled in it.
        subscription("active", day(11, 1, 2025)),
        subscription("cancelled-in-period", day(1, 5), cancel_requested=day(2, 10)),
        subscription("terminated-in-period", day(6, 1, 2025), cancel_requested=day(11, 1, 2025), terminated=day(1, 15)),
        # Not active in the period, or not the partner's.
        subscription("terminated-before", day(6, 1, 2025), terminated=day(12, 20, 2025)),
        subscription("booked-at-the-end", Q1_END),
        subscription("other-partners", day(1, 5), cancel_requested=day(2, 10), partner=OTHER),
        usage(0.25, day(1, 31)),
        usage(0.75, day(3, 31)),
        usage(0.10, day(12, 31, 2025)),
        usage(0.10, Q1_END),
        usage(0.10, day(2, 1), partner=OTHER),
    )

    metrics = await ActivityEnvironment().run(activities.measure_quality, q1_query())

    assert metrics == QualityMetrics(
        paid_on_time_share=3 / 5,
        churn_share=1 / 3,
        usage_share=0.5,
        invoices=5,
        active_subscriptions=3,
        cancellations=1,
    )


async def test_quality_is_none_where_there_is_nothing_to_measure(
    activities: PartnerActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Only an invoice not yet due and another partner's business: nothing of this partner's to judge.
    await seed(
        sessions,
        invoice("not-due-yet", day(3, 25), paid=None),
        subscription("other-partners", day(1, 5), partner=OTHER),
        usage(0.5, day(2, 1), partner=OTHER),
    )

    metrics = await ActivityEnvironment().run(activities.measure_quality, q1_query())

    assert metrics == QualityMetrics(paid_on_time_share=None, churn_share=None, usage_share=None)
    assert (metrics.invoices, metrics.active_subscriptions, metrics.cancellations) == (0, 0, 0)


# --- quality reports and reviews -------------------------------------------------------------


def report(bad_streak: int = 1) -> QualityReport:
    return QualityReport(
        partner_id=PARTNER,
        period_start=Q1_START,
        period_end=Q1_END,
        metrics=QualityMetrics(paid_on_time_share=0.6, churn_share=0.25, usage_share=None, invoices=5),
        failing=["paid_on_time_share", "churn_share"],
        below_thresholds=True,
        bad_streak=bad_streak,
        created_at=Q1_END,
    )


async def test_a_quality_report_is_recorded_once_per_period_and_the_partner_is_told_it_is_available(
    activities: PartnerActivities, migrated_database: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await run_twice(activities.record_quality_report, report())
    await run_twice(activities.record_quality_report, report(bad_streak=7))

    async with sessions() as session:
        stored = await session.scalar(select(models.QualityReportRow))
    assert stored is not None
    assert (stored.failing, stored.below_thresholds, stored.bad_streak, stored.usage_share) == (
        "paid_on_time_share,churn_share",
        True,
        1,
        None,
    )
    assert await count(migrated_database, models.QualityReportRow) == 1
    [note] = await notifications(sessions)
    assert (note.key, note.recipient) == (f"partner:{PARTNER}:quality:20260401", f"partner-{PARTNER}")
    assert "2026-01-01 to 2026-04-01" in note.message
    assert "usage unknown" in note.message


def review(event: str, at: datetime = day(7, 1)) -> ReviewRecord:
    return ReviewRecord(
        partner_id=PARTNER, event=event, actor="system", at=at, note="3 bad quarters", recipient="am-berta"
    )


async def test_a_review_step_is_recorded_once_per_event_and_time_and_notifies_its_recipient(
    activities: PartnerActivities, migrated_database: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await run_twice(activities.record_review, review("opened"))
    await run_twice(activities.record_review, review("escalated", at=day(7, 15)))

    assert await count(migrated_database, models.PartnerReviewEvent) == 2
    notes = await notifications(sessions)
    assert [(n.key, n.recipient) for n in notes] == [
        (f"partner:{PARTNER}:review:escalated:20260715000000", "am-berta"),
        (f"partner:{PARTNER}:review:opened:20260701000000", "am-berta"),
    ]
    assert "opened" in notes[1].message and "3 bad quarters" in notes[1].message


# --- the partner's row -----------------------------------------------------------------------


def snapshot(points: int, updated_at: datetime) -> PartnerRecord:
    return PartnerRecord(
        partner_id=PARTNER,
        name="Telco Partner GmbH",
        account_manager="am-berta",
        tier=Tier.ADVANCED,
        status=PartnerStatus.ACTIVE,
        year=2026,
        points=points,
        updated_at=updated_at,
    )


async def stored_points(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        partner = await session.get(models.Partner, PARTNER)
    assert partner is not None
    return partner.points


async def test_the_partner_row_follows_the_newest_snapshot_and_ignores_an_older_one(
    activities: PartnerActivities, migrated_database: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await run_twice(activities.record_partner, snapshot(1_000, AWARDED))
    assert await stored_points(sessions) == 1_000

    await run_twice(activities.record_partner, snapshot(2_000, LATER))
    assert await stored_points(sessions) == 2_000

    await run_twice(activities.record_partner, snapshot(1_500, AWARDED + timedelta(hours=1)))  # a late retry
    assert await stored_points(sessions) == 2_000
    assert await count(migrated_database, models.Partner) == 1
