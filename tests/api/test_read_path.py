"""The read path: a read answers the view as the workflow's query gave it, and nothing on a request waits for a
thread of the pool."""

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.onboarding_service import ONBOARDINGS
from api.subscription_service import SUBSCRIPTIONS
from tests.api.conftest import Api, Subscriptions, auth


async def test_an_onboarding_read_answers_the_view_the_workflow_query_returns(api: Api):
    started = await api.start()
    await api.ok(started["id"], "advance", {"comment": "kick-off held"})

    response = await api.http.get(f"/api/v1/onboardings/{started['id']}", headers=auth("pm"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    queried = await ONBOARDINGS.fetch_view(api.env.client, started["id"])
    assert response.json() == queried.model_dump(mode="json")


async def test_a_subscription_read_answers_the_view_the_workflow_query_returns(subs: Subscriptions):
    booked = await subs.book()

    response = await subs.get(booked["id"])

    assert response.status_code == 200, response.text
    queried = await SUBSCRIPTIONS.fetch_view(subs.api.env.client, booked["id"])
    assert response.json() == queried.model_dump(mode="json")


async def test_reads_are_still_documented_with_their_view_schemas(api: Api):
    schema = (await api.http.get("/openapi.json")).json()

    def ok_schema(path: str) -> Any:
        return schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]

    assert ok_schema("/api/v1/onboardings/{onboarding_id}") == {"$ref": "#/components/schemas/OnboardingView"}
    assert ok_schema("/api/v1/subscriptions/{subscription_id}") == {"$ref": "#/components/schemas/SubscriptionView"}


def _runs_in_thread(call: Any) -> bool:
    return not (inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__))


def _in_threads(dependant: Dependant) -> list[str]:
    """The endpoint and the dependencies, at any depth, that FastAPI would run in its thread pool."""
    call = dependant.call
    found = [getattr(call, "__qualname__", repr(call))] if call is not None and _runs_in_thread(call) else []
    for sub in dependant.dependencies:
        found += _in_threads(sub)
    return found


def _routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers, whose own dependencies are checked here too."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            for depends in included.dependencies:
                assert not _runs_in_thread(depends.dependency), depends.dependency
            yield from _routes(included.routes)


async def test_no_endpoint_or_dependency_of_the_api_runs_in_a_thread_of_the_pool(api: Api):
    """FastAPI runs a plain function in its thread pool: a hop that costs more than the function itself."""
    assert api.app is not None
    routes = list(_routes(api.app.routes))
    in_threads = {f"{route.path}: {call}" for route in routes for call in _in_threads(route.dependant)}

    assert len(routes) > 30
    assert in_threads == set()
