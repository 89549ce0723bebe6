"""Onboarding commands through the API: each answers with the workflow's view and names the caller as actor."""

from datetime import timedelta
from typing import Any

from domain.onboarding.config import StageId
from tests.api.conftest import ISV_A, ISV_B, PM, TERMS, Api, auth, eventually


def actions(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["actor"], entry["action"]) for entry in view["history"]]


async def test_starting_an_onboarding_answers_201_with_its_view(api: Api):
    body = api.request_body()
    response = await api.http.post("/api/v1/onboardings", json=body, headers=auth("pm"))

    assert response.status_code == 201, response.text
    view = response.json()
    api.started.append(view["id"])
    assert view["id"] == f"{ISV_A}-{body['app']['id']}"
    assert view["stage"] == "identification"
    assert view["status"] == "in_progress"
    assert view["sla_status"] == "on_track"
    assert view["partner_manager"] == PM
    assert view["unmet_criteria"] == []  # identification's criteria follow from the request itself
    assert actions(view) == [(PM, "started")]


async def test_reading_an_onboarding_answers_its_view(api: Api):
    started = await api.start()
    response = await api.http.get(f"/api/v1/onboardings/{started['id']}", headers=auth("pm"))
    assert response.status_code == 200
    assert response.json() == started


async def test_completing_and_undoing_a_checklist_item_records_who_and_why(api: Api):
    view = await api.start()
    await api.ok(view["id"], "advance")

    done = await api.ok(view["id"], "checklist/technical_assessment_passed", {"comment": "load test passed"})
    item = next(i for s in done["checklist"] for i in s["items"] if i["id"] == "technical_assessment_passed")
    assert item["done"] and item["done_by"] == PM
    last = done["history"][-1]
    assert (last["actor"], last["action"], last["item"], last["comment"]) == (
        PM,
        "item_completed",
        "technical_assessment_passed",
        "load test passed",
    )

    response = await api.http.delete(
        f"/api/v1/onboardings/{view['id']}/checklist/technical_assessment_passed", headers=auth("pm")
    )
    assert response.status_code == 200, response.text
    undone = response.json()
    assert "technical_assessment_passed" in undone["unmet_criteria"]
    assert undone["history"][-1]["action"] == "item_undone"


async def test_commercial_terms_are_set_in_the_commercial_stage(api: Api):
    view = await api.start()
    await api.walk_to(view["id"], StageId.COMMERCIAL)

    response = await api.http.put(f"/api/v1/onboardings/{view['id']}/commercial-terms", json=TERMS, headers=auth("pm"))

    assert response.status_code == 200, response.text
    terms = response.json()["commercial_terms"]
    assert terms["revenue_share_percent"] == 70
    assert terms["trial_days"] == 30 and terms["listing_fee_cents"] == 0
    assert response.json()["unmet_criteria"] == ["contract_signed"]


async def test_hold_stops_the_clock_and_resume_starts_it(api: Api):
    view = await api.start()

    held = await api.ok(view["id"], "hold", {"reason": "ISV reorganises its team"})
    assert held["status"] == "on_hold" and held["on_hold_since"] is not None

    resumed = await api.ok(view["id"], "resume", {})
    assert resumed["status"] == "in_progress" and resumed["on_hold_since"] is None
    assert [a for _, a in actions(resumed)][-2:] == ["held", "resumed"]

    # An empty body is a valid resume too.
    await api.ok(view["id"], "hold", {"reason": "again"})
    assert (await api.ok(view["id"], "resume"))["status"] == "in_progress"


async def test_reassigning_hands_the_onboarding_to_another_partner_manager(api: Api):
    view = await api.start()
    reassigned = await api.ok(view["id"], "reassign", {"partner_manager": "pm-bert", "comment": "holiday"})
    assert reassigned["partner_manager"] == "pm-bert"
    assert reassigned["history"][-1]["comment"] == f"{PM} -> pm-bert: holiday"


async def test_rejecting_ends_the_onboarding_with_the_reason(api: Api):
    view = await api.start()
    rejected = await api.ok(view["id"], "reject", {"reason": "hosting outside the EU"})
    assert rejected["status"] == "rejected"
    assert rejected["history"][-1]["comment"] == "hosting outside the EU"


async def test_a_command_names_the_authenticated_subject_as_actor(api: Api):
    view = await api.start(as_role="admin")
    response = await api.command(view["id"], "advance", {"comment": "by the admin"}, as_role="admin")
    assert response.status_code == 200
    assert actions(response.json()) == [("admin-ada", "started"), ("admin-ada", "advanced")]


