"""Subscriptions over Temporal and the store: book one on the catalogue's terms, list items from visibility,
payment webhooks stored once and then signalled; reads and commands go through the shared workflow resource."""

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from http import HTTPStatus

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecution
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.errors import ApiError
from api.subscription_schemas import InvoiceOut, PaymentWebhook, SubscriptionListItem
from api.temporal import TemporalConnector
from api.visibility import business_id, closed_at, started_at
from api.workflow_commands import CommandRef, WorkflowResource, start_once
from domain.delivery import Backoff, DeliveryState
from domain.ids import subscription_id, subscription_workflow_id
from domain.subscription import rules
from domain.subscription.model import BookedPlan, BookingRequest, SubscriptionView
from store import models, webhooks
from workflows import search_attributes as sa
from workflows.subscription import SubscriptionInput, SubscriptionWorkflow, search_attributes_of

log = logging.getLogger(__name__)

SUBSCRIPTIONS = WorkflowResource[SubscriptionWorkflow, SubscriptionView](
    kind="subscription",
    workflow_id=subscription_workflow_id,
    run=SubscriptionWorkflow.run,
    view=SubscriptionWorkflow.view,
    status_attribute=sa.SUBSCRIPTION_STATUS,
    closed_code="subscription_ended",
    # Phone bill for a customer without a Telekom number: the body is wrong for this customer, not the timing.
    invalid_input={"invalid_payment_method": "body.type"},
)


# --- booking ---------------------------------------------------------------------------------


async def booked_plan(sessions: async_sessionmaker[AsyncSession], request: BookingRequest) -> BookedPlan:
    """The catalogue's terms for the booked app and term, which the contract then keeps for its life."""
    return await catalogue_plan(sessions, request.app_id, request.term_months)


async def catalogue_plan(sessions: async_sessionmaker[AsyncSession], app_id: str, term_months: int) -> BookedPlan:
    """The app's plan for `term_months` as the catalogue offers it now; 409 if the app or the plan is not offered."""
    async with sessions() as session:
        app = await session.get(models.App, app_id)
    if app is None:
        # The catalogue holds published apps only: one still in onboarding (or none at all) is not bookable.
        raise ApiError(
            HTTPStatus.CONFLICT,
            "app_not_live",
            f"app {app_id} is not live in the catalogue; only published apps can be booked",
            {"app_id": app_id},
        )
    prices = {plan.term_months: plan.monthly_price_cents for plan in app.plans}
    if term_months not in prices:
        offered = sorted(prices)
        raise ApiError(
            HTTPStatus.CONFLICT,
            "plan_not_offered",
            f"app {app.id} offers terms of {', '.join(map(str, offered))} months, not {term_months}",
            {"app_id": app.id, "term_months": term_months, "offered_terms": offered},
        )
    return BookedPlan(
        app_id=app.id,
        app_name=app.name,
        isv_id=app.isv_id,
        term_months=term_months,
        monthly_price_cents=prices[term_months],
        revenue_share_percent=float(app.revenue_share_percent),
        trial_days=app.trial_days,
    )


async def book(
    client: Client, task_queue: str, request: BookingRequest, plan: BookedPlan, command: CommandRef
) -> SubscriptionView:
    """Starts the workflow with its search attributes set, so it is listable before its first task runs, and
    answers with the state it starts in, which the workflow computes alike (no wait for a worker)."""
    subscription = subscription_id(request.customer.id, request.app_id)
    now = command.at
    initial = rules.book(subscription, request, plan, command.actor, now)
    booking = SubscriptionInput(
        subscription_id=subscription, actor=command.actor, request=request, plan=plan, booked_at=now
    )
    try:
        run = await start_once(
            client,
            SubscriptionWorkflow.run,
            booking,
            command,
            id=subscription_workflow_id(subscription),
            task_queue=task_queue,
            # One open subscription per customer and app; once an earlier one has ended, the app can be booked again.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(search_attributes_of(initial)),
        )
    except WorkflowAlreadyStartedError as error:
        raise ApiError(
            HTTPStatus.CONFLICT,
            "subscription_exists",
            f"customer {request.customer.id} already has an open subscription {subscription} to app {request.app_id}",
            {"subscription_id": subscription},
        ) from error
    return rules.view(initial) if run.fresh else await run.handle.query(SubscriptionWorkflow.view)


def list_item(execution: WorkflowExecution) -> SubscriptionListItem:
    attributes = execution.typed_search_attributes
    return SubscriptionListItem(
        id=business_id(execution, subscription_workflow_id),
        customer_id=attributes.get(sa.CUSTOMER_ID),
        app_id=attributes.get(sa.APP_ID),
        isv_id=attributes.get(sa.ISV_ID),
        channel_partner_id=attributes.get(sa.CHANNEL_PARTNER_ID),
        status=attributes.get(sa.SUBSCRIPTION_STATUS),
        started_at=started_at(execution),
        closed_at=closed_at(execution),
    )


# --- records in the store ---------------------------------------------------------------------


async def invoices(sessions: async_sessionmaker[AsyncSession], subscription: str) -> list[InvoiceOut]:
    query = select(models.InvoiceRow).where(models.InvoiceRow.subscription_id == subscription)
    async with sessions() as session:
        rows = (await session.scalars(query.order_by(models.InvoiceRow.number))).all()
    return [InvoiceOut.model_validate(row, from_attributes=True) for row in rows]


