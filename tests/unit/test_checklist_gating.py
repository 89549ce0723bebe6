"""Exit criteria gate each stage: ticked by hand or derived from the onboarding's data (docs/architecture.md)."""

import pytest

from domain.errors import CommandRefused
from domain.onboarding import rules
from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from domain.onboarding.model import AdvanceCommand, ChecklistCommand, RejectCommand, SetTermsCommand

from .builders import ACTOR, T0, advance, at, checklist_items, new_onboarding, onboarding_in, terms, tick


def refusal(check, *args) -> CommandRefused:
    with pytest.raises(CommandRefused) as refused:
        check(*args)
    return refused.value


def item(name: str, actor: str = ACTOR, comment: str | None = None) -> ChecklistCommand:
    return ChecklistCommand(actor=actor, item=name, comment=comment)


def set_terms(state, now, agreed=None) -> None:
    command = SetTermsCommand(actor=ACTOR, terms=agreed or terms())
    rules.check_set_terms(state, command)
    rules.apply_set_terms(state, command, now)


# --- unmet criteria ------------------------------------------------------------------------------


def test_the_identification_criteria_follow_from_the_start_request():
    assert rules.unmet_criteria(new_onboarding()) == []


def test_every_criterion_of_a_fresh_stage_is_unmet_and_listed_by_id_in_order():
    state = onboarding_in(StageId.FEASIBILITY)
    assert rules.unmet_criteria(state) == [
        "technical_assessment_passed",
        "eu_hosting_confirmed",
        "data_export_confirmed",
    ]


def test_a_ticked_item_is_no_longer_unmet():
    state = onboarding_in(StageId.FEASIBILITY)
    tick(state, "eu_hosting_confirmed", at(1))
    assert rules.unmet_criteria(state) == ["technical_assessment_passed", "data_export_confirmed"]


def test_undoing_an_item_makes_it_unmet_again():
    state = onboarding_in(StageId.FEASIBILITY)
    tick(state, "eu_hosting_confirmed", at(1))
    rules.check_checklist(state, item("eu_hosting_confirmed"))
    entry = rules.apply_undo_item(state, item("eu_hosting_confirmed"), at(2))
    assert "eu_hosting_confirmed" not in state.ticked
    assert "eu_hosting_confirmed" in rules.unmet_criteria(state)
    assert (entry.action, entry.item, entry.at) == ("item_undone", "eu_hosting_confirmed", at(2))


def test_unmet_criteria_are_those_of_the_current_stage_only():
    state = onboarding_in(StageId.GO_LIVE)
    assert rules.unmet_criteria(state) == ["catalogue_listing_approved"]


def test_revenue_share_agreed_and_plans_priced_are_unmet_until_commercial_terms_are_set():
    state = onboarding_in(StageId.COMMERCIAL)
    assert rules.unmet_criteria(state) == ["revenue_share_agreed", "plans_priced", "contract_signed"]
    set_terms(state, at(1))
    assert rules.unmet_criteria(state) == ["contract_signed"]


def test_a_revenue_share_of_zero_percent_still_counts_as_agreed():
    state = onboarding_in(StageId.COMMERCIAL)
    set_terms(state, at(1), terms(share=0))
    assert "revenue_share_agreed" not in rules.unmet_criteria(state)


def test_the_commercial_stage_cannot_be_left_with_the_contract_signed_but_no_terms():
    state = onboarding_in(StageId.COMMERCIAL)
    tick(state, "contract_signed", at(1))
    refused = refusal(rules.check_advance, state, AdvanceCommand(actor=ACTOR))
    assert refused.code == "criteria_unmet"
    assert refused.details["unmet"] == ["revenue_share_agreed", "plans_priced"]


def test_the_commercial_stage_can_be_left_once_terms_are_set_and_the_contract_signed():
    state = onboarding_in(StageId.COMMERCIAL)
    set_terms(state, at(1))
    tick(state, "contract_signed", at(1))
    rules.check_advance(state, AdvanceCommand(actor=ACTOR))


@pytest.mark.parametrize(
    ("criterion", "source"),
    [
        ("isv_profile_complete", CriterionSource.PROFILE),
        ("category_in_portfolio", CriterionSource.CATEGORY),
        ("partner_manager_assigned", CriterionSource.PARTNER_MANAGER),
        ("revenue_share_agreed", CriterionSource.REVENUE_SHARE),
        ("plans_priced", CriterionSource.PLANS),
    ],
)
def test_derived_criteria_come_from_the_onboardings_data(criterion, source):
    stage = ONBOARDING.stage_of_item(criterion)
    assert stage is not None
    assert next(c.source for c in ONBOARDING.stage(stage).criteria if c.id == criterion) == source


def test_every_other_criterion_is_ticked_by_hand():
    derived = {
        "isv_profile_complete",
        "category_in_portfolio",
        "partner_manager_assigned",
        "revenue_share_agreed",
        "plans_priced",
    }
    for spec in ONBOARDING.stages:
        for criterion in spec.criteria:
            expected = criterion.id not in derived
            assert (criterion.source == CriterionSource.CHECKLIST) == expected, criterion.id


# --- ticking -------------------------------------------------------------------------------------


