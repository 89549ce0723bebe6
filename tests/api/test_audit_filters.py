"""The audit log is filtered by the business ids the rest of the API uses (onboarding, app, ISV, subscription,
customer, channel partner), exactly: a filter never matches an id that merely starts like it. Accepted commands say
what they changed, in ids, stages and amounts, and never carry personal data."""

import json
import uuid
from typing import Any

from domain.onboarding.config import StageId
from tests.api.conftest import METHODS, PM, Api, Partners, Subscriptions, assert_error, auth


async def entries(api: Api, **filters: str) -> list[dict[str, Any]]:
    response = await api.http.get("/api/v1/audit/log", params={**filters, "page_size": 500}, headers=auth("auditor"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def actions(found: list[dict[str, Any]]) -> list[str]:
    return [entry["action"] for entry in found]


async def test_each_onboarding_id_finds_exactly_that_onboardings_isvs_and_apps_entries(api: Api):
    run = uuid.uuid4().hex[:6]
    isv, longer_isv = f"iso-{run}", f"iso-{run}-x"  # the one ISV's id is the start of the other's
    app, longer_app = f"app-{run}", f"app-{run}2"
    first = await api.start(isv=isv, app=app)
    second = await api.start(isv=isv, app=longer_app)
    other = await api.start(isv=longer_isv, app=f"app-{run}3")
    await api.ok(first["id"], "advance")
    await api.ok(second["id"], "hold", {"reason": "waiting for the ISV"})

    found = await entries(api, onboarding_id=first["id"])
    assert actions(found) == ["onboarding.start", "onboarding.advance"]
    assert {(e["onboarding_id"], e["isv_id"], e["app_id"], e["target"]) for e in found} == {
        (first["id"], isv, app, f"onboarding-{first['id']}")
    }
    assert actions(await entries(api, app_id=app)) == actions(found)
    assert actions(await entries(api, app_id=longer_app)) == ["onboarding.start", "onboarding.hold"]
    by_isv = await entries(api, isv_id=isv)
    assert {e["onboarding_id"] for e in by_isv} == {first["id"], second["id"]}
    assert {e["onboarding_id"] for e in await entries(api, isv_id=longer_isv)} == {other["id"]}
    # Combined with the filters that were there before.
    assert actions(await entries(api, isv_id=isv, action="onboarding.hold")) == ["onboarding.hold"]


async def test_a_subscriptions_entries_are_found_by_its_customer_app_isv_and_channel_partner(
    api: Api, subs: Subscriptions
):
    run = uuid.uuid4().hex[:6]
    customer, longer_customer, partner = f"cust-{run}", f"cust-{run}-2", f"nord-{run}"
    booked = await subs.book(customer=customer, channel_partner_id=partner, payment_method=METHODS["credit_card"])
    other = await subs.book(customer=longer_customer)
    await subs.ok(booked["id"], "cancel", {})

    found = await entries(api, customer_id=customer)
    # Cancelled in its trial, it goes into suspend mode at once: the system's entry is the subscription's too.
    assert sorted(actions(found)) == ["subscription.book", "subscription.cancel", "subscription.suspended"]
    assert {(e["subscription_id"], e["app_id"], e["isv_id"], e["partner_id"]) for e in found} == {
        (booked["id"], subs.app_id, booked["isv_id"], partner)
    }
    assert actions(await entries(api, subscription_id=booked["id"])) == actions(found)
    assert actions(await entries(api, partner_id=partner)) == actions(found)
    assert {e["subscription_id"] for e in await entries(api, app_id=subs.app_id)} == {booked["id"], other["id"]}
    assert {e["customer_id"] for e in await entries(api, customer_id=longer_customer)} == {longer_customer}


async def test_a_partners_entries_are_found_by_its_id_and_a_contract_says_what_it_earned(api: Api, partners: Partners):
    partner = (await partners.enrol())["id"]
    longer = (await partners.enrol(partner_id=f"{partner}-2"))["id"]
    response = await partners.contract(partner, kind="digital_phone_licenses", quantity=2)
    assert response.status_code in (200, 201), response.text

    found = await entries(api, partner_id=partner)
    assert actions(found) == ["partner.enrol", "partner.record_contract"]
    contract = found[-1]["changes"]
    assert contract["kind"] == "digital_phone_licenses"
    assert contract["quantity"] == 2
    assert contract["points_awarded"] == response.json()["points_awarded"] > 0
    assert actions(await entries(api, partner_id=longer)) == ["partner.enrol"]


async def test_accepted_onboarding_commands_say_which_item_which_stages_and_which_terms(api: Api):
    view = await api.start()
    await api.walk_to(view["id"], StageId.COMMERCIAL)
    await api.pass_stage(view["id"], StageId.COMMERCIAL)
    await api.ok(view["id"], "reassign", {"partner_manager": "pm-bert", "comment": "Anna is on leave"})
    found = await entries(api, onboarding_id=view["id"])
    by_action: dict[str, list[dict[str, Any]]] = {}
    for entry in found:
        by_action.setdefault(entry["action"], []).append(entry["changes"])

    assert by_action["onboarding.start"] == [
        {"stage": "identification", "partner_manager": PM, "category": "crm_customer_management"}
    ]
    assert by_action["onboarding.complete_item"][0] == {"item": "technical_assessment_passed"}
    assert by_action["onboarding.advance"][0] == {"from_stage": "identification", "to_stage": "feasibility"}
    assert by_action["onboarding.advance"][-1] == {"from_stage": "commercial", "to_stage": "integration"}
    assert by_action["onboarding.set_terms"] == [
        {
            "revenue_share_percent": 70,
            "trial_days": 30,
            "listing_fee_cents": 0,
            "monthly_price_cents_1_months": 1990,
            "monthly_price_cents_12_months": 1490,
        }
    ]
    assert by_action["onboarding.reassign"] == [{"partner_manager": "pm-bert"}]


async def test_accepted_subscription_commands_name_the_booking_and_no_personal_data(api: Api, subs: Subscriptions):
    booked = await subs.book(term_months=12, payment_method=METHODS["direct_debit"])
    await subs.ok(booked["id"], "payment-method", METHODS["credit_card"], method="PUT")
    cancelled = await subs.ok(booked["id"], "cancel", {"reason": "the managing director, Erika Muster, decided"})
    found = await entries(api, subscription_id=booked["id"])
    changes = {entry["action"]: entry["changes"] for entry in found}

    assert changes["subscription.book"] | {"trial_ends_at": None} == {
        "app_id": subs.app_id,
        "term_months": 12,
        "monthly_price_cents": 1490,
        "payment_method_type": "direct_debit",
        "status": "trialing",
        "trial_ends_at": None,
    }
    assert changes["subscription.change_payment_method"] == {"payment_method_type": "credit_card"}
    # Cancelled in its trial: effective at once.
    assert changes["subscription.cancel"] == {"suspended_at": cancelled["suspended_at"], "status": "suspended"}
    text = json.dumps(found)
    for personal in ("Beispiel GmbH", "DE89370400440532013000", "MANDATE-0001", "tok_success", "Erika"):
        assert personal not in text


async def test_refused_commands_carry_no_changes_but_still_name_their_objects(api: Api):
    view = await api.start()
    await api.ok(view["id"], "advance")
    assert_error(await api.command(view["id"], "advance"), 409, "criteria_unmet")
    refused = [e for e in await entries(api, onboarding_id=view["id"]) if e["outcome"] == "refused"]
    assert [(e["action"], e["changes"], e["isv_id"]) for e in refused] == [
        ("onboarding.advance", None, view["isv"]["id"])
    ]


async def test_a_business_id_filter_of_the_wrong_form_is_invalid(api: Api):
    response = await api.http.get("/api/v1/audit/log?isv_id=Not A Slug", headers=auth("auditor"))
    assert_error(response, 422, "validation_error")


async def test_the_csv_export_has_the_business_ids_and_changes(api: Api):
    view = await api.start()
    await api.ok(view["id"], "advance")
    response = await api.http.get(
        "/api/v1/audit/log", params={"format": "csv", "onboarding_id": view["id"]}, headers=auth("auditor")
    )
    assert response.status_code == 200, response.text
    header, *rows = response.text.splitlines()
    assert {"onboarding_id", "isv_id", "app_id", "changes"} <= set(header.split(","))
    assert len(rows) == 2
    assert '""to_stage"": ""feasibility""' in rows[1]
