"""The webhook inbox and outbox in the store, on SQLite and PostgreSQL: an event stored once however many copies
arrive together, each attempt claimed by one deliverer, and the rows of before migration 0007 marked delivered."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.delivery import DeliveryState
from store import migrate, models, webhooks
from store.db import as_utc, create_session_factory
from tests.store.test_onboarding_activities import count

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def received(event_id: str, *, next_attempt_at: datetime | None = NOW, attempts: int = 1) -> models.WebhookEvent:
    return models.WebhookEvent(
        event_id=event_id,
        type="payment.succeeded",
        payment_id="pay_1",
        invoice_number="INV-1",
        received_at=NOW,
        subscription_id="beispiel-acme-crm",
        payload="{}",
        request_id="req-1",
        state=DeliveryState.PENDING,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
    )


async def test_concurrent_copies_of_one_event_are_stored_once_and_none_fails(migrated_database: AsyncEngine) -> None:
    sessions = create_session_factory(migrated_database)

    stored = await asyncio.gather(*(webhooks.store_event_once(sessions, received("evt_1")) for _ in range(20)))

    assert len([row_id for row_id in stored if row_id is not None]) == 1
    assert await count(migrated_database, models.WebhookEvent) == 1


async def test_an_attempt_is_claimed_by_one_deliverer_only(migrated_database: AsyncEngine) -> None:
    sessions = create_session_factory(migrated_database)
    row_id = await webhooks.store_event_once(sessions, received("evt_1"))
    assert row_id is not None
    [due] = await webhooks.due(sessions, models.WebhookEvent, NOW, limit=10)

    claims = await asyncio.gather(
        *(
            webhooks.claim(sessions, models.WebhookEvent, due.id, due.attempts, NOW + timedelta(minutes=1))
            for _ in range(5)
        )
    )

    assert sorted(claims, key=lambda claim: claim or 0) == [None, None, None, None, 2]
    # Claimed, the event is not due again until its lease runs out.
    assert await webhooks.due(sessions, models.WebhookEvent, NOW, limit=10) == []
    assert [
        row.event_id for row in await webhooks.due(sessions, models.WebhookEvent, NOW + timedelta(minutes=2), 10)
    ] == ["evt_1"]


async def test_only_pending_events_that_are_due_are_listed_longest_waiting_first(
    migrated_database: AsyncEngine,
) -> None:
    sessions = create_session_factory(migrated_database)
    for event_id, at in [("later", NOW + timedelta(seconds=5)), ("second", NOW), ("first", NOW - timedelta(seconds=5))]:
        await webhooks.store_event_once(sessions, received(event_id, next_attempt_at=at))
    delivered = await webhooks.store_event_once(sessions, received("delivered", next_attempt_at=NOW))
    assert delivered is not None
    await webhooks.mark_delivered(sessions, models.WebhookEvent, delivered, NOW)

    due = await webhooks.due(sessions, models.WebhookEvent, NOW, limit=10)

    assert [row.event_id for row in due] == ["first", "second"]
    assert [row.event_id for row in await webhooks.due(sessions, models.WebhookEvent, NOW, limit=1)] == ["first"]


async def test_a_late_failed_attempt_does_not_reschedule_a_newer_one_nor_undo_a_delivery(
    migrated_database: AsyncEngine,
) -> None:
    sessions = create_session_factory(migrated_database)
    row_id = await webhooks.store_event_once(sessions, received("evt_1"))
    assert row_id is not None
    assert await webhooks.claim(sessions, models.WebhookEvent, row_id, 1, NOW) == 2  # attempt 1's lease ran out

    await webhooks.retry_later(sessions, models.WebhookEvent, row_id, 1, timedelta(hours=1), NOW, "attempt 1 failed")
    row = await webhooks.find_event(sessions, "evt_1")
    assert row is not None and (row.last_error, as_utc(row.next_attempt_at or NOW)) == (None, NOW)

    await webhooks.mark_delivered(sessions, models.WebhookEvent, row_id, NOW)
    await webhooks.retry_later(sessions, models.WebhookEvent, row_id, 2, timedelta(hours=1), NOW, "late")
    row = await webhooks.find_event(sessions, "evt_1")
    assert row is not None and (row.state, row.next_attempt_at, row.last_error) == ("delivered", None, None)


async def test_events_stored_before_the_inbox_are_marked_delivered_by_the_migration(
    fresh_database: AsyncEngine,
) -> None:
    await migrate.upgrade(fresh_database, "0006")
    async with fresh_database.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO webhook_events (event_id, type, payment_id, invoice_number, received_at)"
                " VALUES ('evt_old', 'payment.succeeded', 'pay_1', 'INV-1', :at)"
            ),
            {"at": NOW},
        )

    await migrate.upgrade(fresh_database)

    row = await webhooks.find_event(create_session_factory(fresh_database), "evt_old")
    assert row is not None
    assert (row.state, row.attempts, row.next_attempt_at, row.payload) == ("delivered", 1, None, None)
    assert row.delivered_at is not None and as_utc(row.delivered_at) == NOW
