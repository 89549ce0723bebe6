"""OnboardingWorkflow: one ISV app from identification to go-live (docs/architecture.md).

Commands are Updates whose validators refuse with the rule's reason; timers for the stage reminder and
the 42-day escalation live in the main loop, and the handlers only change state.
"""

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.onboarding import rules
    from domain.onboarding.config import CONNECTOR_TEST_ITEM, ONBOARDING, StageId
    from domain.onboarding.model import (
        AdvanceCommand,
        AppPublication,
        ChecklistCommand,
        GoLivePrediction,
        HistoryEntry,
        HoldCommand,
        MarketplaceHistory,
        MarketplaceHistoryRequest,
        OnboardingNotice,
        OnboardingRequest,
        OnboardingStarted,
        OnboardingState,
        OnboardingStatus,
        OnboardingStep,
        OnboardingView,
        ReassignCommand,
        RejectCommand,
        ResumeCommand,
        SetTermsCommand,
    )
    from domain.onboarding.prediction import predict
    from domain.subscription.model import ConnectorAction, ConnectorCall
    from workflows import search_attributes as sa
    from workflows.effects import ACTIVITY_TIMEOUT, SearchAttributePublisher, run_activity
    from workflows.refusals import refuse_unless

CONNECTOR_TEST_PATCH = "connector-test-call"
# Runs started before the predicted go-live neither read the marketplace's history nor publish the prediction.
PREDICTION_PATCH = "go-live-prediction"
# Later runs also publish how the listed prediction was made.
PREDICTION_BASIS_PATCH = "go-live-prediction-basis"
# A rejection taken while the marketplace's history was being read ends the run at once, not at the next deadline.
CLOSED_WHILE_READING_PATCH = "closed-while-reading-history"

CommandT = TypeVar("CommandT", bound=BaseModel)


class OnboardingInput(BaseModel):
    """A new onboarding (request and actor) or one carried over by continue-as-new (state)."""

    onboarding_id: str
    actor: str
    request: OnboardingRequest | None = None
    state: OnboardingState | None = None
    # When the API accepted the start: the initial state is computed from it, so the API can answer with that
    # state without waiting for a worker, and the workflow agrees. Absent in runs started before it existed.
    started_at: datetime | None = None


def search_attributes_of(state: OnboardingState, sla_status: str) -> list[SearchAttributePair[str]]:
    """The values lists filter on; the API sets them at start, the workflow keeps them current."""
    return [
        SearchAttributePair(sa.ISV_ID, state.isv.id),
        SearchAttributePair(sa.APP_ID, state.app.id),
        SearchAttributePair(sa.PARTNER_MANAGER, state.partner_manager),
        SearchAttributePair(sa.ONBOARDING_STAGE, state.stage.value),
        SearchAttributePair(sa.ONBOARDING_STATUS, state.status.value),
        SearchAttributePair(sa.SLA_STATUS, sla_status),
    ]


def prediction_attributes_of(prediction: GoLivePrediction | None) -> list[SearchAttributePair[Any]]:
    """The predicted go-live as lists sort and filter on it. A rejected onboarding has none: its attributes keep
    their last values (unsetting one breaks decoding on the time-skipping test server), and lists ignore them."""
    if prediction is None:
        return []
    return [
        SearchAttributePair(sa.PREDICTED_GO_LIVE, prediction.predicted_go_live),
        SearchAttributePair(sa.MISSES_GO_LIVE_TARGET, prediction.misses_target),
    ]


