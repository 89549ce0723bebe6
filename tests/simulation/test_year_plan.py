"""The drawn year (no stack): what the driver relies on holds for any seed."""

import pytest

from domain.onboarding.config import ONBOARDING
from simulation.plan import Behaviour, Pace, draw_year

TARGET_DAYS = sum(spec.budget.days for spec in ONBOARDING.stages)


@pytest.mark.parametrize("seed", range(20))
def test_customers_book_apps_live_before_their_day_and_act_after_it(seed: int) -> None:
    year = draw_year(seed, isvs=8, customers=30, partners=3, days=365)
    live = {plan.app_id: plan.live_day for plan in year.onboardings if plan.live_day is not None}
    for booking in year.bookings:
        assert live[booking.body["app_id"]] < booking.day
        assert booking.act_day is None or booking.act_day > booking.day
        assert (booking.new_method is not None) == (
            booking.behaviour in (Behaviour.FAILS_RECOVERS, Behaviour.FAILS_REINSTATED)
        )
    assert len({booking.id for booking in year.bookings}) == len(year.bookings)


@pytest.mark.parametrize("seed", range(20))
def test_paces_keep_to_their_word(seed: int) -> None:
    for plan in draw_year(seed, isvs=12, customers=0, partners=0, days=365).onboardings:
        stage_days = sum(plan.stage_days)
        match plan.pace:
            case Pace.ON_TIME:
                assert stage_days < TARGET_DAYS
            case Pace.LATE:
                assert stage_days > TARGET_DAYS
            case Pace.HELD:
                assert plan.hold is not None
                stage, in_stage, held = plan.hold
                assert in_stage >= 1 and in_stage + held <= plan.stage_days[stage]
                assert stage_days - held < TARGET_DAYS
            case Pace.REJECTED:
                assert plan.reject is not None and plan.live_day is None


def test_partners_count_each_reference_once() -> None:
    for partner in draw_year(3, isvs=1, customers=0, partners=40, days=365).partners:
        references = [event["reference_id"] for _, event in partner.contracts]
        assert len(references) == len(set(references))
    assert len({partner.id for partner in draw_year(3, 1, 0, 40, 365).partners}) == 40


def test_a_seed_draws_one_year() -> None:
    assert draw_year(5, 4, 10, 2, 365) == draw_year(5, 4, 10, 2, 365)
    assert draw_year(5, 4, 10, 2, 365) != draw_year(6, 4, 10, 2, 365)
