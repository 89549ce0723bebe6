"""Customer subscriptions: book (start a workflow), list (Temporal visibility), read (workflow query), commands
(Workflow Updates), and the records that outlive a workflow run (invoices, export files) from the store."""

from http import HTTPStatus
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.responses import FileResponse

# The embedded sandbox is the payment gateway: its token lookup gives a card's brand and last four digits.
from api import subscription_service as service
from api.deps import AppSettings, CurrentPrincipal, Sessions, TemporalClient
from api.errors import ERROR_RESPONSES, ApiError
from api.payment_methods import new_payment_method
from api.subscription_schemas import (
    EXPORT_ID_PATTERN,
    SUBSCRIPTION_ID_PATTERN,
    CancelBody,
    ExportRequestBody,
    InvoiceList,
    PlanChangeBody,
    ReinstateBody,
    SubscriptionFilters,
    SubscriptionPage,
    UncancelBody,
)
from api.subscription_service import SUBSCRIPTIONS
from api.visibility import list_page
from api.workflow_commands import Commands, CurrentCommand, UpdateId
from domain.payments import PaymentMethod
from domain.subscription.model import (
    BookingRequest,
    CancelCommand,
    ChangePaymentMethodCommand,
    ChangePlanCommand,
    ExportRequestCommand,
    ReinstateCommand,
    SubscriptionView,
    UncancelCommand,
)
from workflows import search_attributes as sa
from workflows.subscription import SubscriptionWorkflow

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], responses=ERROR_RESPONSES)

SubscriptionIdPath = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN, description="`{customer}-{app}`")]
ExportIdPath = Annotated[str, Path(pattern=EXPORT_ID_PATTERN, description="An id from the view's `exports`")]


# --- book, list, read ------------------------------------------------------------------------


@router.post("", status_code=HTTPStatus.CREATED)
async def book_subscription(
    body: BookingRequest,
    command: CurrentCommand,
    settings: AppSettings,
    sessions: Sessions,
    client: TemporalClient,
) -> SubscriptionView:
    if body.payment_method is not None:
        method = new_payment_method(body.payment_method, "body.payment_method")
        body = body.model_copy(update={"payment_method": method})
    plan = await service.booked_plan(sessions, body)
    return await service.book(client, settings.task_queue, body, plan, command)


@router.get("")
async def list_subscriptions(
    principal: CurrentPrincipal, client: TemporalClient, filters: Annotated[SubscriptionFilters, Query()]
) -> SubscriptionPage:
    by_attribute = {
        sa.SUBSCRIPTION_STATUS: filters.status.value if filters.status else None,
        sa.APP_ID: filters.app_id,
        sa.CUSTOMER_ID: filters.customer_id,
        sa.ISV_ID: filters.isv_id,
        sa.CHANNEL_PARTNER_ID: filters.channel_partner_id,
    }
    items, next_page_token = await list_page(
        client, SubscriptionWorkflow.__name__, by_attribute, filters, principal, service.list_item
    )
    return SubscriptionPage(items=items, next_page_token=next_page_token)


async def _visible_view(
    subscription_id: SubscriptionIdPath, principal: CurrentPrincipal, client: TemporalClient, settings: AppSettings
) -> SubscriptionView:
    """The subscription's view, if the caller may see it: an ISV sees those of its own apps only."""
    view = await SUBSCRIPTIONS.fetch_view(client, subscription_id, settings.command_wait_seconds)
    if not principal.sees_isv(view.isv_id):
        raise SUBSCRIPTIONS.not_found(subscription_id)
    return view


VisibleView = Annotated[SubscriptionView, Depends(_visible_view)]


@router.get("/{subscription_id}", response_model=SubscriptionView)
async def get_subscription(
    subscription_id: SubscriptionIdPath, principal: CurrentPrincipal, client: TemporalClient
) -> Response:
    # The view's JSON as the workflow encoded it: nothing to validate or serialise again on the way out.
    view = await SUBSCRIPTIONS.fetch_view_json(client, subscription_id)
    if not principal.sees_isv(view.fields["isv_id"]):
        raise SUBSCRIPTIONS.not_found(subscription_id)
    return view.response()


@router.get("/{subscription_id}/invoices")
async def list_invoices(view: VisibleView, sessions: Sessions) -> InvoiceList:
    # The workflow says whether the subscription exists and who sees it; the store holds every invoice it issued.
    return InvoiceList(items=await service.invoices(sessions, view.id))


