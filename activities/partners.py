"""Partner programme side effects: the store's copy of a partner, the points ledger, tier decisions, quality
measurement and reports, termination reviews, and the partner's notifications."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import names
from activities.audit_trail import record_system_action
from domain.audit import SystemAction
from domain.ids import partner_workflow_id
from domain.partners.model import (
    AwardBatchResult,
    AwardResult,
    PartnerRecord,
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
from store.db import as_utc, insert_once

LedgerKey = tuple[str, str]  # (partner_id, reference_id): the ledger's unique key


@dataclass(frozen=True)
class LedgerEntry:
    points: int
    actor: str
    awarded_at: datetime

    def written_by(self, award: PointsAward) -> bool:
        """True if this entry is `award` itself, written by an earlier attempt of the same activity call.

        Temporal retries an activity whose worker died after the commit; the retry must answer as the first
        attempt did, so the award's own row is not a duplicate of itself. Time and actor identify the call.
        """
        return self.awarded_at == award.at and self.actor == award.actor


class PartnerActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=names.RECORD_PARTNER)
    async def record_partner(self, record: PartnerRecord) -> None:
        """Upserts the partner's row; an older snapshot (a late retry) never overwrites a newer one."""
        values = {
            "id": record.partner_id,
            "name": record.name,
            "account_manager": record.account_manager,
            "tier": record.tier.value,
            "status": record.status.value,
            "year": record.year,
            "points": record.points,
            "updated_at": _utc(record.updated_at),
        }
        if await self._update_partner_if_newer(values):
            return
        if await insert_once(self._sessions, models.Partner(**values)):
            return
        # Another writer inserted the row between our update and our insert; its snapshot may be the older one.
        await self._update_partner_if_newer(values)

    async def _update_partner_if_newer(self, values: dict[str, Any]) -> bool:
        """One conditional UPDATE, so a concurrent older snapshot cannot slip in between a read and a write."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(models.Partner)
                .where(models.Partner.id == values["id"], models.Partner.updated_at <= values["updated_at"])
                .values(**values)
            )
        return cast(CursorResult[Any], result).rowcount > 0

    @activity.defn(name=names.AWARD_POINTS)
    async def award_points(self, batch: PointsAwardBatch) -> AwardBatchResult:
        """Writes each award to the ledger once per (partner, reference id) and answers what each one earned.

        A repeated reference id keeps the first award: its answer is a duplicate carrying the first award's
        points and time, whether the first came in an earlier call or earlier in this batch.
        """
        try:
            results = await self._award_in_bulk(batch.awards)
        except IntegrityError:
            # A concurrent writer took a reference id between our read and our insert: go row by row.
            results = await self._award_row_by_row(batch.awards)
        return AwardBatchResult(results=results)

    async def _award_in_bulk(self, awards: Sequence[PointsAward]) -> list[AwardResult]:
        """One read of the batch's reference ids and one multi-row insert, in one transaction."""
        async with self._sessions.begin() as session:
            results, new = _answer(awards, await _ledger_entries(session, awards))
            if new:
                await session.execute(insert(models.PointsLedgerEntry), [_ledger_values(award) for award in new])
        return results

    async def _award_row_by_row(self, awards: Sequence[PointsAward]) -> list[AwardResult]:
        """Inserts what is missing one row at a time, then answers from the ledger as it now stands."""
        async with self._sessions() as session:
            _, new = _answer(awards, await _ledger_entries(session, awards))
        for award in new:
            await insert_once(self._sessions, models.PointsLedgerEntry(**_ledger_values(award)))
        async with self._sessions() as session:
            results, _ = _answer(awards, await _ledger_entries(session, awards))
        return results

    @activity.defn(name=names.RECORD_TIER_DECISION)
    async def record_tier_decision(self, decision: TierDecision) -> None:
        """Records the year-end decision once per partner and year, and tells the partner with the figures.

        Every decision goes into the audit log, one entry per partner and year: an upgrade or downgrade as
        `partner.tier_changed`, a kept tier as `partner.tier_kept`, so that an auditor filtering for changes sees
        changes only, and one filtering by the partner's workflow sees that every year end was decided.
        """
        row = models.TierDecisionRow(
            partner_id=decision.partner_id,
            year=decision.year,
            points=decision.points,
            from_tier=decision.from_tier.value,
            to_tier=decision.to_tier.value,
            change=decision.change.value,
            decided_at=decision.decided_at,
        )
        await insert_once(self._sessions, row)
        message = (
            f"Programme year {decision.year}: {decision.points:,} points. "
            f"Tier {decision.from_tier.value} -> {decision.to_tier.value} ({decision.change.value}): "
            f"keeping {decision.from_tier.value} needed {decision.kept_threshold:,} points, "
            f"{decision.to_tier.value} starts at {decision.reached_threshold:,} points."
        )
        await self._notify_partner(
            decision.partner_id, f"tier:{decision.year}", "partner_tier_decision", message, decision.decided_at
        )
        kept = decision.change == TierChange.KEEP
        await record_system_action(
            self._sessions,
            SystemAction.TIER_KEPT if kept else SystemAction.TIER_CHANGED,
            target=partner_workflow_id(decision.partner_id),
            at=decision.decided_at,
            detail=(
                f"programme year {decision.year}: {decision.points} points, {decision.change.value} "
                f"{decision.from_tier.value} → {decision.to_tier.value}"
            ),
            # One key for either action: a partner's year has one decision.
            event_key=f"partner.tier_decided:{decision.partner_id}:{decision.year}",
        )

    @activity.defn(name=names.MEASURE_QUALITY)
    async def measure_quality(self, query: QualityQuery) -> QualityMetrics:
        """The quarter's payment behaviour, churn and usage of the partner's customers, from the store."""
        period = _Period(_utc(query.period_start), _utc(query.period_end))
        async with self._sessions() as session:
            invoices, on_time = await _invoices_paid_on_time(
                session, query.partner_id, period, timedelta(days=query.payment_grace_days)
            )
            active, cancellations = await _subscription_churn(session, query.partner_id, period)
            usage = await _average_usage(session, query.partner_id, period)
        return QualityMetrics(
            paid_on_time_share=_share(on_time, invoices),
            usage_share=usage,
            churn_share=_share(cancellations, active),
            invoices=invoices,
            active_subscriptions=active,
            cancellations=cancellations,
        )

    @activity.defn(name=names.RECORD_QUALITY_REPORT)
    async def record_quality_report(self, report: QualityReport) -> None:
        """Stores the report once per partner and period end, and tells the partner it is available."""
        metrics = report.metrics
        row = models.QualityReportRow(
            partner_id=report.partner_id,
            period_start=report.period_start,
            period_end=report.period_end,
            paid_on_time_share=metrics.paid_on_time_share,
            usage_share=metrics.usage_share,
            churn_share=metrics.churn_share,
            invoices=metrics.invoices,
            active_subscriptions=metrics.active_subscriptions,
            cancellations=metrics.cancellations,
            failing=",".join(report.failing),
            below_thresholds=report.below_thresholds,
            bad_streak=report.bad_streak,
            created_at=report.created_at,
        )
        await insert_once(self._sessions, row)
        message = (
            f"Your quality report for {report.period_start:%Y-%m-%d} to {report.period_end:%Y-%m-%d} is available: "
            f"paid on time {_percent(metrics.paid_on_time_share)}, churn {_percent(metrics.churn_share)}, "
            f"usage {_percent(metrics.usage_share)}."
        )
        await self._notify_partner(
            report.partner_id,
            f"quality:{report.period_end:%Y%m%d}",
            "partner_quality_report",
            message,
            report.created_at,
        )

    @activity.defn(name=names.RECORD_REVIEW)
    async def record_review(self, record: ReviewRecord) -> None:
        """Stores a termination review's step once per (partner, event, time) and tells its recipient."""
        row = models.PartnerReviewEvent(
            partner_id=record.partner_id, event=record.event, actor=record.actor, at=record.at, note=record.note
        )
        await insert_once(self._sessions, row)
        message = f"Termination review of partner {record.partner_id}: {record.event} by {record.actor}"
        await self._notify_partner(
            record.partner_id,
            f"review:{record.event}:{record.at:%Y%m%d%H%M%S}",
            f"partner_review_{record.event}",
            f"{message}: {record.note}" if record.note else message,
            record.at,
            recipient=record.recipient,
        )

    async def _notify_partner(
        self, partner_id: str, key: str, kind: str, message: str, at: datetime, recipient: str | None = None
    ) -> None:
        """A notification about the partner, once per key; by default to the partner itself."""
        row = models.Notification(
            key=f"partner:{partner_id}:{key}",
            subject_ref=partner_id,
            kind=kind,
            recipient=recipient or f"partner-{partner_id}",
            message=message,
            created_at=at,
        )
        if await insert_once(self._sessions, row):
            activity.logger.info("notified %s: %s", row.recipient, message)


