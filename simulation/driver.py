"""Drives a drawn Year through the API on the throwaway stack, in simulated time.

The year becomes a timeline of actions: partner managers start onboardings, tick checklists, agree terms, advance,
hold, resume and reject; operators book customers, cancel, change payment methods and reinstate; account managers
enrol partners and record contracts. Between actions the time-skipping server's clock moves, and the workflows' own
timers do the rest (trial ends, invoices, dunning, suspend mode, quarterly reports, the programme's year end). The
payout of each month runs on the 1st of the next at 02:00, as the Schedule would. Actions on the same moment run one
after another in a fixed order, so a seed plays out the same way every time.

Each kind of action has an hour of the day of its own (HOURS), and an onboarding's stages alternate between two: a
workflow's timers run at whole days from the command that set them, so a command never lands on one of its own
workflow's timers. On the time-skipping server a timer that fires while the workflow handles a command can leave the
workflow with no further task ("invalid history builder state for action", temporalio/sdk-java#3088).
"""

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from demo.plan import ADVANCE_COMMENTS
from demo.seeder import AM, OPERATOR, PM, Refused
from domain.billing_calendar import add_months
from domain.ids import onboarding_workflow_id, partner_workflow_id, subscription_workflow_id
from domain.onboarding.config import ENDPOINT_ITEM, ONBOARDING, CriterionSource, StageId
from domain.roles import Role
from simulation.plan import STAGES, Behaviour, Booking, Onboarding, Partner, Year
from simulation.stack import Stack

log = logging.getLogger(__name__)

API = "/api/v1"
HOURS = {
    "payout": 2,  # the payout-monthly Schedule's time of day (schedules.py), here in UTC
    "enrol": 8,
    "onboarding": 9,  # its start, whence the 42-day escalation
    "booking": 10,  # whence the trial end, the billing days, dunning and suspend mode
    "customer": 15,  # cancel, new payment method, reinstate
    "contract": 16,
}
STAGE_HOURS = (11, 14)  # a stage's reminder runs at the hour of the advance into it; the next advance at the other
PAYOUT_HOUR = timedelta(hours=HOURS["payout"])

Step = Callable[[], Awaitable[object]]
Progress = Callable[[float], None]  # told the share of the simulated time done, 0 to 1


@dataclass(frozen=True)
class Action:
    at: datetime
    order: int  # within one moment: the order the year lists them in
    run: Step


def year_start(now: datetime) -> datetime:
    """The simulated year starts on the coming 1 January, so it is also the channel partners' programme year."""
    return datetime(now.year + 1, 1, 1, tzinfo=UTC)


def days_in(start: datetime, months: int) -> int:
    return (add_months(start, months) - start).days


