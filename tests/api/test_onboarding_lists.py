"""Lists and filters of onboardings from Temporal visibility (dev server: the time-skipping server has none).

Visibility is eventually consistent, so reads poll for a few seconds. Each test filters on a partner manager
of its own, so onboardings of other tests never show up in its results.
"""

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from temporalio.testing import WorkflowEnvironment

from api import visibility
from domain.onboarding.config import ONBOARDING, StageId
from store.db import create_engine
from tests.api.conftest import ISV_A, ISV_B, Api, assert_error, auth, eventually, ids_across_pages, serving
from tests.go_lives import record_go_lives


def new_partner_manager() -> str:
    return f"pm-{uuid.uuid4().hex[:8]}"


async def listed(api: Api, query: str, role: str = "pm", count: int | None = None) -> dict[str, Any]:
    """The page for `query`, once it holds `count` items (visibility lags a little behind)."""

    async def read() -> dict[str, Any]:
        response = await api.http.get(f"/api/v1/onboardings?{query}", headers=auth(role))
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    return await eventually(read, lambda page: count is None or len(page["items"]) == count)


def ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["items"]}


async def listed_as(api: Api, query: str, expected: set[str]) -> dict[str, Any]:
    """The page for `query`, once it lists exactly `expected` (search attributes change a moment after a command)."""

    async def read() -> dict[str, Any]:
        return await listed(api, query)

    return await eventually(read, lambda page: ids(page) == expected)


async def test_a_listed_onboarding_carries_its_search_attributes(listing_api: Api):
    pm = new_partner_manager()
    view = await listing_api.start(partner_manager=pm)

    # The prediction's basis is in the memo, upserted beside the search attributes: wait for both.
    page = await eventually(
        lambda: listed(listing_api, f"partner_manager={pm}", count=1),
        lambda page: page["items"][0]["prediction_basis"] is not None,
    )

    [item] = page["items"]
    assert datetime.fromisoformat(item.pop("predicted_go_live")) > datetime.fromisoformat(item["started_at"])
    assert item | {"started_at": None} == {
        "id": view["id"],
        "isv_id": ISV_A,
        "app_id": view["app"]["id"],
        "stage": "identification",
        "status": "in_progress",
        "sla_status": "on_track",
        "partner_manager": pm,
        "started_at": None,
        "closed_at": None,
        "misses_target": False,
        "prediction_basis": "stage_budgets",
    }
    assert page["next_page_token"] is None


async def test_lists_filter_by_stage_status_sla_status_and_isv(listing_api: Api):
    pm = new_partner_manager()
    stays = await listing_api.start(partner_manager=pm)
    moves = await listing_api.start(partner_manager=pm)
    other_isv = await listing_api.start(partner_manager=pm, isv=ISV_B)
    await listing_api.ok(moves["id"], "advance")
    await listing_api.ok(other_isv["id"], "reject", {"reason": "not a portfolio fit"})

    feasibility = await listed(listing_api, f"partner_manager={pm}&stage=feasibility", count=1)
    assert ids(feasibility) == {moves["id"]}
    identification = await listed(listing_api, f"partner_manager={pm}&stage=identification", count=2)
    assert ids(identification) == {stays["id"], other_isv["id"]}
    # The rejection's status is listed a moment before the run's close: wait for both.
    rejected = await eventually(
        lambda: listed(listing_api, f"partner_manager={pm}&status=rejected", count=1),
        lambda page: page["items"][0]["closed_at"] is not None,
    )
    assert ids(rejected) == {other_isv["id"]}
    on_track = await listed(listing_api, f"partner_manager={pm}&sla_status=on_track&status=in_progress", count=2)
    assert ids(on_track) == {stays["id"], moves["id"]}
    assert ids(await listed(listing_api, f"partner_manager={pm}&sla_status=overdue")) == set()
    assert ids(await listed(listing_api, f"partner_manager={pm}&isv_id={ISV_B}", count=1)) == {other_isv["id"]}


async def test_a_reassigned_onboarding_is_listed_under_its_new_partner_manager(listing_api: Api):
    before, after = new_partner_manager(), new_partner_manager()
    view = await listing_api.start(partner_manager=before)
    await listing_api.ok(view["id"], "reassign", {"partner_manager": after})

    assert ids(await listed(listing_api, f"partner_manager={after}", count=1)) == {view["id"]}
    assert ids(await listed(listing_api, f"partner_manager={before}", count=0)) == set()


async def test_an_isv_lists_only_its_own_onboardings(listing_api: Api):
    pm = new_partner_manager()
    own = await listing_api.start(partner_manager=pm, isv=ISV_A)
    await listing_api.start(partner_manager=pm, isv=ISV_B)
    assert len((await listed(listing_api, f"partner_manager={pm}", count=2))["items"]) == 2

    assert ids(await listed(listing_api, f"partner_manager={pm}", role="isv_a")) == {own["id"]}
    # Asking for another ISV's onboardings yields none rather than theirs.
    assert ids(await listed(listing_api, f"partner_manager={pm}&isv_id={ISV_B}", role="isv_a")) == set()
    # Auditors see every ISV's.
    assert len((await listed(listing_api, f"partner_manager={pm}", role="auditor"))["items"]) == 2


