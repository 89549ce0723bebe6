"""GET /audit/workflows/{id}/history: Temporal's history of every run as a timeline auditors can read (who did what,
with which arguments and outcome, the activities, the timers and what they triggered), as CSV, and as Temporal's own
replayable JSON. Payloads are decoded with the client's data converter, whatever codec it carries."""

import csv
import dataclasses
import io
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import ActivityType, Payload, Payloads, WorkflowType
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    ActivityTaskCompletedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    ActivityTaskStartedEventAttributes,
    HistoryEvent,
    TimerFiredEventAttributes,
    TimerStartedEventAttributes,
    WorkflowExecutionStartedEventAttributes,
    WorkflowExecutionUpdateAcceptedEventAttributes,
    WorkflowExecutionUpdateCompletedEventAttributes,
    WorkflowTaskCompletedEventAttributes,
    WorkflowTaskScheduledEventAttributes,
    WorkflowTaskStartedEventAttributes,
)
from temporalio.api.update.v1 import Input, Meta, Outcome, Request
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

import worker
from activities.sandbox_gateway import signed_webhook
from api.app import create_app
from api.history import RunHistory, build_timeline
from api.history.schemas import CSV_COLUMNS, TimelineEntry
from domain.ids import onboarding_workflow_id, partner_workflow_id, subscription_workflow_id
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from domain.partners.rules import year_end
from tests.api.conftest import (
    AM,
    KEYS,
    PM,
    Api,
    Partners,
    Subscriptions,
    api_settings,
    assert_error,
    auth,
    eventually,
    sleep_days,
)

OPERATOR = KEYS["operator"]["subject"]
HISTORY = "/api/v1/audit/workflows/{}/history"


