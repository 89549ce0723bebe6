"""ISV onboardings: start, list (Temporal visibility), read (workflow query), and commands (Workflow Updates)."""

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from api import onboarding_service as service
from api.deps import AppSettings, CurrentPrincipal, Sessions, TemporalClient
from api.errors import ERROR_RESPONSES, not_found
from api.onboarding_service import ONBOARDINGS
from api.schemas import (
    AdvanceBody,
    ChecklistBody,
    OnboardingFilters,
    OnboardingPage,
    ReasonBody,
    ReassignBody,
    ResumeBody,
)
from api.visibility import list_page
from api.workflow_commands import Commands, CurrentCommand, UpdateId
from domain.catalogue import CommercialTerms
from domain.ids import ONBOARDING_ID_PATTERN
from domain.onboarding.config import ONBOARDING
from domain.onboarding.model import (
    AdvanceCommand,
    ChecklistCommand,
    HoldCommand,
    OnboardingRequest,
    OnboardingView,
    ReassignCommand,
    RejectCommand,
    ResumeCommand,
    SetTermsCommand,
)
from workflows import search_attributes as sa
from workflows.onboarding import OnboardingWorkflow

router = APIRouter(prefix="/onboardings", tags=["onboardings"], responses=ERROR_RESPONSES)

OnboardingIdPath = Annotated[str, Path(pattern=ONBOARDING_ID_PATTERN, description="`{isv}-{app}`")]
ItemPath = Annotated[str, Path(max_length=64, description="A checklist item id of one of the onboarding's stages")]


# --- start, list, read -----------------------------------------------------------------------


@router.post("", status_code=HTTPStatus.CREATED)
async def start_onboarding(
    body: OnboardingRequest,
    command: CurrentCommand,
    settings: AppSettings,
    sessions: Sessions,
    client: TemporalClient,
) -> OnboardingView:
    await service.claim_app(sessions, body)
    return await service.start(client, settings.task_queue, body, command)


@router.get("")
async def list_onboardings(
    principal: CurrentPrincipal, client: TemporalClient, filters: Annotated[OnboardingFilters, Query()]
) -> OnboardingPage:
    by_attribute = {
        sa.ONBOARDING_STAGE: filters.stage,
        sa.ONBOARDING_STATUS: filters.status,
        sa.SLA_STATUS: filters.sla_status,
        sa.PARTNER_MANAGER: filters.partner_manager,
        sa.ISV_ID: filters.isv_id,
    }
    conditions = service.prediction_conditions(filters)
    order = service.by_predicted_go_live if filters.sort == "predicted_go_live" else None
    items, next_page_token = await list_page(
        client, OnboardingWorkflow.__name__, by_attribute, filters, principal, service.list_item, conditions, order
    )
    return OnboardingPage(items=items, next_page_token=next_page_token)


@router.get("/{onboarding_id}", response_model=OnboardingView)
async def get_onboarding(
    onboarding_id: OnboardingIdPath, principal: CurrentPrincipal, client: TemporalClient, settings: AppSettings
) -> Response:
    # The view's JSON as the workflow encoded it: nothing to validate or serialise again on the way out.
    view = await ONBOARDINGS.fetch_view_json(client, onboarding_id, settings.command_wait_seconds)
    if not principal.sees_isv(view.fields["isv"]["id"]):
        raise ONBOARDINGS.not_found(onboarding_id)
    return view.response()


# --- commands --------------------------------------------------------------------------------


OnboardingCommandsT = Commands[OnboardingWorkflow, OnboardingView]


async def _commands(
    onboarding_id: OnboardingIdPath,
    principal: CurrentPrincipal,
    client: TemporalClient,
    update_id: UpdateId,
    settings: AppSettings,
) -> OnboardingCommandsT:
    return Commands(ONBOARDINGS, client, onboarding_id, principal.subject, update_id, settings.command_wait_seconds)


OnboardingCommands = Annotated[OnboardingCommandsT, Depends(_commands)]


def _checklist_command(item: str, commands: OnboardingCommandsT, body: ChecklistBody | None) -> ChecklistCommand:
    if ONBOARDING.stage_of_item(item) is None:
        raise not_found("checklist_item_not_found", f"no stage of the onboarding has a checklist item {item!r}")
    if body is None:
        return ChecklistCommand(actor=commands.actor, item=item)
    return ChecklistCommand(actor=commands.actor, item=item, comment=body.comment, value=body.value)


@router.post("/{onboarding_id}/checklist/{item}")
async def complete_item(
    item: ItemPath, commands: OnboardingCommands, body: Annotated[ChecklistBody | None, Body()] = None
) -> OnboardingView:
    return await commands.run(OnboardingWorkflow.complete_item, _checklist_command(item, commands, body))


@router.delete("/{onboarding_id}/checklist/{item}")
async def undo_item(
    item: ItemPath, commands: OnboardingCommands, body: Annotated[ChecklistBody | None, Body()] = None
) -> OnboardingView:
    return await commands.run(OnboardingWorkflow.undo_item, _checklist_command(item, commands, body))


@router.put("/{onboarding_id}/commercial-terms")
async def set_commercial_terms(terms: CommercialTerms, commands: OnboardingCommands) -> OnboardingView:
    return await commands.run(OnboardingWorkflow.set_terms, SetTermsCommand(actor=commands.actor, terms=terms))


@router.post("/{onboarding_id}/advance")
async def advance(commands: OnboardingCommands, body: Annotated[AdvanceBody | None, Body()] = None) -> OnboardingView:
    body = body or AdvanceBody()
    command = AdvanceCommand(actor=commands.actor, to_stage=body.to_stage, comment=body.comment)
    return await commands.run(OnboardingWorkflow.advance, command)


@router.post("/{onboarding_id}/reject")
async def reject(body: ReasonBody, commands: OnboardingCommands) -> OnboardingView:
    return await commands.run(OnboardingWorkflow.reject, RejectCommand(actor=commands.actor, reason=body.reason))


@router.post("/{onboarding_id}/hold")
async def hold(body: ReasonBody, commands: OnboardingCommands) -> OnboardingView:
    return await commands.run(OnboardingWorkflow.hold, HoldCommand(actor=commands.actor, reason=body.reason))


@router.post("/{onboarding_id}/resume")
async def resume(commands: OnboardingCommands, body: Annotated[ResumeBody | None, Body()] = None) -> OnboardingView:
    command = ResumeCommand(actor=commands.actor, comment=body.comment if body else None)
    return await commands.run(OnboardingWorkflow.resume, command)


@router.post("/{onboarding_id}/reassign")
async def reassign(body: ReassignBody, commands: OnboardingCommands) -> OnboardingView:
    command = ReassignCommand(actor=commands.actor, partner_manager=body.partner_manager, comment=body.comment)
    return await commands.run(OnboardingWorkflow.reassign, command)
