"""The API's Prometheus metrics (docs/metrics.md): every request counted and timed by its route's template, and the
business gauges (api/gauges.py) read when Prometheus scrapes. The registry is the app's own, not the process-wide
default, so several apps in one process (as in the tests) keep separate counts."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from datetime import timedelta
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import gauges, policy
from api.temporal import TemporalConnector
from api.workflow_commands import Clock
from store import gauges as store_gauges

logger = logging.getLogger(__name__)

T = TypeVar("T")

STORE, TEMPORAL = "store", "temporal"
# Requests no route took (unknown paths): one label value, so made-up paths neither leak nor multiply the series.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Up to the longest a command may wait for its workflow (settings.command_wait_seconds, at most 60 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)


class _ReadAtScrape(Collector):
    """The business families of the scrape being answered: set just before rendering, with no await in between, so
    concurrent scrapes never see each other's."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        return self.families


class ApiMetrics:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        temporal: TemporalConnector,
        clock: Clock,
        timeout_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._temporal = temporal
        self._clock = clock
        self._timeout = timeout_seconds
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "partnerflow_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "partnerflow_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scrape_errors = Counter(
            "partnerflow_scrape_errors",
            "Scrapes of /metrics that could not read a source (store or temporal) in time; its gauges were left out",
            ["source"],
            registry=self.registry,
        )
        self._read_at_scrape = _ReadAtScrape()
        self.registry.register(self._read_at_scrape)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def exposition(self) -> bytes:
        """The text format, with each source's gauges read now; a source that fails or is slower than the timeout
        is left out and counted, so Prometheus gets an answer in about the timeout even with Temporal down."""
        store, onboardings = await asyncio.gather(
            self._read(STORE, store_gauges.read(self._sessions)), self._read(TEMPORAL, self._onboardings())
        )
        up = GaugeMetricFamily(
            "partnerflow_scrape_source_up",
            "1 when this scrape read the source's gauges, 0 when it could not",
            labels=["source"],
        )
        up.add_metric([STORE], float(store is not None))
        up.add_metric([TEMPORAL], float(onboardings is not None))
        families: list[Metric] = [up]
        if store is not None:
            families += gauges.store_families(store, await self._clock())
        if onboardings is not None:
            families += gauges.onboarding_families(onboardings)
        self._read_at_scrape.families = families
        return generate_latest(self.registry)

    async def _onboardings(self) -> gauges.OnboardingCounts:
        client = await self._temporal.client()
        return await gauges.onboarding_counts(client, timedelta(seconds=self._timeout))

    async def _read(self, source: str, reading: Awaitable[T]) -> T | None:
        try:
            return await asyncio.wait_for(reading, self._timeout)
        except Exception as error:  # whatever went wrong, the scrape answers without this source's gauges
            logger.warning("metrics: could not read the %s: %r", source, error)
            self.scrape_errors.labels(source).inc()
            return None


def route_template(scope: Scope) -> str:
    """The template of the request's route (`/api/v1/onboardings/{onboarding_id}`), never the raw path.

    The policy table has the full template of every /api/v1 route and /health, also for requests answered before
    routing (a body over the limit, an idempotent replay). The app's other routes and mounts (/metrics, /docs, the
    console) are asked next, each only if its pattern covers the whole path: the route FastAPI took names the path
    without its router's prefix (a 405 under /api/v1), and FastAPI does not name the mounts and Starlette routes."""
    matched = policy.match(scope["method"], scope["path"])
    if matched is not None:
        return matched.path
    app = scope.get("app")
    candidates = [scope.get("route"), *(app.router.routes if isinstance(app, Starlette) else ())]
    for route in candidates:
        if isinstance(route, Route | Mount) and route.path_regex.match(scope["path"]):
            return route.path
    return UNMATCHED


class RequestMetrics:
    """ASGI middleware that counts and times every HTTP request, including those answered by other middleware."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app raises before answering, the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(scope["method"], route_template(scope), status, time.perf_counter() - started)