async def history(api: Api, workflow_id: str, as_role: str = "auditor", **params: Any) -> dict[str, Any]:
    response = await api.http.get(HISTORY.format(workflow_id), params=params, headers=auth(as_role))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def of_type(timeline: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [entry for entry in timeline["events"] if entry["type"] == kind]


def activities(timeline: dict[str, Any], name: str, kind: str = "activity_scheduled") -> list[dict[str, Any]]:
    return [entry for entry in of_type(timeline, kind) if entry["details"]["activity_type"] == name]


def updates(timeline: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(actor, Update name, arguments) of every accepted Update, in order."""
    return [
        (e["actor"], e["details"]["update"], e["details"]["arguments"]) for e in of_type(timeline, "update_accepted")
    ]


async def live_onboarding(api: Api) -> str:
    """An onboarding driven through the API by the partner manager from identification to go-live."""
    view = await api.start()
    await api.walk_to(view["id"], StageId.GO_LIVE)
    await api.pass_stage(view["id"], StageId.GO_LIVE)
    await api.env.client.get_workflow_handle(onboarding_workflow_id(view["id"])).result()
    return onboarding_workflow_id(view["id"])


# --- the onboarding ----------------------------------------------------------------------------------


async def test_an_onboarding_history_names_the_partner_manager_and_the_arguments_of_every_update(api: Api):
    workflow_id = await live_onboarding(api)

    timeline = await history(api, workflow_id)

    assert (timeline["workflow_id"], timeline["workflow_type"]) == (workflow_id, "OnboardingWorkflow")
    [run] = timeline["runs"]
    assert (run["status"], run["continued_from_run_id"]) == ("completed", None)
    assert datetime.fromisoformat(run["started_at"]) < datetime.fromisoformat(run["closed_at"])
    started = timeline["events"][0]
    assert (started["type"], started["actor"], started["source"]) == ("workflow_started", PM, "temporal")
    assert started["summary"].startswith(f"OnboardingWorkflow started by {PM}")
    assert started["details"]["input"]["request"]["partner_manager"] == PM

    accepted = updates(timeline)
    assert {actor for actor, _, _ in accepted} == {PM}
    ticked = [arguments["item"] for _, name, arguments in accepted if name == "complete_item"]
    assert ticked == [
        criterion.id
        for stage in ONBOARDING.stages
        for criterion in stage.criteria
        if criterion.source == CriterionSource.CHECKLIST
    ]
    [(_, _, terms)] = [update for update in accepted if update[1] == "set_terms"]
    assert terms["terms"]["revenue_share_percent"] == 70
    advances = [arguments["comment"] for _, name, arguments in accepted if name == "advance"]
    assert advances == [f"{stage.id.value} done" for stage in ONBOARDING.stages]
    first_tick = next(
        entry for entry in of_type(timeline, "update_accepted") if entry["details"]["update"] == "complete_item"
    )
    assert first_tick["summary"] == (
        f'Update complete_item from {PM} accepted: complete_item(item="technical_assessment_passed")'
    )
    assert first_tick["outcome"] == "accepted"

    completed = of_type(timeline, "update_completed")
    assert [(e["actor"], e["details"]["update"]) for e in completed] == [(actor, name) for actor, name, _ in accepted]
    assert {entry["outcome"] for entry in completed} == {"completed"}
    assert completed[-1]["details"]["result"]["status"] == "live"

    [publish] = activities(timeline, "catalogue.publish_app")
    assert publish["actor"] == "system"
    assert publish["details"]["input"]["terms"]["revenue_share_percent"] == 70
    assert publish["summary"].startswith("activity catalogue.publish_app scheduled with input {onboarding_id=")
    [published] = activities(timeline, "catalogue.publish_app", "activity_completed")
    assert published["outcome"] == "completed"
    assert published["details"]["scheduled_event_id"] == publish["event_id"]

    assert any(entry["summary"].startswith("patch connector-test-call recorded") for entry in timeline["events"])
    last = timeline["events"][-1]
    assert (last["type"], last["outcome"], last["details"]["result"]["status"]) == (
        "workflow_completed",
        "completed",
        "live",
    )


async def test_workflow_task_bookkeeping_is_left_out_and_counted(api: Api):
    workflow_id = await live_onboarding(api)

    timeline = await history(api, workflow_id)

    kinds = {entry["type"] for entry in timeline["events"]}
    assert not {kind for kind in kinds if kind.startswith("workflow_task")}
    assert "activity_task_started" not in kinds
    assert timeline["omitted_events"] > 0
    assert len(timeline["events"]) + timeline["omitted_events"] == timeline["runs"][0]["event_count"]
    event_ids = [entry["event_id"] for entry in timeline["events"]]
    assert event_ids == sorted(set(event_ids))
    assert all(entry["time"].endswith("Z") for entry in timeline["events"])


# --- subscriptions -------------------------------------------------------------------------------------


def fired(timeline: dict[str, Any], started: dict[str, Any]) -> dict[str, Any]:
    timer_id = started["details"]["timer_id"]
    return next(e for e in of_type(timeline, "timer_fired") if e["details"]["timer_id"] == timer_id)


async def test_a_subscription_history_shows_the_trial_timer_what_it_triggered_and_the_operators_cancel(
    subs: Subscriptions,
):
    view = await subs.book(payment_method={"type": "credit_card", "token": "tok_success"}, term_months=1)
    await subs.sleep_days(31)  # the trial ends: the contract starts, the first invoice is issued and charged
    await subs.ok(view["id"], "cancel", {"reason": "too expensive"})
    await subs.sleep_days(31)  # the term ends: suspend mode
    await subs.sleep_days(31)  # suspend mode ends: terminated
    await subs.wait_until_ended(view["id"])

    timeline = await history(subs.api, subscription_workflow_id(view["id"]))

    assert timeline["events"][0]["actor"] == OPERATOR
    notice_timer, trial_timer = of_type(timeline, "timer_started")[:2]
    # Three days before the trial ends the customer and the ISV are told; then the trial's last three days run.
    assert notice_timer["actor"] == trial_timer["actor"] == "timer"
    assert notice_timer["summary"] == f"timer {notice_timer['details']['timer_id']} started for 27 days"
    assert trial_timer["summary"] == f"timer {trial_timer['details']['timer_id']} started for 3 days"
    assert notice_timer["details"]["duration_seconds"] + trial_timer["details"]["duration_seconds"] == pytest.approx(
        30 * 86_400, abs=60
    )
    notice = fired(timeline, notice_timer)
    assert notice["summary"].startswith(
        f"timer {notice_timer['details']['timer_id']} (27 days) fired; it triggered activity connector.record_and_call"
    )
    trial_end = fired(timeline, trial_timer)
    triggered = [item["name"] for item in trial_end["details"]["triggered"]]
    # The first invoice is issued, charged, recorded and its revenue share booked by one activity.
    assert triggered[0] == "activity billing.settle_invoice"
    assert trial_end["summary"].startswith(
        f"timer {trial_timer['details']['timer_id']} (3 days) fired; it triggered activity billing.settle_invoice"
    )
    [charged] = activities(timeline, "billing.settle_invoice", "activity_completed")
    assert charged["details"]["result"]["charge"]["status"] == "succeeded"

    assert updates(timeline) == [(OPERATOR, "cancel", {"actor": OPERATOR, "reason": "too expensive"})]
    [cancelled] = of_type(timeline, "update_completed")
    assert (cancelled["actor"], cancelled["outcome"]) == (OPERATOR, "completed")
    assert cancelled["details"]["result"]["cancel_at"] is not None

    # Each told to the ISV with the snapshot of its step (booking, suspension, termination) in one activity.
    steps = activities(timeline, "connector.record_and_call")
    connector = [
        (entry["details"]["input"]["call"]["action"], entry["details"]["input"]["record"]["status"]) for entry in steps
    ]
    assert connector == [
        ("provision", "trialing"),
        ("trial_will_end", "trialing"),
        ("suspend", "suspended"),
        ("deprovision", "terminated"),
    ]
    last = timeline["events"][-1]
    assert (last["type"], last["details"]["result"]["status"]) == ("workflow_completed", "terminated")


async def test_a_payment_webhook_shows_as_a_signal_from_the_payment_provider(subs: Subscriptions):
    view = await subs.book(payment_method={"type": "paypal", "token": "tok_pending"})
    await subs.sleep_days(31)
    [invoice] = (await subs.get(view["id"], "/invoices")).json()["items"]
    event = {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "payment_id": f"pay_{uuid.uuid4().hex}",
        "invoice_number": invoice["number"],
        "subscription_id": view["id"],
        "occurred_at": "2026-01-01T00:00:00Z",
        "reason": None,
    }
    body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, event)
    assert (await subs.api.http.post("/api/v1/payments/webhook", content=body, headers=headers)).status_code == 202

    timeline = await history(subs.api, subscription_workflow_id(view["id"]))

    [signal] = of_type(timeline, "signal_received")
    assert (signal["actor"], signal["outcome"], signal["details"]["signal"]) == (
        "payment-provider",
        "received",
        "payment_event",
    )
    assert signal["details"]["arguments"]["invoice_number"] == invoice["number"]
    assert signal["summary"].startswith('signal payment_event from payment-provider: {event_id="evt_')


async def test_a_renewed_subscription_shows_every_run_in_order(subs: Subscriptions):
    view = await subs.book(payment_method={"type": "credit_card", "token": "tok_success"}, term_months=1)
    await subs.sleep_days(62)  # 30 days of trial, one month of contract: it renews by continuing as new
    workflow_id = subscription_workflow_id(view["id"])

    timeline = await eventually(lambda: history(subs.api, workflow_id), lambda body: len(body["runs"]) == 2)

    first, second = timeline["runs"]
    assert first["run_id"] != second["run_id"]
    assert (first["status"], second["status"]) == ("continued_as_new", "running")
    assert second["continued_from_run_id"] == first["run_id"]
    # The events come run by run, oldest first (the test server may stamp a new run a millisecond before the old
    # one's close, so the order is by run and event id, not by clock).
    run_ids = [entry["run_id"] for entry in timeline["events"]]
    boundary = run_ids.index(second["run_id"])
    assert set(run_ids[:boundary]) == {first["run_id"]} and set(run_ids[boundary:]) == {second["run_id"]}
    for run in (first, second):
        ids = [entry["event_id"] for entry in timeline["events"] if entry["run_id"] == run["run_id"]]
        assert ids == sorted(ids) and ids[0] == 1
    ended, started = timeline["events"][boundary - 1], timeline["events"][boundary]
    assert (ended["type"], ended["details"]["new_run_id"]) == ("workflow_continued_as_new", second["run_id"])
    assert (started["type"], started["actor"]) == ("workflow_started", "system")
    assert started["summary"].startswith(f"SubscriptionWorkflow started by system, continuing run {first['run_id']}")
    assert started["details"]["input"]["state"]["term_number"] == 2
    # Both runs carry their own activities: the first invoice in the first run, the renewal's in the second.
    issued = activities(timeline, "billing.settle_invoice")
    assert {entry["run_id"] for entry in issued} == {first["run_id"], second["run_id"]}

    only_first = await history(subs.api, workflow_id, run_id=first["run_id"])
    assert [run["run_id"] for run in only_first["runs"]] == [first["run_id"]]
    assert only_first["events"] == timeline["events"][:boundary]


async def test_the_raw_history_of_each_run_replays(subs: Subscriptions):
    view = await subs.book(payment_method={"type": "credit_card", "token": "tok_success"}, term_months=1)
    await subs.sleep_days(62)
    workflow_id = subscription_workflow_id(view["id"])
    timeline = await eventually(lambda: history(subs.api, workflow_id), lambda body: len(body["runs"]) == 2)
    first = timeline["runs"][0]["run_id"]
    replayer = Replayer(
        workflows=worker.WORKFLOWS, data_converter=worker.data_converter(), workflow_runner=worker.workflow_runner()
    )

    for run_id in (first, None):
        params = {"raw": "true"} | ({"run_id": run_id} if run_id else {})
        response = await subs.api.http.get(HISTORY.format(workflow_id), params=params, headers=auth("auditor"))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        exported = WorkflowHistory.from_json(workflow_id, response.text)
        started = exported.events[0].workflow_execution_started_event_attributes
        assert started.continued_execution_run_id == ("" if run_id else first)
        result = await replayer.replay_workflow(exported)
        assert result.replay_failure is None
        # Temporal's own shape, as `temporal workflow show --output json` writes it.
        assert response.json()["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"


# --- channel partners --------------------------------------------------------------------------------


async def test_a_partner_year_shows_the_contracts_and_the_tier_decision_the_year_end_triggered(partners: Partners):
    view = await partners.enrol(last_year_points=8_000)
    assert (await partners.contract(view["id"], "lic-1", quantity=200)).status_code == 201  # 200 x 50 points
    now = await partners.api.env.get_current_time()
    await sleep_days(partners.api.env, (year_end(view["year"]) - now).total_seconds() / 86_400 + 1)
    workflow_id = partner_workflow_id(view["id"])

    timeline = await eventually(lambda: history(partners.api, workflow_id), lambda body: len(body["runs"]) == 2)

    assert timeline["events"][0]["actor"] == AM
    [(actor, name, arguments)] = updates(timeline)
    assert (actor, name) == (AM, "record_contracts")
    assert arguments["events"][0]["reference_id"] == "lic-1"
    [recorded] = of_type(timeline, "update_accepted")
    assert (
        'record_contracts(events=[{reference_id="lic-1", kind="digital_phone_licenses", quantity=200'
        in (recorded["summary"])
    )
    [decision] = activities(timeline, "partner.record_tier_decision")
    assert decision["details"]["input"]["year"] == view["year"]
    assert decision["details"]["input"]["points"] == 10_000
    assert decision["details"]["input"]["to_tier"] == "advanced"
    year_end_timer = next(
        entry
        for entry in of_type(timeline, "timer_fired")
        if "activity partner.record_tier_decision" in [item["name"] for item in entry["details"]["triggered"]]
    )
    assert datetime.fromisoformat(year_end_timer["time"]) <= datetime.fromisoformat(decision["time"])
    assert "workflow continued as new" in [item["name"] for item in year_end_timer["details"]["triggered"]]
    assert [run["status"] for run in timeline["runs"]] == ["continued_as_new", "running"]


# --- formats ---------------------------------------------------------------------------------------------


async def test_the_csv_export_has_the_columns_and_one_row_per_timeline_entry(api: Api):
    workflow_id = await live_onboarding(api)
    timeline = await history(api, workflow_id)

    response = await api.http.get(HISTORY.format(workflow_id), params={"format": "csv"}, headers=auth("auditor"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert [(row["event_id"], row["type"], row["actor"], row["outcome"]) for row in rows] == [
        (str(entry["event_id"]), entry["type"], entry["actor"], entry["outcome"] or "") for entry in timeline["events"]
    ]
    assert rows[0]["run_id"] == timeline["runs"][0]["run_id"]
    assert rows[0]["summary"] == timeline["events"][0]["summary"]
    assert datetime.fromisoformat(rows[0]["time"]).tzinfo is not None


async def test_the_openapi_schema_documents_json_and_csv(api: Api):
    schema = (await api.http.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/audit/workflows/{workflow_id}/history"]["get"]
    assert {"application/json", "text/csv"} <= set(operation["responses"]["200"]["content"])
    assert {"401", "403", "404", "422", "503"} <= set(operation["responses"])
    assert {parameter["name"] for parameter in operation["parameters"]} == {"workflow_id", "format", "raw", "run_id"}


# --- errors and access -------------------------------------------------------------------------------------


async def test_an_unknown_workflow_or_run_is_not_found(api: Api):
    assert_error(
        await api.http.get(HISTORY.format("onboarding-nobody-nothing"), headers=auth("auditor")),
        404,
        "workflow_not_found",
    )
    view = await api.start()
    unknown_run = {"run_id": str(uuid.uuid4())}
    response = await api.http.get(
        HISTORY.format(onboarding_workflow_id(view["id"])), params=unknown_run, headers=auth("auditor")
    )
    assert_error(response, 404, "workflow_not_found")
    raw = await api.http.get(
        HISTORY.format("onboarding-nobody-nothing"), params={"raw": "true"}, headers=auth("auditor")
    )
    assert_error(raw, 404, "workflow_not_found")


@pytest.mark.parametrize(
    ("workflow_id", "params"),
    [
        ("Onboarding-Acme", {}),
        ("-onboarding", {}),
        ("onboarding_acme", {}),
        ("o" * 192, {}),
        ("onboarding-acme", {"run_id": "not-a-run"}),
        ("onboarding-acme", {"format": "xml"}),
    ],
    ids=["upper-case", "leading-dash", "underscore", "too-long", "bad-run-id", "unknown-format"],
)
async def test_an_invalid_workflow_id_or_query_is_invalid(api: Api, workflow_id: str, params: dict[str, str]):
    response = await api.http.get(HISTORY.format(workflow_id), params=params, headers=auth("auditor"))
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("role", ["pm", "isv_a", "operator", "account_manager", "channel_partner"])
async def test_only_auditors_and_admins_read_workflow_histories(api: Api, role: str):
    view = await api.start()
    workflow_id = onboarding_workflow_id(view["id"])

    assert_error(await api.http.get(HISTORY.format(workflow_id), headers=auth(role)), 403, "forbidden")
    for allowed in ("auditor", "admin"):
        timeline = await history(api, workflow_id, as_role=allowed)
        assert timeline["events"][0]["actor"] == PM
    assert_error(await api.http.get(HISTORY.format(workflow_id)), 401, "unauthenticated")


# --- decoding, without a server --------------------------------------------------------------------------


class ReversingCodec(PayloadCodec):
    """Stands in for encryption: without this codec the payloads cannot be read."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata={"encoding": b"binary/reversed"}, data=p.SerializeToString()[::-1]) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload.FromString(p.data[::-1]) if p.metadata.get("encoding") == b"binary/reversed" else p
            for p in payloads
        ]


CODEC_CONVERTER = dataclasses.replace(pydantic_data_converter, payload_codec=ReversingCodec())
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(T0 + timedelta(seconds=seconds))
    return stamp


async def encoded(*values: Any) -> Payloads:
    return Payloads(payloads=await CODEC_CONVERTER.encode(list(values)))


async def workflow_task(first_id: int) -> list[HistoryEvent]:
    return [
        HistoryEvent(
            event_id=first_id,
            event_time=at(first_id),
            event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            workflow_task_scheduled_event_attributes=WorkflowTaskScheduledEventAttributes(),
        ),
        HistoryEvent(
            event_id=first_id + 1,
            event_time=at(first_id + 1),
            event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            workflow_task_started_event_attributes=WorkflowTaskStartedEventAttributes(scheduled_event_id=first_id),
        ),
        HistoryEvent(
            event_id=first_id + 2,
            event_time=at(first_id + 2),
            event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            workflow_task_completed_event_attributes=WorkflowTaskCompletedEventAttributes(scheduled_event_id=first_id),
        ),
    ]


async def encrypted_run() -> RunHistory:
    """Start, an Update that runs an activity, then a one-day timer whose firing schedules another activity."""
    command = {"actor": "pm-anna", "item": "eu_hosting_confirmed", "comment": None}
    events = [
        HistoryEvent(
            event_id=1,
            event_time=at(1),
            event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                workflow_type=WorkflowType(name="OnboardingWorkflow"),
                input=await encoded({"onboarding_id": "acme-crm", "actor": "pm-anna"}),
                identity="4711@api-host",
            ),
        ),
        *await workflow_task(2),
        HistoryEvent(
            event_id=5,
            event_time=at(5),
            event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
            workflow_execution_update_accepted_event_attributes=WorkflowExecutionUpdateAcceptedEventAttributes(
                accepted_request=Request(
                    meta=Meta(update_id="update-1", identity="4711@api-host"),
                    input=Input(name="complete_item", args=await encoded(command)),
                )
            ),
        ),
        HistoryEvent(
            event_id=6,
            event_time=at(6),
            event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
                activity_id="1",
                activity_type=ActivityType(name="onboarding.record_step"),
                input=await encoded({"onboarding_id": "acme-crm", "action": "item_completed"}),
                workflow_task_completed_event_id=4,
            ),
        ),
        HistoryEvent(
            event_id=7,
            event_time=at(7),
            event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            activity_task_started_event_attributes=ActivityTaskStartedEventAttributes(scheduled_event_id=6, attempt=2),
        ),
        HistoryEvent(
            event_id=8,
            event_time=at(8),
            event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            activity_task_completed_event_attributes=ActivityTaskCompletedEventAttributes(
                scheduled_event_id=6, started_event_id=7, result=await encoded({"recorded": True})
            ),
        ),
        *await workflow_task(9),
        HistoryEvent(
            event_id=12,
            event_time=at(12),
            event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
            workflow_execution_update_completed_event_attributes=WorkflowExecutionUpdateCompletedEventAttributes(
                meta=Meta(update_id="update-1"), outcome=Outcome(success=await encoded({"stage": "feasibility"}))
            ),
        ),
        HistoryEvent(
            event_id=13,
            event_time=at(13),
            event_type=EventType.EVENT_TYPE_TIMER_STARTED,
            timer_started_event_attributes=TimerStartedEventAttributes(
                timer_id="1", start_to_fire_timeout=Duration(seconds=86_400), workflow_task_completed_event_id=11
            ),
        ),
        HistoryEvent(
            event_id=14,
            event_time=at(86_413),
            event_type=EventType.EVENT_TYPE_TIMER_FIRED,
            timer_fired_event_attributes=TimerFiredEventAttributes(timer_id="1", started_event_id=13),
        ),
        *await workflow_task(15),
        HistoryEvent(
            event_id=18,
            event_time=at(86_418),
            event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
                activity_id="2",
                activity_type=ActivityType(name="onboarding.send_notice"),
                input=await encoded({"kind": "reminder"}),
                workflow_task_completed_event_id=17,
            ),
        ),
    ]
    return RunHistory("run-1", events)


