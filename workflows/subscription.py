"""SubscriptionWorkflow: one customer's subscription to one app, from trial to termination (docs/architecture.md).

Timers (trial end, billing periods, dunning retries, suspend-mode expiry) live in the main loop; Updates
change state or run the one-off work a command asks for; payment webhooks arrive as signals.

This module only declares the workflow; what it does is in `workflows/subscription_process.py`. The sandbox builds
this module anew for every run it loads and keeps it while the run is cached, so it stays small: the process
module, passed through, exists once per worker (see its docstring).
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.subscription.model import (
        CancelCommand,
        ChangePaymentMethodCommand,
        ChangePlanCommand,
        ExportRequestCommand,
        PaymentEvent,
        ReinstateCommand,
        SubscriptionView,
        UncancelCommand,
    )
    from domain.subscription.model import SubscriptionInput as SubscriptionInput  # re-exported for clients
    from workflows.subscription_process import SubscriptionProcess
    from workflows.subscription_process import search_attributes_of as search_attributes_of  # re-exported


@workflow.defn
class SubscriptionWorkflow:
    @workflow.init
    def __init__(self, input: SubscriptionInput) -> None:
        self._process = SubscriptionProcess(input)

    @workflow.run
    async def run(self, input: SubscriptionInput) -> SubscriptionView:
        return await self._process.run()

    @workflow.query
    def view(self) -> SubscriptionView:
        return self._process.view()

    @workflow.signal
    def payment_event(self, event: PaymentEvent) -> None:
        self._process.payment_event(event)

    @workflow.update
    async def cancel(self, command: CancelCommand) -> SubscriptionView:
        return await self._process.cancel(command)

    @cancel.validator
    def _validate_cancel(self, command: CancelCommand) -> None:
        self._process.validate_cancel(command)

    @workflow.update
    async def change_payment_method(self, command: ChangePaymentMethodCommand) -> SubscriptionView:
        return await self._process.change_payment_method(command)

    @change_payment_method.validator
    def _validate_change_payment_method(self, command: ChangePaymentMethodCommand) -> None:
        self._process.validate_change_payment_method(command)

    @workflow.update
    async def request_export(self, command: ExportRequestCommand) -> SubscriptionView:
        return await self._process.request_export(command)

    @request_export.validator
    def _validate_request_export(self, command: ExportRequestCommand) -> None:
        self._process.validate_request_export(command)

    @workflow.update
    async def reinstate(self, command: ReinstateCommand) -> SubscriptionView:
        return await self._process.reinstate(command)

    @reinstate.validator
    def _validate_reinstate(self, command: ReinstateCommand) -> None:
        self._process.validate_reinstate(command)

    @workflow.update
    async def uncancel(self, command: UncancelCommand) -> SubscriptionView:
        return await self._process.uncancel(command)

    @uncancel.validator
    def _validate_uncancel(self, command: UncancelCommand) -> None:
        self._process.validate_uncancel(command)

    @workflow.update
    async def change_plan(self, command: ChangePlanCommand) -> SubscriptionView:
        return await self._process.change_plan(command)

    @change_plan.validator
    def _validate_change_plan(self, command: ChangePlanCommand) -> None:
        self._process.validate_change_plan(command)
