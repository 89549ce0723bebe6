"""The engine's baseline for a subscription's lifecycle: the same timers as SubscriptionWorkflow (trial, monthly
periods, cancellation, suspend mode) and one trivial activity per invoice, nothing else.

A module of its own: the workflow sandbox re-imports a workflow's module, which must therefore be importable.
"""

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from domain.billing_calendar import add_months
    from domain.subscription.config import SUBSCRIPTIONS

BARE_INVOICE = "bench.bare_invoice"


@activity.defn(name=BARE_INVOICE)
async def bare_invoice(period: int) -> int:
    return period


@workflow.defn
class BareLifecycleWorkflow:
    """Trial of `trial_days`, then a `term_months` term billed monthly; a cancellation ends it at term end, after
    which suspend mode lasts its configured days. Cancelled in the trial, suspend mode starts at once."""

    def __init__(self) -> None:
        self._cancelled = False
        self._invoices = 0

    @workflow.run
    async def run(self, trial_days: int, term_months: int) -> int:
        try:
            await workflow.wait_condition(lambda: self._cancelled, timeout=timedelta(days=trial_days))
        except TimeoutError:
            started = workflow.now()
            while True:
                for period in range(term_months):
                    await workflow.execute_activity(
                        BARE_INVOICE, self._invoices, start_to_close_timeout=timedelta(seconds=20)
                    )
                    self._invoices += 1
                    period_end = add_months(started, period + 1, anchor_day=started.day)
                    await workflow.sleep(max(period_end - workflow.now(), timedelta(seconds=1)))
                if self._cancelled:
                    break
                started = workflow.now()
        await workflow.sleep(SUBSCRIPTIONS.suspend_window)
        return self._invoices

    @workflow.query
    def invoices(self) -> int:
        return self._invoices

    @workflow.update
    async def cancel(self) -> bool:
        self._cancelled = True
        return True
