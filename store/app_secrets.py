"""Each app's own signing secret for its ISV connector calls: made when first needed, rotated with an overlap in
which the previous secret still signs beside the new one (Standard Webhooks' rotation), kept sealed at rest.

Generations number an app's secrets (1 the first, one more per rotation), and the primary key (app, generation)
decides every race: two first reads of an app make one secret, two rotations at once make one new secret.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.signing import new_secret
from store.db import as_utc, insert_ignoring_conflict
from store.models import AppSigningSecret

SYSTEM = "system"  # who made a first secret that a connector call needed before anyone read it


class Sealer(Protocol):
    """Encryption at rest (payload_codec.EncryptionCodec): `context` is authenticated with the value."""

    def seal(self, plaintext: bytes, context: str) -> str: ...

    def unseal(self, sealed: str, context: str) -> bytes: ...


class RotationConflict(Exception):
    """Another rotation of the same app's secret won the race for the next generation."""


@dataclass(frozen=True)
class SigningSecret:
    app_id: str
    generation: int
    secret: str  # whsec_...
    created_at: datetime
    retires_at: datetime | None  # None for the newest, which signs until it is rotated


class AppSecrets:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], sealer: Sealer, overlap: timedelta) -> None:
        self._sessions = sessions
        self._sealer = sealer
        self._overlap = overlap  # how long a replaced secret still signs

    async def signing(self, app_id: str, now: datetime) -> list[SigningSecret]:
        """The secrets that sign the app's calls at `now`: the newest first, then those a rotation replaced less than
        the overlap ago. Makes the app's first secret if it has none."""
        secrets = await self._live(app_id, now)
        if not secrets:
            await self._make_first(app_id, SYSTEM, now)
            secrets = await self._live(app_id, now)
        return secrets

    async def rotate(self, app_id: str, by: str, command_id: str, now: datetime) -> SigningSecret:
        """A new newest secret; the ones before it retire after the overlap. A retried command (same caller and
        command id) answers the secret it made the first time."""
        async with self._sessions.begin() as session:
            made = await session.scalar(
                select(AppSigningSecret).where(
                    AppSigningSecret.app_id == app_id,
                    AppSigningSecret.created_by == by,
                    AppSigningSecret.command_id == command_id,
                )
            )
            if made is not None:
                return self._opened(made)
            newest = await session.scalar(
                select(func.max(AppSigningSecret.generation)).where(AppSigningSecret.app_id == app_id)
            )
            generation = (newest or 0) + 1
            if not await self._insert(session, app_id, generation, by, command_id, now):
                raise RotationConflict(f"the signing secret of app {app_id} was rotated at the same moment")
            retires_at = now + self._overlap
            await session.execute(
                update(AppSigningSecret)
                .where(
                    AppSigningSecret.app_id == app_id,
                    AppSigningSecret.generation < generation,
                    or_(AppSigningSecret.retires_at.is_(None), AppSigningSecret.retires_at > retires_at),
                )
                .values(retires_at=retires_at)
            )
            row = await session.get(AppSigningSecret, (app_id, generation))
        assert row is not None, "inserted in this transaction"
        return self._opened(row)

    async def _live(self, app_id: str, now: datetime) -> list[SigningSecret]:
        query = (
            select(AppSigningSecret)
            .where(
                AppSigningSecret.app_id == app_id,
                or_(AppSigningSecret.retires_at.is_(None), AppSigningSecret.retires_at > now),
            )
            .order_by(AppSigningSecret.generation.desc())
        )
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [self._opened(row) for row in rows]

    async def _make_first(self, app_id: str, by: str, now: datetime) -> None:
        async with self._sessions.begin() as session:
            await self._insert(session, app_id, 1, by, None, now)  # a concurrent first read may have made it

    async def _insert(
        self, session: AsyncSession, app_id: str, generation: int, by: str, command_id: str | None, now: datetime
    ) -> bool:
        sealed = self._sealer.seal(new_secret().encode(), _context(app_id, generation))
        values = {
            "app_id": app_id,
            "generation": generation,
            "sealed_secret": sealed,
            "created_at": now,
            "created_by": by,
            "command_id": command_id,
            "retires_at": None,
        }
        return await insert_ignoring_conflict(session, AppSigningSecret, values)

    def _opened(self, row: AppSigningSecret) -> SigningSecret:
        secret = self._sealer.unseal(row.sealed_secret, _context(row.app_id, row.generation)).decode()
        return SigningSecret(
            app_id=row.app_id,
            generation=row.generation,
            secret=secret,
            created_at=as_utc(row.created_at),
            retires_at=as_utc(row.retires_at) if row.retires_at is not None else None,
        )


def _context(app_id: str, generation: int) -> str:
    return f"app-signing-secret:{app_id}:{generation}"
