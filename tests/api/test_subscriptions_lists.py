"""Lists and filters of subscriptions from Temporal visibility (dev server: the time-skipping server has none).

Visibility is eventually consistent, so reads poll for a few seconds. Each test lists the apps it published for
itself, so subscriptions of other tests never show up in its results.
"""

from typing import Any

import pytest

from tests.api.conftest import ISV_A, ISV_B, Subscriptions, assert_error, auth, eventually, ids_across_pages


async def listed(subs: Subscriptions, query: str, role: str = "operator", count: int | None = None) -> dict[str, Any]:
    """The page for `query`, once it holds `count` items (visibility lags a little behind)."""

    async def read() -> dict[str, Any]:
        response = await subs.api.http.get(f"/api/v1/subscriptions?{query}", headers=auth(role))
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    return await eventually(read, lambda page: count is None or len(page["items"]) == count)


def ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["items"]}


async def test_a_listed_subscription_carries_its_search_attributes(listing_subs: Subscriptions):
    view = await listing_subs.book(channel_partner_id="telesales-nord")

    page = await listed(listing_subs, f"app_id={listing_subs.app_id}", count=1)

    [item] = page["items"]
    assert item | {"started_at": None} == {
        "id": view["id"],
        "customer_id": view["customer"]["id"],
        "app_id": listing_subs.app_id,
        "isv_id": ISV_A,
        "channel_partner_id": "telesales-nord",
        "status": "trialing",
        "started_at": None,
        "closed_at": None,
    }
    assert page["next_page_token"] is None


async def test_lists_filter_by_status_app_and_customer(listing_subs: Subscriptions):
    app, other_app = listing_subs.app_id, listing_subs.other_app_id
    stays = await listing_subs.book()
    cancelled = await listing_subs.book()
    same_customer = await listing_subs.book(customer=stays["customer"]["id"], app_id=other_app)
    await listing_subs.ok(cancelled["id"], "cancel")  # in the trial: suspended at once

    assert ids(await listed(listing_subs, f"app_id={app}", count=2)) == {stays["id"], cancelled["id"]}
    assert ids(await listed(listing_subs, f"app_id={app}&status=suspended", count=1)) == {cancelled["id"]}
    assert ids(await listed(listing_subs, f"app_id={app}&status=trialing", count=1)) == {stays["id"]}
    by_customer = await listed(listing_subs, f"customer_id={stays['customer']['id']}", count=2)
    assert ids(by_customer) == {stays["id"], same_customer["id"]}
    both = f"customer_id={stays['customer']['id']}&app_id={other_app}"
    assert ids(await listed(listing_subs, both, count=1)) == {same_customer["id"]}
    assert ids(await listed(listing_subs, f"app_id={app}&status=active")) == set()


async def test_an_isv_lists_only_its_own_apps_subscriptions(listing_subs: Subscriptions):
    own = await listing_subs.book()
    theirs = await listing_subs.book(customer=own["customer"]["id"], app_id=listing_subs.other_app_id)
    customer = f"customer_id={own['customer']['id']}"
    assert ids(await listed(listing_subs, customer, count=2)) == {own["id"], theirs["id"]}

    assert ids(await listed(listing_subs, customer, role="isv_a")) == {own["id"]}
    assert ids(await listed(listing_subs, customer, role="isv_b")) == {theirs["id"]}
    # Asking for another ISV's subscriptions yields none rather than theirs.
    assert ids(await listed(listing_subs, f"{customer}&isv_id={ISV_B}", role="isv_a")) == set()
    assert ids(await listed(listing_subs, f"app_id={listing_subs.other_app_id}", role="isv_a")) == set()
    # Auditors see every ISV's.
    assert len((await listed(listing_subs, customer, role="auditor"))["items"]) == 2


async def test_lists_page_with_a_next_page_token(listing_subs: Subscriptions):
    booked = {(await listing_subs.book())["id"] for _ in range(3)}
    query = f"app_id={listing_subs.app_id}"
    await listed(listing_subs, query, count=3)

    seen = await ids_across_pages(lambda page_query: listed(listing_subs, page_query), query)

    assert sorted(seen) == sorted(booked)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=paused", "query.status"),
        ("app_id=x' OR '1'='1", "query.app_id"),
        ("customer_id=ACME", "query.customer_id"),
        ("page_size=0", "query.page_size"),
        ("page_token=bm90LWEtdG9rZW4tYXQtYWxs", "query.page_token"),
        ("colour=red", "query.colour"),
    ],
)
async def test_invalid_list_filters_are_invalid(listing_subs: Subscriptions, query: str, field: str):
    response = await listing_subs.api.http.get(f"/api/v1/subscriptions?{query}", headers=auth("operator"))
    assert [d["field"] for d in assert_error(response, 422, "validation_error")] == [field]
