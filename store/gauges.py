"""What the operators' gauges read from the store (docs/metrics.md): aggregate counts only, never a row's ids.

One short read transaction of GROUP BY counts per scrape. The webhook backlogs go through the index on
next_attempt_at, which is set exactly while a webhook waits for another attempt."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from domain.delivery import DeliveryState
from domain.subscription.model import ChargeStatus
from store.db import as_utc
from store.models import OutgoingWebhook, Payment, Subscription, WebhookEvent

INBOX, OUTBOX = "inbox", "outbox"


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest: datetime | None  # when the longest-waiting pending webhook was received (inbox) or recorded (outbox)
    undeliverable: int


@dataclass(frozen=True)
class StoreGauges:
    subscriptions: dict[str, int]  # status -> bookings
    failed_payments: dict[str, int]  # payment method type -> failed attempts
    webhooks: dict[str, Backlog]  # INBOX (payment events received) and OUTBOX (the sandbox's) -> backlog


async def read(sessions: async_sessionmaker[AsyncSession]) -> StoreGauges:
    async with sessions() as session:
        subscriptions = await _counts(session, select(Subscription.status, func.count()).group_by(Subscription.status))
        failed = await _counts(
            session,
            select(Payment.method_type, func.count())
            .where(Payment.status == ChargeStatus.FAILED.value)
            .group_by(Payment.method_type),
        )
        webhooks = {
            INBOX: await _backlog(session, WebhookEvent, WebhookEvent.received_at),
            OUTBOX: await _backlog(session, OutgoingWebhook, OutgoingWebhook.created_at),
        }
    return StoreGauges(subscriptions, failed, webhooks)


async def _counts(session: AsyncSession, query: Select[tuple[str, int]]) -> dict[str, int]:
    return {str(key): int(count) for key, count in (await session.execute(query)).tuples()}


async def _backlog(
    session: AsyncSession, model: type[WebhookEvent] | type[OutgoingWebhook], since: InstrumentedAttribute[datetime]
) -> Backlog:
    pending, oldest = (
        await session.execute(
            select(func.count(), func.min(since)).where(
                model.next_attempt_at.is_not(None), model.state == DeliveryState.PENDING.value
            )
        )
    ).one()
    undeliverable = await session.scalar(
        select(func.count()).select_from(model).where(model.state == DeliveryState.UNDELIVERABLE.value)
    )
    return Backlog(int(pending), as_utc(oldest) if oldest is not None else None, int(undeliverable or 0))