# --- the points ledger -----------------------------------------------------------------------


async def _ledger_entries(session: AsyncSession, awards: Sequence[PointsAward]) -> dict[LedgerKey, LedgerEntry]:
    """The ledger's rows for the batch's reference ids, in one SELECT on the unique key's index."""
    if not awards:
        return {}
    ledger = models.PointsLedgerEntry
    rows = await session.execute(
        select(ledger.partner_id, ledger.reference_id, ledger.points, ledger.actor, ledger.awarded_at).where(
            ledger.partner_id.in_({award.partner_id for award in awards}),
            ledger.reference_id.in_({award.reference_id for award in awards}),
        )
    )
    # Two IN lists match the cross product; a batch is one partner's in practice, so this reads no extra rows.
    return {
        (partner_id, reference_id): LedgerEntry(points, actor, as_utc(awarded_at))
        for partner_id, reference_id, points, actor, awarded_at in rows
    }


def _answer(
    awards: Sequence[PointsAward], ledger: dict[LedgerKey, LedgerEntry]
) -> tuple[list[AwardResult], list[PointsAward]]:
    """Each award's answer given the ledger, and the awards still to be written (first occurrences only)."""
    first: dict[LedgerKey, AwardResult] = {}
    results: list[AwardResult] = []
    new: list[PointsAward] = []
    for award in awards:
        key = (award.partner_id, award.reference_id)
        earlier = first.get(key)
        if earlier is not None:
            # The same reference id twice in one batch: the second repeats the first, on every attempt.
            results.append(earlier.model_copy(update={"duplicate": True}))
            continue
        entry = ledger.get(key)
        if entry is None or entry.written_by(award):
            result = AwardResult(
                reference_id=award.reference_id, points_awarded=award.points, duplicate=False, awarded_at=award.at
            )
            if entry is None:
                new.append(award)
        else:
            result = AwardResult(
                reference_id=award.reference_id,
                points_awarded=entry.points,
                duplicate=True,
                awarded_at=entry.awarded_at,
            )
        first[key] = result
        results.append(result)
    return results, new


