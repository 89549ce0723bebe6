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

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from api.csv_safe import csv_text
from api.errors import ApiError
from api.workflow_commands import CommandRef, start_once
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
    lines: list[BacktestLine] | None  # once completed: one per partner, in id order


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


async def read(sessions: async_sessionmaker[AsyncSession], ident: str) -> BacktestView:
    async with sessions() as session:
        row = await session.get(models.PartnerBacktest, ident)
        if row is None:
            raise ApiError(HTTPStatus.NOT_FOUND, "backtest_not_found", f"there is no backtest {ident}")
        completed = row.status == BacktestStatus.COMPLETED
        lines = await _lines(session, ident) if completed else None
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


async def _lines(session: AsyncSession, ident: str) -> list[BacktestLine]:
    line = models.PartnerBacktestLine
    rows = await session.scalars(select(line).where(line.backtest_id == ident).order_by(line.partner_id))
    return [BacktestLine.model_validate(row, from_attributes=True) for row in rows]