async def test_lists_page_with_a_next_page_token(listing_api: Api):
    pm = new_partner_manager()
    started = {(await listing_api.start(partner_manager=pm))["id"] for _ in range(3)}
    await listed(listing_api, f"partner_manager={pm}", count=3)

    seen = await ids_across_pages(lambda query: listed(listing_api, query), f"partner_manager={pm}")

    assert sorted(seen) == sorted(started)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("stage=done", "query.stage"),
        ("status=paused", "query.status"),
        ("sla_status=late", "query.sla_status"),
        ("partner_manager=x' OR '1'='1", "query.partner_manager"),
        ("isv_id=ACME", "query.isv_id"),
        ("page_size=0", "query.page_size"),
        ("page_size=1000", "query.page_size"),
        ("page_token=%25%25%25", "query.page_token"),
        ("colour=red", "query.colour"),
        ("sort=started_at", "query.sort"),
        ("misses_target=perhaps", "query.misses_target"),
        ("predicted_before=1700000000", "query.predicted_before"),
        ("predicted_after=0255-10-06T21:06:16Z", "query.predicted_after"),
    ],
)
async def test_invalid_list_filters_are_invalid(listing_api: Api, query: str, field: str):
    response = await listing_api.http.get(f"/api/v1/onboardings?{query}", headers=auth("pm"))
    assert [d["field"] for d in assert_error(response, 422, "validation_error")] == [field]


async def test_a_page_token_the_api_did_not_hand_out_is_invalid(listing_api: Api):
    response = await listing_api.http.get("/api/v1/onboardings?page_token=bm90LWEtdG9rZW4tYXQtYWxs", headers=auth("pm"))
    assert [d["field"] for d in assert_error(response, 422, "validation_error")] == ["query.page_token"]


async def test_lists_filter_and_sort_by_predicted_go_live(dev_server_env: WorkflowEnvironment, tmp_path: Path):
    async with serving(dev_server_env, tmp_path) as api:
        # The marketplace's identification took 12 days, not 5: from there, the 42-day target is out of reach.
        engine = create_engine(api.settings.database_url)
        await record_go_lives(engine, ONBOARDING.history_min_samples, {StageId.IDENTIFICATION: 12})
        await engine.dispose()
        pm = new_partner_manager()
        late = await api.start(partner_manager=pm)
        on_time = await api.start(partner_manager=pm)
        await api.ok(on_time["id"], "advance")
        rejected = await api.start(partner_manager=pm)
        await api.ok(rejected["id"], "reject", {"reason": "not a portfolio fit"})

        # Each reads the marketplace's history once it runs: until then, lists have the budgets' date.
        missing = await listed_as(api, f"partner_manager={pm}&misses_target=true", {late["id"]})
        assert ids(missing) == {late["id"]}
        assert ids(await listed_as(api, f"partner_manager={pm}&misses_target=false", {on_time["id"]})) == {
            on_time["id"]
        }
        page = await listed(api, f"partner_manager={pm}&sort=predicted_go_live", count=3)
        assert [item["id"] for item in page["items"]] == [on_time["id"], late["id"], rejected["id"]]
        assert page["items"][2]["predicted_go_live"] is None
        # The order holds across pages, not only within one.
        one_by_one = await sorted_pages(api, f"partner_manager={pm}&sort=predicted_go_live&page_size=1")
        assert one_by_one == [on_time["id"], late["id"], rejected["id"]]
        # A day before the late one's date: the on-time one (12 days earlier) is before, the late one after.
        boundary = datetime.fromisoformat(missing["items"][0]["predicted_go_live"]) - timedelta(days=1)
        between = quote(boundary.isoformat())
        assert ids(await listed(api, f"partner_manager={pm}&predicted_before={between}")) == {on_time["id"]}
        assert ids(await listed(api, f"partner_manager={pm}&predicted_after={between}")) == {late["id"]}


async def sorted_pages(api: Api, query: str) -> list[str]:
    """The ids of every page of a sorted list, following its tokens; a sorted list's token is refused without its
    sort, and an unsorted list's with it."""
    found: list[str] = []
    token = None
    while True:
        page = await listed(api, query + (f"&page_token={token}" if token else ""))
        found += [item["id"] for item in page["items"]]
        token = page["next_page_token"]
        if token is None:
            return found
        unsorted = query.replace("&sort=predicted_go_live", "")
        refused = await api.http.get(f"/api/v1/onboardings?{unsorted}&page_token={token}", headers=auth("pm"))
        assert [d["field"] for d in assert_error(refused, 422, "validation_error")] == ["query.page_token"]


async def test_a_sorted_list_refuses_more_than_it_can_order_and_an_unsorted_lists_token(
    listing_api: Api, monkeypatch: pytest.MonkeyPatch
):
    pm = new_partner_manager()
    for _ in range(3):
        await listing_api.start(partner_manager=pm)
    unsorted = await listed(listing_api, f"partner_manager={pm}&page_size=1", count=1)
    assert unsorted["next_page_token"] is not None
    foreign = f"partner_manager={pm}&sort=predicted_go_live&page_token={unsorted['next_page_token']}"
    refused = await listing_api.http.get(f"/api/v1/onboardings?{foreign}", headers=auth("pm"))
    assert [d["field"] for d in assert_error(refused, 422, "validation_error")] == ["query.page_token"]

    await listed(listing_api, f"partner_manager={pm}", count=3)  # all three visible
    monkeypatch.setattr(visibility, "SORT_WINDOW", 2)
    too_many = await listing_api.http.get(
        f"/api/v1/onboardings?partner_manager={pm}&sort=predicted_go_live", headers=auth("pm")
    )
    assert assert_error(too_many, 422, "too_many_to_sort") == {"sort_window": 2}
