"""The onboarding's rules: which commands are refused and why, what they change, and when timers are due.

Workflow validators call the `check_*` functions; handlers call the matching `apply_*` function.
"""

from datetime import datetime

from domain.errors import CommandRefused
from domain.onboarding.config import (
    CONNECTOR_TEST_ITEM,
    ENDPOINT_ITEM,
    ONBOARDING,
    CriterionSource,
    OnboardingConfig,
    StageId,
)
from domain.onboarding.model import (
    AdvanceCommand,
    ChecklistCommand,
    ChecklistItemView,
    Command,
    DeadlinesView,
    HistoryEntry,
    HoldCommand,
    Notification,
    NotificationKind,
    OnboardingRequest,
    OnboardingState,
    OnboardingStatus,
    OnboardingView,
    ReassignCommand,
    RejectCommand,
    ResumeCommand,
    SetTermsCommand,
    StageChecklistView,
    TickedItem,
)
from domain.onboarding.prediction import predict
from domain.onboarding.sla import SlaClock, SlaStatus, sla_status

LOCAL_ENDPOINT = "local"  # the embedded local connector


def start(onboarding_id: str, request: OnboardingRequest, actor: str, now: datetime) -> OnboardingState:
    state = OnboardingState(
        id=onboarding_id,
        isv=request.isv,
        app=request.app,
        partner_manager=request.partner_manager,
        clock=SlaClock(started_at=now, stage_started_at=now),
    )
    _record(state, actor, "started", now, comment=f"partner manager {request.partner_manager}")
    return state


# --- criteria --------------------------------------------------------------------------------


def criterion_met(state: OnboardingState, criterion_id: str, source: CriterionSource) -> bool:
    match source:
        case CriterionSource.CHECKLIST:
            return criterion_id in state.ticked
        case CriterionSource.PROFILE:
            return bool(state.isv.name and state.isv.contact_email and state.app.name)
        case CriterionSource.CATEGORY:
            return state.app.category is not None
        case CriterionSource.PARTNER_MANAGER:
            return bool(state.partner_manager)
        case CriterionSource.REVENUE_SHARE:
            return state.terms is not None
        case CriterionSource.PLANS:
            return state.terms is not None and bool(state.terms.plans)


def unmet_criteria(state: OnboardingState, config: OnboardingConfig = ONBOARDING) -> list[str]:
    spec = config.stage(state.stage)
    return [c.id for c in spec.criteria if not criterion_met(state, c.id, c.source)]


# --- checks (validators) ---------------------------------------------------------------------


def check_open(state: OnboardingState) -> None:
    if state.is_closed:
        raise CommandRefused(
            "onboarding_closed",
            f"onboarding {state.id} is {state.status.value} and can no longer change",
            {"status": state.status.value},
        )


def check_checklist(state: OnboardingState, command: ChecklistCommand, config: OnboardingConfig = ONBOARDING) -> None:
    check_open(state)
    item_stage = config.stage_of_item(command.item)
    if item_stage is None:
        raise CommandRefused("unknown_checklist_item", f"there is no checklist item {command.item!r}")
    if item_stage != state.stage:
        raise CommandRefused(
            "item_not_in_current_stage",
            f"checklist item {command.item!r} belongs to stage {item_stage.value}, "
            f"the onboarding is in stage {state.stage.value}",
            {"item": command.item, "item_stage": item_stage.value, "stage": state.stage.value},
        )
    criterion = next(c for c in config.stage(item_stage).criteria if c.id == command.item)
    if command.value is not None and command.item != ENDPOINT_ITEM:
        raise CommandRefused("unexpected_value", f"checklist item {command.item!r} takes no value")
    if criterion.source != CriterionSource.CHECKLIST:
        raise CommandRefused(
            "criterion_not_tickable",
            f"checklist item {command.item!r} follows from the onboarding's {criterion.source.value}, "
            "it cannot be ticked by hand",
            {"item": command.item, "source": criterion.source.value},
        )


def check_connector_test(state: OnboardingState, command: ChecklistCommand) -> None:
    """The connector test needs the endpoint it is to call."""
    check_checklist(state, command)
    if command.item == CONNECTOR_TEST_ITEM and state.provisioning_endpoint is None:
        raise CommandRefused(
            "endpoint_not_registered",
            f"register the provisioning endpoint ({ENDPOINT_ITEM}) before the connector test",
        )


def check_set_terms(state: OnboardingState, command: SetTermsCommand) -> None:
    check_open(state)
    if state.stage != StageId.COMMERCIAL:
        raise CommandRefused(
            "terms_outside_commercial_stage",
            f"commercial terms are set in the commercial stage; the onboarding is in stage {state.stage.value}",
            {"stage": state.stage.value},
        )


