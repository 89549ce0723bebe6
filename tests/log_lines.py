"""Log lines as the processes write them (logs.handler), captured from chosen loggers for a test's assertions."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from logs import handler
from settings import Settings


class Terminal(io.StringIO):
    """A stream a person reads, as stderr is on a terminal."""

    def isatty(self) -> bool:
        return True


@contextmanager
def captured(
    log_format: str = "json", *names: str, level: int = logging.DEBUG, stream: io.StringIO | None = None
) -> Iterator[io.StringIO]:
    """What the loggers `names` (the root logger when none) write at `level` and above while the block runs."""
    stream = stream if stream is not None else io.StringIO()
    written = handler(Settings.model_validate({"log_format": log_format}), stream)
    loggers = [logging.getLogger(name) for name in names] or [logging.getLogger()]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.addHandler(written)
        each.setLevel(level)
    try:
        yield stream
    finally:
        for each, before in zip(loggers, levels, strict=True):
            each.removeHandler(written)
            each.setLevel(before)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]
