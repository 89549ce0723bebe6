"""The relay: delivers stored payment events that their request could not deliver (Temporal down or slow), with
backoff per event, until each is delivered or known to be undeliverable. A background job of the API process."""

import asyncio
import logging
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.subscription_schemas import PaymentWebhook
from api.subscription_service import DeliveryPolicy, deliver_payment
from api.temporal import TemporalConnector
from background import PeriodicJob
from store import models, webhooks

log = logging.getLogger(__name__)

RELAY_INTERVAL_SECONDS = 2.0
RELAY_BATCH = 50  # events per run; the rest wait for the next run


class PaymentRelay:
    """`policy` is read at each run, so it may be replaced (tests make the backoff short)."""

    def __init__(
        self,
        temporal: TemporalConnector,
        sessions: async_sessionmaker[AsyncSession],
        policy: DeliveryPolicy | None = None,
        *,
        interval: float = RELAY_INTERVAL_SECONDS,
        batch: int = RELAY_BATCH,
    ) -> None:
        self.policy = policy or DeliveryPolicy()
        self._temporal = temporal
        self._sessions = sessions
        self._batch = batch
        self.job = PeriodicJob("payment-webhook-relay", interval, self.run_once)

    async def run_once(self) -> int:
        """Makes the due attempts; how many it made. Raises while Temporal is down (the job logs that once per
        outage) without touching any event, so an outage does not use up their backoff."""
        await self._temporal.client()
        policy = self.policy
        now = datetime.now(UTC)
        attempts = []
        for row in await webhooks.due(self._sessions, models.WebhookEvent, now, self._batch):
            attempt = await webhooks.claim(
                self._sessions, models.WebhookEvent, row.id, row.attempts, now + policy.lease
            )
            if attempt is not None:  # else another relay or a request took it
                attempts.append(self._deliver(row, attempt, policy))
        results = await asyncio.gather(*attempts, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(attempts)

    async def _deliver(self, row: models.WebhookEvent, attempt: int, policy: DeliveryPolicy) -> None:
        try:
            webhook = PaymentWebhook.model_validate_json(row.payload or "")
        except ValidationError as error:  # kept by an older version in a shape this one cannot read
            log.warning("payment event %s cannot be read, not delivered: %s", row.event_id, error)
            await webhooks.mark_undeliverable(self._sessions, models.WebhookEvent, row.id, f"unreadable: {error}")
            return
        await deliver_payment(
            self._temporal,
            self._sessions,
            row.id,
            webhook,
            attempt=attempt,
            policy=policy,
            failed_before=row.last_error is not None,
        )
