"""Reject, hold, resume and reassign: when they are refused and what they change (docs/architecture.md)."""

import pytest
from pydantic import ValidationError

from domain.errors import CommandRefused
from domain.onboarding import rules
from domain.onboarding.config import StageId
from domain.onboarding.model import (
    HoldCommand,
    OnboardingState,
    OnboardingStatus,
    ReassignCommand,
    RejectCommand,
    ResumeCommand,
)
from domain.onboarding.sla import SlaStatus

from .builders import ACTOR, PM, T0, advance, at, days, hold, new_onboarding, onboarding_in, resume


def refusal(check, *args) -> CommandRefused:
    with pytest.raises(CommandRefused) as refused:
        check(*args)
    return refused.value


def reject(state, now, reason="not a fit", actor=ACTOR) -> None:
    command = RejectCommand(actor=actor, reason=reason)
    rules.check_reject(state, command)
    rules.apply_reject(state, command, now)


def rejected() -> OnboardingState:
    state = new_onboarding()
    reject(state, at(1))
    return state


def live() -> OnboardingState:
    state = onboarding_in(StageId.GO_LIVE)
    advance(state, at(1))
    return state


# --- reject --------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(reason):
    with pytest.raises(ValidationError):
        RejectCommand(actor=ACTOR, reason=reason)


def test_rejecting_closes_the_onboarding_for_good():
    state = onboarding_in(StageId.FEASIBILITY)
    reject(state, at(3), reason="no EU data centre", actor="pm-bert")
    assert state.status == OnboardingStatus.REJECTED
    assert state.is_closed
    assert state.finished_at == at(3)
    assert state.stage == StageId.FEASIBILITY
    entry = state.history[-1]
    assert (entry.actor, entry.action, entry.comment, entry.stage, entry.at) == (
        "pm-bert",
        "rejected",
        "no EU data centre",
        StageId.FEASIBILITY,
        at(3),
    )


def test_rejecting_freezes_the_sla_status():
    state = new_onboarding()
    reject(state, at(1))
    assert state.sla_at_finish == SlaStatus.ON_TRACK
    assert rules.current_sla_status(state, at(100)) == SlaStatus.ON_TRACK


def test_an_onboarding_on_hold_may_be_rejected_and_its_hold_ends():
    state = new_onboarding()
    hold(state, at(1))
    reject(state, at(4))
    assert state.status == OnboardingStatus.REJECTED
    assert state.clock.on_hold_since is None
    assert state.clock.held_total == days(3)


def test_a_rejected_onboarding_cannot_be_rejected_again():
    assert refusal(rules.check_reject, rejected(), RejectCommand(actor=ACTOR, reason="again")).code == (
        "onboarding_closed"
    )


def test_a_live_onboarding_cannot_be_rejected():
    assert refusal(rules.check_reject, live(), RejectCommand(actor=ACTOR, reason="too late")).code == (
        "onboarding_closed"
    )


# --- hold and resume -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_hold_needs_a_reason(reason):
    with pytest.raises(ValidationError):
        HoldCommand(actor=ACTOR, reason=reason)


def test_holding_puts_the_onboarding_on_hold_and_stops_the_clock_at_that_instant():
    state = new_onboarding()
    hold(state, at(2), reason="ISV restructuring")
    assert state.status == OnboardingStatus.ON_HOLD
    assert state.clock.on_hold_since == at(2)
    assert not state.is_closed
    entry = state.history[-1]
    assert (entry.action, entry.comment, entry.at) == ("held", "ISV restructuring", at(2))


def test_an_onboarding_on_hold_cannot_be_held_again():
    state = new_onboarding()
    hold(state, at(1))
    refused = refusal(rules.check_hold, state, HoldCommand(actor=ACTOR, reason="again"))
    assert refused.code == "already_on_hold"


def test_resuming_puts_the_onboarding_back_in_progress_and_adds_the_time_on_hold():
    state = new_onboarding()
    hold(state, at(1))
    resume(state, at(3.5))
    assert state.status == OnboardingStatus.IN_PROGRESS
    assert state.clock.on_hold_since is None
    assert state.clock.held_total == days(2.5)
    assert state.clock.held_in_stage == days(2.5)
    assert state.history[-1].action == "resumed"


