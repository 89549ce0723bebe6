"""Logs (docs/tracing-and-logs.md): one setup for the API and worker processes. JSON lines for log collectors, readable
text on a terminal; every line says which request, workflow run, activity and trace it belongs to, when it does."""

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import temporalio.activity
import temporalio.workflow
from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from settings import Settings, get_settings

# The request being answered (api/request_id.py sets them): our id for it and the caller's own X-Request-ID, if any.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
caller_request_id: ContextVar[str | None] = ContextVar("caller_request_id", default=None)

# The SDK's workflow.logger and activity.logger attach these dicts to a record: their keys -> our flat field names.
TEMPORAL_DETAILS: dict[str, dict[str, str]] = {
    "temporal_workflow": {
        "workflow_id": "workflow_id",
        "run_id": "run_id",
        "workflow_type": "workflow_type",
        "update_id": "update_id",
        "update_name": "update_name",
    },
    "temporal_activity": {
        "workflow_id": "workflow_id",
        "workflow_run_id": "run_id",
        "workflow_type": "workflow_type",
        "activity_id": "activity_id",
        "activity_type": "activity_type",
        "attempt": "attempt",
    },
}
# uvicorn's coloured copy of a message: said once is enough.
NOT_LOGGED = ("color_message", *TEMPORAL_DETAILS)


class ContextFilter(logging.Filter):
    """Puts the request id, the Temporal details flattened and the current trace on every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        for source, fields in TEMPORAL_DETAILS.items():
            details = record.__dict__.get(source)
            if isinstance(details, dict):
                for key, field in fields.items():
                    if key in details:
                        setattr(record, field, details[key])
        for var in (request_id, caller_request_id):
            value = var.get()
            if value is not None:
                setattr(record, var.name, value)
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = trace.format_trace_id(span.trace_id)
            record.span_id = trace.format_span_id(span.span_id)
        return True


class JsonLines(JsonFormatter):
    """One JSON object a line: timestamp (UTC, ISO 8601), level, logger, message, then the context fields."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, *NOT_LOGGED],
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["timestamp"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)


class Text(logging.Formatter):
    """For a person at a terminal; the SDK itself appends the workflow or activity details to its messages."""

    SHOWN = ("request_id", "trace_id")

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        context = " ".join(f"{name}={record.__dict__[name]}" for name in self.SHOWN if name in record.__dict__)
        line = super().formatMessage(record)
        return f"{line} [{context}]" if context else line


def structured(log_format: str, stream: TextIO) -> bool:
    """JSON lines unless LOG_FORMAT says text, or says auto and a person reads `stream` (a terminal)."""
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing to `stream` (default stderr) in the format LOG_FORMAT chooses."""
    stream = stream or sys.stderr
    written = logging.StreamHandler(stream)
    written.setFormatter(JsonLines() if structured(settings.log_format, stream) else Text())
    written.addFilter(ContextFilter())
    return written


def configure(settings: Settings) -> logging.Handler:
    """The process's logging (API and worker entry points): the root logger writes every line, uvicorn's access log
    included (run it with `log_config=None` so it keeps no handlers of its own), through one handler."""
    chosen = handler(settings)
    root = logging.getLogger()
    root.handlers = [chosen]
    root.setLevel(settings.log_level.upper())
    # In JSON the workflow and activity details are fields; appended to the message as well, they would be said twice.
    as_text = isinstance(chosen.formatter, Text)
    temporalio.workflow.logger.workflow_info_on_message = as_text
    temporalio.activity.logger.activity_info_on_message = as_text
    return chosen


def configured_handler() -> logging.Handler:
    """For `uvicorn --log-config log-config.json` (the image's API: UVICORN_LOG_CONFIG): the process's logging as
    configure() sets it up, from the settings; dictConfig then puts the handler returned on the root logger."""
    return configure(get_settings())
