"""Completed onboardings as the store records their steps: the marketplace history the predicted go-live reads."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from domain.onboarding.config import ONBOARDING, StageId
from store import models

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


async def record_go_lives(engine: AsyncEngine, count: int, days_in: Mapping[StageId, float]) -> None:
    """`count` onboardings that went live, each spending `days_in[stage]` in every stage (its budget if unnamed)."""
    async with async_sessionmaker(engine)() as session:
        for n in range(count):
            at = START
            session.add(_step(f"done-{n}", 1, at, "started", StageId.IDENTIFICATION))
            for seq, spec in enumerate(ONBOARDING.stages, start=2):
                at += timedelta(days=days_in[spec.id]) if spec.id in days_in else spec.budget
                to_stage = ONBOARDING.next_stage(spec.id)
                action = "advanced" if to_stage else "went_live"
                session.add(_step(f"done-{n}", seq, at, action, spec.id, to_stage))
        await session.commit()


def _step(
    onboarding: str, seq: int, at: datetime, action: str, stage: StageId, to_stage: StageId | None = None
) -> models.OnboardingEvent:
    return models.OnboardingEvent(
        onboarding_id=onboarding,
        seq=seq,
        at=at,
        actor="pm-history",
        action=action,
        stage=stage.value,
        to_stage=to_stage.value if to_stage else None,
    )
