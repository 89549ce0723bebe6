"""SLA maths: stage budgets, the 42-day target, and a clock that stops on hold (docs/architecture.md)."""

from datetime import timedelta

import pytest

from domain.onboarding import rules
from domain.onboarding.config import ONBOARDING, StageId
from domain.onboarding.model import RejectCommand
from domain.onboarding.sla import SlaClock, SlaStatus, sla_status

from .builders import T0, advance, at, days, hold, new_onboarding, onboarding_in, resume

TICK = timedelta(microseconds=1)


def status(state, now) -> SlaStatus:
    return rules.current_sla_status(state, now)


# --- the clock -----------------------------------------------------------------------------------


def test_the_stage_deadline_is_the_stage_start_plus_its_budget():
    clock = SlaClock(started_at=T0, stage_started_at=at(5))
    assert clock.stage_due_at(days(7), at(6)) == at(12)


def test_the_target_deadline_is_the_start_plus_the_target():
    clock = SlaClock(started_at=T0, stage_started_at=at(5))
    assert clock.target_due_at(days(42), at(6)) == at(42)


def test_a_running_hold_keeps_pushing_both_deadlines_back():
    clock = SlaClock(started_at=T0, stage_started_at=T0).hold(at(2))
    assert clock.stage_due_at(days(5), at(2)) == at(5)
    assert clock.stage_due_at(days(5), at(4)) == at(7)
    assert clock.target_due_at(days(42), at(4)) == at(44)


def test_resuming_adds_the_time_on_hold_to_the_stage_and_the_total():
    clock = SlaClock(started_at=T0, stage_started_at=T0).hold(at(1)).resume(at(4))
    assert clock.on_hold_since is None
    assert clock.held_in_stage == days(3)
    assert clock.held_total == days(3)


def test_resume_needs_a_hold():
    with pytest.raises(AssertionError):
        SlaClock(started_at=T0, stage_started_at=T0).resume(at(1))


def test_entering_a_stage_restarts_the_stage_clock_but_keeps_the_total_hold():
    clock = SlaClock(started_at=T0, stage_started_at=T0).hold(at(1)).resume(at(4)).enter_stage(at(6))
    assert clock.stage_started_at == at(6)
    assert clock.held_in_stage == timedelta()
    assert clock.held_total == days(3)
    assert clock.started_at == T0


def test_the_clock_methods_leave_the_original_clock_unchanged():
    clock = SlaClock(started_at=T0, stage_started_at=T0)
    clock.hold(at(1))
    clock.enter_stage(at(2))
    assert clock == SlaClock(started_at=T0, stage_started_at=T0)


# --- on track, at risk, overdue ------------------------------------------------------------------


def test_an_onboarding_is_on_track_at_its_start():
    assert status(new_onboarding(T0), T0) == SlaStatus.ON_TRACK


def test_an_onboarding_is_on_track_until_the_last_instant_of_its_stage_budget():
    assert status(new_onboarding(T0), at(5) - TICK) == SlaStatus.ON_TRACK


def test_overrunning_the_stage_budget_puts_the_onboarding_at_risk_from_the_exact_deadline():
    state = new_onboarding(T0)
    assert status(state, at(5)) == SlaStatus.AT_RISK
    assert status(state, at(6)) == SlaStatus.AT_RISK


@pytest.mark.parametrize("stage", [spec.id for spec in ONBOARDING.stages])
def test_each_stage_is_at_risk_exactly_when_its_own_budget_runs_out(stage):
    state = onboarding_in(stage, T0)
    budget = ONBOARDING.stage(stage).budget
    assert status(state, T0 + budget - TICK) == SlaStatus.ON_TRACK
    assert status(state, T0 + budget) == SlaStatus.AT_RISK


def test_leaving_a_stage_exactly_on_its_budget_keeps_the_onboarding_on_track():
    state = new_onboarding(T0)
    advance(state, at(5))
    assert status(state, at(5)) == SlaStatus.ON_TRACK


def test_an_earlier_overrun_puts_the_onboarding_at_risk_when_the_remaining_budgets_no_longer_fit():
    state = new_onboarding(T0)
    advance(state, at(6))  # identification took 6 of its 5 days
    # Feasibility has just begun and is within its own budget, yet 6 + 7 + 10 + 14 + 6 > 42.
    assert state.clock.stage_due_at(days(7), at(6)) == at(13)
    assert status(state, at(6)) == SlaStatus.AT_RISK


def test_an_onboarding_that_makes_up_for_an_earlier_overrun_is_on_track_again():
    state = new_onboarding(T0)
    advance(state, at(6))
    advance(state, at(8))  # feasibility took 2 of its 7 days
    assert status(state, at(8)) == SlaStatus.ON_TRACK


def test_the_remaining_budgets_may_fill_the_target_exactly():
    state = new_onboarding(T0)
    advance(state, at(5))
    advance(state, at(12))
    advance(state, at(22))
    advance(state, at(36))
    # Go-live started on day 36 with its 6 days: it ends exactly at the 42-day target.
    assert status(state, at(36)) == SlaStatus.ON_TRACK
    assert status(state, at(42) - TICK) == SlaStatus.ON_TRACK


