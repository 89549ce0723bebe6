"""The predicted go-live: remaining stage budgets, refined by the marketplace's medians, with holds accounted for."""

from datetime import timedelta

from domain.onboarding import rules
from domain.onboarding.config import ONBOARDING, StageId
from domain.onboarding.model import (
    MarketplaceHistory,
    OnboardingState,
    PredictionBasis,
    RejectCommand,
    StageBasis,
    StageMedian,
)
from domain.onboarding.prediction import marketplace_history, predict, stage_durations

from .builders import ACTOR, advance, at, days, hold, new_onboarding, onboarding_in, resume

ENOUGH = ONBOARDING.history_min_samples


def history(samples: int, **medians: float) -> MarketplaceHistory:
    """Medians in days per stage, each from `samples` completed onboardings."""
    return MarketplaceHistory(
        stages=[StageMedian(stage=StageId(stage), median=days(n), samples=samples) for stage, n in medians.items()]
    )


def predicted(state: OnboardingState, day: float):
    prediction = predict(state, at(day), ONBOARDING)
    assert prediction is not None
    return prediction


def test_without_history_the_stage_budgets_give_the_date():
    prediction = predicted(new_onboarding(), 1)

    assert prediction.predicted_go_live == at(42)  # 5 + 7 + 10 + 14 + 6 days
    assert prediction.basis == PredictionBasis.STAGE_BUDGETS
    assert {forecast.basis for forecast in prediction.stages} == {StageBasis.STAGE_BUDGET}
    assert prediction.misses_target is False


def test_with_enough_recorded_durations_the_median_wins():
    state = new_onboarding()
    state.marketplace_history = history(ENOUGH, identification=3, feasibility=4, commercial=5, integration=6, go_live=2)

    prediction = predicted(state, 1)

    assert prediction.predicted_go_live == at(20)
    assert prediction.basis == PredictionBasis.MARKETPLACE_HISTORY
    assert [forecast.samples for forecast in prediction.stages] == [ENOUGH] * 5


def test_a_stage_with_too_few_recorded_durations_keeps_its_budget():
    state = new_onboarding()
    state.marketplace_history = history(ENOUGH, integration=20)
    state.marketplace_history.stages.append(StageMedian(stage=StageId.COMMERCIAL, median=days(1), samples=ENOUGH - 1))

    prediction = predicted(state, 1)

    assert prediction.predicted_go_live == at(5 + 7 + 10 + 20 + 6)
    assert prediction.basis == PredictionBasis.MIXED
    by_stage = {forecast.stage: forecast.basis for forecast in prediction.stages}
    assert by_stage[StageId.INTEGRATION] == StageBasis.MARKETPLACE_HISTORY
    assert by_stage[StageId.COMMERCIAL] == StageBasis.STAGE_BUDGET
    assert prediction.misses_target is True  # 48 days > the 42-day target


def test_time_spent_in_the_current_stage_counts_and_an_overrun_stage_is_expected_to_end_now():
    state = new_onboarding()
    assert predicted(state, 4).predicted_go_live == at(42)  # still within the stage's 5 days: the date stands
    assert predicted(state, 8).predicted_go_live == at(8 + 37)  # 3 days over: the rest starts from now
    assert predicted(state, 8).misses_target is True


def test_a_hold_moves_the_prediction_by_its_length():
    state = new_onboarding()
    hold(state, at(2))
    assert predicted(state, 2).predicted_go_live == at(42)
    assert predicted(state, 12).predicted_go_live == at(52)
    assert predicted(state, 12).misses_target is False  # the hold pushes the target back as well

    resume(state, at(12))

    assert predicted(state, 13).predicted_go_live == at(52)


def test_in_the_last_stage_only_its_remaining_time_is_left():
    state = onboarding_in(StageId.GO_LIVE)

    prediction = predicted(state, 2)

    assert prediction.predicted_go_live == at(6)
    assert [forecast.stage for forecast in prediction.stages] == [StageId.GO_LIVE]


def test_a_live_onboarding_has_its_actual_go_live_and_a_rejected_one_none():
    live = onboarding_in(StageId.GO_LIVE)
    advance(live, at(3))
    prediction = predicted(live, 10)
    assert (prediction.predicted_go_live, prediction.basis, prediction.stages) == (at(3), PredictionBasis.WENT_LIVE, [])

    rejected = new_onboarding()
    rules.apply_reject(rejected, RejectCommand(actor=ACTOR, reason="no fit"), at(1))
    assert predict(rejected, at(2), ONBOARDING) is None


def test_the_view_carries_the_prediction():
    view = rules.view(new_onboarding(), at(1))

    assert (view.predicted_go_live, view.prediction_basis, view.misses_target) == (
        at(42),
        PredictionBasis.STAGE_BUDGETS,
        False,
    )
    assert [forecast.expected_days for forecast in view.prediction_stages] == [5, 7, 10, 14, 6]


def test_recorded_stage_durations_exclude_holds_and_their_median_is_taken_per_stage():
    state = new_onboarding()
    advance(state, at(2))
    hold(state, at(3))
    resume(state, at(10))
    advance(state, at(12))  # feasibility: 10 days, 7 of them on hold

    durations = stage_durations(state.history)

    assert durations == {StageId.IDENTIFICATION: days(2), StageId.FEASIBILITY: days(3)}
    medians = marketplace_history([durations, {StageId.IDENTIFICATION: days(4)}, {StageId.IDENTIFICATION: days(9)}])
    assert medians.of(StageId.IDENTIFICATION) == StageMedian(stage=StageId.IDENTIFICATION, median=days(4), samples=3)
    assert medians.of(StageId.FEASIBILITY) == StageMedian(stage=StageId.FEASIBILITY, median=days(3), samples=1)
    assert marketplace_history([{StageId.GO_LIVE: days(1)}, {StageId.GO_LIVE: days(2)}]).stages[0].median == (
        timedelta(days=1.5)
    )
