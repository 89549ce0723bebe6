"""Traces (docs/tracing-and-logs.md): one OpenTelemetry trace follows a request from the API into its workflow and
activities. Off by default (TRACE_EXPORTER=none): then no provider, no interceptor, no instrumentation, no cost."""

from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

from settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

API_SERVICE = "partnerflow-api"
WORKER_SERVICE = "partnerflow-worker"


def exporter(settings: Settings) -> SpanExporter | None:
    """The exporter TRACE_EXPORTER names; None when tracing is off."""
    if settings.trace_exporter == "console":
        return ConsoleSpanExporter()
    if settings.trace_exporter == "otlp":
        # Imported here, as is the FastAPI instrumentation below: a process that does not use them does not load them.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Without OTLP_ENDPOINT the exporter reads the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT itself.
        endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces" if settings.otlp_endpoint else None
        return OTLPSpanExporter(endpoint=endpoint)
    return None


def tracer_provider(settings: Settings, service: str) -> TracerProvider | None:
    """A provider for one process (`service` is API_SERVICE or WORKER_SERVICE); None when tracing is off.
    The caller shuts it down at exit, which sends the spans still batched."""
    chosen = exporter(settings)
    if chosen is None:
        return None
    return provider_with(service, BatchSpanProcessor(chosen))


def provider_with(service: str, *processors: SpanProcessor) -> TracerProvider:
    """A provider naming `service`, with these span processors (tests hand in an in-memory exporter's)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def traced(client: Client, provider: TracerProvider | None) -> Client:
    """`client` with Temporal's tracing interceptor: its starts, Updates and queries carry the current trace into the
    workflow, and a worker built on it puts its workflow and activity spans into that trace. As it is when off."""
    if provider is None:
        return client
    config = client.config()
    if any(isinstance(each, TracingInterceptor) for each in config["interceptors"]):
        return client
    config["interceptors"] = [*config["interceptors"], TracingInterceptor(provider.get_tracer(__name__))]
    return Client(**config)


def instrument_app(app: "FastAPI", provider: TracerProvider | None) -> None:
    """A server span for every request, parent of the Temporal calls made while answering it."""
    if provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # The per-message receive/send spans say nothing a request's own span does not.
        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=["receive", "send"])
