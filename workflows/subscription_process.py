"""What SubscriptionWorkflow does: one customer's subscription to one app, from trial to termination.

Timers (trial end, billing periods, dunning retries, suspend-mode expiry) live in the main loop; Updates
change state or run the one-off work a command asks for; payment webhooks arrive as signals.

Workflow code, deterministic like the rest of `workflows/`, but in a module of its own that the workflow's module
imports passed through the sandbox: the sandbox builds the workflow's module anew for every run it loads (and keeps
it for as long as the run is cached), so whatever that module defines is paid for by every open subscription. Here
it exists once per worker; `workflows/subscription.py` keeps only the workflow's declaration.
"""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import SearchAttributePair
from temporalio.exceptions import ActivityError, ApplicationError

from activities import names
from domain.ids import partner_workflow_id
from domain.subscription import payments, plans, records, rules
from domain.subscription.config import SUBSCRIPTIONS
from domain.subscription.history import note
from domain.subscription.model import (
    CancelCommand,
    ChangePaymentMethodCommand,
    ChangePlanCommand,
    ChargeResult,
    ConnectorAction,
    ConnectorCall,
    ConnectorReply,
    ExportFile,
    ExportJob,
    ExportRecord,
    ExportRequestCommand,
    Invoice,
    NotificationRecord,
    PaymentEvent,
    RecordedCall,
    ReinstateCommand,
    SettlementResult,
    SubscriptionInput,
    SubscriptionRecord,
    SubscriptionState,
    SubscriptionStatus,
    SubscriptionView,
    SuspensionReason,
    UncancelCommand,
)
from workflows import search_attributes as sa
from workflows.effects import SearchAttributePublisher, run_activity
from workflows.partner import PartnerProgramWorkflow
from workflows.refusals import refuse_unless

# Runs recorded before these changes replay on the old path; new runs take the new one (workflow.patched).
# One activity per payment attempt (issue, charge, record, book), instead of four.
SETTLE_IN_ONE_ACTIVITY = "settle-invoice-in-one-activity"
# The snapshot of a suspension and its notice in one activity, instead of two. (Snapshots stay activities, not local
# activities: an auditor reads each one's input in the workflow's history.)
RECORD_WITH_NOTICE = "record-subscription-with-notice"
# A lifecycle step that changes the subscription and tells the ISV (provision, suspend, deprovision) records its
# snapshot and calls the ISV connector in one activity, instead of two.
RECORD_AND_CALL = "record-and-call-connector-in-one-activity"
# A timer some days before the trial ends, for the customer's notice and the ISV's `trial_will_end` connector event.
# (Plan changes and uncancel are Updates of their own and need no patch: runs that predate them never received one.)
TRIAL_ENDING_NOTICE = "trial-ending-notice"
# A plan change that applies (in the trial, an upgrade, a downgrade at its term) is told to the ISV (`plan_changed`),
# recorded in the same activity as the snapshot, instead of the snapshot alone.
PLAN_CHANGE_EVENT = "plan-change-connector-event"
# A plan change's proration still pending when the contract ends is billed on an invoice of its own (it was lost).
FINAL_PRORATION = "final-proration-invoice"

CommandT = TypeVar("CommandT", bound=BaseModel)
ResultT = TypeVar("ResultT")


def search_attributes_of(state: SubscriptionState) -> list[SearchAttributePair[str]]:
    """Ids and status only: names, IBANs and e-mail addresses stay out of visibility."""
    pairs = [
        SearchAttributePair(sa.CUSTOMER_ID, state.customer.id),
        SearchAttributePair(sa.APP_ID, state.plan.app_id),
        SearchAttributePair(sa.ISV_ID, state.plan.isv_id),
        SearchAttributePair(sa.SUBSCRIPTION_STATUS, state.status.value),
    ]
    if state.channel_partner_id:
        pairs.append(SearchAttributePair(sa.CHANNEL_PARTNER_ID, state.channel_partner_id))
    return pairs