async def test_payloads_are_decoded_through_the_client_data_converters_codec():
    run = await encrypted_run()

    timeline = await build_timeline(CODEC_CONVERTER, "default", "onboarding-acme-crm", [run])

    assert [(e.event_id, e.type, e.actor, e.outcome) for e in timeline.events] == [
        (1, "workflow_started", "pm-anna", "started"),
        (5, "update_accepted", "pm-anna", "accepted"),
        (6, "activity_scheduled", "system", "scheduled"),
        (8, "activity_completed", "system", "completed"),
        (12, "update_completed", "pm-anna", "completed"),
        (13, "timer_started", "timer", "started"),
        (14, "timer_fired", "timer", "fired"),
        (18, "activity_scheduled", "system", "scheduled"),
    ]
    assert timeline.omitted_events == 10
    update, activity, result = timeline.events[1], timeline.events[2], timeline.events[3]
    assert update.summary == 'Update complete_item from pm-anna accepted: complete_item(item="eu_hosting_confirmed")'
    assert update.details["arguments"] == {"actor": "pm-anna", "item": "eu_hosting_confirmed", "comment": None}
    assert activity.details["input"] == {"onboarding_id": "acme-crm", "action": "item_completed"}
    assert result.summary == "activity onboarding.record_step completed after 2 attempts with result {recorded=true}"
    assert timeline.events[4].details["result"] == {"stage": "feasibility"}
    fired = timeline.events[6]
    assert fired.summary == "timer 1 (1 day) fired; it triggered activity onboarding.send_notice"
    assert fired.details["triggered"] == [
        {"event_id": 18, "type": "activity_scheduled", "name": "activity onboarding.send_notice"}
    ]
    assert [run.status for run in timeline.runs] == ["running"]


