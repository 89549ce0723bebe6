"""An app id belongs to one ISV from the moment its onboarding starts: the claim the API writes before starting it
decides, on SQLite and on PostgreSQL, also when ISVs race for the same id."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.errors import ApiError
from api.onboarding_service import claim_app
from domain.catalogue import Category
from domain.onboarding.model import AppProfile, IsvProfile, OnboardingRequest
from store import models
from store.db import create_session_factory

APP_ID = "shared-app"


def request(isv: str, app: str = APP_ID) -> OnboardingRequest:
    return OnboardingRequest(
        isv=IsvProfile(id=isv, name=f"{isv} GmbH", contact_email=f"partners@{isv}.example"),
        app=AppProfile(id=app, name="Shared CRM", category=Category.CRM),
        partner_manager="pm-anna",
    )


@pytest.fixture
def sessions(migrated_database: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(migrated_database)


async def claims(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = (await session.scalars(select(models.AppClaim))).all()
    return [(row.app_id, row.isv_id, row.onboarding_id) for row in rows]


async def assert_taken(sessions: async_sessionmaker[AsyncSession], isv: str) -> None:
    with pytest.raises(ApiError) as refused:
        await claim_app(sessions, request(isv))
    assert (refused.value.status, refused.value.code, refused.value.details) == (
        409,
        "app_id_taken",
        {"app_id": APP_ID},
    )


async def test_claiming_an_app_id_again_for_the_same_isv_succeeds_and_keeps_one_claim(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim_app(sessions, request("acme"))
    await claim_app(sessions, request("acme"))  # a retried start

    assert await claims(sessions) == [(APP_ID, "acme", f"acme-{APP_ID}")]


async def test_an_app_id_claimed_by_one_isv_is_taken_for_every_other(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim_app(sessions, request("acme"))

    await assert_taken(sessions, "evil")
    assert await claims(sessions) == [(APP_ID, "acme", f"acme-{APP_ID}")]


async def test_of_isvs_racing_for_a_free_app_id_exactly_one_gets_it(sessions: async_sessionmaker[AsyncSession]) -> None:
    isvs = [f"isv-{n}" for n in range(8)]

    outcomes = await asyncio.gather(*(claim_app(sessions, request(isv)) for isv in isvs), return_exceptions=True)

    [(_, owner, _)] = await claims(sessions)
    assert [outcome is None for outcome in outcomes] == [isv == owner for isv in isvs]
    refusals = [outcome for outcome in outcomes if outcome is not None]
    assert [(error.status, error.code) for error in refusals if isinstance(error, ApiError)] == [
        (409, "app_id_taken")
    ] * 7


async def test_an_app_published_before_claims_existed_belongs_to_its_listed_isv(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(models.Isv(id="acme", name="Acme GmbH", contact_email="p@acme.example", created_at=now))
        await session.flush()
        session.add(
            models.App(
                id=APP_ID,
                isv_id="acme",
                name="Shared CRM",
                category=Category.CRM.value,
                revenue_share_percent=70,
                trial_days=30,
                listing_fee_cents=0,
                onboarding_id=f"acme-{APP_ID}",
                published_at=now,
            )
        )

    await assert_taken(sessions, "evil")
    await claim_app(sessions, request("acme"))  # its own ISV may onboard it again
