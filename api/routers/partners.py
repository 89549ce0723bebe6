"""Channel partners: enrol (start a workflow), list (Temporal visibility), read (workflow query), contract events and
review decisions (Workflow Updates), quality reports (store) and usage reports (written to the store).

A channel partner reads its own record and quality reports only; another partner's are not found, never forbidden.
"""

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api import partner_service as service
from api.deps import AppSettings, CurrentPrincipal, Sessions, TemporalClient
from api.errors import ERROR_RESPONSES
from api.partner_schemas import (
    ContractAnswer,
    PartnerFilters,
    PartnerPage,
    QualityReportList,
    ReviewDecisionBody,
    UsageReportBody,
    UsageReportOut,
)
from api.partner_service import PARTNERS
from api.workflow_commands import Commands, CurrentCommand, UpdateId
from domain.ids import SLUG_PATTERN
from domain.partners.model import ContractEvent, DecideReview, Enrolment, PartnerView
from workflows.partner import PartnerProgramWorkflow

router = APIRouter(prefix="/partners", tags=["partners"], responses=ERROR_RESPONSES)

PartnerIdPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="The partner's id, a slug chosen at enrolment")]


# --- enrol, list, read -------------------------------------------------------------------------


@router.post("", status_code=HTTPStatus.CREATED)
async def enrol_partner(
    body: Enrolment, command: CurrentCommand, settings: AppSettings, client: TemporalClient
) -> PartnerView:
    """Places the partner by `last_year_points`, or by `legacy_level` for a partner of the old programme."""
    return await service.enrol(client, settings.task_queue, body, command)


@router.get("")
async def list_partners(
    principal: CurrentPrincipal, client: TemporalClient, filters: Annotated[PartnerFilters, Query()]
) -> PartnerPage:
    return await service.list_partners(client, filters, principal)


async def _visible_view(
    partner_id: PartnerIdPath, principal: CurrentPrincipal, client: TemporalClient, settings: AppSettings
) -> PartnerView:
    """The partner's view, if the caller may see it; checked before asking, so another's id is never looked up."""
    if not principal.sees_partner(partner_id):
        raise PARTNERS.not_found(partner_id)
    return await PARTNERS.fetch_view(client, partner_id, settings.command_wait_seconds)


VisibleView = Annotated[PartnerView, Depends(_visible_view)]


@router.get("/{partner_id}")
async def get_partner(view: VisibleView) -> PartnerView:
    return view


@router.get("/{partner_id}/quality-reports")
async def list_quality_reports(view: VisibleView, sessions: Sessions) -> QualityReportList:
    # The workflow says whether the partner exists and who sees it; the store holds every report it filed.
    return QualityReportList(items=await service.quality_reports(sessions, view.id))


# --- commands ------------------------------------------------------------------------------------

PartnerCommandsT = Commands[PartnerProgramWorkflow, PartnerView]


async def _commands(
    partner_id: PartnerIdPath,
    principal: CurrentPrincipal,
    client: TemporalClient,
    update_id: UpdateId,
    settings: AppSettings,
) -> PartnerCommandsT:
    return Commands(PARTNERS, client, partner_id, principal.subject, update_id, settings.command_wait_seconds)


PartnerCommands = Annotated[PartnerCommandsT, Depends(_commands)]


@router.post(
    "/{partner_id}/contracts",
    responses={HTTPStatus.CREATED: {"model": ContractAnswer, "description": "The event earned a new award"}},
)
async def record_contract(event: ContractEvent, commands: PartnerCommands, response: Response) -> ContractAnswer:
    """Awards the event's points once per reference id: 201 for a new award, 200 (`duplicate`) for a repeat."""
    answer = await service.record_contract(commands, event)
    response.status_code = HTTPStatus.OK if answer.duplicate else HTTPStatus.CREATED
    return answer


@router.post("/{partner_id}/review-decision")
async def decide_review(body: ReviewDecisionBody, commands: PartnerCommands) -> PartnerView:
    command = DecideReview(actor=commands.actor, decision=body.decision, note=body.note)
    return await commands.run(PartnerProgramWorkflow.decide_review, command)


# --- usage reports -------------------------------------------------------------------------------


@router.post("/{partner_id}/usage-reports", status_code=HTTPStatus.CREATED)
async def report_usage(
    partner_id: PartnerIdPath,
    body: UsageReportBody,
    principal: CurrentPrincipal,
    sessions: Sessions,
    client: TemporalClient,
    update_id: UpdateId,
) -> UsageReportOut:
    """Usage of what the partner's customers booked, counted in its next quality report; a retry of the same
    request (Idempotency-Key) writes it once."""
    return await service.record_usage(client, sessions, partner_id, body, principal, update_id)
