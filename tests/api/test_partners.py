"""Channel partners through the API: enrolment by points or legacy level, contract events counted once per
reference id, review decisions, usage reports, and a terminated partnership that refuses what comes after."""

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from domain.partners.rules import next_quarter_end
from store import models
from store.db import create_engine, create_session_factory
from tests.api.conftest import (
    AM,
    ISV_A,
    ISV_B,
    Partners,
    assert_error,
    eventually,
    new_partner_id,
    seed_sold_subscription,
    sleep_days,
)


def actions(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["actor"], entry["action"]) for entry in view["history"]]


def fields(response: Any) -> list[str]:
    return [detail["field"] for detail in assert_error(response, 422, "validation_error")]


# --- enrolment -----------------------------------------------------------------------------------


async def test_enrolment_by_last_years_points_answers_201_with_the_view(partners: Partners):
    body = partners.body(last_year_points=16_000)

    response = await partners.post_enrolment(body)

    assert response.status_code == 201, response.text
    view = response.json()
    assert (view["id"], view["name"], view["account_manager"]) == (body["id"], "Telesales Nord GmbH", AM)
    assert (view["status"], view["tier"], view["projected_tier"]) == ("active", "expert", "basic")
    assert (view["points"], view["last_year_points"], view["events_counted"]) == (0, 16_000, 0)
    assert (view["next_tier"], view["points_to_next_tier"], view["points_to_keep_tier"]) == (
        "expert_plus",
        45_000,
        15_000,
    )
    assert view["open_review"] is None and view["bad_streak"] == 0
    assert actions(view) == [(AM, "enrolled")]
    assert "16000 points last year" in view["history"][0]["detail"]
    assert (await partners.view(view["id"])) == view


@pytest.mark.parametrize(
    ("points", "tier"),
    [
        (0, "basic"),
        (7_499, "basic"),
        (7_500, "advanced"),
        (14_999, "advanced"),
        (15_000, "expert"),
        (45_000, "expert_plus"),
    ],
)
async def test_the_initial_tier_follows_last_years_points(partners: Partners, points: int, tier: str):
    assert (await partners.enrol(last_year_points=points))["tier"] == tier


@pytest.mark.parametrize(
    ("level", "tier"),
    [("business", "basic"), ("business_silber", "basic"), ("gold", "advanced"), ("premium", "expert")],
)
async def test_a_partner_of_the_old_programme_is_placed_by_its_legacy_level(partners: Partners, level: str, tier: str):
    view = await partners.enrol(last_year_points=None, legacy_level=level)
    assert (view["tier"], view["last_year_points"]) == (tier, 0)
    assert f"legacy level {level}" in view["history"][0]["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"last_year_points": None}, "body"),  # neither points nor a legacy level
        ({"last_year_points": None, "legacy_level": "platinum"}, "body.legacy_level"),
        ({"last_year_points": -1}, "body.last_year_points"),
        ({"id": "Telesales Nord"}, "body.id"),
        ({"account_manager": "AM Arno"}, "body.account_manager"),
        ({"name": ""}, "body.name"),
    ],
    ids=["no-placement", "unknown-legacy-level", "negative-points", "id-not-a-slug", "manager-not-a-slug", "no-name"],
)
async def test_malformed_enrolments_are_invalid(partners: Partners, change: dict[str, Any], field: str):
    body = partners.body() | change
    response = await partners.post_enrolment({name: value for name, value in body.items() if value is not None})
    assert fields(response) == [field]
    if field != "body.id":
        assert_error(await partners.get(body["id"]), 404, "partner_not_found")


async def test_a_partner_is_enrolled_once(partners: Partners):
    view = await partners.enrol(last_year_points=8_000)
    again = await partners.post_enrolment(partners.body(partner_id=view["id"], last_year_points=50_000))
    assert assert_error(again, 409, "partner_exists") == {"partner_id": view["id"]}
    assert (await partners.view(view["id"]))["tier"] == "advanced"


