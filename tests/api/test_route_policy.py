"""The role x route policy: every route of the OpenAPI schema has an entry in api/policy.py, and every role gets
exactly what the table (with domain.roles.PERMISSIONS) says: through, or 403; no key at all gets 401."""

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from api import policy
from api.app import create_app
from api.deps import enforce_route_policy
from api.errors import register_error_handlers
from api.policy import ROUTE_POLICY
from domain.roles import PERMISSIONS, Role
from tests.api.conftest import KEYS, Api, assert_error, auth
from tests.conftest import test_settings

# One key per role, from the test keys.
ROLE_KEYS = {Role(grant["roles"][0]): name for name, grant in KEYS.items() if name not in ("isv_b", "own_partner")}
# Values that pass the policy but fail validation, so an allowed call is answered without running anything.
INVALID_PARAM = "NOT_A-valid_id!"
INVALID_BODY: dict[str, Any] = {"unexpected": ["shape"]}
INVALID_QUERY = "page_size=0&month=13"


def schema_routes() -> list[tuple[str, str]]:
    app = create_app(test_settings("sqlite+aiosqlite:///:memory:"))
    return [(method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations]


ROUTES = schema_routes()


def concrete(path: str) -> str:
    return "/".join(INVALID_PARAM if part.startswith("{") else part for part in path.split("/"))


def test_every_route_in_the_schema_has_a_policy_entry():
    missing = [route for route in ROUTES if route not in ROUTE_POLICY]
    assert missing == [], f"add these routes to api/policy.py ROUTE_POLICY: {missing}"


def test_every_policy_entry_names_a_route_that_exists():
    assert sorted(set(ROUTE_POLICY) - set(ROUTES)) == []


def test_the_roles_cover_every_role_there_is():
    assert set(ROLE_KEYS) == set(Role)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_each_role_gets_what_the_table_says(api: Api, method: str, path: str):
    entry = ROUTE_POLICY[(method, path)]
    url = concrete(path) + ("" if "{" in path else f"?{INVALID_QUERY}")
    body = INVALID_BODY if method in ("POST", "PUT") else None
    for role, key_name in ROLE_KEYS.items():
        response = await api.http.request(method, url, json=body, headers=auth(key_name))
        allowed = entry.permission is None or role in PERMISSIONS[entry.permission]
        if allowed:
            assert response.status_code not in (401, 403), f"{role} should pass: {response.text}"
        else:
            assert_error(response, 403, "forbidden")
    anonymous = await api.http.request(method, url, json=body)
    if entry.permission is None:
        assert anonymous.status_code not in (401, 403)
    else:
        assert_error(anonymous, 401, "unauthenticated")


async def test_a_route_missing_from_the_table_is_refused_to_everyone(api: Api):
    app = FastAPI()
    register_error_handlers(app)
    app.state.settings = api.settings
    unlisted = APIRouter(prefix="/api/v1", dependencies=[Depends(enforce_route_policy)])

    @unlisted.get("/not-in-the-table")
    async def not_in_the_table() -> dict[str, str]:
        return {"leaked": "yes"}

    app.include_router(unlisted)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/api/v1/not-in-the-table", headers=auth("admin"))
    details = assert_error(response, 403, "forbidden")
    assert details is None and "no access policy" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/api/v1/onboardings/acme-crm/advance", "/api/v1/onboardings/{onboarding_id}/advance"),
        ("GET", "/api/v1/subscriptions/c-crm/invoices", "/api/v1/subscriptions/{subscription_id}/invoices"),
        ("GET", "/api/v1/subscriptions/c-crm", "/api/v1/subscriptions/{subscription_id}"),
    ],
)
def test_a_request_matches_exactly_its_route_template(method: str, path: str, template: str):
    matched = policy.match(method, path)
    assert matched is not None and matched.path == template


def test_a_command_names_its_target_from_path_or_body():
    advance = policy.match("POST", "/api/v1/onboardings/acme-crm/advance")
    book = policy.match("POST", "/api/v1/subscriptions")
    assert advance is not None and book is not None
    assert policy.target_of(advance, None) == "onboarding-acme-crm"
    assert policy.target_of(book, {"customer": {"id": "beispiel"}, "app_id": "crm"}) == "subscription-beispiel-crm"
    # A body without the fields still gets a target: the route itself.
    assert policy.target_of(book, {"customer": "?"}) == "POST /api/v1/subscriptions"
    assert policy.match("PATCH", "/api/v1/subscriptions") is None
