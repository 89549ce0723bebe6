"""PolicyBacktestWorkflow: a programme year replayed under today's partner policy and an alternative (the rules are
domain.partners.backtest's, the live programme's own).

It pages through the year's partners in id order, replays each page, and writes its lines and progress to the store,
where the result stays once the run is over. Long runs continue as new, carrying where they are.
"""

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.partners import backtest, rules
    from domain.partners.backtest import (
        BacktestBatch,
        BacktestCompletion,
        BacktestStart,
        BacktestTotals,
        PartnerYearPage,
        PartnerYearQuery,
    )
    from domain.partners.config import PROGRAMME
    from domain.partners.policy import PartnerPolicy
    from workflows.effects import run_activity

PAGE_SIZE = 100  # partners per page: a page's records and lines stay far below Temporal's payload limit


class PolicyBacktestInput(BaseModel):
    backtest_id: str
    year: int
    policy: PartnerPolicy  # the whole alternative (api: backtest.resolved)
    # Carried over by continue-as-new.
    total: int | None = None
    after: str | None = None
    totals: BacktestTotals = BacktestTotals()


class BacktestProgress(BaseModel):
    done: int
    total: int | None  # None until the year's partners are counted
    percent: int


def percent_done(done: int, total: int | None, completed: bool) -> int:
    """100 once completed only: partners enrolled during the run may still come."""
    if completed:
        return 100
    if not total:
        return 0
    return min(99, done * 100 // total)


@workflow.defn
class PolicyBacktestWorkflow:
    @workflow.init
    def __init__(self, input: PolicyBacktestInput) -> None:
        self._total = input.total
        self._totals = input.totals
        self._completed = False

    @workflow.run
    async def run(self, input: PolicyBacktestInput) -> BacktestTotals:
        today, alternative = PROGRAMME, input.policy.applied_to(PROGRAMME)
        if self._total is None:
            self._total = await run_activity(
                names.COUNT_BACKTEST_PARTNERS, BacktestStart(backtest_id=input.backtest_id, year=input.year), int
            )
        after = input.after
        query = PartnerYearQuery(year=input.year, year_ends_at=rules.year_end(input.year), limit=PAGE_SIZE)
        while True:
            page: PartnerYearPage = await run_activity(
                names.LOAD_PARTNER_YEARS, query.model_copy(update={"after": after}), PartnerYearPage
            )
            if not page.partners:
                break
            lines = [backtest.compare(record, today, alternative) for record in page.partners]
            self._totals = self._totals.add(lines)
            after = page.partners[-1].partner_id
            batch = BacktestBatch(backtest_id=input.backtest_id, lines=lines, done=self._totals.partners)
            await run_activity(names.RECORD_BACKTEST_LINES, batch)
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(update={"total": self._total, "after": after, "totals": self._totals})
                )
        completion = BacktestCompletion(backtest_id=input.backtest_id, totals=self._totals, at=workflow.now())
        await run_activity(names.COMPLETE_BACKTEST, completion)
        self._completed = True
        return self._totals

    @workflow.query
    def progress(self) -> BacktestProgress:
        done = self._totals.partners
        return BacktestProgress(done=done, total=self._total, percent=percent_done(done, self._total, self._completed))
