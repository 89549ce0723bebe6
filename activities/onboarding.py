"""Onboarding side effects: the ISV record, reporting events, notifications, catalogue publication, and the
marketplace's stage history the predicted go-live is refined by."""

from itertools import groupby

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from domain.onboarding.config import StageId
from domain.onboarding.model import (
    AppPublication,
    HistoryEntry,
    MarketplaceHistory,
    MarketplaceHistoryRequest,
    OnboardingNotice,
    OnboardingStarted,
    OnboardingStep,
)
from domain.onboarding.prediction import marketplace_history, stage_durations
from store import catalogue, models
from store.db import insert_once


class OnboardingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=names.REGISTER_ISV)
    async def register_isv(self, started: OnboardingStarted) -> None:
        await catalogue.register_isv(self._sessions, started.isv, started.at)

    @activity.defn(name=names.RECORD_ONBOARDING_STEP)
    async def record_step(self, step: OnboardingStep) -> None:
        entry = step.entry
        row = models.OnboardingEvent(
            onboarding_id=step.onboarding_id,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            stage=entry.stage.value,
            to_stage=entry.to_stage.value if entry.to_stage else None,
            item=entry.item,
            comment=entry.comment,
        )
        await insert_once(self._sessions, row)

    @activity.defn(name=names.READ_MARKETPLACE_HISTORY)
    async def read_marketplace_history(self, request: MarketplaceHistoryRequest) -> MarketplaceHistory:
        """The stage medians of the `window` most recent go-lives, from their recorded steps (a read only)."""
        went_live = (
            select(models.OnboardingEvent.onboarding_id)
            .where(models.OnboardingEvent.action == "went_live")
            .order_by(models.OnboardingEvent.at.desc())
            .limit(request.window)
        )
        query = (
            select(models.OnboardingEvent)
            .where(models.OnboardingEvent.onboarding_id.in_(went_live.scalar_subquery()))
            .order_by(models.OnboardingEvent.onboarding_id, models.OnboardingEvent.seq)
        )
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        onboardings = groupby(rows, key=lambda row: row.onboarding_id)
        return marketplace_history(stage_durations([_entry(row) for row in steps]) for _, steps in onboardings)

    @activity.defn(name=names.SEND_ONBOARDING_NOTICE)
    async def send_notice(self, notice: OnboardingNotice) -> None:
        note = notice.notification
        row = models.Notification(
            key=f"onboarding:{notice.onboarding_id}:{note.kind.value}:{note.stage.value}",
            subject_ref=notice.onboarding_id,
            kind=note.kind.value,
            recipient=note.recipient,
            message=note.message,
            created_at=note.at,
        )
        await insert_once(self._sessions, row)
        activity.logger.info("notified %s: %s", note.recipient, note.message)

    @activity.defn(name=names.PUBLISH_APP)
    async def publish_app(self, publication: AppPublication) -> None:
        """Puts the app into the catalogue with its plans; publishing twice leaves one listing, and a listing never
        changes its ISV (app ids are global: another ISV's go-live must not take it over)."""
        try:
            await catalogue.publish(self._sessions, publication)
        except catalogue.ListedForAnotherIsv as taken:
            # No retry can make the id free again.
            raise ApplicationError(
                str(taken), {"app_id": publication.app.id}, type="app_id_taken", non_retryable=True
            ) from taken


def _entry(row: models.OnboardingEvent) -> HistoryEntry:
    return HistoryEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        stage=StageId(row.stage),
        to_stage=StageId(row.to_stage) if row.to_stage else None,
        item=row.item,
        comment=row.comment,
    )
