"""The worker: every workflow and activity, and the one data converter all clients and workers use."""

import asyncio
import dataclasses
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import logs
import telemetry
from activities.billing import BillingActivities
from activities.connector import ConnectorActivities
from activities.onboarding import OnboardingActivities
from activities.partner_backtests import PartnerBacktestActivities
from activities.partners import PartnerActivities
from activities.payouts import PayoutActivities
from activities.sandbox_gateway import SandboxGateway
from activities.subscriptions import SubscriptionActivities
from activities.webhook_outbox import RESEND_INTERVAL_SECONDS
from background import PeriodicJob, running
from payload_codec import EncryptionCodec
from schedules import ensure_payout_schedule
from settings import Settings, get_settings
from store.app_secrets import AppSecrets
from store.audit import audit_sequencer
from store.db import create_engine, create_session_factory
from workflows import search_attributes
from workflows.effects import ACTIVITY_TIMEOUT
from workflows.onboarding import OnboardingWorkflow
from workflows.partner import PartnerProgramWorkflow
from workflows.payout import PayoutWorkflow
from workflows.policy_backtest import PolicyBacktestWorkflow
from workflows.subscription import SubscriptionWorkflow

logger = logging.getLogger(__name__)

STICKY_TIMEOUT = timedelta(seconds=3)
# An activity's write waits this long for its turn among the process's writers (SQLite): well inside the activity's
# timeout, so a burst of writers is served in turn instead of failing attempts that are then retried.
WRITER_TURN_TIMEOUT = ACTIVITY_TIMEOUT - timedelta(seconds=5)

WORKFLOWS = [OnboardingWorkflow, SubscriptionWorkflow, PayoutWorkflow, PartnerProgramWorkflow, PolicyBacktestWorkflow]

# Pure modules shared with the workflows; passing them through keeps the sandbox from re-importing
# pydantic models (and the e-mail validator they load lazily) for every run. OpenTelemetry's context is process-wide
# state the tracing interceptor (telemetry.py) uses inside workflows: one copy, not one per run. The IBAN check
# (schwifty) finds its registry files through importlib.resources on first use, which inside the sandbox would
# re-import schwifty and pycountry and trip over os.path: they are read-only data, so one shared copy.
PASSTHROUGH_MODULES = ("domain", "email_validator", "idna", "opentelemetry", "schwifty", "pycountry")


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker and replayer uses."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def data_converter(settings: Settings | None = None) -> DataConverter:
    """Pydantic payloads, encrypted before they leave the process (see payload_codec.py)."""
    codec = EncryptionCodec.from_settings(settings or get_settings())
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


class PartnerflowWorker(Worker):
    """A worker that owns the resources its activities use (store engine, HTTP client) and closes them, and runs
    the process's background jobs for as long as it polls."""

    def __init__(
        self,
        client: Client,
        *,
        closers: list[Callable[[], Awaitable[None]]],
        jobs: Sequence[PeriodicJob] = (),
        **options: Any,
    ) -> None:
        super().__init__(client, **options)
        self._closers = closers
        self.jobs = list(jobs)

    async def run(self) -> None:
        try:
            async with running(self.jobs):
                await super().run()
        finally:
            for close in self._closers:
                await close()


