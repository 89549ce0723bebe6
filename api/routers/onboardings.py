"""ISV onboardings: start, list (Temporal visibility), read (workflow query), and commands (Workflow Updates)."""

from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query
from sqlalchemy import select
from temporalio.client import Client
from temporalio.workflow import UpdateMethodMultiParam

from api import onboarding_service as service
from api.deps import AppSettings, OnboardingCommander, OnboardingReader, OnboardingStarter, Sessions, TemporalClient
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.onboarding_service import CommandT
from api.schemas import (
    AdvanceBody,
    ChecklistBody,
    OnboardingFilters,
    OnboardingPage,
    ReasonBody,
    ReassignBody,
    ResumeBody,
    decode_page_token,
    encode_page_token,
)
from api.visibility import list_item, list_query
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
from store import models
from workflows.onboarding import OnboardingWorkflow

router = APIRouter(prefix="/onboardings", tags=["onboardings"], responses=ERROR_RESPONSES)

OnboardingIdPath = Annotated[str, Path(pattern=ONBOARDING_ID_PATTERN, description="`{isv}-{app}`")]
ItemPath = Annotated[str, Path(max_length=64, description="A checklist item id of one of the onboarding's stages")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Used as the Update id: a retried request is applied once and answers with the first result",
    ),
]


# --- start, list, read -----------------------------------------------------------------------


@router.post("", status_code=HTTPStatus.CREATED)
async def start_onboarding(
    body: OnboardingRequest,
    principal: OnboardingStarter,
    settings: AppSettings,
    sessions: Sessions,
    client: TemporalClient,
) -> OnboardingView:
    async with sessions() as session:
        listed = await session.scalar(select(models.App.isv_id).where(models.App.id == body.app.id))
    if listed is not None and listed != body.isv.id:
        # App ids are global in the catalogue: another ISV's listing would be overwritten at go-live.
        raise ApiError(
            HTTPStatus.CONFLICT,
            "app_id_taken",
            f"app id {body.app.id} is already in the catalogue for another ISV",
            {"app_id": body.app.id},
        )
    return await service.start(client, settings.task_queue, body, principal.subject)


@router.get("")
async def list_onboardings(
    principal: OnboardingReader, client: TemporalClient, filters: Annotated[OnboardingFilters, Query()]
) -> OnboardingPage:
    isv_id = filters.isv_id
    if principal.is_tenant_scoped:
        if principal.isv_id is None or (isv_id is not None and isv_id != principal.isv_id):
            return OnboardingPage(items=[], next_page_token=None)
        isv_id = principal.isv_id  # an ISV lists its own onboardings, whatever it asks for
    executions = client.list_workflows(
        list_query(filters, isv_id),
        page_size=filters.page_size,
        next_page_token=decode_page_token(filters.page_token) if filters.page_token else None,
    )
    await executions.fetch_next_page()  # one page per request: the client pages on with next_page_token
    return OnboardingPage(
        items=[list_item(execution) for execution in executions.current_page or []],
        next_page_token=encode_page_token(executions.next_page_token),
    )


@router.get("/{onboarding_id}")
async def get_onboarding(
    onboarding_id: OnboardingIdPath, principal: OnboardingReader, client: TemporalClient
) -> OnboardingView:
    view = await service.fetch_view(client, onboarding_id)
    if not principal.sees_isv(view.isv.id):
        raise service.onboarding_not_found(onboarding_id)
    return view


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Commands:
    """What every command shares: the caller (as actor), the onboarding, and the Update id."""

    client: Client
    onboarding_id: str
    actor: str
    update_id: str | None

    async def run(
        self, update: UpdateMethodMultiParam[[OnboardingWorkflow, CommandT], OnboardingView], command: CommandT
    ) -> OnboardingView:
        return await service.run_update(self.client, self.onboarding_id, update, command, self.update_id)


def _commands(
    onboarding_id: OnboardingIdPath, principal: OnboardingCommander, client: TemporalClient, key: IdempotencyKey = None
) -> Commands:
    return Commands(client=client, onboarding_id=onboarding_id, actor=principal.subject, update_id=key)


OnboardingCommands = Annotated[Commands, Depends(_commands)]


def _checklist_command(item: str, commands: "Commands", body: ChecklistBody | None) -> ChecklistCommand:
    if ONBOARDING.stage_of_item(item) is None:
        raise not_found("checklist_item_not_found", f"no stage of the onboarding has a checklist item {item!r}")
    return ChecklistCommand(actor=commands.actor, item=item, comment=body.comment if body else None)


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
