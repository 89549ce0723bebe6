"""Logs of a request and of the workflow it commands: the request id answered in X-Request-ID is on the request's log
lines (uvicorn's access log included), the workflow and run ids on the workflow's (logs.py, api/request_id.py)."""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from domain.ids import onboarding_workflow_id
from tests.api.conftest import Api, auth
from tests.log_lines import captured, json_lines


@asynccontextmanager
async def served_as_devstack_does(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """uvicorn on a free loopback port with no log handlers of its own (log_config=None), as the main job runs it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http
    finally:
        server.should_exit = True
        await serving


def access_lines(lines: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "uvicorn.access" and path in line["message"]]


async def test_a_request_s_access_log_line_carries_the_id_answered_in_x_request_id(api: Api) -> None:
    with captured("json", "uvicorn.access") as stream:
        async with served_as_devstack_does(api.app) as http:  # type: ignore[arg-type]
            first = await http.get("/health")
            second = await http.get("/health")

    answered = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch("[0-9a-f]{32}", each) for each in answered) and answered[0] != answered[1]
    lines = access_lines(json_lines(stream), "/health")
    assert [line["request_id"] for line in lines] == answered
    assert all(line["level"] == "INFO" and "caller_request_id" not in line for line in lines)


async def test_a_caller_s_own_request_id_is_logged_beside_ours_and_a_malformed_one_is_left_out(api: Api) -> None:
    with captured("json", "uvicorn.access") as stream:
        async with served_as_devstack_does(api.app) as http:  # type: ignore[arg-type]
            quoted = await http.get("/health", headers={"X-Request-ID": "proxy-4711"})
            malformed = await http.get("/health", headers={"X-Request-ID": "two words\tand a tab"})

    # Ours is answered, not the caller's: a reused id must not name another request (api/request_id.py).
    assert quoted.headers["X-Request-ID"] != "proxy-4711"
    first, second = access_lines(json_lines(stream), "/health")
    assert (first["request_id"], first["caller_request_id"]) == (quoted.headers["X-Request-ID"], "proxy-4711")
    assert second["request_id"] == malformed.headers["X-Request-ID"] and "caller_request_id" not in second


async def test_a_workflow_s_log_line_carries_its_workflow_and_run_id_and_no_request_id(api: Api) -> None:
    view = await api.start()
    with captured("json", "temporalio.workflow") as stream:
        response = await api.command(view["id"], "advance", {"comment": "identified"})
        assert response.status_code == 200, response.text

    handle = api.env.client.get_workflow_handle(onboarding_workflow_id(view["id"]))
    run_id = (await handle.describe()).run_id
    [line] = [line for line in json_lines(stream) if line["message"].startswith("advanced in stage identification")]
    assert line["workflow_id"] == handle.id and line["run_id"] == run_id
    assert line["workflow_type"] == "OnboardingWorkflow" and line["update_name"] == "advance"
    # The worker is not the request: its lines are found by workflow id, not by the API's request id.
    assert "request_id" not in line


async def test_an_answer_carries_one_request_id(api: Api) -> None:
    response = await api.http.get("/api/v1/onboardings/nothing-here", headers=auth("pm"))

    assert response.status_code == 404
    [answered] = response.headers.get_list("X-Request-ID")
    assert re.fullmatch("[0-9a-f]{32}", answered)