def create_worker(client: Client, settings: Settings | None = None, **worker_options: Any) -> Worker:
    """`worker_options` go to the SDK's Worker as they are (e.g. `max_cached_workflows` in benchmarks)."""
    settings = settings or get_settings()
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine, turn_timeout=WRITER_TURN_TIMEOUT.total_seconds())
    http = httpx.AsyncClient(timeout=settings.connector_timeout_seconds)
    gateway = SandboxGateway(
        sessions,
        webhook_secret=settings.payment_webhook_secrets,
        legacy_webhook_secret=settings.payment_webhook_secret if settings.payment_webhook_legacy_signature else None,
        webhook_url=settings.payment_webhook_url,
        http=http,
    )
    onboarding = OnboardingActivities(sessions)
    billing = BillingActivities(sessions, gateway)
    subscriptions = SubscriptionActivities(sessions, settings.exports_path)
    connector = ConnectorActivities(
        sessions,
        http,
        AppSecrets(
            sessions, EncryptionCodec.from_settings(settings), timedelta(hours=settings.connector_secret_overlap_hours)
        ),
        settings.connector_signing_secret if settings.connector_legacy_signature else None,
    )
    payouts = PayoutActivities(sessions, gateway)
    partners = PartnerActivities(sessions)
    backtests = PartnerBacktestActivities(sessions)
    # The sandbox resends the webhooks its receiver has not taken yet (docs/payments-sandbox.md).
    resends = PeriodicJob("sandbox-webhook-resends", RESEND_INTERVAL_SECONDS, gateway.outbox.resend_due)
    return PartnerflowWorker(
        client,
        closers=[http.aclose, engine.dispose],
        jobs=[resends, audit_sequencer(sessions)],
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        # A workflow's next task goes to the worker that ran its last one; if that worker died, the task falls back
        # to the shared queue after this long. Short, so a command is not held for a dead worker (the default 10 s
        # is as long as a command waits).
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
        workflow_runner=workflow_runner(),
        activities=[
            onboarding.register_isv,
            onboarding.record_step,
            onboarding.send_notice,
            onboarding.publish_app,
            onboarding.read_marketplace_history,
            billing.issue_invoice,
            billing.charge,
            billing.record_payment,
            billing.book_revenue_share,
            billing.settle_invoice,
            subscriptions.record_subscription,
            subscriptions.send_notification,
            subscriptions.record_with_notice,
            subscriptions.produce_export,
            connector.call,
            connector.record_and_call,
            connector.test,
            payouts.prepare_statements,
            payouts.transfer,
            partners.record_partner,
            partners.award_points,
            partners.record_tier_decision,
            partners.measure_quality,
            partners.record_quality_report,
            partners.record_review,
            backtests.count_partners,
            backtests.load_partner_years,
            backtests.record_lines,
            backtests.complete,
        ],
        **worker_options,
    )


async def connect(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Client:
    """`runtime`: the SDK runtime whose telemetry the client and its workers report to (default: the SDK's own)."""
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS to the Temporal frontend: off for a local server; on (system roots, or TEMPORAL_TLS_CA_PATH) when asked
    for, when a client certificate is given (mTLS) or with an API key, which Temporal Cloud only takes over TLS."""
    cert, key = settings.temporal_tls_cert_path, settings.temporal_tls_key_path
    if (cert is None) != (key is None):
        raise SystemExit(
            "TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together (a client certificate and its key)"
        )
    wanted = settings.temporal_tls or cert is not None or settings.temporal_api_key is not None
    if not wanted:
        return False
    return TLSConfig(
        server_root_ca_cert=settings.temporal_tls_ca_path.read_bytes() if settings.temporal_tls_ca_path else None,
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
        domain=settings.temporal_tls_server_name,
    )


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime that serves the SDK's Prometheus metrics at WORKER_METRICS_ADDRESS (docs/metrics.md); None when it
    is unset or empty. One per process, made at start: it binds the port, and a port in use fails the start."""
    if not settings.worker_metrics_address:
        return None
    try:
        return Runtime(
            telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.worker_metrics_address))
        )
    except ValueError as error:  # the SDK's answer to an address it cannot bind
        raise SystemExit(
            f"worker metrics cannot be served at {settings.worker_metrics_address} ({error}): "
            "set WORKER_METRICS_ADDRESS to a free host:port, or to nothing to serve none"
        ) from error


async def ensure_search_attributes(client: Client) -> None:
    """Registers the custom search attributes the workflows use; those that exist are left alone."""
    for key in search_attributes.ALL:
        value_type = IndexedValueType.ValueType(key.indexed_value_type)
        request = AddSearchAttributesRequest(namespace=client.namespace, search_attributes={key.name: value_type})
        try:
            await client.operator_service.add_search_attributes(request)
        except RPCError as error:
            if error.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
                # Temporal Cloud: search attributes are made with tcld or the Cloud UI (docs/operations.md).
                logger.warning("cannot register search attributes here (%s): create them for the namespace", error)
                return
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise


async def main() -> None:
    """`python -m worker`: the worker alone, as docker-compose runs it; SIGTERM drains in-flight tasks."""
    settings = get_settings()
    logs.configure(settings)
    tracing = telemetry.tracer_provider(settings, telemetry.WORKER_SERVICE)
    client = telemetry.traced(await connect(settings, runtime=metrics_runtime(settings)), tracing)
    await ensure_search_attributes(client)
    if settings.payout_schedule:
        await ensure_payout_schedule(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with create_worker(client, settings):
        await stop.wait()
    if tracing is not None:
        tracing.shutdown()  # sends the spans still batched: the process ends with os._exit, which skips atexit


if __name__ == "__main__":
    asyncio.run(main())
    # The SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300); all work is done.
    os._exit(0)
