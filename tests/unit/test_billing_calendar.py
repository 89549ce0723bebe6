"""The billing calendar: monthly periods anchored on the contract's start day, clamped to short months."""

import calendar
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from domain.billing_calendar import add_months, month_key, period_start, periods_in_term, previous_month, term_end
from domain.catalogue import MARKETPLACE
from domain.subscription.config import SUBSCRIPTIONS


def d(year: int, month: int, day: int, hour: int = 9, minute: int = 30) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def month_number(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


# Month ends and 29 February.


def test_31_january_plus_one_month_is_29_february_in_a_leap_year():
    assert add_months(d(2024, 1, 31), 1) == d(2024, 2, 29)


def test_31_january_plus_one_month_is_28_february_in_a_common_year():
    assert add_months(d(2025, 1, 31), 1) == d(2025, 2, 28)


def test_the_anchor_day_brings_a_31st_contract_back_to_31_march_after_february():
    assert add_months(d(2025, 2, 28), 1, anchor_day=31) == d(2025, 3, 31)
    assert add_months(d(2024, 2, 29), 1, anchor_day=31) == d(2024, 3, 31)


def test_without_the_anchor_a_clamped_day_would_stick():
    assert add_months(d(2025, 2, 28), 1) == d(2025, 3, 28)


def test_a_contract_starting_on_31_january_bills_on_the_last_day_of_short_months_and_the_31st_otherwise():
    start = d(2025, 1, 31)
    assert [period_start(start, index) for index in range(6)] == [
        d(2025, 1, 31),
        d(2025, 2, 28),
        d(2025, 3, 31),
        d(2025, 4, 30),
        d(2025, 5, 31),
        d(2025, 6, 30),
    ]


def test_a_contract_starting_on_31_january_of_a_leap_year_bills_on_29_february():
    start = d(2024, 1, 31)
    assert [period_start(start, index) for index in range(3)] == [d(2024, 1, 31), d(2024, 2, 29), d(2024, 3, 31)]


def test_a_contract_starting_on_30_january_bills_on_the_30th_after_february():
    start = d(2025, 1, 30)
    assert [period_start(start, index) for index in range(3)] == [d(2025, 1, 30), d(2025, 2, 28), d(2025, 3, 30)]


def test_a_contract_starting_on_29_february_bills_on_28_february_of_the_next_year():
    start = d(2024, 2, 29)
    assert period_start(start, 12) == d(2025, 2, 28)
    assert term_end(start, 12) == d(2025, 2, 28)


def test_a_contract_starting_on_29_february_returns_to_the_29th_after_february_of_a_common_year():
    start = d(2024, 2, 29)
    assert period_start(start, 13) == d(2025, 3, 29)


def test_a_contract_starting_on_29_february_keeps_the_29th_in_the_next_leap_year():
    start = d(2024, 2, 29)
    assert period_start(start, 36) == d(2027, 2, 28)
    assert period_start(start, 48) == d(2028, 2, 29)
    assert add_months(d(2025, 2, 28), 36, anchor_day=29) == d(2028, 2, 29)


# Terms.


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (d(2025, 3, 15), d(2027, 3, 15)),
        (d(2024, 1, 31), d(2026, 1, 31)),
        (d(2025, 8, 31), d(2027, 8, 31)),
        (d(2025, 11, 30), d(2027, 11, 30)),
        (d(2025, 12, 31), d(2027, 12, 31)),
        (d(2024, 2, 29), d(2026, 2, 28)),  # 2026 is a common year
        (d(2026, 2, 28), d(2028, 2, 28)),  # a 28th stays a 28th in a leap year
        (d(2026, 3, 31), d(2028, 3, 31)),
    ],
)
def test_a_24_month_term_ends_on_the_same_day_two_years_later_clamped_to_the_month(start, end):
    assert term_end(start, 24) == end


@pytest.mark.parametrize(
    ("start", "term", "end"),
    [
        (d(2025, 1, 31), 1, d(2025, 2, 28)),
        (d(2025, 3, 31), 1, d(2025, 4, 30)),
        (d(2025, 5, 10), 1, d(2025, 6, 10)),
        (d(2025, 5, 10), 12, d(2026, 5, 10)),
        (d(2025, 12, 31), 12, d(2026, 12, 31)),
        (d(2024, 2, 29), 12, d(2025, 2, 28)),
    ],
)
def test_1_and_12_month_terms_end_on_the_anchor_day_clamped_to_the_month(start, term, end):
    assert term_end(start, term) == end


@pytest.mark.parametrize("term", MARKETPLACE.contract_terms_months)
def test_a_term_has_one_monthly_billing_period_per_month(term):
    assert SUBSCRIPTIONS.billing_period_months == 1
    assert periods_in_term(term) == term
    assert periods_in_term(term, SUBSCRIPTIONS.billing_period_months) == term


def test_periods_in_term_for_1_12_and_24_months():
    assert (periods_in_term(1), periods_in_term(12), periods_in_term(24)) == (1, 12, 24)


def test_a_longer_billing_period_divides_the_term():
    assert periods_in_term(12, 3) == 4
    assert periods_in_term(24, 12) == 2


START_DAYS = [1, 15, 28, 29, 30, 31]
START_MONTHS = [(2024, 1), (2024, 2), (2025, 1), (2025, 3), (2025, 12)]