def _ledger_values(award: PointsAward) -> dict[str, Any]:
    return {
        "partner_id": award.partner_id,
        "reference_id": award.reference_id,
        "year": award.year,
        "kind": award.kind.value,
        "quantity": award.quantity,
        "monthly_value_cents": award.monthly_value_cents,
        "points": award.points,
        "actor": award.actor,
        "awarded_at": award.at,
    }


# --- quality measurement ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    """[start, end), in UTC."""

    start: datetime
    end: datetime


async def _invoices_paid_on_time(
    session: AsyncSession, partner_id: str, period: _Period, grace: timedelta
) -> tuple[int, int]:
    """(invoices issued in the period and due by its end, those of them paid by due date + grace)."""
    invoice = models.InvoiceRow
    rows = await session.execute(
        select(invoice.due_at, invoice.paid_at).where(
            invoice.channel_partner_id == partner_id,
            invoice.issued_at >= period.start,
            invoice.issued_at < period.end,
            invoice.due_at <= period.end,
        )
    )
    # Date arithmetic differs between SQLite and PostgreSQL, so the grace is applied here, on two columns a row.
    due = rows.all()
    on_time = sum(1 for due_at, paid_at in due if paid_at is not None and as_utc(paid_at) <= as_utc(due_at) + grace)
    return len(due), on_time


async def _subscription_churn(session: AsyncSession, partner_id: str, period: _Period) -> tuple[int, int]:
    """(subscriptions active at some point in the period, those of them whose cancellation was requested in it)."""
    subscription = models.Subscription
    cancelled_in_period = and_(
        subscription.cancel_requested_at >= period.start, subscription.cancel_requested_at < period.end
    )
    row = (
        await session.execute(
            select(func.count(), func.count(case((cancelled_in_period, 1)))).where(
                subscription.channel_partner_id == partner_id,
                subscription.booked_at < period.end,
                or_(subscription.terminated_at.is_(None), subscription.terminated_at >= period.start),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def _average_usage(session: AsyncSession, partner_id: str, period: _Period) -> float | None:
    """The mean of the usage shares reported in the period; None ("unknown") when nobody reported."""
    usage = models.UsageReport
    average = await session.scalar(
        select(func.avg(usage.usage_share)).where(
            usage.partner_id == partner_id, usage.reported_at >= period.start, usage.reported_at < period.end
        )
    )
    # PostgreSQL averages a NUMERIC column to a Decimal.
    return None if average is None else float(average)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{share:.0%}"


def _utc(moment: datetime) -> datetime:
    """SQLite stores and compares datetimes as text without their offset, so everything bound is UTC first."""
    return moment.astimezone(UTC)
