"""PartnerProgramWorkflow: one channel partner's programme year, then the next (docs/architecture.md).

Points arrive as Updates (from account managers) or signals (from subscription workflows); the year end,
quarterly quality reports and review escalations are timers in the main loop. Each year continues as new,
and so does any point where Temporal suggests it, carrying tier, points and an open review.
"""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import SearchAttributePair

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.partners import rules
    from domain.partners.config import PROGRAMME
    from domain.partners.model import (
        AwardBatchResult,
        AwardResult,
        ContractEvent,
        DecideReview,
        Enrolment,
        PartnerRecord,
        PartnerState,
        PartnerStatus,
        PartnerView,
        PointsAward,
        PointsAwardBatch,
        QualityMetrics,
        QualityQuery,
        RecordContracts,
        RecordContractsResult,
        ReviewRecord,
        SignalledContractEvent,
    )
    from workflows import search_attributes as sa
    from workflows.effects import SearchAttributePublisher, run_activity
    from workflows.refusals import refuse_unless

SIGNAL_BATCH = 200  # signalled events are awarded in batches of at most this many

ResultT = TypeVar("ResultT")


class PartnerInput(BaseModel):
    """A new enrolment, or a partner carried over by continue-as-new (state)."""

    partner_id: str
    actor: str
    enrolment: Enrolment | None = None
    state: PartnerState | None = None
    # When the API accepted the enrolment: the initial state is computed from it, so the API can answer with that
    # state without waiting for a worker, and the workflow agrees. Absent in runs started before it existed.
    enrolled_at: datetime | None = None


def search_attributes_of(state: PartnerState) -> list[SearchAttributePair[str]]:
    return [
        SearchAttributePair(sa.PARTNER_TIER, state.tier.value),
        SearchAttributePair(sa.ACCOUNT_MANAGER, state.account_manager),
        SearchAttributePair(sa.PARTNER_STATUS, state.status.value),
    ]


