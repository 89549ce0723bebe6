"""No accepted command goes unaudited and no retry is left guessing: a command whose request died is recorded from
Temporal by recovery, a retry with the same Idempotency-Key gets the original outcome at once, requests sent twice
at once are one command, and a command is never held for longer than the command wait."""

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Connection, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.service import RPCError

from api.app import create_app
from api.command_trail import CommandsInFlight
from api.intent_recovery import IntentRecovery
from api.onboarding_service import ONBOARDINGS
from api.workflow_commands import CommandRef, start_once
from domain.ids import onboarding_id, onboarding_workflow_id
from domain.onboarding.config import StageId
from domain.onboarding.model import HoldCommand, OnboardingRequest
from store import intents, models
from store.db import create_engine, create_session_factory
from tests.activities.loopback import LoopbackServer
from tests.api.conftest import ISV_A, PM, Api, assert_error, auth, serving
from tests.conftest import local_dev_server
from workflows.onboarding import OnboardingInput, OnboardingWorkflow

LONG_AGO = timedelta(minutes=5)


@pytest_asyncio.fixture(scope="module")
async def quick(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """The API with a short command wait, so that waiting for a slow workflow ends within the test; on a dev server
    of its own, since Updates that no worker takes up leave the time-skipping server's clock locked."""
    async with (
        local_dev_server() as env,
        serving(env, tmp_path_factory.mktemp("quick"), command_wait_seconds=1.0) as served,
    ):
        yield served


def recovery(api: Api) -> IntentRecovery:
    assert api.app is not None
    found: IntentRecovery = api.app.state.intent_recovery
    return found


def sessions_of(api: Api) -> async_sessionmaker[AsyncSession]:
    assert api.app is not None
    sessions: async_sessionmaker[AsyncSession] = api.app.state.sessions
    return sessions


async def entries_of(api: Api, target: str) -> list[dict[str, Any]]:
    response = await api.http.get(f"/api/v1/audit/log?target={target}&page_size=500", headers=auth("auditor"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def leave_intent(api: Api, action: str, target: str, command_id: str, key: str | None = None) -> str:
    """What a process that died mid-request leaves behind: the intent written before the command ran."""
    request_id = uuid.uuid4().hex
    engine = create_engine(api.settings.database_url)
    async with create_session_factory(engine).begin() as session:
        intents.record(
            session,
            models.CommandIntent(
                request_id=request_id,
                command_id=command_id,
                subject=PM,
                role="partner_manager",
                action=action,
                target=target,
                idempotency_key=key,
                payload_digest=None,
                started_at=datetime.now(UTC) - LONG_AGO,
                owner="a-process-that-died",
            ),
        )
    await engine.dispose()
    return request_id


async def test_an_update_whose_answer_was_lost_is_recorded_as_accepted_from_temporal(api: Api):
    view = await api.start()
    workflow_id = onboarding_workflow_id(view["id"])
    update_id = f"hold-{uuid.uuid4().hex}"
    request_id = await leave_intent(api, "onboarding.hold", workflow_id, update_id, key=update_id)
    # The command reached Temporal before its process died.
    handle = ONBOARDINGS.handle(api.env.client, view["id"])
    await handle.execute_update(OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="paused"), id=update_id)

    assert await recovery(api).run_once() >= 1

    [entry] = [entry for entry in await entries_of(api, workflow_id) if entry["request_id"] == request_id]
    assert (entry["action"], entry["outcome"], entry["status_code"]) == ("onboarding.hold", "accepted", 200)
    assert (entry["subject"], entry["idempotency_key"]) == (PM, update_id)
    assert await intents.count(sessions_of(api)) == 0


async def test_a_command_that_never_reached_temporal_is_recorded_as_not_applied(api: Api):
    view = await api.start()
    workflow_id = onboarding_workflow_id(view["id"])
    request_id = await leave_intent(api, "onboarding.advance", workflow_id, uuid.uuid4().hex)

    await recovery(api).run_once()

    [entry] = [entry for entry in await entries_of(api, workflow_id) if entry["request_id"] == request_id]
    assert entry["outcome"] == "failed"
    assert entry["detail"].startswith("not_applied")


async def test_a_start_whose_answer_was_lost_is_recorded_and_its_retry_gets_the_onboarding(api: Api):
    body = api.request_body()
    onboarding = onboarding_id(body["isv"]["id"], body["app"]["id"])
    key = f"start-{uuid.uuid4().hex}"
    request_id = await leave_intent(api, "onboarding.start", onboarding_workflow_id(onboarding), key, key=key)
    # The dead request had started the workflow, as start_once does.
    request = OnboardingRequest.model_validate(body)
    await start_once(
        api.env.client,
        OnboardingWorkflow.run,
        OnboardingInput(onboarding_id=onboarding, actor=PM, request=request),
        CommandRef(actor=PM, command_id=key, at=datetime.now(UTC)),
        id=onboarding_workflow_id(onboarding),
        task_queue=api.settings.task_queue,
    )
    api.started.append(onboarding)

    # The client retries with its key: the answer is the onboarding it started, not "exists".
    retry = await api.http.post("/api/v1/onboardings", json=body, headers=auth("pm") | {"Idempotency-Key": key})
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == onboarding

    # The retry's answer settles the dead request's intent too: nothing is left for recovery.
    assert await intents.count(sessions_of(api)) == 0
    entries = await entries_of(api, onboarding_workflow_id(onboarding))
    outcomes = {entry["request_id"] == request_id: entry["outcome"] for entry in entries}
    # One start, counted once: the retry's entry is the command's, the dead request's reads "replayed".
    assert outcomes == {False: "accepted", True: "replayed"}


async def test_another_callers_workflow_is_not_taken_for_a_retried_start(api: Api):
    view = await api.start()  # started by a request without a key
    body = api.request_body(app=view["app"]["id"])
    retry = await api.http.post("/api/v1/onboardings", json=body, headers=auth("pm") | {"Idempotency-Key": "k-1"})
    assert_error(retry, 409, "onboarding_exists")


async def test_requests_sent_twice_at_once_with_one_key_are_one_command(api: Api):
    view = await api.start()
    key = f"hold-{uuid.uuid4().hex}"
    headers = auth("pm") | {"Idempotency-Key": key}
    url = f"/api/v1/onboardings/{view['id']}/hold"
    answers = await asyncio.gather(*(api.http.post(url, json={"reason": "pause"}, headers=headers) for _ in range(8)))

    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["status"] for answer in answers}) == 1
    holds = [
        entry
        for entry in await entries_of(api, onboarding_workflow_id(view["id"]))
        if entry["action"] == "onboarding.hold"
    ]
    assert sorted(entry["outcome"] for entry in holds) == ["accepted"] + ["replayed"] * 7
    after = (await api.http.get(f"/api/v1/onboardings/{view['id']}", headers=auth("pm"))).json()
    assert [entry["action"] for entry in after["history"]].count("held") == 1


