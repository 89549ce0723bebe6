"""The marketplace catalogue, read from the store: apps published by onboardings that went live."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from api.deps import CurrentPrincipal, Sessions
from api.errors import ERROR_RESPONSES, not_found
from api.schemas import AppFilters, AppList, AppOut, PlanOut
from domain.ids import SLUG_PATTERN
from domain.roles import Principal
from store import models
from store.db import as_utc

router = APIRouter(prefix="/apps", tags=["catalogue"], responses=ERROR_RESPONSES)


def _app_out(app: models.App, principal: Principal) -> AppOut:
    return AppOut(
        id=app.id,
        isv_id=app.isv_id,
        name=app.name,
        category=app.category,
        # The negotiated share is confidential: staff and the owning ISV see it, other tenants do not.
        revenue_share_percent=app.revenue_share_percent if principal.sees_isv(app.isv_id) else None,
        trial_days=app.trial_days,
        listing_fee_cents=app.listing_fee_cents,
        plans=[PlanOut(term_months=p.term_months, monthly_price_cents=p.monthly_price_cents) for p in app.plans],
        published_at=as_utc(app.published_at),
    )


@router.get("")
async def list_apps(
    principal: CurrentPrincipal, sessions: Sessions, filters: Annotated[AppFilters, Query()]
) -> AppList:
    query = select(models.App).order_by(models.App.id)
    if filters.category is not None:
        query = query.where(models.App.category == filters.category.value)
    if filters.isv_id is not None:
        query = query.where(models.App.isv_id == filters.isv_id)
    if filters.page_token is not None:
        query = query.where(models.App.id > filters.page_token)  # the token is the last app id of the page before
    async with sessions() as session:
        # One more than asked tells whether another page follows.
        apps = (await session.scalars(query.limit(filters.page_size + 1))).all()
    page = apps[: filters.page_size]
    next_page_token = page[-1].id if len(apps) > filters.page_size else None
    return AppList(items=[_app_out(app, principal) for app in page], next_page_token=next_page_token)


@router.get("/{app_id}")
async def get_app(
    app_id: Annotated[str, Path(pattern=SLUG_PATTERN)], principal: CurrentPrincipal, sessions: Sessions
) -> AppOut:
    async with sessions() as session:
        app = await session.get(models.App, app_id)
    if app is None:
        raise not_found("app_not_found", f"there is no app {app_id} in the catalogue")
    return _app_out(app, principal)