# --- contract events -------------------------------------------------------------------------------


async def test_contract_events_earn_points_and_a_repeated_reference_id_counts_once(partners: Partners):
    partner = (await partners.enrol(last_year_points=0))["id"]

    first = await partners.contract(
        partner, "vertrag-0001", kind="new_customer_contract", monthly_value_cents=5_000
    )  # 500 + 2 per euro of 50 euro
    licences = await partners.contract(partner, "lic/2025/7", quantity=3)  # 3 x 50
    repeat = await partners.contract(partner, "vertrag-0001", kind="unite_pool_volume", quantity=900)

    assert (first.status_code, licences.status_code, repeat.status_code) == (201, 201, 200)
    assert first.json() | {"awarded_at": None} == {
        "reference_id": "vertrag-0001",
        "points_awarded": 600,
        "duplicate": False,
        "awarded_at": None,
        "points": 600,
    }
    assert (licences.json()["points_awarded"], licences.json()["points"]) == (150, 750)
    assert repeat.json() == first.json() | {"duplicate": True, "points": 750}
    view = await partners.view(partner)
    assert (view["points"], view["events_counted"], view["points_to_next_tier"]) == (750, 2, 7_500 - 750)


async def test_the_points_reach_the_ledger_with_the_actor(partners: Partners):
    partner = (await partners.enrol(as_role="admin"))["id"]
    await partners.contract(partner, "fl-1", kind="fixed_line_order", monthly_value_cents=3_999, as_role="admin")

    engine = create_engine(partners.api.settings.database_url)
    async with create_session_factory(engine)() as session:
        [entry] = await session.scalars(
            select(models.PointsLedgerEntry).where(models.PointsLedgerEntry.partner_id == partner)
        )
    await engine.dispose()
    assert (entry.reference_id, entry.kind, entry.points, entry.actor) == ("fl-1", "fixed_line_order", 339, "admin-ada")


async def test_an_idempotency_key_applies_a_retried_event_once(partners: Partners):
    partner = (await partners.enrol())["id"]
    first = await partners.contract(partner, "lic-1", quantity=2, key="event-1")
    retried = await partners.contract(partner, "lic-1", quantity=2, key="event-1")
    assert first.status_code == retried.status_code == 201, retried.text
    assert retried.json() == first.json()
    assert (await partners.view(partner))["points"] == 100


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"reference_id": "r-1", "kind": "mobile_contract"}, "body.kind"),
        ({"reference_id": "has space", "kind": "fixed_line_order"}, "body.reference_id"),
        ({"reference_id": "", "kind": "fixed_line_order"}, "body.reference_id"),
        ({"kind": "fixed_line_order"}, "body.reference_id"),
        ({"reference_id": "r-1", "kind": "digital_phone_licenses", "quantity": 0}, "body.quantity"),
        ({"reference_id": "r-1", "kind": "fixed_line_order", "monthly_value_cents": -1}, "body.monthly_value_cents"),
    ],
    ids=["unknown-kind", "reference-with-space", "empty-reference", "no-reference", "no-quantity", "negative-value"],
)
async def test_malformed_contract_events_are_invalid(partners: Partners, event: dict[str, Any], field: str):
    partner = (await partners.enrol())["id"]
    assert fields(await partners.post(partner, "contracts", event)) == [field]
    assert (await partners.view(partner))["events_counted"] == 0


# --- review decisions ------------------------------------------------------------------------------


async def test_a_review_decision_without_an_open_review_is_refused(partners: Partners):
    partner = (await partners.enrol())["id"]
    response = await partners.post(partner, "review-decision", {"decision": "terminate", "note": "just because"})
    assert_error(response, 409, "no_open_review")
    assert (await partners.view(partner))["status"] == "active"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "suspend", "note": "x"}, "body.decision"),
        ({"decision": "retain"}, "body.note"),
        ({"decision": "retain", "note": "   "}, "body.note"),
        ({"decision": "retain", "note": "ok", "actor": "someone-else"}, "body.actor"),
    ],
    ids=["unknown-decision", "no-note", "blank-note", "actor-in-body"],
)
async def test_malformed_review_decisions_are_invalid(partners: Partners, body: dict[str, Any], field: str):
    partner = (await partners.enrol())["id"]
    assert fields(await partners.post(partner, "review-decision", body)) == [field]


