"""Policy backtests: a recorded year replayed by the programme's own rules under today's and an alternative policy."""

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.partners import rules
from domain.partners.backtest import (
    BacktestTotals,
    LedgerGroup,
    Move,
    PartnerYear,
    RecordedReport,
    RecordedReviewDecision,
    compare,
    replay,
    resolved,
)
from domain.partners.config import PROGRAMME, ContractKind, PointsRule, Tier
from domain.partners.model import QualityMetrics, ReviewDecision, TierChange
from domain.partners.policy import PartnerPolicy
from tests.unit.partner_builders import AM, BAD, GOOD, NEW_YEAR_2025, NEW_YEAR_2026, event, partner
from workflows.policy_backtest import percent_done

YEAR = 2025
QUARTER_ENDS = [datetime(2025, month, 1, tzinfo=NEW_YEAR_2025.tzinfo) for month in (4, 7, 10)] + [NEW_YEAR_2026]
STRICTER = PartnerPolicy(
    tier_thresholds={Tier.ADVANCED: 12_000, Tier.EXPERT: 20_000},
    consecutive_bad_reports_for_review=2,
    quality=PartnerPolicy().quality.model_copy(update={"min_paid_on_time_share": 0.98}),
)
LOOSER = PartnerPolicy(tier_thresholds={Tier.EXPERT: 9_000}, consecutive_bad_reports_for_review=4)
OKAY = QualityMetrics(paid_on_time_share=0.95, usage_share=0.80, churn_share=0.02, invoices=40)  # fails 0.98 only


def licences(count: int, times: int = 1) -> LedgerGroup:
    return LedgerGroup(kind=ContractKind.DIGITAL_PHONE_LICENSES, quantity=count, monthly_value_cents=0, count=times)


def reports(*metrics: QualityMetrics) -> list[RecordedReport]:
    return [
        RecordedReport(period_end=end, created_at=end, metrics=m) for end, m in zip(QUARTER_ENDS, metrics, strict=False)
    ]


def year(partner_id: str, start: Tier, **recorded: object) -> PartnerYear:
    return PartnerYear.model_validate(
        {"partner_id": partner_id, "name": "Telesales", "account_manager": AM, "year": YEAR, "start_tier": start}
        | recorded
    )


# Known events: 10,000 points in advanced; three bad quarters; a retained review; a partnership ended.
KEEPS_ADVANCED = year("keeps", Tier.ADVANCED, contracts=[licences(100, 2)], reports=reports(GOOD, OKAY, GOOD, GOOD))
BAD_THREE = year("bad-three", Tier.BASIC, contracts=[licences(10)], reports=reports(BAD, BAD, BAD, GOOD))
RETAINED = year(
    "retained",
    Tier.EXPERT,
    contracts=[licences(400)],
    reports=reports(BAD, BAD, BAD, BAD),
    review_decisions=[RecordedReviewDecision(at=QUARTER_ENDS[2] + timedelta(days=10), decision=ReviewDecision.RETAIN)],
)
ENDED = year(
    "ended",
    Tier.BASIC,
    reports=reports(BAD, BAD, BAD),
    review_decisions=[
        RecordedReviewDecision(at=QUARTER_ENDS[2] + timedelta(days=3), decision=ReviewDecision.TERMINATE)
    ],
)
YEAR_OF_FOUR = [KEEPS_ADVANCED, BAD_THREE, RETAINED, ENDED]


def outcomes(policy: PartnerPolicy) -> dict[str, tuple[int, Tier | None, TierChange | None, int]]:
    config = policy.applied_to(PROGRAMME)
    return {
        record.partner_id: (outcome.points, *_tier_and_change(outcome.decision), outcome.reviews)
        for record in YEAR_OF_FOUR
        for outcome in [replay(record, config)]
    }


def _tier_and_change(decision: object) -> tuple[Tier | None, TierChange | None]:
    return (decision.to_tier, decision.change) if decision is not None else (None, None)  # type: ignore[attr-defined]


def test_todays_policy_gives_the_years_known_decisions_and_reviews():
    assert outcomes(PartnerPolicy()) == {
        "keeps": (10_000, Tier.ADVANCED, TierChange.KEEP, 0),
        "bad-three": (500, Tier.BASIC, TierChange.KEEP, 1),
        "retained": (20_000, Tier.EXPERT, TierChange.KEEP, 1),  # the fourth bad quarter starts a new streak
        "ended": (0, None, None, 1),
    }


def test_a_stricter_policy_downgrades_and_opens_reviews_earlier():
    assert outcomes(STRICTER) == {
        "keeps": (10_000, Tier.BASIC, TierChange.DOWNGRADE, 1),  # 0.97 and 0.95 paid on time now fail 0.98
        "bad-three": (500, Tier.BASIC, TierChange.KEEP, 1),  # opened after two, still open at the third
        "retained": (20_000, Tier.EXPERT, TierChange.KEEP, 1),  # opened after Q2, retained; Q4 alone is no streak
        "ended": (0, None, None, 1),
    }


