"""Onboarding side effects: the ISV record, reporting events, notifications, catalogue publication."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from domain.onboarding.model import AppPublication, OnboardingNotice, OnboardingStarted, OnboardingStep
from store import models
from store.db import insert_once


class OnboardingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=names.REGISTER_ISV)
    async def register_isv(self, started: OnboardingStarted) -> None:
        async with self._sessions.begin() as session:
            isv = await session.get(models.Isv, started.isv.id)
            if isv is None:
                session.add(
                    models.Isv(
                        id=started.isv.id,
                        name=started.isv.name,
                        contact_email=str(started.isv.contact_email),
                        created_at=started.at,
                    )
                )
            else:
                isv.name = started.isv.name
                isv.contact_email = str(started.isv.contact_email)

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
        async with self._sessions.begin() as session:
            app = await session.get(models.App, publication.app.id)
            if app is None:
                app = models.App(id=publication.app.id, isv_id=publication.isv.id, published_at=publication.at)
                session.add(app)
            elif app.isv_id != publication.isv.id:
                # No retry can make the id free again.
                raise ApplicationError(
                    f"app id {app.id} is listed for another ISV",
                    {"app_id": app.id},
                    type="app_id_taken",
                    non_retryable=True,
                )
            app.name = publication.app.name
            app.category = publication.app.category.value
            app.revenue_share_percent = publication.terms.revenue_share_percent
            app.trial_days = publication.terms.trial_days
            app.listing_fee_cents = publication.terms.listing_fee_cents
            app.onboarding_id = publication.onboarding_id
            app.provisioning_endpoint = publication.provisioning_endpoint
            app.plans = [
                models.AppPlan(term_months=plan.term_months, monthly_price_cents=plan.monthly_price_cents)
                for plan in publication.terms.plans
            ]
