"""SLA maths: stage budgets, the overall target, and a clock that stops while on hold."""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from domain.onboarding.config import OnboardingConfig, StageId


class SlaStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"


class SlaClock(BaseModel):
    """Start times and the time spent on hold; every deadline is derived from these."""

    started_at: datetime
    stage_started_at: datetime
    held_total: timedelta = timedelta()
    held_in_stage: timedelta = timedelta()
    on_hold_since: datetime | None = None

    def hold(self, now: datetime) -> "SlaClock":
        return self.model_copy(update={"on_hold_since": now})

    def resume(self, now: datetime) -> "SlaClock":
        assert self.on_hold_since is not None, "resume needs a hold"
        held = now - self.on_hold_since
        return self.model_copy(
            update={
                "on_hold_since": None,
                "held_total": self.held_total + held,
                "held_in_stage": self.held_in_stage + held,
            }
        )

    def enter_stage(self, now: datetime) -> "SlaClock":
        return self.model_copy(update={"stage_started_at": now, "held_in_stage": timedelta()})

    def _ongoing_hold(self, now: datetime) -> timedelta:
        return now - self.on_hold_since if self.on_hold_since is not None else timedelta()

    def stage_due_at(self, budget: timedelta, now: datetime) -> datetime:
        """When the current stage's budget runs out; a running hold pushes it back."""
        return self.stage_started_at + budget + self.held_in_stage + self._ongoing_hold(now)

    def target_due_at(self, target: timedelta, now: datetime) -> datetime:
        """When the whole onboarding's target runs out; a running hold pushes it back."""
        return self.started_at + target + self.held_total + self._ongoing_hold(now)


def sla_status(clock: SlaClock, stage: StageId, config: OnboardingConfig, now: datetime) -> SlaStatus:
    """Overdue past the target; at risk when the stage overran or the remaining budgets no longer fit."""
    target_due = clock.target_due_at(config.target, now)
    if now >= target_due:
        return SlaStatus.OVERDUE
    stage_due = clock.stage_due_at(config.stage(stage).budget, now)
    projected_go_live = max(now, stage_due) + config.budget_after(stage)
    if now >= stage_due or projected_go_live > target_due:
        return SlaStatus.AT_RISK
    return SlaStatus.ON_TRACK
