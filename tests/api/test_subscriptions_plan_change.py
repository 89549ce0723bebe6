"""Plan changes and withdrawn cancellations through the API: the catalogue's plan and price, upgrade at once with its
proration, downgrade at the term's end, the refusals (409), who may (403), and what the audit log says changed."""

from datetime import datetime
from typing import Any

from tests.api.conftest import METHODS, PRICES, Api, Subscriptions, assert_error, auth


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def changes_of(api: Api, subscription: str, action: str) -> list[dict[str, Any]]:
    """What each accepted `action` changed (a refused one changed nothing, and says so with null)."""
    response = await api.http.get(
        "/api/v1/audit/log", params={"subscription_id": subscription, "page_size": 500}, headers=auth("auditor")
    )
    assert response.status_code == 200, response.text
    entries = [entry for entry in response.json()["items"] if entry["action"] == action]
    return [entry["changes"] for entry in entries if entry["changes"] is not None]


# --- plan changes -----------------------------------------------------------------------------


async def test_in_the_trial_a_plan_change_applies_at_once_at_the_catalogues_price(api: Api, subs: Subscriptions):
    view = await subs.book(term_months=1, payment_method=METHODS["credit_card"])

    changed = await subs.ok(view["id"], "plan", {"term_months": 12})

    assert (changed["term_months"], changed["monthly_price_cents"]) == (12, PRICES[12])
    assert changed["scheduled_plan_change"] is None and changed["pending_proration_cents"] == 0
    assert changed["history"][-1]["action"] == "plan_changed"
    assert await changes_of(api, view["id"], "subscription.change_plan") == [
        {
            "requested_term_months": 12,
            "term_months": 12,
            "monthly_price_cents": PRICES[12],
            "pending_proration_cents": 0,
        }
    ]


async def test_an_upgrade_mid_period_is_prorated_on_the_next_invoice(subs: Subscriptions):
    view = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31 + 10)

    upgraded = await subs.ok(view["id"], "plan", {"term_months": 12})

    assert (upgraded["term_months"], upgraded["monthly_price_cents"]) == (12, PRICES[12])
    proration = upgraded["pending_proration_cents"]
    assert proration < 0, "a longer term at a lower monthly price: the unused part of the period is credited"
    await subs.sleep_days((at(upgraded["current_period_end"]) - at(upgraded["history"][-1]["at"])).days + 1)
    items = (await subs.get(view["id"], "/invoices")).json()["items"]
    assert [(item["net_cents"], item["proration_cents"]) for item in items] == [
        (PRICES[1], 0),
        (PRICES[12] + proration, proration),
    ]
    assert (await subs.view(view["id"]))["pending_proration_cents"] == 0


async def test_a_downgrade_is_scheduled_for_the_term_end_and_a_change_back_withdraws_it(api: Api, subs: Subscriptions):
    view = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)

    scheduled = await subs.ok(view["id"], "plan", {"term_months": 1})

    assert (scheduled["term_months"], scheduled["monthly_price_cents"]) == (12, PRICES[12])
    assert scheduled["scheduled_plan_change"] == {
        "term_months": 1,
        "monthly_price_cents": PRICES[1],
        "effective_at": scheduled["current_term_end"],
    }
    again = await subs.command(view["id"], "plan", {"term_months": 1})
    details = assert_error(again, 409, "plan_change_scheduled")
    assert at(details["effective_at"]) == at(scheduled["current_term_end"])
    withdrawn = await subs.ok(view["id"], "plan", {"term_months": 12})
    assert withdrawn["scheduled_plan_change"] is None
    assert withdrawn["history"][-1]["action"] == "downgrade_withdrawn"
    first, second = await changes_of(api, view["id"], "subscription.change_plan")
    assert first == {
        "requested_term_months": 1,
        "term_months": 12,
        "monthly_price_cents": PRICES[12],
        "pending_proration_cents": 0,
        "scheduled_term_months": 1,
        "scheduled_monthly_price_cents": PRICES[1],
        "scheduled_for": scheduled["current_term_end"],
    }
    assert "scheduled_for" not in second


async def test_plan_changes_are_refused_for_a_plan_not_offered_the_same_plan_and_a_suspension(subs: Subscriptions):
    view = await subs.book(term_months=1)
    assert assert_error(await subs.command(view["id"], "plan", {"term_months": 24}), 409, "plan_not_offered") == {
        "app_id": subs.app_id,
        "term_months": 24,
        "offered_terms": [1, 12],
    }
    assert assert_error(await subs.command(view["id"], "plan", {"term_months": 1}), 409, "same_plan")
    [detail] = assert_error(await subs.command(view["id"], "plan", {"term_months": 5}), 422, "validation_error")
    assert detail["field"] == "body.term_months"
    await subs.sleep_days(31)  # no payment method: suspend mode
    details = assert_error(await subs.command(view["id"], "plan", {"term_months": 12}), 409, "subscription_suspended")
    assert details == {"status": "suspended", "suspension_reason": "no_payment_method"}
    unknown = await subs.command(f"nobody-{subs.app_id}", "plan", {"term_months": 12})
    assert_error(unknown, 404, "subscription_not_found")


# --- uncancel ---------------------------------------------------------------------------------


async def test_a_cancellation_for_the_term_end_is_withdrawn_and_recorded(api: Api, subs: Subscriptions):
    view = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    await subs.sleep_days(31)
    assert assert_error(await subs.command(view["id"], "uncancel"), 409, "not_cancelled") == {"status": "active"}
    await subs.ok(view["id"], "cancel")

    uncancelled = await subs.ok(view["id"], "uncancel")

    assert uncancelled["cancel_at"] is None and uncancelled["status"] == "active"
    assert uncancelled["history"][-1]["action"] == "uncancelled"
    assert await changes_of(api, view["id"], "subscription.uncancel") == [
        {"status": "active", "renews_at": uncancelled["current_term_end"]}
    ]
    await subs.sleep_days(31)
    assert (await subs.view(view["id"]))["term_number"] == 2


async def test_a_cancellation_in_the_trial_took_effect_and_cannot_be_withdrawn(subs: Subscriptions):
    view = await subs.book(payment_method=METHODS["credit_card"])
    await subs.ok(view["id"], "cancel")
    details = assert_error(await subs.command(view["id"], "uncancel"), 409, "cancellation_effective")
    assert details == {"status": "suspended", "cancel_at": None}


async def test_only_operators_and_admins_change_plans_or_withdraw_cancellations(subs: Subscriptions):
    view = await subs.book(term_months=1, payment_method=METHODS["credit_card"])
    for role in ("auditor", "isv_a", "pm", "account_manager", "channel_partner"):
        assert_error(await subs.command(view["id"], "plan", {"term_months": 12}, as_role=role), 403, "forbidden")
        assert_error(await subs.command(view["id"], "uncancel", as_role=role), 403, "forbidden")
    assert (await subs.command(view["id"], "plan", {"term_months": 12}, as_role="admin")).status_code == 200
