"""Every command the API answers lands in the audit log (accepted or refused, with who, what, which target, the
request id, the Idempotency-Key and a digest of the body); Idempotency-Keys replay the first answer; bodies and
pages are limited; API keys never reach a log line."""

import csv
import hashlib
import io
import logging
import re
import uuid
from typing import Any

import httpx
import pytest

from api.policy import ROUTE_POLICY
from domain.onboarding.config import StageId
from tests.api.conftest import PM, Api, assert_error, auth, key_of, new_onboarding_id


async def log(api: Api, query: str = "", as_role: str = "auditor") -> list[dict[str, Any]]:
    response = await api.http.get(f"/api/v1/audit/log?page_size=500{query}", headers=auth(as_role))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def entry_of(api: Api, request_id: str) -> dict[str, Any]:
    matching = [entry for entry in await log(api) if entry["request_id"] == request_id]
    assert len(matching) == 1, matching
    return matching[0]


def tagged(role: str = "pm", **headers: str) -> dict[str, str]:
    return auth(role) | headers


def request_id(response: httpx.Response) -> str:
    value = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    return value


async def test_an_accepted_command_is_recorded_with_its_caller_target_request_and_body_digest(api: Api):
    view = await api.start()
    headers = tagged(**{"Idempotency-Key": f"hold-{uuid.uuid4().hex}"})
    body = {"reason": "ISV asked for a pause"}
    response = await api.http.post(f"/api/v1/onboardings/{view['id']}/hold", json=body, headers=headers)
    assert response.status_code == 200, response.text
    entry = await entry_of(api, request_id(response))
    assert entry["kind"] == "command"
    assert (entry["subject"], entry["role"]) == (PM, "partner_manager")
    assert (entry["action"], entry["target"]) == ("onboarding.hold", f"onboarding-{view['id']}")
    assert (entry["outcome"], entry["status_code"], entry["detail"]) == ("accepted", 200, None)
    assert entry["idempotency_key"] == headers["Idempotency-Key"]
    assert entry["payload_digest"] == hashlib.sha256(response.request.content).hexdigest()


async def test_a_command_the_process_refuses_is_recorded_with_the_rules_code(api: Api):
    view = await api.start()
    await api.pass_stage(view["id"], StageId.IDENTIFICATION)  # feasibility's criteria are still open
    headers = tagged()
    response = await api.http.post(f"/api/v1/onboardings/{view['id']}/advance", json={}, headers=headers)
    assert_error(response, 409, "criteria_unmet")
    entry = await entry_of(api, request_id(response))
    assert (entry["action"], entry["outcome"], entry["status_code"]) == ("onboarding.advance", "refused", 409)
    assert entry["detail"] == "criteria_unmet"


