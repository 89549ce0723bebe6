"""The predicted go-live: when an onboarding is expected to go live, from its remaining stages' budgets, refined by
the marketplace's own history (docs/api.md, "Predicted go-live").

The rule:
- A stage's expected length is the median time the marketplace's completed onboardings spent in it (holds
  excluded), once at least `config.history_min_samples` of them passed it; its budget otherwise.
- The current stage's remaining time is its expected length minus the time already spent in it (holds excluded),
  never below zero: a stage past its expected length is expected to end now.
- predicted go-live = now + the current stage's remaining time + the expected lengths of the stages after it.
- On hold the clock stops: the time spent in the stage is counted up to the hold's start and the remaining time
  from now, so every day on hold moves the prediction out by a day.
- It misses the target when it is after the go-live target (6 weeks from the start, pushed back by holds).
- A live onboarding's date is its actual go-live; a rejected one has none.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from domain.onboarding.config import OnboardingConfig, StageId
from domain.onboarding.model import (
    GoLivePrediction,
    HistoryEntry,
    MarketplaceHistory,
    OnboardingState,
    OnboardingStatus,
    PredictionBasis,
    StageBasis,
    StageForecast,
    StageMedian,
)


def stage_durations(history: Sequence[HistoryEntry]) -> dict[StageId, timedelta]:
    """The time one onboarding spent in each stage it left (by advancing or going live), its holds excluded."""
    durations: dict[StageId, timedelta] = {}
    if not history:
        return durations
    entered, held, hold_since = history[0].at, timedelta(), None
    for entry in history:
        if entry.action == "held":
            hold_since = entry.at
        elif entry.action == "resumed" and hold_since is not None:
            held, hold_since = held + (entry.at - hold_since), None
        elif entry.action in ("advanced", "went_live"):
            durations[entry.stage] = entry.at - entered - held
            entered, held = entry.at, timedelta()
    return durations


def _median(values: list[timedelta]) -> timedelta:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def marketplace_history(onboardings: Iterable[dict[StageId, timedelta]]) -> MarketplaceHistory:
    """Per stage, the median of the given onboardings' `stage_durations` and how many there were."""
    by_stage: dict[StageId, list[timedelta]] = {}
    for durations in onboardings:
        for stage, duration in durations.items():
            by_stage.setdefault(stage, []).append(duration)
    return MarketplaceHistory(
        stages=[
            StageMedian(stage=stage, median=_median(values), samples=len(values))
            for stage in StageId
            if (values := by_stage.get(stage))
        ]
    )


def _expected_length(
    stage: StageId, config: OnboardingConfig, history: MarketplaceHistory | None
) -> tuple[timedelta, StageForecast]:
    median = history.of(stage) if history is not None else None
    if median is not None and median.samples >= config.history_min_samples:
        basis, length, samples = StageBasis.MARKETPLACE_HISTORY, median.median, median.samples
    else:
        basis, length, samples = StageBasis.STAGE_BUDGET, config.stage(stage).budget, 0
    return length, StageForecast(stage=stage, basis=basis, expected_days=length / timedelta(days=1), samples=samples)


def _overall(forecasts: list[StageForecast]) -> PredictionBasis:
    bases = {forecast.basis for forecast in forecasts}
    if bases == {StageBasis.MARKETPLACE_HISTORY}:
        return PredictionBasis.MARKETPLACE_HISTORY
    return PredictionBasis.STAGE_BUDGETS if bases == {StageBasis.STAGE_BUDGET} else PredictionBasis.MIXED


def predict(state: OnboardingState, now: datetime, config: OnboardingConfig) -> GoLivePrediction | None:
    """The onboarding's predicted go-live as of `now`, by the rule in this module's docstring."""
    clock = state.clock
    if state.status == OnboardingStatus.REJECTED:
        return None
    if state.status == OnboardingStatus.LIVE and state.finished_at is not None:
        went_live = state.finished_at
        misses = went_live > clock.target_due_at(config.target, went_live)
        return GoLivePrediction(
            predicted_go_live=went_live, basis=PredictionBasis.WENT_LIVE, misses_target=misses, stages=[]
        )
    remaining = [_expected_length(spec.id, config, state.marketplace_history) for spec in config.stages]
    remaining = remaining[config.index(state.stage) :]
    current, *later = [length for length, _ in remaining]
    forecasts = [forecast for _, forecast in remaining]
    spent = (clock.on_hold_since or now) - clock.stage_started_at - clock.held_in_stage
    predicted = now + max(current - spent, timedelta()) + sum(later, timedelta())
    return GoLivePrediction(
        predicted_go_live=predicted,
        basis=_overall(forecasts),
        misses_target=predicted > clock.target_due_at(config.target, now),
        stages=forecasts,
    )
