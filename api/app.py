"""The FastAPI app factory. Nothing connects at import or build time: the engine connects on first query,
the Temporal client on first use (or is handed in), so tests and `uvicorn --factory` build it freely."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from temporalio.client import Client

from api.errors import register_error_handlers
from api.routers import apps, health, onboardings, partners, payouts, subscriptions, webhooks
from api.temporal import TemporalConnector
from settings import Settings, get_settings
from store.db import create_engine, create_session_factory

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, temporal_client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Shutdown only: startup work would be skipped by clients that do not run lifespan (httpx's ASGITransport).
        yield
        await engine.dispose()

    app = FastAPI(
        title="Partnerflow",
        summary="The partner side of a B2B SaaS app marketplace, run as Temporal workflows",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = create_session_factory(engine)
    app.state.temporal = TemporalConnector(settings, temporal_client)

    register_error_handlers(app)
    app.include_router(health.router)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(onboardings.router)
    api.include_router(apps.router)
    api.include_router(subscriptions.router)
    api.include_router(webhooks.router)
    api.include_router(payouts.router)
    api.include_router(partners.router)
    app.include_router(api)
    return app