async def test_a_command_still_being_carried_out_answers_202_and_its_retry_gets_the_result(quick: Api):
    onboarding = (await quick.start())["id"]
    await quick.walk_to(onboarding, StageId.INTEGRATION)
    async with LoopbackServer(delay=2.5) as slow_isv:
        await quick.ok(onboarding, "checklist/provisioning_endpoint_registered", {"value": slow_isv.url})
        key = f"tick-{uuid.uuid4().hex}"
        headers = auth("pm") | {"Idempotency-Key": key}
        url = f"/api/v1/onboardings/{onboarding}/checklist/connector_test_passed"

        pending = await quick.http.post(url, json={}, headers=headers)
        assert pending.status_code == 202, pending.text
        assert pending.json()["update_id"] == key
        await asyncio.sleep(2.5)  # the ISV answers the test call
        done = await quick.http.post(url, json={}, headers=headers)

    assert done.status_code == 200, done.text
    assert "connector_test_passed" not in done.json()["unmet_criteria"]
    await recovery(quick).run_once()
    ticks = [
        entry
        for entry in await entries_of(quick, onboarding_workflow_id(onboarding))
        if entry["action"] == "onboarding.complete_item" and entry["idempotency_key"] == key
    ]
    assert sorted(entry["outcome"] for entry in ticks) == ["accepted", "replayed"]


@asynccontextmanager
async def unpolled_onboarding(api: Api) -> AsyncIterator[str]:
    """An onboarding on a task queue no worker polls: its Updates are never taken up, its queries never answered."""
    body = api.request_body()
    onboarding = onboarding_id(ISV_A, body["app"]["id"])
    await api.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(onboarding_id=onboarding, actor=PM, request=OnboardingRequest.model_validate(body)),
        id=onboarding_workflow_id(onboarding),
        task_queue=f"nobody-{uuid.uuid4().hex}",
    )
    try:
        yield onboarding
    finally:
        await api.env.client.get_workflow_handle(onboarding_workflow_id(onboarding)).terminate("test finished")


async def test_a_command_no_worker_takes_up_answers_503_within_the_command_wait(quick: Api):
    async with unpolled_onboarding(quick) as onboarding:
        started = asyncio.get_running_loop().time()
        response = await quick.command(onboarding, "hold", {"reason": "pause"})
        waited = asyncio.get_running_loop().time() - started
    assert_error(response, 503, "command_not_taken_up")
    assert response.headers["Retry-After"]
    assert waited < 5


