"""PayoutWorkflow: one month's revenue shares, one statement per ISV, each transferred once (docs/architecture.md).

A month's payout runs under the workflow id `payout-{yyyy-mm}`, whoever starts it, so Temporal lets only one run
of a month be in flight. The monthly Schedule cannot name the month in its workflow id (it starts
`payout-monthly-{timestamp}` with `month=None`), so a scheduled run only resolves the month and runs
`payout-{month}` as a child: the month's history stays under one id, and an admin's run that is in flight
is waited out instead of raced. Re-running a month is safe: statements and transfers are idempotent per
(ISV, month) in the activities.
"""

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain import payouts
    from domain.payouts import Month, PayoutStatementView

ACTIVITY_TIMEOUT = timedelta(seconds=60)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# How a scheduled run waits out a run of the same month that is in flight (an admin's): a payout takes seconds.
IN_FLIGHT_POLL = timedelta(minutes=1)
IN_FLIGHT_ATTEMPTS = 60

SCHEDULED_ACTOR = "schedule"
# Set by Temporal on every run a Schedule starts: the time the run was due.
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


class PayoutInput(BaseModel):
    """`month` None pays the previous month: what the monthly Schedule starts."""

    month: Month | None = None
    actor: str = SCHEDULED_ACTOR


class PayoutResult(BaseModel):
    month: str
    statements: list[PayoutStatementView]


@workflow.defn
class PayoutWorkflow:
    @workflow.run
    async def run(self, input: PayoutInput) -> PayoutResult:
        if input.month is None:
            # The month before the time the run was due, so a run the Schedule catches up after an outage (or a
            # backfill) pays its own month; a run started by hand without a month goes by its own clock.
            due = workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.now()
            return await self._run_month_as_child(payouts.payout_month(None, due), input.actor)
        return await self._pay(input.month)

    async def _pay(self, month: str) -> PayoutResult:
        if not payouts.month_has_ended(month, workflow.now()):
            raise ApplicationError(
                f"{month} has not ended yet; a month is paid out after its last day",
                {"month": month},
                type="month_not_ended",
                non_retryable=True,
            )
        statements = await workflow.execute_activity(
            names.PREPARE_PAYOUT_STATEMENTS,
            month,
            result_type=list[PayoutStatementView],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        # One after the other: a month has one statement per ISV, and the gateway need not take them all at once.
        return PayoutResult(month=month, statements=[await self._transferred(s) for s in statements])

    async def _transferred(self, statement: PayoutStatementView) -> PayoutStatementView:
        if not payouts.transfer_due(statement):
            return statement
        transferred: PayoutStatementView = await workflow.execute_activity(
            names.TRANSFER_PAYOUT,
            statement,
            result_type=PayoutStatementView,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        return transferred

    async def _run_month_as_child(self, month: str, actor: str) -> PayoutResult:
        for _ in range(IN_FLIGHT_ATTEMPTS):
            try:
                return await workflow.execute_child_workflow(
                    PayoutWorkflow.run, PayoutInput(month=month, actor=actor), id=payouts.payout_workflow_id(month)
                )
            except WorkflowAlreadyStartedError:
                # Another run of the month is in flight; once it is done a re-run transfers nothing twice.
                await workflow.sleep(IN_FLIGHT_POLL)
        raise ApplicationError(
            f"payout {month} stayed in flight for {IN_FLIGHT_POLL * IN_FLIGHT_ATTEMPTS}",
            {"month": month},
            type="payout_in_flight",
            non_retryable=True,
        )
