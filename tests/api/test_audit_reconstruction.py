"""Auditors reconstruct who did what, when and why from two independent records that agree: Temporal's event history
(GET /audit/workflows/{id}/history) and the audit log (GET /audit/log), for a scripted onboarding, a subscription
from trial through paid, cancellation and suspend mode to termination, and a partner's programme year.

The module has an app and database of its own (the `api` fixture is per module), so the log holds this script only;
the last test changes a row behind the database's back, so it runs last.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest_asyncio
from sqlalchemy import text

from domain.ids import onboarding_workflow_id, partner_workflow_id, subscription_workflow_id
from domain.onboarding.config import StageId
from domain.partners.rules import year_end
from domain.payouts import payout_workflow_id
from store.db import create_engine, create_session_factory
from tests.api.conftest import (
    AM,
    KEYS,
    METHODS,
    PM,
    Api,
    Partners,
    Subscriptions,
    assert_error,
    auth,
    eventually,
    sleep_days,
)
from tests.workflow.test_payout_workflow import book

OPERATOR = KEYS["operator"]["subject"]
ADMIN = KEYS["admin"]["subject"]
# A month no other test pays out: payout workflow ids are per month on the shared test server.
PAYOUT_MONTH = "2017-06"
AUDITOR = auth("auditor")
# The commands that start a process; every other accepted command is a Workflow Update.
STARTS = {"onboarding.start", "subscription.book", "partner.enrol"}


@dataclass
class Script:
    onboarding: str  # workflow ids
    subscription: str
    partner: str
    refused_request_id: str


async def history(api: Api, workflow_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/api/v1/audit/workflows/{workflow_id}/history", headers=AUDITOR)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def log(api: Api, **filters: str) -> list[dict[str, Any]]:
    response = await api.http.get("/api/v1/audit/log", params={"page_size": 500, **filters}, headers=AUDITOR)
    assert response.status_code == 200, response.text
    assert response.json()["next_page_token"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def temporal(timeline: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in timeline["events"] if e["type"] == kind and e["source"] == "temporal"]


def completed_activities(timeline: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in temporal(timeline, "activity_completed") if e["details"]["activity_type"] == name]


def scheduled_inputs(timeline: dict[str, Any], name: str) -> list[Any]:
    return [
        e["details"]["input"] for e in temporal(timeline, "activity_scheduled") if e["details"]["activity_type"] == name
    ]


async def run_script(api: Api) -> Script:
    # The onboarding: a partner manager takes the app to go-live; one early advance is refused on the way.
    onboarding = (await api.start())["id"]
    await api.pass_stage(onboarding, StageId.IDENTIFICATION)
    refused = await api.command(onboarding, "advance", {"comment": "too early"})
    assert_error(refused, 409, "criteria_unmet")
    for stage in (StageId.FEASIBILITY, StageId.COMMERCIAL, StageId.INTEGRATION, StageId.GO_LIVE):
        await api.pass_stage(onboarding, stage)
    await api.env.client.get_workflow_handle(onboarding_workflow_id(onboarding)).result()
    app_id = (await api_view(api, onboarding))["app"]["id"]

    # A channel partner sells it: the account manager enrols the partner and records a contract.
    partners = Partners(api)
    enrolled = await partners.enrol(last_year_points=8_000)
    partner = enrolled["id"]
    assert (await partners.contract(partner, "lic-1", quantity=10)).status_code == 201

    # The subscription: trial, paid, cancelled to the end of the term, suspend mode with an export, terminated.
    subs = Subscriptions(api, app_id, app_id)
    subscription = (await subs.book(payment_method=METHODS["direct_debit"], channel_partner_id=partner, term_months=1))[
        "id"
    ]
    await subs.sleep_days(31)  # the trial ends: the first invoice is issued and paid
    cancelled = await subs.ok(subscription, "cancel", {"reason": "moving to another tool"})
    await subs.sleep_days(31)  # the term ends: suspend mode
    assert (await subs.view(subscription))["status"] == "suspended", cancelled
    await subs.ok(subscription, "export-request", {})
    await subs.sleep_days(31)  # suspend mode ends: the data is deleted, the subscription terminated
    await subs.wait_until_ended(subscription)

    # The partner's programme year ends: the tier review decides.
    now = await api.env.get_current_time()
    if now < year_end(enrolled["year"]):
        await sleep_days(api.env, (year_end(enrolled["year"]) - now).total_seconds() / 86_400 + 1)
    await eventually(lambda: history(api, partner_workflow_id(partner)), lambda body: len(body["runs"]) >= 2)
    await partners.finish()
    return Script(
        onboarding_workflow_id(onboarding),
        subscription_workflow_id(subscription),
        partner_workflow_id(partner),
        refused.headers["X-Request-ID"],
    )


async def api_view(api: Api, onboarding: str) -> dict[str, Any]:
    response = await api.http.get(f"/api/v1/onboardings/{onboarding}", headers=auth("pm"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest_asyncio.fixture(scope="module")
async def script(api: Api) -> AsyncIterator[Script]:
    yield await run_script(api)


# --- the history names every actor and step ---------------------------------------------------


async def test_the_onboarding_history_names_the_partner_manager_for_every_step(api: Api, script: Script):
    timeline = await history(api, script.onboarding)
    started = temporal(timeline, "workflow_started")[0]
    assert started["actor"] == PM
    updates = temporal(timeline, "update_accepted")
    assert {update["actor"] for update in updates} == {PM}
    assert {update["details"]["update"] for update in updates} >= {"complete_item", "set_terms", "advance"}
    assert completed_activities(timeline, "catalogue.publish_app")
    assert temporal(timeline, "workflow_completed")


async def test_the_subscription_history_names_operator_timers_and_system_steps(api: Api, script: Script):
    timeline = await history(api, script.subscription)
    assert temporal(timeline, "workflow_started")[0]["actor"] == OPERATOR
    assert [(u["actor"], u["details"]["update"]) for u in temporal(timeline, "update_accepted")] == [
        (OPERATOR, "cancel"),
        (OPERATOR, "request_export"),
    ]
    fired = temporal(timeline, "timer_fired")
    assert fired and {entry["actor"] for entry in fired} == {"timer"}
    for name in ("billing.settle_invoice", "exports.produce"):
        assert completed_activities(timeline, name), name
    # Snapshots on their own, and with the ISV connector call of their step (provision, suspend, deprovision).
    statuses = [record["status"] for record in scheduled_inputs(timeline, "subscription.record")] + [
        step["record"]["status"] for step in scheduled_inputs(timeline, "connector.record_and_call")
    ]
    assert {"trialing", "active", "suspended", "terminated"} <= set(statuses)
    assert temporal(timeline, "workflow_completed")


async def test_the_partner_history_names_the_account_manager_and_the_year_end_decision(api: Api, script: Script):
    timeline = await history(api, script.partner)
    assert temporal(timeline, "workflow_started")[0]["actor"] == AM
    assert [(u["actor"], u["details"]["update"]) for u in temporal(timeline, "update_accepted")] == [
        (AM, "record_contracts")
    ]
    assert completed_activities(timeline, "partner.record_tier_decision")
    assert len(timeline["runs"]) >= 2  # the year end continued the workflow as new


# --- the audit log has a row for each command and system action --------------------------------


async def test_the_log_has_a_row_for_every_command_of_the_script(api: Api, script: Script):
    onboarding = await log(api, target=script.onboarding)
    assert [(e["action"], e["outcome"]) for e in onboarding][:3] == [
        ("onboarding.start", "accepted"),
        ("onboarding.advance", "accepted"),
        ("onboarding.advance", "refused"),
    ]
    assert {e["subject"] for e in onboarding} == {PM}
    subscription = [e for e in await log(api, target=script.subscription) if e["kind"] == "command"]
    assert [(e["subject"], e["action"]) for e in subscription] == [
        (OPERATOR, "subscription.book"),
        (OPERATOR, "subscription.cancel"),
        (OPERATOR, "subscription.request_export"),
    ]
    partner = [e for e in await log(api, target=script.partner) if e["kind"] == "command"]
    assert [(e["subject"], e["action"]) for e in partner] == [(AM, "partner.enrol"), (AM, "partner.record_contract")]


async def test_the_log_has_a_row_for_every_system_action_of_the_script(api: Api, script: Script):
    subscription = [e["action"] for e in await log(api, target=script.subscription) if e["kind"] == "system"]
    for action in (
        "invoice.issued",
        "payment.recorded",
        "subscription.suspended",
        "export.produced",
        "customer_data.deleted",
        "subscription.terminated",
    ):
        assert subscription.count(action) >= 1, (action, subscription)
    partner = [e["action"] for e in await log(api, target=script.partner) if e["kind"] == "system"]
    assert len([a for a in partner if a in ("partner.tier_changed", "partner.tier_kept")]) == 1
    assert {e["subject"] for e in await log(api, action="invoice.issued")} == {"system"}


# --- the two records agree -----------------------------------------------------------------------


async def test_every_accepted_command_is_an_update_in_the_history_with_the_same_id_and_actor(api: Api, script: Script):
    for workflow_id in (script.onboarding, script.subscription, script.partner):
        timeline = await history(api, workflow_id)
        in_history = {
            (u["details"]["update_id"], u["actor"], u["details"]["update"])
            for u in temporal(timeline, "update_accepted")
        }
        commands = [
            e
            for e in await log(api, target=workflow_id, outcome="accepted")
            if e["kind"] == "command" and e["action"] not in STARTS
        ]
        in_log = {(e["idempotency_key"] or e["request_id"], e["subject"]) for e in commands}
        assert {(update_id, actor) for update_id, actor, _ in in_history} == in_log, workflow_id
        # And the same command name: the log's action ends with the Update's name (or its plural for contracts).
        names = {update_id: name for update_id, _, name in in_history}
        for entry in commands:
            assert names[entry["idempotency_key"] or entry["request_id"]].startswith(entry["action"].split(".")[1])
        [start] = [e for e in await log(api, target=workflow_id) if e["action"] in STARTS]
        assert start["subject"] == temporal(timeline, "workflow_started")[0]["actor"]


async def test_refused_commands_appear_in_the_history_from_the_audit_log(api: Api, script: Script):
    timeline = await history(api, script.onboarding)
    refused = [e for e in timeline["events"] if e["source"] == "audit_log"]
    assert [(e["actor"], e["details"]["request_id"]) for e in refused] == [(PM, script.refused_request_id)]
    assert "criteria_unmet" in refused[0]["summary"]
    # Parsed, not compared as text: "…:21Z" and "…:21.004Z" sort wrongly as strings.
    times = [datetime.fromisoformat(e["time"]) for e in timeline["events"]]
    assert times == sorted(times)


async def test_every_system_action_in_the_log_matches_an_activity_in_the_history(api: Api, script: Script):
    timeline = await history(api, script.subscription)
    system = [e for e in await log(api, target=script.subscription) if e["kind"] == "system"]
    issued = {e["event_key"].split(":", 1)[1] for e in system if e["action"] == "invoice.issued"}
    settled = scheduled_inputs(timeline, "billing.settle_invoice")
    assert issued == {s["issue"]["invoice"]["number"] for s in settled if s["issue"] is not None}
    exports = {e["event_key"].split(":", 1)[1] for e in system if e["action"] == "export.produced"}
    assert exports == {i["export_id"] for i in scheduled_inputs(timeline, "exports.produce")}
    steps = scheduled_inputs(timeline, "connector.record_and_call")
    deprovisions = [step for step in steps if step["call"]["action"] == "deprovision"]
    assert len([e for e in system if e["action"] == "customer_data.deleted"]) == len(deprovisions) == 1
    partner_timeline = await history(api, script.partner)
    [decision] = scheduled_inputs(partner_timeline, "partner.record_tier_decision")
    [entry] = [e for e in await log(api, target=script.partner) if e["kind"] == "system"]
    assert str(decision["year"]) in entry["event_key"]


async def test_a_payout_run_names_the_admin_in_both_records_and_logs_each_transfer_once(api: Api, script: Script):
    engine = create_engine(api.settings.database_url)
    await book(create_session_factory(engine), ("isv-nord", PAYOUT_MONTH, 1_000), ("isv-sued", PAYOUT_MONTH, 2_500))
    await engine.dispose()
    response = await api.http.post(f"/api/v1/payouts/{PAYOUT_MONTH}/run", headers=auth("admin"))
    assert response.status_code == 200, response.text
    workflow_id = payout_workflow_id(PAYOUT_MONTH)

    timeline = await history(api, workflow_id)
    entries = await log(api, target=workflow_id)

    assert temporal(timeline, "workflow_started")[0]["actor"] == ADMIN
    transferred = {
        e["details"]["input"]["isv_id"]
        for e in temporal(timeline, "activity_scheduled")
        if e["details"]["activity_type"] == "payouts.transfer"
    }
    assert transferred == {"isv-nord", "isv-sued"}
    assert [(e["subject"], e["action"], e["outcome"]) for e in entries if e["kind"] == "command"] == [
        (ADMIN, "payout.run", "accepted")
    ]
    logged = sorted(e["event_key"] for e in entries if e["action"] == "payout.transferred")
    assert logged == [f"payout.transferred:{isv}:{PAYOUT_MONTH}" for isv in sorted(transferred)]


# --- tamper evidence -------------------------------------------------------------------------------


async def test_verify_passes_on_the_untouched_log(api: Api, script: Script):
    result = (await api.http.get("/api/v1/audit/verify", headers=AUDITOR)).json()
    everything = await log(api)
    assert result == {
        "ok": True,
        "checked": len(everything),
        "last_hash": everything[-1]["hash"],
        "first_broken": None,
        "queued": 0,
        "unresolved_commands": 0,
        "cross_check": None,
    }


async def test_editing_one_row_in_the_database_makes_verify_report_it(api: Api, script: Script):
    [cancel] = [e for e in await log(api, target=script.subscription) if e["action"] == "subscription.cancel"]
    engine = create_engine(api.settings.database_url)
    async with engine.begin() as connection:
        # Only someone with the database file could do this: drop the append-only trigger, then rewrite history.
        await connection.execute(text("DROP TRIGGER audit_log_no_update"))
        await connection.execute(text("UPDATE audit_log SET subject = 'someone-else' WHERE seq = :seq"), cancel)
    await engine.dispose()
    result = (await api.http.get("/api/v1/audit/verify", headers=AUDITOR)).json()
    assert result["ok"] is False
    assert result["first_broken"]["seq"] == cancel["seq"]
    assert result["checked"] == cancel["seq"] - 1
