"""Idempotency-Key records: the first answer to a command, kept per caller and key, so a retry gets it again.

A key is claimed before the command runs (a row without an answer), so two concurrent requests with one key cannot
both run; a claim whose request died with its process is taken over once it is older than `STALE_CLAIM`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import as_utc
from store.models import IdempotencyRecord

STALE_CLAIM = timedelta(minutes=5)


class ClaimState(Enum):
    NEW = "new"  # this request runs the command
    ANSWERED = "answered"  # the same request ran before: answer with its stored response
    OTHER_REQUEST = "other_request"  # the key was used for a different request
    IN_FLIGHT = "in_flight"  # the same request is being answered right now


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    status_code: int | None = None
    content_type: str | None = None
    body: bytes | None = None


def _claim_of(row: IdempotencyRecord, fingerprint: str) -> Claim:
    if row.fingerprint != fingerprint:
        return Claim(ClaimState.OTHER_REQUEST)
    if row.status_code is None:
        return Claim(ClaimState.IN_FLIGHT)
    return Claim(ClaimState.ANSWERED, row.status_code, row.content_type, row.body)


async def claim(
    sessions: async_sessionmaker[AsyncSession], subject: str, key: str, fingerprint: str, now: datetime
) -> Claim:
    for _ in range(2):
        try:
            async with sessions.begin() as session:
                row = await session.get(IdempotencyRecord, (subject, key))
                if row is None:
                    session.add(IdempotencyRecord(subject=subject, key=key, fingerprint=fingerprint, created_at=now))
                    return Claim(ClaimState.NEW)
                if row.status_code is None and now - as_utc(row.created_at) > STALE_CLAIM:
                    row.fingerprint, row.created_at = fingerprint, now
                    return Claim(ClaimState.NEW)
                return _claim_of(row, fingerprint)
        except IntegrityError:
            continue  # a concurrent request inserted the claim first: read it
    async with sessions() as session:
        row = await session.get(IdempotencyRecord, (subject, key))
    return _claim_of(row, fingerprint) if row else Claim(ClaimState.IN_FLIGHT)


async def answer(
    sessions: async_sessionmaker[AsyncSession],
    subject: str,
    key: str,
    status_code: int,
    content_type: str | None,
    body: bytes,
) -> None:
    async with sessions.begin() as session:
        row = await session.get(IdempotencyRecord, (subject, key))
        if row is not None:
            row.status_code, row.content_type, row.body = status_code, content_type, body


async def release(sessions: async_sessionmaker[AsyncSession], subject: str, key: str) -> None:
    """Forgets a claim whose request failed on our side (5xx), so the caller can retry with the same key."""
    async with sessions.begin() as session:
        await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.subject == subject, IdempotencyRecord.key == key)
        )
