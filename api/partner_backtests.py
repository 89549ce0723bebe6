"""Partner policy backtests: a store row per backtest (what was asked, its progress, its result) and the workflow
that fills it in (workflows/policy_backtest.py).

A backtest's id comes from its command (caller and Idempotency-Key, or request id): its row is written first, then
its workflow started under that id, so a retry of a command that lost its answer finds (or finishes starting) the
same backtest, and recovery finds the row that names the command.
"""

import hashlib
from datetime import datetime
from enum import StrEnum
from http import HTTPStatus

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from api.csv_safe import csv_text
from api.errors import ApiError
from api.workflow_commands import CommandRef, start_once
from domain.ids import Slug
from domain.partners import backtest
from domain.partners.backtest import BacktestLine, BacktestRequest, BacktestTotals
from domain.partners.config import PROGRAMME
from domain.partners.policy import PartnerPolicy
from store import models
from store.db import as_utc, insert_ignoring_conflict
from workflows.policy_backtest import PolicyBacktestInput, PolicyBacktestWorkflow, percent_done

PATH = "/api/v1/partners/backtests"
CSV_COLUMNS = tuple(BacktestLine.model_fields)


class BacktestStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"


class BacktestView(BaseModel):
    id: str
    year: int
    status: BacktestStatus
    percent_done: int
    partners_total: int | None  # None until the year's partners are counted
    partners_done: int
    policy: PartnerPolicy  # the whole alternative replayed (today's policy where the request omitted a part)
    created_by: str
    created_at: datetime
    completed_at: datetime | None
    totals: BacktestTotals | None  # once completed
    lines: list[BacktestLine] | None  # once completed: one per partner, in id order, a page of them
    next_page_token: str | None = None  # where the next page of lines starts, if one follows


class LinesPage(BaseModel):
    """Which of a completed backtest's lines to answer with; the CSV holds them all."""

    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(100, ge=1, le=1000)
    page_token: Slug | None = Field(None, description="`next_page_token` of the previous page")


def backtest_id(command: CommandRef) -> str:
    return "bt-" + hashlib.sha256(f"{command.actor}\n{command.command_id}".encode()).hexdigest()[:20]


def workflow_id(ident: str) -> str:
    return f"partner-backtest-{ident}"


async def start(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    request: BacktestRequest,
    command: CommandRef,
) -> BacktestView:
    ident = backtest_id(command)
    policy = backtest.resolved(request.policy, PROGRAMME)
    async with sessions.begin() as session:
        await insert_ignoring_conflict(
            session,
            models.PartnerBacktest,
            {
                "id": ident,
                "year": request.year,
                "policy": policy.model_dump(mode="json"),
                "status": BacktestStatus.RUNNING.value,
                "partners_total": None,
                "partners_done": 0,
                "totals": None,
                "created_by": command.actor,
                "command_id": command.command_id,
                "created_at": command.at,
                "completed_at": None,
            },
        )
    # The row an earlier attempt of this command wrote says what to run.
    view = await read(sessions, ident)
    await start_once(
        client,
        PolicyBacktestWorkflow.run,
        PolicyBacktestInput(backtest_id=ident, year=view.year, policy=view.policy),
        command,
        id=workflow_id(ident),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    return view


async def read(sessions: async_sessionmaker[AsyncSession], ident: str, page: LinesPage | None = None) -> BacktestView:
    """The backtest with `page` of its lines once completed (all of them without a page)."""
    async with sessions() as session:
        row = await session.get(models.PartnerBacktest, ident)
        if row is None:
            raise ApiError(HTTPStatus.NOT_FOUND, "backtest_not_found", f"there is no backtest {ident}")
        completed = row.status == BacktestStatus.COMPLETED
        lines = await _lines(session, ident, page) if completed else None
    next_page_token = None
    if lines is not None and page is not None and len(lines) > page.page_size:
        lines = lines[: page.page_size]
        next_page_token = lines[-1].partner_id
    return BacktestView(
        id=row.id,
        year=row.year,
        status=BacktestStatus(row.status),
        percent_done=percent_done(row.partners_done, row.partners_total, completed),
        partners_total=row.partners_total,
        partners_done=row.partners_done,
        policy=PartnerPolicy.model_validate(row.policy),
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        completed_at=as_utc(row.completed_at) if row.completed_at else None,
        totals=BacktestTotals.model_validate(row.totals) if row.totals else None,
        lines=lines,
        next_page_token=next_page_token,
    )


async def csv_of(sessions: async_sessionmaker[AsyncSession], ident: str) -> str:
    view = await read(sessions, ident)
    if view.lines is None:
        raise ApiError(
            HTTPStatus.CONFLICT,
            "backtest_running",
            f"backtest {ident} is {view.percent_done}% done; its CSV is there once it completes",
            {"percent_done": view.percent_done},
        )
    rows = [[getattr(line, column) for column in CSV_COLUMNS] for line in view.lines]
    return csv_text([CSV_COLUMNS, *([_cell(value) for value in row] for row in rows)])


def _cell(value: object) -> object:
    if isinstance(value, StrEnum):
        return value.value
    return "" if value is None else value


async def _lines(session: AsyncSession, ident: str, page: LinesPage | None) -> list[BacktestLine]:
    """The lines in partner id order: all, or a page's and one more (which tells that another page follows)."""
    line = models.PartnerBacktestLine
    query = select(line).where(line.backtest_id == ident).order_by(line.partner_id)
    if page is not None:
        if page.page_token is not None:
            query = query.where(line.partner_id > page.page_token)  # the last partner of the page before
        query = query.limit(page.page_size + 1)
    rows = await session.scalars(query)
    return [BacktestLine.model_validate(row, from_attributes=True) for row in rows]