@router.get(
    "/{subscription_id}/exports/{export_id}",
    response_class=FileResponse,
    responses={HTTPStatus.OK: {"content": {"application/zip": {}}, "description": "The export's ZIP archive"}},
)
async def download_export(
    export_id: ExportIdPath, view: VisibleView, sessions: Sessions, settings: AppSettings
) -> FileResponse:
    export = await service.export_of(sessions, view.id, export_id)
    path = settings.exports_path / FilePath(export.file_name).name  # the stored name, never a path elsewhere
    if not path.is_file():
        raise ApiError(
            HTTPStatus.NOT_FOUND, "export_not_found", f"the file of export {export_id} is no longer available"
        )
    return FileResponse(path, media_type="application/zip", filename=export.file_name)


# --- commands --------------------------------------------------------------------------------

SubscriptionCommandsT = Commands[SubscriptionWorkflow, SubscriptionView]


async def _commands(
    subscription_id: SubscriptionIdPath,
    principal: CurrentPrincipal,
    client: TemporalClient,
    update_id: UpdateId,
    settings: AppSettings,
) -> SubscriptionCommandsT:
    return Commands(SUBSCRIPTIONS, client, subscription_id, principal.subject, update_id, settings.command_wait_seconds)


SubscriptionCommands = Annotated[SubscriptionCommandsT, Depends(_commands)]


@router.put("/{subscription_id}/payment-method")
async def change_payment_method(
    method: Annotated[PaymentMethod, Body()], commands: SubscriptionCommands
) -> SubscriptionView:
    command = ChangePaymentMethodCommand(actor=commands.actor, payment_method=new_payment_method(method, "body"))
    return await commands.run(SubscriptionWorkflow.change_payment_method, command)


@router.post("/{subscription_id}/cancel")
async def cancel(commands: SubscriptionCommands, body: Annotated[CancelBody | None, Body()] = None) -> SubscriptionView:
    command = CancelCommand(actor=commands.actor, reason=body.reason if body else None)
    return await commands.run(SubscriptionWorkflow.cancel, command)


@router.post("/{subscription_id}/export-request")
async def request_export(
    commands: SubscriptionCommands, body: Annotated[ExportRequestBody | None, Body()] = None
) -> SubscriptionView:
    """Produces a data export in suspend mode (against the export fee); the view's `exports` names the file.

    The body is `{}` or absent: it is declared so that fields the request cannot have are refused (422)."""
    command = ExportRequestCommand(
        actor=commands.actor, export_id=service.export_id(commands.ident, commands.update_id)
    )
    return await commands.run(SubscriptionWorkflow.request_export, command)


@router.post("/{subscription_id}/reinstate")
async def reinstate(
    commands: SubscriptionCommands, body: Annotated[ReinstateBody | None, Body()] = None
) -> SubscriptionView:
    command = ReinstateCommand(actor=commands.actor, comment=body.comment if body else None)
    return await commands.run(SubscriptionWorkflow.reinstate, command)


@router.post("/{subscription_id}/uncancel")
async def uncancel(
    commands: SubscriptionCommands, body: Annotated[UncancelBody | None, Body()] = None
) -> SubscriptionView:
    """Withdraws a cancellation scheduled for the term's end, until then: the contract renews as before."""
    return await commands.run(SubscriptionWorkflow.uncancel, UncancelCommand(actor=commands.actor))


@router.post("/{subscription_id}/plan")
async def change_plan(body: PlanChangeBody, commands: SubscriptionCommands, sessions: Sessions) -> SubscriptionView:
    """Changes to the app's plan for `term_months`, at the catalogue's price now: an upgrade (a longer term, or a
    dearer price at the same term) applies at once and its proration is billed with the next invoice; a downgrade
    applies when the current term ends (`scheduled_plan_change`). In the trial any change applies at once."""
    current = await SUBSCRIPTIONS.fetch_view(commands.client, commands.ident, commands.wait)
    plan = await service.catalogue_plan(sessions, current.app_id, body.term_months)
    command = ChangePlanCommand(
        actor=commands.actor, term_months=plan.term_months, monthly_price_cents=plan.monthly_price_cents
    )
    return await commands.run(SubscriptionWorkflow.change_plan, command)
