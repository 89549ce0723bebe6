"""Without a client handed in, the app connects to Temporal on first use; when it cannot, it answers 503."""

import socket
from typing import Any

import httpx
import pytest
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.api.conftest import api_settings, assert_error, auth


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_every_call_that_needs_temporal_answers_503_when_it_cannot_be_reached(sqlite_url: str):
    app = create_app(api_settings(sqlite_url, temporal_address=f"127.0.0.1:{closed_port()}"))
    async with client_for(app) as http:
        for response in (
            await http.get("/api/v1/onboardings/acme-crm", headers=auth("pm")),
            await http.get("/api/v1/onboardings", headers=auth("pm")),
            await http.post(
                "/api/v1/onboardings",
                json={
                    "isv": {"id": "acme", "name": "Acme", "contact_email": "p@acme.example"},
                    "app": {"id": "acme-crm", "name": "Acme CRM", "category": "hr"},
                    "partner_manager": "pm-anna",
                },
                headers=auth("pm"),
            ),
            await http.post("/api/v1/onboardings/acme-crm/advance", headers=auth("pm")),
        ):
            assert_error(response, 503, "temporal_unavailable")

        # What does not need Temporal keeps working.
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/api/v1/apps", headers=auth("pm"))).json() == {"items": [], "next_page_token": None}
        # Auth is still checked first: no key, no hint about the backend.
        assert_error(await http.get("/api/v1/onboardings/acme-crm"), 401, "unauthenticated")
    await app.state.engine.dispose()


async def test_the_app_connects_on_first_use_and_reuses_the_connection(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
):
    target = time_skipping_env.client.service_client.config.target_host
    app = create_app(api_settings(sqlite_url, temporal_address=target))
    async with client_for(app) as http:
        assert not app.state.temporal.connected  # building the app connected nothing
        first = await http.get("/api/v1/onboardings/acme-nothing", headers=auth("pm"))
        assert app.state.temporal.connected
        connected = await app.state.temporal.client()
        second = await http.get("/api/v1/onboardings/acme-nothing", headers=auth("pm"))

        assert_error(first, 404, "onboarding_not_found")
        assert_error(second, 404, "onboarding_not_found")
        assert await app.state.temporal.client() is connected
    await app.state.engine.dispose()


class _FailingHandle:
    def __init__(self, error: Exception) -> None:
        self._error = error

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        raise self._error


class _FailingClient:
    """A client that connected once, and whose every call now fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def get_workflow_handle_for(self, *args: Any, **kwargs: Any) -> _FailingHandle:
        return _FailingHandle(self._error)


@pytest.mark.parametrize(
    "error",
    [
        RPCError("connection reset", RPCStatusCode.UNAVAILABLE, b""),
        RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b""),
        RPCTimeoutOrCancelledError("timed out"),
    ],
    ids=["unavailable", "deadline-exceeded", "client-timeout"],
)
async def test_a_temporal_call_failing_as_unavailable_answers_503(sqlite_url: str, error: Exception):
    app = create_app(api_settings(sqlite_url), temporal_client=_FailingClient(error))  # type: ignore[arg-type]
    async with client_for(app) as http:
        assert_error(await http.get("/api/v1/onboardings/acme-crm", headers=auth("pm")), 503, "temporal_unavailable")
    await app.state.engine.dispose()