async def test_a_payload_the_converter_cannot_decode_is_shown_as_undecodable_not_an_error():
    run = await encrypted_run()

    timeline = await build_timeline(pydantic_data_converter, "default", "onboarding-acme-crm", [run])

    update = timeline.events[1]
    assert update.actor == "4711@api-host"  # the arguments are unreadable, so Temporal's identity names the sender
    assert isinstance(update.details["arguments"], str)
    assert update.details["arguments"].startswith("<undecodable: ")
    assert "<undecodable: " in update.summary
    assert all(entry.summary for entry in timeline.events)


async def test_entries_from_the_audit_log_merge_into_the_timeline_by_time():
    run = await encrypted_run()
    refused = TimelineEntry(
        source="audit_log",
        run_id=None,
        event_id=None,
        time=(T0 + timedelta(seconds=9.5)).replace(tzinfo=None),  # as SQLite hands it back: naive, meaning UTC
        type="command_refused",
        actor="pm-anna",
        summary="advance refused: unmet criteria",
        outcome="refused",
    )

    timeline = await build_timeline(CODEC_CONVERTER, "default", "onboarding-acme-crm", [run], [refused])

    sources = [(entry.source, entry.event_id) for entry in timeline.events]
    assert sources[3:6] == [("temporal", 8), ("audit_log", None), ("temporal", 12)]
    assert timeline.events[4].time == T0 + timedelta(seconds=9.5)


# --- Temporal unreachable ----------------------------------------------------------------------------------


class _UnavailableHandle:
    async def describe(self, *args: Any, **kwargs: Any) -> Any:
        raise RPCError("connection reset", RPCStatusCode.UNAVAILABLE, b"")


class _UnavailableClient:
    """A client that connected once, and whose every call now finds Temporal gone."""

    def get_workflow_handle(self, *args: Any, **kwargs: Any) -> _UnavailableHandle:
        return _UnavailableHandle()


async def test_the_history_answers_503_when_temporal_cannot_be_reached(sqlite_url: str):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    for app in (
        create_app(api_settings(sqlite_url, temporal_address=f"127.0.0.1:{closed}")),
        create_app(api_settings(sqlite_url), temporal_client=_UnavailableClient()),  # type: ignore[arg-type]
    ):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            for params in ({}, {"raw": "true"}, {"format": "csv"}):
                response = await http.get(HISTORY.format("onboarding-acme-crm"), params=params, headers=auth("auditor"))
                assert_error(response, 503, "temporal_unavailable")
        await app.state.engine.dispose()
