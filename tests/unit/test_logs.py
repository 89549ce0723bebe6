"""Logs: JSON lines for collectors, text for a terminal, and the context every line carries (logs.py)."""

import dataclasses
import io
import logging

import pytest
from opentelemetry import trace
from pydantic import ValidationError
from temporalio import activity
from temporalio.testing import ActivityEnvironment

import logs
from settings import Settings
from telemetry import API_SERVICE, provider_with
from tests.log_lines import Terminal, captured, json_lines

LOGGER = "partnerflow.test"


@pytest.mark.parametrize(
    ("log_format", "stream", "as_json"),
    [
        ("auto", Terminal(), False),
        ("auto", io.StringIO(), True),
        ("json", Terminal(), True),
        ("text", io.StringIO(), False),
    ],
)
def test_log_format_auto_writes_json_unless_a_terminal_reads_it(log_format: str, stream: io.StringIO, as_json: bool):
    assert logs.structured(log_format, stream) is as_json


def test_a_json_line_says_when_how_bad_where_and_what_first():
    with captured("json", LOGGER) as stream:
        logging.getLogger(LOGGER).warning("disk %d%% full", 93)

    [line] = json_lines(stream)
    assert list(line)[:4] == ["timestamp", "level", "logger", "message"]
    assert line["level"] == "WARNING" and line["logger"] == LOGGER and line["message"] == "disk 93% full"
    assert line["timestamp"].endswith("+00:00")


def test_a_line_written_while_answering_a_request_carries_its_request_id():
    token = logs.request_id.set("req-42")
    try:
        with captured("json", LOGGER) as stream:
            logging.getLogger(LOGGER).info("inside")
    finally:
        logs.request_id.reset(token)
    with captured("json", LOGGER) as outside:
        logging.getLogger(LOGGER).info("outside")

    assert json_lines(stream)[0]["request_id"] == "req-42"
    assert "request_id" not in json_lines(outside)[0]


async def test_an_activity_line_carries_its_workflow_run_and_activity_as_flat_fields():
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(
        environment.info, workflow_id="onboarding-acme", workflow_run_id="run-1", activity_type="announce"
    )

    async def announce() -> None:
        activity.logger.info("announcing")

    with captured("json", "temporalio.activity") as stream:
        await environment.run(announce)

    [line] = json_lines(stream)
    assert line["workflow_id"] == "onboarding-acme" and line["run_id"] == "run-1"
    assert line["activity_type"] == "announce" and line["attempt"] == 1
    assert "temporal_activity" not in line


def test_a_line_written_inside_a_span_carries_its_trace_and_span_id():
    tracer = provider_with(API_SERVICE).get_tracer(__name__)
    with captured("json", LOGGER) as stream, tracer.start_as_current_span("request") as span:
        logging.getLogger(LOGGER).info("traced")

    [line] = json_lines(stream)
    assert line["trace_id"] == trace.format_trace_id(span.get_span_context().trace_id)
    assert line["span_id"] == trace.format_span_id(span.get_span_context().span_id)


def test_on_a_terminal_a_line_is_readable_text_with_the_request_id():
    token = logs.request_id.set("req-7")
    try:
        with captured("auto", LOGGER, stream=Terminal()) as stream:
            logging.getLogger(LOGGER).error("payment failed")
    finally:
        logs.request_id.reset(token)

    line = stream.getvalue().strip()
    assert line.endswith(f"ERROR   {LOGGER}: payment failed [request_id=req-7]")


def test_a_log_level_that_logging_and_uvicorn_do_not_both_know_is_refused_at_start():
    assert Settings.model_validate({"log_level": "warning"}).log_level == "warning"
    with pytest.raises(ValidationError, match="log_level"):
        Settings.model_validate({"log_level": "verbose"})
