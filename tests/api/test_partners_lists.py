"""Lists and filters of channel partners from Temporal visibility (dev server: the time-skipping server has none).

Visibility is eventually consistent, so reads poll for a few seconds. Each test enrols its partners under an
account manager of its own, so partners of other tests never show up in its results.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.api.conftest import (
    AM,
    OWN_PARTNER,
    Api,
    Partners,
    assert_error,
    auth,
    enrolling,
    eventually,
    ids_across_pages,
)


@pytest_asyncio.fixture(scope="module")
async def own_partner(listing_api: Api) -> AsyncIterator[dict[str, Any]]:
    """The partner of the "own_partner" key: enrolled once per module, as its id is fixed for the whole run."""
    async with enrolling(listing_api) as partners:
        yield await partners.enrol(partner_id=OWN_PARTNER, account_manager=AM, last_year_points=50_000)


def new_account_manager() -> str:
    return f"am-{uuid.uuid4().hex[:8]}"


async def listed(
    partners: Partners, query: str, role: str = "account_manager", count: int | None = None
) -> dict[str, Any]:
    """The page for `query`, once it holds `count` items (visibility lags a little behind)."""

    async def read() -> dict[str, Any]:
        response = await partners.api.http.get(f"/api/v1/partners?{query}", headers=auth(role))
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    return await eventually(read, lambda page: count is None or len(page["items"]) == count)


def ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["items"]}


async def test_a_listed_partner_carries_its_search_attributes(listing_partners: Partners):
    manager = new_account_manager()
    view = await listing_partners.enrol(account_manager=manager, last_year_points=20_000)

    page = await listed(listing_partners, f"account_manager={manager}", count=1)

    assert page["items"] == [
        {"id": view["id"], "tier": "expert", "account_manager": manager, "status": "active", "closed_at": None}
    ]
    assert page["next_page_token"] is None


async def test_lists_filter_by_tier_and_account_manager(listing_partners: Partners):
    manager, other_manager = new_account_manager(), new_account_manager()
    basic = await listing_partners.enrol(account_manager=manager, last_year_points=100)
    expert = await listing_partners.enrol(account_manager=manager, last_year_points=None, legacy_level="premium")
    other = await listing_partners.enrol(account_manager=other_manager, last_year_points=16_000)

    assert ids(await listed(listing_partners, f"account_manager={manager}", count=2)) == {basic["id"], expert["id"]}
    mine_expert = await listed(listing_partners, f"account_manager={manager}&tier=expert", count=1)
    assert ids(mine_expert) == {expert["id"]}
    assert ids(await listed(listing_partners, f"account_manager={other_manager}&tier=expert", count=1)) == {other["id"]}
    assert ids(await listed(listing_partners, f"account_manager={manager}&tier=basic&status=active", count=1)) == {
        basic["id"]
    }
    assert ids(await listed(listing_partners, f"account_manager={manager}&tier=expert_plus")) == set()
    assert ids(await listed(listing_partners, f"account_manager={manager}&status=terminated")) == set()


async def test_a_channel_partner_lists_itself_only(listing_partners: Partners, own_partner: dict[str, Any]):
    colleague = await listing_partners.enrol(account_manager=AM, last_year_points=50_000)
    expected = {own_partner["id"], colleague["id"]}

    async def for_the_auditor() -> dict[str, Any]:
        return await listed(listing_partners, f"account_manager={AM}&tier=expert_plus", role="auditor")

    assert expected <= ids(await eventually(for_the_auditor, lambda page: expected <= ids(page)))

    # Whatever it asks for, a channel partner's list holds itself at most: read at once, not eventually.
    for query in ("", f"account_manager={AM}", "tier=expert_plus", "status=active&page_size=1"):
        page = await listed(listing_partners, query, role="own_partner")
        assert page == {
            "items": [
                {"id": OWN_PARTNER, "tier": "expert_plus", "account_manager": AM, "status": "active", "closed_at": None}
            ],
            "next_page_token": None,
        }, query
    for query in ("tier=basic", "account_manager=am-someone-else", "status=terminated"):
        assert ids(await listed(listing_partners, query, role="own_partner")) == set(), query
    # A channel partner key whose partner is not enrolled lists nothing.
    assert ids(await listed(listing_partners, "", role="channel_partner")) == set()


async def test_lists_page_with_a_next_page_token(listing_partners: Partners):
    manager = new_account_manager()
    enrolled = {(await listing_partners.enrol(account_manager=manager))["id"] for _ in range(3)}
    await listed(listing_partners, f"account_manager={manager}", count=3)

    seen = await ids_across_pages(lambda query: listed(listing_partners, query), f"account_manager={manager}")

    assert sorted(seen) == sorted(enrolled)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tier=gold", "query.tier"),
        ("status=paused", "query.status"),
        ("account_manager=x' OR '1'='1", "query.account_manager"),
        ("page_size=0", "query.page_size"),
        ("page_token=bm90LWEtdG9rZW4tYXQtYWxs", "query.page_token"),
        ("colour=red", "query.colour"),
    ],
)
async def test_invalid_list_filters_are_invalid(listing_partners: Partners, query: str, field: str):
    response = await listing_partners.api.http.get(f"/api/v1/partners?{query}", headers=auth("account_manager"))
    assert [d["field"] for d in assert_error(response, 422, "validation_error")] == [field]
