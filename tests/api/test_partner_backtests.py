"""Partner policy backtests through the API: a programme year lived by real partner workflows on the time-skipping
server, then replayed under today's policy (the recorded year-end decisions, exactly) and a stricter one."""

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from api import partner_backtests
from api.workflow_commands import CommandRef
from domain.partners.backtest import BacktestRequest
from domain.partners.rules import year_end
from store import models
from store.db import create_engine
from tests.api.conftest import PM, Api, Partners, assert_error, auth, enrolling, eventually, sleep_days
from tests.api.test_command_recovery import entries_of, leave_intent, recovery, sessions_of
from workflows.policy_backtest import PolicyBacktestWorkflow

PATH = "/api/v1/partners/backtests"
STRICTER = {"tier_thresholds": {"advanced": 9_000, "expert": 20_000}, "consecutive_bad_reports_for_review": 1}


@dataclass
class RecordedYear:
    year: int
    expert: str  # 16,000 points: keeps expert today, misses the stricter 20,000
    advanced: str  # 8,000 points: keeps advanced today, misses the stricter 9,000
    basic: str  # 500 points and one bad quarter: a review only where one bad report is enough
    decisions: dict[str, tuple[int, str, str, str]]  # partner -> the recorded (points, from, to, change)


@pytest_asyncio.fixture(scope="module")
async def recorded_year(api: Api) -> AsyncIterator[RecordedYear]:
    async with enrolling(api) as partners:
        yield await live_a_year(api, partners)


async def live_a_year(api: Api, partners: Partners) -> RecordedYear:
    expert = (await partners.enrol(last_year_points=16_000))["id"]
    advanced = (await partners.enrol(last_year_points=8_000))["id"]
    basic = await partners.enrol(last_year_points=0)
    for partner, licences in ((expert, 320), (advanced, 160), (basic["id"], 10)):
        assert (await partners.contract(partner, quantity=licences)).status_code == 201
    now = await api.env.get_current_time()
    await partners.seed_unpaid_invoice(basic["id"], now + timedelta(hours=2))
    await sleep_days(api.env, (year_end(basic["year"]) - now + timedelta(hours=1)) / timedelta(days=1))
    ids = {expert, advanced, basic["id"]}
    decisions = await eventually(lambda: recorded_decisions(api, basic["year"], ids), lambda found: len(found) == 3)
    assert len(decisions) == 3, decisions
    return RecordedYear(basic["year"], expert, advanced, basic["id"], decisions)


async def recorded_decisions(api: Api, year: int, ids: set[str]) -> dict[str, tuple[int, str, str, str]]:
    engine = create_engine(api.settings.database_url)
    decision = models.TierDecisionRow
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(decision.partner_id, decision.points, decision.from_tier, decision.to_tier, decision.change).where(
                decision.year == year, decision.partner_id.in_(ids)
            )
        )
        found = {partner: (points, start, end, change) for partner, points, start, end, change in rows}
    await engine.dispose()
    return found


async def post(
    api: Api, body: dict[str, Any], as_role: str = "account_manager", key: str | None = None
) -> httpx.Response:
    headers = auth(as_role) | ({"Idempotency-Key": key} if key else {})
    return await api.http.post(PATH, json=body, headers=headers)


