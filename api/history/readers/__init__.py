"""Readers of a run's events, one module per event family: each tells an event as what a timeline entry says."""

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from temporalio.api.history.v1 import HistoryEvent


class Said(NamedTuple):
    actor: str
    summary: str
    outcome: str | None = None
    details: dict[str, Any] | None = None


# Tells one event from its attributes.
Reader = Callable[[Any, HistoryEvent], Awaitable[Said]]
