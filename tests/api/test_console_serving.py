"""The console and the documentation pages are served by the app itself, from this origin only, and the console
learns from /me what the key may do."""

import re

from tests.api.conftest import KEYS, Api, assert_error, auth


async def test_me_names_the_caller_its_tenant_and_what_it_may_do(api: Api):
    response = await api.http.get("/api/v1/me", headers=auth("isv_a"))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["subject"] == KEYS["isv_a"]["subject"] and me["roles"] == ["isv"]
    assert me["isv_id"] == KEYS["isv_a"]["isv_id"] and me["partner_id"] is None
    assert "onboarding.read" in me["permissions"] and "onboarding.command" not in me["permissions"]
    assert "audit.read" not in me["permissions"]


async def test_me_without_a_valid_key_is_unauthorized(api: Api):
    assert_error(await api.http.get("/api/v1/me"), 401, "unauthenticated")
    assert_error(await api.http.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401, "unauthenticated")


async def test_the_console_is_served_under_a_policy_of_its_own_origin(api: Api):
    home = await api.http.get("/")
    assert home.status_code in (302, 307) and home.headers["location"] == "/console/"
    page = await api.http.get("/console/")
    assert page.status_code == 200 and "<title>Partnerflow console</title>" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    script = await api.http.get("/console/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


async def test_the_api_docs_load_swagger_ui_from_this_app_not_a_cdn(api: Api):
    docs = await api.http.get("/docs")
    assert docs.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(source.startswith("/") or source.startswith("data:") for source in sources), sources
    for source in sources:
        if source.startswith("/"):
            assert (await api.http.get(source)).status_code == 200, source
    redoc = await api.http.get("/redoc")
    assert redoc.status_code == 200 and "cdn." not in redoc.text and "fonts.googleapis" not in redoc.text
