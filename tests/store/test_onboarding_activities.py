"""Activities run at least once: a retry with the same input must leave the store as one run did."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.onboarding import OnboardingActivities
from domain.catalogue import Category, CommercialTerms, Plan
from domain.onboarding.config import StageId
from domain.onboarding.model import (
    AppProfile,
    AppPublication,
    HistoryEntry,
    IsvProfile,
    Notification,
    NotificationKind,
    OnboardingNotice,
    OnboardingStarted,
    OnboardingStep,
)
from store import models
from store.db import create_session_factory

ONBOARDING_ID = "acme-crm-pro"
Input = TypeVar("Input")

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ISV = IsvProfile(id="acme", name="ACME Software GmbH", contact_email="partners@acme.example")
APP = AppProfile(id="crm-pro", name="CRM Pro", category=Category.CRM)
STARTED = OnboardingStarted(onboarding_id=ONBOARDING_ID, isv=ISV, at=AT)


def step(seq: int) -> OnboardingStep:
    entry = HistoryEntry(seq=seq, at=AT, actor="pm-anna", action="checklist.complete", stage=StageId.FEASIBILITY)
    return OnboardingStep(onboarding_id=ONBOARDING_ID, entry=entry)


def publication(app: AppProfile, *, revenue_share_percent: float, prices: dict[int, int]) -> AppPublication:
    plans = [Plan(term_months=term, monthly_price_cents=cents) for term, cents in prices.items()]
    terms = CommercialTerms(revenue_share_percent=revenue_share_percent, plans=plans)
    return AppPublication(onboarding_id=ONBOARDING_ID, isv=ISV, app=app, terms=terms, at=AT)


async def count(engine: AsyncEngine, model: type[models.Base], *where: ColumnElement[bool]) -> int:
    async with create_session_factory(engine)() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def run_twice(activity: Callable[[Input], Awaitable[None]], argument: Input) -> None:
    """What Temporal does when a worker dies after the activity's write but before reporting it."""
    environment = ActivityEnvironment()
    await environment.run(activity, argument)
    await environment.run(activity, argument)


@pytest.fixture
def activities(migrated_database: AsyncEngine) -> OnboardingActivities:
    return OnboardingActivities(create_session_factory(migrated_database))


async def test_registering_the_same_isv_twice_keeps_one_row(
    activities: OnboardingActivities, migrated_database: AsyncEngine
) -> None:
    await run_twice(activities.register_isv, STARTED)

    assert await count(migrated_database, models.Isv) == 1


async def test_recording_the_same_onboarding_step_twice_keeps_one_row(
    activities: OnboardingActivities, migrated_database: AsyncEngine
) -> None:
    await run_twice(activities.record_step, step(seq=1))
    # The key is (onboarding, seq): the next step of the same onboarding is a row of its own.
    await ActivityEnvironment().run(activities.record_step, step(seq=2))

    assert await count(migrated_database, models.OnboardingEvent, models.OnboardingEvent.seq == 1) == 1
    assert await count(migrated_database, models.OnboardingEvent) == 2


async def test_sending_the_same_notice_twice_keeps_one_notification(
    activities: OnboardingActivities, migrated_database: AsyncEngine
) -> None:
    notification = Notification(
        kind=NotificationKind.REMINDER, stage=StageId.FEASIBILITY, at=AT, recipient="pm-anna", message="overdue"
    )

    await run_twice(activities.send_notice, OnboardingNotice(onboarding_id=ONBOARDING_ID, notification=notification))

    assert await count(migrated_database, models.Notification) == 1


async def test_publishing_the_same_app_twice_keeps_one_listing_with_its_plans(
    activities: OnboardingActivities, migrated_database: AsyncEngine
) -> None:
    await ActivityEnvironment().run(activities.register_isv, STARTED)

    await run_twice(
        activities.publish_app, publication(APP, revenue_share_percent=20, prices={1: 1_990, 12: 1_790, 24: 1_590})
    )

    assert await count(migrated_database, models.App) == 1
    assert await count(migrated_database, models.AppPlan, models.AppPlan.app_id == APP.id) == 3


async def test_republishing_an_app_updates_its_listing_instead_of_adding_one(
    activities: OnboardingActivities, migrated_database: AsyncEngine
) -> None:
    await ActivityEnvironment().run(activities.register_isv, STARTED)
    await ActivityEnvironment().run(
        activities.publish_app, publication(APP, revenue_share_percent=20, prices={1: 1_990, 12: 1_790, 24: 1_590})
    )

    renamed = APP.model_copy(update={"name": "CRM Pro 2"})
    await ActivityEnvironment().run(
        activities.publish_app, publication(renamed, revenue_share_percent=25.5, prices={12: 1_690, 24: 1_490})
    )

    async with create_session_factory(migrated_database)() as session:
        apps = (await session.scalars(select(models.App))).all()
    assert len(apps) == 1
    assert (apps[0].name, apps[0].revenue_share_percent) == ("CRM Pro 2", 25.5)
    # The 1-month plan is gone, the others carry the new prices: the plans are replaced, not appended to.
    assert [(plan.term_months, plan.monthly_price_cents) for plan in apps[0].plans] == [(12, 1_690), (24, 1_490)]


async def test_publishing_an_app_id_listed_for_another_isv_is_refused_and_keeps_the_owner(
    activities: OnboardingActivities, migrated_database: AsyncEngine
) -> None:
    await ActivityEnvironment().run(activities.register_isv, STARTED)
    await ActivityEnvironment().run(activities.publish_app, publication(APP, revenue_share_percent=20, prices={1: 990}))
    evil = IsvProfile(id="evil", name="Evil Corp", contact_email="partners@evil.example")
    await ActivityEnvironment().run(
        activities.register_isv, OnboardingStarted(onboarding_id=f"evil-{APP.id}", isv=evil, at=AT)
    )
    takeover = publication(APP.model_copy(update={"name": "Evil CRM"}), revenue_share_percent=90, prices={1: 1})
    takeover = takeover.model_copy(update={"isv": evil, "onboarding_id": f"evil-{APP.id}"})

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.publish_app, takeover)

    # Not retryable: no retry makes the id free, so Temporal must not keep trying.
    assert (refused.value.type, refused.value.non_retryable, refused.value.details) == (
        "app_id_taken",
        True,
        ({"app_id": APP.id},),
    )
    async with create_session_factory(migrated_database)() as session:
        [app] = (await session.scalars(select(models.App))).all()
    assert (app.isv_id, app.name, app.onboarding_id, app.revenue_share_percent) == (ISV.id, APP.name, ONBOARDING_ID, 20)
    assert [(plan.term_months, plan.monthly_price_cents) for plan in app.plans] == [(1, 990)]