@workflow.defn
class PartnerProgramWorkflow:
    @workflow.init
    def __init__(self, input: PartnerInput) -> None:
        if input.state is not None:
            self._state = input.state
            self._carried_over = True
        else:
            assert input.enrolment is not None, "a new partner needs its enrolment"
            self._state = rules.enrol(input.enrolment, input.actor, input.enrolled_at or workflow.now())
            self._carried_over = False
        self._signalled: list[SignalledContractEvent] = []
        self._changed = False
        self._award_lock = asyncio.Lock()
        self._last_award_at = datetime.min.replace(tzinfo=UTC)
        self._search_attributes = SearchAttributePublisher()

    @workflow.run
    async def run(self, input: PartnerInput) -> PartnerView:
        self._publish()
        if not self._carried_over:
            await self._record()
        while self._state.status == PartnerStatus.ACTIVE:
            await self._wait_for_work()
            await self._award_signalled()
            await self._file_due_report()
            await self._escalate_due_review()
            if workflow.now() >= self._state.year_ends_at and self._state.status == PartnerStatus.ACTIVE:
                await self._close_year()
                await self._continue_as_new()
            if workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._record()
        return self.view()

    def _next_deadline(self) -> datetime:
        moments = [self._state.year_ends_at, self._state.next_report_at]
        review = self._state.open_review
        if review is not None and review.escalated_at is None:
            moments.append(review.escalate_at)
        return min(moments)

    async def _wait_for_work(self) -> None:
        self._changed = False
        timeout = self._next_deadline() - workflow.now()
        if timeout <= timedelta() or self._signalled:
            return
        # A timeout is a deadline arriving, which the caller then handles.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._changed or bool(self._signalled) or workflow.info().is_continue_as_new_suggested(),
                timeout=timeout,
            )

    async def _continue_as_new(self) -> None:
        """Continues as new once every handler is done and every signalled event is awarded.

        Waiting (not polling) matters: a loop that only checked would spin while an Update awaits its activity.
        """
        while True:
            await self._award_signalled()
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._signalled:
                break
        workflow.continue_as_new(PartnerInput(partner_id=self._state.id, actor="system", state=self._state))

    # --- points -------------------------------------------------------------------------------

    async def _award(self, events: list[ContractEvent], actors: list[str]) -> list[AwardResult]:
        # One award call at a time, each with its own instant: the ledger tells a retry of this very call
        # (same actor, same instant) from a repeated reference id by that instant.
        async with self._award_lock:
            return await self._award_now(events, actors)

    async def _award_now(self, events: list[ContractEvent], actors: list[str]) -> list[AwardResult]:
        now = max(workflow.now(), self._last_award_at + timedelta(microseconds=1))
        self._last_award_at = now
        awards = [
            PointsAward(
                partner_id=self._state.id,
                year=self._state.year,
                reference_id=event.reference_id,
                kind=event.kind,
                quantity=event.quantity,
                monthly_value_cents=event.monthly_value_cents,
                points=rules.points_for(event),
                actor=actor,
                at=now,
            )
            for event, actor in zip(events, actors, strict=True)
        ]
        batch: AwardBatchResult = await self._activity(
            names.AWARD_POINTS, PointsAwardBatch(awards=awards), AwardBatchResult
        )
        for result in batch.results:
            if not result.duplicate:
                self._state.points += result.points_awarded
                self._state.events_counted += 1
        self._publish()
        return batch.results

    async def _award_signalled(self) -> None:
        while self._signalled:
            batch, self._signalled = self._signalled[:SIGNAL_BATCH], self._signalled[SIGNAL_BATCH:]
            await self._award(list(batch), [event.actor for event in batch])

    # --- quality and reviews ------------------------------------------------------------------

    async def _file_due_report(self) -> None:
        if workflow.now() < self._state.next_report_at:
            return
        metrics: QualityMetrics = await self._activity(
            names.MEASURE_QUALITY,
            QualityQuery(
                partner_id=self._state.id,
                period_start=self._state.last_report_at,
                period_end=self._state.next_report_at,
                payment_grace_days=PROGRAMME.quality.payment_grace_days,
            ),
            QualityMetrics,
        )
        report = rules.file_quality_report(self._state, metrics, workflow.now())
        await self._activity(names.RECORD_QUALITY_REPORT, report)
        if rules.review_due(self._state):
            review = rules.open_review(self._state, workflow.now())
            await self._review_event("opened", review.reason, self._state.account_manager)
        self._publish()

    async def _escalate_due_review(self) -> None:
        review = self._state.open_review
        if review is None or not rules.escalation_due(self._state, workflow.now()):
            return
        review.escalated_at = workflow.now()
        rules.note(self._state, "system", "review_escalated", review.escalated_at, "no decision in time")
        await self._review_event(
            "escalated",
            f"termination review of {self._state.id} opened {review.opened_at.date()} is undecided; "
            f"account manager {self._state.account_manager}",
            PROGRAMME.review_escalation_recipient,
        )

    async def _review_event(self, event: str, note: str, recipient: str, actor: str = "system") -> None:
        await self._activity(
            names.RECORD_REVIEW,
            ReviewRecord(
                partner_id=self._state.id, event=event, actor=actor, at=workflow.now(), note=note, recipient=recipient
            ),
        )

    # --- year end -----------------------------------------------------------------------------

    async def _close_year(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._award_signalled()
        decision = rules.decide_year_end(self._state, workflow.now())
        await self._activity(names.RECORD_TIER_DECISION, decision)
        rules.start_next_year(self._state, decision)
        self._publish()
        await self._record()

    # --- commands -----------------------------------------------------------------------------

    @workflow.query
    def view(self) -> PartnerView:
        return rules.view(self._state, workflow.now())

    @workflow.signal(name="record_contract_event")
    def record_contract_event(self, event: SignalledContractEvent) -> None:
        if self._state.status == PartnerStatus.ACTIVE:
            self._signalled.append(event)

    @workflow.update
    async def record_contracts(self, command: RecordContracts) -> RecordContractsResult:
        results = await self._award(command.events, [command.actor] * len(command.events))
        return RecordContractsResult(results=results, points=self._state.points)

    @record_contracts.validator
    def _validate_record_contracts(self, command: RecordContracts) -> None:
        refuse_unless(rules.check_contracts, self._state, command)

    @workflow.update
    async def decide_review(self, command: DecideReview) -> PartnerView:
        rules.apply_review_decision(self._state, command, workflow.now())
        await self._review_event(command.decision.value, command.note, f"partner-{self._state.id}", command.actor)
        self._changed = True
        self._publish()
        await self._record()
        return self.view()

    @decide_review.validator
    def _validate_decide_review(self, command: DecideReview) -> None:
        refuse_unless(rules.check_review_decision, self._state, command)

    # --- helpers ------------------------------------------------------------------------------

    async def _record(self) -> None:
        state = self._state
        await self._activity(
            names.RECORD_PARTNER,
            PartnerRecord(
                partner_id=state.id,
                name=state.name,
                account_manager=state.account_manager,
                tier=state.tier,
                status=state.status,
                year=state.year,
                points=state.points,
                updated_at=workflow.now(),
            ),
        )

    async def _activity(self, name: str, argument: BaseModel, result_type: type[ResultT] | None = None) -> Any:
        return await run_activity(name, argument, result_type)

    def _publish(self) -> None:
        self._search_attributes.publish(search_attributes_of(self._state))