async def bad_quarters(partners: Partners, partner_ids: list[str], count: int) -> None:
    """Seeds an unpaid customer invoice in each of the next `count` quarters of every partner, then lives through
    them on the test server's clock (30 days at a time), until each partner has its termination review."""
    moment: datetime = await partners.api.env.get_current_time()
    for _ in range(count):
        for partner in partner_ids:
            await partners.seed_unpaid_invoice(partner, moment + timedelta(hours=2))
        moment = next_quarter_end(moment)
    while (await partners.api.env.get_current_time()) < moment + timedelta(hours=1):
        await sleep_days(partners.api.env, 30)
    for partner in partner_ids:
        view = await eventually(partial(partners.view, partner), lambda view: view["open_review"] is not None)
        assert view["open_review"] is not None, view


async def test_three_bad_quarters_open_a_review_the_account_manager_decides(partners: Partners):
    retained = (await partners.enrol())["id"]
    terminated = (await partners.enrol())["id"]
    await bad_quarters(partners, [retained, terminated], 3)

    reports = await partners.get(terminated, "/quality-reports")
    assert reports.status_code == 200, reports.text
    items = reports.json()["items"]
    assert [item["bad_streak"] for item in items] == [3, 2, 1]  # newest first
    newest = items[0]
    assert newest["below_thresholds"] is True and newest["failing"] == ["paid_on_time_share"]
    assert newest["metrics"]["paid_on_time_share"] == 0.0 and newest["metrics"]["usage_share"] is None
    assert newest["period_start"] < newest["period_end"]

    kept = await partners.post(retained, "review-decision", {"decision": "retain", "note": "new sales lead"})
    assert kept.status_code == 200, kept.text
    assert (kept.json()["status"], kept.json()["open_review"], kept.json()["bad_streak"]) == ("active", None, 0)
    assert actions(kept.json())[-1] == (AM, "review_retain")
    assert (await partners.contract(retained)).status_code == 201

    ended = await partners.post(terminated, "review-decision", {"decision": "terminate", "note": "quality"})
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "terminated"
    await partners.wait_until_ended(terminated)

    # The workflow has completed, so Temporal itself refuses the Update: still a 409 naming the reason.
    details = assert_error(await partners.contract(terminated), 409, "partnership_terminated")
    assert details == {"status": "terminated"}
    again = await partners.post(terminated, "review-decision", {"decision": "retain", "note": "changed my mind"})
    assert_error(again, 409, "partnership_terminated")
    usage = await partners.post(terminated, "usage-reports", {"usage_share": 0.5}, as_role="operator")
    assert_error(usage, 409, "partnership_terminated")
    # It can still be read, its quality reports too.
    assert (await partners.view(terminated))["status"] == "terminated"
    assert (await partners.get(terminated, "/quality-reports")).json()["items"] == items


# --- quality and usage reports ---------------------------------------------------------------------


async def test_a_new_partner_has_no_quality_reports(partners: Partners):
    partner = (await partners.enrol())["id"]
    response = await partners.get(partner, "/quality-reports")
    assert response.status_code == 200, response.text
    assert response.json() == {"items": []}


async def seed_subscription(partners: Partners, partner: str, isv_id: str) -> str:
    at = await partners.api.env.get_current_time()
    return await seed_sold_subscription(partners.api, partner, isv_id, f"cust-{new_partner_id()}-crm", at)


