"""The billing calendar: monthly periods anchored on the contract's start day, clamped to short months."""

import calendar
from datetime import datetime


def add_months(start: datetime, months: int, anchor_day: int | None = None) -> datetime:
    """`start` moved by whole months; a day the target month lacks becomes its last day (31 Jan + 1 = 28/29 Feb).

    `anchor_day` keeps a contract on its own day after a short month (31 Jan -> 28 Feb -> 31 Mar).
    """
    day = anchor_day or start.day
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return start.replace(year=year, month=month, day=min(day, calendar.monthrange(year, month)[1]))


def period_start(contract_start: datetime, index: int, period_months: int = 1) -> datetime:
    """Start of the billing period `index` (0-based) of a contract."""
    return add_months(contract_start, index * period_months, anchor_day=contract_start.day)


def periods_in_term(term_months: int, period_months: int = 1) -> int:
    return term_months // period_months


def term_end(term_start: datetime, term_months: int) -> datetime:
    return add_months(term_start, term_months, anchor_day=term_start.day)


def month_key(moment: datetime) -> str:
    """`yyyy-mm`, the key of payouts and ledgers."""
    return f"{moment.year:04d}-{moment.month:02d}"


def previous_month(moment: datetime) -> str:
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    return f"{year:04d}-{month:02d}"
