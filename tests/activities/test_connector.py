"""The ISV connector against a stub ISV server on loopback: calls signed as Standard Webhooks with the app's own
secret (and its rotation), Temporal's retry on 5xx, none on 4xx, one delivery per event id; the embedded local
connector records its calls; `test` fails fast and clearly."""

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from standardwebhooks import Webhook, WebhookVerificationError
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.connector import ConnectorActivities
from domain.signing import LEGACY_EVENT_ID_HEADER, LEGACY_SIGNATURE_HEADER, WEBHOOK_ID, new_secret, verify
from domain.subscription.model import ConnectorAction, ConnectorCall, ConnectorReply, RecordedCall, SubscriptionStatus
from store import audit, models
from store.app_secrets import AppSecrets
from tests.activities.builders import app_secrets
from tests.activities.connector_workflow import ConnectorCallWorkflow
from tests.activities.loopback import LoopbackServer, closed_port_url
from tests.activities.test_subscriptions import SUSPENDED, snapshot
from tests.store.test_onboarding_activities import count
from worker import workflow_runner

LEGACY_SECRET = "connector-test-secret"
APP = "crm-pro"
AT = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def connector_call(action: ConnectorAction = ConnectorAction.SUSPEND, **payload: str) -> ConnectorCall:
    return ConnectorCall(
        event_id=f"evt-{uuid.uuid4().hex}",
        app_id=APP,
        action=action,
        subscription_id="acme-crm-pro",
        customer_id="acme",
        occurred_at=AT,
        payload=payload,
    )


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def secrets(sessions: async_sessionmaker[AsyncSession]) -> AppSecrets:
    return app_secrets(sessions)


@pytest.fixture
def connector(
    sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, secrets: AppSecrets
) -> ConnectorActivities:
    return ConnectorActivities(sessions, http, secrets)


async def secret_of(secrets: AppSecrets, app_id: str = APP) -> str:
    """The app's newest secret, as its ISV reads it."""
    return (await secrets.signing(app_id, datetime.now(UTC)))[0].secret


def verified_by(secret: str, request: Any) -> bool:
    """What the ISV's endpoint does with the standardwebhooks package."""
    try:
        Webhook(secret).verify(request.body, dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


async def register_app(sessions: async_sessionmaker[AsyncSession], endpoint: str | None) -> None:
    """The catalogue row the connector reads the provisioning endpoint from."""
    async with sessions.begin() as session:
        session.add(models.Isv(id="crm-isv", name="CRM GmbH", contact_email="dev@crm.example", created_at=AT))
        session.add(
            models.App(
                id=APP,
                isv_id="crm-isv",
                name="CRM Pro",
                category="crm_customer_management",
                revenue_share_percent=70,
                trial_days=30,
                listing_fee_cents=0,
                onboarding_id=f"crm-isv-{APP}",
                provisioning_endpoint=endpoint,
                published_at=AT,
            )
        )


async def recorded_calls(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, int | None]]:
    async with sessions() as session:
        rows = (await session.scalars(select(models.ConnectorCallRow).order_by(models.ConnectorCallRow.id))).all()
    return [(row.action, row.endpoint, row.status_code) for row in rows]


async def run_in_worker(
    env: WorkflowEnvironment, connector: ConnectorActivities, call: ConnectorCall
) -> ConnectorReply:
    """Executes the activity as a workflow does, with a RetryPolicy, so Temporal's own retry is exercised."""
    task_queue = f"connector-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ConnectorCallWorkflow],
        activities=[connector.call],
        workflow_runner=workflow_runner(),
    ):
        return await env.client.execute_workflow(
            ConnectorCallWorkflow.run, call, id=f"connector-{call.event_id}", task_queue=task_queue
        )


async def test_calls_to_the_isv_are_signed_with_the_apps_own_secret_and_carry_the_event_id(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession], secrets: AppSecrets
) -> None:
    call = connector_call(ConnectorAction.PROVISION, plan="12")
    async with LoopbackServer(reply={"tenant": "t-42"}) as isv:
        await register_app(sessions, isv.url)
        reply = await ActivityEnvironment().run(connector.call, call)

    [request] = isv.requests
    assert verified_by(await secret_of(secrets), request)
    assert not verified_by(await secret_of(secrets, "another-app"), request), "another app's secret must not verify"
    assert not verified_by(new_secret(), request)
    assert request.headers[WEBHOOK_ID] == call.event_id
    assert LEGACY_SIGNATURE_HEADER.lower() not in request.headers  # the legacy signature's transition is over here
    assert request.json() == {
        "event_id": call.event_id,
        "action": "provision",
        "app_id": APP,
        "subscription_id": "acme-crm-pro",
        "customer_id": "acme",
        "occurred_at": "2026-04-01T08:00:00Z",
        "payload": {"plan": "12"},
    }
    assert reply == ConnectorReply(status_code=200, body={"tenant": "t-42"})


