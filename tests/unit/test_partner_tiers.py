"""Tiers by points: thresholds, enrolment placement, the year-end decision, the partner's view."""

import pytest
from pydantic import ValidationError

from domain.partners import rules
from domain.partners.config import PROGRAMME, LegacyLevel, Tier
from domain.partners.model import Enrolment, TierChange

from .partner_builders import AM, NEW_YEAR_2025, NEW_YEAR_2026, PARTNER_ID, days, enrolled, enrolment, partner

# --- thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "tier"),
    [
        (0, Tier.BASIC),
        (1, Tier.BASIC),
        (7_499, Tier.BASIC),
        (7_500, Tier.ADVANCED),
        (14_999, Tier.ADVANCED),
        (15_000, Tier.EXPERT),
        (44_999, Tier.EXPERT),
        (45_000, Tier.EXPERT_PLUS),
        (1_000_000, Tier.EXPERT_PLUS),
    ],
)
def test_the_tier_is_the_highest_whose_threshold_the_points_reach(points, tier):
    assert rules.tier_for(points) == tier


def test_the_thresholds_are_45000_15000_7500_and_0():
    assert [rules.threshold(tier) for tier in rules.TIER_ORDER] == [0, 7_500, 15_000, 45_000]


def test_tiers_are_ordered_from_basic_to_expert_plus():
    assert rules.TIER_ORDER == (Tier.BASIC, Tier.ADVANCED, Tier.EXPERT, Tier.EXPERT_PLUS)
    assert set(rules.TIER_ORDER) == set(Tier)


def test_thresholds_come_from_the_configuration():
    config = PROGRAMME.model_copy(
        update={
            "tier_thresholds": (
                (Tier.EXPERT_PLUS, 100),
                (Tier.EXPERT, 50),
                (Tier.ADVANCED, 10),
                (Tier.BASIC, 0),
            )
        }
    )
    assert rules.tier_for(9, config) == Tier.BASIC
    assert rules.tier_for(10, config) == Tier.ADVANCED
    assert rules.tier_for(100, config) == Tier.EXPERT_PLUS
    assert rules.threshold(Tier.EXPERT, config) == 50


# --- enrolment placement -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_year_points", "tier"),
    [
        (0, Tier.BASIC),
        (7_499, Tier.BASIC),
        (7_500, Tier.ADVANCED),
        (14_999, Tier.ADVANCED),
        (15_000, Tier.EXPERT),
        (44_999, Tier.EXPERT),
        (45_000, Tier.EXPERT_PLUS),
    ],
)
def test_an_enrolled_partner_is_placed_by_last_years_points(last_year_points, tier):
    assert rules.initial_tier(enrolment(last_year_points=last_year_points)) == tier
    state = enrolled(last_year_points=last_year_points)
    assert state.tier == tier
    assert state.last_year_points == last_year_points
    assert state.points == 0


@pytest.mark.parametrize(
    ("level", "tier"),
    [
        (LegacyLevel.BUSINESS, Tier.BASIC),
        (LegacyLevel.BUSINESS_SILBER, Tier.BASIC),
        (LegacyLevel.GOLD, Tier.ADVANCED),
        (LegacyLevel.PREMIUM, Tier.EXPERT),
    ],
)
def test_a_partner_of_the_old_programme_is_placed_by_its_legacy_level(level, tier):
    assert rules.initial_tier(enrolment(last_year_points=None, legacy_level=level)) == tier
    state = enrolled(last_year_points=None, legacy_level=level)
    assert state.tier == tier
    assert state.last_year_points == 0
    assert state.history[-1].detail == f"tier {tier.value} by legacy level {level.value}"


def test_no_legacy_level_maps_to_expert_plus_which_is_new():
    assert set(PROGRAMME.legacy_levels) == set(LegacyLevel)
    assert Tier.EXPERT_PLUS not in PROGRAMME.legacy_levels.values()


def test_an_enrolment_needs_last_years_points_or_a_legacy_level():
    with pytest.raises(ValidationError, match="last_year_points, or legacy_level"):
        Enrolment(id=PARTNER_ID, name="Telesales Nord GmbH", account_manager=AM)


def test_an_enrolment_with_only_a_legacy_level_or_only_points_is_valid():
    assert enrolment(last_year_points=None, legacy_level=LegacyLevel.GOLD).last_year_points is None
    assert enrolment(last_year_points=0).legacy_level is None


def test_last_years_points_cannot_be_negative():
    with pytest.raises(ValidationError):
        enrolment(last_year_points=-1)


def test_enrolment_notes_who_enrolled_and_by_which_points():
    state = enrolled(last_year_points=16_000)
    entry = state.history[-1]
    assert (entry.actor, entry.action, entry.at) == (AM, "enrolled", NEW_YEAR_2025)
    assert entry.detail == "tier expert by 16000 points last year"


