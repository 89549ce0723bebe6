"""Monthly payouts: statements read from the store, and an admin's (re)run of a month as `payout-{yyyy-mm}`."""

import asyncio
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from api.deps import AppSettings, CurrentPrincipal, Sessions, TemporalClient
from api.errors import ERROR_RESPONSES, ApiError
from api.payout_schemas import PayoutFilters, PayoutList, PayoutRun, RunStatus
from api.workflow_commands import CurrentCommand, start_once
from domain import payouts
from domain.payouts import MONTH_PATTERN, PayoutStatementView
from store import models
from workflows.payout import PayoutInput, PayoutWorkflow

router = APIRouter(prefix="/payouts", tags=["payouts"], responses=ERROR_RESPONSES)

MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="`yyyy-mm`, a month that has ended")]

# How long a run request waits for its run to finish before answering 202 with the run still in flight.
RUN_WAIT_SECONDS = 10.0


async def _statements(
    sessions: async_sessionmaker[AsyncSession],
    month: str | None = None,
    isv_id: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[PayoutStatementView]:
    """Statements in (month, ISV) order, after the statement `after` names (`yyyy-mm:isv`, a page token)."""
    statement = models.PayoutStatement
    query = select(statement).order_by(statement.month, statement.isv_id)
    if month is not None:
        query = query.where(statement.month == month)
    if isv_id is not None:
        query = query.where(statement.isv_id == isv_id)
    if after is not None:
        after_month, after_isv = after.split(":", 1)
        query = query.where(
            or_(
                statement.month > after_month,
                and_(statement.month == after_month, statement.isv_id > after_isv),
            )
        )
    async with sessions() as session:
        rows = (await session.scalars(query.limit(limit))).all()
    return [PayoutStatementView.model_validate(row, from_attributes=True) for row in rows]


@router.get("")
async def list_payouts(
    principal: CurrentPrincipal, sessions: Sessions, filters: Annotated[PayoutFilters, Query()]
) -> PayoutList:
    isv_id = filters.isv_id
    if principal.is_tenant_scoped:
        if principal.isv_id is None or (isv_id is not None and isv_id != principal.isv_id):
            return PayoutList(items=[])
        isv_id = principal.isv_id  # an ISV lists its own statements, whatever it asks for
    # One more than asked tells whether another page follows.
    found = await _statements(sessions, filters.month, isv_id, filters.page_token, filters.page_size + 1)
    page = found[: filters.page_size]
    next_page_token = f"{page[-1].month}:{page[-1].isv_id}" if len(found) > filters.page_size else None
    return PayoutList(items=page, next_page_token=next_page_token)


@router.post(
    "/{month}/run",
    responses={HTTPStatus.ACCEPTED: {"model": PayoutRun, "description": "A run of the month is still in flight"}},
)
async def run_payout(
    month: MonthPath,
    command: CurrentCommand,
    settings: AppSettings,
    sessions: Sessions,
    client: TemporalClient,
    response: Response,
) -> PayoutRun:
    """Runs a month's payout and answers with its statements; a re-run transfers nothing twice."""
    if not payouts.month_has_ended(month, datetime.now(UTC)):
        raise ApiError(
            HTTPStatus.CONFLICT, "month_not_ended", f"{month} has not ended yet; it is paid out after its last day"
        )
    workflow_id = payouts.payout_workflow_id(month)
    try:
        run = await start_once(
            client,
            PayoutWorkflow.run,
            PayoutInput(month=month, actor=command.actor),
            command,
            id=workflow_id,
            task_queue=settings.task_queue,
            # A finished month may be run again; one in flight is answered, not started twice.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        result = await asyncio.wait_for(run.handle.result(), RUN_WAIT_SECONDS)
    except (WorkflowAlreadyStartedError, TimeoutError):
        response.status_code = HTTPStatus.ACCEPTED
        in_flight = await _statements(sessions, month)
        return PayoutRun(month=month, workflow_id=workflow_id, status=RunStatus.RUNNING, statements=in_flight)
    except WorkflowFailureError as failure:
        raise _run_failed(month, failure) from failure
    return PayoutRun(month=month, workflow_id=workflow_id, status=RunStatus.COMPLETED, statements=result.statements)


def _run_failed(month: str, failure: WorkflowFailureError) -> ApiError:
    cause = failure.cause
    if isinstance(cause, ApplicationError):
        return ApiError(HTTPStatus.CONFLICT, cause.type or "payout_failed", cause.message, {"month": month})
    return ApiError(HTTPStatus.BAD_GATEWAY, "payout_failed", f"the payout of {month} failed: {cause}", {"month": month})