async def test_during_the_transition_calls_also_carry_the_legacy_signature_and_event_id_header(
    sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, secrets: AppSecrets
) -> None:
    connector = ConnectorActivities(sessions, http, secrets, LEGACY_SECRET)
    call = connector_call()
    async with LoopbackServer() as isv:
        await register_app(sessions, isv.url)
        await ActivityEnvironment().run(connector.call, call)

    [request] = isv.requests
    verify(LEGACY_SECRET, request.headers[LEGACY_SIGNATURE_HEADER.lower()], request.body, now=int(time.time()))
    assert request.headers[LEGACY_EVENT_ID_HEADER.lower()] == call.event_id
    assert verified_by(await secret_of(secrets), request)


async def test_after_a_rotation_calls_are_signed_with_both_secrets_until_the_overlap_ends(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession], secrets: AppSecrets
) -> None:
    first = await secret_of(secrets)
    rotated = await secrets.rotate(APP, "isv-crm", "rotate-1", datetime.now(UTC))
    assert rotated.generation == 2 and rotated.secret != first
    assert (await secrets.rotate(APP, "isv-crm", "rotate-1", datetime.now(UTC))) == rotated, "a retry rotates once"

    async with LoopbackServer() as isv:
        await register_app(sessions, isv.url)
        await ActivityEnvironment().run(connector.call, connector_call())
        # A rotation more than the overlap (24 h) ago: the secrets before it sign no more.
        latest = await secrets.rotate(APP, "isv-crm", "rotate-2", datetime.now(UTC) - timedelta(hours=25))
        await ActivityEnvironment().run(connector.call, connector_call())

    during, after = isv.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified_by(rotated.secret, during) and verified_by(first, during)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verified_by(latest.secret, after)
    assert not verified_by(rotated.secret, after) and not verified_by(first, after)


async def test_the_local_connector_makes_no_secret(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register_app(sessions, None)
    await ActivityEnvironment().run(connector.call, connector_call())
    async with sessions() as session:
        assert (await session.scalars(select(models.AppSigningSecret))).all() == []


async def test_an_apps_secret_is_kept_sealed(sessions: async_sessionmaker[AsyncSession], secrets: AppSecrets) -> None:
    secret = await secret_of(secrets)
    async with sessions() as session:
        [row] = (await session.scalars(select(models.AppSigningSecret))).all()
    assert secret.removeprefix("whsec_") not in row.sealed_secret
    assert row.sealed_secret.startswith("test-1:")  # the id of the key that sealed it, for key rotation


async def test_a_500_answer_is_retried_by_temporal_with_the_same_event_id_until_the_isv_accepts(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession], time_skipping_env: WorkflowEnvironment
) -> None:
    call = connector_call()
    async with LoopbackServer(statuses=[500, 503]) as isv:
        await register_app(sessions, isv.url)
        reply = await run_in_worker(time_skipping_env, connector, call)

    assert reply.status_code == 200
    assert [request.headers[WEBHOOK_ID] for request in isv.requests] == [call.event_id] * 3
    assert await recorded_calls(sessions) == [("suspend", isv.url, 200)]


async def test_a_4xx_answer_is_not_retried(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession], time_skipping_env: WorkflowEnvironment
) -> None:
    async with LoopbackServer(statuses=[422]) as isv:
        await register_app(sessions, isv.url)
        with pytest.raises(WorkflowFailureError) as failed:
            await run_in_worker(time_skipping_env, connector, connector_call())

    assert isinstance(failed.value.cause, ActivityError)
    rejection = failed.value.cause.cause
    assert isinstance(rejection, ApplicationError)
    assert (rejection.type, rejection.non_retryable) == ("connector_rejected", True)
    assert len(isv.requests) == 1
    assert await recorded_calls(sessions) == []


async def test_a_duplicate_event_id_is_delivered_once(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession], migrated_database: AsyncEngine
) -> None:
    call = connector_call(ConnectorAction.DEPROVISION)
    async with LoopbackServer(reply={"deleted": True}) as isv:
        await register_app(sessions, isv.url)
        first = await ActivityEnvironment().run(connector.call, call)
        again = await ActivityEnvironment().run(connector.call, call)

    assert again == first == ConnectorReply(status_code=200, body={"deleted": True})
    assert len(isv.requests) == 1
    assert await count(migrated_database, models.ConnectorCallRow) == 1


