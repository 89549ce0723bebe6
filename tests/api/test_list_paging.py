"""Lists read from the store (the catalogue, payout statements) come in pages of at most 100, in a stable order,
with a page token to the next page; a walk through the pages sees every item once."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from store import models
from store.db import create_engine, create_session_factory
from tests.api.conftest import Api, assert_error, auth, publish_app


async def walk(api: Api, path: str, page_size: int = 2, as_role: str = "auditor") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page_token = None
    for _ in range(20):
        params: dict[str, Any] = {"page_size": page_size} | ({"page_token": page_token} if page_token else {})
        response = await api.http.get(path, params=params, headers=auth(as_role))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= page_size
        items += page["items"]
        page_token = page["next_page_token"]
        if page_token is None:
            return items
    raise AssertionError("the pages never ended")


async def test_the_catalogue_pages_through_every_app_once_in_id_order(api: Api):
    isv = f"pager-{uuid.uuid4().hex[:6]}"
    published = sorted([await publish_app(api.settings.database_url, isv) for _ in range(5)])
    assert [app["id"] for app in await walk(api, f"/api/v1/apps?isv_id={isv}")] == published


async def test_payout_statements_page_in_month_then_isv_order(api: Api):
    now = datetime.now(UTC)
    keys = [(month, isv) for month in ("2018-01", "2018-02", "2018-03") for isv in ("isv-a", "isv-b")]
    engine = create_engine(api.settings.database_url)
    async with create_session_factory(engine).begin() as session:
        for month, isv in reversed(keys):
            session.add(
                models.PayoutStatement(
                    isv_id=isv, month=month, amount_cents=100, entries=1, status="transferred", created_at=now
                )
            )
    await engine.dispose()
    statements = await walk(api, "/api/v1/payouts")
    assert [(s["month"], s["isv_id"]) for s in statements if s["month"].startswith("2018")] == keys


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/apps?page_size=101",
        "/api/v1/payouts?page_size=101",
        "/api/v1/payouts?page_token=2018-01",
        "/api/v1/apps?page_token=NOT!",
        "/api/v1/audit/log?page_token=seven",
        "/api/v1/audit/log?page_size=501",
    ],
)
async def test_an_oversized_page_or_a_foreign_page_token_is_invalid(api: Api, query: str):
    assert_error(await api.http.get(query, headers=auth("admin")), 422, "validation_error")
