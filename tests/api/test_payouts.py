"""Payouts over the API: the list and its ISV scoping, and an admin's (re)run of a month."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from domain.billing_calendar import add_months, month_key
from domain.payouts import payout_workflow_id
from store.db import create_engine, create_session_factory
from tests.api.conftest import ISV_A, ISV_B, api_settings, assert_error, auth, migrated_database
from tests.workflow.test_payout_workflow import MonthInFlight, book, payout_worker, transfers

# Months of a year no other test file pays, since the time-skipping server (and its workflow ids) is shared.
JANUARY, FEBRUARY, MARCH = "2019-01", "2019-02", "2019-03"


@dataclass
class PayoutApi:
    http: httpx.AsyncClient
    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]

    async def run(self, month: str, as_role: str = "admin") -> httpx.Response:
        return await self.http.post(f"/api/v1/payouts/{month}/run", headers=auth(as_role))

    async def list(self, as_role: str = "auditor", **filters: str) -> list[dict[str, Any]]:
        response = await self.http.get("/api/v1/payouts", params=filters, headers=auth(as_role))
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest_asyncio.fixture(scope="module")
async def payout_api(
    time_skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PayoutApi]:
    settings = api_settings(await migrated_database(tmp_path_factory.mktemp("payouts-api")))
    app = create_app(settings, temporal_client=time_skipping_env.client)
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    async with (
        app.router.lifespan_context(app),
        payout_worker(time_skipping_env.client, settings, sessions),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield PayoutApi(http, time_skipping_env, sessions)
    await engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def paid(payout_api: PayoutApi) -> dict[str, dict[str, Any]]:
    """January and February paid through the API, as the admin's run answered them."""
    await book(
        payout_api.sessions,
        (ISV_A, JANUARY, 1_393),
        (ISV_A, JANUARY, 697),
        (ISV_B, JANUARY, 2_099),
        (ISV_A, FEBRUARY, 1_043),
        (ISV_B, FEBRUARY, 1),
        (ISV_B, FEBRUARY, 2_099),
    )
    answers = {}
    for month in (JANUARY, FEBRUARY):
        response = await payout_api.run(month)
        assert response.status_code == 200, response.text
        answers[month] = response.json()
    return answers


def amounts(items: list[dict[str, Any]]) -> list[tuple[str, str, int, int, str]]:
    return [(s["isv_id"], s["month"], s["amount_cents"], s["entries"], s["status"]) for s in items]


# --- run ---------------------------------------------------------------------------------------


async def test_a_run_answers_with_the_months_statements(paid: dict[str, dict[str, Any]]):
    january = paid[JANUARY]
    assert (january["month"], january["workflow_id"], january["status"]) == (JANUARY, "payout-2019-01", "completed")
    assert amounts(january["statements"]) == [
        (ISV_A, JANUARY, 2_090, 2, "transferred"),
        (ISV_B, JANUARY, 2_099, 1, "transferred"),
    ]
    assert amounts(paid[FEBRUARY]["statements"]) == [
        (ISV_A, FEBRUARY, 1_043, 1, "transferred"),
        (ISV_B, FEBRUARY, 2_100, 2, "transferred"),
    ]


async def test_a_re_run_answers_with_the_same_statements_and_transfers_nothing_twice(
    payout_api: PayoutApi, paid: dict[str, dict[str, Any]]
):
    before = await transfers(payout_api.sessions)

    response = await payout_api.run(JANUARY)

    assert response.status_code == 200, response.text
    assert response.json()["statements"] == paid[JANUARY]["statements"]
    assert await transfers(payout_api.sessions) == before
    assert before[f"payout-{ISV_A}-{JANUARY}"] == 2_090


async def test_a_run_of_a_month_in_flight_answers_202_with_that_run(payout_api: PayoutApi):
    queue = f"in-flight-{uuid.uuid4()}"
    async with Worker(payout_api.env.client, task_queue=queue, workflows=[MonthInFlight]):
        in_flight = await payout_api.env.client.start_workflow(
            MonthInFlight.run, id=payout_workflow_id(MARCH), task_queue=queue
        )
        try:
            response = await payout_api.run(MARCH)
        finally:
            await in_flight.terminate("test finished")

    assert response.status_code == 202, response.text
    assert response.json() == {"month": MARCH, "workflow_id": "payout-2019-03", "status": "running", "statements": []}


@pytest.mark.parametrize("role", ["pm", "auditor", "operator", "isv_a"])
async def test_only_an_admin_runs_a_payout(payout_api: PayoutApi, role: str):
    assert_error(await payout_api.run(JANUARY, as_role=role), 403, "forbidden")