async def test_a_read_no_worker_answers_is_503_within_the_command_wait(quick: Api):
    async with unpolled_onboarding(quick) as onboarding:
        started = asyncio.get_running_loop().time()
        response = await quick.http.get(f"/api/v1/onboardings/{onboarding}", headers=auth("pm"))
        waited = asyncio.get_running_loop().time() - started
    assert_error(response, 503, "worker_unavailable")
    assert response.headers["Retry-After"]
    assert waited < 5


async def test_the_store_down_answers_503_at_once_and_runs_nothing(api: Api):
    # PostgreSQL on a port nobody listens on: every connection is refused, as when the database is stopped.
    settings = api.settings.model_copy(update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/pf"})
    body = api.request_body()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, temporal_client=api.env.client)), base_url="http://test"
    ) as down:
        started = asyncio.get_running_loop().time()
        answers = [
            await down.post("/api/v1/onboardings", json=body, headers=auth("pm")),
            await down.get("/api/v1/apps", headers=auth("pm")),
            await down.get("/api/v1/audit/log", headers=auth("auditor")),
        ]
        waited = asyncio.get_running_loop().time() - started
    for response in answers:
        assert_error(response, 503, "store_unavailable")
        assert int(response.headers["Retry-After"]) > 0
    assert waited < 5
    workflow = api.env.client.get_workflow_handle(onboarding_workflow_id(onboarding_id(ISV_A, body["app"]["id"])))
    with pytest.raises(RPCError):
        await workflow.describe()  # nothing was started


@pytest_asyncio.fixture(scope="module")
async def own_namespace(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """A dev server of its own: the cross-check reads every history in the namespace, which must be this store's."""
    async with local_dev_server() as env, serving(env, tmp_path_factory.mktemp("cross")) as served:
        yield served


async def test_verify_cross_checks_every_command_temporal_accepted_against_the_log(own_namespace: Api):
    api = own_namespace
    view = await api.start()
    await api.pass_stage(view["id"], StageId.IDENTIFICATION)
    await api.command(view["id"], "advance", {})  # refused: never in Temporal's history, but in the log

    checked = (await api.http.get("/api/v1/audit/verify?cross_check=true", headers=auth("auditor"))).json()
    assert checked["ok"] and checked["cross_check"]["missing_count"] == 0
    assert checked["cross_check"]["commands"] == 2  # the start and the advance

    # An Update that reached the workflow without going through the API has no entry: the check names it.
    handle = ONBOARDINGS.handle(api.env.client, view["id"])
    await handle.execute_update(
        OnboardingWorkflow.hold, HoldCommand(actor=PM, reason="behind the API's back"), id="x-1"
    )
    checked = (await api.http.get("/api/v1/audit/verify?cross_check=true", headers=auth("auditor"))).json()
    assert checked["cross_check"]["missing_count"] == 1
    [missing] = checked["cross_check"]["missing"]
    assert (missing["workflow_id"], missing["command_id"]) == (onboarding_workflow_id(view["id"]), "x-1")
    assert missing["what"] == "update hold"


async def test_recovery_never_takes_a_command_whose_request_began_while_it_looked(api: Api):
    """A request adds itself to the live requests, then writes its intent; recovery's look for orphans may read that
    intent, so it must judge "live" after its look, not before."""
    assert api.app is not None
    engine: AsyncEngine = api.app.state.engine
    in_flight: CommandsInFlight = recovery(api)._in_flight
    request_id = uuid.uuid4().hex
    looked = False

    def a_request_begins_meanwhile(_connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal looked
        if looked or "FROM command_intents" not in statement or not statement.lstrip().startswith("SELECT"):
            return
        looked = True
        in_flight.requests.add(request_id)
        # The request's own transaction, committed before the look reads the table.
        with contextlib.closing(sqlite3.connect(make_url(api.settings.database_url).database or "")) as request:
            request.execute(
                "INSERT INTO command_intents (request_id, command_id, subject, role, action, target, started_at, "
                "owner) VALUES (?, ?, 'pm-anna', 'partner_manager', 'onboarding.hold', 'onboarding-x-y', ?, ?)",
                (request_id, request_id, (datetime.now(UTC) - LONG_AGO).isoformat(), in_flight.owner),
            )
            request.commit()

    event.listen(engine.sync_engine, "before_cursor_execute", a_request_begins_meanwhile)
    try:
        await recovery(api).run_once()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", a_request_begins_meanwhile)
        in_flight.requests.discard(request_id)
    assert looked
    async with sessions_of(api)() as session:
        assert await session.get(models.CommandIntent, request_id) is not None  # left to its request
