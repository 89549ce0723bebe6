"""Payment webhooks are never lost: each is stored before it is answered, concurrent copies are stored and signalled
once, and what Temporal could not take at once is delivered later by the API's relay."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.sandbox_gateway import signed_webhook
from api.app import create_app
from api.subscription_service import DeliveryPolicy
from domain.delivery import Backoff
from domain.ids import subscription_workflow_id
from store import models
from store.db import create_engine, create_session_factory
from tests.api.conftest import Subscriptions, api_settings, assert_error, eventually
from tests.api.test_payment_webhook import event, post, stored_count, stored_event
from tests.ports import free_port

QUICK = DeliveryPolicy(
    timeout_seconds=2.0, backoff=Backoff(first=timedelta(milliseconds=50), cap=timedelta(milliseconds=200))
)


async def payment_signals(env: WorkflowEnvironment, subscription: str) -> int:
    """How many payment events Temporal's history shows the subscription's workflow was signalled."""
    handle = env.client.get_workflow_handle(subscription_workflow_id(subscription))
    signals = 0
    async for history_event in handle.fetch_history_events():
        if history_event.HasField("workflow_execution_signaled_event_attributes"):
            signals += history_event.workflow_execution_signaled_event_attributes.signal_name == "payment_event"
    return signals


async def stored_states(database_url: str, event_ids: list[str]) -> dict[str, str]:
    engine = create_engine(database_url)
    query = select(models.WebhookEvent.event_id, models.WebhookEvent.state).where(
        models.WebhookEvent.event_id.in_(event_ids)
    )
    async with create_session_factory(engine)() as session:
        states = {event_id: state for event_id, state in (await session.execute(query)).all()}
    await engine.dispose()
    return states


async def open_invoice(subs: Subscriptions) -> tuple[str, str]:
    """A subscription whose first invoice waits for its payment's outcome (a pending charge): (id, invoice number)."""
    view = await subs.book(payment_method={"type": "paypal", "token": "tok_pending"})
    await subs.sleep_days(31)
    [invoice] = (await subs.get(view["id"], "/invoices")).json()["items"]
    assert invoice["status"] == "open"
    return view["id"], invoice["number"]


async def invoice_status(subs: Subscriptions, subscription: str) -> str:
    [invoice] = (await subs.get(subscription, "/invoices")).json()["items"]
    status: str = invoice["status"]
    return status


async def test_concurrent_copies_of_one_event_are_stored_answered_accepted_and_signalled_once(subs: Subscriptions):
    subscription, invoice = await open_invoice(subs)
    payload = event(subscription, invoice)

    answers = await asyncio.gather(*(post(subs, payload) for _ in range(20)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 19 + [202], [answer.text for answer in answers if answer.status_code >= 300]
    duplicates = [answer.json() for answer in answers if answer.status_code == 200]
    assert duplicates == [{"event_id": payload["event_id"], "duplicate": True}] * 19
    assert await stored_count(subs.api.settings.database_url, payload["event_id"]) == 1
    assert await eventually(lambda: invoice_status(subs, subscription), lambda status: status == "paid") == "paid"
    assert await payment_signals(subs.api.env, subscription) == 1


async def test_forty_distinct_events_at_once_are_all_accepted_stored_and_delivered(subs: Subscriptions):
    view = await subs.book()
    # Events for invoices the subscription does not have: the workflow takes and ignores them.
    payloads = [event(view["id"], f"inv-{n}") for n in range(40)]
    event_ids = [payload["event_id"] for payload in payloads]

    answers = await asyncio.gather(*(post(subs, payload) for payload in payloads))

    assert [answer.status_code for answer in answers] == [202] * 40, [a.text for a in answers if a.status_code != 202]
    assert [answer.json()["event_id"] for answer in answers] == event_ids
    states = await eventually(
        lambda: stored_states(subs.api.settings.database_url, event_ids),
        lambda states: set(states.values()) == {"delivered"},
    )
    assert states == dict.fromkeys(event_ids, "delivered")
    assert await payment_signals(subs.api.env, view["id"]) == 40


@contextlib.asynccontextmanager
async def forwarding(port: int, target: str) -> AsyncIterator[None]:
    """A TCP forwarder on 127.0.0.1:`port` to `target` (host:port): Temporal "comes back" on that port."""
    host, _, target_port = target.rpartition(":")
    writers: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(target_port))
        writers.extend([writer, upstream_writer])
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in writers:
            writer.close()


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_an_event_received_while_temporal_is_down_is_accepted_and_delivered_by_the_relay_once_it_is_back(
    subs: Subscriptions, time_skipping_env: WorkflowEnvironment, sqlite_url: str
):
    subscription, invoice = await open_invoice(subs)
    # An API process of its own (own database, so no other relay can deliver), whose Temporal port is closed.
    port = free_port()
    app = create_app(api_settings(sqlite_url, temporal_address=f"127.0.0.1:{port}"))
    app.state.payment_relay.policy = QUICK
    payload = event(subscription, invoice)
    body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, payload)

    async with app.router.lifespan_context(app), asgi_client(app) as http:
        response = await http.post("/api/v1/payments/webhook", content=body, headers=headers)

        assert response.status_code == 202, response.text
        assert response.json() == {"status": "accepted", "event_id": payload["event_id"]}
        await asyncio.sleep(0.5)  # the relay (running since the app started) cannot reach Temporal either
        waiting = await stored_event(sqlite_url, payload["event_id"])
        assert (waiting.state, waiting.attempts, waiting.delivered_at) == ("pending", 1, None)
        assert await invoice_status(subs, subscription) == "open"

        async with forwarding(port, time_skipping_env.client.service_client.config.target_host):
            delivered = await eventually(
                lambda: stored_event(sqlite_url, payload["event_id"]), lambda row: row.state == "delivered", seconds=10
            )
            paid = await eventually(lambda: invoice_status(subs, subscription), lambda status: status == "paid")

    assert (delivered.attempts, delivered.next_attempt_at) == (2, None)  # the request's, then the relay's
    assert delivered.delivered_at is not None
    assert paid == "paid"
    assert await payment_signals(subs.api.env, subscription) == 1


async def test_the_relay_marks_an_event_it_cannot_ever_deliver_undeliverable_and_a_resend_is_refused(
    subs: Subscriptions, time_skipping_env: WorkflowEnvironment, sqlite_url: str
):
    port = free_port()
    app = create_app(api_settings(sqlite_url, temporal_address=f"127.0.0.1:{port}"))
    app.state.payment_relay.policy = QUICK
    payload = event(f"nobody-{subs.app_id}")
    body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, payload)

    async with app.router.lifespan_context(app), asgi_client(app) as http:
        assert (await http.post("/api/v1/payments/webhook", content=body, headers=headers)).status_code == 202
        async with forwarding(port, time_skipping_env.client.service_client.config.target_host):
            refused = await eventually(
                lambda: stored_event(sqlite_url, payload["event_id"]),
                lambda row: row.state == "undeliverable",
                seconds=10,
            )
            body, headers = signed_webhook(subs.api.settings.payment_webhook_secrets, payload)
            resent = await http.post("/api/v1/payments/webhook", content=body, headers=headers)

    assert refused.next_attempt_at is None and refused.delivered_at is None
    assert refused.last_error == f"there is no subscription {payload['subscription_id']}"
    assert_error(resent, 404, "subscription_not_found")
    assert await stored_count(sqlite_url, payload["event_id"]) == 1