class Driver:
    def __init__(self, stack: Stack, year: Year, start: datetime, months: int) -> None:
        self.stack = stack
        self.year = year
        self.start = start
        self.end = add_months(start, months)
        self.months = months
        self._actions: list[Action] = []
        # Commands the API refused for the state things were in (e.g. a contract for a partner terminated after a
        # review), by error code: the simulation goes on without them.
        self.refused: Counter[str] = Counter()

    async def run(self, progress: Progress | None = None) -> None:
        await self.stack.sleep_until(self.start)
        self._plan()
        for action in sorted(self._actions, key=lambda action: (action.at, action.order)):
            await self.stack.sleep_until(action.at)
            await action.run()
            if progress is not None:
                progress(min((action.at - self.start) / (self.end - self.start), 1.0))
        if progress is not None:
            progress(1.0)

    def _at(self, day: float, hour: int) -> datetime:
        return self.start + timedelta(days=day, hours=hour)

    def _add(self, at: datetime, run: Step) -> None:
        if at < self.end + PAYOUT_HOUR + timedelta(minutes=1):
            self._actions.append(Action(at, len(self._actions), run))

    def _plan(self) -> None:
        for partner in self.year.partners:
            self._partner(partner)
        for onboarding in self.year.onboardings:
            self._onboarding(onboarding)
        for booking in self.year.bookings:
            self._booking(booking)
        for index in range(self.months):
            month_start = add_months(self.start, index)
            self._add(add_months(self.start, index + 1) + PAYOUT_HOUR, self._payout(f"{month_start:%Y-%m}"))

    def _payout(self, month: str) -> Step:
        return lambda: self.stack.run_payout(month)

    # --- channel partners ---------------------------------------------------------------------

    def _partner(self, partner: Partner) -> None:
        async def enrol() -> None:
            if await self._send(AM, "POST", f"{API}/partners", partner.enrolment, f"partner-{partner.id}"):
                await self.stack.taken_up(partner_workflow_id(partner.id))

        self._add(self._at(0, HOURS["enrol"]), enrol)
        for day, event in partner.contracts:
            path, step = f"{API}/partners/{partner.id}/contracts", f"contract-{partner.id}-{event['reference_id']}"
            self._add(self._at(day, HOURS["contract"]), self._call(AM, "POST", path, event, step))

    # --- onboardings --------------------------------------------------------------------------

    def _onboarding(self, onboarding: Onboarding) -> None:
        async def start() -> None:
            if await self._send(PM, "POST", f"{API}/onboardings", onboarding.request, f"onboarding-{onboarding.id}"):
                await self.stack.taken_up(onboarding_workflow_id(onboarding.id))

        self._add(self._at(onboarding.start_day, HOURS["onboarding"]), start)
        day = onboarding.start_day
        for index, (stage, days) in enumerate(zip(STAGES, onboarding.stage_days, strict=True)):
            hour = STAGE_HOURS[index % 2]
            if onboarding.hold is not None and onboarding.hold[0] == index:
                _, in_stage, held = onboarding.hold
                hold = self._command(onboarding, "hold", {"reason": onboarding.reason})
                self._add(self._at(day + in_stage, hour), hold)
                self._add(self._at(day + in_stage + held, hour), self._command(onboarding, "resume", {}))
            if onboarding.reject is not None and onboarding.reject[0] == index:
                reject = self._command(onboarding, "reject", {"reason": onboarding.reason})
                self._add(self._at(day + onboarding.reject[1], hour), reject)
                return
            day += days
            self._add(self._at(day, hour), self._pass_stage(onboarding, stage))

    def _pass_stage(self, onboarding: Onboarding, stage: StageId) -> Step:
        """What a partner manager does at the end of a stage: meet its criteria, then advance."""

        async def run() -> None:
            if stage == StageId.COMMERCIAL:
                await self._path(onboarding, "PUT", "commercial-terms", onboarding.terms)
            for criterion in ONBOARDING.stage(stage).criteria:
                if criterion.source == CriterionSource.CHECKLIST:
                    # "local": the embedded connector, so the connector test passes with no ISV online.
                    body = {"value": "local"} if criterion.id == ENDPOINT_ITEM else {}
                    await self._path(onboarding, "POST", f"checklist/{criterion.id}", body)
            await self._path(onboarding, "POST", "advance", {"comment": ADVANCE_COMMENTS[stage]}, f"advance-{stage}")

        return run

    def _command(self, onboarding: Onboarding, action: str, body: dict[str, Any]) -> Step:
        return lambda: self._path(onboarding, "POST", action, body)

    async def _path(self, onboarding: Onboarding, method: str, action: str, body: Any, step: str | None = None) -> None:
        path = f"{API}/onboardings/{onboarding.id}/{action}"
        await self._send(PM, method, path, body, f"onboarding-{onboarding.id}-{step or action}")

    # --- subscriptions ------------------------------------------------------------------------

    def _booking(self, booking: Booking) -> None:
        async def book() -> None:
            if await self._send(OPERATOR, "POST", f"{API}/subscriptions", booking.body, f"sub-{booking.id}"):
                await self.stack.taken_up(subscription_workflow_id(booking.id))

        self._add(self._at(booking.day, HOURS["booking"]), book)
        if booking.act_day is None:
            return
        path = f"{API}/subscriptions/{booking.id}"
        at = self._at(booking.act_day, HOURS["customer"])
        match booking.behaviour:
            case Behaviour.CANCELS | Behaviour.CANCELS_IN_TRIAL:
                cancel = {"reason": booking.reason}
                self._add(at, self._call(OPERATOR, "POST", f"{path}/cancel", cancel, f"sub-{booking.id}-cancel"))
            case Behaviour.FAILS_RECOVERS:
                method = booking.new_method
                self._add(at, self._call(OPERATOR, "PUT", f"{path}/payment-method", method, f"sub-{booking.id}-method"))
            case Behaviour.FAILS_REINSTATED:

                async def reinstate() -> None:
                    key = f"sub-{booking.id}"
                    if await self._send(OPERATOR, "PUT", f"{path}/payment-method", booking.new_method, f"{key}-method"):
                        await self._send(OPERATOR, "POST", f"{path}/reinstate", {}, f"{key}-reinstate")

                self._add(at, reinstate)

    # --- the API ------------------------------------------------------------------------------

    def _call(self, role: Role, method: str, path: str, body: Any, step: str) -> Step:
        return lambda: self._send(role, method, path, body, step)

    async def _send(self, role: Role, method: str, path: str, body: Any, step: str) -> bool:
        """Whether the API carried the command out; a refusal is counted and logged, and the year goes on."""
        try:
            await self.stack.api.send(role, method, path, body, step)
        except Refused as refused:
            self.refused[refused.code] += 1
            log.warning("%s %s refused: %s", method, path, refused)
            return False
        return True