def test_missing_the_42_day_target_makes_the_onboarding_overdue():
    state = new_onboarding(T0)
    assert status(state, at(42) - TICK) == SlaStatus.AT_RISK
    assert status(state, at(42)) == SlaStatus.OVERDUE
    assert status(state, at(100)) == SlaStatus.OVERDUE


def test_an_onboarding_past_the_target_is_overdue_even_within_its_stage_budget():
    state = onboarding_in(StageId.GO_LIVE, T0)
    state.clock = state.clock.enter_stage(at(41))
    assert status(state, at(42)) == SlaStatus.OVERDUE


def test_sla_status_is_a_pure_function_of_the_clock_and_the_stage():
    clock = SlaClock(started_at=T0, stage_started_at=at(30))
    assert sla_status(clock, StageId.INTEGRATION, ONBOARDING, at(30)) == SlaStatus.AT_RISK  # 30 + 14 + 6 > 42
    assert sla_status(clock, StageId.GO_LIVE, ONBOARDING, at(30)) == SlaStatus.ON_TRACK
    assert sla_status(clock, StageId.GO_LIVE, ONBOARDING, at(36)) == SlaStatus.AT_RISK
    assert sla_status(clock, StageId.GO_LIVE, ONBOARDING, at(42)) == SlaStatus.OVERDUE


# --- the clock stops on hold ---------------------------------------------------------------------


def test_the_sla_status_is_frozen_while_on_hold():
    state = new_onboarding(T0)
    hold(state, at(4))
    assert status(state, at(4)) == SlaStatus.ON_TRACK
    assert status(state, at(10)) == SlaStatus.ON_TRACK  # past the stage budget
    assert status(state, at(60)) == SlaStatus.ON_TRACK  # past the target


def test_an_onboarding_held_while_at_risk_stays_at_risk_and_never_becomes_overdue_on_hold():
    state = new_onboarding(T0)
    hold(state, at(6))
    assert status(state, at(6)) == SlaStatus.AT_RISK
    assert status(state, at(90)) == SlaStatus.AT_RISK


def test_hold_pushes_the_stage_deadline_back_by_the_time_on_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(4))
    assert state.clock.stage_due_at(days(5), at(4)) == at(8)
    assert status(state, at(8) - TICK) == SlaStatus.ON_TRACK
    assert status(state, at(8)) == SlaStatus.AT_RISK


def test_hold_pushes_the_target_back_by_the_time_on_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(4))
    assert state.clock.target_due_at(days(42), at(4)) == at(45)
    assert status(state, at(42)) == SlaStatus.AT_RISK
    assert status(state, at(45) - TICK) == SlaStatus.AT_RISK
    assert status(state, at(45)) == SlaStatus.OVERDUE


def test_after_a_resume_the_status_continues_from_where_the_hold_stopped_it():
    state = new_onboarding(T0)
    hold(state, at(4))
    resume(state, at(100))
    # 4 of the 5 days were used before the hold; one is left.
    assert status(state, at(100)) == SlaStatus.ON_TRACK
    assert status(state, at(101) - TICK) == SlaStatus.ON_TRACK
    assert status(state, at(101)) == SlaStatus.AT_RISK
    assert status(state, at(142)) == SlaStatus.OVERDUE


def test_holds_in_earlier_stages_count_for_the_target_but_not_for_the_next_stage_budget():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(4))  # three days on hold in identification
    advance(state, at(8))  # 5 working days: within budget
    assert state.clock.stage_due_at(days(7), at(8)) == at(15)  # feasibility gets its 7 days, no more
    assert state.clock.target_due_at(days(42), at(8)) == at(45)  # the target moved by the hold
    assert status(state, at(8)) == SlaStatus.ON_TRACK  # 8 + 7 + 10 + 14 + 6 = 45
    assert status(state, at(15) - TICK) == SlaStatus.ON_TRACK
    assert status(state, at(15)) == SlaStatus.AT_RISK


def test_a_running_hold_moves_the_deadlines_in_the_pure_sla_maths():
    clock = SlaClock(started_at=T0, stage_started_at=T0).hold(at(4))
    # Asked at day 50 with the hold still running, 46 days of it pushed both deadlines back.
    assert sla_status(clock, StageId.IDENTIFICATION, ONBOARDING, at(50)) == SlaStatus.ON_TRACK


# --- the status is frozen when the onboarding closes ---------------------------------------------


def test_going_live_at_risk_freezes_the_status_as_at_risk():
    state = onboarding_in(StageId.GO_LIVE, T0)
    advance(state, at(7))  # go-live overran its 6 days
    assert state.sla_at_finish == SlaStatus.AT_RISK
    assert status(state, at(300)) == SlaStatus.AT_RISK


def test_rejecting_an_overdue_onboarding_freezes_it_as_overdue():
    state = new_onboarding(T0)
    hold(state, at(43))  # hold after the target: overdue already
    assert status(state, at(43)) == SlaStatus.OVERDUE
    rules.apply_reject(state, RejectCommand(actor="pm-anna", reason="gone quiet"), at(50))
    assert state.sla_at_finish == SlaStatus.OVERDUE