def check_advance(state: OnboardingState, command: AdvanceCommand, config: OnboardingConfig = ONBOARDING) -> None:
    check_open(state)
    if state.status == OnboardingStatus.ON_HOLD:
        raise CommandRefused("on_hold", "the onboarding is on hold; resume it before advancing")
    next_stage = config.next_stage(state.stage)
    if command.to_stage is not None and command.to_stage != next_stage:
        expected = next_stage.value if next_stage else "go-live completion"
        raise CommandRefused(
            "stage_skip",
            f"stages are never skipped or repeated: from {state.stage.value} the next step is {expected}",
            {"stage": state.stage.value, "requested": command.to_stage.value, "next": next_stage},
        )
    unmet = unmet_criteria(state, config)
    if unmet:
        raise CommandRefused(
            "criteria_unmet",
            f"stage {state.stage.value} cannot be left, unmet exit criteria: {', '.join(unmet)}",
            {"stage": state.stage.value, "unmet": unmet},
        )


def check_reject(state: OnboardingState, command: RejectCommand) -> None:
    check_open(state)


def check_hold(state: OnboardingState, command: HoldCommand) -> None:
    check_open(state)
    if state.status == OnboardingStatus.ON_HOLD:
        raise CommandRefused("already_on_hold", "the onboarding is already on hold")


def check_resume(state: OnboardingState, command: ResumeCommand) -> None:
    check_open(state)
    if state.status != OnboardingStatus.ON_HOLD:
        raise CommandRefused("not_on_hold", "the onboarding is not on hold")


def check_reassign(state: OnboardingState, command: ReassignCommand) -> None:
    check_open(state)
    if command.partner_manager == state.partner_manager:
        raise CommandRefused(
            "already_assigned", f"{command.partner_manager} is already the onboarding's partner manager"
        )


# --- effects (handlers) ----------------------------------------------------------------------


def _record(
    state: OnboardingState,
    command_or_actor: Command | str,
    action: str,
    now: datetime,
    *,
    to_stage: StageId | None = None,
    item: str | None = None,
    comment: str | None = None,
) -> HistoryEntry:
    actor = command_or_actor if isinstance(command_or_actor, str) else command_or_actor.actor
    entry = HistoryEntry(
        seq=len(state.history) + 1,
        at=now,
        actor=actor,
        action=action,
        stage=state.stage,
        to_stage=to_stage,
        item=item,
        comment=comment,
    )
    state.history.append(entry)
    return entry


def apply_complete_item(state: OnboardingState, command: ChecklistCommand, now: datetime) -> HistoryEntry:
    state.ticked[command.item] = TickedItem(by=command.actor, at=now, comment=command.comment)
    comment = command.comment
    if command.item == ENDPOINT_ITEM:
        state.provisioning_endpoint = command.value or LOCAL_ENDPOINT
        # A new endpoint has not been tested yet.
        state.ticked.pop(CONNECTOR_TEST_ITEM, None)
        comment = f"endpoint {state.provisioning_endpoint}" + (f": {comment}" if comment else "")
    return _record(state, command, "item_completed", now, item=command.item, comment=comment)


def apply_undo_item(state: OnboardingState, command: ChecklistCommand, now: datetime) -> HistoryEntry:
    state.ticked.pop(command.item, None)
    if command.item == ENDPOINT_ITEM:
        state.provisioning_endpoint = None
        state.ticked.pop(CONNECTOR_TEST_ITEM, None)
    return _record(state, command, "item_undone", now, item=command.item, comment=command.comment)


def apply_set_terms(state: OnboardingState, command: SetTermsCommand, now: datetime) -> HistoryEntry:
    state.terms = command.terms
    summary = f"revenue share {command.terms.revenue_share_percent:g} %, " + ", ".join(
        f"{plan.term_months} months at {plan.monthly_price_cents} cents/month" for plan in command.terms.plans
    )
    return _record(state, command, "terms_set", now, comment=summary)


def apply_advance(
    state: OnboardingState, command: AdvanceCommand, now: datetime, config: OnboardingConfig = ONBOARDING
) -> HistoryEntry:
    next_stage = config.next_stage(state.stage)
    if next_stage is None:
        entry = _record(state, command, "went_live", now, comment=command.comment)
        _finish(state, OnboardingStatus.LIVE, now, config)
        return entry
    entry = _record(state, command, "advanced", now, to_stage=next_stage, comment=command.comment)
    state.stage = next_stage
    state.clock = state.clock.enter_stage(now)
    return entry


def apply_reject(
    state: OnboardingState, command: RejectCommand, now: datetime, config: OnboardingConfig = ONBOARDING
) -> HistoryEntry:
    if state.status == OnboardingStatus.ON_HOLD:
        state.clock = state.clock.resume(now)
    entry = _record(state, command, "rejected", now, comment=command.reason)
    _finish(state, OnboardingStatus.REJECTED, now, config)
    return entry


def apply_hold(state: OnboardingState, command: HoldCommand, now: datetime) -> HistoryEntry:
    state.status = OnboardingStatus.ON_HOLD
    state.clock = state.clock.hold(now)
    return _record(state, command, "held", now, comment=command.reason)


def apply_resume(state: OnboardingState, command: ResumeCommand, now: datetime) -> HistoryEntry:
    state.status = OnboardingStatus.IN_PROGRESS
    state.clock = state.clock.resume(now)
    return _record(state, command, "resumed", now, comment=command.comment)


