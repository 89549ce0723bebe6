"""The read model: stage, SLA status, deadlines, checklist per stage and history (docs/architecture.md, docs/api.md)."""

from domain.onboarding import rules
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from domain.onboarding.model import OnboardingStatus, RejectCommand
from domain.onboarding.sla import SlaStatus

from .builders import PM, T0, advance, at, hold, new_onboarding, onboarding_in, resume, tick


def items_of(view, stage: StageId) -> dict[str, bool]:
    [checklist] = [c for c in view.checklist if c.stage == stage]
    return {item.id: item.done for item in checklist.items}


def test_a_new_onboarding_is_shown_in_identification_on_track_with_both_deadlines():
    view = rules.view(new_onboarding(T0), at(1))
    assert view.id == "acme-acme-crm"
    assert view.isv.id == "acme"
    assert view.app.id == "acme-crm"
    assert view.partner_manager == PM
    assert view.stage == StageId.IDENTIFICATION
    assert view.status == OnboardingStatus.IN_PROGRESS
    assert view.sla_status == SlaStatus.ON_TRACK
    assert view.started_at == T0
    assert view.stage_started_at == T0
    assert view.on_hold_since is None
    assert view.finished_at is None
    assert view.deadlines.stage_due_at == at(5)
    assert view.deadlines.target_due_at == at(42)
    assert view.unmet_criteria == []
    assert view.commercial_terms is None
    assert [entry.action for entry in view.history] == ["started"]


def test_the_checklist_shows_every_stage_in_order_with_its_title_budget_and_items():
    view = rules.view(new_onboarding(T0), T0)
    assert [c.stage for c in view.checklist] == [spec.id for spec in ONBOARDING.stages]
    assert [c.budget_days for c in view.checklist] == [5, 7, 10, 14, 6]
    for checklist, spec in zip(view.checklist, ONBOARDING.stages, strict=True):
        assert checklist.title == spec.title
        shown = [(i.id, i.title, i.source) for i in checklist.items]
        assert shown == [(c.id, c.title, c.source) for c in spec.criteria]


def test_the_checklist_marks_derived_identification_criteria_done_from_the_start():
    view = rules.view(new_onboarding(T0), T0)
    assert items_of(view, StageId.IDENTIFICATION) == {
        "isv_profile_complete": True,
        "category_in_portfolio": True,
        "partner_manager_assigned": True,
    }
    assert not any(items_of(view, StageId.FEASIBILITY).values())


def test_a_ticked_item_is_shown_done_with_who_and_when():
    state = onboarding_in(StageId.FEASIBILITY, T0)
    tick(state, "eu_hosting_confirmed", at(1), actor="pm-bert")
    view = rules.view(state, at(2))
    assert items_of(view, StageId.FEASIBILITY) == {
        "technical_assessment_passed": False,
        "eu_hosting_confirmed": True,
        "data_export_confirmed": False,
    }
    [item] = [i for c in view.checklist for i in c.items if i.id == "eu_hosting_confirmed"]
    assert (item.done_by, item.done_at) == ("pm-bert", at(1))
    [open_item] = [i for c in view.checklist for i in c.items if i.id == "data_export_confirmed"]
    assert (open_item.done_by, open_item.done_at) == (None, None)
    assert view.unmet_criteria == ["technical_assessment_passed", "data_export_confirmed"]


def test_commercial_criteria_are_shown_done_once_terms_are_set():
    state = onboarding_in(StageId.COMMERCIAL, T0)
    advance(state, at(1))  # sets terms and signs the contract on the way out
    view = rules.view(state, at(1))
    assert items_of(view, StageId.COMMERCIAL) == {
        "revenue_share_agreed": True,
        "plans_priced": True,
        "contract_signed": True,
    }
    derived = [i for c in view.checklist for i in c.items if i.source != CriterionSource.CHECKLIST]
    assert all(i.done_by is None for i in derived)
    assert view.commercial_terms == state.terms


def test_the_view_shows_the_current_stages_deadline():
    state = new_onboarding(T0)
    advance(state, at(3))
    view = rules.view(state, at(4))
    assert view.stage == StageId.FEASIBILITY
    assert view.stage_started_at == at(3)
    assert view.deadlines.stage_due_at == at(10)
    assert view.deadlines.target_due_at == at(42)
    assert view.unmet_criteria == ["technical_assessment_passed", "eu_hosting_confirmed", "data_export_confirmed"]


def test_the_view_of_an_onboarding_on_hold_shows_the_hold_and_deadlines_moving_with_it():
    state = new_onboarding(T0)
    hold(state, at(1))
    view = rules.view(state, at(3))
    assert view.status == OnboardingStatus.ON_HOLD
    assert view.on_hold_since == at(1)
    assert view.deadlines.stage_due_at == at(7)
    assert view.deadlines.target_due_at == at(44)
    assert rules.view(state, at(100)).sla_status == SlaStatus.ON_TRACK


def test_the_view_after_a_resume_shows_the_deadlines_shifted_by_the_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(3))
    view = rules.view(state, at(4))
    assert view.on_hold_since is None
    assert view.deadlines.stage_due_at == at(7)
    assert view.deadlines.target_due_at == at(44)


def test_the_view_shows_the_sla_status_as_of_now():
    state = new_onboarding(T0)
    assert rules.view(state, at(5)).sla_status == SlaStatus.AT_RISK
    assert rules.view(state, at(42)).sla_status == SlaStatus.OVERDUE


def test_a_live_onboarding_shows_no_stage_deadline_no_unmet_criteria_and_its_frozen_status():
    state = onboarding_in(StageId.GO_LIVE, T0)
    advance(state, at(2))
    view = rules.view(state, at(90))
    assert view.status == OnboardingStatus.LIVE
    assert view.finished_at == at(2)
    assert view.deadlines.stage_due_at is None
    assert view.deadlines.target_due_at == at(42)
    assert view.unmet_criteria == []
    assert view.sla_status == SlaStatus.ON_TRACK
    assert items_of(view, StageId.GO_LIVE) == {"catalogue_listing_approved": True}


def test_a_rejected_onboarding_shows_no_unmet_criteria_and_keeps_its_history():
    state = onboarding_in(StageId.FEASIBILITY, T0)
    rules.apply_reject(state, RejectCommand(actor=PM, reason="no EU hosting"), at(2))
    view = rules.view(state, at(90))
    assert view.status == OnboardingStatus.REJECTED
    assert view.unmet_criteria == []
    assert view.deadlines.stage_due_at is None
    assert view.history[-1].action == "rejected"
    assert view.history[-1].comment == "no EU hosting"


def test_the_view_lists_the_notifications_sent():
    state = new_onboarding(T0)
    for notification in rules.due_notifications(state, at(5)):
        rules.mark_sent(state, notification)
    assert [n.stage for n in rules.view(state, at(6)).notifications] == [StageId.IDENTIFICATION]


def test_the_view_survives_a_json_round_trip():
    state = onboarding_in(StageId.COMMERCIAL, T0)
    view = rules.view(state, at(1))
    assert type(view).model_validate_json(view.model_dump_json()) == view


def test_the_onboarding_state_survives_a_json_round_trip():
    state = onboarding_in(StageId.COMMERCIAL, T0)
    hold(state, at(1))
    assert type(state).model_validate_json(state.model_dump_json()) == state