def test_a_looser_policy_upgrades_and_opens_fewer_reviews():
    assert outcomes(LOOSER) == {
        "keeps": (10_000, Tier.EXPERT, TierChange.UPGRADE, 0),
        "bad-three": (500, Tier.BASIC, TierChange.KEEP, 0),
        # The retain decided a review this policy never opened: the streak goes on, and the fourth opens one.
        "retained": (20_000, Tier.EXPERT, TierChange.KEEP, 1),
        "ended": (0, None, None, 0),  # the recorded termination still ends it
    }


def test_a_changed_points_catalogue_changes_the_points_and_so_the_tier():
    cheaper = PartnerPolicy(points_catalogue={ContractKind.DIGITAL_PHONE_LICENSES: PointsRule(per_unit=30)})
    line = compare(KEEPS_ADVANCED, PROGRAMME, cheaper.applied_to(PROGRAMME))
    assert (line.points_today, line.points_alternative) == (10_000, 6_000)
    assert (line.tier_today, line.tier_alternative, line.move) == (Tier.ADVANCED, Tier.BASIC, Move.LOWER)
    assert line.why == (
        "today: 10,000 points keep advanced (needs 7,500); "
        "alternative: 6,000 points miss advanced (needs 7,500), down to basic"
    )


def test_totals_count_tiers_moves_and_reviews_per_policy():
    totals = BacktestTotals().add(
        [compare(record, PROGRAMME, STRICTER.applied_to(PROGRAMME)) for record in YEAR_OF_FOUR]
    )
    assert totals.partners == 4
    assert totals.today.tiers == {Tier.BASIC: 1, Tier.ADVANCED: 1, Tier.EXPERT: 1, Tier.EXPERT_PLUS: 0}
    assert totals.alternative.tiers == {Tier.BASIC: 2, Tier.ADVANCED: 0, Tier.EXPERT: 1, Tier.EXPERT_PLUS: 0}
    assert (totals.today.downgrades, totals.alternative.downgrades) == (0, 1)
    assert (totals.today.termination_reviews, totals.alternative.termination_reviews) == (3, 4)
    assert (totals.today.ended, totals.higher, totals.lower) == (1, 0, 1)


def test_the_replay_reaches_the_decision_the_live_rules_took():
    """A year lived through the live rules, as the workflow applies them, and its record replayed."""
    state = partner(Tier.EXPERT, at=NEW_YEAR_2025)
    events = [
        event(ContractKind.NEW_CUSTOMER_CONTRACT, monthly_value_cents=12_345, reference_id=f"r{i}") for i in range(9)
    ]
    state.points = sum(rules.points_for(item) for item in events)
    for metrics in (BAD, BAD, GOOD, BAD):
        rules.file_quality_report(state, metrics, state.next_report_at)
    live = rules.decide_year_end(state, NEW_YEAR_2026)

    record = year(
        "telesales-nord",
        Tier.EXPERT,
        contracts=[
            LedgerGroup(kind=ContractKind.NEW_CUSTOMER_CONTRACT, quantity=1, monthly_value_cents=12_345, count=9)
        ],
        reports=reports(BAD, BAD, GOOD, BAD),
    )
    replayed = replay(record, PROGRAMME)
    assert replayed.decision == live
    assert live.change == TierChange.DOWNGRADE


# --- the policy ----------------------------------------------------------------------------------


def test_an_empty_policy_is_todays():
    assert PartnerPolicy().applied_to(PROGRAMME) == PROGRAMME
    assert resolved(PartnerPolicy(), PROGRAMME) == PartnerPolicy.of(PROGRAMME)


def test_a_points_rule_changes_only_the_parts_given():
    policy = PartnerPolicy.model_validate({"points_catalogue": {"new_customer_contract": {"base": 600}}})
    rule = policy.applied_to(PROGRAMME).points_catalogue[ContractKind.NEW_CUSTOMER_CONTRACT]
    assert (rule.base, rule.per_euro_monthly) == (600, 2.0)


@pytest.mark.parametrize(
    "policy",
    [
        {"tier_thresholds": {"advanced": 20_000}},  # above expert's 15,000
        {"tier_thresholds": {"basic": 10}},
        {"tier_thresholds": {"expert": -1}},
        {"points_catalogue": {"fixed_line_order": {"base": -5}}},
        {"quality": {"min_usage_share": 1.5}},
        {"quality": {"payment_grace_days": 3}},
        {"consecutive_bad_reports_for_review": 0},
        {"unknown": 1},
    ],
)
def test_an_inconsistent_policy_is_refused(policy: dict[str, object]):
    with pytest.raises(ValidationError):
        PartnerPolicy.model_validate(policy)


@pytest.mark.parametrize(
    ("done", "total", "completed", "percent"),
    [(0, None, False, 0), (0, 0, False, 0), (50, 200, False, 25), (210, 200, False, 99), (3, 3, True, 100)],
)
def test_percent_done_reaches_100_only_when_completed(done: int, total: int | None, completed: bool, percent: int):
    assert percent_done(done, total, completed) == percent
