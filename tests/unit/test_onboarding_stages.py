"""The onboarding's five stages: their order, budgets and leaving them (docs/architecture.md)."""

from datetime import timedelta

import pytest

from domain.errors import CommandRefused
from domain.onboarding import rules
from domain.onboarding.config import ONBOARDING, StageId
from domain.onboarding.model import AdvanceCommand, OnboardingStatus, RejectCommand
from domain.onboarding.sla import SlaStatus

from .builders import ACTOR, T0, advance, at, days, hold, meet_exit_criteria, new_onboarding, onboarding_in, tick

ORDER = [StageId.IDENTIFICATION, StageId.FEASIBILITY, StageId.COMMERCIAL, StageId.INTEGRATION, StageId.GO_LIVE]


def refusal(check, *args) -> CommandRefused:
    with pytest.raises(CommandRefused) as refused:
        check(*args)
    return refused.value


# --- the process as data -------------------------------------------------------------------------


def test_the_five_stages_come_in_the_order_of_the_design():
    assert [spec.id for spec in ONBOARDING.stages] == ORDER


def test_the_stages_are_titled_in_english_with_the_seeds_german_names_in_parentheses():
    assert [spec.title for spec in ONBOARDING.stages] == [
        "Identification and alignment (Identifikation und Abstimmung)",
        "Feasibility check (Machbarkeitsprüfung)",
        "Commercial agreement (Kommerzielle Vereinbarung)",
        "Integration",
        "Go-live",
    ]


def test_the_stage_budgets_are_5_7_10_14_and_6_days():
    assert [spec.budget for spec in ONBOARDING.stages] == [days(5), days(7), days(10), days(14), days(6)]


def test_the_budgets_add_up_to_the_42_day_target():
    assert ONBOARDING.target == days(42)
    assert sum((spec.budget for spec in ONBOARDING.stages), timedelta()) == ONBOARDING.target


@pytest.mark.parametrize(("stage", "following"), list(zip(ORDER, [*ORDER[1:], None], strict=True)))
def test_next_stage_is_the_following_stage_and_none_after_go_live(stage, following):
    assert ONBOARDING.next_stage(stage) == following


@pytest.mark.parametrize(
    ("stage", "remaining_days"),
    [
        (StageId.IDENTIFICATION, 7 + 10 + 14 + 6),
        (StageId.FEASIBILITY, 10 + 14 + 6),
        (StageId.COMMERCIAL, 14 + 6),
        (StageId.INTEGRATION, 6),
        (StageId.GO_LIVE, 0),
    ],
)
def test_budget_after_sums_the_budgets_of_the_later_stages(stage, remaining_days):
    assert ONBOARDING.budget_after(stage) == days(remaining_days)


def test_a_stages_own_budget_plus_the_budget_after_it_is_what_remains_of_the_target():
    elapsed = timedelta()
    for spec in ONBOARDING.stages:
        assert elapsed + spec.budget + ONBOARDING.budget_after(spec.id) == ONBOARDING.target
        elapsed += spec.budget


@pytest.mark.parametrize(
    ("stage", "criteria"),
    [
        (StageId.IDENTIFICATION, ["isv_profile_complete", "category_in_portfolio", "partner_manager_assigned"]),
        (StageId.FEASIBILITY, ["technical_assessment_passed", "eu_hosting_confirmed", "data_export_confirmed"]),
        (StageId.COMMERCIAL, ["revenue_share_agreed", "plans_priced", "contract_signed"]),
        (
            StageId.INTEGRATION,
            ["provisioning_endpoint_registered", "connector_test_passed", "billing_integration_tested", "sso_tested"],
        ),
        (StageId.GO_LIVE, ["catalogue_listing_approved"]),
    ],
)
def test_each_stage_has_the_exit_criteria_of_the_design(stage, criteria):
    assert [c.id for c in ONBOARDING.stage(stage).criteria] == criteria


def test_every_checklist_item_belongs_to_exactly_one_stage():
    ids = [c.id for spec in ONBOARDING.stages for c in spec.criteria]
    assert len(ids) == len(set(ids))
    for spec in ONBOARDING.stages:
        for criterion in spec.criteria:
            assert ONBOARDING.stage_of_item(criterion.id) == spec.id


def test_an_unknown_item_belongs_to_no_stage():
    assert ONBOARDING.stage_of_item("free_lunch") is None


# --- start ---------------------------------------------------------------------------------------


def test_an_onboarding_starts_in_identification_in_progress_with_both_clocks_at_the_start():
    state = new_onboarding(T0)
    assert state.stage == StageId.IDENTIFICATION
    assert state.status == OnboardingStatus.IN_PROGRESS
    assert state.clock.started_at == T0
    assert state.clock.stage_started_at == T0
    assert state.clock.on_hold_since is None
    assert not state.is_closed


def test_starting_is_the_first_history_entry_and_names_the_partner_manager():
    state = new_onboarding(T0)
    [entry] = state.history
    assert (entry.seq, entry.actor, entry.action, entry.stage, entry.at) == (
        1,
        ACTOR,
        "started",
        StageId.IDENTIFICATION,
        T0,
    )
    assert "pm-anna" in (entry.comment or "")


# --- advance refusals ----------------------------------------------------------------------------


def test_a_stage_cannot_be_left_while_a_checklist_item_is_open():
    state = onboarding_in(StageId.FEASIBILITY)
    tick(state, "technical_assessment_passed", T0)
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR))
    assert refused.code == "criteria_unmet"
    assert refused.details["stage"] == "feasibility"
    assert refused.details["unmet"] == ["eu_hosting_confirmed", "data_export_confirmed"]
    assert "eu_hosting_confirmed" in refused.message