def test_repeated_holds_add_up():
    state = new_onboarding()
    hold(state, at(1))
    resume(state, at(2))
    hold(state, at(3))
    resume(state, at(6))
    assert state.clock.held_total == days(4)
    assert state.clock.held_in_stage == days(4)


def test_an_onboarding_in_progress_cannot_be_resumed():
    refused = refusal(rules.check_resume, new_onboarding(), ResumeCommand(actor=ACTOR))
    assert refused.code == "not_on_hold"


@pytest.mark.parametrize("closed", [rejected, live])
def test_a_closed_onboarding_cannot_be_held_or_resumed(closed):
    state = closed()
    assert refusal(rules.check_hold, state, HoldCommand(actor=ACTOR, reason="x")).code == "onboarding_closed"
    assert refusal(rules.check_resume, state, ResumeCommand(actor=ACTOR)).code == "onboarding_closed"


# --- reassign ------------------------------------------------------------------------------------


def test_reassigning_hands_the_onboarding_to_another_partner_manager():
    state = new_onboarding(partner_manager=PM)
    command = ReassignCommand(actor="admin-eve", partner_manager="pm-bert", comment="holiday cover")
    rules.check_reassign(state, command)
    entry = rules.apply_reassign(state, command, at(1))
    assert state.partner_manager == "pm-bert"
    assert (entry.actor, entry.action, entry.at) == ("admin-eve", "reassigned", at(1))
    assert entry.comment == "pm-anna -> pm-bert: holiday cover"


def test_reassigning_without_a_comment_names_both_partner_managers():
    state = new_onboarding(partner_manager=PM)
    entry = rules.apply_reassign(state, ReassignCommand(actor=ACTOR, partner_manager="pm-bert"), at(1))
    assert entry.comment == "pm-anna -> pm-bert"


def test_reassigning_to_the_current_partner_manager_is_refused():
    state = new_onboarding(partner_manager=PM)
    refused = refusal(rules.check_reassign, state, ReassignCommand(actor=ACTOR, partner_manager=PM))
    assert refused.code == "already_assigned"


def test_a_partner_manager_must_be_a_slug():
    with pytest.raises(ValidationError):
        ReassignCommand(actor=ACTOR, partner_manager="Bert Meier")


def test_an_onboarding_on_hold_may_be_reassigned():
    state = new_onboarding()
    hold(state, at(1))
    rules.check_reassign(state, ReassignCommand(actor=ACTOR, partner_manager="pm-bert"))


@pytest.mark.parametrize("closed", [rejected, live])
def test_a_closed_onboarding_cannot_be_reassigned(closed):
    refused = refusal(rules.check_reassign, closed(), ReassignCommand(actor=ACTOR, partner_manager="pm-bert"))
    assert refused.code == "onboarding_closed"


# --- history -------------------------------------------------------------------------------------


def test_the_history_numbers_every_step_in_order_and_names_its_actor_and_stage():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(2))
    advance(state, at(3), actor="pm-bert")
    rules.apply_reassign(state, ReassignCommand(actor="admin-eve", partner_manager="pm-carl"), at(4))
    reject(state, at(5), reason="no EU hosting", actor="pm-carl")
    assert [entry.seq for entry in state.history] == list(range(1, len(state.history) + 1))
    assert [(e.action, e.actor, e.stage) for e in state.history] == [
        ("started", ACTOR, StageId.IDENTIFICATION),
        ("held", ACTOR, StageId.IDENTIFICATION),
        ("resumed", ACTOR, StageId.IDENTIFICATION),
        ("advanced", "pm-bert", StageId.IDENTIFICATION),
        ("reassigned", "admin-eve", StageId.FEASIBILITY),
        ("rejected", "pm-carl", StageId.FEASIBILITY),
    ]
    assert [e.at for e in state.history] == [T0, at(1), at(2), at(3), at(4), at(5)]
    assert state.history[-1].comment == "no EU hosting"
