"""The catalogue in the store: an ISV's record and an app's listing, written as an onboarding's go-live writes them.

Go-live (activities/onboarding.py) writes through here, and so do tests and benchmarks that need a live app
without walking an onboarding first: there is one way an app gets into the catalogue.
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.catalogue import Category, CommercialTerms, Plan
from domain.ids import onboarding_id
from domain.onboarding.model import AppProfile, AppPublication, IsvProfile
from store import models


class ListedForAnotherIsv(Exception):
    """The app id is in the catalogue for another ISV; a listing never changes its owner."""


async def register_isv(sessions: async_sessionmaker[AsyncSession], isv: IsvProfile, at: datetime) -> None:
    """Creates the ISV's record, or updates its name and contact."""
    async with sessions.begin() as session:
        row = await session.get(models.Isv, isv.id)
        if row is None:
            session.add(models.Isv(id=isv.id, name=isv.name, contact_email=str(isv.contact_email), created_at=at))
        else:
            row.name, row.contact_email = isv.name, str(isv.contact_email)


async def publish(sessions: async_sessionmaker[AsyncSession], publication: AppPublication) -> None:
    """Puts the app into the catalogue with its plans; publishing again updates the one listing."""
    async with sessions.begin() as session:
        app = await session.get(models.App, publication.app.id)
        if app is None:
            app = models.App(id=publication.app.id, isv_id=publication.isv.id, published_at=publication.at)
            session.add(app)
        elif app.isv_id != publication.isv.id:
            raise ListedForAnotherIsv(f"app id {app.id} is listed for another ISV")
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


async def publish_live_app(
    sessions: async_sessionmaker[AsyncSession],
    isv_id: str,
    app_id: str,
    prices: dict[int, int],
    at: datetime,
    revenue_share_percent: float = 70,
) -> None:
    """An ISV and its app live in the catalogue with `prices` (term in months -> monthly cents), as if its
    onboarding had just gone live."""
    isv = IsvProfile(id=isv_id, name=f"{isv_id} GmbH", contact_email=f"partners@{isv_id}.example")
    await register_isv(sessions, isv, at)
    terms = CommercialTerms(
        revenue_share_percent=revenue_share_percent,
        plans=[Plan(term_months=term, monthly_price_cents=cents) for term, cents in prices.items()],
    )
    app = AppProfile(id=app_id, name="Acme CRM", category=Category.CRM)
    await publish(
        sessions,
        AppPublication(onboarding_id=onboarding_id(isv_id, app_id), isv=isv, app=app, terms=terms, at=at),
    )