def valid_starts() -> list[datetime]:
    return [
        d(year, month, day)
        for year, month in START_MONTHS
        for day in START_DAYS
        if day <= calendar.monthrange(year, month)[1]
    ]


@pytest.mark.parametrize("term", [12, 24])
@pytest.mark.parametrize("start", valid_starts(), ids=lambda moment: moment.date().isoformat())
def test_the_periods_of_a_whole_term_start_once_a_month_in_consecutive_months_on_the_anchor_day(start, term):
    starts = [period_start(start, index) for index in range(periods_in_term(term))]

    assert len(starts) == term
    assert starts[0] == start
    assert all(earlier < later for earlier, later in pairwise(starts))
    assert [month_number(moment) - month_number(start) for moment in starts] == list(range(term))
    assert len({month_key(moment) for moment in starts}) == term
    for moment in starts:
        assert moment.day == min(start.day, calendar.monthrange(moment.year, moment.month)[1])
        assert moment.timetz() == start.timetz()


@pytest.mark.parametrize("term", [1, 12, 24])
@pytest.mark.parametrize("start", valid_starts(), ids=lambda moment: moment.date().isoformat())
def test_the_period_after_the_last_of_a_term_starts_at_the_term_end(start, term):
    assert period_start(start, periods_in_term(term)) == term_end(start, term)


def test_periods_never_last_less_than_28_or_more_than_31_days():
    start = d(2024, 1, 31)
    starts = [period_start(start, index) for index in range(25)]
    lengths = {(later - earlier).days for earlier, later in pairwise(starts)}
    assert lengths <= {28, 29, 30, 31}


# Year rollover.


def test_december_plus_one_month_is_january_of_the_next_year():
    assert add_months(d(2025, 12, 15), 1) == d(2026, 1, 15)
    assert add_months(d(2025, 12, 31), 1) == d(2026, 1, 31)


def test_a_contract_starting_on_31_december_bills_on_31_january_and_28_february_of_the_next_year():
    start = d(2025, 12, 31)
    assert [period_start(start, index) for index in range(4)] == [
        d(2025, 12, 31),
        d(2026, 1, 31),
        d(2026, 2, 28),
        d(2026, 3, 31),
    ]


def test_adding_13_or_25_months_crosses_the_year_correctly():
    assert add_months(d(2025, 11, 30), 13) == d(2026, 12, 30)
    assert add_months(d(2025, 12, 1), 25) == d(2028, 1, 1)


def test_moving_back_a_month_from_january_lands_in_december_of_the_previous_year():
    assert add_months(d(2026, 1, 31), -1) == d(2025, 12, 31)
    assert add_months(d(2024, 3, 31), -1) == d(2024, 2, 29)


# Month keys.


@pytest.mark.parametrize(
    ("moment", "key"),
    [
        (d(2025, 3, 1), "2025-03"),
        (d(2025, 3, 31, 23, 59), "2025-03"),
        (d(2025, 12, 15), "2025-12"),
        (d(2026, 1, 1, 0, 0), "2026-01"),
    ],
)
def test_month_key_is_year_and_zero_padded_month(moment, key):
    assert month_key(moment) == key


@pytest.mark.parametrize(
    ("moment", "key"),
    [
        (d(2025, 3, 1, 0, 0), "2025-02"),
        (d(2025, 11, 1), "2025-10"),
        (d(2025, 12, 31), "2025-11"),
        (d(2026, 1, 1, 0, 0), "2025-12"),
        (d(2026, 1, 31), "2025-12"),
        (d(2000, 1, 1), "1999-12"),
    ],
)
def test_previous_month_is_the_month_before_and_january_goes_back_to_december_of_the_previous_year(moment, key):
    assert previous_month(moment) == key


def test_the_payout_on_the_1st_of_each_month_covers_the_month_before():
    first_of_months = [d(2025, month, 1, 0, 0) for month in range(1, 13)] + [d(2026, 1, 1, 0, 0)]
    covered = [previous_month(moment) for moment in first_of_months]
    assert covered == ["2024-12"] + [f"2025-{month:02d}" for month in range(1, 13)]


# Time zones.

ZONES = [UTC, ZoneInfo("Europe/Berlin"), timezone(timedelta(hours=5, minutes=30))]


@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_timezone_aware_moments_keep_their_tzinfo_and_wall_clock_time(zone):
    start = datetime(2025, 1, 31, 8, 15, 30, tzinfo=zone)

    for moment in (add_months(start, 1), period_start(start, 2), term_end(start, 24)):
        assert moment.tzinfo is zone
        assert (moment.hour, moment.minute, moment.second) == (8, 15, 30)

    assert add_months(start, 1) == datetime(2025, 2, 28, 8, 15, 30, tzinfo=zone)
    assert term_end(start, 24) == datetime(2027, 1, 31, 8, 15, 30, tzinfo=zone)


def test_a_berlin_contract_keeps_its_local_time_across_the_daylight_saving_change():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2025, 3, 15, 0, 30, tzinfo=berlin)  # CET, UTC+1
    after = period_start(start, 1)  # CEST, UTC+2
    assert after == datetime(2025, 4, 15, 0, 30, tzinfo=berlin)
    assert after.utcoffset() == timedelta(hours=2)
    assert month_key(after) == "2025-04"
