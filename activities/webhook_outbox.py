"""The payment sandbox's webhook outbox: as real providers do, every webhook is recorded with the charge it reports
and sent until its receiver takes it (a 2xx), with exponential backoff, up to `RESEND_BACKOFF.max_attempts`
attempts; an answer that says the request itself is wrong (a 4xx other than 408 and 429) is final. Each attempt is
signed anew (Standard Webhooks, and the legacy header during the transition), so a resend's signature is as fresh as
the first's. docs/payments-sandbox.md documents the schedule."""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.delivery import Backoff, DeliveryState, taken, worth_resending
from domain.signing import Signing
from store import webhooks
from store.models import OutgoingWebhook

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5.0  # one attempt, when no HTTP client is handed in
# 1 s doubling to 5 min, 20 attempts in all: the last is made about an hour after the first.
RESEND_BACKOFF = Backoff(first=timedelta(seconds=1), cap=timedelta(minutes=5), max_attempts=20)
# Keeps the resend job off a webhook while an attempt may still be running; a crashed attempt is resent after it.
LEASE = timedelta(minutes=1)
RESEND_INTERVAL_SECONDS = 1.0  # how often the worker's job looks for due resends
RESEND_BATCH = 20


class WebhookOutbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        signing: Signing,
        http: httpx.AsyncClient | None = None,
        backoff: Backoff = RESEND_BACKOFF,
        batch: int = RESEND_BATCH,
    ) -> None:
        self._sessions = sessions
        self._signing = signing
        self._http = http
        self._backoff = backoff
        self._batch = batch

    def entry(self, event_id: str, url: str, body: bytes, now: datetime) -> OutgoingWebhook:
        """The row to record in the transaction of the charge it reports, claimed for the first attempt."""
        return OutgoingWebhook(
            event_id=event_id,
            url=url,
            body=body.decode(),
            state=DeliveryState.PENDING,
            attempts=1,
            created_at=now,
            next_attempt_at=now + LEASE,
        )

    async def resend_due(self) -> int:
        """Makes the attempts that are due; how many it made."""
        now = datetime.now(UTC)
        attempts = []
        for row in await webhooks.due(self._sessions, OutgoingWebhook, now, self._batch):
            attempt = await webhooks.claim(self._sessions, OutgoingWebhook, row.id, row.attempts, now + LEASE)
            if attempt is not None:  # else another worker took it
                attempts.append(self.send(row, attempt))
        results = await asyncio.gather(*attempts, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(attempts)

    async def send(self, row: OutgoingWebhook, attempt: int) -> None:
        """One claimed attempt, and its record. Whatever the receiver does never raises (a charge stands whatever
        its webhook's fate); a store error does, and the lease brings the webhook back."""
        body = row.body.encode()
        # The event id is the message id: the same in every resend, so the receiver applies the event once.
        headers = {"Content-Type": "application/json", **self._signing.headers(row.event_id, int(time.time()), body)}
        status: int | None = None
        try:
            status = (await self._post(row.url, body, headers)).status_code
            error = f"answered {status}"
        except Exception as failure:  # refused, timed out, or not even a valid URL: no answer at all
            error = f"{type(failure).__name__}: {failure}"
        now = datetime.now(UTC)
        if status is not None and taken(status):
            if row.last_error is not None:
                log.info("payment webhook %s taken by %s at attempt %d", row.event_id, row.url, attempt)
            await webhooks.mark_delivered(self._sessions, OutgoingWebhook, row.id, now, last_status=status)
            return
        if not worth_resending(status):
            log.warning("payment webhook %s refused by %s (%s); not resent", row.event_id, row.url, error)
            await webhooks.mark_undeliverable(self._sessions, OutgoingWebhook, row.id, error, last_status=status)
            return
        if self._backoff.exhausted(attempt):
            log.warning(
                "payment webhook %s to %s given up after %d attempts: %s", row.event_id, row.url, attempt, error
            )
            await webhooks.mark_undeliverable(self._sessions, OutgoingWebhook, row.id, error, last_status=status)
            return
        if row.last_error is None:  # once per failing webhook; its later failures are in last_error
            log.warning("payment webhook %s to %s failed (%s); resending with backoff", row.event_id, row.url, error)
        delay = self._backoff.delay(attempt)
        await webhooks.retry_later(
            self._sessions, OutgoingWebhook, row.id, attempt, delay, now, error, last_status=status
        )

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        if self._http is not None:
            return await self._http.post(url, content=body, headers=headers)
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS) as http:
            return await http.post(url, content=body, headers=headers)