async def test_a_start_is_recorded_against_the_workflow_it_starts(api: Api):
    body = api.request_body()
    headers = tagged()
    response = await api.http.post("/api/v1/onboardings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    api.started.append(response.json()["id"])
    entry = await entry_of(api, request_id(response))
    assert entry["target"] == f"onboarding-{body['isv']['id']}-{body['app']['id']}"
    assert entry["action"] == "onboarding.start"


@pytest.mark.parametrize(
    ("role", "status", "code", "subject"),
    [("operator", 403, "forbidden", "operator-otto"), (None, 401, "unauthenticated", "anonymous")],
)
async def test_commands_refused_for_access_are_recorded_too(
    api: Api, role: str | None, status: int, code: str, subject: str
):
    headers = auth(role) if role else {}
    response = await api.http.post("/api/v1/onboardings/acme-crm/advance", json={}, headers=headers)
    assert_error(response, status, code)
    entry = await entry_of(api, request_id(response))
    assert (entry["subject"], entry["outcome"], entry["detail"]) == (subject, "refused", code)


async def test_an_invalid_body_is_recorded_as_refused(api: Api):
    view = await api.start()
    headers = tagged()
    response = await api.http.post(f"/api/v1/onboardings/{view['id']}/reassign", json={"x": 1}, headers=headers)
    assert_error(response, 422, "validation_error")
    assert (await entry_of(api, request_id(response)))["outcome"] == "refused"


async def test_reads_are_not_recorded_as_commands(api: Api):
    response = await api.http.get("/api/v1/apps", headers=auth("auditor"))
    assert response.status_code == 200
    assert [entry for entry in await log(api) if entry["request_id"] == request_id(response)] == []


# --- Idempotency-Key -------------------------------------------------------------------------


async def test_the_same_key_and_body_returns_the_first_answer_without_running_again(api: Api):
    view = await api.start()
    await api.pass_stage(view["id"], StageId.IDENTIFICATION)
    key = f"tick-{uuid.uuid4().hex}"
    url = f"/api/v1/onboardings/{view['id']}/checklist/technical_assessment_passed"
    first = await api.http.post(url, json={"comment": "ok"}, headers=tagged(**{"Idempotency-Key": key}))
    await api.ok(view["id"], "hold", {"reason": "pause"})  # the onboarding moves on in between
    again_headers = tagged(**{"Idempotency-Key": key})
    again = await api.http.post(url, json={"comment": "ok"}, headers=again_headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["status"] != "on_hold"  # the first answer, not a new one
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await entry_of(api, request_id(again)))["outcome"] == "replayed"


async def test_the_same_key_with_a_different_body_is_refused(api: Api):
    view = await api.start()
    key = f"hold-{uuid.uuid4().hex}"
    url = f"/api/v1/onboardings/{view['id']}/hold"
    assert (await api.http.post(url, json={"reason": "a"}, headers=auth("pm") | {"Idempotency-Key": key})).is_success
    response = await api.http.post(url, json={"reason": "b"}, headers=auth("pm") | {"Idempotency-Key": key})
    assert_error(response, 422, "idempotency_key_reused")
    other_route = f"/api/v1/onboardings/{view['id']}/resume"
    assert_error(
        await api.http.post(other_route, json={}, headers=auth("pm") | {"Idempotency-Key": key}),
        422,
        "idempotency_key_reused",
    )


async def test_a_refusal_is_replayed_as_well(api: Api):
    view = await api.start()
    await api.pass_stage(view["id"], StageId.IDENTIFICATION)
    headers = auth("pm") | {"Idempotency-Key": f"adv-{uuid.uuid4().hex}"}
    url = f"/api/v1/onboardings/{view['id']}/advance"
    first = await api.http.post(url, json={}, headers=headers)
    again = await api.http.post(url, json={}, headers=headers)
    assert_error(first, 409, "criteria_unmet")
    assert again.json() == first.json() and again.status_code == 409


async def test_keys_belong_to_their_caller(api: Api):
    mine, theirs = await api.start(), await api.start()
    key = f"shared-{uuid.uuid4().hex}"
    for role, view in (("pm", mine), ("admin", theirs)):
        url = f"/api/v1/onboardings/{view['id']}/hold"
        response = await api.http.post(url, json={"reason": role}, headers=auth(role) | {"Idempotency-Key": key})
        assert response.status_code == 200, response.text
        assert "Idempotent-Replayed" not in response.headers


async def test_a_start_retried_with_its_key_does_not_start_twice(api: Api):
    body = api.request_body()
    headers = auth("pm") | {"Idempotency-Key": f"start-{uuid.uuid4().hex}"}
    first = await api.http.post("/api/v1/onboardings", json=body, headers=headers)
    again = await api.http.post("/api/v1/onboardings", json=body, headers=headers)
    api.started.append(first.json()["id"])
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()


# --- limits ----------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_before_anything_runs(api: Api):
    view = await api.start()
    headers = tagged()
    oversized = {"reason": "x" * (api.settings.max_body_bytes + 1)}
    response = await api.http.post(f"/api/v1/onboardings/{view['id']}/hold", json=oversized, headers=headers)
    assert_error(response, 413, "body_too_large")
    current = await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("pm"))
    assert current.json()["status"] != "on_hold"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/onboardings?page_size=101",
        "/api/v1/subscriptions?page_size=101",
        "/api/v1/partners?page_size=101",
        "/api/v1/audit/log?page_size=501",
        "/api/v1/onboardings?page_size=0",
    ],
)
async def test_list_pages_are_limited(api: Api, path: str):
    details = assert_error(await api.http.get(path, headers=auth("admin")), 422, "validation_error")
    assert any("page_size" in detail["field"] for detail in details)