async def test_an_operator_reports_usage_for_the_next_quality_report(partners: Partners):
    partner = (await partners.enrol())["id"]
    subscription = await seed_subscription(partners, partner, ISV_A)

    response = await partners.post(partner, "usage-reports", {"usage_share": 0.25}, as_role="operator")
    with_subscription = await partners.post(
        partner, "usage-reports", {"usage_share": 1, "subscription_id": subscription}, as_role="operator"
    )

    assert response.status_code == with_subscription.status_code == 201, response.text
    report = response.json()
    assert report | {"id": None, "reported_at": None} == {
        "id": None,
        "partner_id": partner,
        "subscription_id": None,
        "usage_share": 0.25,
        "reported_by": "operator-otto",
        "reported_at": None,
    }
    assert with_subscription.json()["id"] != report["id"]
    engine = create_engine(partners.api.settings.database_url)
    async with create_session_factory(engine)() as session:
        rows = (await session.scalars(select(models.UsageReport).where(models.UsageReport.partner_id == partner))).all()
    await engine.dispose()
    assert sorted((row.usage_share, row.subscription_id) for row in rows) == [(0.25, None), (1.0, subscription)]


async def test_an_isv_reports_usage_of_its_own_apps_subscriptions_only(partners: Partners):
    partner = (await partners.enrol())["id"]
    own = await seed_subscription(partners, partner, ISV_A)
    theirs = await seed_subscription(partners, partner, ISV_B)

    response = await partners.post(
        partner, "usage-reports", {"usage_share": 0.8, "subscription_id": own}, as_role="isv_a"
    )
    assert response.status_code == 201, response.text
    assert response.json()["reported_by"] == "isv-acme"
    other = await partners.post(
        partner, "usage-reports", {"usage_share": 0.8, "subscription_id": theirs}, as_role="isv_a"
    )
    assert_error(other, 404, "subscription_not_found")
    assert fields(await partners.post(partner, "usage-reports", {"usage_share": 0.8}, as_role="isv_a")) == [
        "body.subscription_id"
    ]


async def test_usage_reports_name_a_known_partner_and_a_subscription_it_sold(partners: Partners):
    partner = (await partners.enrol())["id"]
    other = (await partners.enrol())["id"]
    sold_by_other = await seed_subscription(partners, other, ISV_A)

    unknown = await partners.post(new_partner_id(), "usage-reports", {"usage_share": 0.5}, as_role="operator")
    assert_error(unknown, 404, "partner_not_found")
    not_sold = await partners.post(
        partner, "usage-reports", {"usage_share": 0.5, "subscription_id": sold_by_other}, as_role="operator"
    )
    assert_error(not_sold, 404, "subscription_not_found")
    for body, field in (
        ({"usage_share": 1.5}, "body.usage_share"),
        ({"usage_share": -0.1}, "body.usage_share"),
        ({}, "body.usage_share"),
        ({"usage_share": 0.5, "subscription_id": "Not A Subscription"}, "body.subscription_id"),
        ({"usage_share": 0.5, "reported_by": "someone"}, "body.reported_by"),
    ):
        assert fields(await partners.post(partner, "usage-reports", body, as_role="operator")) == [field], body


# --- 404 and 422 -----------------------------------------------------------------------------------


async def test_an_unknown_partner_is_not_found(partners: Partners):
    unknown = new_partner_id()
    assert_error(await partners.get(unknown), 404, "partner_not_found")
    assert_error(await partners.get(unknown, "/quality-reports"), 404, "partner_not_found")
    assert_error(await partners.contract(unknown), 404, "partner_not_found")
    decision = {"decision": "retain", "note": "fine"}
    assert_error(await partners.post(unknown, "review-decision", decision), 404, "partner_not_found")


async def test_malformed_partner_ids_are_invalid(partners: Partners):
    assert fields(await partners.get("Telesales_Nord")) == ["path.partner_id"]
    assert fields(await partners.get("x")) == ["path.partner_id"]
    assert fields(await partners.contract("Telesales_Nord")) == ["path.partner_id"]
