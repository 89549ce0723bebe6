"""Idempotency-Key records: the first answer to a command, kept per caller and key, so a retry gets it again.

A key is claimed in the transaction that records the command's intent, before the command runs. A claim that has
no answer yet is not a lock: the request that made it may still be running, or its process may have died. Either
way the retry runs the command again, which is safe because Temporal applies an Update id once and a start is
recognised by the command id in its memo; the first answer stored is the one every later replay gets.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import insert_ignoring_conflict
from store.models import IdempotencyRecord


class ClaimState(Enum):
    RUN = "run"  # nobody has answered this request yet: run the command (again)
    ANSWERED = "answered"  # the same request was answered before: answer with its stored response
    OTHER_REQUEST = "other_request"  # the key was used for a different request


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    status_code: int | None = None
    content_type: str | None = None
    body: bytes | None = None


async def claim(session: AsyncSession, subject: str, key: str, fingerprint: str, now: datetime) -> Claim:
    """Claims `key` for this request, in the caller's (write) transaction."""
    claim = {"subject": subject, "key": key, "fingerprint": fingerprint, "created_at": now}
    await insert_ignoring_conflict(session, IdempotencyRecord, claim)
    row = await session.get(IdempotencyRecord, (subject, key), populate_existing=True)
    assert row is not None, "claimed in this very transaction"
    if row.fingerprint != fingerprint:
        return Claim(ClaimState.OTHER_REQUEST)
    if row.status_code is None:
        return Claim(ClaimState.RUN)
    return Claim(ClaimState.ANSWERED, row.status_code, row.content_type, row.body)


async def answer(
    session: AsyncSession, subject: str, key: str, status_code: int, content_type: str | None, body: bytes
) -> bool:
    """Keeps this answer for replays unless another request with the key answered first; True if this one is kept."""
    result = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.subject == subject,
            IdempotencyRecord.key == key,
            IdempotencyRecord.status_code.is_(None),
        )
        .values(status_code=status_code, content_type=content_type, body=body)
    )
    return bool(result.rowcount) if isinstance(result, CursorResult) else False