async def run_backtest(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(api, body)
    assert response.status_code == 202, response.text
    started = response.json()
    assert response.headers["Location"] == f"{PATH}/{started['id']}"
    assert (started["status"], started["lines"]) == ("running", None)

    async def read() -> dict[str, Any]:
        answer = await api.http.get(response.headers["Location"], headers=auth("admin"))
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        return view

    done = await eventually(read, lambda view: view["status"] == "completed", seconds=30)
    assert done["status"] == "completed", done
    return done


def lines_of(view: dict[str, Any], year: RecordedYear) -> dict[str, dict[str, Any]]:
    return {line["partner_id"]: line for line in view["lines"] if line["partner_id"] in year.decisions}


async def test_todays_policy_reproduces_the_recorded_year_end_decisions(api: Api, recorded_year: RecordedYear):
    view = await run_backtest(api, {"year": recorded_year.year})

    assert (view["percent_done"], view["partners_done"]) == (100, view["partners_total"])
    lines = lines_of(view, recorded_year)
    replayed = {
        partner: (line["points_today"], line["start_tier"], line["tier_today"], line["change_today"])
        for partner, line in lines.items()
    }
    assert replayed == recorded_year.decisions
    assert all(line["tier_alternative"] == line["tier_today"] and line["move"] == "same" for line in lines.values())
    assert view["totals"]["today"] == view["totals"]["alternative"]
    assert view["totals"]["higher"] == view["totals"]["lower"] == 0
    # The workflow's own progress query agrees, after the run as during it.
    handle = api.env.client.get_workflow_handle(f"partner-backtest-{view['id']}")
    progress = await handle.query(PolicyBacktestWorkflow.progress)
    assert (progress.percent, progress.done, progress.total) == (100, view["partners_done"], view["partners_total"])


async def test_a_stricter_policy_downgrades_and_opens_a_review(api: Api, recorded_year: RecordedYear):
    view = await run_backtest(api, {"year": recorded_year.year, "policy": STRICTER})

    lines = lines_of(view, recorded_year)
    moves = {partner: (line["tier_today"], line["tier_alternative"], line["move"]) for partner, line in lines.items()}
    assert moves == {
        recorded_year.expert: ("expert", "advanced", "lower"),
        recorded_year.advanced: ("advanced", "basic", "lower"),
        recorded_year.basic: ("basic", "basic", "same"),
    }
    basic = lines[recorded_year.basic]
    assert (basic["reviews_today"], basic["reviews_alternative"]) == (0, 1)
    assert "16,000 points miss expert (needs 20,000), down to advanced" in lines[recorded_year.expert]["why"]
    totals = view["totals"]
    assert totals["alternative"]["downgrades"] - totals["today"]["downgrades"] >= 2
    assert totals["alternative"]["termination_reviews"] >= 1
    # Omitted parts are today's: the policy the backtest kept is whole.
    assert view["policy"]["tier_thresholds"] == {"expert_plus": 45_000, "expert": 20_000, "advanced": 9_000, "basic": 0}
    assert view["policy"]["quality"]["min_paid_on_time_share"] == 0.9

    response = await api.http.get(f"{PATH}/{view['id']}/csv", headers=auth("account_manager"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == view["partners_total"]
    row = next(row for row in rows if row["partner_id"] == recorded_year.expert)
    assert (row["points_alternative"], row["tier_today"], row["tier_alternative"], row["move"]) == (
        "16000",
        "expert",
        "advanced",
        "lower",
    )


async def test_a_backtests_lines_are_read_a_page_at_a_time_and_the_pages_add_up_to_the_csv(
    api: Api, recorded_year: RecordedYear
):
    view = await run_backtest(api, {"year": recorded_year.year})
    assert view["partners_total"] >= 3
    csv_text = (await api.http.get(f"{PATH}/{view['id']}/csv", headers=auth("admin"))).text
    every = [row["partner_id"] for row in csv.DictReader(io.StringIO(csv_text))]

    paged: list[str] = []
    params: dict[str, Any] = {"page_size": 2}
    while True:
        response = await api.http.get(f"{PATH}/{view['id']}", params=params, headers=auth("admin"))
        assert response.status_code == 200, response.text
        page = response.json()
        assert 1 <= len(page["lines"]) <= 2 and page["totals"] == view["totals"]
        paged += [line["partner_id"] for line in page["lines"]]
        if page["next_page_token"] is None:
            break
        params["page_token"] = page["next_page_token"]
    assert paged == every == sorted(every)

    for bad in ({"page_size": 0}, {"page_token": "Not A Partner"}, {"limit": 5}):
        refused = await api.http.get(f"{PATH}/{view['id']}", params=bad, headers=auth("admin"))
        assert_error(refused, 422, "validation_error")


async def test_a_retried_command_answers_with_the_same_backtest(api: Api, recorded_year: RecordedYear):
    key = f"bt-{uuid.uuid4().hex}"
    first = await post(api, {"year": recorded_year.year}, key=key)
    again = await post(api, {"year": recorded_year.year}, key=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]


async def test_a_backtest_whose_answer_was_lost_is_recorded_as_accepted_by_recovery(
    api: Api, recorded_year: RecordedYear
):
    key, target = f"bt-{uuid.uuid4().hex}", f"partner-backtests-{recorded_year.year}"
    request_id = await leave_intent(api, "partner.backtest", target, key, key=key)
    # The request that died had written the backtest's row (and started its workflow).
    command = CommandRef(actor=PM, command_id=key, at=datetime.now(UTC))
    request = BacktestRequest(year=recorded_year.year)
    await partner_backtests.start(api.env.client, sessions_of(api), api.settings.task_queue, request, command)

    assert await recovery(api).run_once() >= 1

    [entry] = [entry for entry in await entries_of(api, target) if entry["request_id"] == request_id]
    assert (entry["action"], entry["outcome"]) == ("partner.backtest", "accepted")


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"tier_thresholds": {"advanced": 20_000}}, "body.policy"),
        (
            {"points_catalogue": {"fixed_line_order": {"per_unit": -1}}},
            "body.policy.points_catalogue.fixed_line_order.per_unit",
        ),
        ({"quality": {"max_churn_share": 2}}, "body.policy.quality.max_churn_share"),
        ({"consecutive_bad_reports_for_review": 0}, "body.policy.consecutive_bad_reports_for_review"),
    ],
)
async def test_an_inconsistent_policy_is_refused_with_422(api: Api, policy: dict[str, Any], field: str):
    response = await post(api, {"year": 2026, "policy": policy})
    details = assert_error(response, 422, "validation_error")
    assert field in [detail["field"] for detail in details], details


@pytest.mark.parametrize("role", ["pm", "auditor", "operator", "isv_a", "channel_partner"])
async def test_only_account_managers_and_admins_run_and_read_backtests(api: Api, role: str):
    assert_error(await post(api, {"year": 2026}, as_role=role), 403, "forbidden")
    assert_error(await api.http.get(f"{PATH}/bt-{'0' * 20}", headers=auth(role)), 403, "forbidden")


async def test_an_unknown_backtest_is_not_found(api: Api):
    assert_error(await api.http.get(f"{PATH}/bt-{'0' * 20}", headers=auth("admin")), 404, "backtest_not_found")
    assert_error(await api.http.get(f"{PATH}/bt-{'0' * 20}/csv", headers=auth("admin")), 404, "backtest_not_found")