def test_advancing_with_unmet_criteria_lists_every_unmet_id():
    state = onboarding_in(StageId.INTEGRATION)
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR))
    assert refused.code == "criteria_unmet"
    assert refused.details["unmet"] == [
        "provisioning_endpoint_registered",
        "connector_test_passed",
        "billing_integration_tested",
        "sso_tested",
    ]


def test_identification_can_be_left_at_once_because_its_criteria_follow_from_the_start():
    state = new_onboarding()
    rules.check_advance(state, AdvanceCommand(actor=ACTOR))


@pytest.mark.parametrize("stage", ORDER[1:])
def test_a_stage_with_every_exit_criterion_met_can_be_left(stage):
    state = onboarding_in(stage)
    meet_exit_criteria(state, T0)
    rules.check_advance(state, AdvanceCommand(actor=ACTOR))


@pytest.mark.parametrize(
    ("stage", "to_stage"),
    [
        (StageId.IDENTIFICATION, StageId.COMMERCIAL),
        (StageId.IDENTIFICATION, StageId.GO_LIVE),
        (StageId.FEASIBILITY, StageId.INTEGRATION),
        (StageId.COMMERCIAL, StageId.GO_LIVE),
        (StageId.COMMERCIAL, StageId.FEASIBILITY),  # backwards
        (StageId.INTEGRATION, StageId.INTEGRATION),  # repeat
        (StageId.GO_LIVE, StageId.IDENTIFICATION),
    ],
)
def test_a_stage_cannot_be_skipped_or_repeated(stage, to_stage):
    state = onboarding_in(stage)
    meet_exit_criteria(state, T0)
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR, to_stage=to_stage))
    assert refused.code == "stage_skip"
    assert refused.details["stage"] == stage.value
    assert refused.details["requested"] == to_stage.value
    assert refused.details["next"] == ONBOARDING.next_stage(stage)


def test_a_skip_is_refused_even_when_the_criteria_are_unmet_and_says_so():
    state = onboarding_in(StageId.FEASIBILITY)
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR, to_stage=StageId.GO_LIVE))
    assert refused.code == "stage_skip"


def test_advancing_to_the_next_stage_by_name_is_allowed():
    state = onboarding_in(StageId.FEASIBILITY)
    meet_exit_criteria(state, T0)
    command = AdvanceCommand(actor=ACTOR, to_stage=StageId.COMMERCIAL)
    rules.check_advance(state, command)
    rules.apply_advance(state, command, at(1))
    assert state.stage == StageId.COMMERCIAL


def test_an_onboarding_on_hold_cannot_advance():
    state = onboarding_in(StageId.FEASIBILITY)
    meet_exit_criteria(state, T0)
    hold(state, at(1))
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR))
    assert refused.code == "on_hold"


def test_a_rejected_onboarding_cannot_advance():
    state = new_onboarding()
    rules.apply_reject(state, RejectCommand(actor=ACTOR, reason="not a fit"), at(1))
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR))
    assert refused.code == "onboarding_closed"
    assert refused.details == {"status": "rejected"}


def test_a_live_onboarding_cannot_advance_again():
    state = onboarding_in(StageId.GO_LIVE)
    advance(state, at(1))
    assert state.status == OnboardingStatus.LIVE
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR))
    assert refused.code == "onboarding_closed"
    assert refused.details == {"status": "live"}


# --- advance effects -----------------------------------------------------------------------------


def test_advancing_moves_to_the_next_stage_and_restarts_the_stage_clock():
    state = new_onboarding(T0)
    advance(state, at(3))
    assert state.stage == StageId.FEASIBILITY
    assert state.clock.stage_started_at == at(3)
    assert state.clock.started_at == T0
    assert state.status == OnboardingStatus.IN_PROGRESS


def test_advancing_through_every_stage_visits_them_in_order():
    state = new_onboarding(T0)
    visited = [state.stage]
    for day in range(1, 5):
        advance(state, at(day))
        visited.append(state.stage)
    assert visited == ORDER


def test_advancing_is_recorded_with_actor_stage_target_stage_and_comment():
    state = new_onboarding(T0)
    command = AdvanceCommand(actor="pm-bert", comment="  all set  ")
    rules.check_advance(state, command)
    entry = rules.apply_advance(state, command, at(2))
    assert state.history[-1] == entry
    assert (entry.seq, entry.actor, entry.action, entry.at) == (2, "pm-bert", "advanced", at(2))
    assert entry.stage == StageId.IDENTIFICATION
    assert entry.to_stage == StageId.FEASIBILITY
    assert entry.comment == "all set"


def test_advancing_from_go_live_makes_the_onboarding_live_and_closes_it():
    state = onboarding_in(StageId.GO_LIVE)
    meet_exit_criteria(state, at(2))
    entry = rules.apply_advance(state, AdvanceCommand(actor=ACTOR), at(3))
    assert entry.action == "went_live"
    assert entry.stage == StageId.GO_LIVE
    assert entry.to_stage is None
    assert state.status == OnboardingStatus.LIVE
    assert state.stage == StageId.GO_LIVE
    assert state.finished_at == at(3)
    assert state.is_closed


def test_going_live_freezes_the_sla_status():
    state = onboarding_in(StageId.GO_LIVE)
    advance(state, at(5))
    assert state.sla_at_finish == SlaStatus.ON_TRACK
    # Long after the 42-day target, a live onboarding is still the on-track one it was.
    assert rules.current_sla_status(state, at(400)) == SlaStatus.ON_TRACK


def test_going_live_late_is_frozen_as_overdue():
    state = onboarding_in(StageId.GO_LIVE)
    advance(state, at(50))
    assert state.sla_at_finish == SlaStatus.OVERDUE
    assert rules.current_sla_status(state, at(51)) == SlaStatus.OVERDUE