# --- year end ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "points", "to_tier", "change"),
    [
        (Tier.BASIC, 7_499, Tier.BASIC, TierChange.KEEP),
        (Tier.BASIC, 7_500, Tier.ADVANCED, TierChange.UPGRADE),
        (Tier.BASIC, 15_000, Tier.EXPERT, TierChange.UPGRADE),
        (Tier.BASIC, 45_000, Tier.EXPERT_PLUS, TierChange.UPGRADE),
        (Tier.ADVANCED, 7_500, Tier.ADVANCED, TierChange.KEEP),
        (Tier.ADVANCED, 14_999, Tier.ADVANCED, TierChange.KEEP),
        (Tier.ADVANCED, 7_499, Tier.BASIC, TierChange.DOWNGRADE),
        (Tier.EXPERT, 15_000, Tier.EXPERT, TierChange.KEEP),
        (Tier.EXPERT, 14_999, Tier.ADVANCED, TierChange.DOWNGRADE),
        (Tier.EXPERT, 45_000, Tier.EXPERT_PLUS, TierChange.UPGRADE),
        (Tier.EXPERT_PLUS, 45_000, Tier.EXPERT_PLUS, TierChange.KEEP),
        (Tier.EXPERT_PLUS, 44_999, Tier.EXPERT, TierChange.DOWNGRADE),
        (Tier.EXPERT_PLUS, 7_500, Tier.ADVANCED, TierChange.DOWNGRADE),
        (Tier.EXPERT_PLUS, 0, Tier.BASIC, TierChange.DOWNGRADE),
    ],
)
def test_at_year_end_the_partner_moves_to_the_tier_its_points_reach(tier, points, to_tier, change):
    decision = rules.decide_year_end(partner(tier, points), NEW_YEAR_2026)
    assert (decision.from_tier, decision.to_tier, decision.change) == (tier, to_tier, change)


def test_a_partner_that_missed_its_target_by_a_point_is_downgraded_by_one_tier():
    decision = rules.decide_year_end(partner(Tier.EXPERT, 14_999), NEW_YEAR_2026)
    assert decision.change == TierChange.DOWNGRADE
    assert decision.to_tier == Tier.ADVANCED


def test_a_partner_far_below_its_target_is_downgraded_by_several_tiers():
    decision = rules.decide_year_end(partner(Tier.EXPERT_PLUS, 3_000), NEW_YEAR_2026)
    assert decision.change == TierChange.DOWNGRADE
    assert decision.to_tier == Tier.BASIC


def test_a_partner_above_a_higher_threshold_is_upgraded_straight_to_it():
    decision = rules.decide_year_end(partner(Tier.ADVANCED, 50_000), NEW_YEAR_2026)
    assert decision.change == TierChange.UPGRADE
    assert decision.to_tier == Tier.EXPERT_PLUS


def test_the_year_end_decision_carries_the_figures_behind_it():
    state = partner(Tier.EXPERT, 9_000)
    decision = rules.decide_year_end(state, NEW_YEAR_2026)
    assert decision.partner_id == PARTNER_ID
    assert decision.year == 2025
    assert decision.points == 9_000
    assert decision.kept_threshold == 15_000  # what Expert needed
    assert decision.reached_threshold == 7_500  # the lowest points of Advanced
    assert decision.decided_at == NEW_YEAR_2026


def test_an_upgrade_names_the_threshold_reached_and_the_one_kept():
    decision = rules.decide_year_end(partner(Tier.BASIC, 20_000), NEW_YEAR_2026)
    assert (decision.kept_threshold, decision.reached_threshold) == (0, 15_000)


def test_deciding_the_year_end_changes_nothing_in_the_state():
    state = partner(Tier.EXPERT, 9_000)
    before = state.model_copy(deep=True)
    rules.decide_year_end(state, NEW_YEAR_2026)
    assert state == before


# --- the partner's view ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "points", "next_tier", "to_next", "to_keep"),
    [
        (Tier.BASIC, 0, Tier.ADVANCED, 7_500, 0),
        (Tier.BASIC, 7_499, Tier.ADVANCED, 1, 0),
        (Tier.ADVANCED, 2_000, Tier.EXPERT, 13_000, 5_500),
        (Tier.ADVANCED, 7_500, Tier.EXPERT, 7_500, 0),
        (Tier.EXPERT, 14_999, Tier.EXPERT_PLUS, 30_001, 1),
        (Tier.EXPERT, 60_000, Tier.EXPERT_PLUS, 0, 0),
        (Tier.EXPERT_PLUS, 44_999, None, None, 1),
        (Tier.EXPERT_PLUS, 0, None, None, 45_000),
    ],
)
def test_the_view_shows_points_to_the_next_tier_and_to_keep_the_current_one(tier, points, next_tier, to_next, to_keep):
    shown = rules.view(partner(tier, points), NEW_YEAR_2025 + days(10))
    assert shown.tier == tier
    assert shown.next_tier == next_tier
    assert shown.points_to_next_tier == to_next
    assert shown.points_to_keep_tier == to_keep


