"""Quality reports and termination reviews: thresholds, the 3-consecutive rule, the human decision."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import CommandRefused
from domain.partners import rules
from domain.partners.config import PROGRAMME, ContractKind, QualityThresholds, Tier
from domain.partners.model import (
    PartnerStatus,
    QualityMetrics,
    RecordContracts,
    ReviewDecision,
)

from .partner_builders import (
    AM,
    BAD,
    GOOD,
    MID_YEAR,
    NEW_YEAR_2025,
    NEW_YEAR_2026,
    PARTNER_ID,
    SYSTEM,
    days,
    decision,
    enrolled,
    event,
    file_reports,
    partner,
)

INSTANT = timedelta(microseconds=1)
Q1_END = datetime(2025, 4, 1, tzinfo=UTC)
Q2_END = datetime(2025, 7, 1, tzinfo=UTC)
Q3_END = datetime(2025, 10, 1, tzinfo=UTC)


def under_review(at: datetime = Q3_END):
    """A partner after three bad quarters with the termination review opened at `at`."""
    state = enrolled()
    file_reports(state, BAD, BAD, BAD)
    rules.open_review(state, at)
    return state


# --- thresholds --------------------------------------------------------------------------------


def test_the_default_quality_thresholds():
    limits = PROGRAMME.quality
    assert (limits.min_paid_on_time_share, limits.max_churn_share, limits.min_usage_share) == (0.90, 0.10, 0.30)
    assert limits.payment_grace_days == 14
    assert PROGRAMME.consecutive_bad_reports_for_review == 3
    assert PROGRAMME.review_escalation_days == 14
    assert PROGRAMME.quality_report_months == 3


def test_a_quarter_inside_every_threshold_fails_nothing():
    assert rules.failing_thresholds(GOOD) == []


def test_each_threshold_exactly_at_its_limit_passes():
    at_limits = QualityMetrics(paid_on_time_share=0.90, churn_share=0.10, usage_share=0.30)
    assert rules.failing_thresholds(at_limits) == []


@pytest.mark.parametrize(
    ("metrics", "failing"),
    [
        (QualityMetrics(paid_on_time_share=0.8999), ["paid_on_time_share"]),
        (QualityMetrics(churn_share=0.1001), ["churn_share"]),
        (QualityMetrics(usage_share=0.2999), ["usage_share"]),
    ],
)
def test_each_threshold_just_beyond_its_limit_fails(metrics, failing):
    assert rules.failing_thresholds(metrics) == failing


def test_a_quarter_can_miss_every_threshold_at_once():
    worst = QualityMetrics(paid_on_time_share=0.5, churn_share=0.4, usage_share=0.1)
    assert rules.failing_thresholds(worst) == ["paid_on_time_share", "churn_share", "usage_share"]


def test_what_could_not_be_measured_fails_nothing():
    # No usage report posted (unknown), no invoices, no active subscriptions.
    nothing = QualityMetrics(invoices=0, active_subscriptions=0, cancellations=0)
    assert (nothing.paid_on_time_share, nothing.usage_share, nothing.churn_share) == (None, None, None)
    assert rules.failing_thresholds(nothing) == []


def test_unknown_usage_does_not_hide_a_missed_payment_threshold():
    metrics = QualityMetrics(paid_on_time_share=0.5, usage_share=None, churn_share=None, invoices=10)
    assert rules.failing_thresholds(metrics) == ["paid_on_time_share"]


def test_the_quality_thresholds_come_from_the_configuration():
    strict = PROGRAMME.model_copy(
        update={"quality": QualityThresholds(min_paid_on_time_share=0.99, max_churn_share=0.0, min_usage_share=0.9)}
    )
    assert rules.failing_thresholds(GOOD, strict) == ["paid_on_time_share", "churn_share", "usage_share"]


# --- reports -----------------------------------------------------------------------------------


def test_a_report_names_the_thresholds_missed_and_counts_the_bad_streak():
    state = enrolled()
    report = rules.file_quality_report(state, BAD, Q1_END)
    assert report.partner_id == PARTNER_ID
    assert report.failing == ["paid_on_time_share"]
    assert report.below_thresholds is True
    assert report.bad_streak == state.bad_streak == 1
    assert report.metrics == BAD
    assert report.created_at == Q1_END


def test_a_good_report_is_not_below_the_thresholds():
    report = rules.file_quality_report(enrolled(), GOOD, Q1_END)
    assert (report.failing, report.below_thresholds, report.bad_streak) == ([], False, 0)


def test_consecutive_bad_reports_count_up():
    assert file_reports(enrolled(), BAD, BAD, BAD, BAD) == [1, 2, 3, 4]


def test_a_good_quarter_resets_the_bad_streak():
    assert file_reports(enrolled(), BAD, BAD, GOOD, BAD, BAD) == [1, 2, 0, 1, 2]


def test_a_quarter_with_nothing_to_measure_counts_as_good():
    assert file_reports(enrolled(), BAD, BAD, QualityMetrics(), BAD) == [1, 2, 0, 1]


def test_report_periods_move_quarter_by_quarter():
    state = enrolled()
    periods = []
    for _ in range(5):
        report = rules.file_quality_report(state, GOOD, state.next_report_at)
        periods.append((report.period_start.date().isoformat(), report.period_end.date().isoformat()))
    assert periods == [
        ("2025-01-01", "2025-04-01"),
        ("2025-04-01", "2025-07-01"),
        ("2025-07-01", "2025-10-01"),
        ("2025-10-01", "2026-01-01"),
        ("2026-01-01", "2026-04-01"),
    ]
    assert (state.last_report_at, state.next_report_at) == (
        datetime(2026, 4, 1, tzinfo=UTC),
        datetime(2026, 7, 1, tzinfo=UTC),
    )


def test_the_first_report_of_a_mid_year_enrolment_covers_enrolment_to_quarter_end():
    state = enrolled(at=MID_YEAR)
    report = rules.file_quality_report(state, GOOD, Q3_END)
    assert (report.period_start, report.period_end) == (MID_YEAR, Q3_END)
    assert state.next_report_at == NEW_YEAR_2026


def test_reports_never_change_points():
    state = partner(Tier.ADVANCED, 8_123)
    state.events_counted = 9
    file_reports(state, BAD, GOOD, BAD, BAD)
    assert (state.points, state.events_counted, state.tier) == (8_123, 9, Tier.ADVANCED)


# --- the review --------------------------------------------------------------------------------


def test_no_review_is_due_before_three_consecutive_bad_reports():
    state = enrolled()
    file_reports(state, BAD, BAD)
    assert rules.review_due(state) is False


def test_a_review_is_due_at_three_consecutive_bad_reports():
    state = enrolled()
    file_reports(state, BAD, BAD, BAD)
    assert rules.review_due(state) is True


def test_three_bad_reports_broken_by_a_good_one_are_not_consecutive():
    state = enrolled()
    file_reports(state, BAD, BAD, GOOD, BAD)
    assert rules.review_due(state) is False


def test_no_second_review_is_due_while_one_is_open():
    state = under_review()
    assert rules.review_due(state) is False
    file_reports(state, BAD)
    assert state.bad_streak == 4
    assert rules.review_due(state) is False


def test_a_review_escalates_14_days_after_it_opened():
    state = enrolled()
    file_reports(state, BAD, BAD, BAD)
    review = rules.open_review(state, Q3_END)
    assert state.open_review == review
    assert review.opened_at == Q3_END
    assert review.escalate_at == Q3_END + days(14)
    assert review.escalated_at is None
    assert review.reason == "3 consecutive quality reports below the thresholds"


def test_opening_a_review_is_noted_in_the_history():
    state = under_review()
    entry = state.history[-1]
    assert (entry.actor, entry.action, entry.at) == (SYSTEM, "review_opened", Q3_END)


def test_escalation_is_due_from_the_escalation_date_on():
    state = under_review()
    escalate_at = Q3_END + days(14)
    assert rules.escalation_due(state, escalate_at - INSTANT) is False
    assert rules.escalation_due(state, escalate_at) is True
    assert rules.escalation_due(state, escalate_at + days(30)) is True


def test_a_review_escalates_only_once():
    state = under_review()
    assert state.open_review is not None
    state.open_review.escalated_at = Q3_END + days(14)
    assert rules.escalation_due(state, Q3_END + days(20)) is False


def test_without_an_open_review_nothing_escalates():
    assert rules.escalation_due(enrolled(), Q3_END + days(400)) is False


def test_a_review_decision_needs_an_open_review():
    with pytest.raises(CommandRefused) as refused:
        rules.check_review_decision(enrolled(), decision(ReviewDecision.RETAIN))
    assert refused.value.code == "no_open_review"


def test_a_review_decision_on_a_terminated_partnership_is_refused():
    state = under_review()
    rules.apply_review_decision(state, decision(ReviewDecision.TERMINATE), Q3_END + days(3))
    with pytest.raises(CommandRefused) as refused:
        rules.check_review_decision(state, decision(ReviewDecision.RETAIN))
    assert refused.value.code == "partnership_terminated"


@pytest.mark.parametrize("choice", list(ReviewDecision))
def test_an_open_review_accepts_either_decision(choice):
    rules.check_review_decision(under_review(), decision(choice))


def test_an_escalated_review_still_accepts_a_decision():
    state = under_review()
    assert state.open_review is not None
    state.open_review.escalated_at = Q3_END + days(14)
    rules.check_review_decision(state, decision(ReviewDecision.RETAIN))


def test_retaining_closes_the_review_and_starts_the_bad_streak_again():
    state = under_review()
    decided_at = Q3_END + days(5)
    rules.apply_review_decision(state, decision(ReviewDecision.RETAIN, "improvement plan agreed"), decided_at)
    assert state.open_review is None
    assert state.bad_streak == 0
    assert state.status == PartnerStatus.ACTIVE
    assert state.terminated_at is None
    entry = state.history[-1]
    assert (entry.actor, entry.action, entry.at, entry.detail) == (
        AM,
        "review_retain",
        decided_at,
        "improvement plan agreed",
    )


def test_after_retaining_it_takes_three_new_bad_reports_to_review_again():
    state = under_review()
    rules.apply_review_decision(state, decision(ReviewDecision.RETAIN), Q3_END + days(5))
    file_reports(state, BAD, BAD)
    assert rules.review_due(state) is False
    file_reports(state, BAD)
    assert rules.review_due(state) is True


def test_terminating_ends_the_partnership():
    state = under_review()
    decided_at = Q3_END + days(5)
    rules.apply_review_decision(state, decision(ReviewDecision.TERMINATE, "repeated violations"), decided_at)
    assert state.status == PartnerStatus.TERMINATED
    assert state.terminated_at == decided_at
    assert state.open_review is None
    entry = state.history[-1]
    assert (entry.actor, entry.action, entry.detail) == (AM, "review_terminate", "repeated violations")


def test_contract_events_are_accepted_from_an_active_partner():
    state = enrolled()
    rules.check_contracts(state, RecordContracts(actor=AM, events=[event(ContractKind.FIXED_LINE_ORDER)]))


def test_contract_events_for_a_terminated_partnership_are_refused():
    state = under_review()
    rules.apply_review_decision(state, decision(ReviewDecision.TERMINATE), Q3_END + days(5))
    command = RecordContracts(actor=AM, events=[event(ContractKind.FIXED_LINE_ORDER)])
    with pytest.raises(CommandRefused) as refused:
        rules.check_contracts(state, command)
    assert refused.value.code == "partnership_terminated"
    assert PARTNER_ID in refused.value.message


def test_the_view_shows_the_open_review_and_the_bad_streak():
    state = under_review()
    shown = rules.view(state, Q3_END + days(1))
    assert shown.open_review == state.open_review
    assert shown.bad_streak == 3
    assert shown.next_report_at == NEW_YEAR_2026


def test_quarters_are_reported_from_the_programme_start():
    state = enrolled()
    assert (state.last_report_at, state.next_report_at) == (NEW_YEAR_2025, Q1_END)
    file_reports(state, GOOD)
    assert (state.last_report_at, state.next_report_at) == (Q1_END, Q2_END)
