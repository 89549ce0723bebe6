"""Who may call what: the open paths, API keys (401), the permission table (403) and ISV scoping of reads."""

import pytest

from tests.api.conftest import Api, assert_error, auth, key_of


async def test_health_is_the_open_path(api: Api):
    response = await api.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_openapi_docs_are_open(api: Api):
    assert (await api.http.get("/docs")).status_code == 200
    schema = (await api.http.get("/openapi.json")).json()
    assert "/api/v1/onboardings/{onboarding_id}/advance" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": f"Bearer {key_of('pm')}x"},
        {"Authorization": f"Basic {key_of('pm')}"},
    ],
    ids=["no-key", "unknown-key", "key-with-suffix", "not-bearer"],
)
async def test_a_request_without_a_valid_key_is_unauthenticated(api: Api, headers: dict[str, str]):
    for response in (
        await api.http.get("/api/v1/onboardings/acme-crm", headers=headers),
        await api.http.post("/api/v1/onboardings", json={}, headers=headers),
        await api.http.get("/api/v1/apps", headers=headers),
    ):
        assert_error(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_operator_may_neither_start_nor_command_nor_read_onboardings(api: Api):
    view = await api.start()
    assert_error(
        await api.http.post("/api/v1/onboardings", json=api.request_body(), headers=auth("operator")), 403, "forbidden"
    )
    assert_error(await api.command(view["id"], "advance", as_role="operator"), 403, "forbidden")
    assert_error(await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("operator")), 403, "forbidden")
    assert_error(await api.http.get("/api/v1/onboardings", headers=auth("operator")), 403, "forbidden")


async def test_an_isv_may_not_command_even_its_own_onboarding(api: Api):
    view = await api.start()
    assert_error(await api.command(view["id"], "advance", as_role="isv_a"), 403, "forbidden")
    assert_error(await api.command(view["id"], "hold", {"reason": "mine"}, as_role="isv_a"), 403, "forbidden")
    response = await api.http.put(f"/api/v1/onboardings/{view['id']}/commercial-terms", json={}, headers=auth("isv_a"))
    assert_error(response, 403, "forbidden")


async def test_an_auditor_reads_any_onboarding_but_changes_nothing(api: Api):
    view = await api.start()
    response = await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("auditor"))
    assert response.status_code == 200
    assert response.json()["id"] == view["id"]
    assert_error(await api.command(view["id"], "advance", as_role="auditor"), 403, "forbidden")
    assert_error(
        await api.http.post("/api/v1/onboardings", json=api.request_body(), headers=auth("auditor")), 403, "forbidden"
    )


async def test_an_isv_reads_its_own_onboarding_and_another_isvs_is_not_found(api: Api):
    view = await api.start()

    own = await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("isv_a"))
    assert own.status_code == 200
    assert own.json()["isv"]["id"] == view["isv"]["id"]

    # Not 403: the answer must not tell another ISV that the onboarding exists.
    other = await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("isv_b"))
    unknown = await api.http.get(f"/api/v1/onboardings/{view['id']}x", headers=auth("isv_b"))
    assert_error(other, 404, "onboarding_not_found")
    assert_error(unknown, 404, "onboarding_not_found")
    assert other.json()["error"]["message"].replace(view["id"], "") == unknown.json()["error"]["message"].replace(
        f"{view['id']}x", ""
    )


async def test_unknown_paths_and_methods_answer_in_the_error_shape(api: Api):
    assert_error(await api.http.get("/api/v1/nothing-here", headers=auth("admin")), 404, "not_found")
    assert_error(await api.http.patch("/api/v1/onboardings", headers=auth("admin")), 405, "method_not_allowed")