async def export_of(sessions: async_sessionmaker[AsyncSession], subscription: str, export_id: str) -> models.Export:
    async with sessions() as session:
        export = await session.get(models.Export, export_id)
    if export is None or export.subscription_id != subscription:
        raise ApiError(
            HTTPStatus.NOT_FOUND, "export_not_found", f"subscription {subscription} has no export {export_id}"
        )
    return export


def export_id(subscription: str, update_id: str) -> str:
    """A new export's id; derived from the Update id (the Idempotency-Key, if sent), so a retried request names the
    same file and the export activity (idempotent by export id) produces it once."""
    return f"exp-{hashlib.sha256(f'{subscription}:{update_id}'.encode()).hexdigest()[:32]}"


# --- payment webhooks ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPolicy:
    """How a stored payment event is delivered to its subscription's workflow: each attempt (connect and signal)
    bounded by `timeout_seconds`, failed attempts retried with `backoff` (no limit: the event is ours to deliver)."""

    timeout_seconds: float = 3.0
    backoff: Backoff = field(default_factory=lambda: Backoff(first=timedelta(seconds=1), cap=timedelta(minutes=5)))

    @property
    def lease(self) -> timedelta:
        # Keeps the relay off an event while an attempt may still be running; a crashed attempt is retried after it.
        return timedelta(seconds=self.timeout_seconds + 10)


class Receipt(Enum):
    STORED = "stored"  # new: stored, and delivered or left for the relay
    DUPLICATE = "duplicate"  # stored before (a resend, or a concurrent copy)


async def receive_payment(
    temporal: TemporalConnector,
    sessions: async_sessionmaker[AsyncSession],
    webhook: PaymentWebhook,
    payload: str,
    request_id: str,
    policy: DeliveryPolicy,
) -> Receipt:
    """Stores the verified event first, so it is never lost once answered; then makes the first delivery attempt.

    Whether or not Temporal takes it now, a stored event is accepted: the relay (api/payment_relay.py) delivers what
    is left. Only an event that can never be delivered (no such subscription, or one that has ended) is refused, on
    its first receipt and on every resend. Store errors are not caught here: an event not stored is not answered 2xx.
    """
    now = datetime.now(UTC)
    row = models.WebhookEvent(
        event_id=webhook.event_id,
        type=webhook.type.value,
        payment_id=webhook.payment_id,
        invoice_number=webhook.invoice_number,
        received_at=now,
        subscription_id=webhook.subscription_id,
        payload=payload,
        request_id=request_id,
        state=DeliveryState.PENDING,
        attempts=1,  # this request's attempt, claimed with the row
        next_attempt_at=now + policy.lease,
    )
    row_id = await webhooks.store_event_once(sessions, row)
    if row_id is None:
        stored = await webhooks.find_event(sessions, webhook.event_id)
        if stored is not None and stored.refusal is not None:
            raise _refusal_of(stored.refusal)
        return Receipt.DUPLICATE
    refusal = await deliver_payment(temporal, sessions, row_id, webhook, attempt=1, policy=policy)
    if refusal is not None:
        raise refusal
    return Receipt.STORED


async def deliver_payment(
    temporal: TemporalConnector,
    sessions: async_sessionmaker[AsyncSession],
    row_id: int,
    webhook: PaymentWebhook,
    *,
    attempt: int,
    policy: DeliveryPolicy,
    failed_before: bool = False,
) -> ApiError | None:
    """One claimed attempt at signalling the subscription's workflow, and its record: delivered, undeliverable (the
    refusal is returned), or left for a later attempt. The workflow ignores an event id it has seen, so an attempt
    that got through but was not recorded (a timeout after the signal) repeats harmlessly."""
    refusal: ApiError | None = None
    failure: str | None = None
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            client = await temporal.client()
            await SUBSCRIPTIONS.send_signal(
                client, webhook.subscription_id, SubscriptionWorkflow.payment_event, webhook.payment_event()
            )
    except ApiError as error:
        # send_signal's 404 (no such subscription) and 409 (it has ended) are final; a 503 (Temporal down) is not.
        if error.status in (HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT):
            refusal = error
        else:
            failure = error.message
    except TimeoutError:
        failure = f"Temporal did not take the signal within {policy.timeout_seconds:g} s"
    except Exception as error:  # any other failure to reach Temporal: try again later, never lose the event
        failure = f"{type(error).__name__}: {error}"
    # The store is written outside the try: its errors are the caller's, never taken for a delivery failure.
    now = datetime.now(UTC)
    if refusal is not None:
        log.warning("payment event %s cannot be delivered: %s", webhook.event_id, refusal.message)
        await webhooks.mark_undeliverable(
            sessions, models.WebhookEvent, row_id, refusal.message, refusal=_refusal_json(refusal)
        )
        return refusal
    if failure is not None:
        delay = policy.backoff.delay(attempt)
        if not failed_before:  # once per failing event; its later failures are in last_error
            log.warning("payment event %s not delivered yet, retrying with backoff: %s", webhook.event_id, failure)
        await webhooks.retry_later(sessions, models.WebhookEvent, row_id, attempt, delay, now, failure)
        return None
    if failed_before:
        log.info("payment event %s delivered at attempt %d", webhook.event_id, attempt)
    await webhooks.mark_delivered(sessions, models.WebhookEvent, row_id, now)
    return None


def _refusal_json(error: ApiError) -> str:
    answer = {"status": int(error.status), "code": error.code, "message": error.message, "details": error.details}
    return json.dumps(answer, default=str)


def _refusal_of(stored: str) -> ApiError:
    answer = json.loads(stored)
    return ApiError(answer["status"], answer["code"], answer["message"], answer["details"])
