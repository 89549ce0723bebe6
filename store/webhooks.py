"""Webhooks kept until delivered: the inbox of payment events received (`WebhookEvent`) and the payment sandbox's
outbox (`OutgoingWebhook`). Both share the delivery columns: state, attempts, next_attempt_at, last_error.

An attempt is claimed before it is made (attempts + 1, and next_attempt_at moved a lease ahead), by a conditional
UPDATE on the attempt count, so two relays (or a request and a relay) never make the same attempt; a claim whose
process died runs out with its lease and is taken up again.
"""

from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.delivery import DeliveryState
from store.models import OutgoingWebhook, WebhookEvent

Kept = TypeVar("Kept", WebhookEvent, OutgoingWebhook)


async def store_event_once(sessions: async_sessionmaker[AsyncSession], event: WebhookEvent) -> int | None:
    """Stores a received event unless its event id is stored already; the new row's id, None if it was there.

    INSERT ... ON CONFLICT DO NOTHING rather than catching the unique violation: concurrent copies of one event
    neither fail nor abort a transaction, and only a conflict on the event id counts as "stored already".
    """
    values = {column.key: getattr(event, column.key) for column in WebhookEvent.__table__.columns if column.key != "id"}
    async with sessions.begin() as session:
        dialect = session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(WebhookEvent)
            .values(values)
            .on_conflict_do_nothing(index_elements=[WebhookEvent.event_id])
            .returning(WebhookEvent.id)
        )
        stored: int | None = (await session.execute(statement)).scalar_one_or_none()
    return stored


async def find_event(sessions: async_sessionmaker[AsyncSession], event_id: str) -> WebhookEvent | None:
    async with sessions() as session:
        found: WebhookEvent | None = await session.scalar(select(WebhookEvent).where(WebhookEvent.event_id == event_id))
        return found


async def due(sessions: async_sessionmaker[AsyncSession], model: type[Kept], now: datetime, limit: int) -> list[Kept]:
    """Pending rows whose next attempt is due, longest waiting first."""
    query = (
        select(model)
        .where(model.state == DeliveryState.PENDING, model.next_attempt_at <= now)
        .order_by(model.next_attempt_at, model.id)
        .limit(limit)
    )
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    model: type[Kept],
    row_id: int,
    seen_attempts: int,
    lease_until: datetime,
) -> int | None:
    """Takes the next attempt of a row read with `seen_attempts`; its number, or None if another took it first."""
    statement = (
        update(model)
        .where(model.id == row_id, model.state == DeliveryState.PENDING, model.attempts == seen_attempts)
        .values(attempts=model.attempts + 1, next_attempt_at=lease_until)
        .returning(model.attempts)
    )
    async with sessions.begin() as session:
        attempts: int | None = (await session.execute(statement)).scalar_one_or_none()
    return attempts


async def _settle(
    sessions: async_sessionmaker[AsyncSession], model: type[Kept], row_id: int, attempt: int | None, **values: Any
) -> None:
    condition = [model.id == row_id, model.state == DeliveryState.PENDING]
    if attempt is not None:  # only the latest attempt may reschedule: a late, stale one leaves the row alone
        condition.append(model.attempts == attempt)
    async with sessions.begin() as session:
        await session.execute(update(model).where(*condition).values(**values))


async def mark_delivered(
    sessions: async_sessionmaker[AsyncSession], model: type[Kept], row_id: int, now: datetime, **values: Any
) -> None:
    # Whichever attempt got through: delivered is a fact, not a schedule.
    await _settle(
        sessions, model, row_id, None, state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=None, **values
    )


async def mark_undeliverable(
    sessions: async_sessionmaker[AsyncSession], model: type[Kept], row_id: int, error: str, **values: Any
) -> None:
    await _settle(
        sessions,
        model,
        row_id,
        None,
        state=DeliveryState.UNDELIVERABLE,
        next_attempt_at=None,
        last_error=error,
        **values,
    )


async def retry_later(
    sessions: async_sessionmaker[AsyncSession],
    model: type[Kept],
    row_id: int,
    attempt: int,
    delay: timedelta,
    now: datetime,
    error: str,
    **values: Any,
) -> None:
    await _settle(sessions, model, row_id, attempt, next_attempt_at=now + delay, last_error=error, **values)