def test_at_expert_plus_there_is_no_next_tier():
    shown = rules.view(partner(Tier.EXPERT_PLUS, 50_000), NEW_YEAR_2025 + days(200))
    assert shown.next_tier is None
    assert shown.points_to_next_tier is None
    assert shown.points_to_keep_tier == 0


def test_the_view_projects_the_tier_at_the_current_pace():
    # 4,000 points in the first quarter (90 of 365 days): 4,000 * 365 / 90 = 16,222 by year end -> Expert.
    state = partner(Tier.BASIC, 4_000)
    shown = rules.view(state, NEW_YEAR_2025 + days(90))
    assert shown.projected_tier == Tier.EXPERT
    assert rules.projected_tier(state, NEW_YEAR_2025 + days(90)) == Tier.EXPERT


def test_the_projection_scales_the_points_by_the_share_of_the_year_gone():
    # Half a year gone (the year is 365 days: 182.5 days): the points double.
    half_year = NEW_YEAR_2025 + days(182.5)
    assert rules.projected_tier(partner(Tier.BASIC, 3_749), half_year) == Tier.BASIC  # 7,498
    assert rules.projected_tier(partner(Tier.BASIC, 3_750), half_year) == Tier.ADVANCED  # 7,500
    assert rules.projected_tier(partner(Tier.BASIC, 7_499), half_year) == Tier.ADVANCED  # 14,998
    assert rules.projected_tier(partner(Tier.BASIC, 7_500), half_year) == Tier.EXPERT  # 15,000


def test_the_projection_of_a_slow_start_stays_low():
    # 1,000 points after a quarter projects 4,055: Basic.
    assert rules.projected_tier(partner(Tier.ADVANCED, 1_000), NEW_YEAR_2025 + days(90)) == Tier.BASIC


def test_at_the_very_start_of_the_year_the_projection_is_the_points_so_far():
    assert rules.projected_tier(partner(Tier.BASIC, 8_000), NEW_YEAR_2025) == Tier.ADVANCED
    assert rules.projected_tier(partner(Tier.BASIC, 100), NEW_YEAR_2025) == Tier.BASIC


def test_after_the_year_end_the_projection_never_shrinks_the_points():
    assert rules.projected_tier(partner(Tier.BASIC, 7_500), NEW_YEAR_2026 + days(30)) == Tier.ADVANCED


def test_a_mid_year_enrolment_is_projected_over_the_rest_of_its_first_year():
    # Enrolled 1 Jul 2025: 184 days to the year end; 2,000 points after 46 days project 8,000.
    enrolled_at = NEW_YEAR_2025 + days(181)
    state = partner(Tier.BASIC, 2_000, at=enrolled_at)
    assert (state.year_ends_at - state.year_started_at) == days(184)
    assert rules.projected_tier(state, enrolled_at + days(46)) == Tier.ADVANCED


def test_the_view_carries_the_partners_figures():
    state = partner(Tier.ADVANCED, 1_234)
    state.events_counted = 7
    state.bad_streak = 2
    shown = rules.view(state, NEW_YEAR_2025 + days(5))
    assert (shown.id, shown.account_manager, shown.year, shown.points) == (PARTNER_ID, AM, 2025, 1_234)
    assert shown.last_year_points == 7_500
    assert shown.events_counted == 7 and shown.bad_streak == 2
    assert shown.year_ends_at == NEW_YEAR_2026
    assert shown.next_report_at == state.next_report_at
    assert shown.open_review is None


def test_a_first_contract_just_after_enrolment_projects_the_tier_of_the_points_so_far_not_a_pace():
    # 599 points an hour into the year would be a pace of millions: the projection waits for a month of the year.
    early = NEW_YEAR_2025 + days(1 / 24)
    shown = rules.view(partner(Tier.BASIC, 599), early)
    assert shown.projected_tier == Tier.BASIC
    assert shown.projection_basis.startswith("the points so far: fewer than 30 days")


def test_the_pace_counts_from_the_configured_minimum_of_the_programme_year():
    just_before, at_minimum = NEW_YEAR_2025 + days(29.9), NEW_YEAR_2025 + days(30)
    assert rules.projected_tier(partner(Tier.BASIC, 1_000), just_before) == Tier.BASIC  # 1,000 so far
    # 1,000 points in 30 of 365 days: 12,166 by the year end -> Advanced.
    tier, basis = rules.projection(partner(Tier.BASIC, 1_000), at_minimum)
    assert tier == Tier.ADVANCED
    assert basis.startswith("the points so far at the pace of the 30 days since 2025-01-01")
