"""Partner policy backtests: replay a programme year under an alternative policy (a workflow), then read its
progress, its result and its CSV from the store."""

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api import partner_backtests as service
from api.deps import AppSettings, Sessions, TemporalClient
from api.errors import ERROR_RESPONSES
from api.partner_backtests import BacktestView, LinesPage
from api.workflow_commands import CurrentCommand
from domain.partners.backtest import BacktestRequest

router = APIRouter(prefix="/partners/backtests", tags=["partners"], responses=ERROR_RESPONSES)

BacktestIdPath = Annotated[str, Path(pattern=r"^bt-[0-9a-f]{20}$", description="The id the backtest was answered with")]


@router.post("", status_code=HTTPStatus.ACCEPTED)
async def start_backtest(
    body: BacktestRequest,
    command: CurrentCommand,
    settings: AppSettings,
    sessions: Sessions,
    client: TemporalClient,
    response: Response,
) -> BacktestView:
    """Replays `year`'s points ledger, quality reports and review decisions under today's policy and under `policy`
    (whatever it omits is today's). Answers 202 at once; the Location is where progress and result are read."""
    view = await service.start(client, sessions, settings.task_queue, body, command)
    response.headers["Location"] = f"{service.PATH}/{view.id}"
    return view


@router.get("/{backtest_id}")
async def get_backtest(
    backtest_id: BacktestIdPath, sessions: Sessions, page: Annotated[LinesPage, Query()]
) -> BacktestView:
    """Status and percent done; once completed, the totals per policy and one line per partner, a page at a time
    (`next_page_token`; the CSV has every line)."""
    return await service.read(sessions, backtest_id, page)


@router.get(
    "/{backtest_id}/csv",
    response_class=Response,
    responses={HTTPStatus.OK: {"content": {"text/csv": {}}, "description": "One row per partner"}},
)
async def get_backtest_csv(backtest_id: BacktestIdPath, sessions: Sessions) -> Response:
    """The lines as CSV, once the backtest has completed (409 `backtest_running` before)."""
    text = await service.csv_of(sessions, backtest_id)
    headers = {"Content-Disposition": f'attachment; filename="{backtest_id}.csv"'}
    return Response(text, media_type="text/csv", headers=headers)