def apply_reassign(state: OnboardingState, command: ReassignCommand, now: datetime) -> HistoryEntry:
    previous = state.partner_manager
    state.partner_manager = command.partner_manager
    note = f"{previous} -> {command.partner_manager}" + (f": {command.comment}" if command.comment else "")
    return _record(state, command, "reassigned", now, comment=note)


def _finish(state: OnboardingState, status: OnboardingStatus, now: datetime, config: OnboardingConfig) -> None:
    state.sla_at_finish = current_sla_status(state, now, config)
    state.status = status
    state.finished_at = now


# --- SLA and timers --------------------------------------------------------------------------


def current_sla_status(state: OnboardingState, now: datetime, config: OnboardingConfig = ONBOARDING) -> SlaStatus:
    if state.sla_at_finish is not None:
        return state.sla_at_finish
    # The clock stops on hold: the status is the one it had when the hold began.
    as_of = state.clock.on_hold_since or now
    return sla_status(state.clock, state.stage, config, as_of)


def due_notifications(
    state: OnboardingState, now: datetime, config: OnboardingConfig = ONBOARDING
) -> list[Notification]:
    """Reminders and escalations whose time has come and that were not sent yet."""
    if state.status != OnboardingStatus.IN_PROGRESS:
        return []
    due: list[Notification] = []
    stage_due = state.clock.stage_due_at(config.stage(state.stage).budget, now)
    if state.stage not in state.reminded_stages and now >= stage_due:
        due.append(
            Notification(
                kind=NotificationKind.REMINDER,
                stage=state.stage,
                at=now,
                recipient=state.partner_manager,
                message=f"stage {state.stage.value} of onboarding {state.id} overran its budget "
                f"({config.stage(state.stage).budget.days} days, due {stage_due.isoformat()})",
            )
        )
    target_due = state.clock.target_due_at(config.target, now)
    if not state.escalated and now >= target_due:
        due.append(
            Notification(
                kind=NotificationKind.ESCALATION,
                stage=state.stage,
                at=now,
                recipient=state.partner_manager,
                message=f"onboarding {state.id} missed its {config.target.days}-day go-live target "
                f"(due {target_due.isoformat()}), still in stage {state.stage.value}",
            )
        )
    return due


def mark_sent(state: OnboardingState, notification: Notification) -> None:
    state.notifications.append(notification)
    if notification.kind == NotificationKind.REMINDER:
        state.reminded_stages.append(notification.stage)
    else:
        state.escalated = True


def next_wakeup(state: OnboardingState, now: datetime, config: OnboardingConfig = ONBOARDING) -> datetime | None:
    """The next moment a timer must fire, or None while nothing is pending (on hold, closed)."""
    if state.status != OnboardingStatus.IN_PROGRESS:
        return None
    moments = []
    if state.stage not in state.reminded_stages:
        moments.append(state.clock.stage_due_at(config.stage(state.stage).budget, now))
    if not state.escalated:
        moments.append(state.clock.target_due_at(config.target, now))
    return min(moments) if moments else None


# --- read model ------------------------------------------------------------------------------


def view(state: OnboardingState, now: datetime, config: OnboardingConfig = ONBOARDING) -> OnboardingView:
    as_of = state.finished_at or now
    prediction = predict(state, now, config)
    checklist = [
        StageChecklistView(
            stage=spec.id,
            title=spec.title,
            budget_days=spec.budget.total_seconds() / 86400,
            items=[
                ChecklistItemView(
                    id=c.id,
                    title=c.title,
                    source=c.source,
                    done=criterion_met(state, c.id, c.source),
                    done_by=state.ticked[c.id].by if c.id in state.ticked else None,
                    done_at=state.ticked[c.id].at if c.id in state.ticked else None,
                )
                for c in spec.criteria
            ],
        )
        for spec in config.stages
    ]
    return OnboardingView(
        id=state.id,
        isv=state.isv,
        app=state.app,
        partner_manager=state.partner_manager,
        stage=state.stage,
        status=state.status,
        sla_status=current_sla_status(state, now, config),
        started_at=state.clock.started_at,
        stage_started_at=state.clock.stage_started_at,
        on_hold_since=state.clock.on_hold_since,
        finished_at=state.finished_at,
        deadlines=DeadlinesView(
            stage_due_at=None if state.is_closed else state.clock.stage_due_at(config.stage(state.stage).budget, as_of),
            target_due_at=state.clock.target_due_at(config.target, as_of),
        ),
        predicted_go_live=prediction.predicted_go_live if prediction else None,
        prediction_basis=prediction.basis if prediction else None,
        misses_target=prediction.misses_target if prediction else None,
        prediction_stages=prediction.stages if prediction else [],
        unmet_criteria=[] if state.is_closed else unmet_criteria(state, config),
        checklist=checklist,
        commercial_terms=state.terms,
        provisioning_endpoint=state.provisioning_endpoint,
        notifications=state.notifications,
        history=state.history,
    )