@pytest.mark.parametrize("month", ["2019-13", "2019-00", "2019-1", "201901", "january"])
async def test_a_run_of_a_malformed_month_is_invalid(payout_api: PayoutApi, month: str):
    assert_error(await payout_api.run(month), 422, "validation_error")


async def test_a_month_that_has_not_ended_is_refused(payout_api: PayoutApi):
    now = datetime.now(UTC)
    for month in (month_key(now), month_key(add_months(now, 1)), "2999-12"):
        assert_error(await payout_api.run(month), 409, "month_not_ended")


# --- list --------------------------------------------------------------------------------------


async def test_staff_list_every_isvs_statements_by_month_and_isv(payout_api: PayoutApi, paid: dict[str, Any]):
    for role in ("auditor", "admin"):
        assert amounts(await payout_api.list(role, month=JANUARY)) == amounts(paid[JANUARY]["statements"])
    assert amounts(await payout_api.list(isv_id=ISV_B)) == [
        (ISV_B, JANUARY, 2_099, 1, "transferred"),
        (ISV_B, FEBRUARY, 2_100, 2, "transferred"),
    ]
    assert amounts(await payout_api.list(month=FEBRUARY, isv_id=ISV_A)) == [(ISV_A, FEBRUARY, 1_043, 1, "transferred")]
    assert await payout_api.list(month="2018-12") == []


async def test_an_isv_lists_only_its_own_statements(payout_api: PayoutApi, paid: dict[str, Any]):
    own = await payout_api.list("isv_a")
    assert {s["isv_id"] for s in own} == {ISV_A}
    assert [s["month"] for s in own] == [JANUARY, FEBRUARY]
    assert await payout_api.list("isv_a", isv_id=ISV_B) == []
    assert await payout_api.list("isv_b", month=JANUARY, isv_id=ISV_A) == []
    assert amounts(await payout_api.list("isv_b", month=FEBRUARY)) == [(ISV_B, FEBRUARY, 2_100, 2, "transferred")]


@pytest.mark.parametrize("role", ["pm", "operator"])
async def test_other_roles_do_not_read_payouts(payout_api: PayoutApi, role: str):
    response = await payout_api.http.get("/api/v1/payouts", headers=auth(role))
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("query", [{"month": "2019-13"}, {"month": "19-01"}, {"isv_id": "Not A Slug"}, {"x": "1"}])
async def test_a_malformed_filter_is_invalid(payout_api: PayoutApi, query: dict[str, str]):
    response = await payout_api.http.get("/api/v1/payouts", params=query, headers=auth("admin"))
    assert_error(response, 422, "validation_error")


async def test_payouts_need_an_api_key(payout_api: PayoutApi):
    assert_error(await payout_api.http.get("/api/v1/payouts"), 401, "unauthenticated")
    assert_error(await payout_api.http.post(f"/api/v1/payouts/{JANUARY}/run"), 401, "unauthenticated")


# --- monthly report (the console's overview) ---------------------------------------------------


async def test_the_monthly_report_sums_paid_revenue_the_isvs_share_and_the_payouts_per_month(
    payout_api: PayoutApi, paid: dict[str, dict[str, Any]]
):
    response = await payout_api.http.get("/api/v1/reports/monthly", headers=auth("auditor"))
    assert response.status_code == 200, response.text
    months = {item["month"]: item for item in response.json()["items"]}
    # The ledger of this module's months (the store is the module's own): shares 2,090 + 2,099 in January and
    # 1,043 + 1 + 2,099 in February, each booked from a net twice its share, and every statement transferred.
    january, february = months[JANUARY], months[FEBRUARY]
    assert (january["paid_net_cents"], january["isv_share_cents"], january["payouts_cents"]) == (8_378, 4_189, 4_189)
    assert (february["paid_net_cents"], february["isv_share_cents"], february["payouts_cents"]) == (6_286, 3_143, 3_143)


async def test_an_isv_reads_the_monthly_report_of_its_own_apps_only(
    payout_api: PayoutApi, paid: dict[str, dict[str, Any]]
):
    response = await payout_api.http.get("/api/v1/reports/monthly", headers=auth("isv_a"))
    assert response.status_code == 200, response.text
    months = {item["month"]: item for item in response.json()["items"]}
    assert months[JANUARY]["isv_share_cents"] == 2_090 and months[FEBRUARY]["isv_share_cents"] == 1_043


async def test_roles_without_payout_reads_get_no_monthly_report(payout_api: PayoutApi):
    response = await payout_api.http.get("/api/v1/reports/monthly", headers=auth("pm"))
    assert_error(response, 403, "forbidden")
