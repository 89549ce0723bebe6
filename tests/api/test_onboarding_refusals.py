"""What the API refuses, and how: 409 with the rule's reason, 404 for unknown ids, 422 for invalid input."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.ids import onboarding_workflow_id
from domain.onboarding.config import StageId
from store import models
from store.db import create_engine, create_session_factory
from tests.activities.loopback import closed_port_url
from tests.api.conftest import ISV_A, ISV_B, TERMS, Api, assert_error, auth, new_onboarding_id

# --- 409: the process refuses the command now --------------------------------------------------


async def test_advancing_with_unmet_criteria_is_refused_naming_them(api: Api):
    view = await api.start()
    await api.ok(view["id"], "advance")
    await api.ok(view["id"], "checklist/eu_hosting_confirmed")

    details = assert_error(await api.command(view["id"], "advance"), 409, "criteria_unmet")

    assert details == {"stage": "feasibility", "unmet": ["technical_assessment_passed", "data_export_confirmed"]}
    message = (await api.command(view["id"], "advance")).json()["error"]["message"]
    assert "technical_assessment_passed" in message and "data_export_confirmed" in message


async def test_skipping_a_stage_via_to_stage_is_refused(api: Api):
    view = await api.start()
    details = assert_error(await api.command(view["id"], "advance", {"to_stage": "commercial"}), 409, "stage_skip")
    assert details == {"stage": "identification", "requested": "commercial", "next": "feasibility"}
    # Naming the next stage is allowed.
    assert (await api.ok(view["id"], "advance", {"to_stage": "feasibility"}))["stage"] == "feasibility"


async def test_ticking_an_item_of_another_stage_is_refused(api: Api):
    view = await api.start()
    details = assert_error(await api.command(view["id"], "checklist/sso_tested"), 409, "item_not_in_current_stage")
    assert details == {"item": "sso_tested", "item_stage": "integration", "stage": "identification"}


async def test_ticking_a_criterion_that_follows_from_data_is_refused(api: Api):
    view = await api.start()
    details = assert_error(
        await api.command(view["id"], "checklist/partner_manager_assigned"), 409, "criterion_not_tickable"
    )
    assert details["source"] == "partner_manager"


async def test_setting_terms_outside_the_commercial_stage_is_refused(api: Api):
    view = await api.start()
    response = await api.http.put(f"/api/v1/onboardings/{view['id']}/commercial-terms", json=TERMS, headers=auth("pm"))
    assert assert_error(response, 409, "terms_outside_commercial_stage") == {"stage": "identification"}


async def test_hold_and_resume_are_refused_when_they_change_nothing(api: Api):
    view = await api.start()
    assert_error(await api.command(view["id"], "resume"), 409, "not_on_hold")
    await api.ok(view["id"], "hold", {"reason": "waiting for the ISV"})
    assert_error(await api.command(view["id"], "hold", {"reason": "again"}), 409, "already_on_hold")
    assert_error(await api.command(view["id"], "advance"), 409, "on_hold")


async def test_reassigning_to_the_current_partner_manager_is_refused(api: Api):
    view = await api.start()
    assert_error(
        await api.command(view["id"], "reassign", {"partner_manager": view["partner_manager"]}), 409, "already_assigned"
    )


async def test_starting_the_same_onboarding_twice_is_refused(api: Api):
    view = await api.start()
    again = await api.http.post(
        "/api/v1/onboardings", json=api.request_body(app=view["app"]["id"]), headers=auth("admin")
    )
    assert assert_error(again, 409, "onboarding_exists") == {"onboarding_id": view["id"]}


async def test_starting_with_an_app_id_another_isv_has_in_the_catalogue_is_refused(api: Api):
    app_id, _ = new_onboarding_id()
    engine = create_engine(api.settings.database_url)
    now = datetime.now(UTC)
    async with create_session_factory(engine).begin() as session:
        session.add(models.Isv(id=ISV_B, name="Globex", contact_email="p@globex.example", created_at=now))
        await session.flush()
        session.add(
            models.App(
                id=app_id,
                isv_id=ISV_B,
                name="Globex CRM",
                category="crm_customer_management",
                revenue_share_percent=60,
                trial_days=30,
                listing_fee_cents=0,
                onboarding_id=f"{ISV_B}-{app_id}",
                published_at=now,
            )
        )
    await engine.dispose()

    response = await api.http.post("/api/v1/onboardings", json=api.request_body(app=app_id), headers=auth("pm"))

    assert assert_error(response, 409, "app_id_taken") == {"app_id": app_id}


async def test_an_app_id_belongs_to_the_isv_whose_onboarding_started_first(api: Api):
    first = await api.start(isv=ISV_A)
    app_id = first["app"]["id"]

    second = await api.http.post(
        "/api/v1/onboardings", json=api.request_body(isv=ISV_B, app=app_id), headers=auth("pm")
    )

    assert assert_error(second, 409, "app_id_taken") == {"app_id": app_id}
    # The first ISV's onboarding goes on to go-live, and the listing is its own.
    await api.walk_to(first["id"], StageId.GO_LIVE)
    assert (await api.pass_stage(first["id"], StageId.GO_LIVE))["status"] == "live"
    listing = await api.http.get(f"/api/v1/apps/{app_id}", headers=auth("pm"))
    assert listing.json()["isv_id"] == ISV_A


async def test_of_isvs_starting_onboardings_of_one_app_id_at_once_exactly_one_starts(api: Api):
    app_id, _ = new_onboarding_id()
    bodies = [api.request_body(isv=f"racer{n}-{ISV_A}", app=app_id) for n in range(8)]

    responses = await asyncio.gather(
        *(api.http.post("/api/v1/onboardings", json=body, headers=auth("pm")) for body in bodies)
    )

    started = [response.json()["id"] for response in responses if response.status_code == 201]
    api.started += started
    assert len(started) == 1, [response.text for response in responses]
    refused = [response for response in responses if response.status_code != 201]
    assert [assert_error(response, 409, "app_id_taken") for response in refused] == [{"app_id": app_id}] * 7


async def _wait_until_closed(api: Api, onboarding: str) -> None:
    # Once the workflow has completed, Temporal itself refuses the Update; the API still answers 409.
    await api.env.client.get_workflow_handle(onboarding_workflow_id(onboarding)).result()


COMMANDS_ON_A_CLOSED_ONBOARDING: list[tuple[str, str, Any]] = [
    ("post", "advance", None),
    ("post", "checklist/technical_assessment_passed", None),
    ("delete", "checklist/technical_assessment_passed", None),
    ("put", "commercial-terms", TERMS),
    ("post", "reject", {"reason": "again"}),
    ("post", "hold", {"reason": "pause"}),
    ("post", "resume", None),
    ("post", "reassign", {"partner_manager": "pm-bert"}),
]


async def _assert_every_command_is_refused_as_closed(api: Api, onboarding: str, status: str) -> None:
    for method, path, body in COMMANDS_ON_A_CLOSED_ONBOARDING:
        response = await api.http.request(
            method, f"/api/v1/onboardings/{onboarding}/{path}", json=body, headers=auth("pm")
        )
        details = assert_error(response, 409, "onboarding_closed")
        assert details == {"status": status}, path
        assert status in response.json()["error"]["message"]


async def test_commands_on_a_rejected_onboarding_are_refused_as_closed(api: Api):
    view = await api.start()
    await api.ok(view["id"], "reject", {"reason": "not a portfolio fit"})
    await _wait_until_closed(api, view["id"])

    await _assert_every_command_is_refused_as_closed(api, view["id"], "rejected")
    # It can still be read.
    read = await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("auditor"))
    assert read.json()["status"] == "rejected"


async def test_commands_on_a_live_onboarding_are_refused_as_closed(api: Api):
    view = await api.start()
    await api.walk_to(view["id"], StageId.GO_LIVE)
    await api.pass_stage(view["id"], StageId.GO_LIVE)
    await _wait_until_closed(api, view["id"])

    await _assert_every_command_is_refused_as_closed(api, view["id"], "live")


async def test_a_command_right_after_rejection_is_refused_as_closed(api: Api):
    # Before the workflow has completed, its own validator refuses: same answer.
    view = await api.start()
    await api.ok(view["id"], "reject", {"reason": "not a portfolio fit"})
    assert assert_error(await api.command(view["id"], "advance"), 409, "onboarding_closed") == {"status": "rejected"}


# --- 404: unknown ids -----------------------------------------------------------------------------


async def test_an_unknown_onboarding_is_not_found(api: Api):
    _, unknown = new_onboarding_id()
    assert_error(await api.http.get(f"/api/v1/onboardings/{unknown}", headers=auth("pm")), 404, "onboarding_not_found")
    assert_error(await api.command(unknown, "advance"), 404, "onboarding_not_found")
    assert_error(await api.command(unknown, "checklist/sso_tested"), 404, "onboarding_not_found")


async def test_an_unknown_checklist_item_is_not_found(api: Api):
    view = await api.start()
    assert_error(await api.command(view["id"], "checklist/coffee_brewed"), 404, "checklist_item_not_found")
    response = await api.http.delete(f"/api/v1/onboardings/{view['id']}/checklist/coffee_brewed", headers=auth("pm"))
    assert_error(response, 404, "checklist_item_not_found")


async def test_an_unknown_app_is_not_found(api: Api):
    assert_error(await api.http.get("/api/v1/apps/no-such-app", headers=auth("pm")), 404, "app_not_found")


# --- 422: invalid input -----------------------------------------------------------------------------


def fields(response: Any) -> list[str]:
    return [detail["field"] for detail in assert_error(response, 422, "validation_error")]


async def test_a_revenue_share_of_150_percent_is_invalid(api: Api):
    view = await api.start()
    await api.walk_to(view["id"], StageId.COMMERCIAL)
    terms = TERMS | {"revenue_share_percent": 150}
    response = await api.http.put(f"/api/v1/onboardings/{view['id']}/commercial-terms", json=terms, headers=auth("pm"))
    assert fields(response) == ["body.revenue_share_percent"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"plans": [{"term_months": 6, "monthly_price_cents": 990}]}, "body.plans.0.term_months"),
        ({"plans": []}, "body.plans"),
        ({"listing_fee_cents": 500}, "body.listing_fee_cents"),
        ({"trial_days": 14}, "body.trial_days"),
    ],
    ids=["unoffered-term", "no-plans", "listing-fee", "short-trial"],
)
async def test_commercial_terms_outside_the_marketplace_terms_are_invalid(api: Api, change: dict[str, Any], field: str):
    _, onboarding = new_onboarding_id()
    response = await api.http.put(
        f"/api/v1/onboardings/{onboarding}/commercial-terms", json=TERMS | change, headers=auth("pm")
    )
    assert fields(response) == [field]


async def test_an_unknown_category_is_invalid(api: Api):
    body = api.request_body()
    body["app"]["category"] = "gardening"
    response = await api.http.post("/api/v1/onboardings", json=body, headers=auth("pm"))
    assert fields(response) == ["body.app.category"]


async def test_a_start_request_with_malformed_keys_is_invalid(api: Api):
    body = api.request_body(isv="Acme GmbH", partner_manager="")
    body["isv"]["contact_email"] = "not-an-address"
    response = await api.http.post("/api/v1/onboardings", json=body, headers=auth("pm"))
    assert sorted(fields(response)) == ["body.isv.contact_email", "body.isv.id", "body.partner_manager"]


async def test_a_malformed_onboarding_id_is_invalid(api: Api):
    assert fields(await api.http.get("/api/v1/onboardings/Acme_CRM", headers=auth("pm"))) == ["path.onboarding_id"]
    assert fields(await api.command("-acme", "advance")) == ["path.onboarding_id"]


async def test_a_malformed_app_id_is_invalid(api: Api):
    assert fields(await api.http.get("/api/v1/apps/Not_A_Slug", headers=auth("pm"))) == ["path.app_id"]


@pytest.mark.parametrize(
    "body", [None, {}, {"reason": ""}, {"reason": "   "}], ids=["no-body", "empty", "blank", "spaces"]
)
async def test_rejecting_without_a_reason_is_invalid(api: Api, body: Any):
    view = await api.start()
    assert fields(await api.command(view["id"], "reject", body)) == (["body"] if body is None else ["body.reason"])
    still = await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("pm"))
    assert still.json()["status"] == "in_progress"


async def test_holding_without_a_reason_is_invalid(api: Api):
    _, onboarding = new_onboarding_id()
    assert fields(await api.command(onboarding, "hold", {})) == ["body.reason"]


async def test_a_command_body_may_not_choose_its_actor(api: Api):
    _, onboarding = new_onboarding_id()
    assert fields(await api.command(onboarding, "advance", {"actor": "someone-else"})) == ["body.actor"]


async def test_an_unknown_target_stage_is_invalid(api: Api):
    _, onboarding = new_onboarding_id()
    assert fields(await api.command(onboarding, "advance", {"to_stage": "done"})) == ["body.to_stage"]


async def test_a_body_that_is_not_json_is_invalid_and_says_where_decoding_failed(api: Api):
    _, onboarding = new_onboarding_id()
    response = await api.http.post(
        f"/api/v1/onboardings/{onboarding}/reject",
        content=b'{"reason": "late", oops}',
        headers=auth("pm") | {"Content-Type": "application/json"},
    )
    [detail] = assert_error(response, 422, "validation_error")
    assert detail["field"] == "body"
    assert detail["message"].startswith("invalid JSON at character 19")


async def test_an_invalid_catalogue_filter_is_invalid(api: Api):
    assert fields(await api.http.get("/api/v1/apps?category=gardening", headers=auth("pm"))) == ["query.category"]
    assert fields(await api.http.get(f"/api/v1/apps?isv_id={ISV_A.upper()}", headers=auth("pm"))) == ["query.isv_id"]


async def test_a_connector_test_against_an_unreachable_endpoint_is_refused_with_the_failure(api: Api):
    onboarding = (await api.start())["id"]
    await api.walk_to(onboarding, StageId.INTEGRATION)
    endpoint = closed_port_url()
    await api.ok(onboarding, "checklist/provisioning_endpoint_registered", {"value": endpoint})

    response = await api.command(onboarding, "checklist/connector_test_passed", {})
    details = assert_error(response, 409, "connector_test_failed")
    assert details["endpoint"] == endpoint
    assert endpoint in response.json()["error"]["message"]
    view = (await api.http.get(f"/api/v1/onboardings/{onboarding}", headers=auth("pm"))).json()
    assert "connector_test_passed" in view["unmet_criteria"]


async def test_an_endpoint_that_is_not_a_url_is_invalid(api: Api):
    onboarding = (await api.start())["id"]
    await api.walk_to(onboarding, StageId.INTEGRATION)
    response = await api.command(onboarding, "checklist/provisioning_endpoint_registered", {"value": "ftp://x"})
    details = assert_error(response, 422, "validation_error")
    assert details[0]["field"] == "body.value"
