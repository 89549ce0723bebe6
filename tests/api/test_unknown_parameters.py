"""A query parameter a route does not declare is refused (422, naming it) rather than silently ignored, on lists,
reads and commands alike; the pages outside /api/v1 (documentation, health, console) are left alone."""

import pytest

from tests.api.conftest import Api, assert_error, auth


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/apps?limit=100000",
        "/api/v1/onboardings?limit=100000",
        "/api/v1/subscriptions?limit=100000",
        "/api/v1/partners?limit=100000",
        "/api/v1/payouts?limit=100000",
        "/api/v1/audit/log?limit=100000",
        "/api/v1/audit/log?cursor=3",  # the old name of page_token: no alias is kept
        "/api/v1/apps?page_size=5&categroy=crm_customer_management",
        "/api/v1/me?limit=1",
    ],
)
async def test_an_unknown_query_parameter_of_a_read_is_refused_naming_it(api: Api, path: str):
    details = assert_error(await api.http.get(path, headers=auth("admin")), 422, "validation_error")
    unknown = path.split("?")[1].split("&")[-1].split("=")[0]
    assert [detail["field"] for detail in details] == [f"query.{unknown}"]
    assert "unknown query parameter" in details[0]["message"]


async def test_an_unknown_query_parameter_of_a_command_is_refused_and_the_command_does_not_run(api: Api):
    view = await api.start()
    response = await api.http.post(
        f"/api/v1/onboardings/{view['id']}/hold?force=true&limit=1",
        json={"reason": "waiting for the ISV"},
        headers=auth("pm"),
    )
    details = assert_error(response, 422, "validation_error")
    assert [detail["field"] for detail in details] == ["query.force", "query.limit"]
    current = await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("pm"))
    assert current.json()["status"] == "in_progress"


async def test_an_unknown_query_parameter_is_no_reason_to_skip_authentication(api: Api):
    assert_error(await api.http.get("/api/v1/apps?limit=100000"), 401, "unauthenticated")


async def test_declared_query_parameters_still_pass(api: Api):
    response = await api.http.get(
        "/api/v1/audit/log?page_size=1&outcome=accepted&isv_id=nobody", headers=auth("auditor")
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/health?probe=1", "/openapi.json?v=2", "/docs?x=1", "/console/?from=mail"])
async def test_pages_outside_the_api_ignore_query_parameters_as_before(api: Api, path: str):
    response = await api.http.get(path, follow_redirects=True)
    assert response.status_code == 200, response.text
