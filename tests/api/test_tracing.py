"""Traces: one trace follows a request from the API into its workflow and activities (telemetry.py)."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment

from activities import names
from api.app import create_app
from telemetry import API_SERVICE, WORKER_SERVICE, provider_with, tracer_provider
from tests.api.conftest import Api, api_settings, eventually, serving

SPANS = InMemorySpanExporter()


@pytest_asyncio.fixture(scope="module")
async def traced_api(
    time_skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """The API and the worker, each with its own tracer provider (as their two processes would have), both exporting
    to one in-memory exporter."""
    api_tracing = provider_with(API_SERVICE, SimpleSpanProcessor(SPANS))
    worker_tracing = provider_with(WORKER_SERVICE, SimpleSpanProcessor(SPANS))
    directory = tmp_path_factory.mktemp("traced")
    async with serving(time_skipping_env, directory, api_tracing=api_tracing, worker_tracing=worker_tracing) as api:
        yield api


class Spans:
    """The finished spans, looked up by name and by trace."""

    def __init__(self, spans: tuple[ReadableSpan, ...]) -> None:
        self.all = list(spans)

    def one(self, name: str, in_trace_of: ReadableSpan | None = None) -> ReadableSpan:
        candidates = self.all if in_trace_of is None else [s for s in self.all if trace_id(s) == trace_id(in_trace_of)]
        named = [span for span in candidates if span.name == name]
        assert len(named) == 1, (name, [span.name for span in candidates])
        return named[0]

    def names(self) -> set[str]:
        return {span.name for span in self.all}


async def finished(*expected: str) -> Spans:
    """The finished spans once those named are among them: a worker's spans may end a moment after the answer."""

    async def read() -> Spans:
        return Spans(SPANS.get_finished_spans())

    return await eventually(read, lambda spans: set(expected) <= spans.names())


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def links_of(span: ReadableSpan) -> set[int]:
    return {link.context.span_id for link in span.links}


def service_of(span: ReadableSpan) -> object:
    return span.resource.attributes["service.name"]


def middleware_of(app: FastAPI) -> list[str]:
    """The names of the ASGI layers a request passes through, outermost first."""
    layers = []
    layer: object = app.build_middleware_stack()
    while hasattr(layer, "app"):
        layers.append(type(layer).__name__)
        layer = layer.app
    return layers


async def intercepted(app: FastAPI) -> bool:
    client = await app.state.temporal.client()
    return any(isinstance(each, TracingInterceptor) for each in client.config()["interceptors"])


async def test_a_start_request_is_one_trace_through_the_workflow_and_its_first_activity(traced_api: Api) -> None:
    SPANS.clear()
    view = await traced_api.start()

    spans = await finished(f"RunActivity:{names.REGISTER_ISV}")
    server = spans.one("POST /api/v1/onboardings")
    start = spans.one("StartWorkflow:OnboardingWorkflow", in_trace_of=server)
    run = spans.one("RunWorkflow:OnboardingWorkflow", in_trace_of=server)
    start_activity = spans.one(f"StartActivity:{names.REGISTER_ISV}", in_trace_of=server)
    run_activity = spans.one(f"RunActivity:{names.REGISTER_ISV}", in_trace_of=server)

    assert server.kind == SpanKind.SERVER and server.parent is None
    assert parent_of(start) == span_id(server)
    # The workflow's spans are points in time, not open spans: each hangs off the call that started the workflow.
    assert parent_of(run) == parent_of(start_activity) == span_id(start)
    assert parent_of(run_activity) == span_id(start_activity)
    assert run.attributes is not None and str(run.attributes["temporalWorkflowID"]).endswith(view["id"])
    services = [service_of(span) for span in (server, start, run, run_activity)]
    assert services == [API_SERVICE, API_SERVICE, WORKER_SERVICE, WORKER_SERVICE]


async def test_an_advance_request_is_linked_to_the_workflow_trace_that_handles_its_update(traced_api: Api) -> None:
    """A workflow is one trace, begun by the request that started it; a later command's trace is linked to it (the
    SDK's TracingInterceptor makes an Update's handler span a child of the workflow's start, linked to the call)."""
    SPANS.clear()
    view = await traced_api.start()
    response = await traced_api.command(view["id"], "advance", {"comment": "identified"})
    assert response.status_code == 200, response.text

    spans = await finished("HandleUpdate:advance", "ValidateUpdate:advance")
    request = spans.one("POST /api/v1/onboardings/{onboarding_id}/advance")
    update = spans.one("StartWorkflowUpdate:advance", in_trace_of=request)
    started_by = spans.one("POST /api/v1/onboardings")
    start = spans.one("StartWorkflow:OnboardingWorkflow", in_trace_of=started_by)
    validate = spans.one("ValidateUpdate:advance", in_trace_of=started_by)
    handle = spans.one("HandleUpdate:advance", in_trace_of=started_by)

    assert parent_of(update) == span_id(request)
    assert parent_of(validate) == parent_of(handle) == span_id(start)
    assert span_id(update) in links_of(handle) & links_of(validate)
    assert service_of(handle) == WORKER_SERVICE


async def test_tracing_is_off_by_default_the_app_is_not_instrumented_and_its_client_not_intercepted(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str, traced_api: Api
) -> None:
    settings = api_settings(sqlite_url)
    app = create_app(settings, temporal_client=time_skipping_env.client)

    assert settings.trace_exporter == "none" and tracer_provider(settings, API_SERVICE) is None
    assert "OpenTelemetryMiddleware" not in middleware_of(app)
    assert await app.state.temporal.client() is time_skipping_env.client
    assert not await intercepted(app)
    # What tracing on changes, for contrast.
    assert traced_api.app is not None and "OpenTelemetryMiddleware" in middleware_of(traced_api.app)
    assert await intercepted(traced_api.app)
