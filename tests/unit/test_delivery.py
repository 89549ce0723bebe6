"""Webhook delivery rules: exponential backoff with a cap and an attempt limit, and which answers are resent."""

from datetime import timedelta

import pytest

from activities.webhook_outbox import RESEND_BACKOFF
from domain.delivery import Backoff, taken, worth_resending


def test_the_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    backoff = Backoff(first=timedelta(seconds=1), cap=timedelta(minutes=5))

    delays = [backoff.delay(attempts).total_seconds() for attempts in range(1, 12)]

    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff.delay(10_000) == timedelta(minutes=5)  # no overflow however long it keeps failing


def test_a_backoff_without_a_limit_never_gives_up_and_one_with_a_limit_gives_up_at_it() -> None:
    assert not Backoff().exhausted(1_000_000)
    limited = Backoff(max_attempts=3)
    assert [limited.exhausted(attempts) for attempts in (1, 2, 3, 4)] == [False, False, True, True]


def test_the_sandbox_makes_its_last_attempt_about_an_hour_after_the_first() -> None:
    assert RESEND_BACKOFF.max_attempts is not None
    waited = sum((RESEND_BACKOFF.delay(attempts) for attempts in range(1, RESEND_BACKOFF.max_attempts)), timedelta())
    assert timedelta(minutes=55) < waited < timedelta(minutes=65)


@pytest.mark.parametrize(
    ("status", "resend"),
    [
        (None, True),  # no answer: refused, timed out
        (500, True),
        (502, True),
        (503, True),
        (408, True),
        (429, True),
        (302, True),
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (422, False),
        (200, False),
        (202, False),
        (204, False),
    ],
)
def test_only_answers_a_resend_can_change_are_resent(status: int | None, resend: bool) -> None:
    assert worth_resending(status) is resend


def test_any_2xx_is_taken() -> None:
    assert [taken(status) for status in (199, 200, 202, 204, 299, 300, 404)] == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