class SubscriptionProcess:
    """The state and behaviour of one SubscriptionWorkflow run; the workflow delegates each of its handlers here."""

    def __init__(self, input: SubscriptionInput) -> None:
        if input.state is not None:
            self._state = input.state
            self._carried_over = True
        else:
            assert input.request is not None and input.plan is not None, "a booking needs its request and plan"
            booked_at = input.booked_at or workflow.now()
            self._state = rules.book(input.subscription_id, input.request, input.plan, input.actor, booked_at)
            self._carried_over = False
        self._changed = False
        self._trial_notice = False  # decided when the run starts (workflow.patched)
        self._inbox: list[PaymentEvent] = []
        self._collecting = asyncio.Lock()
        self._search_attributes = SearchAttributePublisher()

    async def run(self) -> SubscriptionView:
        self._publish()
        # Only a run in its trial asks, so other runs' histories carry no marker they do not need.
        trialing = self._state.status == SubscriptionStatus.TRIALING and not self._state.trial_ending_noticed
        self._trial_notice = trialing and workflow.patched(TRIAL_ENDING_NOTICE)
        if not self._carried_over:
            if workflow.patched(RECORD_AND_CALL):
                await self._connector(ConnectorAction.PROVISION, snapshot=self._snapshot())
            else:
                await self._record()
                await self._connector(ConnectorAction.PROVISION)
        while self._state.status != SubscriptionStatus.TERMINATED:
            await self._wait_for_change_or_deadline()
            await self._handle_payment_events()
            renewed = await self._do_due_steps()
            self._publish()
            if renewed or workflow.info().is_continue_as_new_suggested():
                # Payment events that arrive while handlers finish are applied here, not carried unapplied.
                while True:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    if not self._inbox:
                        break
                    await self._handle_payment_events()
                workflow.continue_as_new(
                    SubscriptionInput(subscription_id=self._state.id, actor="system", state=self._state)
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    async def _wait_for_change_or_deadline(self) -> None:
        self._changed = False
        if self._due_step() is not None or self._inbox:
            return
        deadline = rules.next_deadline(self._state, trial_notice=self._trial_notice)
        timeout = None if deadline is None else max(deadline - workflow.now(), timedelta(seconds=1))
        # A timeout is the deadline arriving, which the caller then handles.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._changed or bool(self._inbox) or workflow.info().is_continue_as_new_suggested(),
                timeout=timeout,
            )

    async def _do_due_steps(self) -> bool:
        """Performs every step whose time has come; True when the contract renewed (time to continue as new)."""
        while (step := self._due_step()) is not None:
            now = workflow.now()
            match step:
                case rules.Step.TRIAL_ENDING_NOTICE:
                    await self._notice_trial_ending()
                # Timer-driven changes take effect at their scheduled instant, not when the timer was served.
                case rules.Step.TRIAL_END if self._state.payment_method is not None:
                    rules.start_contract(self._state, "system", self._state.trial_ends_at)
                case rules.Step.TRIAL_END:
                    ended = self._state.trial_ends_at
                    rules.transition(self._state, rules.Event.TRIAL_ENDED_WITHOUT_METHOD, "system", ended)
                    await self._suspended()
                case rules.Step.INVOICE_PERIOD:
                    await self._bill(rules.issue_period_invoice(self._state, now))
                case rules.Step.RENEW:
                    downgrade = self._state.scheduled_plan_change is not None
                    rules.renew(self._state, now)
                    if downgrade and workflow.patched(PLAN_CHANGE_EVENT):
                        await self._plan_changed(plans.PlanChange.DOWNGRADE, self._state.term_started_at or now)
                    else:
                        await self._record()
                    return True
                case rules.Step.END_CONTRACT:
                    ended = self._state.cancel_at or now
                    rules.transition(self._state, rules.Event.CONTRACT_ENDED, "system", ended, "cancelled at term end")
                    if self._state.pending_proration_cents and workflow.patched(FINAL_PRORATION):
                        await self._settle_pending_proration(ended)
                    await self._suspended()
                case rules.Step.DUNNING_RETRY:
                    await self._retry_unpaid()
                case rules.Step.SUSPEND_FOR_NON_PAYMENT:
                    rules.transition(self._state, rules.Event.DUNNING_EXHAUSTED, "system", now, "dunning exhausted")
                    await self._suspended()
                case rules.Step.REINSTATE_PAID_UP:
                    rules.reinstate_after_payment(self._state, "system", now)
                    await self._reinstated()
                case rules.Step.PAYMENT_UNSETTLED:
                    for invoice in payments.expire_unsettled(self._state, now):
                        await self._after_payment(invoice, payments.PaymentOutcome.FAILED)
                case rules.Step.TERMINATE:
                    await self._terminate(now)
            self._publish()
        return False

    def _due_step(self) -> rules.Step | None:
        return rules.due_step(self._state, workflow.now(), trial_notice=self._trial_notice)

    async def _notice_trial_ending(self) -> None:
        """Once per booking: the flag is carried by continue-as-new, the notice's key and the event id by retries."""
        self._state.trial_ending_noticed = True
        now = workflow.now()
        detail = "no payment method on file" if self._state.payment_method is None else "payment method on file"
        note(self._state, "system", "trial_ending_noticed", now, detail)
        notice = records.trial_ending_notice(self._state, now)
        payload = records.trial_ending_payload(self._state)
        await self._connector(ConnectorAction.TRIAL_WILL_END, payload, snapshot=self._snapshot(), notice=notice)

    # --- billing and payments -----------------------------------------------------------------

    async def _settle_pending_proration(self, ended: datetime) -> None:
        final = rules.settle_pending_proration(self._state, ended)
        if final is not None:
            await self._bill(final)

    async def _bill(self, invoice: Invoice) -> None:
        if workflow.patched(SETTLE_IN_ONE_ACTIVITY):
            await self._charge(invoice, new=True)
            return
        await self._activity(names.ISSUE_INVOICE, records.invoice_issue(self._state, invoice))
        await self._charge(invoice)

    async def _charge(self, invoice: Invoice, new: bool = False) -> payments.PaymentOutcome:
        """A payment attempt on `invoice`; a `new` invoice is stored with it (only on the one-activity path)."""
        # One payment attempt at a time: a dunning retry and an operator's reinstatement may both want to
        # collect the same invoice; the second finds it paid and charges nothing.
        async with self._collecting:
            if payments.find_unpaid(self._state, invoice.number) is None:
                if new:  # settled before its turn came: still stored, as an issued invoice always is
                    await self._settle(invoice, new, collect=False)
                return payments.PaymentOutcome.IGNORED
            if workflow.patched(SETTLE_IN_ONE_ACTIVITY):
                return await self._settle(invoice, new)
            return await self._charge_now(invoice)

    async def _settle(self, invoice: Invoice, new: bool, collect: bool = True) -> payments.PaymentOutcome:
        """Issues (when new), charges, records the outcome and books the revenue share in one activity, then applies
        the gateway's answer with the same rules as a charge of its own."""
        method = self._state.payment_method if collect else None
        now = workflow.now()
        if method is not None:
            invoice.attempts += 1
            invoice.last_attempt_at = now
        settlement = records.settlement(self._state, invoice, method, now, new=new)
        if settlement.issue is None and settlement.charge is None:
            return payments.PaymentOutcome.PENDING  # stays open until a method is on file
        settled: SettlementResult = await self._activity(names.SETTLE_INVOICE, settlement, result_type=SettlementResult)
        if settled.charge is None:
            return payments.PaymentOutcome.PENDING
        outcome = payments.apply_charge_result(self._state, invoice, settled.charge, now)
        await self._after_recorded(invoice, outcome)
        return outcome

    async def _charge_now(self, invoice: Invoice) -> payments.PaymentOutcome:
        method = self._state.payment_method
        if method is None:
            return payments.PaymentOutcome.PENDING  # stays open until a method is on file
        invoice.attempts += 1
        invoice.last_attempt_at = workflow.now()
        request = records.charge_request(self._state, invoice, method)
        result = await self._activity(names.CHARGE, request, result_type=ChargeResult)
        outcome = payments.apply_charge_result(self._state, invoice, result, workflow.now())
        await self._after_payment(invoice, outcome)
        return outcome

    async def _retry_unpaid(self) -> None:
        assert self._state.dunning is not None
        self._state.dunning.retries_done += 1
        note(self._state, "system", "dunning_retry", workflow.now(), f"retry {self._state.dunning.retries_done}")
        for invoice in payments.to_collect(self._state):
            await self._charge(invoice)

    async def _handle_payment_events(self) -> None:
        while self._inbox:
            event = self._inbox.pop(0)
            outcome, invoice = payments.apply_payment_event(self._state, event, workflow.now())
            if invoice is not None:
                await self._after_payment(invoice, outcome)

    async def _after_payment(self, invoice: Invoice, outcome: payments.PaymentOutcome) -> None:
        """Records an outcome that did not come with a settlement (a webhook, an expired pending payment)."""
        if outcome in (payments.PaymentOutcome.IGNORED, payments.PaymentOutcome.PENDING):
            return
        now = workflow.now()
        await self._activity(names.RECORD_PAYMENT, records.payment_record(invoice, now))
        if outcome == payments.PaymentOutcome.PAID and payments.books_revenue(invoice):
            await self._activity(names.BOOK_REVENUE_SHARE, records.revenue_booking(self._state, invoice, now))
        await self._after_recorded(invoice, outcome)

    async def _after_recorded(self, invoice: Invoice, outcome: payments.PaymentOutcome) -> None:
        """What follows an outcome the store has: a notice of a failure, a channel partner's points."""
        if outcome == payments.PaymentOutcome.FAILED:
            await self._notify(
                f"payment-failed-{invoice.number}-{invoice.attempts}",
                "payment_failed",
                f"payment of invoice {invoice.number} failed ({invoice.failure_reason}); "
                f"next retry {payments.next_retry_at(self._state) or 'none: suspension follows'}",
            )
        elif outcome == payments.PaymentOutcome.PAID and payments.books_revenue(invoice):
            await self._award_partner_points(invoice)

    async def _award_partner_points(self, invoice: Invoice) -> None:
        """A subscription sold by a channel partner earns it points once, when it first becomes paid."""
        partner = self._state.channel_partner_id
        if partner is None or self._state.partner_points_signalled:
            return
        self._state.partner_points_signalled = True
        programme = partner_workflow_id(partner)
        try:
            await workflow.get_external_workflow_handle(programme).signal(
                PartnerProgramWorkflow.record_contract_event, records.partner_points_event(self._state)
            )
            note(self._state, "system", "partner_points_signalled", workflow.now(), programme)
        except Exception as error:  # no running programme for the partner (yet): keep a note, do not fail
            detail = f"{programme} not reachable: {error}"
            note(self._state, "system", "partner_points_pending", workflow.now(), detail)
            await self._notify(
                f"partner-points-{partner}",
                "partner_points_pending",
                detail,
                recipient=SUBSCRIPTIONS.partner_points_recipient,
            )

    # --- suspend mode -------------------------------------------------------------------------

    async def _suspended(self) -> None:
        if workflow.patched(RECORD_AND_CALL):
            notice = self._suspension_notice(workflow.now())
            await self._connector(ConnectorAction.SUSPEND, snapshot=self._snapshot(), notice=notice)
            return
        await self._connector(ConnectorAction.SUSPEND)
        notice = self._suspension_notice(workflow.now())
        if workflow.patched(RECORD_WITH_NOTICE):
            now = workflow.now()
            await self._activity(
                names.RECORD_SUBSCRIPTION_WITH_NOTICE, records.notified_record(self._state, notice, now)
            )
            return
        await self._record()
        await self._notify(notice.key, notice.kind, notice.message)

    def _suspension_notice(self, now: datetime) -> NotificationRecord:
        reason = self._state.suspension_reason.value if self._state.suspension_reason else "suspended"
        message = (
            f"subscription {self._state.id} is in suspend mode ({reason}) until {self._state.suspend_ends_at}; "
            "the data is kept and can be exported"
        )
        key = f"suspended-{self._state.suspended_at:%Y%m%d%H%M}"
        return records.notification(self._state, key, "suspended", message, now)

    async def _terminate(self, now: datetime) -> None:
        """Suspend mode is over: the ISV deletes the customer's data, and the subscription ends."""
        ended = self._state.suspend_ends_at or now
        if workflow.patched(RECORD_AND_CALL):
            rules.transition(self._state, rules.Event.SUSPEND_MODE_ENDED, "system", ended, "data deleted")
            await self._connector(ConnectorAction.DEPROVISION, snapshot=self._snapshot())
            return
        await self._connector(ConnectorAction.DEPROVISION)
        rules.transition(self._state, rules.Event.SUSPEND_MODE_ENDED, "system", ended, "data deleted")
        await self._record()

    async def _reinstated(self) -> None:
        await self._connector(ConnectorAction.REINSTATE)
        await self._record()

    # --- commands -----------------------------------------------------------------------------

    def view(self) -> SubscriptionView:
        return rules.view(self._state)

    def payment_event(self, event: PaymentEvent) -> None:
        self._inbox.append(event)

    async def cancel(self, command: CancelCommand) -> SubscriptionView:
        was_trialing = self._state.status == SubscriptionStatus.TRIALING
        rules.apply_cancel(self._state, command, workflow.now())
        if was_trialing:
            await self._suspended()
        else:
            await self._record()
        return self._changed_view()

    def validate_cancel(self, command: CancelCommand) -> None:
        self._check(rules.check_cancel, command)

    async def uncancel(self, command: UncancelCommand) -> SubscriptionView:
        rules.apply_uncancel(self._state, command, workflow.now())
        await self._record()
        return self._changed_view()

    def validate_uncancel(self, command: UncancelCommand) -> None:
        now = workflow.now()
        self._check(lambda state, checked: rules.check_uncancel(state, checked, now), command)

    async def change_plan(self, command: ChangePlanCommand) -> SubscriptionView:
        now = workflow.now()
        change = plans.apply_change_plan(self._state, command, now)
        # A downgrade waits for its term, and a withdrawn one changes nothing the ISV knows of.
        if change in (plans.PlanChange.IN_TRIAL, plans.PlanChange.UPGRADE) and workflow.patched(PLAN_CHANGE_EVENT):
            await self._plan_changed(change, now)
        else:
            await self._record()
        return self._changed_view()

    async def _plan_changed(self, change: plans.PlanChange, effective_at: datetime) -> None:
        payload = records.plan_changed_payload(self._state, change.value, effective_at)
        await self._connector(ConnectorAction.PLAN_CHANGED, payload, snapshot=self._snapshot())

    def validate_change_plan(self, command: ChangePlanCommand) -> None:
        self._check(plans.check_change_plan, command)

    async def change_payment_method(self, command: ChangePaymentMethodCommand) -> SubscriptionView:
        rules.apply_change_payment_method(self._state, command, workflow.now())
        return self._changed_view()

    def validate_change_payment_method(self, command: ChangePaymentMethodCommand) -> None:
        self._check(rules.check_change_payment_method, command)

    async def request_export(self, command: ExportRequestCommand) -> SubscriptionView:
        now = workflow.now()
        note(self._state, command.actor, "export_requested", now, command.export_id)
        fee = rules.issue_export_fee_invoice(self._state, now)
        record = ExportRecord(
            export_id=command.export_id, requested_at=now, requested_by=command.actor, fee_invoice=fee.number
        )
        self._state.exports.append(record)
        await self._bill(fee)
        reply = await self._connector(ConnectorAction.EXPORT, {"export_id": command.export_id})
        exported = await self._activity(
            names.PRODUCE_EXPORT,
            ExportJob(
                export_id=command.export_id, subscription_id=self._state.id, requested_at=now, isv_export=reply.body
            ),
            result_type=ExportFile,
        )
        record.file_name, record.size_bytes = exported.file_name, exported.size_bytes
        return self._changed_view()

    def validate_request_export(self, command: ExportRequestCommand) -> None:
        self._check(rules.check_export_request, command)

    async def reinstate(self, command: ReinstateCommand) -> SubscriptionView:
        now = workflow.now()
        if self._state.suspension_reason == SuspensionReason.NO_PAYMENT_METHOD:
            rules.start_contract(self._state, command.actor, now)
            await self._reinstated()
            return self._changed_view()
        note(self._state, command.actor, "arrears_payment", now, command.comment)
        for invoice in payments.to_collect(self._state):
            await self._charge(invoice)
        if self._state.unpaid:
            self._changed = True
            unpaid = [invoice.number for invoice in self._state.unpaid]
            raise ApplicationError(
                f"the arrears could not be collected ({', '.join(unpaid)}); the subscription stays suspended",
                {"unpaid_invoices": unpaid},
                type="payment_failed",
                non_retryable=True,
            )
        if self._state.status == SubscriptionStatus.SUSPENDED:  # the main loop may have reinstated it already
            rules.reinstate_after_payment(self._state, command.actor, workflow.now())
            await self._reinstated()
        return self._changed_view()

    def validate_reinstate(self, command: ReinstateCommand) -> None:
        self._check(rules.check_reinstate, command)

    # --- helpers ------------------------------------------------------------------------------

    def _check(self, check: Callable[[SubscriptionState, CommandT], None], command: CommandT) -> None:
        refuse_unless(check, self._state, command)

    def _changed_view(self) -> SubscriptionView:
        self._changed = True
        self._publish()
        return self.view()

    async def _record(self) -> None:
        await self._activity(names.RECORD_SUBSCRIPTION, records.subscription_record(self._state, workflow.now()))

    def _snapshot(self) -> SubscriptionRecord:
        return records.subscription_record(self._state, workflow.now())

    async def _connector(
        self,
        action: ConnectorAction,
        payload: dict[str, Any] | None = None,
        snapshot: SubscriptionRecord | None = None,
        notice: NotificationRecord | None = None,
    ) -> ConnectorReply:
        """Calls the ISV connector; with a `snapshot` (and `notice`), records them first in the same activity."""
        call = ConnectorCall(
            event_id=str(workflow.uuid4()),
            app_id=self._state.plan.app_id,
            action=action,
            subscription_id=self._state.id,
            customer_id=self._state.customer.id,
            occurred_at=workflow.now(),
            payload=payload or {},
        )
        try:
            if snapshot is None:
                reply: ConnectorReply = await self._activity(names.CALL_CONNECTOR, call, result_type=ConnectorReply)
            else:
                step = RecordedCall(record=snapshot, notice=notice, call=call)
                reply = await self._activity(names.RECORD_AND_CALL_CONNECTOR, step, result_type=ConnectorReply)
        except ActivityError as failed:
            # The ISV refused the call for good (a 4xx): the subscription goes on, and people are told.
            detail = f"{action.value} refused by the ISV connector: {failed.cause or failed}"
            note(self._state, "system", "connector_failed", workflow.now(), detail)
            await self._notify(
                f"connector-{call.event_id}", "connector_failed", detail, recipient=self._state.plan.isv_id
            )
            return ConnectorReply(status_code=0, body={"error": detail})
        return reply

    async def _notify(self, key: str, kind: str, message: str, recipient: str | None = None) -> None:
        notice = records.notification(self._state, key, kind, message, workflow.now(), recipient)
        await self._activity(names.SEND_NOTIFICATION, notice)

    async def _activity(self, name: str, argument: BaseModel, result_type: type[ResultT] | None = None) -> Any:
        return await run_activity(name, argument, result_type)

    def _publish(self) -> None:
        self._search_attributes.publish(search_attributes_of(self._state))
