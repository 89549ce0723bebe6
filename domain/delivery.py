"""Delivering a message until it is taken: the backoff between attempts, and which answers are worth another one.

Used both ways round: payment webhooks received and kept until the subscription's workflow has them (api), and
the payment sandbox's webhooks kept until their receiver answers (activities).
"""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from http import HTTPStatus


class DeliveryState(StrEnum):
    PENDING = "pending"  # not taken yet: tried again at next_attempt_at
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"  # refused for good, or given up: never tried again


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: `first` after the first failed attempt, doubling, at most `cap`; `max_attempts` (if
    any) is how many attempts are made in all before giving up."""

    first: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int | None = None

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1 for the first)."""
        # In float seconds, so a large attempt count reaches the cap instead of overflowing timedelta.
        seconds = self.first.total_seconds() * 2.0 ** min(max(attempts - 1, 0), 64)
        return self.cap if seconds >= self.cap.total_seconds() else timedelta(seconds=seconds)

    def exhausted(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts


# Answers after which a webhook is sent again: the receiver may take it later. Any other 4xx says the request itself
# is wrong (bad signature, unknown subscription), which a resend cannot change.
_RETRYABLE_CLIENT_ERRORS = frozenset({HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS})


def taken(status: int) -> bool:
    return 200 <= status < 300


def worth_resending(status: int | None) -> bool:
    """After a failed attempt with this HTTP status (None: no answer at all, e.g. refused or timed out)."""
    if status is None:
        return True
    if taken(status):
        return False
    return not 400 <= status < 500 or status in _RETRYABLE_CLIENT_ERRORS
