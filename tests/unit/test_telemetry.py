"""Trace export as settings choose it (telemetry.py): nothing by default, OTLP over HTTP to a collector when asked."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from settings import Settings
from telemetry import WORKER_SERVICE, exporter, tracer_provider


class Collector(HTTPServer):
    """An OTLP/HTTP trace receiver on loopback: keeps each export request's path and decoded body."""

    def __init__(self) -> None:
        self.received: list[tuple[str, ExportTraceServiceRequest]] = []
        collector = self

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.received.append((self.path, ExportTraceServiceRequest.FromString(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Receive)


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def test_tracing_is_off_unless_an_exporter_is_chosen():
    assert settings().trace_exporter == "none"
    assert exporter(settings()) is None and tracer_provider(settings(), WORKER_SERVICE) is None
    assert isinstance(exporter(settings(trace_exporter="console")), ConsoleSpanExporter)


def test_otlp_sends_the_spans_to_the_collector_s_traces_path_named_by_service(collector: Collector):
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/"
    provider = tracer_provider(settings(trace_exporter="otlp", otlp_endpoint=endpoint), WORKER_SERVICE)
    assert provider is not None
    with provider.get_tracer(__name__).start_as_current_span("RunActivity:onboarding.register_isv"):
        pass
    provider.shutdown()  # sends what the batch holds, as the processes do when they stop

    [(path, request)] = collector.received
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    [span] = [span for scope in resource_spans.scope_spans for span in scope.spans]
    assert (path, service, span.name) == ("/v1/traces", WORKER_SERVICE, "RunActivity:onboarding.register_isv")