def test_ticking_an_item_records_who_ticked_it_when_and_why():
    state = onboarding_in(StageId.FEASIBILITY)
    command = item("technical_assessment_passed", actor="pm-bert", comment="pen test report ok")
    rules.check_checklist(state, command)
    entry = rules.apply_complete_item(state, command, at(2))
    ticked = state.ticked["technical_assessment_passed"]
    assert (ticked.by, ticked.at, ticked.comment) == ("pm-bert", at(2), "pen test report ok")
    assert state.history[-1] == entry
    assert (entry.actor, entry.action, entry.item, entry.comment, entry.stage) == (
        "pm-bert",
        "item_completed",
        "technical_assessment_passed",
        "pen test report ok",
        StageId.FEASIBILITY,
    )


@pytest.mark.parametrize(
    ("stage", "derived"),
    [
        (StageId.IDENTIFICATION, "isv_profile_complete"),
        (StageId.IDENTIFICATION, "category_in_portfolio"),
        (StageId.IDENTIFICATION, "partner_manager_assigned"),
        (StageId.COMMERCIAL, "revenue_share_agreed"),
        (StageId.COMMERCIAL, "plans_priced"),
    ],
)
def test_a_derived_criterion_cannot_be_ticked_by_hand(stage, derived):
    state = onboarding_in(stage)
    refused = refusal(rules.check_checklist, state, item(derived))
    assert refused.code == "criterion_not_tickable"
    assert refused.details["item"] == derived


def test_an_item_of_a_later_stage_is_refused_as_not_in_the_current_stage():
    state = onboarding_in(StageId.FEASIBILITY)
    refused = refusal(rules.check_checklist, state, item("contract_signed"))
    assert refused.code == "item_not_in_current_stage"
    assert refused.details == {"item": "contract_signed", "item_stage": "commercial", "stage": "feasibility"}


def test_an_item_of_an_earlier_stage_is_refused_as_not_in_the_current_stage():
    state = onboarding_in(StageId.INTEGRATION)
    refused = refusal(rules.check_checklist, state, item("eu_hosting_confirmed"))
    assert refused.code == "item_not_in_current_stage"
    assert refused.details["item_stage"] == "feasibility"
    assert refused.details["stage"] == "integration"


def test_an_unknown_item_is_refused():
    state = onboarding_in(StageId.FEASIBILITY)
    refused = refusal(rules.check_checklist, state, item("free_lunch"))
    assert refused.code == "unknown_checklist_item"
    assert "free_lunch" in refused.message


@pytest.mark.parametrize("stage", [s.id for s in ONBOARDING.stages])
def test_every_checklist_item_of_the_current_stage_may_be_ticked(stage):
    state = onboarding_in(stage)
    for name in checklist_items(stage):
        rules.check_checklist(state, item(name))


def test_a_closed_onboarding_takes_no_ticks():
    state = onboarding_in(StageId.FEASIBILITY)
    rules.apply_reject(state, RejectCommand(actor=ACTOR, reason="no EU hosting"), at(1))
    refused = refusal(rules.check_checklist, state, item("eu_hosting_confirmed"))
    assert refused.code == "onboarding_closed"


def test_ticks_of_an_earlier_stage_stay_recorded_after_advancing():
    state = new_onboarding(T0)
    advance(state, at(1))
    advance(state, at(2))
    assert set(checklist_items(StageId.FEASIBILITY)) <= set(state.ticked)
    assert state.stage == StageId.COMMERCIAL


# --- commercial terms ----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [StageId.IDENTIFICATION, StageId.FEASIBILITY, StageId.INTEGRATION, StageId.GO_LIVE])
def test_commercial_terms_are_set_only_in_the_commercial_stage(stage):
    state = onboarding_in(stage)
    refused = refusal(rules.check_set_terms, state, SetTermsCommand(actor=ACTOR, terms=terms()))
    assert refused.code == "terms_outside_commercial_stage"
    assert refused.details == {"stage": stage.value}


def test_setting_terms_stores_them_and_records_a_summary():
    state = onboarding_in(StageId.COMMERCIAL)
    agreed = terms(share=25, plans=((12, 900), (1, 1_000)))
    command = SetTermsCommand(actor="pm-bert", terms=agreed)
    rules.check_set_terms(state, command)
    entry = rules.apply_set_terms(state, command, at(1))
    assert state.terms == agreed
    assert (entry.actor, entry.action) == ("pm-bert", "terms_set")
    assert entry.comment == "revenue share 25 %, 1 months at 1000 cents/month, 12 months at 900 cents/month"


def test_terms_may_be_set_again_and_the_last_ones_hold():
    state = onboarding_in(StageId.COMMERCIAL)
    set_terms(state, at(1), terms(share=10))
    set_terms(state, at(2), terms(share=30))
    assert state.terms is not None
    assert state.terms.revenue_share_percent == 30


def test_a_closed_onboarding_takes_no_terms():
    state = onboarding_in(StageId.COMMERCIAL)
    rules.apply_reject(state, RejectCommand(actor=ACTOR, reason="too expensive"), at(1))
    refused = refusal(rules.check_set_terms, state, SetTermsCommand(actor=ACTOR, terms=terms()))
    assert refused.code == "onboarding_closed"
