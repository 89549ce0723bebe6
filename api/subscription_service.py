"""Subscriptions over Temporal and the store: book one on the catalogue's terms, list items from visibility,
payment webhooks recorded once and signalled; reads and commands go through the shared workflow resource."""

import hashlib
from datetime import UTC, datetime
from http import HTTPStatus

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecution
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.errors import ApiError
from api.subscription_schemas import InvoiceOut, PaymentWebhook, SubscriptionListItem
from api.visibility import business_id, closed_at, started_at
from api.workflow_commands import WorkflowResource
from domain.ids import subscription_id, subscription_workflow_id
from domain.subscription import rules
from domain.subscription.model import BookedPlan, BookingRequest, SubscriptionView
from store import models
from workflows import search_attributes as sa
from workflows.subscription import SubscriptionInput, SubscriptionWorkflow, search_attributes_of

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
    async with sessions() as session:
        app = await session.get(models.App, request.app_id)
    if app is None:
        # The catalogue holds published apps only: one still in onboarding (or none at all) is not bookable.
        raise ApiError(
            HTTPStatus.CONFLICT,
            "app_not_live",
            f"app {request.app_id} is not live in the catalogue; only published apps can be booked",
            {"app_id": request.app_id},
        )
    prices = {plan.term_months: plan.monthly_price_cents for plan in app.plans}
    if request.term_months not in prices:
        offered = sorted(prices)
        raise ApiError(
            HTTPStatus.CONFLICT,
            "plan_not_offered",
            f"app {app.id} offers terms of {', '.join(map(str, offered))} months, not {request.term_months}",
            {"app_id": app.id, "term_months": request.term_months, "offered_terms": offered},
        )
    return BookedPlan(
        app_id=app.id,
        app_name=app.name,
        isv_id=app.isv_id,
        term_months=request.term_months,
        monthly_price_cents=prices[request.term_months],
        revenue_share_percent=float(app.revenue_share_percent),
        trial_days=app.trial_days,
    )


async def book(
    client: Client, task_queue: str, request: BookingRequest, plan: BookedPlan, actor: str
) -> SubscriptionView:
    """Starts the workflow with its search attributes set, so it is listable before its first task runs."""
    subscription = subscription_id(request.customer.id, request.app_id)
    initial = rules.book(subscription, request, plan, actor, datetime.now(UTC))
    try:
        handle = await client.start_workflow(
            SubscriptionWorkflow.run,
            SubscriptionInput(subscription_id=subscription, actor=actor, request=request, plan=plan),
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
    return await handle.query(SubscriptionWorkflow.view)


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


async def receive_payment(client: Client, sessions: async_sessionmaker[AsyncSession], webhook: PaymentWebhook) -> None:
    """Records the event id once (a replay is a 409), then tells the subscription; if it cannot be told, the
    record is removed again, so the provider's retry of the same event is not mistaken for a replay."""
    if not await _record_once(sessions, webhook):
        raise ApiError(
            HTTPStatus.CONFLICT,
            "webhook_replayed",
            f"event {webhook.event_id} was received before; each event is applied once",
            {"event_id": webhook.event_id},
        )
    try:
        await SUBSCRIPTIONS.send_signal(
            client, webhook.subscription_id, SubscriptionWorkflow.payment_event, webhook.payment_event()
        )
    except BaseException:
        async with sessions.begin() as session:
            await session.execute(delete(models.WebhookEvent).where(models.WebhookEvent.event_id == webhook.event_id))
        raise


async def _record_once(sessions: async_sessionmaker[AsyncSession], webhook: PaymentWebhook) -> bool:
    row = models.WebhookEvent(
        event_id=webhook.event_id,
        type=webhook.type.value,
        payment_id=webhook.payment_id,
        invoice_number=webhook.invoice_number,
        received_at=datetime.now(UTC),
    )
    try:
        async with sessions.begin() as session:
            session.add(row)
    except IntegrityError:  # the unique event id: received before
        return False
    return True
