"""The Temporal client the API uses: given by the caller, or connected on first use and then cached."""

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client

import worker
from api.errors import temporal_unavailable
from settings import Settings
from telemetry import traced


class TemporalConnector:
    """Connects lazily, so building the app (and importing it) needs no running Temporal."""

    def __init__(
        self, settings: Settings, client: Client | None = None, tracer_provider: TracerProvider | None = None
    ) -> None:
        """With a `tracer_provider`, every call carries the request's trace into the workflow (telemetry.py)."""
        self._settings = settings
        self._tracing = tracer_provider
        self._client = None if client is None else traced(client, tracer_provider)
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:  # one connection even when the first requests arrive together
            if self._client is None:
                try:
                    self._client = traced(await worker.connect(self._settings), self._tracing)
                except Exception as error:  # the SDK reports a refused connection as a bare RuntimeError
                    raise temporal_unavailable(str(error)) from error
            return self._client
