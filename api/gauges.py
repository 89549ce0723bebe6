"""The business gauges operators watch (docs/metrics.md), read when Prometheus scrapes: open onboardings by stage and
SLA status from Temporal visibility (their only record), subscriptions, failed payments and the webhook backlogs from
the store. Labels are enum values only: no ids, names or tenants."""

import asyncio
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from temporalio.client import Client

from api.visibility import list_query
from domain.onboarding.config import StageId
from domain.onboarding.sla import SlaStatus
from store.gauges import StoreGauges
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow

OnboardingCounts = dict[tuple[StageId, SlaStatus], int]


async def onboarding_counts(client: Client, rpc_timeout: timedelta) -> OnboardingCounts:
    """One count per stage x SLA status, all at once: the visibility store groups by ExecutionStatus only."""
    cells = list(itertools.product(StageId, SlaStatus))
    counts = await asyncio.gather(*(_count_open(client, stage, sla, rpc_timeout) for stage, sla in cells))
    return dict(zip(cells, counts, strict=True))


async def _count_open(client: Client, stage: StageId, sla: SlaStatus, rpc_timeout: timedelta) -> int:
    query = list_query(OnboardingWorkflow.__name__, {sa.ONBOARDING_STAGE: stage, sa.SLA_STATUS: sla})
    answer = await client.count_workflows(f"{query} AND ExecutionStatus = 'Running'", rpc_timeout=rpc_timeout)
    return answer.count


def onboarding_families(counts: OnboardingCounts) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "partnerflow_onboardings",
        "Onboardings in progress or on hold (workflow running), by stage and SLA status",
        labels=["stage", "sla_status"],
    )
    for (stage, sla), count in counts.items():
        family.add_metric([stage.value, sla.value], count)
    yield family


def store_families(gauges: StoreGauges, now: datetime) -> Iterator[Metric]:
    subscriptions = GaugeMetricFamily("partnerflow_subscriptions", "Subscription bookings by status", labels=["status"])
    for status, count in sorted(gauges.subscriptions.items()):
        subscriptions.add_metric([status], count)
    yield subscriptions

    failed = CounterMetricFamily(
        "partnerflow_payments_failed",
        "Payment attempts the gateway answered as failed (charges and payout transfers), by payment method",
        labels=["method"],
    )
    for method, count in sorted(gauges.failed_payments.items()):
        failed.add_metric([method], count)
    yield failed

    backlog = GaugeMetricFamily(
        "partnerflow_webhook_backlog",
        "Webhooks waiting for another delivery attempt: inbox = payment events received and not yet taken by their "
        "workflow, outbox = the payment sandbox's events not yet taken by their receiver",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        "partnerflow_webhook_backlog_oldest_age_seconds",
        "How long the longest-waiting webhook of the backlog has waited (0 when there is none)",
        labels=["queue"],
    )
    undeliverable = GaugeMetricFamily(
        "partnerflow_webhooks_undeliverable",
        "Webhooks given up on or refused for good: never tried again",
        labels=["queue"],
    )
    for queue, state in sorted(gauges.webhooks.items()):
        backlog.add_metric([queue], state.pending)
        oldest.add_metric([queue], max((now - state.oldest).total_seconds(), 0.0) if state.oldest else 0.0)
        undeliverable.add_metric([queue], state.undeliverable)
    yield from (backlog, oldest, undeliverable)
