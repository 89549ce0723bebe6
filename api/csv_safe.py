"""CSV the API writes, safe to open in a spreadsheet: every export goes through here."""

import csv
import io
from collections.abc import Iterable

# Spreadsheets run a cell that starts like a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    """A text cell that starts like a formula, with an apostrophe before it, so a spreadsheet shows it as text.

    Numbers stay numbers: a spreadsheet reads -5 as a number, not as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """The rows as CSV (the csv module's default dialect, CRLF line ends), every text cell neutralised."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(map(neutralised, row) for row in rows)
    return buffer.getvalue()
