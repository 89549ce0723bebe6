"""The programme year (docs/architecture.md): its end on 31 December, the report quarters, enrolment, the next year."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.partners import rules
from domain.partners.config import PROGRAMME, LegacyLevel, Tier
from domain.partners.model import PartnerState, PartnerStatus, Review, TierChange, TierDecision

from .partner_builders import (
    AM,
    MID_YEAR,
    NEW_YEAR_2025,
    NEW_YEAR_2026,
    PARTNER_ID,
    SYSTEM,
    days,
    enrolled,
    partner,
)

SECOND = timedelta(seconds=1)
INSTANT = timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- year end ----------------------------------------------------------------------------------


def test_the_programme_year_ends_as_1_january_begins():
    assert rules.year_end(2025) == utc(2026, 1, 1)
    assert rules.year_end(2028) == utc(2029, 1, 1)  # a leap year ends on 31 December too


def test_31_december_23_59_59_belongs_to_the_year():
    assert rules.programme_year(utc(2025, 12, 31, 23, 59, 59)) == 2025
    assert rules.programme_year(NEW_YEAR_2026 - INSTANT) == 2025


def test_1_january_00_00_belongs_to_the_next_year():
    assert rules.programme_year(NEW_YEAR_2026) == 2026
    assert rules.programme_year(NEW_YEAR_2026 + SECOND) == 2026


@pytest.mark.parametrize(
    ("now", "year"),
    [(utc(2025, 1, 1), 2025), (utc(2025, 6, 30, 12), 2025), (utc(2025, 12, 31), 2025)],
)
def test_every_day_of_a_calendar_year_is_in_that_programme_year(now, year):
    assert rules.programme_year(now) == year


def test_a_configured_year_end_moves_the_turn_of_the_year():
    config = PROGRAMME.model_copy(update={"year_end_month": 3, "year_end_day": 31})
    assert rules.year_end(2025, config) == utc(2025, 4, 1)
    assert rules.programme_year(utc(2025, 3, 31, 23, 59, 59), config) == 2025
    assert rules.programme_year(utc(2025, 4, 1), config) == 2026


# --- report quarters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "report_at"),
    [
        (utc(2025, 1, 1), utc(2025, 4, 1)),
        (utc(2025, 2, 14, 9), utc(2025, 4, 1)),
        (utc(2025, 3, 31, 23, 59, 59), utc(2025, 4, 1)),
        (utc(2025, 4, 1), utc(2025, 7, 1)),  # an exact boundary moves to the next one
        (utc(2025, 6, 30), utc(2025, 7, 1)),
        (utc(2025, 7, 1), utc(2025, 10, 1)),
        (utc(2025, 8, 15, 10, 30), utc(2025, 10, 1)),
        (utc(2025, 10, 1), utc(2026, 1, 1)),  # into the next year
        (utc(2025, 12, 31, 23, 59, 59), utc(2026, 1, 1)),
        (utc(2026, 1, 1), utc(2026, 4, 1)),
    ],
)
def test_the_next_report_is_at_the_end_of_the_quarter(after, report_at):
    assert rules.next_quarter_end(after) == report_at


def test_a_moment_just_after_a_quarter_end_waits_for_the_next_one():
    assert rules.next_quarter_end(utc(2025, 4, 1) + INSTANT) == utc(2025, 7, 1)


def test_the_report_period_comes_from_the_configuration():
    monthly = PROGRAMME.model_copy(update={"quality_report_months": 1})
    assert rules.next_quarter_end(utc(2025, 2, 14), monthly) == utc(2025, 3, 1)
    assert rules.next_quarter_end(utc(2025, 12, 1), monthly) == utc(2026, 1, 1)


# --- enrolment ---------------------------------------------------------------------------------


def test_an_enrolment_starts_the_partners_programme_year():
    state = enrolled(last_year_points=9_000)
    assert (state.id, state.account_manager, state.status) == (PARTNER_ID, AM, PartnerStatus.ACTIVE)
    assert state.tier == Tier.ADVANCED
    assert state.year == 2025
    assert state.enrolled_at == state.year_started_at == NEW_YEAR_2025
    assert state.year_ends_at == NEW_YEAR_2026
    assert (state.points, state.events_counted, state.bad_streak) == (0, 0, 0)
    assert state.open_review is None and state.decisions == []


def test_a_mid_year_enrolment_is_reviewed_at_the_first_year_end():
    state = enrolled(last_year_points=9_000, at=MID_YEAR)
    assert state.year == 2025
    assert state.year_started_at == MID_YEAR
    assert state.year_ends_at == NEW_YEAR_2026


def test_an_enrolment_gets_its_first_report_at_the_next_quarter_end():
    state = enrolled(at=MID_YEAR)
    assert state.last_report_at == MID_YEAR
    assert state.next_report_at == utc(2025, 10, 1)


def test_an_enrolment_on_a_quarter_end_reports_a_quarter_later():
    state = enrolled(at=utc(2025, 7, 1))
    assert state.next_report_at == utc(2025, 10, 1)


def test_an_enrolment_in_the_last_second_of_the_year_is_reviewed_a_second_later():
    state = enrolled(at=utc(2025, 12, 31, 23, 59, 59))
    assert state.year == 2025
    assert state.year_ends_at == NEW_YEAR_2026
    assert state.next_report_at == NEW_YEAR_2026


def test_an_enrolment_at_new_year_joins_the_new_year():
    state = enrolled(at=NEW_YEAR_2026)
    assert state.year == 2026
    assert state.year_ends_at == utc(2027, 1, 1)
    assert state.next_report_at == utc(2026, 4, 1)


def test_an_enrolment_by_legacy_level_has_no_points_from_last_year():
    state = enrolled(last_year_points=None, legacy_level=LegacyLevel.PREMIUM)
    assert state.tier == Tier.EXPERT
    assert state.last_year_points == 0


# --- the next year -----------------------------------------------------------------------------


def year_closed(tier: Tier, points: int) -> tuple[PartnerState, TierDecision]:
    state = partner(tier, points)
    state.events_counted = 42
    decision = rules.decide_year_end(state, NEW_YEAR_2026)
    rules.start_next_year(state, decision)
    return state, decision


def test_the_next_year_starts_in_the_tier_decided():
    state, decision = year_closed(Tier.ADVANCED, 20_000)
    assert decision.change == TierChange.UPGRADE
    assert state.tier == Tier.EXPERT


def test_a_downgrade_is_carried_into_the_next_year():
    state, _ = year_closed(Tier.EXPERT_PLUS, 8_000)
    assert state.tier == Tier.ADVANCED


def test_the_next_year_starts_with_no_points_and_remembers_last_years():
    state, _ = year_closed(Tier.ADVANCED, 12_345)
    assert state.points == 0
    assert state.events_counted == 0
    assert state.last_year_points == 12_345


def test_the_next_year_runs_from_the_old_year_end_to_the_next_31_december():
    state, _ = year_closed(Tier.ADVANCED, 12_345)
    assert state.year == 2026
    assert state.year_started_at == NEW_YEAR_2026
    assert state.year_ends_at == utc(2027, 1, 1)


def test_after_a_mid_year_enrolment_the_second_year_is_a_whole_year():
    state = enrolled(last_year_points=0, at=MID_YEAR)
    rules.start_next_year(state, rules.decide_year_end(state, NEW_YEAR_2026))
    assert state.year_started_at == NEW_YEAR_2026
    assert state.year_ends_at == utc(2027, 1, 1)


def test_the_decision_is_kept_and_noted_in_the_history():
    state, decision = year_closed(Tier.EXPERT, 9_000)
    assert state.decisions == [decision]
    entry = state.history[-1]
    assert (entry.actor, entry.action, entry.at) == (SYSTEM, "tier_downgrade", NEW_YEAR_2026)
    assert entry.detail == "2025: 9000 points, expert -> advanced"


def test_the_open_review_and_the_bad_streak_are_carried_into_the_next_year():
    state = partner(Tier.ADVANCED, 8_000)
    state.bad_streak = 3
    review = Review(opened_at=utc(2025, 10, 1), escalate_at=utc(2025, 10, 15), reason="3 bad quarters")
    state.open_review = review
    rules.start_next_year(state, rules.decide_year_end(state, NEW_YEAR_2026))
    assert state.open_review is review
    assert state.bad_streak == 3


def test_the_next_year_keeps_the_report_schedule():
    state = partner(Tier.ADVANCED, 8_000)
    state.next_report_at, state.last_report_at = NEW_YEAR_2026, utc(2025, 10, 1)
    rules.start_next_year(state, rules.decide_year_end(state, NEW_YEAR_2026))
    assert (state.next_report_at, state.last_report_at) == (NEW_YEAR_2026, utc(2025, 10, 1))


def test_two_consecutive_years_are_decided_on_their_own_points():
    state = partner(Tier.BASIC, 16_000)
    rules.start_next_year(state, rules.decide_year_end(state, NEW_YEAR_2026))
    state.points = 7_600
    second = rules.decide_year_end(state, utc(2027, 1, 1))
    rules.start_next_year(state, second)
    assert (second.year, second.from_tier, second.to_tier, second.change) == (
        2026,
        Tier.EXPERT,
        Tier.ADVANCED,
        TierChange.DOWNGRADE,
    )
    assert [d.year for d in state.decisions] == [2025, 2026]
    assert (state.year, state.tier, state.last_year_points) == (2027, Tier.ADVANCED, 7_600)


def test_decisions_and_history_stay_bounded_over_many_years():
    state = partner(Tier.BASIC, 0)
    for year in range(2025, 2085):
        rules.start_next_year(state, rules.decide_year_end(state, rules.year_end(year)))
    assert len(state.decisions) == 10
    assert state.decisions[-1].year == 2084
    assert len(state.history) <= 51
    assert state.history[-1].at == rules.year_end(2084)


def test_a_year_decided_late_still_starts_at_the_old_years_end():
    state = partner(Tier.ADVANCED, 8_000)
    rules.start_next_year(state, rules.decide_year_end(state, NEW_YEAR_2026 + days(2)))
    assert state.year_started_at == NEW_YEAR_2026
