"""The FastAPI app factory. Nothing connects at import or build time: the engine connects on first query,
the Temporal client on first use (or is handed in), so tests and `uvicorn --factory` build it freely."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client

import telemetry
from api.command_trail import CommandsInFlight, CommandTrail, document_idempotency
from api.console import install_console
from api.deps import enforce_route_policy
from api.errors import register_error_handlers
from api.intent_recovery import IntentRecovery
from api.metrics import ApiMetrics, RequestMetrics
from api.params import refuse_unknown_query_parameters
from api.payment_relay import PaymentRelay
from api.request_id import RequestId
from api.routers import (
    apps,
    audit,
    codec,
    health,
    metrics,
    onboardings,
    partner_backtests,
    partners,
    payouts,
    reports,
    session,
    signing_secrets,
    subscriptions,
    webhooks,
    workflow_history,
)
from api.temporal import TemporalConnector
from api.workflow_commands import Clock, wall_clock
from background import running
from payload_codec import EncryptionCodec
from settings import Settings, get_settings
from store.audit import audit_sequencer
from store.db import create_engine, create_session_factory

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None,
    *,
    temporal_client: Client | None = None,
    clock: Clock | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """`clock` tells the time commands are accepted at (default: the wall clock); tests on Temporal's time-skipping
    server hand in that server's clock, so the business times the API computes match the workflows'.
    `tracer_provider` traces requests and their Temporal calls (default: as TRACE_EXPORTER says; off unless set)."""
    settings = settings or get_settings()
    tracing = tracer_provider or telemetry.tracer_provider(settings, telemetry.API_SERVICE)
    engine = create_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Nothing here is needed to answer a request: clients that run no lifespan (httpx's ASGITransport) still
        # get every answer; the background jobs only catch up on work that a request could not finish.
        async with running(app.state.jobs):
            yield
        await engine.dispose()

    app = FastAPI(
        title="Partnerflow",
        summary="The partner side of a B2B SaaS app marketplace, run as Temporal workflows",
        version="0.1.0",
        lifespan=lifespan,
        # Served from the installed package's files by install_console, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or wall_clock
    app.state.engine = engine
    app.state.sessions = create_session_factory(engine)
    app.state.temporal = TemporalConnector(settings, temporal_client, tracing)
    # Built once, so a misconfigured key fails at start rather than on an auditor's first decode.
    app.state.payload_codec = EncryptionCodec.from_settings(settings)
    in_flight = CommandsInFlight()
    app.state.intent_recovery = IntentRecovery(app.state.temporal, app.state.sessions, in_flight)
    app.state.jobs = [audit_sequencer(app.state.sessions), app.state.intent_recovery.job]
    # Delivers the payment events a webhook request stored but could not deliver (docs/payments-sandbox.md).
    app.state.payment_relay = PaymentRelay(app.state.temporal, app.state.sessions)
    app.state.jobs.append(app.state.payment_relay.job)
    app.state.metrics = ApiMetrics(
        app.state.sessions, app.state.temporal, app.state.clock, settings.metrics_timeout_seconds
    )

    register_error_handlers(app)
    app.add_middleware(CommandTrail, settings=settings, sessions=app.state.sessions, in_flight=in_flight)
    codec.install_cors(app, settings)
    # Around the command trail, so the answers it gives itself (413, replays) are counted too.
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(RequestId)
    app.include_router(health.router)
    # Outside /api/v1 as /health is: Prometheus scrapes it (api/routers/metrics.py says who may).
    app.include_router(metrics.router)
    # Every /api/v1 route passes the one role x route policy table (api/policy.py) before anything else runs.
    # Then a query parameter the route does not declare is refused (api/params.py).
    api = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(enforce_route_policy), Depends(refuse_unknown_query_parameters)],
    )
    api.include_router(onboardings.router)
    api.include_router(apps.router)
    api.include_router(signing_secrets.router)
    api.include_router(subscriptions.router)
    api.include_router(webhooks.router)
    api.include_router(payouts.router)
    api.include_router(partner_backtests.router)
    api.include_router(partners.router)
    api.include_router(workflow_history.router)
    api.include_router(audit.router)
    api.include_router(codec.router)
    api.include_router(session.router)
    api.include_router(reports.router)
    app.include_router(api)
    install_console(app)
    _document_idempotency(app)
    telemetry.instrument_app(app, tracing)
    return app


def _document_idempotency(app: FastAPI) -> None:
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_idempotency(build_schema())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
