"""GET /metrics: each metric moves when its event happens, labels carry templates and enum values only, and the
scrape answers in about its timeout whatever state Temporal is in."""

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families

from activities.sandbox_gateway import SandboxGateway
from api.app import create_app
from tests.activities.builders import charge_request
from tests.activities.loopback import closed_port_url
from tests.api.conftest import METHODS, Api, Subscriptions, api_settings, assert_error, auth, eventually
from tests.api.test_temporal_unavailable import client_for, closed_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
WEBHOOK_SECRET = "whsec_bWV0cmljcy10ZXN0LXNlY3JldC0zMi1ieXRlcy1vayE="  # a well-formed Standard Webhooks secret


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(http: httpx.AsyncClient, **headers: str) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")  # the Prometheus text format
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_of(samples: Samples, route: str, status: str, method: str = "GET") -> float:
    return value(samples, "partnerflow_http_requests_total", method=method, route=route, status=status)


async def test_a_request_is_counted_under_its_route_template_and_status(api: Api):
    unknown = f"acme-{uuid.uuid4().hex[:8]}"
    before = await scrape(api.http)
    assert_error(await api.http.get(f"/api/v1/onboardings/{unknown}", headers=auth("pm")), 404, "onboarding_not_found")
    assert (await api.http.get("/api/v1/apps", headers=auth("pm"))).status_code == 200
    assert (await api.http.get("/health")).status_code == 200
    response = await api.http.get("/metrics")
    after = parse(response.text)

    template = "/api/v1/onboardings/{onboarding_id}"
    assert requests_of(after, template, "404") == requests_of(before, template, "404") + 1
    assert requests_of(after, "/api/v1/apps", "200") == requests_of(before, "/api/v1/apps", "200") + 1
    assert requests_of(after, "/health", "200") == requests_of(before, "/health", "200") + 1
    assert unknown not in response.text  # the id in the path never becomes a label value


async def test_each_request_leaves_a_latency_sample_for_its_route(api: Api):
    labels = {"method": "GET", "route": "/api/v1/apps"}
    before = await scrape(api.http)
    await api.http.get("/api/v1/apps", headers=auth("pm"))
    after = await scrape(api.http)

    count = "partnerflow_http_request_duration_seconds_count"
    assert value(after, count, **labels) == value(before, count, **labels) + 1
    assert value(after, "partnerflow_http_request_duration_seconds_sum", **labels) > value(
        before, "partnerflow_http_request_duration_seconds_sum", **labels
    )
    assert value(after, "partnerflow_http_request_duration_seconds_bucket", le="+Inf", **labels) == value(
        after, count, **labels
    )


async def test_paths_no_route_takes_share_one_label_value(api: Api):
    made_up = f"/no-such-{uuid.uuid4().hex[:8]}"
    before = await scrape(api.http)
    assert (await api.http.get(made_up)).status_code == 404
    response = await api.http.get("/metrics")

    assert requests_of(parse(response.text), "unmatched", "404") == requests_of(before, "unmatched", "404") + 1
    assert made_up not in response.text


async def test_starting_an_onboarding_moves_the_onboardings_gauge_of_its_stage_and_sla(listing_api: Api):
    cell = {"stage": "identification", "sla_status": "on_track"}
    before = value(await scrape(listing_api.http), "partnerflow_onboardings", **cell)
    await listing_api.start()

    async def read() -> float:
        return value(await scrape(listing_api.http), "partnerflow_onboardings", **cell)

    # Visibility takes a moment to show a new workflow.
    assert await eventually(read, lambda now: now == before + 1) == before + 1
    assert value(await scrape(listing_api.http), "partnerflow_scrape_source_up", source="temporal") == 1


async def test_a_booking_and_its_failed_payment_move_the_subscription_and_payment_metrics(subs: Subscriptions):
    http = subs.api.http
    before = await scrape(http)
    trialing = value(before, "partnerflow_subscriptions", status="trialing")
    view = await subs.book(payment_method=METHODS["declined_card"])

    async def read() -> float:
        return value(await scrape(http), "partnerflow_subscriptions", status="trialing")

    # The booking answers before the workflow's activity has written the store's copy.
    assert await eventually(read, lambda now: now == trialing + 1) == trialing + 1

    await subs.sleep_days(30.5)  # the trial ends and the first invoice's charge is declined
    assert (await subs.view(view["id"]))["dunning"] is not None
    charged = await scrape(http)
    failed = "partnerflow_payments_failed_total"
    assert value(charged, failed, method="credit_card") == value(before, failed, method="credit_card") + 1


async def test_a_webhook_its_receiver_has_not_taken_shows_in_the_outbox_backlog(api: Api):
    assert api.app is not None
    gateway = SandboxGateway(api.app.state.sessions, webhook_secret=WEBHOOK_SECRET, webhook_url=closed_port_url())
    before = await scrape(api.http)
    await gateway.charge(charge_request("credit_card", "tok_success", key=f"charge-{uuid.uuid4().hex}"))
    after = await scrape(api.http)

    backlog = "partnerflow_webhook_backlog"
    assert value(after, backlog, queue="outbox") == value(before, backlog, queue="outbox") + 1
    assert value(after, backlog, queue="inbox") == value(before, backlog, queue="inbox")
    assert value(after, "partnerflow_webhook_backlog_oldest_age_seconds", queue="outbox") >= 0
    assert value(after, "partnerflow_scrape_source_up", source="store") == 1


@contextmanager
def silent_server() -> Iterator[str]:
    """An address that accepts connections and never answers, as a hung Temporal frontend would."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"127.0.0.1:{listener.getsockname()[1]}"


async def test_metrics_answer_without_the_temporal_gauges_when_temporal_is_down_or_hangs(sqlite_url: str):
    with silent_server() as hung:
        for address in (f"127.0.0.1:{closed_port()}", hung):
            app = create_app(api_settings(sqlite_url, temporal_address=address, metrics_timeout_seconds=0.5))
            async with client_for(app) as http:
                started = time.monotonic()
                samples = await scrape(http)
                assert time.monotonic() - started < 3, address

            assert value(samples, "partnerflow_scrape_source_up", source="temporal") == 0
            assert value(samples, "partnerflow_scrape_errors_total", source="temporal") == 1
            assert not any(name == "partnerflow_onboardings" for name, _ in samples)
            # The store's gauges are there all the same.
            assert value(samples, "partnerflow_scrape_source_up", source="store") == 1
            assert ("partnerflow_webhook_backlog", frozenset({("queue", "outbox")})) in samples
            await app.state.engine.dispose()


async def test_a_metrics_token_closes_the_endpoint_to_everyone_without_it(sqlite_url: str):
    app = create_app(
        api_settings(sqlite_url, temporal_address=f"127.0.0.1:{closed_port()}", metrics_token="scrape-secret")
    )
    async with client_for(app) as http:
        assert_error(await http.get("/metrics"), 401, "unauthenticated")
        assert_error(await http.get("/metrics", headers=auth("admin")), 401, "unauthenticated")
        await scrape(http, Authorization="Bearer scrape-secret")
    await app.state.engine.dispose()