async def test_api_keys_never_reach_the_logs_or_the_printed_settings(api: Api, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    wrong = "Bearer sk-live-not-a-real-key-123"
    await api.http.post("/api/v1/onboardings/acme-crm/advance", json={}, headers={"Authorization": wrong})
    await api.http.get("/api/v1/apps", headers=auth("pm"))
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert "sk-live-not-a-real-key-123" not in logged
    assert key_of("pm") not in logged
    assert key_of("pm") not in repr(api.settings) and key_of("pm") not in str(api.settings)


# --- reading the log -------------------------------------------------------------------------


async def test_the_log_is_for_auditors_and_admins_only(api: Api):
    for role in ("auditor", "admin"):
        assert (await api.http.get("/api/v1/audit/log", headers=auth(role))).status_code == 200
        assert (await api.http.get("/api/v1/audit/verify", headers=auth(role))).status_code == 200
    for role in ("pm", "operator", "isv_a", "channel_partner", "account_manager"):
        assert_error(await api.http.get("/api/v1/audit/log", headers=auth(role)), 403, "forbidden")
        assert_error(await api.http.get("/api/v1/audit/verify", headers=auth(role)), 403, "forbidden")


async def test_the_log_pages_with_a_page_token_and_filters(api: Api):
    view = await api.start()
    await api.walk_to(view["id"], StageId.COMMERCIAL)
    target = f"onboarding-{view['id']}"
    everything = await log(api, f"&target={target}")
    assert len(everything) == 6  # start, advance, three ticks, advance
    seen: list[int] = []
    page_token = None
    for _ in range(50):
        query = f"/api/v1/audit/log?target={target}&page_size=2" + (f"&page_token={page_token}" if page_token else "")
        page = (await api.http.get(query, headers=auth("auditor"))).json()
        seen += [entry["seq"] for entry in page["items"]]
        page_token = page["next_page_token"]
        if page_token is None:
            break
    assert seen == [entry["seq"] for entry in everything] == sorted(seen)
    advances = await log(api, f"&target={target}&action=onboarding.advance")
    assert [entry["action"] for entry in advances] == ["onboarding.advance"] * 2
    assert all(entry["subject"] == PM for entry in await log(api, f"&target={target}&subject={PM}"))


async def test_the_log_exports_as_csv(api: Api):
    view = await api.start()
    response = await api.http.get(
        f"/api/v1/audit/log?format=csv&target=onboarding-{view['id']}", headers=auth("auditor")
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["action"], row["subject"], row["outcome"]) for row in rows] == [("onboarding.start", PM, "accepted")]
    assert len(rows[0]["hash"]) == 64


async def test_the_log_csv_neutralises_spreadsheet_formulas_in_callers_text(api: Api):
    _, onboarding = new_onboarding_id()  # unknown: every command is refused, and each is logged with its key
    keys = ["=2+3", "+cmd", "-x", "@x", "\tx", "\rx", "plain-key"]
    for key in keys:
        headers = tagged(**{"Idempotency-Key": key})
        response = await api.http.post(f"/api/v1/onboardings/{onboarding}/hold", json={"reason": "x"}, headers=headers)
        assert response.status_code == 404, response.text

    response = await api.http.get(
        f"/api/v1/audit/log?format=csv&target=onboarding-{onboarding}", headers=auth("auditor")
    )

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["idempotency_key"] for row in rows] == ["'=2+3", "'+cmd", "'-x", "'@x", "'\tx", "'\rx", "plain-key"]
    assert all(row["status_code"] == "404" for row in rows)


@pytest.mark.parametrize(
    ("query", "field"),
    [("until=0.5", "query.until"), ("since=1700000000", "query.since"), ("since=2026-11-30", "query.since")],
)
async def test_log_times_that_are_not_iso_8601_date_times_are_invalid(api: Api, query: str, field: str):
    # pydantic alone reads a number as Unix time: "0.5" would be half a second after 1970.
    response = await api.http.get(f"/api/v1/audit/log?{query}", headers=auth("auditor"))

    [detail] = assert_error(response, 422, "validation_error")
    assert detail["field"] == field
    assert "ISO 8601" in detail["message"]


async def test_log_times_in_iso_8601_with_a_time_zone_filter_the_log(api: Api):
    view = await api.start()
    target = f"&target=onboarding-{view['id']}"

    assert [entry["action"] for entry in await log(api, f"&since=2000-01-01T00:00:00Z{target}")] == ["onboarding.start"]
    assert await log(api, f"&until=2000-01-01T01:00:00%2B01:00{target}") == []


async def test_verify_reports_an_intact_chain(api: Api):
    await api.start()
    result = (await api.http.get("/api/v1/audit/verify", headers=auth("auditor"))).json()
    assert result["ok"] is True and result["first_broken"] is None and result["checked"] >= 1
    assert len(result["last_hash"]) == 64


async def test_an_invalid_idempotency_key_is_refused_and_nothing_runs(api: Api):
    body = api.request_body()
    response = await api.http.post(
        "/api/v1/onboardings", json=body, headers=auth("pm") | {"Idempotency-Key": "k" * 201}
    )
    details = assert_error(response, 422, "validation_error")
    assert details[0]["field"] == "header.Idempotency-Key"
    onboarding = f"{body['isv']['id']}-{body['app']['id']}"
    assert_error(
        await api.http.get(f"/api/v1/onboardings/{onboarding}", headers=auth("pm")), 404, "onboarding_not_found"
    )


async def test_every_command_documents_the_idempotency_key_and_no_read_does(api: Api):
    schema = (await api.http.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = [parameter["name"] for parameter in operation.get("parameters", [])]
            entry = ROUTE_POLICY[(method.upper(), path)]
            expected = entry.is_command and entry.permission is not None
            assert ("Idempotency-Key" in names) == expected, (method, path)