async def test_an_unreachable_endpoint_raises_a_retryable_error(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register_app(sessions, closed_port_url())

    with pytest.raises(ApplicationError) as unavailable:
        await ActivityEnvironment().run(connector.call, connector_call())

    assert (unavailable.value.type, unavailable.value.non_retryable) == ("connector_unavailable", False)


@pytest.mark.parametrize("endpoint", [None, "local"])
async def test_the_local_connector_records_each_call_and_answers_200(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession], endpoint: str | None
) -> None:
    await register_app(sessions, endpoint)
    environment = ActivityEnvironment()

    suspended = await environment.run(connector.call, connector_call(ConnectorAction.SUSPEND))
    exported = await environment.run(connector.call, connector_call(ConnectorAction.EXPORT))

    assert (suspended.status_code, exported.status_code) == (200, 200)
    assert exported.body["data"]["customer_id"] == "acme"
    assert await recorded_calls(sessions) == [("suspend", "local", 200), ("export", "local", 200)]


async def test_a_call_for_an_app_not_in_the_catalogue_is_a_non_retryable_error(connector: ConnectorActivities) -> None:
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(connector.call, connector_call())

    assert (refused.value.type, refused.value.non_retryable) == ("unknown_app", True)


@pytest.mark.parametrize("status", [500, 404])
async def test_connector_test_against_a_failing_endpoint_fails_fast_naming_endpoint_and_status(
    connector: ConnectorActivities, status: int
) -> None:
    async with LoopbackServer(statuses=[status]) as isv:
        with pytest.raises(ApplicationError) as failed:
            await ActivityEnvironment().run(connector.test, connector_call(ConnectorAction.TEST, endpoint=isv.url))

    assert (failed.value.type, failed.value.non_retryable) == ("connector_test_failed", True)
    assert isv.url in failed.value.message and f"HTTP {status}" in failed.value.message
    assert len(isv.requests) == 1


async def test_connector_test_against_an_unreachable_endpoint_fails_fast(connector: ConnectorActivities) -> None:
    endpoint = closed_port_url()

    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(connector.test, connector_call(ConnectorAction.TEST, endpoint=endpoint))

    assert (failed.value.type, failed.value.non_retryable) == ("connector_test_failed", True)
    assert endpoint in failed.value.message and "ConnectError" in failed.value.message


async def test_connector_test_passes_against_a_working_endpoint_and_the_local_connector(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    environment = ActivityEnvironment()
    async with LoopbackServer() as isv:
        remote = await environment.run(connector.test, connector_call(ConnectorAction.TEST, endpoint=isv.url))
    local = await environment.run(connector.test, connector_call(ConnectorAction.TEST))

    assert (remote.status_code, local.status_code) == (200, 200)
    assert await recorded_calls(sessions) == [("test", isv.url, 200), ("test", "local", 200)]


# --- a lifecycle step's snapshot and connector call in one activity -----------------------------


async def test_a_step_is_recorded_before_the_isv_is_told_and_a_refusal_leaves_the_snapshot_in_place(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with LoopbackServer(statuses=[422]) as isv:
        await register_app(sessions, isv.url)
        step = RecordedCall(record=snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED), call=connector_call())
        with pytest.raises(ApplicationError) as refused:
            await ActivityEnvironment().run(connector.record_and_call, step)
    assert refused.value.type == "connector_rejected"
    assert [row.status async for row in _subscription_rows(sessions)] == ["suspended"]


async def test_a_retried_step_records_its_snapshot_once_and_tells_the_isv_once(
    connector: ConnectorActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with LoopbackServer(statuses=[503, 200]) as isv:
        await register_app(sessions, isv.url)
        step = RecordedCall(record=snapshot(SubscriptionStatus.SUSPENDED, SUSPENDED), call=connector_call())
        with pytest.raises(ApplicationError):  # the ISV is down: Temporal retries the whole step
            await ActivityEnvironment().run(connector.record_and_call, step)
        reply = await ActivityEnvironment().run(connector.record_and_call, step)
        again = await ActivityEnvironment().run(connector.record_and_call, step)
    assert reply.status_code == again.status_code == 200
    assert len(isv.requests) == 2  # the failed attempt and the one that was answered; the third found its answer
    assert [row.status async for row in _subscription_rows(sessions)] == ["suspended"]
    await audit.sequence(sessions)  # the sequencer keeps one entry per event key, whatever the retries
    async with sessions() as session:
        logged = (await session.scalars(select(models.AuditEntry.action))).all()
    assert logged == ["subscription.suspended"]


async def _subscription_rows(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[models.Subscription]:
    async with sessions() as session:
        for row in (await session.scalars(select(models.Subscription))).all():
            yield row