@workflow.defn
class OnboardingWorkflow:
    @workflow.init
    def __init__(self, input: OnboardingInput) -> None:
        if input.state is not None:
            self._state = input.state
            self._carried_over = True
        else:
            assert input.request is not None, "a new onboarding needs its request"
            self._state = rules.start(
                input.onboarding_id, input.request, input.actor, input.started_at or workflow.now()
            )
            self._carried_over = False
        self._changed = False
        self._search_attributes = SearchAttributePublisher()
        self._history_read_in: StageId | None = None  # the stage the marketplace's history was last read in

    @workflow.run
    async def run(self, input: OnboardingInput) -> OnboardingView:
        self._publish_search_attributes()
        if not self._carried_over:
            await self._activity(
                names.REGISTER_ISV,
                OnboardingStarted(onboarding_id=self._state.id, isv=self._state.isv, at=workflow.now()),
            )
            await self._record(self._state.history[0])
        while not self._state.is_closed:
            await self._read_marketplace_history()
            await self._wait_for_change_or_deadline()
            for notification in rules.due_notifications(self._state, workflow.now()):
                await self._activity(
                    names.SEND_ONBOARDING_NOTICE,
                    OnboardingNotice(onboarding_id=self._state.id, notification=notification),
                )
                rules.mark_sent(self._state, notification)
            self._publish_search_attributes()
            if workflow.info().is_continue_as_new_suggested() and not self._state.is_closed:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    OnboardingInput(onboarding_id=self._state.id, actor="system", state=self._state)
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._publish_search_attributes()
        return self.view()

    async def _wait_for_change_or_deadline(self) -> None:
        self._changed = False
        if self._state.is_closed and workflow.patched(CLOSED_WHILE_READING_PATCH):
            return
        wakeup = rules.next_wakeup(self._state, workflow.now())
        if wakeup is not None and wakeup <= workflow.now():
            return
        timeout = None if wakeup is None else wakeup - workflow.now()
        # A timeout is the deadline arriving, which the caller then handles.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._changed or workflow.info().is_continue_as_new_suggested(), timeout=timeout
            )

    @workflow.query
    def view(self) -> OnboardingView:
        return rules.view(self._state, workflow.now())

    # --- commands ---------------------------------------------------------------------------

    @workflow.update
    async def complete_item(self, command: ChecklistCommand) -> OnboardingView:
        # Executions started before the connector test became a real call replay without it.
        if command.item == CONNECTOR_TEST_ITEM and workflow.patched(CONNECTOR_TEST_PATCH):
            await self._test_connector()
        return await self._applied(rules.apply_complete_item(self._state, command, workflow.now()))

    @complete_item.validator
    def _validate_complete_item(self, command: ChecklistCommand) -> None:
        self._check(rules.check_connector_test, command)

    async def _test_connector(self) -> None:
        """A signed test call to the registered endpoint; a failure refuses the tick with its cause."""
        call = ConnectorCall(
            event_id=str(workflow.uuid4()),
            app_id=self._state.app.id,
            action=ConnectorAction.TEST,
            occurred_at=workflow.now(),
            payload={"endpoint": self._state.provisioning_endpoint, "onboarding_id": self._state.id},
        )
        try:
            await workflow.execute_activity(
                names.TEST_CONNECTOR,
                call,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=2),
            )
        except ActivityError as failed:
            cause = failed.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or failed)
            raise ApplicationError(
                message,
                {"item": CONNECTOR_TEST_ITEM, "endpoint": self._state.provisioning_endpoint},
                type="connector_test_failed",
                non_retryable=True,
            ) from failed

    @workflow.update
    async def undo_item(self, command: ChecklistCommand) -> OnboardingView:
        return await self._applied(rules.apply_undo_item(self._state, command, workflow.now()))

    @undo_item.validator
    def _validate_undo_item(self, command: ChecklistCommand) -> None:
        self._check(rules.check_checklist, command)

    @workflow.update
    async def set_terms(self, command: SetTermsCommand) -> OnboardingView:
        return await self._applied(rules.apply_set_terms(self._state, command, workflow.now()))

    @set_terms.validator
    def _validate_set_terms(self, command: SetTermsCommand) -> None:
        self._check(rules.check_set_terms, command)

    @workflow.update
    async def advance(self, command: AdvanceCommand) -> OnboardingView:
        entry = rules.apply_advance(self._state, command, workflow.now())
        if self._state.status == OnboardingStatus.LIVE:
            assert self._state.terms is not None, "go-live needs commercial terms"
            await self._activity(
                names.PUBLISH_APP,
                AppPublication(
                    onboarding_id=self._state.id,
                    isv=self._state.isv,
                    app=self._state.app,
                    terms=self._state.terms,
                    at=workflow.now(),
                    provisioning_endpoint=self._state.provisioning_endpoint,
                ),
            )
        return await self._applied(entry)

    @advance.validator
    def _validate_advance(self, command: AdvanceCommand) -> None:
        self._check(rules.check_advance, command)

    @workflow.update
    async def reject(self, command: RejectCommand) -> OnboardingView:
        return await self._applied(rules.apply_reject(self._state, command, workflow.now()))

    @reject.validator
    def _validate_reject(self, command: RejectCommand) -> None:
        self._check(rules.check_reject, command)

    @workflow.update
    async def hold(self, command: HoldCommand) -> OnboardingView:
        return await self._applied(rules.apply_hold(self._state, command, workflow.now()))

    @hold.validator
    def _validate_hold(self, command: HoldCommand) -> None:
        self._check(rules.check_hold, command)

    @workflow.update
    async def resume(self, command: ResumeCommand) -> OnboardingView:
        return await self._applied(rules.apply_resume(self._state, command, workflow.now()))

    @resume.validator
    def _validate_resume(self, command: ResumeCommand) -> None:
        self._check(rules.check_resume, command)

    @workflow.update
    async def reassign(self, command: ReassignCommand) -> OnboardingView:
        return await self._applied(rules.apply_reassign(self._state, command, workflow.now()))

    @reassign.validator
    def _validate_reassign(self, command: ReassignCommand) -> None:
        self._check(rules.check_reassign, command)

    # --- helpers ----------------------------------------------------------------------------

    def _check(self, check: Callable[[OnboardingState, CommandT], None], command: CommandT) -> None:
        refuse_unless(check, self._state, command)

    async def _applied(self, entry: HistoryEntry) -> OnboardingView:
        """After a command changed the state: wake the main loop, refresh filters, record the step."""
        # workflow.logger is replay-safe: a replayed command is not logged again.
        workflow.logger.info("%s in stage %s", entry.action, entry.stage.value)
        self._changed = True
        self._publish_search_attributes()
        await self._record(entry)
        return self.view()

    async def _record(self, entry: HistoryEntry) -> None:
        await self._activity(names.RECORD_ONBOARDING_STEP, OnboardingStep(onboarding_id=self._state.id, entry=entry))

    async def _activity(self, name: str, argument: BaseModel) -> None:
        await run_activity(name, argument)

    async def _read_marketplace_history(self) -> None:
        """Once per stage: the medians are marketplace-wide and change slowly, and each read is an activity."""
        stage = self._state.stage
        if not workflow.patched(PREDICTION_PATCH) or self._history_read_in == stage:
            return
        self._state.marketplace_history = await run_activity(
            names.READ_MARKETPLACE_HISTORY,
            MarketplaceHistoryRequest(window=ONBOARDING.history_window),
            MarketplaceHistory,
        )
        self._history_read_in = stage
        self._publish_search_attributes()

    def _publish_search_attributes(self) -> None:
        now = workflow.now()
        pairs = search_attributes_of(self._state, rules.current_sla_status(self._state, now).value)
        if not workflow.patched(PREDICTION_PATCH):
            self._search_attributes.publish(pairs)
            return
        prediction = predict(self._state, now, ONBOARDING)
        pairs += prediction_attributes_of(prediction)
        if prediction is not None and workflow.patched(PREDICTION_BASIS_PATCH):
            pairs.append(SearchAttributePair(sa.PREDICTION_BASIS, prediction.basis.value))
        self._search_attributes.publish(pairs)