async def test_an_idempotency_key_applies_a_retried_command_once(api: Api):
    view = await api.start()
    headers = auth("pm") | {"Idempotency-Key": "advance-1"}
    url = f"/api/v1/onboardings/{view['id']}/advance"

    first = await api.http.post(url, json={"comment": "go"}, headers=headers)
    retried = await api.http.post(url, json={"comment": "go"}, headers=headers)

    assert first.status_code == retried.status_code == 200
    assert retried.json() == first.json()
    current = (await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("pm"))).json()
    assert current["stage"] == "feasibility"
    assert [a for _, a in actions(current)].count("advanced") == 1


async def test_a_full_walk_goes_live_and_publishes_the_app_with_plans_and_revenue_share(api: Api):
    view = await api.start()
    app_id = view["app"]["id"]
    await api.walk_to(view["id"], StageId.GO_LIVE)

    live = await api.pass_stage(view["id"], StageId.GO_LIVE)

    assert live["status"] == "live"
    assert live["finished_at"] is not None
    assert [a for _, a in actions(live)].count("advanced") == 4
    assert actions(live)[-1] == (PM, "went_live")

    response = await api.http.get(f"/api/v1/apps/{app_id}", headers=auth("isv_a"))
    assert response.status_code == 200, response.text
    app = response.json()
    assert app | {"published_at": None} == {
        "id": app_id,
        "isv_id": ISV_A,
        "name": "Acme CRM",
        "category": "crm_customer_management",
        "revenue_share_percent": 70.0,
        "trial_days": 30,
        "listing_fee_cents": 0,
        "plans": [{"term_months": 1, "monthly_price_cents": 1990}, {"term_months": 12, "monthly_price_cents": 1490}],
        "published_at": None,
    }

    listed = (await api.http.get("/api/v1/apps", headers=auth("operator"))).json()["items"]
    assert app_id in [item["id"] for item in listed]
    by_category = await api.http.get("/api/v1/apps?category=crm_customer_management", headers=auth("pm"))
    assert app_id in [item["id"] for item in by_category.json()["items"]]
    other_category = await api.http.get("/api/v1/apps?category=hr", headers=auth("pm"))
    assert app_id not in [item["id"] for item in other_category.json()["items"]]
    by_isv = await api.http.get(f"/api/v1/apps?isv_id={ISV_B}", headers=auth("pm"))
    assert by_isv.json()["items"] == []


async def test_the_revenue_share_is_shown_to_staff_and_the_owning_isv_only(api: Api):
    view = await api.start()
    await api.walk_to(view["id"], StageId.GO_LIVE)
    await api.pass_stage(view["id"], StageId.GO_LIVE)
    url = f"/api/v1/apps/{view['app']['id']}"

    for role in ("admin", "pm", "auditor", "operator", "isv_a"):
        assert (await api.http.get(url, headers=auth(role))).json()["revenue_share_percent"] == 70.0, role
    other_isv = (await api.http.get(url, headers=auth("isv_b"))).json()
    assert other_isv["revenue_share_percent"] is None
    assert other_isv["plans"]  # the prices are public, only the share is not
    listed = (await api.http.get("/api/v1/apps", headers=auth("isv_b"))).json()["items"]
    assert all(item["revenue_share_percent"] is None for item in listed if item["isv_id"] != ISV_B)


async def test_the_sla_status_read_follows_time_on_the_workflow_clock(api: Api):
    view = await api.start()
    url = f"/api/v1/onboardings/{view['id']}"

    async def read() -> dict[str, Any]:
        view: dict[str, Any] = (await api.http.get(url, headers=auth("pm"))).json()
        return view

    await api.env.sleep(timedelta(days=6))  # past identification's 5-day budget
    # The notice is recorded once its activity is done, a moment after the timer fired.
    at_risk = await eventually(read, lambda view: len(view["notifications"]) == 1)
    assert at_risk["sla_status"] == "at_risk"
    assert [n["kind"] for n in at_risk["notifications"]] == ["reminder"]

    await api.env.sleep(timedelta(days=37))  # past the 42-day target
    overdue = await eventually(read, lambda view: len(view["notifications"]) == 2)
    assert overdue["sla_status"] == "overdue"
    assert [n["kind"] for n in overdue["notifications"]] == ["reminder", "escalation"]
